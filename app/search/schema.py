"""The Whoosh schema of the search index. Bump ``SCHEMA_VERSION`` on any change: the index
is derived data and is rebuilt from the store when its version differs."""

from __future__ import annotations

from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.formats import Existence

from app.search import whoosh_patches  # noqa: F401  (applied on import)
from app.search.analysis import PairTokenizer, plain_analyzer, text_analyzer

SCHEMA_VERSION = 2

KIND_CASE = "case"
KIND_CUSTOMER = "customer"
KIND_ORGANIZATION = "organization"

# Free words look in these fields (BM25F: the subject and the key weigh more than the body).
STEMMED_FIELDS = frozenset({"subject", "body"})
NONE_TOKEN = "_none"


FACET_PREFIX = {"kind": "k", "status": "s", "priority": "p", "assignee": "a", "tag": "t",
                "requester": "r", "org": "o", "product": "d"}


def facet(name: str, value: str) -> str:
    """The term of a filter value in the ``f`` field: ``s:open``, ``t:vip``, ``o:acme`` …"""
    return f"{FACET_PREFIX[name]}:{value}"


def make_schema() -> Schema:
    text = text_analyzer()
    facets = KEYWORD(lowercase=False, commas=False)
    facets.format = Existence()  # filters need no frequencies: smaller, faster postings
    return Schema(
        id=ID(stored=True, unique=True),
        key=KEYWORD(stored=True, lowercase=True, scorable=True, field_boost=4.0),
        subject=TEXT(analyzer=text, phrase=False, field_boost=3.0, spelling=True),
        body=TEXT(analyzer=text, phrase=False),
        pairs=TEXT(analyzer=PairTokenizer(), phrase=False),  # "exact phrase" search
        f=facets,  # every filter value, prefixed by its field: s:open t:vip r:ana …
        status=STORED(),
        created=NUMERIC(int, bits=64, signed=False, shift_step=32),
        updated=NUMERIC(int, bits=64, signed=False, shift_step=32, stored=True,
                        sortable=True),
        name=TEXT(analyzer=plain_analyzer(), stored=True),
    )

"""The query language and ranking over the hand-made corpus (see conftest.CORPUS)."""

from __future__ import annotations

import time

import pytest

from app.operations import cases as ops
from app.search.service import SearchService
from app.store.repo import Store
from tests.search.conftest import ME, subjects

Corpus = tuple[Store, SearchService]


def test_stemming_finds_singular_from_plural(corpus: Corpus) -> None:
    _, svc = corpus
    found = subjects(svc, "printers ")
    assert "Printer offline in the Berlin office" in found
    assert "Question about reports" in found  # "printer icon" in the description


def test_phrase_needs_words_in_order(corpus: Corpus) -> None:
    _, svc = corpus
    assert subjects(svc, '"log file"') == ["Printer offline in the Berlin office"]
    # the other case has "file log" (reversed): both words, not the phrase
    assert "Sync fails with ERR-1042" in subjects(svc, "log file ")


def test_prefix_on_last_word_only_while_typing(corpus: Corpus) -> None:
    _, svc = corpus
    assert "Keyboard shortcuts missing" in subjects(svc, "keyb")
    assert subjects(svc, "keyb ") == []  # the word is finished: no prefix


def test_error_code_and_key(corpus: Corpus) -> None:
    store, svc = corpus
    assert subjects(svc, "ERR-1042 ") == ["Sync fails with ERR-1042"]
    hit = svc.search("ERR-1042", me=ME).hits[0]
    assert subjects(svc, hit["key"] + " ") == ["Sync fails with ERR-1042"]


@pytest.mark.parametrize(("query", "expected"), [
    ("status:open", {"Printer offline in the Berlin office", "SSO login loop with Okta",
                     "Gateway timeout on export", "Hardware question",
                     "Keyboard shortcuts missing"}),
    ("status:solved,closed", {"Invoice charged twice", "Dark mode request",
                              "Gateway timeout on export"}),
    ("priority:urgent", {"Sync fails with ERR-1042"}),
    ("assignee:me", {"Printer offline in the Berlin office", "SSO login loop with Okta"}),
    ("assignee:jo@support.example", {"Invoice charged twice"}),
    ("tag:vip", {"Printer offline in the Berlin office"}),
    ("requester:ana.silva@acme.example", {"Printer offline in the Berlin office",
                                          "Question about reports"}),
    ('requester:"Ana Silva"', {"Printer offline in the Berlin office",
                               "Question about reports"}),
    ("org:acme", {"Printer offline in the Berlin office", "Question about reports"}),
    ('org:"Globex Bank"', {"Sync fails with ERR-1042"}),
    ("product:dataflow", {"Question about reports", "SSO login loop with Okta"}),
    ('product:"billing portal"', {"Invoice charged twice"}),
    ("is:open priority:low", {"Question about reports"}),
    ("created:>2026-01-01", {"Sync fails with ERR-1042", "Question about reports"}),
    ("created:<2025-06-01", {"Printer offline in the Berlin office"}),
    ("created:2025-12-24", {"SSO login loop with Okta"}),
    ("created:>=2025-12-24 created:<=2026-01-15", {"SSO login loop with Okta",
                                                   "Sync fails with ERR-1042"}),
    ("tag:vip OR tag:sso", {"Printer offline in the Berlin office",
                            "SSO login loop with Okta"}),
    ("okta OR invoice", {"SSO login loop with Okta", "Invoice charged twice"}),
    ("printer -tag:spam", {"Printer offline in the Berlin office"}),
    ("printer -office", {"Question about reports"}),
    ("ana printer status:open", {"Printer offline in the Berlin office"}),
])
def test_filters(corpus: Corpus, query: str, expected: set[str]) -> None:
    _, svc = corpus
    result = svc.search(query + " ", me=ME)
    assert {h["subject"] for h in result.hits} == expected, result.notes
    assert result.total == len(expected)
    assert result.notes == []


def test_unassigned(corpus: Corpus) -> None:
    _, svc = corpus
    unassigned = set(subjects(svc, "assignee:none"))
    assert unassigned == set(subjects(svc, "is:unassigned"))
    assert "Sync fails with ERR-1042" in unassigned
    assert "Printer offline in the Berlin office" not in unassigned
    assert svc.search("is:unassigned", me=ME).total == 7  # both "Gateway timeout" cases


def test_relative_dates_follow_edits(fresh: Corpus) -> None:
    store, svc = fresh
    assert subjects(svc, "updated:<7d") == []
    key = svc.search("okta", me=ME).hits[0]["key"]
    ops.set_fields(store, case=key, changes={"priority": "urgent"})
    svc.catch_up()
    assert subjects(svc, "updated:<7d") == ["SSO login loop with Okta"]
    assert "SSO login loop with Okta" not in subjects(svc, "updated:>1w")
    assert len(subjects(svc, "updated:>1w")) == 9


def test_did_you_mean(corpus: Corpus) -> None:
    _, svc = corpus
    result = svc.search("keybaord ", me=ME)
    assert result.total == 0
    assert result.suggestion == "keyboard"
    assert svc.search("printer ", me=ME).suggestion is None


@pytest.mark.parametrize(("query", "suggestion"), [
    ("silvaa", "silva"),  # a requester's name
    ("globexx", "globex"),  # an organization
    ("okafr refund", None),  # "okafor refund" finds nothing either: no suggestion
    ("berlinn", "berlin"),  # a subject word still
])
def test_did_you_mean_knows_customers_and_organizations(corpus: Corpus, query: str,
                                                        suggestion: str | None) -> None:
    _, svc = corpus
    result = svc.search(query, me=ME)
    assert result.total == 0 and result.suggestion == suggestion
    if suggestion:
        assert svc.search(suggestion, me=ME).total > 0


@pytest.mark.parametrize(("query", "note"), [
    ('"printer offline', "unbalanced quote"),
    ("colour:red printer", "'colour:' is not a search field"),
    ("created:>2026-13-45 printer", "is not a date"),
    ("updated:<7x printer", "is not a date"),
    ("status:bogus printer", "is not a status"),
    ("is:weird printer", "is not known"),
])
def test_malformed_queries_give_notes(corpus: Corpus, query: str, note: str) -> None:
    _, svc = corpus
    result = svc.search(query, me=ME)
    assert any(note in n for n in result.notes), result.notes
    assert result.total >= 0


def test_unknown_field_is_searched_as_words(corpus: Corpus) -> None:
    _, svc = corpus
    assert subjects(svc, "berlin:office ") == ["Printer offline in the Berlin office"]


def test_huge_query_is_cut(corpus: Corpus) -> None:
    _, svc = corpus
    result = svc.search("printer " * 200, me=ME)
    assert any("only the first 500" in n for n in result.notes)
    assert result.total == 2


def test_subject_match_ranks_above_body_only(corpus: Corpus) -> None:
    _, svc = corpus
    found = subjects(svc, "keyboard ")
    assert found == ["Keyboard shortcuts missing", "Hardware question"]


def test_open_ranks_above_solved_at_equal_text(corpus: Corpus) -> None:
    _, svc = corpus
    hits = svc.search("gateway timeout ", me=ME).hits
    assert [h["status"] for h in hits] == ["open", "solved"]
    assert hits[0]["score"] > hits[1]["score"]


def test_snippets_mark_matches_from_the_matching_comment(corpus: Corpus) -> None:
    _, svc = corpus
    hit = svc.search("blink ", me=ME).hits[0]
    assert hit["snippet"] == "The keyboard lights «blink» red."
    assert hit["snippet_source"] == "comment"
    hit = svc.search("printers ", me=ME, limit=1).hits[0]
    assert "«Printer»" in hit["snippet"]
    assert set(hit) >= {"id", "key", "subject", "status", "priority", "assignee",
                        "updated_ms", "snippet", "score"}


def test_result_json_shape(corpus: Corpus) -> None:
    _, svc = corpus
    data = svc.search("okta", me=ME).to_json()
    assert list(data) == ["query", "hits", "total", "took_ms", "notes", "suggestion"]
    assert data["total"] == 1 and data["took_ms"] >= 0


def test_catch_up_after_edit_comment_and_create(fresh: Corpus) -> None:
    store, svc = fresh
    key = svc.search("okta", me=ME).hits[0]["key"]
    ops.set_fields(store, case=key, changes={"subject": "SSO loop with Azure AD"})
    ops.comment(store, case=key, body="Customer mentions zebrafish in passing")
    new_id, new_key, _ = ops.create_case(store, subject="Brand new walrus problem")
    started = time.perf_counter()
    assert svc.catch_up() >= 3
    assert time.perf_counter() - started < 1.0
    assert subjects(svc, "okta ") == ["SSO loop with Azure AD"]  # still in the description
    assert subjects(svc, "azure ") == ["SSO loop with Azure AD"]
    assert subjects(svc, "zebrafish ") == ["SSO loop with Azure AD"]
    assert [h["key"] for h in svc.search("walrus", me=ME).hits] == [new_key]
    assert svc.catch_up() == 0
    assert svc.verify() == []


def test_snippet_prefers_the_field_showing_more_query_words() -> None:
    from app.search.snippets import best_snippet

    fields = [("subject", "Printer queue stuck"),
              ("description", "the printers show offline although they are on the network")]
    source, snippet = best_snippet(fields, {"printer", "offlin"}, None)
    assert source == "description" and "«offline»" in snippet
    source, _ = best_snippet([("subject", "Printer offline"), fields[1]],
                             {"printer", "offlin"}, None)
    assert source == "subject"  # a tie goes to the subject


def test_cache_budget_evicts_least_recently_used() -> None:
    from app.search.engine import _Lru

    lru = _Lru(budget=10)
    assert lru.get(("a",), lambda: {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0}) == {1: 1.0, 2: 1.0,
                                                                       3: 1.0, 4: 1.0}
    lru.get(("b",), lambda: frozenset(range(4)))
    assert lru.get(("a",), lambda: {}) != {}  # a hit: "a" is now the most recent
    lru.get(("c",), lambda: frozenset(range(5)))  # 13 > 10: "b" (least recent) goes
    assert lru.size == 9 and len(lru) == 2
    assert lru.get(("b",), lambda: frozenset()) == frozenset()  # was evicted: rebuilt
    huge = frozenset(range(50))
    assert lru.get(("h",), lambda: huge) is huge and lru.size <= 10  # returned, not kept
    lru.forget(lambda key: key != ("a",))
    assert lru.get(("a",), lambda: {9: 0.0}) == {9: 0.0}


QUERIES = ["printer", "sync", "printer offline", '"dark mode"', "status:open", "tag:vip",
           "-tag:spam export", "keyboard OR invoice", "assignee:me", "timeout -printer"]


def test_a_small_cache_answers_like_a_large_one(corpus: Corpus) -> None:
    # The cache is bounded (a long session must not keep every term searched); evicting
    # must never change an answer.
    from app.search.engine import Engine

    _store, service = corpus
    expected = {q: service.search(q, me=ME, limit=50).to_json() for q in QUERIES}
    large = service._engine
    service._engine = Engine(cache_entries=8)  # a few postings: almost every read evicts
    try:
        for _round in range(2):
            for q in QUERIES:
                got = service.search(q, me=ME, limit=50).to_json()
                assert (got["total"], [h["id"] for h in got["hits"]]) == \
                    (expected[q]["total"], [h["id"] for h in expected[q]["hits"]]), q
                assert service._engine.cache.size <= 8
    finally:
        service._engine = large

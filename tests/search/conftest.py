"""A small, hand-made corpus imported through the importer (controlled dates and text)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.search.service import SearchService
from app.store.importer import import_file
from app.store.repo import Store

ME = "sam@support.example"
OTHER = "jo@support.example"

CORPUS: list[dict[str, Any]] = [
    {"subject": "Printer offline in the Berlin office", "description": "The printer shows "
     "offline although it is on the network.", "status": "open", "priority": "high",
     "requester": {"name": "Ana Silva", "email": "ana.silva@acme.example"},
     "organization": "Acme Logistics", "product": "PrintHub", "tags": ["printer", "vip"],
     "assignee": ME, "created_at": "2025-03-01T10:00:00Z",
     "comments": [{"author": ME, "created_at": "2025-03-01T11:00:00Z",
                   "body": "Could you send the log file from the client?", "public": True}]},
    {"subject": "Sync fails with ERR-1042", "description": "CloudSync stops syncing and "
     "shows ERR-1042 since this morning.", "status": "new", "priority": "urgent",
     "requester": {"name": "Ben Okafor", "email": "ben@globex.example"},
     "organization": "Globex Bank", "product": "CloudSync", "tags": ["sync", "bug"],
     "created_at": "2026-01-15T09:00:00Z",
     "comments": [{"author": "ben@globex.example", "created_at": "2026-01-15T10:00:00Z",
                   "body": "We restarted twice, file log attached.", "public": True},
                  {"author": OTHER, "created_at": "2026-01-15T12:00:00Z",
                   "body": "Internal: looks like the token cache issue.", "public": False}]},
    {"subject": "Invoice charged twice", "description": "Please refund the duplicate payment "
     "for invoice INV-2026-0042.", "status": "solved", "priority": "normal",
     "requester": {"name": "Chloe Martin", "email": "chloe@initech.example"},
     "organization": "Initech", "product": "Billing Portal", "tags": ["billing", "refund"],
     "assignee": OTHER, "created_at": "2025-11-20T08:00:00Z"},
    {"subject": "Question about reports", "description": "How do I export a report? The "
     "printer icon is greyed out.", "status": "pending", "priority": "low",
     "requester": {"name": "Ana Silva", "email": "ana.silva@acme.example"},
     "organization": "Acme Logistics", "product": "DataFlow", "tags": ["how-to", "spam"],
     "created_at": "2026-02-01T08:00:00Z"},
    {"subject": "SSO login loop with Okta", "description": "Users bounce between Okta and "
     "the app after we rotated the SAML certificate.", "status": "open", "priority": "high",
     "requester": {"name": "Dmitri Novak", "email": "dmitri@umbrella.example"},
     "organization": "Umbrella Health", "product": "DataFlow", "tags": ["sso"],
     "assignee": ME, "created_at": "2025-12-24T08:00:00Z"},
    {"subject": "Dark mode request", "description": "Please add a dark theme.",
     "status": "closed", "priority": "low",
     "requester": {"name": "Eva Schmidt", "email": "eva@hooli.example"},
     "organization": "Hooli Media", "product": "Mobile App", "tags": ["feature-request"],
     "created_at": "2025-06-01T08:00:00Z"},
    # Identical text, different status: ranking must put the open one first.
    {"subject": "Gateway timeout on export", "description": "HTTP 504 on large exports.",
     "status": "solved", "priority": "normal",
     "requester": {"name": "Farid Haddad", "email": "farid@stark.example"},
     "organization": "Stark Energy", "product": "Analytics API", "tags": [],
     "created_at": "2025-10-01T08:00:00Z",
     "comments": [{"author": OTHER, "created_at": "2025-10-02T08:00:00Z", "body": "ok"}]},
    {"subject": "Gateway timeout on export", "description": "HTTP 504 on large exports.",
     "status": "open", "priority": "normal",
     "requester": {"name": "Farid Haddad", "email": "farid@stark.example"},
     "organization": "Stark Energy", "product": "Analytics API", "tags": [],
     "created_at": "2025-10-01T08:00:00Z",
     "comments": [{"author": OTHER, "created_at": "2025-10-02T08:00:00Z", "body": "ok"}]},
    # "keyboard" only in a comment body; "keyboard" in the subject of the next one.
    {"subject": "Hardware question", "description": "Something is wrong with my desk.",
     "status": "open", "priority": "normal",
     "requester": {"name": "Grace Kim", "email": "grace@wayne.example"},
     "organization": "Wayne Foods", "product": "PrintHub", "tags": [],
     "created_at": "2025-09-01T08:00:00Z",
     "comments": [{"author": "grace@wayne.example", "created_at": "2025-09-01T09:00:00Z",
                   "body": "The keyboard lights blink red.", "public": True}]},
    {"subject": "Keyboard shortcuts missing", "description": "Where did they go?",
     "status": "open", "priority": "normal",
     "requester": {"name": "Grace Kim", "email": "grace@wayne.example"},
     "organization": "Wayne Foods", "product": "PrintHub", "tags": [],
     "created_at": "2025-09-01T08:00:00Z",
     "comments": [{"author": "grace@wayne.example", "created_at": "2025-09-01T09:00:00Z",
                   "body": "Any update?", "public": True}]},
]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return path


def make_store(tmp: Path, records: list[dict[str, Any]]) -> Store:
    store = Store(tmp / "store.db")
    store.set_actor(ME)
    report = import_file(store, write_jsonl(tmp / "corpus.jsonl", records))
    assert report.errors == [] and report.imported == len(records)
    return store


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, SearchService]]:
    tmp = tmp_path_factory.mktemp("corpus")
    store = make_store(tmp, CORPUS)
    service = SearchService(tmp, store, procs=1)
    service.ensure_index()
    yield store, service
    service.close()
    store.close()


@pytest.fixture()
def fresh(tmp_path: Path) -> Iterator[tuple[Store, SearchService]]:
    store = make_store(tmp_path, CORPUS)
    service = SearchService(tmp_path, store, procs=1)
    service.ensure_index()
    yield store, service
    service.close()
    store.close()


def subjects(service: SearchService, query: str, **kw: Any) -> list[str]:
    return [h["subject"] for h in service.search(query, me=ME, **kw).hits]

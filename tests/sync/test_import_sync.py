"""Bulk import against the real sync server on loopback: what an import writes is accepted
whole by the server, teammates get every case with its comments, and a killed or repeated
import adds nothing twice."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.store import queries as q
from app.store import schema as s
from app.store.importer import import_file
from app.store.repo import DEFAULT_ACTOR, Store, dump_projections
from app.sync.api import SyncApi
from app.sync.engine import sync_once
from app.sync.session import SyncSession
from tests.sync.test_sync_client import PASSWORD, _client, server  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
OLD_AGENT = "jo@old-helpdesk.example"


def _records(n: int = 12) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        email = f"customer{i % 5}@client{i % 3}.example"
        out.append({
            "subject": f"Imported case {i}", "description": f"Details of case {i}",
            "priority": ["low", "normal", "high"][i % 3], "tags": ["imported"],
            "requester": {"name": f"Customer {i % 5}", "email": email},
            "organization": f"Client {i % 3}", "created_at": f"2025-06-{i + 1:02d}T09:00:00Z",
            "comments": [
                {"author": email, "body": f"It still fails ({i})",
                 "created_at": f"2025-06-{i + 1:02d}T10:00:00Z"},
                {"author": OLD_AGENT, "body": "Looking into it", "public": False},
            ][: 1 + i % 2]})
    return out


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return path


def _count(store: Store, table: Any, *where: Any) -> int:
    return int(store.read(lambda c: c.execute(
        select(func.count()).select_from(table).where(*where)).scalar() or 0))


def _assert_has_all(store: Store, records: list[dict[str, Any]]) -> None:
    """Every case of the file exactly once, with its comments; no case without creation."""
    c = s.cases.c
    assert _count(store, s.cases, c.exists.is_(False)) == 0  # no phantom rows
    subjects = store.read(lambda conn: sorted(conn.execute(select(c.subject)).scalars()))
    assert subjects == sorted(r["subject"] for r in records)
    assert _count(store, s.comments) == sum(len(r["comments"]) for r in records)
    by_subject = {r["subject"]: r for r in records}
    for case_id, subject in store.read(lambda conn: conn.execute(select(c.id, c.subject)).all()):
        record = by_subject[subject]
        shown = store.read(partial(q.case_comments, case_ids=[case_id]))
        want = [(record["requester"]["email"], record["requester"]["name"], "customer")]
        if len(record["comments"]) > 1:
            want.append((OLD_AGENT, OLD_AGENT, "agent"))
        # the customer's words are shown as the customer's, under the customer's name
        assert [(x["author"], x["author_name"], x["author_kind"]) for x in shown] == want


def _assert_all_stored(store: Store, report: Any) -> None:
    assert report.rejected == []
    assert store.outbox_count() == 0
    assert _count(store, s.events, s.events.c.server_seq.is_(None)) == 0


def _teammate(tmp_path: Path, url: str) -> tuple[Store, SyncSession]:
    return _client(tmp_path, "ben", url, "ben@example.com")


def test_signed_in_import_syncs_whole_and_teammate_gets_every_case(
        tmp_path: Path, server: Any) -> None:  # noqa: F811
    url, _ = server
    a, sa = _client(tmp_path, "ana", url, "ana@example.com")
    report = import_file(a, _write(tmp_path / "cases.jsonl", _records()), batch=5)
    assert (report.imported, report.errors) == (12, [])
    events = a.read(lambda c: c.execute(select(s.events.c.actor, s.events.c.team_id)).all())
    assert {actor for actor, _ in events} == {"ana@example.com"}
    assert None not in {team for _, team in events}
    _assert_all_stored(a, sync_once(a, sa))
    b, sb = _teammate(tmp_path, url)
    sync_once(b, sb)
    _assert_has_all(b, _records())
    assert all(k.startswith("SUP-") for k in b.read(
        lambda c: c.execute(select(s.cases.c.key)).scalars()))
    sync_once(a, sa)
    assert a.read(dump_projections) == b.read(dump_projections)
    a.close()
    b.close()


def test_import_before_sign_in_is_the_agents_at_first_sign_in(
        tmp_path: Path, server: Any) -> None:  # noqa: F811
    url, _ = server
    a = Store(tmp_path / "ana" / "smart-support.db")
    assert a.actor == DEFAULT_ACTOR
    import_file(a, _write(tmp_path / "cases.jsonl", _records()), batch=5)
    before_login = _count(a, s.events)
    sa = SyncSession(a, SyncApi(url))
    sa.login("ana@example.com", PASSWORD)
    # the team went into the unsent events, not into one extra update per case
    assert _count(a, s.events) == before_login
    assert _count(a, s.events, s.events.c.type == "case.updated") == 0
    assert _count(a, s.cases, s.cases.c.team_id.is_(None)) == 0
    rows = a.read(lambda c: c.execute(select(s.events.c.actor, s.events.c.team_id)).all())
    assert {actor for actor, _ in rows} == {"ana@example.com"}
    assert None not in {team for _, team in rows}
    _assert_has_all(a, _records())
    # rewriting the unsent log kept the projections equal to a fold of it
    state = a.read(dump_projections)
    a.rebuild()
    assert a.read(dump_projections) == state
    _assert_all_stored(a, sync_once(a, sa))
    b, sb = _teammate(tmp_path, url)
    sync_once(b, sb)
    _assert_has_all(b, _records())
    sync_once(a, sa)
    assert a.read(dump_projections) == b.read(dump_projections)
    a.close()
    b.close()


_KILLER = """
import os, signal, sys
from pathlib import Path
from app.store import importer
from app.store.repo import Store

real, calls = importer.Folded.write, []

def write(self, conn):  # the third batch dies inside its transaction
    calls.append(1)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    real(self, conn)

importer.Folded.write = write
store = Store(Path(sys.argv[1]))
importer.import_file(store, Path(sys.argv[2]), batch=int(sys.argv[3]))
"""


def test_killed_import_rerun_adds_each_case_once_and_syncs(
        tmp_path: Path, server: Any) -> None:  # noqa: F811
    url, _ = server
    records = _records(14)
    path = _write(tmp_path / "cases.jsonl", records)
    db = tmp_path / "ana" / "smart-support.db"
    a, sa = _client(tmp_path, "ana", url, "ana@example.com")
    a.close()
    killed = subprocess.run([sys.executable, "-c", _KILLER, str(db), str(path), "4"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    a = Store(db)
    assert _count(a, s.cases) == 8  # two batches committed, the third lost whole
    report = import_file(a, path, batch=4)
    _assert_has_all(a, records)
    assert (report.imported, report.already, report.errors) == (6, 8, [])
    state = a.read(dump_projections)
    a.rebuild()
    assert a.read(dump_projections) == state
    sa = SyncSession(a, SyncApi(url))
    _assert_all_stored(a, sync_once(a, sa))
    b, sb = _teammate(tmp_path, url)
    sync_once(b, sb)
    _assert_has_all(b, records)
    a.close()
    b.close()


def test_importing_the_same_file_twice_adds_nothing(tmp_path: Path,
                                                    server: Any) -> None:  # noqa: F811
    url, _ = server
    a, sa = _client(tmp_path, "ana", url, "ana@example.com")
    path = _write(tmp_path / "cases.jsonl", _records())
    import_file(a, path)
    _assert_all_stored(a, sync_once(a, sa))
    events = _count(a, s.events)
    again = import_file(a, path)
    assert (again.imported, again.already, again.skipped) == (0, 12, 0)
    assert _count(a, s.events) == events and a.outbox_count() == 0
    b, sb = _teammate(tmp_path, url)
    sync_once(b, sb)
    _assert_has_all(b, _records())
    a.close()
    b.close()

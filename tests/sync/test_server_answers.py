"""How the client treats the server's answers: 429 and Retry-After, a streamed upload, and
events an older server refused for not knowing them, sent again after its upgrade."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from app.operations import cases as ops
from app.store.repo import Store
from app.sync.api import MAX_RETRY_AFTER_S, RateLimited, SyncApi, retry_after_s
from app.sync.engine import sync_once
from app.sync.session import SyncSession

PASSWORD = "a long password 1"


@contextmanager
def signed_in(root: Path, **settings: Any) -> Iterator[tuple[Store, SyncSession, Engine]]:
    """A real server (in process, over its ASGI app) with Ana in team Support, and Ana's
    laptop store signed in to it."""
    from fastapi.testclient import TestClient

    from sync_server.main import create_app
    from sync_server.services import accounts
    from sync_server.settings import Settings

    app = create_app(Settings(db_url=f"sqlite:///{root / 'server.sqlite3'}",
                              data_dir=root / "srv", secret="s" * 48, **settings))
    engine = app.state.smart.engine
    accounts.add_user(engine, email="ana@example.com", name="Ana", role="agent",
                      password=PASSWORD)
    accounts.add_team(engine, name="Support", prefix="SUP")
    accounts.add_member(engine, team="Support", email="ana@example.com")
    store = Store(root / "ana.db")
    try:
        with TestClient(app, base_url="http://server") as http:
            session = SyncSession(store, SyncApi("http://server", client=http))
            session.login("ana@example.com", PASSWORD)
            yield store, session, engine
    finally:
        store.close()


@pytest.mark.parametrize(("header", "expected"), [
    ("120", 120.0), (" 5 ", 5.0), ("0", 0.0), ("-3", 0.0), (None, 60.0), ("", 60.0),
    ("soon", 60.0), ("99999999", MAX_RETRY_AFTER_S),
])
def test_retry_after_seconds(header: str | None, expected: float) -> None:
    assert retry_after_s(header) == expected


def test_retry_after_as_an_http_date() -> None:
    now = 1_800_000_000.0
    header = email.utils.formatdate(now + 90, usegmt=True)
    assert retry_after_s(header, now=now) == pytest.approx(90.0)
    assert retry_after_s(email.utils.formatdate(now - 90, usegmt=True), now=now) == 0.0


def test_a_429_raises_rate_limited_with_the_wait() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"detail": "push quota: too many events"},
                              headers={"Retry-After": "17"})

    api = SyncApi("http://server", transport=httpx.MockTransport(answer))
    with pytest.raises(RateLimited) as caught:
        api.push("token", [])
    assert caught.value.retry_after == 17.0 and caught.value.status == 429
    assert "push quota" in str(caught.value)


def test_put_blob_streams_the_file_in_chunks(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The upload is sent as a stream of 1 MiB chunks with its length, not read whole."""
    import app.sync.api as api_module

    sizes: list[int] = []
    real = api_module._chunks

    def counted(fh: object, size: int = 1024 * 1024) -> object:
        for chunk in real(fh, size):
            sizes.append(len(chunk))
            yield chunk

    monkeypatch.setattr(api_module, "_chunks", counted)
    path = tmp_path / "big.bin"
    data = bytes(range(256)) * (4096 * 3 + 17)  # ~3 MiB, not a multiple of the chunk
    path.write_bytes(data)
    seen: dict[str, object] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen["length"] = request.headers.get("Content-Length")
        seen["body"] = b"".join(request.stream)  # type: ignore[arg-type]
        return httpx.Response(200, json={"sha256": "x", "size": len(data)})

    SyncApi("http://server", transport=httpx.MockTransport(answer)).put_blob(
        "token", "a" * 64, path)
    assert seen == {"length": str(len(data)), "body": data}
    assert len(sizes) == 4 and max(sizes) == 1024 * 1024  # never more than a chunk at once


def test_a_push_over_the_servers_quota_keeps_the_rest_queued(tmp_path: Path) -> None:
    """Against the real server with a tiny quota: the sync stops with RateLimited (the
    server's Retry-After), what was stored is marked, the rest stays in the outbox."""
    with signed_in(tmp_path, push_events_per_minute=4) as (store, session, _engine):
        for i in range(6):
            ops.create_case(store, subject=f"case {i}")  # one event each
        with pytest.raises(RateLimited) as caught:
            sync_once(store, session, push_batch=2)
        assert 0 < caught.value.retry_after <= 60
        assert 0 < store.outbox_count() < 6  # some stored, the rest still queued
        assert store.read(lambda c: c.exec_driver_sql(
            "SELECT count(*) FROM events WHERE sync_error IS NOT NULL").scalar()) == 0


def test_events_an_older_server_did_not_understand_are_sent_again_after_its_upgrade(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A newer client's event type is refused by an older server ("unknown event type") and
    set aside; once the server says (X-Event-Schema) that it was upgraded, the client puts
    that event back in the outbox and it is stored. Other refusals stay set aside."""
    import app.core.event_schema as schema
    import sync_server.server_time as server_time

    with signed_in(tmp_path) as (store, session, engine):
        def refusals() -> dict[str, str]:
            return dict(store.read(lambda c: c.exec_driver_sql(
                "SELECT type, sync_error FROM events WHERE sync_error IS NOT NULL").all()))

        case_id, _key, _ = ops.create_case(store, subject="Printer")
        team = store.get_meta("default_team")

        def newer(conn: Any, f: Any) -> list[Any]:
            return [f.make("case.snoozed", {"until_ms": 1_900_000_000_000},
                           case_id=case_id, team_id=team),
                    f.make("comment.added", {"body": 7}, case_id=case_id, team_id=team)]

        store.record(newer, label="a newer client's change", undoable=False)
        sync_once(store, session)
        refused = refusals()
        assert "unknown event type" in refused["case.snoozed"]
        assert "comment.added" in refused  # a bad payload: refused for good
        sync_once(store, session)
        assert set(refusals()) == {"case.snoozed", "comment.added"}  # nothing changed

        monkeypatch.setitem(schema._RULES, "case.snoozed", lambda payload: None)
        monkeypatch.setattr(server_time, "SCHEMA_FINGERPRINT", "1:upgraded")
        sync_once(store, session)
        assert set(refusals()) == {"comment.added"}
        assert store.outbox_count() == 0
        with engine.connect() as conn:
            stored = conn.exec_driver_sql(
                "SELECT count(*) FROM events WHERE type = 'case.snoozed'").scalar()
        assert stored == 1

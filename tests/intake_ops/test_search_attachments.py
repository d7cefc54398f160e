"""Text extracted from attachments is found by search (and leaves it when removed)."""

from __future__ import annotations

from pathlib import Path

from app.operations import attachments
from app.operations import cases as ops
from app.search.service import SearchService
from app.store.repo import Store


def test_attachment_text_is_searchable(tmp_path: Path) -> None:
    store = Store(tmp_path / "smart-support.db")
    case_id, key, _ = ops.create_case(store, subject="Client crashes")
    service = SearchService(tmp_path, store, procs=1)
    service.ensure_index()
    assert service.search("zorbulator", me=store.actor).total == 0
    log = tmp_path / "client.log"
    log.write_text("2026-01-01 ERROR zorbulator overflow ERR-7731\n")
    attachment_id, _ = attachments.attach(store, case=key, path=log)
    service.catch_up()
    hits = service.search("zorbulator", me=store.actor).hits
    assert [h["key"] for h in hits] == [key]
    attachments.remove(store, case=key, attachment_id=attachment_id)
    service.catch_up()
    assert service.search("zorbulator", me=store.actor).total == 0
    service.close()
    store.close()

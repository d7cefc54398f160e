"""Server-authored integration events for client tests: what a pull brings (validated as a
laptop would), applied to a real store."""

from __future__ import annotations

import itertools
from typing import Any

from app.core import event_schema as es
from app.core import events as ev
from app.core.ids import uuid7
from app.store.repo import Store

T = 1_796_000_000_000
_seq = itertools.count(1000)


def from_server(store: Store, case_id: str, type_: str, payload: dict[str, Any],
                ms: int = T) -> ev.Event:
    es.validate_payload(type_, 1, payload)
    event = ev.Event(id=uuid7(), type=type_, payload=payload, actor=es.SERVER_ACTOR,
                     device_id=es.SERVER_DEVICE, hlc=f"{ms:013d}.000000", case_id=case_id,
                     team_id=None, server_seq=next(_seq))
    es.check_pulled(event)
    store.ingest([event])
    return event


def record(system: str, kind: str, remote_id: str, key: str, snapshot: dict[str, Any],
           fetched_ms: int = T) -> dict[str, Any]:
    return {"remote_id": remote_id, "remote_key": key, "kind": kind,
            "url": f"https://{system}.example/{remote_id}", "linked": True,
            "snapshot": snapshot, "fetched_ms": fetched_ms}


def link(store: Store, case_id: str, system: str, rec: dict[str, Any]) -> None:
    from_server(store, case_id, ev.INTEGRATION_RECORD, {"system": system, "record": rec},
                ms=rec["fetched_ms"])

"""The sync controller alone (no main window) and the sync operations, against the real
server on loopback: a sync's own answer never asks for another sync; a local write does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from app.core.changes import Changes
from app.operations import cases as ops
from app.operations.sync import outcome_of, sign_in_message, sync_job
from app.store import schema as s
from app.store.repo import Store
from app.sync.api import Offline, Unauthorized
from app.sync.engine import sync_once
from app.sync.session import NotLoggedIn
from tests.sync.test_sync_client import PASSWORD, _client, server  # noqa: F401 - fixture

WAIT = 10_000


def _unreadable_edit(store: Store, case_id: str) -> None:
    """An edit in the outbox whose stored payload this device cannot read back: the next
    round sets it aside without sending it, and the server has nothing new to send."""
    ops.set_fields(store, case=case_id, changes={"priority": "urgent"})
    store.write(lambda c: c.execute(update(s.events).where(
        s.events.c.server_seq.is_(None)).values(payload="{not json")))


def test_a_round_that_only_set_an_event_aside_is_marked_remote(
        tmp_path: Path, server: Any) -> None:  # noqa: F811
    url, _ = server
    store, session = _client(tmp_path, "a", url, "ana@example.com")
    case_id, _key, _ = ops.create_case(store, subject="Printer on fire")
    sync_once(store, session)
    sync_once(store, session)  # nothing left to push or pull
    _unreadable_edit(store, case_id)
    report = sync_job(store, session=session)
    assert [r[1] for r in report.rejected] == ["unreadable on this device"]
    assert report.pushed == 0 and report.pulled == 0  # nothing came from the server...
    assert report.changes.sync and report.changes.remote  # ...yet it is sync's answer
    store.close()


def test_outcomes_and_sign_in_messages() -> None:
    assert outcome_of(NotLoggedIn("no")) == "signed-out"
    assert outcome_of(Unauthorized("401")) == "signed-out"
    assert outcome_of(Offline("down")) == "offline"
    assert outcome_of(RuntimeError("boom")) == "error"
    assert sign_in_message(Unauthorized("401")) == "Wrong email or password."
    assert sign_in_message(Offline("timed out")) == "Cannot reach the server: timed out"
    assert sign_in_message(ValueError("bad URL")) == "Check the server address: bad URL"
    assert sign_in_message(KeyError("x")) == "KeyError: 'x'"


@pytest.fixture
def loop(qapp: Any) -> Iterator[Any]:
    import qasync

    ev = qasync.QEventLoop(qapp)
    yield ev
    ev.close()


@pytest.fixture
def controller(qapp: Any, tmp_path: Path, loop: Any) -> Iterator[Any]:
    from app.ui.bridge import Bridge
    from app.ui.sync_ui import SyncController

    store = Store(tmp_path / "me" / "smart-support.db")
    bridge = Bridge(store)
    ctl = SyncController(bridge, loop=loop, interval=3600)
    yield ctl
    ctl.shutdown()
    bridge.shutdown()
    store.close()


def _settled(ctl: Any) -> bool:
    return ctl.bridge.pending == 0 and ctl.state == "online" \
        and "poke" not in ctl.scheduler.job_ids()


def test_sync_answers_never_ask_for_another_sync(controller: Any, qtbot: Any,
                                                server: Any) -> None:  # noqa: F811
    ctl = controller
    url, _ = server
    ctl.start()
    qtbot.waitUntil(lambda: ctl.bridge.pending == 0, timeout=WAIT)
    assert ctl.state == "signed-out"
    signed: list[Any] = []
    ctl.sign_in(url, "ana@example.com", PASSWORD, on_done=signed.append,
                on_error=lambda e: signed.append(e))
    qtbot.waitUntil(lambda: ctl.scheduler.runs >= 1 and _settled(ctl), timeout=WAIT)
    assert signed and signed[0].email == "ana@example.com"
    assert ctl.live is not None
    ctl._stop_live()  # server hints also (rightly) start syncs, at times of their own

    # A local write is pushed soon (the poke), not at the hour's timer.
    changes: list[Changes] = []
    ctl.bridge.sig_changes_applied.connect(changes.append)
    created: list[Any] = []
    ctl.bridge.run(ops.create_case, subject="Printer on fire", on_done=created.append)
    qtbot.waitUntil(lambda: ctl.store.outbox_count() == 0 and _settled(ctl), timeout=WAIT)
    runs = ctl.scheduler.runs
    assert runs >= 2 and any(c.remote for c in changes) and not changes[0].remote

    # A round that only set an unreadable event aside (nothing pulled, the outbox changed):
    # its answer must not start another round, and another, every 0.3 s.
    _unreadable_edit(ctl.store, created[0][0])
    ctl.sync_now()
    qtbot.waitUntil(lambda: ctl.scheduler.runs == runs + 1 and _settled(ctl), timeout=WAIT)
    qtbot.wait(1_000)  # three debounce windows: a poke would have fired by now
    assert ctl.scheduler.runs == runs + 1 and "poke" not in ctl.scheduler.job_ids()

    # Remote changes reaching the views by any path are not pushed back either...
    ctl.bridge.sig_changes_applied.emit(Changes(case_ids={created[0][0]}, sync=True,
                                                remote=True))
    assert "poke" not in ctl.scheduler.job_ids()
    # ...while a local one is.
    ctl.bridge.sig_changes_applied.emit(Changes(case_ids={created[0][0]}))
    assert "poke" in ctl.scheduler.job_ids()
    qtbot.waitUntil(lambda: ctl.scheduler.runs == runs + 2 and _settled(ctl), timeout=WAIT)

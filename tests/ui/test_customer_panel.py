"""The case view's customer (Salesforce) panel, built alone on a real SQLite store through
the real Bridge: Contact and Account from the last lookup's snapshots with their age, the
Look up / Sync requests as recorded, plain text, reloads only on "integrations"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from app.core import events as ev
from app.core.changes import Changes
from app.operations import cases as ops
from app.store import schema as s
from tests.support.integration_events import T, from_server, link, record

WAIT = 10_000
HOUR = 3_600_000


@pytest.fixture
def store_seed() -> None:
    return None


@pytest.fixture
def bridge(qapp: Any, qtbot: Any, store: Any) -> Iterator[Any]:
    from app.ui.app import make_application
    from app.ui.bridge import Bridge

    make_application()
    store.set_actor("ana@example.com")
    b = Bridge(store)
    yield b
    qtbot.waitUntil(lambda: b.pending == 0, timeout=WAIT)
    b.shutdown()


@pytest.fixture
def case(store: Any) -> tuple[str, str]:
    case_id, key, _ = ops.create_case(store, subject="Invoice wrong",
                                      requester_email="pat@customer.example")
    return case_id, key


@pytest.fixture
def panel(qtbot: Any, bridge: Any) -> Any:
    from app.ui.customer_panel import CustomerPanel

    view = CustomerPanel(bridge, clock=lambda: T + 3 * HOUR)
    qtbot.addWidget(view)
    view.resize(600, 600)
    view.show()
    return view


def load(qtbot: Any, panel: Any, case_id: str) -> None:
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):
        panel.set_case(case_id)


def requested(store: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in store.read(
        lambda c: c.execute(select(s.integration_requests)).all())]


def seed_lookup(store: Any, case_id: str, name: str = "Pat Doe") -> None:
    link(store, case_id, "salesforce", record("salesforce", "contact", "003A", name, {
        "name": name, "email": "pat@customer.example", "account": "Acme Corp",
        "owner": "Sam Seller"}))
    link(store, case_id, "salesforce", record("salesforce", "account", "001A", "Acme Corp", {
        "name": "Acme Corp", "owner": "Sam Seller", "tier": "Gold", "open_opportunities": 2,
        "opportunities": [{"name": "Renewal 2027", "stage": "Proposal"},
                          {"name": "Upsell", "stage": "Prospecting"}]}, fetched_ms=T + HOUR))


def test_contact_and_account_show_from_the_last_lookup_with_their_age(
        qtbot: Any, panel: Any, store: Any, case: tuple[str, str]) -> None:
    seed_lookup(store, case[0])
    load(qtbot, panel, case[0])
    contact, account = panel.cards  # contact first, then its account
    assert contact.name.text() == "Pat Doe"
    assert [lb.text() for lb in contact.lines] == [
        "Account: Acme Corp", "E-mail: pat@customer.example", "Owner: Sam Seller"]
    assert contact.age.text() == "as of 3 h ago"
    assert account.name.text() == "Acme Corp"
    assert "Tier: Gold" in [lb.text() for lb in account.lines]
    assert "Open opportunities: 2 (Renewal 2027, Upsell)" in [lb.text() for lb in account.lines]
    assert account.age.text() == "as of 2 h ago"
    assert not panel.empty.isVisible() and panel.refresh_button.isEnabled()


def test_look_up_records_one_lookup_of_the_requester_and_shows_it_pending(
        qtbot: Any, panel: Any, store: Any, bridge: Any, case: tuple[str, str]) -> None:
    load(qtbot, panel, case[0])
    assert panel.lookup_button.isEnabled() and not panel.refresh_button.isEnabled()
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):
        panel.lookup_button.click()
    qtbot.waitUntil(lambda: bridge.pending == 0, timeout=WAIT)
    (req,) = requested(store)
    assert (req["action"], req["state"], req["case_id"]) == ("lookup", "pending", case[0])
    assert '"pat@customer.example"' in req["params"]
    (label,) = panel.requests.labels
    assert label.text() == "Salesforce lookup: pending"


def test_sync_records_a_sync_request_and_a_failure_shows_the_reason(
        qtbot: Any, panel: Any, store: Any, bridge: Any, case: tuple[str, str]) -> None:
    load(qtbot, panel, case[0])
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):
        panel.sync_button.click()
    (req,) = requested(store)
    assert req["action"] == "sync"
    from_server(store, case[0], ev.INTEGRATION_FAILED, {
        "request_id": req["request_id"], "system": "salesforce", "action": "sync",
        "reason": "FIELD_CUSTOM_VALIDATION_EXCEPTION: Priority <b>must</b> be set",
        "remote_status": 400})
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):
        bridge.sig_changes_applied.emit(Changes(case_ids={case[0]}, fields={"integrations"},
                                                remote=True))
    (label,) = panel.requests.labels
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert label.text() == ("Salesforce sync: failed: FIELD_CUSTOM_VALIDATION_EXCEPTION: "
                            "Priority <b>must</b> be set")


def test_a_hostile_name_shows_as_text(qtbot: Any, panel: Any, store: Any,
                                      case: tuple[str, str]) -> None:
    hostile = '<b>x</b><img src="http://evil.example/p.png">'
    seed_lookup(store, case[0], name=hostile)
    load(qtbot, panel, case[0])
    contact = panel.cards[0]
    assert contact.name.textFormat() == Qt.TextFormat.PlainText
    assert contact.name.text() == hostile


def test_a_case_without_requester_email_cannot_be_looked_up(
        qtbot: Any, panel: Any, store: Any) -> None:
    case_id, _key, _ = ops.create_case(store, subject="No requester")
    load(qtbot, panel, case_id)
    assert not panel.lookup_button.isEnabled() and panel.sync_button.isEnabled()
    panel.lookup()
    assert "no requester e-mail" in panel.error.text() and not requested(store)


def test_changes_without_integrations_do_not_reload(qtbot: Any, panel: Any, bridge: Any,
                                                    case: tuple[str, str]) -> None:
    load(qtbot, panel, case[0])
    before = panel.reloads
    bridge.sig_changes_applied.emit(Changes(case_ids={case[0]}, fields={"priority"}))
    bridge.sig_changes_applied.emit(Changes(case_ids={"other"}, fields={"integrations"}))
    assert panel.reloads == before
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):
        bridge.sig_changes_applied.emit(Changes(case_ids={case[0]}, fields={"integrations"}))
    assert panel.reloads == before + 1

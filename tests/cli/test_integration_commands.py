"""The exact ``jira …`` / ``salesforce …`` commands through the CLI (``smart-support run``),
and ``case show KEY --json`` listing the case's integrations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.core import event_schema as es
from app.core import events as ev
from app.core.ids import uuid7
from app.paths import db_path
from app.store.repo import Store

T = 1_796_000_000_000


def run(data_dir: Path, line: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    code = main(["--data-dir", str(data_dir), "run", line, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def new_case(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code, data, _ = run(data_dir, "case new --subject 'Printer on fire' "
                        "--requester pat@customer.example", capsys)
    assert code == 0
    return str(data["key"])


def integrations(data_dir: Path, key: str, capsys: pytest.CaptureFixture[str]) -> Any:
    code, data, _ = run(data_dir, f"case show {key}", capsys)
    assert code == 0
    return data["integrations"]


def server_record(data_dir: Path, key: str, **record: Any) -> None:
    """A linked issue as the server reports it, pulled into this laptop's store."""
    store = Store(db_path(data_dir))
    try:
        case_id = store.read(lambda c: c.exec_driver_sql(
            "SELECT case_id FROM case_keys WHERE key = ?", (key,)).scalar())
        full = {"remote_id": "10001", "remote_key": "ENG-12", "kind": "issue",
                "url": "https://jira.example/browse/ENG-12", "linked": True,
                "snapshot": {"summary": "Printer on fire", "status": "In Progress",
                             "status_category": "in_progress",
                             "assignee": {"displayName": "Dana Scully"}},
                "fetched_ms": T} | record
        payload = {"system": "jira", "record": full}
        es.validate_payload(ev.INTEGRATION_RECORD, 1, payload)
        store.ingest([ev.Event(id=uuid7(), type=ev.INTEGRATION_RECORD, payload=payload,
                               actor=es.SERVER_ACTOR, device_id=es.SERVER_DEVICE,
                               hlc=f"{T:013d}.000000", case_id=case_id, server_seq=5)])
    finally:
        store.close()


def test_requests_made_offline_show_pending_in_case_show(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = new_case(data_dir, capsys)
    assert integrations(data_dir, key, capsys) == {"links": [], "requests": []}
    lines = [f"jira create {key} --project ENG --type Bug", f"jira link {key} ops-7",
             f"salesforce sync {key}", f"salesforce refresh {key}",
             "salesforce lookup pat@customer.example"]
    ids = []
    for line in lines:
        code, data, _ = run(data_dir, line, capsys)
        assert code == 0, data
        assert data["state"] == "pending"
        ids.append(data["request_id"])
    shown = integrations(data_dir, key, capsys)
    assert [(r["request_id"], r["system"], r["action"], r["state"]) for r in
            shown["requests"]] == [
        (ids[0], "jira", "create", "pending"), (ids[1], "jira", "link", "pending"),
        (ids[2], "salesforce", "sync", "pending"), (ids[3], "salesforce", "refresh", "pending"),
        (ids[4], "salesforce", "lookup", "pending")]
    assert shown["requests"][0]["params"] == {"project": "ENG", "issue_type": "Bug"}
    assert shown["requests"][1]["params"] == {"issue_key": "OPS-7"}
    assert shown["requests"][4]["params"] == {"email": "pat@customer.example"}
    main(["--data-dir", str(data_dir), "run", f"case show {key}"])
    text = capsys.readouterr().out
    assert "JIRA create: pending" in text and "Salesforce lookup: pending" in text


def test_linked_issue_comment_unlink_refresh(data_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    key = new_case(data_dir, capsys)
    code, data, _ = run(data_dir, f"jira comment {key} 'any news?'", capsys)
    assert code == 1 and "no JIRA issue is linked" in data["error"]
    server_record(data_dir, key)
    (link,) = integrations(data_dir, key, capsys)["links"]
    assert (link["remote_key"], link["remote_id"], link["status_category"]) == (
        "ENG-12", "10001", "in_progress")
    assert link["snapshot"]["summary"] == "Printer on fire" and link["age_ms"] > 0
    main(["--data-dir", str(data_dir), "run", f"case show {key}"])
    assert "JIRA ENG-12: Printer on fire [In Progress · Dana Scully] · as of" in \
        capsys.readouterr().out
    assert run(data_dir, f"jira comment {key} 'any news?'", capsys)[0] == 0
    assert run(data_dir, f"jira refresh {key}", capsys)[0] == 0
    assert run(data_dir, f"jira unlink {key} eng-12", capsys)[0] == 0
    code, data, _ = run(data_dir, f"jira link {key} ENG-12", capsys)
    assert code == 1 and data["error"] == f"ENG-12 is already linked to {key}"
    reqs = integrations(data_dir, key, capsys)["requests"]
    assert [(r["action"], r["params"]) for r in reqs] == [
        ("comment", {"issue": "10001", "body": "any news?"}), ("refresh", {}),
        ("unlink", {"remote_id": "10001"})]


def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_recorded(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = new_case(data_dir, capsys)
    refusals = {
        f"jira link {key} ENG12": "'ENG12' is not a JIRA issue key",
        f"jira link {key} ENG-012": "'ENG-012' is not a JIRA issue key",
        f"jira unlink {key} 'ENG 1'": "'ENG 1' is not a JIRA issue key",
        f"jira create {key} --project 'my proj'": "is not a JIRA project key",
        "jira create NOPE-9": "no case 'NOPE-9'",
        f"jira refresh {key}": "nothing to refresh",
        "salesforce lookup not-an-email": "is not an e-mail address",
        "salesforce lookup nobody@x.example": "no case has the requester nobody@x.example",
    }
    for line, message in refusals.items():
        code, data, _ = run(data_dir, line, capsys)
        assert code == 1 and message in data["error"], (line, data)
    usage = {f"jira link {key}": "the following arguments are required: issue",
             "jira frobnicate X": "unknown command 'jira frobnicate'",
             "salesforce": "'salesforce' needs a subcommand"}
    for line, message in usage.items():
        code, data, _ = run(data_dir, line, capsys)
        assert code == 2 and message in data["error"], (line, data)
    assert integrations(data_dir, key, capsys)["requests"] == []


def test_help_lists_the_exact_commands(data_dir: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, data, _ = run(data_dir, "help", capsys)
    usages = {d["usage"].split("   ")[0] for d in data}
    assert {"jira create KEY [--project P] [--type T] [--comment ID]...",
            "jira link KEY ISSUE-KEY", "jira unlink KEY ISSUE-KEY", "jira refresh KEY",
            "salesforce sync KEY", "salesforce refresh KEY"} <= usages
    assert any(u.startswith("jira comment KEY TEXT") for u in usages)
    assert any(u.startswith("salesforce lookup EMAIL") for u in usages)


def test_case_keys_complete_after_jira_and_salesforce(data_dir: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from app.terminal.runner import complete

    key = new_case(data_dir, capsys)
    store = Store(db_path(data_dir))
    try:
        assert complete(store, "jira ") == ["comment", "create", "link", "refresh", "unlink"]
        assert complete(store, f"jira create {key[:3]}") == [key]
        assert complete(store, f"salesforce sync {key[:3]}") == [key]
    finally:
        store.close()

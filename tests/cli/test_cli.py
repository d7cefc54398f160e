from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main


def run(data_dir: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def seeded(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, out, _ = run(data_dir, "demo", "--cases", "60", "--seed", "2", capsys=capsys)
    assert code == 0 and json.loads(out)["cases"] == 60
    return data_dir


def test_version_via_console_script() -> None:
    exe = Path(sys.executable).with_name("smart-support")
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("smart-support ")


def test_case_lifecycle_json(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(seeded, "run", "case new --subject 'VPN drops' --priority high "
                       "--requester ana@acme.example --tag vip --tag network", "--json",
                       capsys=capsys)
    assert code == 0
    key = json.loads(out)["key"]
    assert run(seeded, "run", f"case set {key} status=pending", capsys=capsys)[0] == 0
    assert run(seeded, "run", f"case assign {key} me", capsys=capsys)[0] == 0
    assert run(seeded, "run", f"case comment {key} --internal 'checked the logs'",
               capsys=capsys)[0] == 0
    assert run(seeded, "run", f"case tag {key} +urgent-fix -network", capsys=capsys)[0] == 0
    assert run(seeded, "run", f"case link {key} SUP-1", capsys=capsys)[0] == 0
    code, out, _ = run(seeded, "run", f"case show {key}", "--json", capsys=capsys)
    shown = json.loads(out)
    assert shown["status"] == "pending" and shown["priority"] == "high"
    assert shown["assignee"] == "alex.morgan@support.example"
    assert shown["tags"] == ["urgent-fix", "vip"]
    assert shown["links"] == [{"kind": "related", "key": "SUP-1"}]
    assert shown["comments"][-1]["internal"] is True
    code, out, _ = run(seeded, "run", f"case history {key}", "--json", capsys=capsys)
    types = [h["type"] for h in json.loads(out)]
    assert types[0] == "case.created" and "comment.added" in types and "link.added" in types
    code, out, _ = run(seeded, "run", "case list --assignee me --status pending --limit 100",
                       "--json", capsys=capsys)
    assert key in [r["key"] for r in json.loads(out)]


def test_merge_and_dry_run_bulk(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(seeded, "run", "case set SUP-1 SUP-2 priority=urgent --dry-run",
                       "--json", capsys=capsys)
    data = json.loads(out)
    assert code == 0 and data["dry_run"] is True
    code, out, _ = run(seeded, "run", "case show SUP-1", "--json", capsys=capsys)
    assert json.loads(out)["priority"] != "urgent" or all(
        c["key"] != "SUP-1" for c in data["changes"])
    assert run(seeded, "run", "case merge SUP-3 SUP-4", capsys=capsys)[0] == 0
    code, out, _ = run(seeded, "run", "case show SUP-3", "--json", capsys=capsys)
    assert json.loads(out)["merged_into"] == "SUP-4"


@pytest.mark.parametrize(("command", "message"), [
    ("caes list", "did you mean 'case'"),
    ("case lst", "did you mean 'case list'"),
    ("case set SUP-1 statsu=open", "did you mean 'status'"),
    ("case set SUP-1 priority=asap", "not one of"),
    ("case show NOPE-42", "no case 'NOPE-42'"),
    ("case set SUP-1 due=31/31/2026", "not a date"),
    ("case new --priority high", "required: --subject"),
    ("case comment SUP-1 'unbalanced", "cannot read the command"),
    ("case assign SUP-1 ghost@nowhere", "no agent"),
])
def test_bad_commands_fail_clearly_and_write_nothing(
        seeded: Path, capsys: pytest.CaptureFixture[str], command: str, message: str) -> None:
    from app.paths import db_path
    from app.store.repo import Store, dump_projections

    s = Store(db_path(seeded))
    before = s.read(dump_projections)
    s.close()
    code, out, err = run(seeded, "run", command, capsys=capsys)
    assert code != 0
    assert message in err
    code, out, _ = run(seeded, "run", command, "--json", capsys=capsys)
    assert code != 0 and message in json.loads(out)["error"]
    s = Store(db_path(seeded))
    assert s.read(dump_projections) == before
    s.close()


def test_demo_refuses_to_overwrite(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(seeded, "demo", "--cases", "5", capsys=capsys)
    assert code == 2 and "--replace" in err


def test_check_reports_ok_and_repairs_tampered_projection(
        seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    from app.paths import db_path

    run(seeded, "check", capsys=capsys)  # the first check may build the search index
    code, out, _ = run(seeded, "check", "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["actions"] == []
    con = sqlite3.connect(db_path(seeded))
    con.execute("UPDATE cases SET subject = 'tampered' WHERE key = 'SUP-1'")
    con.commit()
    con.close()
    code, out, _ = run(seeded, "check", "--json", capsys=capsys)
    report = json.loads(out)
    assert "projections differed from the log: rebuilt" in report["actions"]
    code, out, _ = run(seeded, "run", "case show SUP-1", "--json", capsys=capsys)
    assert json.loads(out)["subject"] != "tampered"


def test_help_and_completion(seeded: Path) -> None:
    from app.paths import db_path
    from app.store.repo import Store
    from app.terminal.runner import complete, execute

    s = Store(db_path(seeded))
    assert "case set" in execute(s, "help").text
    assert complete(s, "ca") == ["case"]
    assert "set" in complete(s, "case s")
    assert "status=" in complete(s, "case set SUP-1 st")
    assert "status=pending" in complete(s, "case set SUP-1 status=p")
    assert "SUP-1" in complete(s, "case show SUP-1")
    s.close()

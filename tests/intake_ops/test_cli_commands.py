"""The terminal commands through the real CLI: ``smart-support --data-dir D run ...``."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.store.repo import Store
from app.terminal import llm_commands
from tests.intake_ops.conftest import DB_NAME, snapshot


class FakeClipboard:
    def __init__(self) -> None:
        self.text = ""

    def copy(self, text: str) -> None:
        self.text = text

    def paste(self) -> str:
        return self.text


@pytest.fixture
def run(data_dir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Any:
    def call(command: str, *, stdin: str | None = None,
             as_json: bool = False) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        argv = ["--data-dir", str(data_dir), "run", command] + (["--json"] if as_json else [])
        code = main(argv)
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def test_attach_signatures_related_entities(run: Any, files: dict[str, Path]) -> None:
    code, out, _ = run(f"case attach SUP-3 '{files['all_styles.log']}'")
    assert code == 0 and "attached all_styles.log to SUP-3" in out
    code, out, _ = run("case paste SUP-4", stdin="x\nfailed with ERR-1042\n")
    assert code == 0
    code, out, _ = run("case signatures SUP-3", as_json=True)
    data = json.loads(out)
    assert code == 0 and any(d["key"] == "error_code:ERR-1042" and d["count"] == 2
                             for d in data)
    code, out, _ = run("case signatures SUP-3 --json")  # the flag inside the command
    assert code == 0 and "Error code ERR-1042" in out
    code, out, _ = run("case related SUP-3")
    assert code == 0 and "1 other case shows ERR-1042" in out and "SUP-4" in out
    code, out, _ = run("case entities SUP-3", as_json=True)
    assert "ERR-1042" in json.loads(out)["error_codes"]
    code, out, _ = run("case attachments SUP-3", as_json=True)
    (row,) = json.loads(out)
    code, out, _ = run(f"case detach SUP-3 {row['id']}")
    assert code == 0
    code, out, _ = run("case signatures SUP-3")
    assert "no error signatures" in out


@pytest.mark.parametrize(("name", "message"), [
    ("not_a_pdf.pdf", "not a PDF file"),
    ("missing.log", "no file"),
])
def test_attach_bad_input(run: Any, files: dict[str, Path], data_dir: Path, name: str,
                          message: str) -> None:
    path = files.get(name, data_dir / name)
    store = Store(data_dir / DB_NAME)
    before = snapshot(store)
    store.close()
    code, _, err = run(f"case attach SUP-3 '{path}'")
    assert code != 0 and message in err
    store = Store(data_dir / DB_NAME)
    assert snapshot(store) == before
    store.close()


def test_attach_a_2_gb_log(run: Any, tmp_path: Path) -> None:
    huge = tmp_path / "huge.log"
    with huge.open("wb") as f:
        f.truncate(2 * 1024**3)
    code, _, err = run(f"case attach SUP-3 '{huge}'")
    assert code == 1 and "over the limit" in err


def test_llm_templates_and_prompt(run: Any, monkeypatch: pytest.MonkeyPatch,
                                  data_dir: Path) -> None:
    code, out, _ = run("llm templates", as_json=True)
    assert {"triage", "summarize", "draft_reply", "root_cause"} <= {
        t["name"] for t in json.loads(out)}
    code, out, _ = run("llm prompt SUP-3 --template triage")
    assert code == 0 and "You triage incoming support cases" in out and "[EMAIL_1]" in out
    fake = FakeClipboard()
    cleared: list[tuple[float, str]] = []
    monkeypatch.setattr(llm_commands, "CLIPBOARD", fake)
    monkeypatch.setattr(llm_commands, "schedule_clear", lambda s, t: cleared.append((s, t)))
    code, out, _ = run("llm prompt SUP-3 --template triage --copy", as_json=True)
    data = json.loads(out)
    assert code == 0 and data["copied"] and fake.text == data["text"]
    assert cleared == [(60, data["text"])]
    code, out, _ = run("case history SUP-3")
    assert "copied a 'triage' prompt" in out
    code, _, err = run("llm prompt SUP-3 --template nope")
    assert code == 1 and "no prompt template named 'nope'" in err


def test_llm_apply_from_stdin(run: Any, data_dir: Path) -> None:
    run("llm prompt SUP-3 --template triage")
    answer = json.dumps({"category": "outage", "priority": "urgent", "product": "",
                         "reason": "production is down", "tags": ["outage"]})
    store = Store(data_dir / DB_NAME)
    before = snapshot(store)
    store.close()
    code, out, _ = run("llm apply SUP-3 --template triage", stdin=answer)
    assert code == 0 and "(preview: nothing written" in out
    store = Store(data_dir / DB_NAME)
    assert snapshot(store) == before
    store.close()
    code, out, _ = run("llm apply SUP-3 --template triage --yes", stdin=answer, as_json=True)
    data = json.loads(out)
    assert code == 0 and data["applied"]
    code, out, _ = run("case show SUP-3", as_json=True)
    shown = json.loads(out)
    assert shown["priority"] == "urgent" and "outage" in shown["tags"]


@pytest.mark.parametrize(("answer", "message"), [
    ("not json at all", "no JSON object found"),
    ('{"summary": 3}', "does not fit the triage template"),
    ('{"category": "bug", "priority": "high", "product": "", "reason": "see [EMAIL_9]"}',
     "never issued"),
])
def test_llm_apply_bad_answers(run: Any, data_dir: Path, answer: str, message: str) -> None:
    run("llm prompt SUP-3 --template triage")
    store = Store(data_dir / DB_NAME)
    before = snapshot(store)
    store.close()
    code, _, err = run("llm apply SUP-3 --template triage --yes", stdin=answer)
    assert code != 0 and message in err
    store = Store(data_dir / DB_NAME)
    assert snapshot(store) == before
    store.close()


def test_import_email_cli(data_dir: Path, files: dict[str, Path],
                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--data-dir", str(data_dir), "import", str(files["outlook.msg"]), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["created"] is True

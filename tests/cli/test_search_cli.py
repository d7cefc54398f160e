from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main


def run(data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def seeded(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert run(data_dir, capsys, "demo", "--cases", "80", "--seed", "4")[0] == 0
    assert (data_dir / "index").is_dir()  # demo builds the index
    return data_dir


def test_search_json_has_hits_and_timing(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(seeded, capsys, "run", "search printers", "--json")
    data = json.loads(out)
    assert code == 0 and set(data) >= {"query", "hits", "total", "took_ms", "notes"}
    assert data["total"] >= 1 and data["took_ms"] >= 0
    assert all("printer" in (h["subject"] + h["snippet"]).lower() for h in data["hits"])


def test_phrase_keeps_its_quotes_and_bad_syntax_gives_notes(
        seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(seeded, capsys, "run", 'search "invalid credentials"', "--json")
    assert json.loads(out)["query"] == '"invalid credentials"'
    code, out, _ = run(seeded, capsys, "run", 'search "unclosed status:bogus', "--json")
    data = json.loads(out)
    assert code == 0 and len(data["notes"]) == 2


def test_a_new_case_is_findable_from_the_next_command(
        seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(seeded, capsys, "run", "case new --subject 'Quasar flux capacitor overheating'")
    code, out, _ = run(seeded, capsys, "run", "search quasar", "--json")
    hits = json.loads(out)["hits"]
    assert [h["subject"] for h in hits] == ["Quasar flux capacitor overheating"]


def test_bad_limit_is_refused(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(seeded, capsys, "run", "search printer --limit 0")
    assert code == 2 and "--limit" in err

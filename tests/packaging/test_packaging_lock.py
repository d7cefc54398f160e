"""The client lock is made from pyproject without the server, and is pinned with hashes."""

from __future__ import annotations

from pathlib import Path

from tests.packaging.loader import load

lock = load("lock")


def test_client_requirements_leave_the_server_out() -> None:
    names = {lock._name(r) for r in lock.client_requirements()}
    assert "pyside6-essentials" in names and "sqlalchemy" in names and "pyinstaller" in names
    assert not names & {"fastapi", "uvicorn", "psycopg", "imapclient"}


def test_committed_lock_is_hashed_and_clientonly() -> None:
    text = Path(lock.LOCK).read_text(encoding="utf-8")
    pins = [line.split("==")[0].lower() for line in text.splitlines()
            if "==" in line and not line.startswith((" ", "#"))]
    assert "pyside6-essentials" in pins and "sqlalchemy" in pins
    assert not set(pins) & {"fastapi", "uvicorn", "psycopg", "psycopg-binary", "starlette"}
    blocks = text.split("==")[1:]
    assert all("--hash=sha256:" in b for b in blocks)
    assert "--find-links" not in text and "/tmp/" not in text

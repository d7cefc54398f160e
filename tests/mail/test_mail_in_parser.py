"""One parser for client and server: the server's mail intake uses the client's
``smart-support import FILE.eml`` parser (app/content), and importing it drags in nothing of
the laptop (no store, sync, operations, UI or Qt)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.content import email_intake
from sync_server.mail import intake

ROOT = Path(__file__).resolve().parents[2]


def test_the_server_parses_mail_with_the_clients_parser() -> None:
    assert intake.__dict__["parse_eml"] is email_intake.parse_eml


def test_the_mail_worker_imports_nothing_of_the_laptop() -> None:
    code = ("import sys, sync_server.mail.poll, sync_server.mail.admin; "
            "print(sorted(m for m in sys.modules if m.startswith(('app.store', 'app.sync', "
            "'app.operations', 'app.ui', 'app.search', 'PySide6'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "[]"

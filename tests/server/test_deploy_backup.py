"""``backup OUT`` / ``restore IN`` on a running SQLite server, then a laptop syncs from the
restored copy; bad backups and occupied targets are refused and change nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from app.operations import cases as ops
from app.store import queries as q
from app.store.repo import Store
from app.sync.api import SyncApi
from app.sync.engine import sync_once
from app.sync.session import SyncSession
from sync_server.db import make_engine
from sync_server.routes.health import readiness
from sync_server.services import accounts

from .conftest import PgCluster, new_pg_database
from .helpers import PASSWORD
from .server_process import ROOT, seed, server_process


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync_server", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def _laptop(folder: Path, base: str, email: str) -> tuple[Store, SyncSession]:
    store = Store(folder / "smart-support.db")
    session = SyncSession(store, SyncApi(base))
    session.login(email, PASSWORD)
    return store, session


def test_backup_of_a_running_server_restores_and_a_laptop_syncs_from_it(tmp_path: Path) -> None:
    live_dir, restored_dir, out = tmp_path / "live", tmp_path / "restored", tmp_path / "bk"
    seed(live_dir, {"Support": ["ana@example.com", "ben@example.com"]})
    with server_process(live_dir) as server:
        ana, session = _laptop(tmp_path / "ana", server.base, "ana@example.com")
        case_id, _, _ = ops.create_case(ana, subject="Printer on fire")
        assert sync_once(ana, session).pushed >= 1
        done = _cli("--data-dir", str(live_dir), "backup", str(out))  # while it serves
        assert done.returncode == 0, done.stderr
        again = _cli("--data-dir", str(live_dir), "backup", str(out))
        assert again.returncode == 1 and "already exists" in again.stderr
        ana.close()
        # serve writes structured logs: every line of its standard error is a JSON object
        lines = (live_dir / "server.log").read_text().splitlines()
        assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    restored = _cli("--data-dir", str(restored_dir), "restore", str(out))
    assert restored.returncode == 0, restored.stderr
    with server_process(restored_dir) as server:
        ben, session = _laptop(tmp_path / "ben", server.base, "ben@example.com")
        assert sync_once(ben, session).pulled >= 1
        detail = ben.read(lambda c: q.case_detail(c, case_id))
        assert detail is not None and detail["subject"] == "Printer on fire"
        ben.close()
    # A second restore over the now-used folder is refused.
    over = _cli("--data-dir", str(restored_dir), "restore", str(out))
    assert over.returncode == 1 and "already exists" in over.stderr


def test_a_tampered_backup_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "server.sqlite3").write_bytes(b"SQLite format 3\x00" + b"garbage" * 500)
    target = tmp_path / "target"
    result = _cli("--data-dir", str(target), "restore", str(bad))
    assert result.returncode == 1 and "not a Smart Support server database" in result.stderr
    assert not (target / "server.sqlite3").exists()
    missing = _cli("--data-dir", str(target), "restore", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "no backup at" in missing.stderr


def test_postgresql_backup_restores_into_an_empty_database(tmp_path: Path,
                                                           pg_cluster: PgCluster) -> None:
    source = new_pg_database(pg_cluster)
    engine = make_engine(source, pool_size=1)
    accounts.add_team(engine, name="Support", prefix="SUP")
    accounts.add_user(engine, email="ana@example.com", name="Ana", role="agent",
                      password=PASSWORD)
    engine.dispose()
    dump = tmp_path / "smart.dump"
    done = _cli("--db", source, "backup", str(dump))
    assert done.returncode == 0, done.stderr
    admin = create_engine(pg_cluster.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('CREATE DATABASE "restored_p2"'))  # empty: from template1
    admin.dispose()
    target = pg_cluster.url_for("restored_p2")
    restored = _cli("--db", target, "restore", str(dump))
    assert restored.returncode == 0, restored.stderr
    check = make_engine(target, pool_size=1)
    try:
        ready, why = readiness(check)
        assert ready, why
        with check.connect() as conn:
            assert conn.execute(text("SELECT email FROM users")).scalars().all() == [
                "ana@example.com"]
    finally:
        check.dispose()
    # Restoring again over the now-full database fails and says why.
    again = _cli("--db", target, "restore", str(dump))
    assert again.returncode == 1 and "pg_restore failed" in again.stderr

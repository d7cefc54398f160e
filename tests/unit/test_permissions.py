"""Data only its owner can read: folders 0700 and files 0600, for the client and the server,
whatever the umask, and an existing looser file or folder is tightened when it is opened."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.paths import db_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    # The common default; the modes must not depend on it.
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_new_client_data_folder_and_database_are_owner_only(tmp_path: Path) -> None:
    from app.store.repo import Store

    folder = tmp_path / "home" / "data"
    store = Store(db_path(folder))
    try:
        path = db_path(folder)
        assert mode(folder) == 0o700
        assert mode(folder.parent) == 0o700  # created for it, so owner-only too
        assert mode(path) == 0o600
        for side in ("-wal", "-shm"):  # they exist while the store is open
            assert mode(Path(f"{path}{side}")) == 0o600, side
    finally:
        store.close()


def test_existing_loose_client_files_are_tightened_on_open(tmp_path: Path) -> None:
    from app.store.repo import Store

    folder = tmp_path / "data"
    Store(db_path(folder)).close()
    path = db_path(folder)
    os.chmod(folder, 0o755)
    os.chmod(path, 0o644)
    store = Store(path)
    try:
        assert mode(folder) == 0o700 and mode(path) == 0o600
        wal = Path(f"{path}-wal")
        os.chmod(wal, 0o644)  # a WAL left by an older version
        Store(path).close()
        assert mode(wal) == 0o600 if wal.exists() else True
    finally:
        store.close()


def test_shared_sticky_folder_is_never_tightened(tmp_path: Path) -> None:
    from app.paths import private_dir

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    private_dir(shared / "mine")
    assert mode(shared) == 0o1777
    assert mode(shared / "mine") == 0o700


def test_client_blobs_index_and_llm_maps_are_owner_only(tmp_path: Path) -> None:
    from app.content.attachments import BlobStore
    from app.store.demo import seed_demo
    from app.store.repo import Store

    folder = tmp_path / "data"
    store = Store(db_path(folder))
    try:
        blobs = BlobStore(folder / "blobs")
        info = blobs.put_bytes(b"secret customer log", "log.txt")
        blob = blobs.path_for(info.sha256)
        assert mode(blob) == 0o600
        probe = blob.parent
        while probe != folder:
            assert mode(probe) == 0o700, probe
            probe = probe.parent

        seed_demo(store, cases=5, seed=1)
        from app.search.service import SearchService

        service = SearchService(folder, store, procs=1)
        service.ensure_index()
        service.close()
        assert mode(folder / "index") == 0o700

        from app.operations import llm
        from app.paths import private_dir

        maps = llm.maps_dir(store)
        os.makedirs(maps.parent, exist_ok=True)
        assert mode(private_dir(maps)) == 0o700
    finally:
        store.close()


def test_notification_read_model_file_is_owner_only(tmp_path: Path) -> None:
    from app.store.analytics_tables import open_analytics_engine

    path = tmp_path / "data" / "notifications.db"
    engine = open_analytics_engine(path)
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    engine.dispose()
    assert mode(path.parent) == 0o700 and mode(path) == 0o600


def test_server_data_folder_database_and_blobs_are_owner_only(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    from sync_server.db import make_engine, migrate
    from sync_server.services.blobs import FsBlobStore
    from sync_server.settings import SECRET_ENV, load_settings

    monkeypatch.delenv(SECRET_ENV, raising=False)
    folder = tmp_path / "srv"
    settings = load_settings(data_dir=folder)
    assert mode(folder) == 0o700
    assert mode(folder / "secret.key") == 0o600
    engine = make_engine(settings.db_url)
    migrate(engine)
    db = folder / "server.sqlite3"
    with engine.connect() as conn:  # the WAL and shared memory exist while connected
        conn.exec_driver_sql("SELECT count(*) FROM events").scalar()
        assert mode(db) == 0o600
        for side in ("-wal", "-shm"):
            assert mode(Path(f"{db}{side}")) == 0o600, side
    engine.dispose()

    store = FsBlobStore(folder / "blobs")
    data = b"attachment bytes"
    sha = hashlib.sha256(data).hexdigest()
    store.put(sha, data)
    blob = folder / "blobs" / sha[:2] / sha[2:4] / sha
    assert mode(blob) == 0o600
    for probe in (blob.parent, blob.parent.parent, folder / "blobs"):
        assert mode(probe) == 0o700, probe


def test_existing_loose_server_files_are_tightened_on_start(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    from sync_server.db import make_engine, migrate
    from sync_server.settings import SECRET_ENV, load_settings

    monkeypatch.delenv(SECRET_ENV, raising=False)
    folder = tmp_path / "srv"
    settings = load_settings(data_dir=folder)
    engine = make_engine(settings.db_url)
    migrate(engine)
    engine.dispose()
    db = folder / "server.sqlite3"
    os.chmod(folder, 0o755)
    os.chmod(db, 0o644)
    settings = load_settings(data_dir=folder)
    engine = make_engine(settings.db_url)
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1").scalar()
    engine.dispose()
    assert mode(folder) == 0o700 and mode(db) == 0o600

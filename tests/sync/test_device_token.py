"""The client keeps the server's device token and presents it on its next login, so a device
that signed in before is not locked out by a stranger's failed guesses (real server, loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.store.repo import Store
from app.sync.api import ApiError, SyncApi
from app.sync.session import SyncSession
from tests.server.helpers import live_server

PASSWORD = "a long enough password"
ANA = "ana@example.com"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    from sync_server.db import make_engine, migrate
    from sync_server.main import create_app
    from sync_server.services import accounts
    from sync_server.settings import Settings

    settings = Settings(db_url=f"sqlite:///{tmp_path / 'srv.sqlite3'}", data_dir=tmp_path / "srv",
                        secret="d" * 48, login_max_failures=3)
    engine = make_engine(settings.db_url)
    migrate(engine)
    accounts.add_team(engine, name="Support", prefix="SUP")
    accounts.add_user(engine, email=ANA, name="Ana", role="agent", password=PASSWORD)
    accounts.add_member(engine, team="Support", email=ANA)
    with live_server(create_app(settings, engine=engine, run_migrations=False)) as url:
        yield url
    engine.dispose()


def _guess(url: str, times: int) -> None:
    for _ in range(times):  # a stranger on the same address (loopback) guesses ana's password
        response = httpx.post(f"{url}/api/v1/auth/login",
                              json={"email": ANA, "password": "guess"}, timeout=10)
        assert response.status_code == 401


def test_a_device_that_signed_in_before_still_signs_in_under_attack(tmp_path: Path,
                                                                    server: str) -> None:
    store = Store(tmp_path / "laptop" / "smart-support.db")
    session = SyncSession(store, SyncApi(server))
    session.login(ANA, PASSWORD)
    session.logout()
    _guess(server, 3)
    # a device that never signed in is held back, with the server's reason
    newcomer = SyncSession(Store(tmp_path / "new" / "smart-support.db"), SyncApi(server))
    with pytest.raises(ApiError) as refused:
        newcomer.login(ANA, PASSWORD)
    assert refused.value.status == 429
    # the laptop presents its device token (kept across logout) and gets in
    again = SyncSession(store, SyncApi(server))
    user = again.login(ANA, PASSWORD)
    assert user["email"] == ANA
    assert again.logged_in

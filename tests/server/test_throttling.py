"""Login throttling: guessing is slowed per (account, address), per account and per address, with
stepped delays; colleagues behind the same NAT and devices that signed in before are not locked
out by someone else's failures (docs/login-throttling.md). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from sync_server.main import create_app
from sync_server.routes.auth import login_clock
from sync_server.settings import Settings

from .helpers import PASSWORD, World, live_server

PAIR, ACCOUNT, ADDRESS, DEVICE, WINDOW, FIRST = 3, 6, 10, 3, 600, 30
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


@dataclass
class Clock:
    now: float = 1_800_000_000.0


@dataclass
class Server:
    app: FastAPI
    clock: Clock

    def login(self, address: str, email: str, password: str = PASSWORD,
              device_token: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"email": email, "password": password}
        if device_token is not None:
            body["device_token"] = device_token
        # Each client address is a TestClient of its own (the ASGI scope's client).
        return TestClient(self.app, client=(address, 50000)).post("/api/v1/auth/login",
                                                                  json=body)

    def fail(self, address: str, email: str, times: int = 1,
             device_token: str | None = None) -> None:
        for _ in range(times):
            response = self.login(address, email, "wrong password", device_token)
            assert response.status_code == 401, response.text


@pytest.fixture
def server(settings: Settings, engine: Engine, world: World) -> Iterator[Server]:
    limited = settings.model_copy(update={
        "login_max_failures": PAIR, "login_account_max_failures": ACCOUNT,
        "login_address_max_failures": ADDRESS, "login_device_max_failures": DEVICE,
        "login_window_seconds": WINDOW, "login_first_delay_seconds": FIRST})
    app = create_app(limited, engine=engine, run_migrations=False)
    clock = Clock()
    app.dependency_overrides[login_clock] = lambda: clock.now
    yield Server(app, clock)


def assert_throttled(response: httpx.Response, retry_after: int | None = None) -> None:
    assert response.status_code == 429, response.text
    assert "too many failed logins" in response.json()["detail"]
    wait = int(response.headers["Retry-After"])
    assert wait > 0
    if retry_after is not None:
        assert wait == retry_after


def test_account_from_one_address_is_throttled_after_the_pair_limit(server: Server) -> None:
    server.fail("10.0.0.1", ALICE, PAIR)
    assert_throttled(server.login("10.0.0.1", ALICE), retry_after=FIRST)
    assert_throttled(server.login("10.0.0.1", ALICE, "another guess"), retry_after=FIRST)


def test_a_colleague_behind_the_same_address_is_not_throttled(server: Server) -> None:
    server.fail("10.0.0.1", ALICE, PAIR)
    assert_throttled(server.login("10.0.0.1", ALICE))
    assert server.login("10.0.0.1", BOB).status_code == 200
    server.fail("10.0.0.1", BOB)  # a typo of bob's is a 401, not a 429


def test_another_address_is_throttled_only_at_the_account_limit(server: Server) -> None:
    server.fail("10.0.0.1", ALICE, PAIR)
    assert server.login("10.0.0.2", ALICE).status_code == 200
    server.fail("10.0.0.2", ALICE, PAIR - 1)
    server.fail("10.0.0.3", ALICE, ACCOUNT - PAIR - (PAIR - 1))
    # the account has ACCOUNT failures now, from addresses each under the pair limit
    assert_throttled(server.login("10.0.0.4", ALICE), retry_after=FIRST)
    assert server.login("10.0.0.4", BOB).status_code == 200


def test_a_device_that_signed_in_before_is_not_locked_out(server: Server) -> None:
    first = server.login("10.0.0.1", ALICE)
    assert first.status_code == 200
    device_token = first.json()["device_token"]
    bob_token = server.login("10.0.0.1", BOB).json()["device_token"]
    # an attacker at the same address and elsewhere fills the pair and account buckets
    server.fail("10.0.0.1", ALICE, PAIR)
    server.fail("10.0.0.2", ALICE, PAIR)
    assert_throttled(server.login("10.0.0.1", ALICE))
    assert_throttled(server.login("10.0.0.5", ALICE))
    again = server.login("10.0.0.1", ALICE, device_token=device_token)
    assert again.status_code == 200
    renewed = again.json()["device_token"]
    assert renewed.split(".")[0] == device_token.split(".")[0]  # the same device
    # a token that is forged, tampered with, or another account's buys nothing
    for forged in ("garbage", device_token[:-2] + "xx", bob_token):
        assert_throttled(server.login("10.0.0.1", ALICE, device_token=forged))


def test_a_device_token_has_its_own_limit(server: Server) -> None:
    device_token = server.login("10.0.0.1", ALICE).json()["device_token"]
    server.fail("10.0.0.9", ALICE, DEVICE, device_token=device_token)
    assert_throttled(server.login("10.0.0.9", ALICE, device_token=device_token),
                     retry_after=FIRST)
    # its failures were not charged to the account or address
    assert server.login("10.0.0.9", ALICE).status_code == 200


def test_an_address_spraying_many_accounts_is_throttled_at_the_address_limit(
        server: Server) -> None:
    for i in range(ADDRESS):
        server.fail("10.0.0.66", f"nobody{i}@example.com")
    assert_throttled(server.login("10.0.0.66", "nobody-else@example.com", "guess"))
    assert_throttled(server.login("10.0.0.66", CAROL))
    assert server.login("10.0.0.67", CAROL).status_code == 200


def test_delays_step_up_and_the_window_forgets(server: Server) -> None:
    server.fail("10.0.0.1", ALICE, PAIR)
    assert_throttled(server.login("10.0.0.1", ALICE), retry_after=FIRST)
    server.clock.now += FIRST - 1
    assert_throttled(server.login("10.0.0.1", ALICE), retry_after=1)
    server.clock.now += 1
    server.fail("10.0.0.1", ALICE)
    assert_throttled(server.login("10.0.0.1", ALICE), retry_after=2 * FIRST)
    server.clock.now += 2 * FIRST
    server.fail("10.0.0.1", ALICE)
    assert_throttled(server.login("10.0.0.1", ALICE), retry_after=4 * FIRST)
    server.clock.now += WINDOW + 1
    assert server.login("10.0.0.1", ALICE).status_code == 200


def test_a_right_password_clears_its_own_pair(server: Server) -> None:
    server.fail("10.0.0.1", ALICE, PAIR - 1)
    assert server.login("10.0.0.1", ALICE).status_code == 200
    server.fail("10.0.0.1", ALICE, PAIR - 1)  # would have been throttled without the reset
    assert server.login("10.0.0.1", ALICE).status_code == 200


def test_concurrent_guesses_cannot_pass_a_limit(server: Server) -> None:
    """Each attempt is charged before its password is checked, under a lock on its buckets."""
    with live_server(server.app) as base:
        def guess() -> int:
            return httpx.post(f"{base}/api/v1/auth/login", timeout=60,
                              json={"email": ALICE, "password": "guess"}).status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            codes = sorted(pool.map(lambda _: guess(), range(12)))
    assert codes == [401] * PAIR + [429] * (12 - PAIR)

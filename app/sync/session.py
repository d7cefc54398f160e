"""An agent's sign-in: the refresh token lives only in the OS keyring, the access token in memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import keyring
import keyring.errors

from app.store.repo import DEFAULT_ACTOR, Store
from app.sync.api import ApiError, SyncApi, Unauthorized

SERVICE = "smart-support"
T = TypeVar("T")


class NotLoggedIn(ApiError):
    pass


def _account(server: str, email: str) -> str:
    return f"{server.rstrip('/')}|{email.lower()}"


class SyncSession:
    def __init__(self, store: Store, api: SyncApi) -> None:
        self.store = store
        self.api = api
        self.email = store.get_meta("account_email") or ""
        self._access: str | None = None

    @property
    def server(self) -> str:
        return self.api.base_url

    def _save_refresh(self, token: str) -> None:
        try:
            keyring.set_password(SERVICE, _account(self.server, self.email), token)
        except keyring.errors.KeyringError as exc:
            raise ApiError("the system keyring is not available, so the sign-in cannot be "
                           "kept safely (tokens are never written to disk). Unlock or install "
                           f"a keyring (GNOME Keyring, KWallet, macOS Keychain): {exc}") from exc

    def _load_refresh(self) -> str | None:
        if not self.email:
            return None
        try:
            return keyring.get_password(SERVICE, _account(self.server, self.email))
        except keyring.errors.KeyringError:
            return None

    def login(self, email: str, password: str) -> dict[str, Any]:
        # The device token is no credential on its own (the password is still needed), so it
        # lives in meta and survives logout: it keeps this device's logins apart from a
        # stranger's failed guesses (docs/login-throttling.md).
        device_key = f"device_token|{_account(self.server, email)}"
        tokens = self.api.login(email, password, self.store.get_meta(device_key) or None)
        if isinstance(tokens.get("device_token"), str):
            self.store.set_meta(device_key, tokens["device_token"])
        self.email = email.lower()
        self._access = tokens["access_token"]
        self._save_refresh(tokens["refresh_token"])
        user = tokens.get("user") or {}
        self.store.set_meta("server_url", self.server)
        self.store.set_meta("account_email", self.email)
        # Never signed in before: everything unsent was recorded on this device before any
        # account existed, so all of it becomes the agent's (the original actor is kept).
        first = self.store.actor == DEFAULT_ACTOR
        self.store.set_actor(self.email)
        teams = [str(t["id"]) for t in user.get("teams") or [] if t.get("id")]
        if teams:
            chosen = self.store.get_meta("default_team")
            team_id = chosen if chosen in teams else teams[0]
            self.store.set_meta("default_team", team_id)
            self.store.adopt_teamless(team_id, actor=self.email, first_sign_in=first)
        return dict(user)

    def logout(self) -> None:
        token = self._load_refresh()
        if token:
            try:
                self.api.logout(token)
            except ApiError:
                pass  # revoked or offline: forgetting it locally is what matters
            try:
                keyring.delete_password(SERVICE, _account(self.server, self.email))
            except keyring.errors.KeyringError:
                pass
        self._access = None
        self.store.set_meta("account_email", "")

    @property
    def logged_in(self) -> bool:
        return bool(self._access or self._load_refresh())

    def _refresh(self) -> str:
        token = self._load_refresh()
        if not token:
            raise NotLoggedIn("not signed in: run `smart-support login`")
        try:
            tokens = self.api.refresh(token)
        except Unauthorized as exc:
            try:
                keyring.delete_password(SERVICE, _account(self.server, self.email))
            except keyring.errors.KeyringError:
                pass
            raise NotLoggedIn(f"the sign-in has expired or was revoked ({exc}); "
                              "sign in again") from exc
        self._save_refresh(tokens["refresh_token"])
        self._access = str(tokens["access_token"])
        return self._access

    def access_token(self, *, refresh: bool = False) -> str:
        """The current access token; ``refresh=True`` after the server refused it."""
        if refresh or not self._access:
            return self._refresh()
        return self._access

    def call(self, fn: Callable[[str], T]) -> T:
        """Run ``fn(access_token)``, refreshing the token once if it was refused."""
        token = self._access or self._refresh()
        try:
            return fn(token)
        except Unauthorized:
            return fn(self._refresh())


def session_for(store: Store, *, transport: Any = None) -> SyncSession:
    server = store.get_meta("server_url")
    if not server:
        raise NotLoggedIn("no sync server configured: run `smart-support login --server URL`")
    return SyncSession(store, SyncApi(server, transport=transport))

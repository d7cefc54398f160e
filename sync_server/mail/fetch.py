"""IMAP, the mailbox's in side: log in (implicit TLS, STARTTLS required, or ``?tls=none`` for a
local test server), select the folder, list UIDs above the last one taken (tracking
UIDVALIDITY), read sizes first so a 50 MB message is never fetched whole, fetch with
BODY.PEEK (nothing is flagged before its events are committed), flag ``\\Seen`` and move
after, and wait in IDLE where the server offers it. Blocking calls: the poller runs them on
a thread. Never deletes anything.

imapclient (rather than bare imaplib): it parses FETCH/SEARCH answers and IDLE responses
correctly, handles literals and UTF-7 folder names, and is well kept."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Literal

import imapclient
from imapclient import exceptions as imap_errors

from sync_server.mail.config import Endpoint

ErrorKind = Literal["auth", "connect", "tls", "folder", "protocol"]


class ImapError(Exception):
    """A failure talking to the IMAP server, with what kind it is (for the mailbox's status
    and the breaker: ``auth`` and ``folder`` are not retried every poll)."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class FolderState:
    uidvalidity: int
    uidnext: int
    exists: int


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class ImapSession:
    def __init__(self, endpoint: Endpoint, password: str, *, timeout_s: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.endpoint, self._password, self.timeout_s = endpoint, password, timeout_s
        self._ssl = ssl_context or ssl.create_default_context()
        self._client: imapclient.IMAPClient | None = None
        self.capabilities: frozenset[bytes] = frozenset()

    @property
    def client(self) -> imapclient.IMAPClient:
        if self._client is None:
            raise ImapError("protocol", "not connected")
        return self._client

    def open(self) -> FolderState:
        """Connect, log in, select the folder; raises :class:`ImapError`."""
        e = self.endpoint
        try:
            client = imapclient.IMAPClient(e.host, port=e.port, ssl=e.tls == "implicit",
                                           ssl_context=self._ssl, timeout=self.timeout_s)
        except ssl.SSLError as exc:
            raise ImapError("tls", f"TLS with {e.site} failed: {exc}") from None
        except OSError as exc:
            raise ImapError("connect", f"cannot connect to {e.site}: {exc}") from None
        self._client = client
        try:
            if e.tls == "starttls":
                if b"STARTTLS" not in set(client.capabilities()):
                    raise ImapError("tls", f"{e.site} does not offer STARTTLS (required; "
                                    "add ?tls=none only for a local test server)")
                client.starttls(self._ssl)
            client.login(e.user, self._password)
        except imap_errors.LoginError as exc:
            self.close()
            raise ImapError("auth", f"{e.site} refused the login of {e.user}: "
                            f"{_text(exc)[:200]}") from None
        except ssl.SSLError as exc:
            self.close()
            raise ImapError("tls", f"STARTTLS with {e.site} failed: {exc}") from None
        except (OSError, imap_errors.IMAPClientError) as exc:
            self.close()
            if isinstance(exc, ImapError):
                raise
            raise ImapError("connect", f"{e.site}: {_text(exc)[:200]}") from None
        self.capabilities = frozenset(client.capabilities())
        return self.select()

    def select(self) -> FolderState:
        try:
            info = self.client.select_folder(self.endpoint.folder)
        except imap_errors.IMAPClientError as exc:
            raise ImapError("folder", f"folder {self.endpoint.folder!r} on "
                            f"{self.endpoint.site}: {_text(exc)[:200]}") from None
        except OSError as exc:
            raise ImapError("connect", f"{self.endpoint.site}: {exc}") from None
        return FolderState(uidvalidity=int(info.get(b"UIDVALIDITY", 0)),
                           uidnext=int(info.get(b"UIDNEXT", 0)),
                           exists=int(info.get(b"EXISTS", 0)))

    def _call(self, what: str, function: object, *args: object) -> object:
        try:
            return function(*args)  # type: ignore[operator]
        except imap_errors.IMAPClientError as exc:
            raise ImapError("protocol", f"{what} on {self.endpoint.site}: "
                            f"{_text(exc)[:200]}") from None
        except OSError as exc:
            raise ImapError("connect", f"{what} on {self.endpoint.site}: {exc}") from None

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs greater than ``last_uid``, in order (``N:*`` also names the last message
        when every UID is below N: filtered out)."""
        found = self._call("UID SEARCH", self.client.search, ["UID", f"{last_uid + 1}:*"])
        return sorted(int(u) for u in found if int(u) > last_uid)  # type: ignore[attr-defined]

    def sizes(self, uids: list[int]) -> dict[int, int]:
        if not uids:
            return {}
        data = self._call("FETCH RFC822.SIZE", self.client.fetch, uids, ["RFC822.SIZE"])
        return {int(uid): int(item.get(b"RFC822.SIZE", 0))
                for uid, item in data.items()}  # type: ignore[attr-defined]

    def fetch(self, uid: int, *, headers_only: bool = False) -> bytes | None:
        """The message's bytes (or its header), not flagging it; None if it vanished."""
        item = b"BODY.PEEK[HEADER]" if headers_only else b"BODY.PEEK[]"
        data = self._call("FETCH", self.client.fetch, [uid], [item])
        got = data.get(uid) if isinstance(data, dict) else None
        if not got:
            return None
        body = got.get(b"BODY[HEADER]" if headers_only else b"BODY[]")
        return bytes(body) if body is not None else None

    def done(self, uid: int, move_to: str = "") -> None:
        """Flag a processed message \\Seen, and move it when asked (MOVE only: a copy and
        delete would be a deletion)."""
        self._call("STORE \\Seen", self.client.add_flags, [uid], [imapclient.SEEN])
        if move_to and b"MOVE" in self.capabilities:
            self._call("MOVE", self.client.move, [uid], move_to)

    @property
    def can_idle(self) -> bool:
        return b"IDLE" in self.capabilities

    def idle(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` in IDLE; whether the server announced something."""
        client = self.client
        try:
            client.idle()
            try:
                responses = client.idle_check(timeout=timeout_s)
            finally:
                client.idle_done()
        except (imap_errors.IMAPClientError, OSError) as exc:
            raise ImapError("connect", f"IDLE on {self.endpoint.site}: {exc}") from None
        return bool(responses)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # closing a broken connection: nothing more to learn
            try:
                client.shutdown()
            except Exception:
                pass


def check_login(endpoint: Endpoint, password: str, timeout_s: float = 15.0) -> str:
    """`mailbox test`: log in and select the folder; what works, as one line."""
    session = ImapSession(endpoint, password, timeout_s=timeout_s)
    try:
        folder = session.open()
        return (f"IMAP {endpoint.site}: logged in as {endpoint.user}, folder "
                f"{endpoint.folder} has {folder.exists} messages"
                + (", IDLE offered" if session.can_idle else ", no IDLE (polling)"))
    finally:
        session.close()

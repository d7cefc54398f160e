"""Mailbox URLs exactly as ``mailbox add`` takes them (docs/mailbox.md):

    imaps://USER@HOST[:PORT][/FOLDER]        implicit TLS, port 993, folder INBOX
    imap://USER@HOST:PORT[/FOLDER]           STARTTLS required, unless ?tls=none
    smtps://USER@HOST[:PORT]                 implicit TLS, port 465
    smtp://[USER@]HOST:PORT                  STARTTLS when offered, required unless ?tls=none

An ``@`` in USER is written ``%40``. A password in the URL is refused (it goes through
``--password-stdin``, so it never sits in a shell history or a process list)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

Tls = Literal["implicit", "starttls", "none"]
_DEFAULT_PORT = {"imaps": 993, "smtps": 465}
_MAX_URL = 2048


class MailConfigError(ValueError):
    """A mailbox URL or address that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    scheme: Literal["imap", "imaps", "smtp", "smtps"]
    user: str
    host: str
    port: int
    tls: Tls
    folder: str = ""

    @property
    def site(self) -> str:
        """The breaker's site: the server's host (and port)."""
        return f"{self.host}:{self.port}"

    def display(self) -> str:
        """The URL again, normalized (no password: there is none to show)."""
        user = self.user.replace("@", "%40") + "@" if self.user else ""
        folder = f"/{self.folder}" if self.folder and self.scheme.startswith("imap") else ""
        query = "?tls=none" if self.tls == "none" else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}{folder}{query}"


def _query_tls(query: str, url: str) -> bool:
    """Whether ``?tls=none`` was asked for; any other query is refused."""
    if not query:
        return False
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise MailConfigError(f"{url}: cannot read the query {query!r}") from None
    if set(params) != {"tls"} or params["tls"] != ["none"]:
        raise MailConfigError(f"{url}: the only query allowed is ?tls=none")
    return True


def _folder(kind: str, path: str, user: str, shown: str) -> str:
    if kind == "smtp" and path not in ("", "/"):
        raise MailConfigError(f"{shown}: an smtp URL has no path")
    if kind == "imap" and not user:
        raise MailConfigError(f"{shown}: an imap URL names its user (USER@HOST)")
    folder = unquote(path.strip("/")) if kind == "imap" else ""
    if any(ord(ch) < 32 for ch in user + folder):
        raise MailConfigError(f"{shown}: control characters in the user or folder")
    return folder


def parse_url(url: str, *, kind: Literal["imap", "smtp"]) -> Endpoint:
    """One end of a mailbox; raises :class:`MailConfigError` naming what is wrong."""
    if not isinstance(url, str) or not url or len(url) > _MAX_URL or any(
            ch.isspace() or ord(ch) < 32 for ch in url):
        raise MailConfigError(f"a {kind} URL must be one line without spaces, at most "
                              f"{_MAX_URL} characters")
    shown = url[:200]
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in (kind, kind + "s"):
        raise MailConfigError(f"{shown}: a {kind} URL starts with {kind}:// or {kind}s://")
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        raise MailConfigError(f"{kind} URL: put no password in the URL; use --password-stdin")
    user = unquote(userinfo) if at else ""
    host = parts.hostname or ""
    if not host or hostport.startswith(":"):
        raise MailConfigError(f"{shown}: no host")
    try:
        port = parts.port
    except ValueError:
        raise MailConfigError(f"{shown}: the port must be a number from 1 to 65535") from None
    if port == 0:
        raise MailConfigError(f"{shown}: the port must be a number from 1 to 65535")
    implicit = scheme.endswith("s")
    if port is None:
        if not implicit:
            raise MailConfigError(f"{shown}: {scheme}:// needs a port (HOST:PORT)")
        port = _DEFAULT_PORT[scheme]
    no_tls = _query_tls(parts.query, shown)
    if no_tls and implicit:
        raise MailConfigError(f"{shown}: ?tls=none goes only with {kind}:// (not {scheme}://)")
    if parts.fragment:
        raise MailConfigError(f"{shown}: a URL fragment (#...) means nothing here")
    folder = _folder(kind, parts.path, user, shown)
    tls: Tls = "implicit" if implicit else ("none" if no_tls else "starttls")
    return Endpoint(scheme=scheme, user=user, host=host.lower(), port=port,  # type: ignore[arg-type]
                    tls=tls, folder=folder or ("INBOX" if kind == "imap" else ""))


def check_address(address: str) -> str:
    """The mailbox address, lower-cased; one ``@``, a dot-free local part allowed."""
    value = address.strip().lower() if isinstance(address, str) else ""
    local, at, domain = value.partition("@")
    if (not at or not local or not domain or "@" in domain or len(value) > 320
            or any(ch.isspace() or ord(ch) < 32 for ch in value)):
        raise MailConfigError(f"{str(address)[:80]!r} is not an e-mail address")
    return value

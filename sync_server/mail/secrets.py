"""Mailbox passwords at rest: AES-GCM under a key derived (HKDF-SHA256) from the server's
secret, a random nonce per encryption, the team id and address as associated data (a
password copied onto another mailbox's row does not decrypt). The plain password lives only
in memory, for a login; it is never logged, printed or sent to a client."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"
_INFO = b"smart-support mailbox password v1"
_NONCE = 12


class SecretError(ValueError):
    """A stored password that does not decrypt (another secret, a damaged row)."""


def _key(server_secret: str) -> bytes:
    if not server_secret:
        raise SecretError("the server has no secret to derive the mailbox key from")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        server_secret.encode())


def _aad(team_id: str, address: str) -> bytes:
    return f"{team_id}\n{address.lower()}".encode()


def encrypt(server_secret: str, team_id: str, address: str, password: str) -> str:
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(_key(server_secret)).encrypt(nonce, password.encode(), _aad(team_id, address))
    return f"{_VERSION}:" + base64.b64encode(nonce + sealed).decode("ascii")


def decrypt(server_secret: str, team_id: str, address: str, stored: str) -> str:
    version, _, body = stored.partition(":")
    if version != _VERSION:
        raise SecretError("the stored mailbox password has an unknown format")
    try:
        raw = base64.b64decode(body, validate=True)
        plain = AESGCM(_key(server_secret)).decrypt(raw[:_NONCE], raw[_NONCE:],
                                                    _aad(team_id, address))
    except (ValueError, InvalidTag):
        raise SecretError("the mailbox password does not decrypt with this server's secret "
                          "(was the secret changed? set it again with `mailbox add`)") from None
    return plain.decode()

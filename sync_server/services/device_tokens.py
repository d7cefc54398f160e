"""Device tokens (OWASP "device cookies"): proof that a device has signed in to an account.

Issued on every successful login and presented on later ones, a token lets its device's logins
be throttled in their own bucket instead of the account's and address's, which strangers can
fill. It is no credential on its own: the password is still needed. Format:
``<device id>.<issued, unix s>.<HMAC-SHA256(secret, account, device id, issued)>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

_FORMAT = re.compile(r"^([A-Za-z0-9_-]{16,64})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")


def _mac(secret: str, user_id: str, device: str, issued: int) -> str:
    message = f"device-token|{user_id}|{device}|{issued}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue_device_token(secret: str, user_id: str, *, now: float, device: str | None = None) -> str:
    """A fresh token for ``user_id``; ``device`` keeps the id of the device that presented one."""
    device = device or secrets.token_urlsafe(16)
    issued = int(now)
    return f"{device}.{issued}.{_mac(secret, user_id, device, issued)}"


def verify_device_token(secret: str, token: str, user_id: str, *, now: float,
                        ttl: int) -> str | None:
    """The device id of a genuine, unexpired token for ``user_id``, else None."""
    match = _FORMAT.match(token)
    if match is None:
        return None
    device, issued_text, mac = match.groups()
    issued = int(issued_text)
    if not hmac.compare_digest(mac, _mac(secret, user_id, device, issued)):
        return None
    if issued > now + 300 or issued + ttl <= now:
        return None
    return device

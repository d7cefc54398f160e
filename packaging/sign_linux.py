"""Sign the Linux archive and SHA256SUMS with Ed25519 (detached `<file>.sig` beside each).

    python packaging/sign_linux.py keygen KEY.pem PUBLIC.pem   # once, offline
    python packaging/sign_linux.py sign KEY.pem dist/FILE...   # after every build

The private key may be encrypted: its passphrase is read from the environment variable
SMART_SUPPORT_SIGNING_PASSPHRASE (never from the command line, which `ps` shows).
A signature file is one line: `ed25519 <base64 signature>`; verify with verify_linux.py.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PASSPHRASE_ENV = "SMART_SUPPORT_SIGNING_PASSPHRASE"
SIG_SUFFIX = ".sig"
SIG_TAG = "ed25519"


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def keygen(private_out: Path, public_out: Path) -> None:
    if private_out.exists():
        raise SystemExit(f"sign_linux: {private_out} exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    secret = _passphrase()
    algorithm = (serialization.BestAvailableEncryption(secret) if secret
                 else serialization.NoEncryption())
    private_out.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8, algorithm))
    private_out.chmod(0o600)
    public_out.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=_passphrase())
    except (OSError, ValueError, TypeError) as exc:
        raise SystemExit(f"sign_linux: cannot load the private key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SystemExit(f"sign_linux: {path} is not an Ed25519 private key")
    return key


def sign_file(key: Ed25519PrivateKey, path: Path) -> Path:
    """Write ``path.sig`` and return it."""
    signature = key.sign(path.read_bytes())
    out = path.with_name(path.name + SIG_SUFFIX)
    out.write_text(f"{SIG_TAG} {base64.b64encode(signature).decode()}\n", encoding="ascii")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sign_linux.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen", help="make a new Ed25519 key pair")
    k.add_argument("private_key", type=Path)
    k.add_argument("public_key", type=Path)
    s = sub.add_parser("sign", help="write FILE.sig for each FILE")
    s.add_argument("private_key", type=Path)
    s.add_argument("files", type=Path, nargs="+")
    args = p.parse_args(argv)
    if args.cmd == "keygen":
        keygen(args.private_key, args.public_key)
        print(f"wrote {args.private_key} (keep it offline) and {args.public_key} (publish it)")
        return 0
    key = load_private_key(args.private_key)
    missing = [f for f in args.files if not f.is_file()]
    if missing:
        return _fail(f"no such file: {', '.join(map(str, missing))}")
    for path in args.files:
        print(sign_file(key, path))
    return 0


def _fail(message: str) -> int:
    print(f"sign_linux: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

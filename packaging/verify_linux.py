"""Verify a signed Linux release: each file against its `.sig`, and the archive against
SHA256SUMS. Exit 0 only when everything checks out; otherwise one clear line per problem.

    python packaging/verify_linux.py PUBLIC.pem dist/smart-support-*.tar.gz dist/SHA256SUMS

Needs only Python 3 and the `cryptography` package (IT can run it on any Linux box).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIG_SUFFIX = ".sig"
SIG_TAG = "ed25519"
SUMS_NAME = "SHA256SUMS"


class VerifyError(Exception):
    """The release is not what was signed: do not install it."""


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise VerifyError(f"cannot load the public key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise VerifyError(f"{path} is not an Ed25519 public key")
    return key


def _read_signature(sig_path: Path) -> bytes:
    try:
        tag, _, encoded = sig_path.read_text(encoding="ascii").strip().partition(" ")
        if tag != SIG_TAG:
            raise ValueError(f"expected '{SIG_TAG} <base64>'")
        signature = base64.b64decode(encoded, validate=True)
    except (OSError, ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise VerifyError(f"unreadable signature {sig_path}: {exc}") from exc
    if len(signature) != 64:
        raise VerifyError(f"unreadable signature {sig_path}: not 64 bytes")
    return signature


def verify_signature(key: Ed25519PublicKey, path: Path) -> None:
    sig_path = path.with_name(path.name + SIG_SUFFIX)
    if not sig_path.is_file():
        raise VerifyError(f"no signature {sig_path} for {path.name}")
    signature = _read_signature(sig_path)
    try:
        key.verify(signature, path.read_bytes())
    except InvalidSignature as exc:
        raise VerifyError(f"BAD SIGNATURE: {path.name} is not the file that was signed "
                          "(tampered or corrupted); do not install it") from exc


def verify_sums(sums: Path, files: list[Path]) -> None:
    """Each of ``files`` must be listed in ``sums`` with its actual SHA-256."""
    listed: dict[str, str] = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) == 64 and name:
            listed[name.strip()] = digest.lower()
    for path in files:
        expected = listed.get(path.name)
        if expected is None:
            raise VerifyError(f"{path.name} is not listed in {sums.name}")
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            raise VerifyError(f"CHECKSUM MISMATCH: {path.name} has SHA-256 {actual}, "
                              f"{sums.name} says {expected}; do not install it")


def verify_release(public_key: Path, files: list[Path]) -> list[str]:
    """Check every file's signature and, when SHA256SUMS is among them, the others'
    checksums. Returns what was checked; raises VerifyError at the first problem."""
    key = load_public_key(public_key)
    for path in files:
        if not path.is_file():
            raise VerifyError(f"no such file: {path}")
    done: list[str] = []
    for path in files:
        verify_signature(key, path)
        done.append(f"signature ok: {path.name}")
    sums = [f for f in files if f.name == SUMS_NAME]
    if sums:
        others = [f for f in files if f.name != SUMS_NAME]
        verify_sums(sums[0], others)
        done.extend(f"checksum ok: {f.name}" for f in others)
    return done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="verify_linux.py", description=__doc__.split("\n")[0])
    p.add_argument("public_key", type=Path)
    p.add_argument("files", type=Path, nargs="+")
    args = p.parse_args(argv)
    try:
        for line in verify_release(args.public_key, args.files):
            print(line)
    except VerifyError as exc:
        print(f"verify_linux: {exc}", file=sys.stderr)
        return 1
    print("release verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())

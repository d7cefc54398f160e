"""Ed25519 detached signatures of the Linux release: a round trip, and tampering refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.loader import load

sign = load("sign_linux")
verify = load("verify_linux")
build = load("build")


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A signed archive and SHA256SUMS, and the public key."""
    key, pub = tmp_path / "key.pem", tmp_path / "pub.pem"
    assert sign.main(["keygen", str(key), str(pub)]) == 0
    archive = tmp_path / "smart-support-0.1.0-linux-x86_64.tar.gz"
    archive.write_bytes(b"\x1f\x8b pretend archive " * 100)
    sums = build.write_sums([archive], tmp_path / "SHA256SUMS")
    assert sign.main(["sign", str(key), str(archive), str(sums)]) == 0
    return pub, archive, sums


def test_round_trip(release: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pub, archive, sums = release
    assert verify.main([str(pub), str(archive), str(sums)]) == 0
    out = capsys.readouterr().out
    assert f"checksum ok: {archive.name}" in out and "release verified" in out


def test_tampered_archive_is_refused(release: tuple[Path, Path, Path],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    pub, archive, sums = release
    data = bytearray(archive.read_bytes())
    data[10] ^= 0x01
    archive.write_bytes(bytes(data))
    assert verify.main([str(pub), str(archive), str(sums)]) == 1
    err = capsys.readouterr().err
    assert f"BAD SIGNATURE: {archive.name} is not the file that was signed" in err


def test_sums_not_matching_the_archive_is_refused(tmp_path: Path,
                                                  release: tuple[Path, Path, Path]) -> None:
    pub, archive, sums = release
    # An attacker swaps archive and its signature for another validly signed file.
    other = tmp_path / "other.bin"
    other.write_bytes(b"something else")
    sign.sign_file(sign.load_private_key(tmp_path / "key.pem"), other)
    archive.write_bytes(other.read_bytes())
    (archive.with_name(archive.name + ".sig")).write_text(
        other.with_name("other.bin.sig").read_text())
    with pytest.raises(verify.VerifyError, match="CHECKSUM MISMATCH"):
        verify.verify_release(pub, [archive, sums])


def test_wrong_key_missing_or_garbled_signature(tmp_path: Path,
                                                release: tuple[Path, Path, Path]) -> None:
    pub, archive, sums = release
    other_key, other_pub = tmp_path / "k2.pem", tmp_path / "p2.pem"
    sign.keygen(other_key, other_pub)
    with pytest.raises(verify.VerifyError, match="BAD SIGNATURE"):
        verify.verify_release(other_pub, [archive])
    sig = archive.with_name(archive.name + ".sig")
    sig.write_text("ed25519 not-base64!!\n")
    with pytest.raises(verify.VerifyError, match="unreadable signature"):
        verify.verify_release(pub, [archive])
    sig.unlink()
    with pytest.raises(verify.VerifyError, match="no signature"):
        verify.verify_release(pub, [archive])
    bad_pub = tmp_path / "bad.pem"
    bad_pub.write_text("not a key")
    with pytest.raises(verify.VerifyError, match="cannot load the public key"):
        verify.verify_release(bad_pub, [archive])


def test_encrypted_key_needs_its_passphrase(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sign.PASSPHRASE_ENV, "correct horse")
    key, pub = tmp_path / "key.pem", tmp_path / "pub.pem"
    sign.keygen(key, pub)
    assert b"ENCRYPTED" in key.read_bytes()
    monkeypatch.setenv(sign.PASSPHRASE_ENV, "wrong")
    with pytest.raises(SystemExit, match="cannot load the private key"):
        sign.load_private_key(key)
    with pytest.raises(SystemExit, match="refusing to overwrite"):
        sign.keygen(key, pub)

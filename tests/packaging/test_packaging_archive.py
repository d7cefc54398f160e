"""The release archive is reproducible: same folder content → same bytes."""

from __future__ import annotations

import gzip
import os
import tarfile
import time
from pathlib import Path

import pytest

from tests.packaging.loader import load

archive = load("reproducible_archive")
build = load("build")


def _tree(root: Path) -> Path:
    (root / "lib" / "sub").mkdir(parents=True)
    (root / "smart-support").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "smart-support").chmod(0o755)
    (root / "lib" / "b.txt").write_text("bee")
    (root / "lib" / "a.txt").write_text("ay")
    (root / "lib" / "sub" / "z.bin").write_bytes(os.urandom(0) + b"\x00\x01" * 500)
    os.symlink("a.txt", root / "lib" / "link")
    return root


def test_two_archives_of_one_folder_are_identical(tmp_path: Path) -> None:
    src = _tree(tmp_path / "bundle")
    first = archive.deterministic_tar_gz(src, tmp_path / "one.tar.gz", mtime=1_700_000_000)
    # Same content, different moment, different mtimes and permissions on disk.
    time.sleep(1.1)
    for f in src.rglob("*"):
        if not f.is_symlink():
            os.utime(f, (time.time(), time.time()))
    (src / "lib" / "a.txt").chmod(0o600)
    second = archive.deterministic_tar_gz(src, tmp_path / "two.tar.gz", mtime=1_700_000_000)
    assert first.read_bytes() == second.read_bytes()


def test_a_changed_file_changes_the_archive(tmp_path: Path) -> None:
    src = _tree(tmp_path / "bundle")
    first = archive.deterministic_tar_gz(src, tmp_path / "one.tar.gz", mtime=0).read_bytes()
    (src / "lib" / "a.txt").write_text("AY")
    assert archive.deterministic_tar_gz(src, tmp_path / "two.tar.gz", mtime=0).read_bytes() \
        != first


def test_entries_are_sorted_rootowned_and_stamped(tmp_path: Path) -> None:
    src = _tree(tmp_path / "bundle")
    out = archive.deterministic_tar_gz(src, tmp_path / "a.tar.gz", mtime=1_234_567_890)
    with gzip.open(out) as gz:
        assert gz.read(1)  # a valid gzip stream
    raw = out.read_bytes()
    assert raw[4:8] == (1_234_567_890).to_bytes(4, "little")  # gzip header mtime
    with tarfile.open(out) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == ["bundle", "bundle/lib", "bundle/lib/a.txt", "bundle/lib/b.txt",
                     "bundle/lib/link", "bundle/lib/sub", "bundle/lib/sub/z.bin",
                     "bundle/smart-support"]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == \
        {(0, 0, "", "", 1_234_567_890)}
    assert not any(m.pax_headers for m in members)
    modes = {m.name: m.mode for m in members}
    assert modes["bundle/smart-support"] == 0o755 and modes["bundle/lib/a.txt"] == 0o644
    assert b"PaxHeader" not in gzip.decompress(raw)


def test_source_date_epoch_is_validated() -> None:
    assert archive.source_date_epoch({"SOURCE_DATE_EPOCH": "1700000000"}) == 1_700_000_000
    assert archive.source_date_epoch({}) == archive.DEFAULT_EPOCH
    with pytest.raises(ValueError, match="whole seconds"):
        archive.source_date_epoch({"SOURCE_DATE_EPOCH": "yesterday"})


def test_not_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a folder"):
        archive.deterministic_tar_gz(tmp_path / "missing", tmp_path / "x.tar.gz")


def test_build_info_and_sums(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    info = build.build_info(build.build_epoch())
    assert info["build_time"] == "2023-11-14T22:13:20Z"
    assert info["version"] and isinstance(info["dirty"], bool) and len(str(info["commit"])) == 40
    f = tmp_path / "x.tar.gz"
    f.write_bytes(b"abc")
    sums = build.write_sums([f], tmp_path / "SHA256SUMS").read_text()
    assert sums == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                    "  x.tar.gz\n")

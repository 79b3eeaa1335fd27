"""Hashing: content hashes, directory hashes and the stat memo."""

from __future__ import annotations

import os
from pathlib import Path

import blake3

from consist.identity import hashing
from consist.identity.hashing import Hasher
from tests.helpers.files import age, settled


def test_file_hash_is_blake3_of_content(tmp_path: Path):
    """A file's hash is the blake3 digest of its bytes."""
    path = tmp_path / "a.bin"
    path.write_bytes(b"hello" * 1000)
    assert Hasher(None).hash_file(path) == blake3.blake3(b"hello" * 1000).hexdigest()


def test_large_file_hash_matches_plain_blake3(tmp_path: Path):
    """Files hashed through memory mapping give the same digest as a plain read."""
    data = os.urandom(5 * 1024 * 1024)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert Hasher(None).hash_file(path) == blake3.blake3(data).hexdigest()


def test_directory_hash_depends_on_names_and_content(tmp_path: Path):
    """A directory's hash changes when a file's content or name changes, not when it is moved whole."""
    a = tmp_path / "a"
    (a / "sub").mkdir(parents=True)
    (a / "x.txt").write_text("1")
    (a / "sub" / "y.txt").write_text("2")
    h = Hasher(None)
    first = h.hash_path(a)
    moved = tmp_path / "moved"
    a.rename(moved)
    assert h.hash_path(moved) == first
    (moved / "sub" / "y.txt").write_text("3")
    assert h.hash_path(moved) != first


def test_unchanged_file_is_not_reread(tmp_path: Path, monkeypatch):
    """A repeat hash of an unchanged (settled) file is served from the memo without reading it."""
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    settled(path, monkeypatch)
    reads = []
    real = hashing.hash_file_uncached
    monkeypatch.setattr(hashing, "hash_file_uncached", lambda p, s=None: reads.append(p) or real(p, s))
    h = Hasher(tmp_path / "memo")
    first = h.hash_file(path)
    assert h.hash_file(path) == first
    assert Hasher(tmp_path / "memo").hash_file(path) == first  # a new process: the on-disk memo
    assert len(reads) == 1


def test_changed_file_is_rehashed(tmp_path: Path):
    """Changing a file's content changes its hash even with the memo on."""
    path = tmp_path / "data.csv"
    path.write_text("a\n1\n")
    age(path, 20)
    h = Hasher(tmp_path / "memo")
    first = h.hash_file(path)
    path.write_text("a\n2\n")
    age(path, 5)
    assert h.hash_file(path) != first


def test_strict_mode_always_reads(tmp_path: Path, monkeypatch):
    """With strict hashing every call reads the bytes."""
    path = tmp_path / "data.csv"
    path.write_text("a\n1\n")
    age(path)
    reads = []
    real = hashing.hash_file_uncached
    monkeypatch.setattr(hashing, "hash_file_uncached", lambda p, s=None: reads.append(p) or real(p, s))
    h = Hasher(None, strict=True)
    h.hash_file(path)
    h.hash_file(path)
    assert len(reads) == 2

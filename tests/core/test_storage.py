from __future__ import annotations

import os
from pathlib import Path

import pytest

from trafficlake.errors import StorageError
from trafficlake.storage import Lake


def test_put_list_read_delete(tmp_path: Path) -> None:
    lake = Lake.from_url(str(tmp_path / "lake"))
    lake.put_atomic("raw/year=2026/month=11/day=21/hour=7/a.parquet", b"abc")
    lake.put_atomic("raw/year=2026/month=11/day=21/hour=8/b.parquet", b"defg")
    keys = [(e.key, e.size) for e in lake.list("raw")]
    assert keys == [
        ("raw/year=2026/month=11/day=21/hour=7/a.parquet", 3),
        ("raw/year=2026/month=11/day=21/hour=8/b.parquet", 4),
    ]
    assert lake.list_dirs("raw/year=2026/month=11/day=21") == [
        "raw/year=2026/month=11/day=21/hour=7",
        "raw/year=2026/month=11/day=21/hour=8",
    ]
    assert lake.read_bytes("raw/year=2026/month=11/day=21/hour=8/b.parquet") == b"defg"
    assert lake.uri("raw/x") == str(tmp_path / "lake" / "raw" / "x")
    assert lake.key_of(lake.uri("raw/x")) == "raw/x"
    lake.delete("raw/year=2026/month=11/day=21/hour=7/a.parquet")
    assert not lake.exists("raw/year=2026/month=11/day=21/hour=7/a.parquet")
    assert lake.list("nothing-here") == []


def test_failed_atomic_write_leaves_nothing(tmp_path: Path) -> None:
    lake = Lake.from_url(str(tmp_path / "lake"))
    with pytest.raises(RuntimeError), lake.open_atomic("raw/x.parquet") as out:
        out.write(b"partial")
        raise RuntimeError("crash mid-write")
    assert not lake.exists("raw/x.parquet")
    assert os.listdir(tmp_path / "lake" / "raw") == []


def test_temporary_and_hidden_files_are_not_listed(tmp_path: Path) -> None:
    lake = Lake.from_url(str(tmp_path / "lake"))
    (tmp_path / "lake" / "raw").mkdir()
    (tmp_path / "lake" / "raw" / ".x.tmp").write_bytes(b"1")
    (tmp_path / "lake" / "raw" / "_SUCCESS").write_bytes(b"")
    lake.put_atomic("raw/real.parquet", b"1")
    assert [e.key for e in lake.list("raw")] == ["raw/real.parquet"]


def test_keys_cannot_escape_the_lake(tmp_path: Path) -> None:
    lake = Lake.from_url(str(tmp_path / "lake"))
    with pytest.raises(StorageError, match="escapes"):
        lake.put_atomic("../outside", b"x")
    with pytest.raises(StorageError, match="not inside the lake"):
        lake.key_of("/etc/passwd")


def test_unsupported_url_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="unsupported lake URL"):
        Lake.from_url("gs://bucket/lake")


def test_lake_path_that_is_a_file_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "lakefile").write_text("not a folder")
    with pytest.raises(StorageError, match="exists and is not a folder"):
        Lake.from_url(str(tmp_path / "lakefile"))
    with pytest.raises(StorageError, match="cannot create lake folder"):
        Lake.from_url(str(tmp_path / "lakefile" / "lake"))


def test_delete_named_removes_hidden_and_plain_files_by_name_start(tmp_path: Path) -> None:
    lake = Lake.from_url(str(tmp_path / "lake"))
    for key in ("t/k=1/_q1_ab-0.parquet", "t/k=2/_q1_ab-1.parquet", "t/k=2/_q2_cd-0.parquet",
                "t/k=3/q1_ab-0.parquet", "other/_q1_ab-0.parquet"):  # fmt: skip
        lake.put_atomic(key, b"x")
    assert lake.delete_named("t/", "_q1_ab-") == 2  # hidden files the listing never shows
    root = tmp_path / "lake"
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))
    assert left == ["other/_q1_ab-0.parquet", "t/k=2/_q2_cd-0.parquet", "t/k=3/q1_ab-0.parquet"]
    assert lake.delete_named("nowhere/", "_q") == 0


def test_a_local_lake_lists_as_pyarrows_local_filesystem_does(tmp_path: Path) -> None:
    """A local lake lists with ``os`` (no pyarrow import): the files, sizes and times pyarrow's
    LocalFileSystem gives, symbolic links followed, broken ones and hidden files left out."""
    import pyarrow.fs as pafs

    lake = Lake.from_url(str(tmp_path / "lake"))
    for key in ("a/x.parquet", "a/b/y.parquet", "a/.hidden.tmp", "a/_SUCCESS", "c/z.json"):
        lake.put_atomic(key, key.encode())
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "w.parquet").write_bytes(b"w")
    (tmp_path / "lake" / "a" / "linked").symlink_to(tmp_path / "outside")
    (tmp_path / "lake" / "a" / "broken").symlink_to(tmp_path / "nothing")
    fs = pafs.LocalFileSystem()
    cases = [("", True), ("a", True), ("a/", False), ("missing/", True), ("a/x.parquet/", True)]
    for prefix, recursive in cases:
        selector = pafs.FileSelector(lake.path(prefix), recursive=recursive, allow_not_found=True)
        expected = sorted(
            (lake.key_of(i.path), i.size, i.mtime_ns)
            for i in fs.get_file_info(selector)
            if i.type == pafs.FileType.File and not i.base_name.startswith((".", "_"))
        )
        listed = [(e.key, e.size, e.mtime_ns) for e in lake.list(prefix, recursive=recursive)]
        assert listed == expected, prefix
    assert [e.key for e in lake.list("a/", recursive=False)] == ["a/x.parquet"]
    assert "a/linked/w.parquet" in [e.key for e in lake.list("a")]
    assert lake.delete_named("a", ".hidden") == 1 and not lake.exists("a/.hidden.tmp")
    with pytest.raises(NotADirectoryError):  # a file named as the folder
        lake.list("a/x.parquet")
    assert lake.list("a/x.parquet/") == lake.list("a/x.parquet/y") == []  # as pyarrow says

"""A catalog that cannot be opened is a one-line CatalogError, never a traceback or a password."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from cli_runner import CliResult, run_cli
from trafficlake.catalog import CatalogError, open_catalog


def _tl(cwd: Path, *args: str) -> CliResult:
    return run_cli(*args, cwd=cwd)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def _assert_one_line_error(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    for text in expected:
        assert text in lines[0], lines[0]


def test_catalog_file_that_is_not_sqlite(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    (tmp_path / "catalog.db").write_bytes(b"not a database at all " * 10)
    with pytest.raises(CatalogError, match="file is not a database"):
        open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    _assert_one_line_error(_tl(tmp_path, "catalog", "tables"), "file is not a database")


def test_unreachable_postgres_hides_the_password(tmp_path: Path) -> None:
    url = f"postgresql://bob:s3cretpw@127.0.0.1:{_closed_port()}/traffic"
    with pytest.raises(CatalogError) as info:
        open_catalog(url)
    assert "s3cretpw" not in str(info.value) and "\n" not in str(info.value)
    (tmp_path / "trafficlake.toml").write_text(f'[catalog]\nurl = "{url}"\n')
    done = _tl(tmp_path, "catalog", "tables")
    _assert_one_line_error(done, "cannot open catalog postgresql://bob:***@127.0.0.1")
    assert "s3cretpw" not in done.stderr + done.stdout


def test_unsupported_catalog_url_hides_the_password(tmp_path: Path) -> None:
    (tmp_path / "trafficlake.toml").write_text('[catalog]\nurl = "mysql://bob:s3cretpw@h/db"\n')
    done = _tl(tmp_path, "catalog", "tables")
    _assert_one_line_error(done, "unsupported catalog URL")
    assert "s3cretpw" not in done.stderr + done.stdout

from __future__ import annotations

from pathlib import Path

from cli_runner import CliResult, run_cli


def trafficlake(*args: str, cwd: Path) -> CliResult:
    return run_cli(*args, cwd=cwd)


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    done = trafficlake("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "trafficlake.toml").read_text().startswith("# trafficlake configuration")
    again = trafficlake("init", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0
    assert "already exists" in again.stderr


def test_bad_config_gives_one_line_reason_and_nonzero_exit(tmp_path: Path) -> None:
    (tmp_path / "trafficlake.toml").write_text("[lake]\nulr = 'x'\n")
    done = trafficlake("init", "other.toml", "--config", "trafficlake.toml", cwd=tmp_path)
    # init does not need the config; a command that loads it must fail with the key named.
    assert done.returncode == 0
    bad = trafficlake("catalog", "tables", cwd=tmp_path)
    assert bad.returncode != 0
    assert "unknown key 'lake.ulr'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_help_lists_the_command_groups(tmp_path: Path) -> None:
    done = trafficlake("--help", cwd=tmp_path)
    assert done.returncode == 0
    for group in (
        "init",
        "ingest",
        "firehose",
        "crawler",
        "catalog",
        "transform",
        "workflow",
        "query",
    ):
        assert group in done.stdout, group


def test_lake_path_that_is_a_file_gives_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "lakefile").write_text("not a folder")
    (tmp_path / "t.toml").write_text('[lake]\nurl = "lakefile"\n')
    done = trafficlake("crawler", "start", "raw", "--wait", "-c", "t.toml", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        == f"error: lake path {tmp_path / 'lakefile'} exists and is not a folder"
    )


def test_os_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        done = trafficlake("firehose", "serve", "--port", port, cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == "error: Address already in use", done.stderr


def test_a_query_with_no_statement_is_one_line(tmp_path: Path) -> None:
    for sql in ("", " ; ", "/* only a comment */"):
        done = trafficlake("query", sql, cwd=tmp_path)
        assert done.returncode == 1, done
        assert done.stderr.strip() == (
            "error: no SQL statement to run (only blanks, ';' or comments)"
        ), done.stderr

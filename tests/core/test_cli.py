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


DEFERRED = ("sqlglot", "pydantic", "sqlalchemy.orm", "boto3", "pyspark", "polars")
"""Libraries a ``trafficlake query`` without a WHERE does not import (start-up time)."""


def _imported(cwd: Path, args: list[str], libraries: tuple[str, ...]) -> tuple[str, list[str]]:
    """What ``trafficlake ARGS`` printed in a new process, and which of ``libraries`` it
    imported."""
    import ast
    import os
    import subprocess
    import sys

    probe = (
        "import atexit, sys\n"
        f"atexit.register(lambda: print([m for m in {libraries!r} if m in sys.modules],"
        " file=sys.stderr))\n"
        "from trafficlake.cli import main\n"
        f"main({args!r})\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, env=env
    )
    return done.stdout, ast.literal_eval(done.stderr.strip().splitlines()[-1])


def test_a_plain_query_does_not_import_what_it_does_not_use(tmp_path: Path) -> None:
    data = tmp_path / "lake" / "raw" / "year=2026"
    data.mkdir(parents=True)
    made = trafficlake(
        "query", f"COPY (SELECT 7 AS x) TO '{data / 'a.parquet'}'", "--write", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    assert trafficlake("crawler", "start", "raw", "--wait", cwd=tmp_path).returncode == 0
    query = ["query", "SELECT sum(x) FROM traffic.raw", "--format", "csv", "--limit", "5"]
    assert _imported(tmp_path, query, DEFERRED) == ("sum(x)\n7\n", [])
    printed, imported = _imported(tmp_path, ["catalog", "tables"], (*DEFERRED, "duckdb", "pyarrow"))
    assert "traffic" in printed and "raw" in printed
    assert imported == []


def test_a_query_runs_without_the_cyclic_collector(tmp_path: Path) -> None:
    """``trafficlake query`` pauses Python's cyclic garbage collector (its collections would
    walk every object the imports of SQLAlchemy, pyarrow and DuckDB make); in a process of its
    own it stays off to the end, in process it is switched back on."""
    import gc
    import os
    import subprocess
    import sys

    data = tmp_path / "lake" / "raw" / "year=2026"
    data.mkdir(parents=True)
    made = trafficlake(
        "query", f"COPY (SELECT 7 AS x) TO '{data / 'a.parquet'}'", "--write", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    assert gc.isenabled()  # in process: back on
    assert trafficlake("crawler", "start", "raw", "--wait", cwd=tmp_path).returncode == 0
    probe = (  # collections that start once the query has imported SQLAlchemy (the catalog)
        "import atexit, gc, sys\n"
        "from trafficlake.cli import program\n"
        "seen = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and 'sqlalchemy' in sys.modules"
        " and seen.append(info['generation']))\n"
        "atexit.register(lambda: print(len(seen), gc.isenabled(), file=sys.stderr))\n"
        "sys.argv = ['trafficlake', 'query', 'SELECT sum(x) FROM traffic.raw', '-f', 'csv']\n"
        "program()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert done.stdout == "sum(x)\n7\n", done.stderr
    assert done.stderr.strip().splitlines()[-1] == "0 False"


def test_option_values_are_checked_with_typers_messages(tmp_path: Path) -> None:
    def said(result: CliResult) -> str:  # the words in typer's error box
        return " ".join("".join(" " if c in "│╭╮╰╯─" else c for c in result.stderr).split())

    bad = trafficlake("query", "SELECT 1", "--limit", "x1", cwd=tmp_path)
    assert bad.returncode == 2
    assert "'--limit' / '-n': Input should be a valid integer" in said(bad)
    low = trafficlake("query", "SELECT 1", "--limit", "-1", cwd=tmp_path)
    assert low.returncode == 2
    assert "'--limit' / '-n': Input should be greater than or equal to 0" in said(low)
    (tmp_path / "q.sql").write_text("SELECT 40 + 2 AS answer")
    good = trafficlake("query", "--file", "q.sql", "-f", "csv", "-n", "+1", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert good.stdout == "answer\n42\n"


def test_the_program_keeps_output_and_exit_codes(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}

    def program(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trafficlake.cli", *args],
            cwd=tmp_path, capture_output=True, text=True, env=env,
        )  # fmt: skip

    ok = program("query", "SELECT 42 AS x", "-f", "csv", "-o", "out.csv")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "out.csv").read_text() == "x\n42\n"  # written whole at exit
    bad = program("query", "SELEC 1")
    assert bad.returncode == 1 and bad.stderr.startswith("error: invalid SQL"), bad.stderr
    assert program("query", "--limit", "x", "SELECT 1").returncode == 2

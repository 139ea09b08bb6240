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
    # a local lake's plain result: neither pyarrow nor numpy (~0.07 s of start-up)
    arrowless = (*DEFERRED, "pyarrow", "numpy")
    for args in (["-f", "json"], ["-n", "0"], []):
        printed, imported = _imported(
            tmp_path, ["query", "SELECT * FROM traffic.raw", *args], arrowless
        )
        assert "7" in printed and imported == []
    printed, imported = _imported(tmp_path, ["query", "SELECT INTERVAL 1 DAY AS i"], ("pyarrow",))
    assert "MonthDayNano" in printed and imported == ["pyarrow"]  # a type Arrow gives
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


def test_query_prints_each_kind_of_value_as_it_always_has(tmp_path: Path) -> None:
    """Values DuckDB gives Python otherwise than Arrow (HUGEINT, INTERVAL, MAP, UUID,
    TIMESTAMPTZ) and the ones it gives alike (DECIMAL, NULL, BLOB, nested LIST/STRUCT), in
    every format; printed as Arrow's values have always printed."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}
    env.update(TZ="UTC", COLUMNS="200")

    def printed(sql: str, fmt: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "trafficlake.cli", "query", sql, "-f", fmt],
            cwd=tmp_path, capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    other = (
        "SELECT 1::HUGEINT AS h, INTERVAL 3 DAY AS i, MAP {'a': 1} AS m, "
        "'12345678-1234-5678-1234-567812345678'::UUID AS u, TIMESTAMPTZ '2026-01-02 03:04:05+00' AS tz"
    )
    alike = (
        "SELECT 1.50::DECIMAL(10,2) AS d, NULL AS n, '\\x00\\xFFab'::BLOB AS b, "
        "[{'x': [1, NULL], 'y': {'z': 'q'}}] AS nested, {'k': 1.5} AS s"
    )
    assert printed(other, "csv") == (
        "h,i,m,u,tz\n"
        '1,"MonthDayNano(months=0, days=3, nanoseconds=0)","[(\'a\', 1)]",'
        "12345678-1234-5678-1234-567812345678,2026-01-02 03:04:05+00:00\n"
    )
    assert printed(other, "json") == (
        '[\n  {\n    "h": "1",\n    "i": [\n      0,\n      3,\n      0\n    ],\n'
        '    "m": [\n      [\n        "a",\n        1\n      ]\n    ],\n'
        '    "u": "12345678-1234-5678-1234-567812345678",\n'
        '    "tz": "2026-01-02 03:04:05+00:00"\n  }\n]\n'
    )
    assert printed(other, "table").splitlines()[3:5] == [
        "│ 1 │ MonthDayNano(months=0, days=3, nanoseconds=0) │ [('a', 1)] │ "
        "12345678-1234-5678-1234-567812345678 │ 2026-01-02 03:04:05+00:00 │",
        "└───┴───────────────────────────────────────────────┴────────────┴─"
        "─────────────────────────────────────┴───────────────────────────┘",
    ]
    assert printed(alike, "csv") == (
        "d,n,b,nested,s\n"
        "1.50,,b'\\x00\\xffab',\"[{'x': [1, None], 'y': {'z': 'q'}}]\",{'k': Decimal('1.5')}\n"
    )
    assert printed(alike, "json") == (
        '[\n  {\n    "d": "1.50",\n    "n": null,\n    "b": "b\'\\\\x00\\\\xffab\'",\n'
        '    "nested": [\n      {\n        "x": [\n          1,\n          null\n        ],\n'
        '        "y": {\n          "z": "q"\n        }\n      }\n    ],\n'
        '    "s": {\n      "k": "1.5"\n    }\n  }\n]\n'
    )
    assert printed(alike, "table").splitlines()[3] == (
        "│ 1.50 │ NULL │ b'\\x00\\xffab' │ [{'x': [1, None], 'y': {'z': 'q'}}] │ "
        "{'k': Decimal('1.5')} │"
    )


def test_a_running_query_ends_on_ctrl_c_or_sigterm_with_one_line(tmp_path: Path) -> None:
    """DuckDB answers Ctrl-C during a statement with a RuntimeError; the command says
    "interrupted" and exits 130, as every command does, without a traceback."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}
    endless = "SELECT count(*) FROM range(1000000000000) WHERE hash(range) % 7 = 0"
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc = subprocess.Popen(
            [sys.executable, "-m", "trafficlake.cli", "query", endless],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        _wait_for_duckdb_threads(proc.pid)
        time.sleep(1)  # inside the statement
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert (proc.returncode, err) == (130, "interrupted\n"), sig


def _wait_for_duckdb_threads(pid: int) -> None:
    """Until the process has more than one thread: DuckDB starts its worker threads when the
    connection opens, after every import (which a slow machine may take seconds over)."""
    import time
    from pathlib import Path

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        threads = next(line for line in status.splitlines() if line.startswith("Threads:"))
        if int(threads.split()[1]) > 1:
            return
        time.sleep(0.05)
    raise AssertionError("the query never started DuckDB's threads")

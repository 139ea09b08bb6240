"""``trafficlake query --dialect athena``: Athena SQL from the command line, read-only unless
--write, SQL from --file, one-line Athena errors; DuckDB stays the default dialect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trafficlake.config import Settings


def test_query_dialect_athena(cli: Any, tmp_path: Path, settings: Settings) -> None:
    r = cli("query", "--dialect", "athena", "-f", "csv", "SELECT 7 / 2 AS x, -7 / 2 AS y")
    assert (r.returncode, r.stdout) == (0, "x,y\n3,-3\n")
    r = cli("query", "-f", "csv", "SELECT 7 / 2 AS x")  # DuckDB's SQL stays the default
    assert r.stdout == "x\n3.5\n"
    r = cli("query", "--dialect", "athena", "CREATE DATABASE anpr")
    assert r.returncode == 1 and "allow writes with --write" in r.stderr
    assert cli("query", "--dialect", "athena", "--write", "CREATE DATABASE anpr").returncode == 0
    sql = tmp_path / "q.sql"
    sql.write_text("SHOW DATABASES\n")
    r = cli("query", "--dialect", "athena", "--file", str(sql), "-f", "csv")
    assert r.returncode == 0 and "anpr" in r.stdout.splitlines()
    r = cli("query", "--dialect", "athena", "SELECT * FROM nope")
    assert r.returncode == 1
    assert (
        "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.traffic.nope' does not exist" in r.stderr
    )
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("query", "--dialect", "athena", "--write", "-f", "csv",
            "CREATE TABLE anpr.t WITH (partitioned_by = ARRAY['k']) AS SELECT 1 AS v, 2 AS k")  # fmt: skip
    assert (r.returncode, r.stdout) == (0, "rows\n1\n")
    r = cli("query", "--dialect", "athena", "-f", "csv", "SELECT v, k FROM anpr.t")
    assert r.stdout == "v,k\n1,2\n"
    r = cli("query", "--dialect", "nope", "SELECT 1")
    assert r.returncode == 1 and "unknown dialect" in r.stderr


def test_unparseable_sql_is_a_syntax_error_not_a_refused_write(
    cli: Any, settings: Settings
) -> None:
    expecting = "Expecting: 'ALTER', 'CREATE', 'DELETE', 'DESCRIBE', 'DROP', 'EXPLAIN', 'INSERT'"
    r = cli("query", "--dialect", "athena", "SELEC")
    assert r.returncode == 1
    assert r.stderr.startswith(
        "error: SYNTAX_ERROR: line 1:1: mismatched input 'SELEC'. " + expecting
    )
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("query", "--dialect", "athena", "\n  foo bar")
    assert "SYNTAX_ERROR: line 2:3: mismatched input 'foo'" in r.stderr
    r = cli("query", "--dialect", "athena", "SELEC 1")
    assert r.returncode == 1 and "SYNTAX_ERROR: line 1:7: mismatched input '1'" in r.stderr
    r = cli("query", "--dialect", "athena", "INSERT INTO anpr.t VALUES (")
    assert r.returncode == 1 and "SYNTAX_ERROR: line 1:" in r.stderr
    r = cli("query", "--dialect", "athena", "")
    assert (r.returncode, r.stderr) == (1, "error: INVALID_REQUEST: Query is empty\n")
    r = cli("query", "--dialect", "athena", "DELETE FROM anpr.t")  # parses: a refused write
    assert (
        r.returncode == 1 and "DELETE statements are not allowed in a read-only query" in r.stderr
    )
    r = cli("query", "--dialect", "athena", "--write", "SELEC")  # the same error with --write
    assert "SYNTAX_ERROR: line 1:1: mismatched input 'SELEC'" in r.stderr

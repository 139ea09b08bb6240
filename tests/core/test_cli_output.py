"""CLI output that is safe at any size: capped tables, whole key columns, readable times,
plain help, read-only commands that create nothing, DuckDB's hints kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli_runner import run_cli
from trafficlake.catalog.crawler import run_crawler
from trafficlake.config import Settings
from trafficlake.storage import Lake


def test_help_has_no_type_placeholders(tmp_path: Path) -> None:
    for args in (["--help"], ["query", "--help"], ["ingest", "simulate", "--help"],
                 ["catalog", "partitions", "--help"], ["transform", "--help"],
                 ["roads", "derive", "--help"], ["aws", "serve", "--help"]):  # fmt: skip
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        for noise in ("<bool>", "<int>", "<str>", "<path>", "list[", "{sql}", "{table}"):
            assert noise not in done.stdout, (args, noise)
    usage = run_cli("query", "--help", cwd=tmp_path).stdout
    assert "Usage: trafficlake query [OPTIONS] [SQL]" in usage
    assert "--limit" in usage


def test_a_command_runs_in_an_app_of_its_own_with_the_same_help_and_errors(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from trafficlake.cli import app, app_for

    assert app_for(["--utc", "query", "SELECT 1"]).registered_commands[0].name == "query"
    assert [g.name for g in app_for(["crawler", "list"]).registered_groups] == ["crawler"]
    assert app_for(["--help"]) is app and app_for(["qurey"]) is app
    for args in (["query", "--help"], ["crawler", "start", "--help"], ["serve", "-h"],
                 ["ingest", "--help"], ["query", "--limit", "x"], ["crawler", "strat"],
                 ["--help"], ["qurey"]):  # fmt: skip
        whole = CliRunner().invoke(app, args, prog_name="trafficlake")
        alone = run_cli(*args, cwd=tmp_path)
        assert (alone.returncode, alone.stdout + alone.stderr) == (
            whole.exit_code,
            whole.stdout + whole.stderr,
        ), args


def test_help_prose_is_not_broken_where_the_source_breaks_its_lines() -> None:
    import typer

    from trafficlake.cli import app
    from trafficlake.cli.common import reflowed

    def commands(group: Any) -> list[Any]:
        out: list[Any] = []
        for cmd in group.commands.values():
            out.extend([cmd, *commands(cmd)] if hasattr(cmd, "commands") else [cmd])
        return out

    every = commands(typer.main.get_group(app))
    assert len(every) > 35  # every command and group
    for cmd in every:
        for paragraph in (cmd.help or "").split("\n\n"):
            assert "\n" not in paragraph, (cmd.name, paragraph)
    assert (
        reflowed("""One sentence
        over two lines.

        - a list
        - kept

        Last.""")
        == "One sentence over two lines.\n\n- a list\n- kept\n\nLast."
    )


def test_query_table_is_capped_and_says_how_many_more(tmp_path: Path) -> None:
    done = run_cli("query", "SELECT range AS n FROM range(1000)", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "… 960 more rows (use -f csv / --limit)" in done.stdout
    assert "│ 39 " in done.stdout and "│ 40 " not in done.stdout
    limited = run_cli("query", "SELECT range AS n FROM range(1000)", "-n", "5", cwd=tmp_path)
    assert "… 995 more rows" in limited.stdout
    everything = run_cli("query", "SELECT range AS n FROM range(1000)", "-f", "csv", cwd=tmp_path)
    assert everything.stdout.splitlines() == ["n", *map(str, range(1000))]
    empty = run_cli("query", "SELECT 1 WHERE false", cwd=tmp_path)
    assert empty.returncode == 0 and empty.stdout.startswith("0 rows")


def test_read_only_commands_create_no_lake_or_catalog(tmp_path: Path) -> None:
    for args in (["query", "SELECT 42 AS answer"], ["catalog", "tables"], ["crawler", "list"],
                 ["crawler", "runs", "raw"], ["query", "SHOW TABLES"],
                 ["transform", "--explain"], ["schedule", "list"]):  # fmt: skip
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert "no tables yet" in run_cli("catalog", "tables", cwd=tmp_path).stdout
    assert "has not run yet" in run_cli("crawler", "runs", "raw", cwd=tmp_path).stdout


def test_key_columns_are_never_cut_and_times_are_readable(
    settings: Settings, tmp_path: Path, raw_writer: Any
) -> None:
    lake = Lake.from_settings(settings)
    for h in (6, 7, 8):
        raw_writer.write_hour(lake, 2026, 11, 21, h)
    run = run_crawler(settings, "raw")
    # stdout is not a terminal here (80 columns): the key columns still come out whole
    runs = run_cli("crawler", "runs", "raw", cwd=tmp_path).stdout
    assert run.id in runs
    parts = run_cli("catalog", "partitions", "traffic.raw", "--utc", cwd=tmp_path)
    assert parts.returncode != 0  # --utc is an option of the program, not of a command
    parts = run_cli("--utc", "catalog", "partitions", "traffic.raw", cwd=tmp_path).stdout
    for h in (6, 7, 8):
        assert f"raw/year=2026/month=11/day=21/hour={h}/" in parts
    first_event = raw_writer.hour_start(2026, 11, 21, 6)
    assert str(first_event) not in parts and "2026-11-21" in parts  # a date, not an epoch
    tables = run_cli("catalog", "tables", cwd=tmp_path).stdout
    assert "traffic.raw" in tables
    capped = run_cli("catalog", "partitions", "traffic.raw", "--limit", "1", cwd=tmp_path)
    assert "… 2 more rows" in capped.stdout
    as_json = json.loads(run_cli("catalog", "tables", "--json", cwd=tmp_path).stdout)
    assert [t["name"] for t in as_json] == ["raw"]


def test_query_errors_keep_duckdbs_hint_and_show_tables_lists_the_catalog(
    settings: Settings, tmp_path: Path, raw_writer: Any
) -> None:
    raw_writer.write_hour(Lake.from_settings(settings), 2026, 11, 21, 6)
    run_crawler(settings, "raw")
    bad = run_cli("query", "SELECT count(*) FROM traffic.rwa", cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "error: query failed: Catalog Error: Table with name rwa does not exist! "
        'Did you mean "raw"?'
    ]
    shown = run_cli("query", "SHOW TABLES", "-f", "csv", cwd=tmp_path)
    assert shown.stdout.splitlines() == ["name", "raw"]
    unqualified = run_cli("query", "SELECT count(*) AS n FROM raw", "-f", "csv", cwd=tmp_path)
    assert unqualified.stdout.splitlines()[1] == str(3 * 2 * 1)  # 3 lanes x 2 minutes


def test_invalid_days_say_what_is_wrong(tmp_path: Path) -> None:
    bad = run_cli("transform", "--from", "2026-11-31", cwd=tmp_path)
    assert bad.returncode == 2 and "'2026-11-31' is not a date: day is out of range" in bad.stderr
    assert "does not match" not in bad.stderr
    odd = run_cli("transform", "--to", "2026-1-3", cwd=tmp_path)
    assert "'2026-1-3' is not a day: use YYYY-MM-DD" in odd.stderr


@pytest.mark.slow
def test_transform_runs_and_the_workflow_final_line_say_what_was_transformed(
    settings: Settings, tmp_path: Path, raw_writer: Any
) -> None:
    assert "no transform runs yet" in run_cli("transform", "runs", cwd=tmp_path).stdout
    lake = Lake.from_settings(settings)
    for h in (6, 7):
        raw_writer.write_hour(lake, 2026, 11, 21, h)
    env = {"TRAFFICLAKE_WORKFLOW__WAIT_SCALE": "0.01"}
    done = run_cli("workflow", "run", "batch", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    final = done.stdout.strip().splitlines()[-1]
    # 3 lanes of one measuring site x 2 minutes x 2 hours: 4 road-section minutes
    assert final == "transformed: 1 day(s) (2026-11-21), 4 rows in 1 transform run(s)"
    again = run_cli("workflow", "run", "batch", cwd=tmp_path, env=env).stdout
    assert (
        again.strip()
        .splitlines()[-1]
        .startswith(
            "transformed: 0 day(s), 0 rows in 1 transform run(s) - nothing new since the last run"
        )
    )
    runs = run_cli("transform", "runs", cwd=tmp_path).stdout
    assert "2026-11-21" in runs and runs.count("SUCCEEDED") == 2
    listed = json.loads(run_cli("transform", "runs", "--json", "-n", "1", cwd=tmp_path).stdout)
    assert len(listed) == 1 and listed[0]["result"]["days"] == []
    quiet = run_cli("transform", cwd=tmp_path).stdout
    assert "why 0 rows: nothing new since the last run" in quiet
    asked = run_cli("transform", "--from", "2026-11-01", "--to", "2026-11-02", cwd=tmp_path).stdout
    assert "why 0 rows: no raw data in the read set of the days asked for" in asked, asked
    assert "nothing new since" not in asked  # an explicit range does not use the bookmark
    executions = run_cli("workflow", "executions", "-n", "1", cwd=tmp_path).stdout
    assert "batch:" in executions and "… older executions not shown" in executions
    [first] = json.loads(
        run_cli("workflow", "executions", "--json", "-n", "1", cwd=tmp_path).stdout
    )
    history = run_cli("workflow", "history", first["id"], "-n", "3", cwd=tmp_path).stdout
    assert "earlier events (use --limit 0 or --json)" in history
    assert len(history.strip().splitlines()) == 2 + 3  # the execution, the "…" line, 3 events


def test_workflow_listings_in_an_empty_folder_create_nothing(tmp_path: Path) -> None:
    for args in (["workflow", "executions"], ["transform", "runs"]):
        assert run_cli(*args, cwd=tmp_path).returncode == 0
    missing = run_cli("workflow", "history", "batch:nope", cwd=tmp_path)
    assert missing.returncode == 1 and "no catalog here yet" in missing.stderr
    assert list(tmp_path.iterdir()) == []

"""The catalog, crawler and query commands, run as the real ``trafficlake`` program."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from cli_runner import CliResult, run_cli
from trafficlake.config import Settings
from trafficlake.storage import Lake


def _tl(cwd: Path, *args: str) -> CliResult:
    return run_cli(*args, cwd=cwd)


@pytest.mark.slow
def test_crawl_browse_and_query_from_the_command_line(
    settings: Settings, tmp_path: Path, raw_writer: Any
) -> None:
    lake = Lake.from_settings(settings)
    for h in (6, 7):
        raw_writer.write_hour(lake, 2026, 11, 21, h)

    started = _tl(tmp_path, "crawler", "start", "raw", "--json")
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["id"]
    deadline = time.time() + 60
    while True:
        status = json.loads(_tl(tmp_path, "crawler", "status", "raw", "--json").stdout)
        if status["state"] == "READY" or time.time() > deadline:
            break
        time.sleep(0.2)
    assert status["last_crawl"]["id"] == run_id and status["last_crawl"]["status"] == "SUCCEEDED"

    waited = _tl(tmp_path, "crawler", "start", "raw", "--wait")
    assert waited.returncode == 0 and "SUCCEEDED" in waited.stdout
    # the summary is one line even at 80 columns (piped): not wrapped before "-0"
    assert waited.stdout.splitlines()[0].endswith("partitions +0 ~0 -0"), waited.stdout
    runs = json.loads(_tl(tmp_path, "crawler", "runs", "raw", "--json").stdout)
    assert [r["status"] for r in runs] == ["SUCCEEDED", "SUCCEEDED"] and runs[1]["id"] == run_id

    tables = json.loads(_tl(tmp_path, "catalog", "tables", "--json").stdout)
    assert [(t["database"], t["name"]) for t in tables] == [("traffic", "raw")]
    parts = json.loads(
        _tl(tmp_path, "catalog", "partitions", "traffic.raw", "--json", "--limit", "1").stdout
    )
    assert [p["values"] for p in parts] == [["2026", "11", "21", "7"]]
    names = {c["name"] for c in json.loads(_tl(tmp_path, "crawler", "list", "--json").stdout)}
    assert names == {"raw", "transformed"}

    q = _tl(
        tmp_path,
        "query",
        "SELECT hour, count(*) AS n FROM traffic.raw GROUP BY 1 ORDER BY 1",
        "-f",
        "csv",
    )
    assert q.returncode == 0 and q.stdout == "hour,n\n6,6\n7,6\n"
    out = tmp_path / "out.json"
    q = _tl(
        tmp_path,
        "query",
        "SELECT count(*) AS n FROM traffic.raw WHERE hour = 7",
        "-f",
        "json",
        "-o",
        str(out),
    )
    assert q.returncode == 0 and json.loads(out.read_text()) == [{"n": 6}]


def test_crawler_create_and_update(settings: Settings, tmp_path: Path) -> None:
    made = _tl(
        tmp_path,
        "crawler",
        "create",
        "errors",
        "-t",
        "errors/",
        "--delete-behavior",
        "delete",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["targets"] == ["errors/"]
    changed = _tl(
        tmp_path, "crawler", "update", "raw", "--recrawl-policy", "new_folders_only", "--json"
    )
    got = json.loads(changed.stdout)
    assert (got["recrawl_policy"], got["schema_change_policy"]) == ("new_folders_only", "update")
    bad = _tl(tmp_path, "crawler", "update", "raw", "--delete-behavior", "shred")
    assert bad.returncode == 1 and "delete_behavior must be one of" in bad.stderr


def test_errors_are_one_line(settings: Settings, tmp_path: Path) -> None:
    for args, reason in [
        (("query", "DELETE FROM traffic.raw"), "not allowed in a read-only query"),
        (("catalog", "partitions", "raw"), "must be DATABASE.TABLE"),
        (("catalog", "partitions", "traffic.nope"), "table traffic.nope not found"),
        (("crawler", "status", "nope"), "crawler nope not found"),
        (("query", "SELEC 1"), "invalid SQL"),
    ]:
        res = _tl(tmp_path, *args)
        assert res.returncode == 1, (args, res.stdout, res.stderr)
        assert reason in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr

"""`trafficlake transform` end to end in a subprocess, on a lake built in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

from transform_lakes import T0, LakeHarness, day_of, lane_rows

from cli_runner import CliResult, run_cli


def trafficlake(*args: str, cwd: Path) -> CliResult:
    return run_cli(*args, cwd=cwd)


def test_transform_command(tlake: LakeHarness, tmp_path: Path) -> None:
    noon = T0 + 12 * 3600
    tlake.land_and_crawl(lane_rows([(1, 10), (2, 10)], range(noon, noon + 600, 60)))
    day = day_of(noon).isoformat()
    done = trafficlake("transform", "--from", day, "--to", day, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["state"] == "SUCCEEDED" and run["result"]["rows_written"] == 10
    assert run["result"]["days"] == [day]
    text = trafficlake("transform", cwd=tmp_path)  # incremental, first run: the same day
    assert text.returncode == 0, text.stderr
    assert "1 day(s)" in text.stdout and "10 rows" in text.stdout
    assert len(tlake.rows()) == 10


def test_bad_range_is_a_one_line_error(tmp_path: Path) -> None:
    done = trafficlake("transform", "--from", "2026-11-02", "--to", "2026-11-01", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "before" in done.stderr
    bad = trafficlake("transform", "--engine", "presto", cwd=tmp_path)
    assert bad.returncode == 1 and "unknown transform engine" in bad.stderr

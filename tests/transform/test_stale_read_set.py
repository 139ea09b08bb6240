"""Stale republished rows cannot widen a backfill's read set; --explain says why."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
from transform_lakes import DAY, T0, LakeHarness, day_of, lane_rows
from typer.testing import CliRunner

from trafficlake.cli import app
from trafficlake.config import load_settings
from trafficlake.storage import Lake
from trafficlake.transform.plan import plan_transform

LANES = [(1, 10), (2, 10)]
D1, D2, D3 = T0, T0 + DAY, T0 + 2 * DAY
STALE_MINUTE = D1 + 12 * 3600  # republished, stale, in every later hour


def _no_probe(keys: object) -> tuple[set[int], set[int]]:
    raise AssertionError("explicit days need no probe")


def stale_lake(h: LakeHarness) -> dict[int, list[str]]:
    """Three days of hourly current rows; from D2 on every hour's file also republishes the
    D1 noon minute as stale. Returns the files per day of arrival."""
    files: dict[int, list[str]] = {}
    for day in (D1, D2, D3):
        for hour in range(0, 24, 6):
            t = day + hour * 3600
            rows = lane_rows(LANES, range(t, t + 600, 60))
            if day != D1:
                late = t + 600 - STALE_MINUTE  # arrives with this hour's documents
                stale = lane_rows(LANES, [STALE_MINUTE], arrival_delay_s=late, actueel_publicatie=0)
                rows = pa.concat_tables([rows, stale])
            files.setdefault(day, []).extend(h.land(rows))
    h.crawl()
    return files


def test_a_backfill_reads_only_the_files_holding_its_day(
    tlake: LakeHarness, tmp_path: Path
) -> None:
    files = stale_lake(tlake)
    with tlake.catalog() as cat:
        plan = plan_transform(cat, _no_probe, start_day=day_of(D1), end_day=day_of(D1))
    assert plan.chunks[0].input_keys == sorted(files[D1])  # none of D2's or D3's files
    # the same rows as a plan that reads every file (no statistics to prune on)
    run = tlake.transform(start_day=day_of(D1), end_day=day_of(D1))
    oracle_settings = load_settings(
        None,
        overrides={
            "lake": {"url": str(tmp_path / "lake")},
            "catalog": {"url": f"sqlite:///{tmp_path / 'oracle.db'}", "stats_columns": []},
        },
    )
    oracle = LakeHarness(oracle_settings, Lake.from_settings(oracle_settings))
    oracle.crawl()
    oracle.transform(start_day=day_of(D1), end_day=day_of(D1))
    assert run.result["rows_written"] > 0 and tlake.rows() == oracle.rows()


def test_a_day_held_only_in_stale_copies_is_read_from_them(tlake: LakeHarness) -> None:
    old = D1 - 40 * DAY
    stale = lane_rows(LANES, [old], arrival_delay_s=D1 + 2 * 3600 - old, actueel_publicatie=0)
    stale_keys = tlake.land(stale)  # alone in its arrival hour
    tlake.land(lane_rows(LANES, range(D1 + 3600, D1 + 3900, 60)))
    tlake.crawl()
    with tlake.catalog() as cat:
        plan = plan_transform(cat, _no_probe, start_day=day_of(old), end_day=day_of(old))
    assert [c.input_keys for c in plan.chunks] == [stale_keys]


def test_explain_prints_the_read_set_and_why(tlake: LakeHarness) -> None:
    stale_lake(tlake)
    day = day_of(D1).isoformat()
    args = ["transform", "--explain", "--from", day, "--to", day]
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0, text.output
    assert f"{day}: reads 4 file(s) of 4 partition(s), leaves out 8;" in text.output
    assert (
        "  skip raw/year=" in text.output and "outside; stale rows 2025-11-21T12:00" in text.output
    )
    assert "  read raw/year=2025/month=11/day=21/hour=0/ (1 file(s)): current rows " in text.output
    out = CliRunner().invoke(app, [*args, "--json"])
    [chunk] = json.loads(out.output)["chunks"]
    assert chunk["files"] == 4 and sum(not p["read"] for p in chunk["partitions"]) == 8
    with tlake.catalog() as cat:  # only a plan: nothing ran, nothing was written
        assert cat.list_job_runs("transform") == []

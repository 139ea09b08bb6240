"""Bookmarks, affected days, idempotence and the crash-safe commit (docs/architecture.md)."""

from __future__ import annotations

import socket
import time
from datetime import date, timedelta

import pyarrow as pa
import pytest
from transform_lakes import DAY, T0, LakeHarness, day_of, lane_rows

from trafficlake.catalog import JobRun
from trafficlake.transform import TransformRunningError, commit, start_transform
from trafficlake.transform.plan import InvalidRangeError, requested_days

SECTION = [(1, 10), (2, 10), (3, 11)]
D1, D2, D3 = T0, T0 + DAY, T0 + 2 * DAY


def three_days(tlake: LakeHarness) -> None:
    """Mid-day data on three consecutive days (no midnight spill)."""
    for d in (D1, D2, D3):
        tlake.land(lane_rows(SECTION, range(d + 6 * 3600, d + 8 * 3600, 60)))
    tlake.crawl()


def lake_files(tlake: LakeHarness) -> set[str]:
    return {e.key for e in tlake.lake.list("transformed/") if "/_staging/" not in e.key}


def catalog_files(tlake: LakeHarness) -> set[str]:
    with tlake.catalog() as cat:
        return {f.key for p in cat.list_partitions("traffic", "transformed") for f in p.files}


def test_incremental_runs_follow_the_bookmark(tlake_any: LakeHarness) -> None:
    tlake = tlake_any
    three_days(tlake)
    first = tlake.transform()
    assert first.result["days"] == [day_of(d).isoformat() for d in (D1, D2, D3)]
    assert first.result["rows_written"] == 3 * 120 * 2
    assert tlake.transform().result["days"] == []
    # late data for D1 (arriving two days later, in a new arrival-hour partition)
    late = lane_rows(
        [(4, 11)], range(D1 + 7 * 3600, D1 + 7 * 3600 + 600, 60), arrival_delay_s=2 * DAY + 5 * 3600
    )
    tlake.land_and_crawl(late)
    run = tlake.transform()
    assert run.result["days"] == [day_of(D1).isoformat()]
    rows = tlake.rows(f"recordTimestamp = {D1 + 7 * 3600}")
    assert {r["laneCount"] for r in rows} == {2}
    with tlake.catalog() as cat:
        assert cat.get_bookmark("transform")["version"] == cat.current_version() - len(
            cat.list_partitions("traffic", "transformed", where={"day": day_of(D1).day})
        )


def test_a_partition_spanning_months_rebuilds_only_its_days(tlake: LakeHarness) -> None:
    three_days(tlake)
    tlake.transform()
    # one raw file holding a stale republish from 40 days ago and fresh rows of D3
    old = D1 - 40 * DAY + 12 * 3600
    stale = lane_rows([(1, 10)], [old], arrival_delay_s=D3 + 9 * 3600 - old)
    fresh = lane_rows([(1, 10)], [D3 + 8 * 3600 + 60], arrival_delay_s=60)
    tlake.land_and_crawl(pa.concat_tables([stale, fresh]))
    run = tlake.transform()
    assert run.result["days"] == [day_of(old).isoformat(), day_of(D3).isoformat()]


def test_stale_republishes_do_not_trigger_old_days(tlake: LakeHarness) -> None:
    three_days(tlake)
    tlake.transform()
    old = D1 - 40 * DAY + 12 * 3600
    stale = lane_rows([(1, 10)], [old], arrival_delay_s=D3 + 9 * 3600 - old, actueel_publicatie=0)
    fresh = lane_rows([(1, 10)], [D3 + 8 * 3600 + 60], arrival_delay_s=60)
    tlake.land_and_crawl(pa.concat_tables([stale, fresh]))
    assert tlake.transform().result["days"] == [day_of(D3).isoformat()]
    # an explicit run of that old day uses the stale row
    tlake.transform(start_day=day_of(old), end_day=day_of(old))
    assert [r["recordTimestamp"] for r in tlake.rows(f"recordTimestamp < {D1}")] == [old]


def test_midnight_rows_also_rebuild_the_next_day(tlake: LakeHarness) -> None:
    tlake.land_and_crawl(lane_rows(SECTION, range(D2 - 600, D2 + 600, 60)))
    assert tlake.transform().result["days"] == [day_of(D1).isoformat(), day_of(D2).isoformat()]


def test_look_back_alone_does_not_create_a_day(tlake: LakeHarness) -> None:
    tlake.land_and_crawl(lane_rows(SECTION, range(D2 - 1200, D2, 60)))  # 23:40..23:59 of D1
    assert tlake.transform().result["days"] == [day_of(D1).isoformat()]


@pytest.mark.slow
def test_rerun_is_idempotent_and_replaces_files(tlake: LakeHarness) -> None:
    three_days(tlake)
    tlake.transform(start_day=day_of(D1), end_day=day_of(D3))
    before = tlake.rows()
    files_before = catalog_files(tlake)
    again = tlake.transform(start_day=day_of(D1), end_day=day_of(D3))
    assert tlake.rows() == before
    after = catalog_files(tlake)
    assert after.isdisjoint(files_before)  # new files, named by the new run
    assert all(f"/{again.id}-" in k for k in after)
    assert lake_files(tlake) == after  # the replaced files are gone
    assert again.result["partitions_replaced"] == len({k.rsplit("/", 1)[0] for k in after})


def test_crash_between_stage_and_commit(
    tlake_any: LakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    tlake = tlake_any
    three_days(tlake)
    tlake.transform()
    before = tlake.rows()
    committed = catalog_files(tlake)
    # new data for D2 so the next run has something to publish, then kill it at the commit
    tlake.land_and_crawl(lane_rows([(4, 11)], range(D2 + 7 * 3600, D2 + 7 * 3600 + 600, 60)))

    def crash(*args: object, **kwargs: object) -> int:
        raise OSError("power cut")

    monkeypatch.setattr(commit, "commit_catalog", crash)
    from trafficlake.transform import run_transform

    failed = run_transform(tlake.settings)
    assert failed.state == "FAILED" and "power cut" in (failed.error or "")
    assert tlake.rows() == before  # readers still see the old data
    assert catalog_files(tlake) == committed
    assert lake_files(tlake) - committed  # the moved but uncommitted files exist
    assert tlake.lake.list_dirs("transformed/_staging/")
    monkeypatch.undo()
    run = tlake.transform()  # bookmark not advanced: the same day again
    assert run.result["days"] == [day_of(D2).isoformat()]
    assert not tlake.lake.list_dirs("transformed/_staging/")
    assert lake_files(tlake) == catalog_files(tlake)
    assert {r["laneCount"] for r in tlake.rows(f"recordTimestamp = {D2 + 7 * 3600}")} == {2}


def test_crash_after_commit_before_cleanup(
    tlake: LakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_days(tlake)
    tlake.transform()
    real_commit = commit.commit_catalog

    def commit_then_die(*args: object, **kwargs: object) -> int:
        real_commit(*args, **kwargs)  # type: ignore[arg-type]
        raise OSError("killed right after the commit")

    monkeypatch.setattr(commit, "commit_catalog", commit_then_die)
    from trafficlake.transform import run_transform

    # the commit landed: the run is SUCCEEDED, with the later failure noted
    run = run_transform(tlake.settings, start_day=day_of(D1), end_day=day_of(D1))
    assert run.state == "SUCCEEDED" and run.error is None
    assert run.result["note"] == (
        "committed; a later step failed: OSError: killed right after the commit"
    )
    monkeypatch.undo()
    new = catalog_files(tlake)
    leftovers = lake_files(tlake) - new
    assert leftovers  # the replaced files of D1 are still there
    assert tlake.rows()  # readers see the new files
    tlake.transform(start_day=day_of(D3), end_day=day_of(D3))  # the next run cleans them up
    assert lake_files(tlake) == catalog_files(tlake)
    assert not tlake.lake.list_dirs("transformed/_staging/")


def test_bookmark_reset(tlake: LakeHarness) -> None:
    three_days(tlake)
    tlake.transform()
    assert tlake.transform().result["days"] == []
    run = tlake.transform(reset_bookmark=True)
    assert len(run.result["days"]) == 3


def test_explicit_ranges_and_empty_days(tlake: LakeHarness) -> None:
    three_days(tlake)
    run = tlake.transform(start_day=day_of(D1) - timedelta(days=1), end_day=day_of(D2))
    assert run.result["days"] == [day_of(D1).isoformat(), day_of(D2).isoformat()]
    assert any(
        "skipped" in n and str(day_of(D1) - timedelta(days=1)) in n for n in run.result["notes"]
    )
    with tlake.catalog() as cat:
        assert cat.get_bookmark("transform") is None  # explicit runs leave it alone


def test_requested_days() -> None:
    today = date(2026, 11, 21)
    assert requested_days(
        start_day=date(2026, 11, 1), end_day=date(2026, 11, 2), since=None, today=today
    ) == [date(2026, 11, 1), date(2026, 11, 2)]
    since = requested_days(start_day=None, end_day=None, since=date(2026, 11, 18), today=today)
    assert since == [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    assert requested_days(start_day=None, end_day=None, since=today, today=today) == []
    assert requested_days(start_day=None, end_day=None, since=None, today=today) is None
    with pytest.raises(InvalidRangeError):
        requested_days(start_day=date(2026, 11, 2), end_day=date(2026, 11, 1), since=None)
    with pytest.raises(InvalidRangeError):
        requested_days(start_day=None, end_day=date(2026, 11, 1), since=None)


def test_chunks_of_several_days_in_parallel(tlake: LakeHarness) -> None:
    three_days(tlake)
    tlake.transform()
    one_by_one = tlake.rows()
    tlake.configure(chunk_days=2, parallelism=2)
    run = tlake.transform(reset_bookmark=True)
    assert run.result["chunks"] == 2
    assert tlake.rows() == one_by_one


def test_background_run_and_dead_owner(tlake_any: LakeHarness) -> None:
    tlake = tlake_any
    three_days(tlake)
    with tlake.catalog() as cat:
        dead = cat.create_job_run(
            JobRun(
                id="dead-run",
                job="transform",
                owner=f"{socket.gethostname()}:999999999",
                started_at=time.time(),
            )
        )
    run = start_transform(tlake.settings)
    assert run.state == "RUNNING"
    with tlake.catalog() as cat:
        assert cat.get_job_run(dead.id).state == "FAILED"
        deadline = time.time() + 60
        while cat.get_job_run(run.id).state == "RUNNING" and time.time() < deadline:
            time.sleep(0.05)
        done = cat.get_job_run(run.id)
    assert done.state == "SUCCEEDED"
    assert len(done.result["days"]) == 3 and done.result["rows_written"] > 0
    finished = start_transform(tlake.settings, wait=True)
    assert finished.state == "SUCCEEDED" and finished.result["days"] == []


def test_a_live_run_blocks_another(tlake: LakeHarness) -> None:
    with tlake.catalog() as cat:
        cat.create_job_run(
            JobRun(id="other", job="transform", owner="elsewhere:1", started_at=time.time())
        )
    with pytest.raises(TransformRunningError):
        start_transform(tlake.settings)


def test_unknown_and_missing_engines(tlake: LakeHarness) -> None:
    from trafficlake.transform.engine import UnknownEngineError

    with pytest.raises(UnknownEngineError):
        start_transform(tlake.settings, engine="presto")

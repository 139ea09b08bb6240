"""The read set comes from the raw partitions' recorded event-time ranges; without them
(``[catalog] stats_columns`` leaving ``tijd_waarneming`` out) every day reads every partition,
and the plan says so instead of silently reading more."""

from __future__ import annotations

from transform_lakes import DAY, T0, LakeHarness, day_of, lane_rows

from trafficlake.config import load_settings
from trafficlake.storage import Lake
from trafficlake.transform.plan import plan_transform


def _no_probe(keys: object) -> tuple[set[int], set[int]]:
    raise AssertionError("explicit days need no exact-days probe")


def _two_days(stats_columns: list[str], catalog_url: str) -> LakeHarness:
    s = load_settings(
        None, overrides={"catalog": {"url": catalog_url, "stats_columns": stats_columns}}
    )
    h = LakeHarness(s, Lake.from_settings(s))
    h.land(lane_rows([(1, 1)], range(T0, T0 + 600, 60)))
    h.land(lane_rows([(1, 1)], range(T0 + 2 * DAY, T0 + 2 * DAY + 600, 60)))
    h.crawl()
    return h


def test_with_event_time_stats_each_day_reads_its_own_files(
    settings: object, tmp_path: object
) -> None:
    h = _two_days(["tijd_waarneming"], f"sqlite:///{tmp_path}/c.db")
    with h.catalog() as cat:
        plan = plan_transform(cat, _no_probe, start_day=day_of(T0), end_day=day_of(T0))
    assert len(plan.chunks[0].input_keys) == 1
    assert not [n for n in plan.notes if "statistics" in n]


def test_without_them_the_plan_warns(settings: object, tmp_path: object) -> None:
    h = _two_days([], f"sqlite:///{tmp_path}/c.db")
    with h.catalog() as cat:
        plan = plan_transform(cat, _no_probe, start_day=day_of(T0), end_day=day_of(T0))
    assert len(plan.chunks[0].input_keys) == 2  # the other day's file too: nothing to prune on
    run = h.transform(start_day=day_of(T0), end_day=day_of(T0))  # the run reports the note
    assert run.state == "SUCCEEDED", run.error
    [note] = [n for n in run.result["notes"] if "statistics" in n]
    assert "2 partition(s) of traffic.raw have no tijd_waarneming statistics" in note
    assert "[catalog] stats_columns" in note

"""A daily run after one new day rewrites that day, and of the day before only the hour its
late last minutes (arriving after midnight) fall in - the output as a full rebuild's."""

from __future__ import annotations

from transform_lakes import DAY, T0, LakeHarness, day_of, lane_rows

LANES = [(1, 10), (2, 10), (3, 11)]
D1, D2 = T0, T0 + DAY


def test_a_daily_run_rewrites_one_day_and_the_hour_before_midnight(tlake: LakeHarness) -> None:
    # the feed publishes a minute 114 s after it starts: 23:58 and 23:59 arrive after midnight
    tlake.land_and_crawl(lane_rows(LANES, range(D1, D1 + DAY, 60)))
    first = tlake.transform()
    assert first.result["days"] == [day_of(D1).isoformat()]
    tlake.land_and_crawl(lane_rows(LANES, range(D2, D2 + DAY, 60)))
    daily = tlake.transform()
    assert daily.result["days"] == [day_of(D1).isoformat(), day_of(D2).isoformat()]
    assert f"{day_of(D1)} rebuilt from 23:00 UTC on" in " ".join(daily.result["notes"])
    day_rows = len(tlake.rows(f"recordTimestamp >= {D2} AND recordTimestamp < {D2 + DAY}"))
    assert daily.result["rows_written"] <= 1.05 * day_rows
    incremental = tlake.rows()
    full = tlake.transform(start_day=day_of(D1), end_day=day_of(D2))  # rebuild both whole
    assert full.result["rows_written"] > 1.9 * day_rows
    assert tlake.rows() == incremental


def test_a_late_row_early_in_the_day_rebuilds_the_whole_day(tlake: LakeHarness) -> None:
    tlake.land_and_crawl(lane_rows(LANES, range(D1, D1 + DAY, 60)))
    tlake.transform()
    late = lane_rows([(4, 11)], [D1 + 3600], arrival_delay_s=DAY)  # 01:00, a day late
    tlake.land_and_crawl(late)
    run = tlake.transform()
    assert run.result["days"] == [day_of(D1).isoformat()]
    assert not [n for n in run.result["notes"] if "rebuilt from" in n]

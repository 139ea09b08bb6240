"""The fixes over the seed (docs/architecture.md, "The transform"), each on a small hand-made lake, through the real
catalog, crawler and DuckDB."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from transform_lakes import DAY, T0, LakeHarness, day_of, lane_rows

from trafficlake.transform.sql import render_traffic_sql

NOON = T0 + 12 * 3600
SECTION = [(1, 10), (2, 10)]


def by_time(rows: list[dict]) -> dict[int, dict]:
    return {r["recordTimestamp"]: r for r in rows}


def test_duplicates_and_stale_republish_are_counted_once(tlake: LakeHarness) -> None:
    minutes = range(NOON - 1800, NOON + 1800, 60)
    fresh = lane_rows(SECTION, minutes, speed=lambda uid, t: 90)
    # at-least-once delivery: the same records again, an hour later (another raw partition)
    again = lane_rows(SECTION, minutes, speed=lambda uid, t: 90, arrival_delay_s=3700)
    # a stale republish of NOON with an OLDER tijd_laatst_gewijzigd and other values
    stale = lane_rows(
        SECTION,
        [NOON],
        speed=lambda uid, t: 10,
        counts=(9, 9, 9, 9),
        modified_delay_s=10,
        arrival_delay_s=7300,
    )
    for table in (fresh, again, stale):
        tlake.land(table)
    tlake.crawl()
    tlake.transform(start_day=day_of(NOON), end_day=day_of(NOON))
    rows = by_time(tlake.rows())
    assert len(rows) == 60
    noon = rows[NOON]
    assert noon["laneCount"] == 2
    assert (noon["trafficIntensityClass2"], noon["trafficIntensityClass3"]) == (6, 4)
    assert noon["vehicleCount"] == 12 and noon["bezettingsgraad"] == 6
    assert noon["currentSpeed"] == 90.0


def test_a_later_modification_wins(tlake: LakeHarness) -> None:
    minutes = range(NOON - 600, NOON + 600, 60)
    tlake.land(lane_rows(SECTION, minutes, speed=lambda uid, t: 90))
    # a correction of NOON: later tijd_laatst_gewijzigd, arriving later
    tlake.land(
        lane_rows(
            SECTION, [NOON], speed=lambda uid, t: 30, modified_delay_s=500, arrival_delay_s=600
        )
    )
    tlake.crawl()
    tlake.transform(start_day=day_of(NOON), end_day=day_of(NOON))
    assert by_time(tlake.rows())[NOON]["currentSpeed"] == 30.0


def test_a_missing_minute_does_not_stretch_windows(tlake: LakeHarness) -> None:
    gap = NOON
    minutes = [t for t in range(NOON - 3600, NOON + 3600, 60) if t != gap]
    tlake.land_and_crawl(lane_rows(SECTION, minutes, speed=lambda uid, t: (t - NOON) // 60 + 100))
    tlake.transform(start_day=day_of(NOON), end_day=day_of(NOON))
    rows = by_time(tlake.rows())
    assert gap not in rows
    after = rows[gap + 60]
    assert after["previousSpeed"] is None
    assert after["speedDiffIndicator"] == 0
    # [t-120, t] holds t-120 (speed 99) and t (101) only - not t-180 as ROWS would
    assert after["avgSpeed3Minutes"] == pytest.approx((99 + 101) / 2)
    # [t-1140, t]: minutes -18..+1 except 0 -> 19 values
    expected = [100 + m for m in range(-18, 2) if m != 0]
    assert after["avgSpeed20Minutes"] == pytest.approx(sum(expected) / len(expected))
    assert rows[gap + 120]["previousSpeed"] == 101.0


def test_day_boundary_uses_the_previous_day(tlake: LakeHarness) -> None:
    minutes = range(T0 - 3600, T0 + 3600, 60)
    tlake.land_and_crawl(lane_rows(SECTION, minutes, speed=lambda uid, t: 60 if t < T0 else 120))
    tlake.transform(start_day=day_of(T0), end_day=day_of(T0))
    rows = by_time(tlake.rows())
    assert min(rows) == T0  # nothing of the previous day is written
    first = rows[T0]
    assert first["previousSpeed"] == 60.0
    assert first["speedDiffIndicator"] == 1
    assert first["avgSpeed3Minutes"] == pytest.approx((60 + 60 + 120) / 3)
    assert first["avgSpeed20Minutes"] == pytest.approx((19 * 60 + 120) / 20)
    assert rows[T0 + 1140]["avgSpeed20Minutes"] == 120.0
    assert (first["year"], first["month"], first["day"], first["hour"]) == (2025, 11, 21, 0)


def test_a_lane_dropping_out_does_not_split_the_windows(tlake: LakeHarness) -> None:
    minutes = range(NOON - 1800, NOON + 1800, 60)
    both = lane_rows(SECTION, minutes, speed=lambda uid, t: 80)
    out = set(range(NOON, NOON + 300, 60))
    keep = [
        not (u == 2 and t in out)
        for u, t in zip(
            both["unieke_id"].to_pylist(), both["tijd_waarneming"].to_pylist(), strict=True
        )
    ]
    tlake.land_and_crawl(both.filter(pa.array(keep)))
    tlake.transform(start_day=day_of(NOON), end_day=day_of(NOON))
    rows = by_time(tlake.rows())
    assert rows[NOON]["uniqueId"] == 1 and rows[NOON]["laneCount"] == 1
    assert rows[NOON - 60]["uniqueId"] == 2
    # the windows run on across the change of uniqueId
    assert rows[NOON]["previousSpeed"] == 80.0
    assert rows[NOON + 300]["previousSpeed"] == 80.0
    assert rows[NOON + 60]["avgSpeed20Minutes"] == 80.0
    assert len({r["lve_nr"] for r in rows.values()}) == 1


def test_location_filter(tlake: LakeHarness) -> None:
    tlake.land_and_crawl(lane_rows([*SECTION, (3, 11)], range(NOON, NOON + 600, 60)))
    tlake.configure(locations=[1, 3])
    tlake.transform(start_day=day_of(NOON), end_day=day_of(NOON))
    rows = tlake.rows()
    assert {(r["uniqueId"], r["lve_nr"], r["laneCount"]) for r in rows} == {(1, 10, 1), (3, 11, 1)}


@pytest.mark.parametrize(("threshold", "expected"), [(40.0, 0), (50.0, 1)])
def test_jam_threshold_is_a_setting(tlake: LakeHarness, threshold: float, expected: int) -> None:
    tlake.land_and_crawl(lane_rows(SECTION, range(NOON, NOON + 1800, 60), speed=lambda u, t: 45))
    tlake.configure(jam_threshold_kmh=threshold)
    tlake.transform(start_day=day_of(NOON), end_day=day_of(NOON))
    rows = tlake.rows()
    assert {r["trafficJamIndicator"] for r in rows} == {expected}
    assert {r["trafficJamIndicatorLong"] for r in rows} == {expected}


def test_the_seed_gap_between_40_and_41_is_closed(tlake: LakeHarness) -> None:
    tlake.land_and_crawl(lane_rows(SECTION, range(NOON, NOON + 600, 60), speed=lambda u, t: 40))
    tlake.transform(start_day=day_of(NOON), end_day=day_of(NOON))
    assert {r["trafficJamIndicator"] for r in tlake.rows()} == {1}


def _indicators(speeds: dict[int, float]) -> dict[int, tuple[int, int, int]]:
    """Run the rendered SQL over a one-lane raw table whose speeds are doubles."""
    table = lane_rows([(1, 10)], sorted(speeds), counts=(1, 0, 0, 0))
    table = table.set_column(
        table.schema.get_field_index("voertuigsnelheid_rekenkundig_klasse2"),
        "voertuigsnelheid_rekenkundig_klasse2",
        pa.array([speeds[t] for t in table["tijd_waarneming"].to_pylist()], pa.float64()),
    )
    con = duckdb.connect()
    con.register("raw_input", table)
    sql = render_traffic_sql(start=T0, end=T0 + DAY, jam_threshold=40.0)
    return {
        t: (j, jl, d)
        for t, j, jl, d in con.execute(
            f"SELECT recordTimestamp, trafficJamIndicator, trafficJamIndicatorLong, "
            f"speedDiffIndicator FROM ({sql})"
        ).fetchall()
    }


def test_thresholds_allow_1e9_slack() -> None:
    t = NOON
    near40 = _indicators({t: 40 + 5e-10})
    assert near40[t][:2] == (1, 1)
    assert _indicators({t: 40 + 5e-9})[t][:2] == (0, 0)
    assert _indicators({t: 40 - 5e-10})[t][:2] == (1, 1)
    up = _indicators({t - 60: 50.0, t: 70 - 5e-10})
    assert up[t][2] == 1
    down = _indicators({t - 60: 70.0, t: 50 + 5e-10})
    assert down[t][2] == -1
    assert _indicators({t - 60: 70.0, t: 50 + 5e-9})[t][2] == 0


def test_missing_values_of_a_class_that_does_not_count_are_ignored(tlake: LakeHarness) -> None:
    """Class 5 has no vehicles and its fields are absent (null): the lane speed and vehicle
    count come from the other classes instead of turning NULL."""
    minutes = range(NOON - 300, NOON + 300, 60)
    tlake.land_and_crawl(
        lane_rows(
            SECTION,
            minutes,
            speed=lambda uid, t: 80,
            verkeersintensiteit_klasse5=None,
            voertuigsnelheid_rekenkundig_klasse5=None,
            voertuigsnelheid_harmonisch_klasse5=None,
        )
    )
    tlake.transform(start_day=day_of(NOON), end_day=day_of(NOON))
    noon = by_time(tlake.rows())[NOON]
    assert noon["currentSpeed"] == 80.0
    assert noon["vehicleCount"] == 12 and noon["bezettingsgraad"] == 6
    assert noon["trafficIntensityClass5"] is None  # no lane reported class 5 at all
    assert noon["trafficJamIndicator"] == 0


def test_harmonic_speed_is_the_flow_weighted_harmonic_mean(tlake: LakeHarness) -> None:
    from fractions import Fraction

    lanes = [(1, 10), (2, 10), (3, 10)]
    speeds = {1: 97, 2: 61, 3: 113}
    tlake.land_and_crawl(
        lane_rows(lanes, range(NOON - 120, NOON + 120, 60), speed=lambda uid, t: speeds[uid])
    )
    tlake.transform(start_day=day_of(NOON), end_day=day_of(NOON))
    counts = (3, 2, 1)  # classes 2..4 count, class 5 has none
    n = sum(counts) * len(lanes)
    t = sum(Fraction(c, speeds[uid]) for uid in speeds for c in counts)
    assert by_time(tlake.rows())[NOON]["harmonicSpeed"] == pytest.approx(float(n / t), abs=1e-9)

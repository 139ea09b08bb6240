"""Detector health per lane and day, on lanes with planted faults."""

from __future__ import annotations

import pyarrow as pa
from planted import FIRST
from transform_lakes import LakeHarness, lane_rows

from trafficlake.query import run_query
from trafficlake.roads.derive import derive

MINUTES = 120


def _rows(uid: int, minutes: range, **overrides: object) -> pa.Table:
    return lane_rows([(uid, uid // 10)], [FIRST + 60 * m for m in minutes], **overrides)


def test_health_counts_each_fault(tlake: LakeHarness) -> None:
    varying = lambda uid, t: 90 + (t // 60) % 7  # noqa: E731
    all_minutes = range(MINUTES)
    parts = [
        _rows(10, all_minutes, speed=varying),  # healthy
        _rows(20, range(60), speed=varying),  # observed half the time
        _rows(30, all_minutes, speed=varying),  # defect for 30 minutes (below)
        _rows(40, all_minutes, speed=lambda uid, t: 88),  # stuck: one reading all along
        _rows(50, range(90), speed=varying),  # fresh for 90 min, then stale republishes
        _rows(50, range(90, MINUTES), speed=varying, actueel_publicatie=0),
    ]
    defect = _rows(30, range(30), speed=varying, defect=1)
    parts[2] = pa.concat_tables([defect, _rows(30, range(30, MINUTES), speed=varying)])
    missing = {f"voertuigsnelheid_harmonisch_klasse{k}": 254 for k in range(1, 6)}
    parts.append(_rows(60, range(MINUTES), speed=varying, **missing))  # no data from the loop
    # a lane that only republishes a minute of two days ago, in every document of the first hour
    old = FIRST - 2 * 86400
    parts.append(_rows(70, range(60), speed=varying, actueel_publicatie=0, tijd_waarneming=old))
    tlake.land_and_crawl(pa.concat_tables(parts))
    tlake.transform()
    assert derive(tlake.settings).state == "SUCCEEDED"
    rows = run_query(
        tlake.settings, "SELECT * FROM traffic.detector_health ORDER BY unieke_id"
    ).table.to_pylist()
    by_id = {r["unieke_id"]: r for r in rows}
    assert set(by_id) == {10, 20, 30, 40, 50, 60, 70}
    assert all(r["minutes_expected"] == MINUTES for r in rows)
    h = by_id[10]
    assert (h["minutes_observed"], h["minutes_valid"], h["stuck_minutes"], h["trusted"]) == (
        120, 120, 0, True,
    )  # fmt: skip
    assert by_id[20]["pct_observed"] == 0.5 and not by_id[20]["trusted"]
    assert by_id[30]["minutes_defect"] == 30 and by_id[30]["minutes_valid"] == 90
    assert by_id[40]["stuck_minutes"] == 120 and not by_id[40]["trusted"]
    assert by_id[50]["minutes_stale"] == 30 and by_id[50]["minutes_observed"] == 90
    assert by_id[60]["minutes_unavailable"] == 120 and by_id[60]["pct_valid"] == 0.0
    stale_only = by_id[70]
    assert (stale_only["minutes_stale"], stale_only["minutes_observed"]) == (60, 0)
    assert not stale_only["trusted"]
    assert by_id[10]["lve_nr"] == 1


def test_health_counts_the_republishes_of_an_outage_hour(tlake: LakeHarness) -> None:
    """A feed outage: after an hour of fresh minutes every document republishes the last one
    (``actueel_publicatie`` 0) for two hours, so a whole arrival-hour partition holds only
    stale rows - which the transform's read set leaves out, but health must count."""
    last = FIRST + 59 * 60
    fresh = _rows(80, range(60))
    stale = _rows(80, range(60, 180), actueel_publicatie=0, tijd_waarneming=last)
    tlake.land_and_crawl(pa.concat_tables([fresh, stale]))
    tlake.transform()
    assert derive(tlake.settings).state == "SUCCEEDED"
    (row,) = run_query(tlake.settings, "SELECT * FROM traffic.detector_health").table.to_pylist()
    assert (row["minutes_observed"], row["minutes_stale"]) == (60, 120)


def test_a_minute_published_fresh_twice_counts_one_version_whatever_the_order() -> None:
    """Two fresh versions of one lane-minute (one defect, one not): the grid keeps the larger
    packed value in either row order, so the counts do not depend on how DuckDB hands rows
    over (it is not asked to keep their order)."""
    import numpy as np

    from trafficlake.roads.health import HEALTH_INPUT_SCHEMA, HealthRules, day_health

    fresh = 1 << 52
    defect = fresh | (1 << 48)
    ok = fresh | (8 << 48) | 5
    rows = {
        "unieke_id": [7, 7, 7, 8],
        "lve_nr": [1, 1, 1, 1],
        "minute": [0, 0, 1, 0],
        "packed": [defect, ok, ok, ok],
    }
    table = pa.table(rows, schema=HEALTH_INPUT_SCHEMA)
    flipped = table.take(np.array([1, 0, 2, 3]))
    a = day_health(table, HealthRules()).to_pylist()
    b = day_health(flipped, HealthRules()).to_pylist()
    assert a == b
    lane7 = a[0]
    assert (lane7["minutes_observed"], lane7["minutes_defect"]) == (2, 0)  # the larger: not defect

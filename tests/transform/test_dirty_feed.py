"""The transform on the simulator's feed artefacts (dead detectors, defects, stale groups,
absent lanes, late publications): it runs, and its output keeps its invariants."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from transform_lakes import T0, LakeHarness, day_of, with_arrival

from trafficlake.miv.simulator import Simulator


@pytest.mark.slow
def test_dirty_feed_around_midnight(tlake: LakeHarness) -> None:
    sim = Simulator(seed=5, lanes=200, clean=False)
    raw = with_arrival(pa.Table.from_batches(list(sim.minutes(T0 - 5400, 180))))
    tlake.land_and_crawl(raw)
    run = tlake.transform()
    assert run.state == "SUCCEEDED"
    assert day_of(T0).isoformat() in run.result["days"]
    rows = tlake.rows()
    assert rows
    keys = Counter((r["lve_nr"], r["recordTimestamp"]) for r in rows)
    assert max(keys.values()) == 1  # one row per section and minute
    for r in rows:
        assert r["laneCount"] >= 1
        assert r["trafficJamIndicator"] in (-1, 0, 1)
        assert r["speedDiffIndicator"] in (-1, 0, 1)
        if r["currentSpeed"] is not None:
            assert 0 <= r["currentSpeed"] <= 200
            assert r["avgSpeed3Minutes"] is not None
        if r["harmonicSpeed"] is not None:
            assert 0 < r["harmonicSpeed"] <= 200
    # defect lanes never count: the valid lanes of the raw data bound laneCount
    valid = raw.filter(
        pc.and_(pc.equal(raw["defect"], 0), pc.greater(raw["rekendata_bezettingsgraad"], -1))
    )
    distinct = set(
        zip(
            valid["lve_nr"].to_pylist(),
            valid["tijd_waarneming"].to_pylist(),
            valid["unieke_id"].to_pylist(),
            strict=True,
        )
    )
    lanes_per_key = Counter((lve, t) for lve, t, _ in distinct)
    for r in rows:
        assert r["laneCount"] <= lanes_per_key[(r["lve_nr"], r["recordTimestamp"])]
    # the same lanes again, arriving late, change nothing
    before = tlake.rows()
    tlake.land_and_crawl(with_arrival(raw, delay_s=7200))
    tlake.transform()
    assert tlake.rows() == before

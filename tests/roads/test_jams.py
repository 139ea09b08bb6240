"""Jam episodes on a lake with planted jams: found within +-2 min and +-1 section, no others;
hysteresis; the figures; incremental runs with the transform's bookmarks and commits."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from planted import A13, A14, FIRST, MINUTES, PLANTED, lanes, locations, speed
from transform_lakes import LakeHarness, lane_rows

from trafficlake.catalog import open_catalog
from trafficlake.miv.locations import write_locations
from trafficlake.query import run_query
from trafficlake.roads.derive import derive
from trafficlake.roads.jams import JamRules, day_grid, find_jams, section_jams
from trafficlake.roads.sections import build_sections


def _section_index(lve: int) -> tuple[str, int]:
    for road, rows in (("A14", A14), ("A13", A13)):
        ids = [r[0] for r in rows]
        if lve in ids:
            return road, ids.index(lve)
    raise AssertionError(lve)


def _planted_lake(tlake: LakeHarness, minutes: range = range(MINUTES)) -> None:
    rows = lane_rows(lanes(), [FIRST + 60 * m for m in minutes], speed=speed)
    tlake.land_and_crawl(rows)
    write_locations(tlake.lake, locations())
    tlake.transform()


def _jams(tlake: LakeHarness) -> list[dict[str, Any]]:
    return run_query(
        tlake.settings, "SELECT * FROM traffic.jams ORDER BY start_ts"
    ).table.to_pylist()


@pytest.mark.slow
def test_planted_jams_are_found_and_nothing_else(tlake: LakeHarness) -> None:
    _planted_lake(tlake)
    result = derive(tlake.settings)
    assert result.state == "SUCCEEDED", result.error
    found = _jams(tlake)
    assert len(found) == len(PLANTED), [(j["road"], j["start_ts"]) for j in found]
    for jam, truth in zip(
        sorted(found, key=lambda j: j["road"], reverse=True), PLANTED, strict=True
    ):
        assert (jam["road"], jam["direction"]) == (truth.road, truth.direction)
        assert abs(jam["start_ts"] - truth.start) <= 120
        assert abs(jam["end_ts"] - truth.end) <= 120
        head = [
            s
            for s in jam["sections"]
            if _section_index(s)[1] == max(_section_index(x)[1] for x in jam["sections"])
        ]
        assert abs(_section_index(head[0])[1] - _section_index(truth.head)[1]) <= 1
        road = dict(A14 if truth.road == "A14" else A13)
        assert abs(jam["head_km"] - road[truth.head]) <= 1.0 + 1e-9
        assert abs(jam["tail_km"] - road[truth.tail]) <= 1.0 + 1e-9
        assert len(set(jam["sections"]) ^ truth.sections) <= 2
        assert jam["min_speed"] == pytest.approx(20.0)
        assert 20.0 <= jam["mean_speed"] < 40.0
        assert jam["vehicle_hours_lost"] > 0
        assert jam["duration_min"] == (jam["end_ts"] - jam["start_ts"]) // 60
        assert len(jam["trace_ts"]) == jam["duration_min"] == len(jam["trace_tail_km"])
    a14 = next(j for j in found if j["road"] == "A14")
    # the queue grew from the head (km 24) to km 20 and back: 4 km apart + half of each end
    assert a14["max_queue_km"] == pytest.approx(5.0)
    tails = [t for t in a14["trace_tail_km"] if t is not None]
    assert tails[0] == pytest.approx(24.0) and min(tails) == pytest.approx(20.0)


@pytest.mark.slow
def test_vehicle_hours_lost_against_free_flow(tlake: LakeHarness) -> None:
    _planted_lake(tlake)
    settings = dataclasses.replace(
        tlake.settings, roads=dataclasses.replace(tlake.settings.roads, free_flow_kmh=100.0)
    )
    assert derive(settings).state == "SUCCEEDED"
    a13 = next(j for j in _jams(tlake) if j["road"] == "A13")
    # 3 sections x 1 km, 6 vehicles a minute, at 20 km/h instead of 100: (1/20 - 1/100) h/km;
    # the 3-minute average lags: slow minutes start 2 minutes late, the speeds of the first
    # two are the raw 20 km/h too (the jam's own minutes)
    minutes = (a13["end_ts"] - a13["start_ts"]) // 60
    expected = 3 * minutes * 6 * 1.0 * (1 / 20 - 1 / 100)
    assert a13["vehicle_hours_lost"] == pytest.approx(expected, rel=0.02)


def test_hysteresis() -> None:
    slow = np.zeros(60, dtype=bool)
    slow[5:7] = True  # 2 minutes: too short to start
    slow[10:20] = True  # a jam...
    slow[22:30] = True  # ...going on after 2 minutes of recovery
    slow[40:44] = True  # a new jam after 10 minutes
    assert section_jams(slow, 3, 5) == [(10, 30), (40, 44)]
    assert section_jams(slow, 3, 2) == [(10, 20), (22, 30), (40, 44)]
    assert section_jams(np.ones(5, dtype=bool), 3, 5) == [(0, 5)]
    assert section_jams(np.zeros(5, dtype=bool), 3, 5) == []


def test_a_section_without_data_does_not_split_a_jam() -> None:
    sections = build_sections(locations())
    lve = sections.column("lve_nr").to_numpy()
    day = FIRST - 6 * 3600
    rows: dict[str, list[Any]] = {
        k: []
        for k in ("lve_nr", "recordTimestamp", "currentSpeed", "avgSpeed3Minutes", "vehicleCount")
    }
    for section in (112, 114):  # 113 lies between them and reports nothing
        for m in range(400, 460):
            for k, v in zip(rows, (section, day + 60 * m, 15.0, 15.0, 5), strict=True):
                rows[k].append(v)
    jams = find_jams(day_grid(pa.table(rows), lve, day), sections, JamRules())
    assert jams.num_rows == 1
    assert jams.column("sections").to_pylist() == [[112, 114]]


@pytest.mark.slow
def test_incremental_runs_follow_the_transform(tlake: LakeHarness) -> None:
    _planted_lake(tlake, range(0, 100))  # up to 07:40: the A14 jam has not ended yet
    first = derive(tlake.settings)
    assert first.state == "SUCCEEDED" and first.days == ["2025-11-21"]
    assert len(_jams(tlake)) == 2  # A14 (open at the end of the data), A13 (started at 07:30)
    again = derive(tlake.settings)
    assert again.days == [] and again.state == "SUCCEEDED"  # the bookmark: nothing changed
    rest = lane_rows(lanes(), [FIRST + 60 * m for m in range(100, MINUTES)], speed=speed)
    tlake.land_and_crawl(rest)
    tlake.transform()
    assert derive(tlake.settings).days == ["2025-11-21"]
    found = _jams(tlake)
    assert [j["end_ts"] for j in found] == [PLANTED[0].end, PLANTED[1].end]
    with open_catalog(tlake.settings) as cat:
        parts = cat.list_partitions("traffic", "jams")
        assert len(parts) == 1 and parts[0].row_count == 2
        runs = cat.list_job_runs("roads", limit=10)
        assert [r.state for r in runs] == ["SUCCEEDED"] * 3
        # the replaced files are gone: only the catalog's files are in the folder
        listed = {f.key for p in parts for f in p.files}
    on_disk = {e.key for e in tlake.lake.list("jams/") if e.key.endswith(".parquet")}
    assert on_disk == listed


def test_configured_table_names(tlake: LakeHarness) -> None:
    tlake.settings = dataclasses.replace(
        tlake.settings,
        catalog=dataclasses.replace(
            tlake.settings.catalog, database="verkeer", table_prefix="miv_"
        ),
    )
    _planted_lake(tlake)
    assert derive(tlake.settings).state == "SUCCEEDED"
    with open_catalog(tlake.settings) as cat:
        names = {t.full_name for t in cat.list_tables()}
    assert {"verkeer.miv_jams", "verkeer.miv_detector_health"} <= names


def test_without_a_transformed_table_nothing_is_derived(tlake: LakeHarness) -> None:
    result = derive(tlake.settings)
    assert result.state == "SUCCEEDED" and result.days == []
    assert any("run the transform first" in n for n in result.notes)


def test_sections_follow_the_direction_of_travel() -> None:
    sections = build_sections(locations()).to_pylist()
    a13 = [s for s in sections if s["road"] == "A13"]
    assert [s["lve_nr"] for s in a13] == list(range(201, 213))  # km 50 down to 39
    assert a13[0]["upstream"] is None and a13[0]["downstream"] == 202
    assert a13[0]["extent_km"] == 1.0 and a13[5]["extent_km"] == 1.0
    a14 = [s for s in sections if s["road"] == "A14"]
    assert [s["km"] for s in a14] == sorted(s["km"] for s in a14)
    assert {s["direction"] for s in a14} == {"1"}

"""The analyst's API on the demo-built lake: roads, time-space, jams, map, detector health -
each answer checked against the tables it comes from."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from trafficlake.query import run_query

Served = Any  # conftest.Served: .url, .settings, .get(path), .post(path)

DAY1 = "2026-11-16"


def _rows(site: Served, sql: str) -> list[dict[str, Any]]:
    return run_query(site.settings, sql).table.to_pylist()


def test_roads_are_the_sections_in_the_direction_of_travel(site: Served) -> None:
    body = site.get("/api/roads").json()
    sections = _rows(site, "SELECT * FROM traffic.sections ORDER BY road, direction, position")
    assert sum(len(r["sections"]) for r in body["roads"]) == len(sections) > 0
    for road in body["roads"]:
        secs = road["sections"]
        assert [s["position"] for s in secs] == list(range(1, len(secs) + 1))
        kms = [s["km"] for s in secs]
        assert kms == sorted(kms, reverse=road["direction"] == "2")
        assert secs[0]["upstream"] is None and secs[-1]["downstream"] is None
        assert all(a["downstream"] == b["lve_nr"] for a, b in itertools.pairwise(secs))
        assert road["from_name"] == secs[0]["name"] and road["lanes"] == sum(
            s["lanes"] for s in secs
        )


def test_timespace_is_the_transformed_table(site: Served) -> None:
    jams = site.get("/api/jams", params={"day": DAY1}).json()["jams"]
    assert jams, "the demo lake has no jam on DAY1"
    jam = jams[0]
    ts = site.get(f"/api/roads/{jam['road']}/{jam['direction']}/timespace", params={"day": DAY1})
    assert ts.status_code == 200
    body = ts.json()
    ids = [s["lve_nr"] for s in body["sections"]]
    assert len(body["speed"]) == len(ids) and all(len(r) == 1440 for r in body["speed"])
    assert body["start"] == int(dt.datetime(2026, 11, 16, tzinfo=dt.UTC).timestamp())
    rows = _rows(
        site,
        "SELECT lve_nr, recordTimestamp, avgSpeed3Minutes FROM traffic.transformed "
        f"WHERE year = 2026 AND month = 11 AND day = 16 AND lve_nr IN ({','.join(map(str, ids))})",
    )
    assert len(rows) == sum(1 for r in body["speed"] for v in r if v >= 0)
    for r in rows[::37]:
        got = body["speed"][ids.index(r["lve_nr"])][(r["recordTimestamp"] - body["start"]) // 60]
        assert got == round(r["avgSpeed3Minutes"])
    assert jam["jam_id"] in {j["jam_id"] for j in body["jams"]}
    assert all((j["road"], j["direction"]) == (jam["road"], jam["direction"]) for j in body["jams"])


def test_jams_are_the_jams_table(site: Served) -> None:
    body = site.get("/api/jams", params={"day": DAY1}).json()
    table = _rows(site, "SELECT * FROM traffic.jams WHERE year = 2026 AND month = 11 AND day = 16")
    assert body["derived"] and {j["jam_id"] for j in body["jams"]} == {j["jam_id"] for j in table}
    names = {s["lve_nr"]: s["name"] for s in _rows(site, "SELECT * FROM traffic.sections")}
    for j in body["jams"]:
        assert j["head_name"] == names[j["sections"][-1]]
        assert j["start_ts"] < j["end_ts"] and j["max_queue_km"] > 0
    assert body["rules"]["jam_threshold_kmh"] == 40.0


def test_map_at_a_minute(site: Served) -> None:
    jam = site.get("/api/jams", params={"day": DAY1}).json()["jams"][0]
    at = jam["start_ts"] + 300
    for given in (str(at), dt.datetime.fromtimestamp(at, dt.UTC).isoformat(), f"{at + 59}"):
        body = site.get("/api/map", params={"at": given}).json()
        assert body["at"] == at
    speeds = {
        r["lve_nr"]: r["avgSpeed3Minutes"]
        for r in _rows(site, f"SELECT * FROM traffic.transformed WHERE recordTimestamp = {at}")
    }
    jammed = {s["lve_nr"] for s in body["sections"] if s["jam"]}
    assert set(jam["sections"]) <= jammed
    for s in body["sections"]:
        if s["lve_nr"] in speeds:
            assert s["speed"] == round(speeds[s["lve_nr"]], 1)
        else:
            assert s["speed"] is None
    latest = site.get("/api/map", params={"day": DAY1}).json()
    last = _rows(site, "SELECT max(recordTimestamp) AS t FROM traffic.transformed WHERE day = 16")
    assert latest["at"] == last[0]["t"]


def test_detector_health(site: Served) -> None:
    body = site.get("/api/detectors/health", params={"day": DAY1}).json()
    table = _rows(
        site, "SELECT * FROM traffic.detector_health WHERE year = 2026 AND month = 11 AND day = 16"
    )
    assert body["derived"] and body["summary"]["lanes"] == len(table) > 0
    untrusted = sorted(r["unieke_id"] for r in table if not r["trusted"])
    assert sorted(lane["unieke_id"] for lane in body["lanes"]) == untrusted
    assert body["summary"]["untrusted_sections"] == sum(
        1 for s in body["sections"] if not s["trusted"]
    )


def test_bad_requests(site: Served) -> None:
    assert site.get("/api/jams", params={"day": "2026-13-01"}).status_code == 400
    assert site.get("/api/jams", params={"day": "1999-01-01"}).status_code == 404
    r = site.get("/api/roads/Z9/1/timespace", params={"day": DAY1})
    assert r.status_code == 404 and "no road 'Z9'" in r.json()["error"]
    r = site.get("/api/map", params={"at": "2026-11-16T07:00:00"})
    assert r.status_code == 400 and "time zone" in r.json()["error"]
    assert site.get("/api/map", params={"at": "yesterday"}).status_code == 400
    assert site.get("/api/map", params={"at": "0"}).status_code == 404

"""The JSON API on a real server: every answer equals the catalog or a direct run_query."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from trafficlake.catalog import open_catalog
from trafficlake.query import run_query

DAY1, DAY2 = "2026-11-16", "2026-11-17"  # as built by conftest.lake_settings
Served = Any  # conftest.Served: .url, .settings, .get(path), .post(path)
TS_COLS = [
    "recordTimestamp",
    "currentSpeed",
    "avgSpeed3Minutes",
    "avgSpeed20Minutes",
    "trafficJamIndicator",
    "vehicleCount",
]


def _ymd(day: str) -> tuple[int, int, int]:
    d = dt.date.fromisoformat(day)
    return d.year, d.month, d.day


# ---- catalog endpoints ----------------------------------------------------------------------


def test_tables_match_catalog_and_data(site: Served) -> None:
    body = site.get("/api/tables").json()
    by_name = {t["full_name"]: t for t in body}
    assert {"traffic.raw", "traffic.transformed"} <= set(by_name)
    with open_catalog(site.settings) as cat:
        for full, t in by_name.items():
            db, name = full.split(".")
            table = cat.get_table(db, name)
            parts = cat.list_partitions(db, name)
            assert t["columns"] == [{"name": c.name, "type": c.type} for c in table.columns]
            assert [k["name"] for k in t["partition_keys"]] == [
                k.name for k in table.partition_keys
            ]
            assert t["partitions"] == len(parts)
            assert t["rows"] == sum(p.row_count or 0 for p in parts)
            assert t["bytes"] == sum(p.size_bytes for p in parts)
    for name in ("traffic.raw", "traffic.transformed"):
        assert [k["name"] for k in by_name[name]["partition_keys"]] == [
            "year",
            "month",
            "day",
            "hour",
        ]
    counted = run_query(site.settings, "SELECT count(*) FROM traffic.transformed").rows[0][0]
    assert by_name["traffic.transformed"]["rows"] == counted


def test_partitions_match_catalog(site: Served) -> None:
    body = site.get("/api/tables/traffic.transformed/partitions").json()
    with open_catalog(site.settings) as cat:
        parts = cat.list_partitions("traffic", "transformed")
    assert body["table"] == "traffic.transformed"
    assert body["partition_keys"] == ["year", "month", "day", "hour"]
    assert len(body["partitions"]) == len(parts) == 3  # 06, 07 on DAY1; 06 on DAY2
    for got, p in zip(body["partitions"], parts, strict=True):
        assert tuple(got["values"].values()) == p.values
        assert got["rows"] == p.row_count and got["bytes"] == p.size_bytes
        assert got["version"] == p.version and got["files"] == len(p.files)
        assert got["stats"] == {k: list(v) for k, v in p.stats.items()}
        assert "recordTimestamp" in got["stats"]
    # a filter on partition keys is passed to the catalog
    one_day = site.get("/api/tables/traffic.transformed/partitions", params={"day": 17}).json()
    assert [p["values"]["day"] for p in one_day["partitions"]] == ["17"]


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/tables/traffic.nope/partitions", 404, "nope"),
        ("/api/tables/nodot/partitions", 400, "<database>.<table>"),
        ("/api/tables/traffic.transformed/partitions?colour=red", 400, "colour"),
        ("/api/executions/batch:no-such-run/history", 404, "no-such-run"),
        ("/api/executions?limit=0", 400, "limit"),
        ("/api/transform/runs?limit=abc", 400, "limit"),
        ("/api/no/such/route", 404, "Not Found"),
    ],
)
def test_clear_errors(site: Served, path: str, status: int, words: str) -> None:
    r = site.get(path)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"}
    assert words in r.json()["error"]
    assert "\n" not in r.json()["error"]


def test_crawlers_executions_runs_match_catalog(site: Served) -> None:
    crawlers = site.get("/api/crawlers").json()
    executions = site.get("/api/executions").json()
    runs = site.get("/api/transform/runs").json()
    with open_catalog(site.settings) as cat:
        want_crawlers = cat.list_crawlers()
        want_execs = cat.list_executions()
        want_runs = cat.list_job_runs("transform")
        history = cat.get_history(want_execs[0].id)
    assert [c["name"] for c in crawlers] == [c.name for c in want_crawlers]
    for got, c in zip(crawlers, want_crawlers, strict=True):
        assert c.last_crawl is not None
        assert got["last_crawl"]["id"] == c.last_crawl.id
        assert got["last_crawl"]["status"] == c.last_crawl.status == "SUCCEEDED"
    assert [e["id"] for e in executions] == [e.id for e in want_execs]
    assert len(executions) == 2 and {e["status"] for e in executions} == {"SUCCEEDED"}
    assert [r["id"] for r in runs] == [r.id for r in want_runs]
    assert runs[0]["result"]["days"] == [DAY2]  # the second, incremental run rebuilt DAY2 only
    assert site.get("/api/transform/runs", params={"limit": 1}).json()[0]["id"] == runs[0]["id"]
    got = site.get(f"/api/executions/{want_execs[0].id}/history").json()
    assert got["execution"]["id"] == want_execs[0].id
    assert [(e["id"], e["type"]) for e in got["events"]] == [(h.id, h.type) for h in history]
    assert got["events"][0]["type"] == "ExecutionStarted"


# ---- the transformed table ------------------------------------------------------------------


def test_days_are_the_transformed_partitions(site: Served) -> None:
    rows = run_query(
        site.settings, "SELECT DISTINCT year, month, day FROM traffic.transformed ORDER BY ALL"
    ).rows
    assert site.get("/api/days").json() == {"days": [DAY1, DAY2]}
    assert [dt.date(*r).isoformat() for r in rows] == [DAY1, DAY2]


def _congestion_direct(settings: Any, day: str) -> list[dict[str, Any]]:
    y, m, d = _ymd(day)
    sql = f"""
        SELECT t.lve_nr, n.name, count_if(t.trafficJamIndicator = 1) AS jam_minutes,
               count(*) AS minutes, min(t.currentSpeed) AS min_speed,
               avg(t.currentSpeed) AS avg_speed
        FROM traffic.transformed AS t
        LEFT JOIN (SELECT lve_nr, min(volledige_naam) AS name FROM traffic.locations
                   GROUP BY lve_nr) AS n ON n.lve_nr = t.lve_nr
        WHERE t.year = {y} AND t.month = {m} AND t.day = {d}
        GROUP BY t.lve_nr, n.name
    """
    result = run_query(settings, sql)
    return [dict(zip(result.columns, r, strict=True)) for r in result.rows]


@pytest.mark.parametrize("day", [DAY1, DAY2])
def test_congestion_equals_direct_query(site: Served, day: str) -> None:
    want = _congestion_direct(site.settings, day)
    want.sort(key=lambda r: (-r["jam_minutes"], r["min_speed"], r["lve_nr"]))
    body = site.get("/api/locations/congestion", params={"day": day, "limit": 1000}).json()
    assert body["day"] == day and body["jam_threshold_kmh"] == 40.0
    got = body["locations"]
    assert [r["lve_nr"] for r in got] == [r["lve_nr"] for r in want]
    for g, w in zip(got, want, strict=True):
        assert g["name"] == w["name"] and g["name"]  # every demo location has a name
        assert g["jam_minutes"] == w["jam_minutes"] and isinstance(g["jam_minutes"], int)
        assert g["minutes"] == w["minutes"]
        assert g["min_speed"] == pytest.approx(w["min_speed"])
        assert g["avg_speed"] == pytest.approx(w["avg_speed"])
    if day == DAY1:
        assert got[0]["jam_minutes"] > 0  # the demo morning has a jam
    top3 = site.get("/api/locations/congestion", params={"day": day, "limit": 3}).json()
    assert top3["locations"] == got[:3]
    assert all(f"day={_ymd(day)[2]}/" in f for f in body["files_read"])


def test_congestion_defaults_to_the_latest_day(site: Served) -> None:
    assert site.get("/api/locations/congestion").json()["day"] == DAY2


@pytest.mark.parametrize("day", [DAY1, DAY2])
def test_timeseries_equals_direct_query_and_reads_one_day(site: Served, day: str) -> None:
    top = site.get("/api/locations/congestion", params={"day": day, "limit": 1}).json()
    lve = top["locations"][0]["lve_nr"]
    body = site.get(f"/api/locations/{lve}/timeseries", params={"day": day}).json()
    y, m, d = _ymd(day)
    direct = run_query(
        site.settings,
        f"SELECT {', '.join(TS_COLS)} FROM traffic.transformed "
        f"WHERE year = {y} AND month = {m} AND day = {d} AND lve_nr = {lve} "
        "ORDER BY recordTimestamp",
    )
    assert body["columns"] == TS_COLS
    assert body["lve_nr"] == lve and body["day"] == day and body["name"]
    assert len(body["rows"]) == len(direct.rows) > 0
    for g, w in zip(body["rows"], direct.rows, strict=True):
        assert g == pytest.approx(list(w), nan_ok=True)
    start = dt.datetime(y, m, d, tzinfo=dt.UTC).timestamp()
    assert all(start <= r[0] < start + 86400 for r in body["rows"])
    # pruned by the catalog: exactly the files of that day's partitions, nothing else
    with open_catalog(site.settings) as cat:
        day_parts = cat.list_partitions("traffic", "transformed", where={"day": d})
        all_parts = cat.list_partitions("traffic", "transformed")
    day_files = sorted(f.key for p in day_parts for f in p.files)
    assert len(day_files) < sum(len(p.files) for p in all_parts)
    assert sorted(body["files_read"]) == sorted(site.settings.lake_url + "/" + k for k in day_files)


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/locations/congestion?day=2026-02-30", 400, "not a date"),
        ("/api/locations/congestion?day=yesterday", 400, "YYYY-MM-DD"),
        ("/api/locations/congestion?day=2026-11-16;DROP", 400, "YYYY-MM-DD"),
        ("/api/locations/congestion?day=2026-11-18", 404, "no transformed data on 2026-11-18"),
        ("/api/locations/congestion?limit=-1", 400, "limit"),
        ("/api/locations/59/timeseries?day=16-11-2026", 400, "YYYY-MM-DD"),
        ("/api/locations/abc/timeseries", 400, "lve_nr"),
        ("/api/locations/999999/timeseries?day=2026-11-16", 404, "999999"),
        ("/api/locations/59/timeseries?day=2025-01-01", 404, "days available"),
    ],
)
def test_bad_days_and_locations(site: Served, path: str, status: int, words: str) -> None:
    r = site.get(path)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]


# ---- POST /api/query ------------------------------------------------------------------------


def test_query_equals_run_query(site: Served) -> None:
    sql = (
        "SELECT hour, count(*) AS n, avg(currentSpeed) AS speed FROM traffic.transformed "
        "WHERE year = 2026 AND month = 11 AND day = 16 GROUP BY hour ORDER BY hour"
    )
    body = site.post("/api/query", json={"sql": sql}).json()
    direct = run_query(site.settings, sql)
    assert body["columns"] == direct.columns == ["hour", "n", "speed"]
    assert body["rows"] == [pytest.approx(list(r)) for r in direct.rows]
    assert body["truncated"] is False
    assert sorted(body["files_read"]) == sorted(direct.files_read)
    assert all("day=16/" in f for f in body["files_read"])


def test_query_row_limit(site: Served) -> None:
    sql = "SELECT recordTimestamp FROM traffic.transformed ORDER BY ALL"
    body = site.post("/api/query", json={"sql": sql, "limit": 7}).json()
    direct = run_query(site.settings, sql).rows
    assert body["rows"] == [list(r) for r in direct[:7]] and body["truncated"] is True
    assert site.post("/api/query", json={"sql": sql, "limit": 10**6}).status_code == 400


def test_query_values_become_json(site: Served) -> None:
    sql = (
        "SELECT 1 AS a, 1 AS a, 'nan'::DOUBLE AS nan, TIMESTAMPTZ '2026-11-16 06:00:00+00' AS ts, "
        "DATE '2026-11-16' AS d, 12.50::DECIMAL(6, 2) AS dec, [1, 2] AS list, NULL AS nothing"
    )
    body = site.post("/api/query", json={"sql": sql}).json()
    assert body["columns"] == ["a", "a", "nan", "ts", "d", "dec", "list", "nothing"]
    assert body["rows"] == [
        [1, 1, None, "2026-11-16T06:00:00+00:00", "2026-11-16", 12.5, [1, 2], None]
    ]
    ns = "SELECT TIMESTAMP_NS '2026-11-16 06:00:00.123456789' AS ns"
    assert site.post("/api/query", json={"sql": ns}).json()["rows"] == [
        ["2026-11-16 06:00:00.123456789"]
    ]


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("DROP VIEW traffic.transformed", "DROP statements are not allowed"),
        ("CREATE TABLE x AS SELECT 1", "CREATE statements are not allowed"),
        ("INSERT INTO traffic.raw SELECT * FROM traffic.raw", "INSERT statements"),
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY statements"),
        ("SELECT 1; DELETE FROM traffic.raw", "DELETE statements"),
        ("SET enable_external_access = true", "SET statements"),
        ("SELECT * FROM read_text('/etc/hostname')", "Permission Error"),
        ("SELECT nope FROM traffic.transformed", "query failed"),
        ("SELEC 1", "invalid SQL"),
        ("   ", "sql is empty"),
    ],
)
def test_query_rejects_writes_and_bad_sql(site: Served, sql: str, words: str) -> None:
    r = site.post("/api/query", json={"sql": sql})
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]
    assert "\n" not in r.json()["error"]


def test_query_bad_bodies(site: Served) -> None:
    assert site.post("/api/query", json={}).status_code == 400
    assert site.post("/api/query", content=b"not json").status_code == 400
    assert site.post("/api/query", json={"sql": 5}).status_code == 400
    assert site.get("/api/query").status_code == 405


def test_concurrent_requests_share_the_catalog_safely(site: Served) -> None:
    from concurrent.futures import ThreadPoolExecutor

    paths = [f"/api/locations/congestion?day={DAY1}", "/api/tables", "/api/days"] * 4
    first = {p: site.get(p).json() for p in set(paths)}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda p: (p, site.get(p)), paths))
    for path, r in answers:
        assert r.status_code == 200 and r.json() == first[path]


def test_congestion_without_a_locations_table(site: Served) -> None:
    """Names are null (not an error) when there is no locations table to join."""
    from trafficlake.query import connect
    from trafficlake.web import data

    with connect(site.settings) as con:
        con.duckdb.execute("DROP VIEW traffic.locations")
        body = data.congestion(con, site.settings, dt.date.fromisoformat(DAY1), 5)
        series = data.timeseries(
            con, site.settings, body["locations"][0]["lve_nr"], dt.date(2026, 11, 16)
        )
    with_names = site.get("/api/locations/congestion", params={"day": DAY1, "limit": 5}).json()
    assert [r["name"] for r in body["locations"]] == [None] * 5
    assert series["name"] is None and series["rows"]
    strip = [{k: v for k, v in r.items() if k != "name"} for r in with_names["locations"]]
    assert [{k: v for k, v in r.items() if k != "name"} for r in body["locations"]] == strip

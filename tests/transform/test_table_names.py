"""The transform reads and writes the tables the crawlers name: ``[catalog] database`` and
``table_prefix`` + the target's last path component."""

from __future__ import annotations

from transform_lakes import T0, LakeHarness, day_of, lane_rows

from trafficlake.catalog.crawler import run_crawler
from trafficlake.config import load_settings
from trafficlake.query import connect, run_query
from trafficlake.storage import Lake
from trafficlake.transform import run_transform
from trafficlake.web import data


def test_pipeline_with_database_and_prefix(settings: object, catalog_url: str) -> None:
    s = load_settings(
        None,
        overrides={"catalog": {"url": catalog_url, "database": "verkeer", "table_prefix": "miv_"}},
    )
    h = LakeHarness(s, Lake.from_settings(s))
    h.land(lane_rows([(1, 1), (2, 1)], range(T0, T0 + 3600, 60)))
    assert run_crawler(s, "raw").status == "SUCCEEDED"
    run = run_transform(s)  # incremental: reads verkeer.miv_raw
    assert run.state == "SUCCEEDED", run.error
    assert run.result["days"] == [day_of(T0).isoformat()], run.result["notes"]
    assert run.result["rows_written"] == 60
    with h.catalog() as cat:
        assert {t.full_name for t in cat.list_tables("verkeer")} == {
            "verkeer.miv_raw",
            "verkeer.miv_transformed",
        }
        assert not cat.list_tables("traffic")
        before = [f.key for p in cat.list_partitions("verkeer", "miv_transformed") for f in p.files]
    assert run_crawler(s, "transformed").status == "SUCCEEDED"
    with h.catalog() as cat:
        after = [f.key for p in cat.list_partitions("verkeer", "miv_transformed") for f in p.files]
    assert after == before  # the crawler leaves the writer-owned table as committed
    result = run_query(s, "SELECT count(*) AS n FROM verkeer.miv_transformed")
    assert result.table.column("n").to_pylist() == [60]
    again = run_transform(s, start_day=day_of(T0), end_day=day_of(T0))
    assert again.state == "SUCCEEDED" and again.result["rows_written"] == 60
    assert run_query(s, "SELECT count(*) AS n FROM verkeer.miv_transformed").table.column(
        "n"
    ).to_pylist() == [60]
    # The dashboard's queries read the same prefixed table (they named it "transformed" once).
    with connect(s) as con:
        assert data.available_days(con.catalog, s) == [day_of(T0).isoformat()]
        ranked = data.congestion(con, s, day_of(T0), limit=5)["locations"]
        assert sum(r["minutes"] for r in ranked) == 60

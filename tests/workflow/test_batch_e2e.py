"""The seed's batch state machine end to end against the real crawler, transform and catalog."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.catalog import open_catalog
from trafficlake.config import Settings
from trafficlake.schema import RAW_SCHEMA
from trafficlake.storage import Lake
from trafficlake.workflow.library import get_history, run_workflow

T0 = 1763683200  # 2025-11-21 00:00:00 UTC


def raw_rows(minutes: int = 30) -> pa.Table:
    cols: dict[str, list[Any]] = {f.name: [] for f in RAW_SCHEMA}
    for m in range(minutes):
        t = T0 + 60 * m
        for uid, lve in ((101, 11), (102, 11), (201, 12)):
            row: dict[str, Any] = {
                "beschrijvende_id": f"H{uid}",
                "unieke_id": uid,
                "lve_nr": lve,
                "tijd_waarneming": t,
                "tijd_laatst_gewijzigd": t + 70,
                "tijd_publicatie": t + 100,
                "actueel_publicatie": 1,
                "beschikbaar": 1,
                "defect": 0,
                "geldig": 0,
                "rekendata_bezettingsgraad": 5,
                "rekendata_beschikbaarheidsgraad": 100,
                "rekendata_onrustigheid": 0,
                "arrival_time": (t + 100) * 1000,
            }
            for k in range(1, 6):
                row[f"verkeersintensiteit_klasse{k}"] = 2
                row[f"voertuigsnelheid_rekenkundig_klasse{k}"] = 60 + m
                row[f"voertuigsnelheid_harmonisch_klasse{k}"] = 58 + m
            for name, value in row.items():
                cols[name].append(value)
    return pa.Table.from_pydict(cols, schema=RAW_SCHEMA)


@pytest.fixture
def lake(settings: Settings) -> Lake:
    lake = Lake.from_settings(settings)
    with lake.open_atomic("raw/year=2025/month=11/day=21/hour=0/miv-1-a.parquet") as out:
        pq.write_table(raw_rows(), out)
    return lake


def state_names(settings: Settings, execution_id: str) -> list[str]:
    _, events = get_history(settings, execution_id)
    return [e.details["name"] for e in events if e.type.endswith("StateEntered")]


def transformed_rows(settings: Settings) -> int:
    with open_catalog(settings) as catalog:
        parts = catalog.list_partitions(settings.catalog.database, "transformed")
    return sum(p.row_count or 0 for p in parts)


@pytest.mark.slow
def test_batch_runs_end_to_end(settings: Settings, lake: Lake) -> None:
    r = run_workflow(settings, "batch", {}, execution_name="e2e")
    assert r.status == "SUCCEEDED", (r.error, r.cause)
    names = state_names(settings, r.id)
    assert names[:4] == ["RunDataCrawler", "WaitCrawler", "GetCrawlerState", "CheckCrawlerState"]
    assert names[-1] == "SuccessEndState"
    for state in (
        "RunETL",
        "GetETLState",
        "CheckETLState",
        "RunTransformedCrawler",
        "GetTransformedCrawlerState",
    ):
        assert state in names
    assert r.output["CrawlerState"] == "READY" and r.output["CrawlerStatus"] == "SUCCEEDED"
    assert transformed_rows(settings) == 2 * 30  # two road sections, 30 minutes
    with open_catalog(settings) as catalog:
        assert catalog.get_execution(r.id).status == "SUCCEEDED"


@pytest.mark.slow
def test_batch_with_a_start_day_input(settings: Settings, lake: Lake) -> None:
    r = run_workflow(settings, "batch", {"year": 2025, "month": 11, "day": 21})
    assert r.status == "SUCCEEDED", (r.error, r.cause)
    assert r.output["year"] == 2025  # passed through every step, like the seed's Lambdas
    with open_catalog(settings) as catalog:
        runs = catalog.list_job_runs()
    assert runs[0].arguments["start_day"] == "2025-11-21"
    assert transformed_rows(settings) == 60


def test_a_partial_start_date_is_refused_not_ignored(settings: Settings, lake: Lake) -> None:
    r = run_workflow(settings, "batch", {"year": 2025, "month": 11})
    assert r.status == "FAILED"
    assert "needs year, month and day (missing: day)" in (r.cause or "")
    with open_catalog(settings) as catalog:
        assert catalog.list_job_runs() == []  # no transform was started


def test_batch_sync_variant(settings: Settings, lake: Lake) -> None:
    r = run_workflow(settings, "batch-sync", {})
    assert r.status == "SUCCEEDED", (r.error, r.cause)
    assert r.output["Transform"]["JobRunState"] == "SUCCEEDED"
    assert r.output["Transform"]["RowsWritten"] == 60
    assert r.output["TransformedCrawl"]["CrawlerStatus"] == "SUCCEEDED"


def test_crawler_failure_ends_in_the_fail_state(settings: Settings, lake: Lake) -> None:
    # a file whose column type clashes with the table's fails the crawl (unreadable files are
    # only skipped and noted)
    t = raw_rows(2)
    i = t.schema.get_field_index("tijd_waarneming")
    t = t.set_column(i, "tijd_waarneming", t["tijd_waarneming"].cast(pa.string()))
    with lake.open_atomic("raw/year=2025/month=11/day=21/hour=1/miv-1-corrupt.parquet") as out:
        pq.write_table(t, out)
    r = run_workflow(settings, "batch", {})
    assert (r.status, r.error) == ("FAILED", "DataCrawlerFailed")
    assert "corrupt" in r.cause
    assert state_names(settings, r.id)[-1] == "DataCrawlerFailed"
    r = run_workflow(settings, "batch-sync", {})
    assert (r.status, r.error) == ("FAILED", "CrawlFailedError")
    assert "corrupt" in r.cause

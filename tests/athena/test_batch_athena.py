"""The shipped ``batch-athena`` state machine: the seed's part-3 flow on the embedded defaults -
crawl the raw table, the seed's INSERT INTO in the Lambda's ranges through the Athena task
resource, wait for every query."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

from trafficlake.athena.engine import AthenaSession
from trafficlake.athena.seed import insert_queries
from trafficlake.catalog import open_catalog
from trafficlake.config import Settings
from trafficlake.miv.simulator import Simulator
from trafficlake.storage import Lake
from trafficlake.workflow.library import run_workflow

sys.path.insert(0, str(Path(__file__).parents[1] / "transform"))
from transform_lakes import T0, LakeHarness, day_of, with_arrival

TARGET = "traffic.sls_data_pipelines_batch_transformed"


@pytest.mark.slow
def test_batch_athena_runs_the_seeds_flow(settings: Settings) -> None:
    lake = Lake.from_settings(settings)
    tl = LakeHarness(settings, lake)
    sim = Simulator(seed=3, lanes=60, clean=False)  # ids 30..89: the seed's 32 and 37 among them
    for day in (0, 1):
        tl.land(with_arrival(pa.Table.from_batches(list(sim.minutes(T0 + day * 86400, 1440)))))
    first, last = day_of(T0), day_of(T0 + 86400)
    result = run_workflow(settings, "batch-athena", {
        "year": first.year, "month": first.month, "day": first.day, "until": last.isoformat()})  # fmt: skip
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert [q["State"] for q in result.output["Queries"]] == ["SUCCEEDED"]
    with open_catalog(settings) as cat:
        parts = cat.list_partitions("traffic", "sls_data_pipelines_batch_transformed")
        assert len(parts) == 48  # two days, hourly
        session = AthenaSession(settings, cat, lake, database="traffic")
        try:
            (query,) = insert_queries({"year": first.year, "month": first.month, "day": first.day,
                                       "until": last.isoformat(), "Source": "traffic.raw"})["Queries"]  # fmt: skip
            select = query[query.index("SELECT") :]
            expected = sorted(session.execute(select).rows)
            got = sorted(session.execute(f"SELECT * FROM {TARGET}").rows)
        finally:
            session.close()
    assert got == expected and len(got) > 2000

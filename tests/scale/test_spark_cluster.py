"""The Spark engine on a REAL standalone cluster (master + 2 workers on loopback)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from trafficlake.transform.spark import get_spark_session

pytestmark = [pytest.mark.spark, pytest.mark.cluster]


def _cluster_conf(spark_conf: dict[str, str]) -> dict[str, str]:
    return {**spark_conf, "spark.executor.memory": "512m", "spark.cores.max": "2"}


def test_cluster_runs_sql_on_two_executors(spark_cluster: Any, spark_conf: dict[str, str]) -> None:
    spark = get_spark_session(spark_cluster.master_url, _cluster_conf(spark_conf))
    assert spark.sparkContext.master == spark_cluster.master_url
    n = spark.range(0, 100_000, numPartitions=4).selectExpr("sum(id) AS s").collect()[0]["s"]
    assert n == 100_000 * 99_999 // 2
    with urllib.request.urlopen(spark_cluster.webui_url + "/json/", timeout=5) as resp:
        state = json.loads(resp.read())
    assert sum(1 for w in state["workers"] if w["state"] == "ALIVE") == 2
    app = next(a for a in state["activeapps"] if a["name"] == "trafficlake")
    assert app["cores"] == 2  # one core on each worker: executors on both


def test_multi_day_transform_on_the_cluster_equals_duckdb(
    tmp_path: Path, spark_cluster: Any, spark_conf: dict[str, str], scale: Any
) -> None:
    from trafficlake.miv.simulator import Simulator

    duck = scale.PipelineLake(scale.pipeline_settings(tmp_path / "duckdb"))
    spark = scale.PipelineLake(
        scale.pipeline_settings(
            tmp_path / "cluster",
            extra={"transform": {"chunk_days": "3"}},
            master=spark_cluster.master_url,
            conf=_cluster_conf(spark_conf),
        )
    )
    sim = Simulator(seed=8, lanes=16, clean=False)
    start = scale.BASE_DAY - 2 * 3600  # 22:00 the day before -> 02:00 the day after
    events = pa.Table.from_batches(list(sim.minutes(start, 1440 + 4 * 60)))
    arrival = pc.multiply(pc.add(events["tijd_waarneming"], 75), 1000).cast(pa.int64())
    raw = events.append_column("arrival_time", arrival)
    for p in (duck, spark):
        p.land(raw)
        p.crawl()
    a = duck.transform(engine="duckdb")
    b = spark.transform(engine="spark")
    assert {"2026-11-20", "2026-11-21", "2026-11-22"} <= set(a.result["days"])
    assert a.result["days"] == b.result["days"]
    assert b.result["chunks"] < a.result["chunks"]  # consecutive days in one Spark job
    out = duck.output()
    scale.assert_same_rows(out, spark.output())
    current = events.filter(pc.equal(events["actueel_publicatie"], 1))
    sections = pc.count_distinct(current["lve_nr"]).as_py()
    assert out.num_rows > 0.9 * sections * (1440 + 4 * 60)  # (almost) every section-minute

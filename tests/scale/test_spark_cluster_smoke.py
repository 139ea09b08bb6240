"""The standalone cluster fixture really is a cluster: two workers, executors on both."""

from __future__ import annotations

import json
import urllib.request

import pytest

from trafficlake.transform.spark import get_spark_session

pytestmark = [pytest.mark.spark, pytest.mark.cluster]


def test_cluster_runs_sql_on_two_executors(spark_cluster, spark_conf: dict[str, str]) -> None:
    conf = {**spark_conf, "spark.executor.memory": "512m"}
    spark = get_spark_session(spark_cluster.master_url, conf)
    assert spark.sparkContext.master == spark_cluster.master_url
    n = spark.range(0, 100_000, numPartitions=4).selectExpr("sum(id) AS s").collect()[0]["s"]
    assert n == 100_000 * 99_999 // 2
    with urllib.request.urlopen(spark_cluster.webui_url + "/json/", timeout=5) as resp:
        state = json.loads(resp.read())
    assert sum(1 for w in state["workers"] if w["state"] == "ALIVE") == 2
    assert any(app["name"] == "trafficlake" for app in state["activeapps"])

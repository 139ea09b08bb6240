"""With the Spark engine, planning's exact-days probe runs on Spark too: the driver reads no
raw data with DuckDB."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from transform_lakes import DAY, T0, LakeHarness, day_of, lane_rows

from trafficlake.transform.duckdb import DuckDBEngine

pytestmark = pytest.mark.spark

CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "1g",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


def test_spark_run_plans_with_spark(
    tlake: LakeHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyspark")
    from trafficlake.transform.spark import JavaNotFoundError, get_spark_session

    conf = {**CONF, "spark.sql.warehouse.dir": str(tmp_path / "warehouse")}
    try:
        get_spark_session("local[2]", conf)
    except JavaNotFoundError as exc:
        pytest.skip(str(exc))
    s = tlake.settings
    tlake.settings = s.replace(spark=replace(s.spark, master="local[2]", conf=conf))
    lanes = [(1, 1), (2, 1)]
    tlake.land(lane_rows(lanes, range(T0 + 2 * DAY, T0 + 2 * DAY + 600, 60)))
    # late data: minutes of day T0 arriving two days later (read exactly by the probe), and
    # stale republishes of T0 - 3 days (which trigger no rebuild by themselves)
    tlake.land(lane_rows(lanes, range(T0, T0 + 600, 60), arrival_delay_s=2 * DAY))
    tlake.land(
        lane_rows(
            lanes,
            range(T0 - 3 * DAY, T0 - 3 * DAY + 300, 60),
            arrival_delay_s=5 * DAY,
            actueel_publicatie=0,
        )
    )
    tlake.crawl()

    def tripwire(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("DuckDB used by a Spark run")

    monkeypatch.setattr(DuckDBEngine, "event_days", tripwire)
    monkeypatch.setattr(DuckDBEngine, "run", tripwire)
    run = tlake.transform(engine="spark")
    assert run.result["engine"] == "spark"
    assert run.result["days"] == [day_of(T0).isoformat(), day_of(T0 + 2 * DAY).isoformat()]
    assert len(tlake.rows()) == 20

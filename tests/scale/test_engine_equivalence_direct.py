"""Both engines run the same rendered SQL over the same files and stage the same rows."""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq
import pytest

from trafficlake.config import Settings
from trafficlake.storage import Lake
from trafficlake.transform.duckdb import DuckDBEngine
from trafficlake.transform.engine import OUTPUT_COLUMNS
from trafficlake.transform.spark import SparkEngine
from trafficlake.transform.sql import render_traffic_sql

pytestmark = pytest.mark.spark


def _spark_settings(settings: Settings, conf: dict[str, str]) -> Settings:
    from dataclasses import replace

    return settings.replace(spark=replace(settings.spark, master="local[2]", conf=conf))


def test_same_sql_same_rows(settings: Settings, spark_local: Any, spark_conf, scale) -> None:
    lake = Lake.from_settings(settings)
    day = scale.BASE_DAY
    # two arrival files that overlap the day boundary, one with republished (newer) minutes
    first = scale.raw_minutes(start=day - 40 * 60, minutes=80, seed=1)
    second = scale.raw_minutes(start=day + 20 * 60, minutes=30, seed=2, arrival_delay_s=900)
    for name, table in (("a", first), ("b", second)):
        with lake.open_atomic(f"raw/year=2026/month=11/day=21/hour=0/{name}.parquet") as out:
            pq.write_table(table, out)
    files = [lake.uri(f.key) for f in lake.list("raw")]
    sql = render_traffic_sql(start=day, end=day + scale.DAY, jam_threshold=40.0)

    duck = DuckDBEngine(settings, lake, threads=2)
    spark = SparkEngine(_spark_settings(settings, spark_conf), lake)
    try:
        staged_duck = duck.run(sql, files, lake.uri("staging/duck"))
        staged_spark = spark.run(sql, files, lake.uri("staging/spark"))
    finally:
        duck.close()
        spark.close()

    assert (
        {s.values for s in staged_duck}
        == {s.values for s in staged_spark}
        == {
            ("2026", "11", "21", "0"),
        }
    )
    assert sum(s.row_count for s in staged_spark) == sum(s.row_count for s in staged_duck) > 0
    left = scale.read_output(lake, "staging/duck")
    right = scale.read_output(lake, "staging/spark")
    assert set(left.column_names) == {c for c, _ in OUTPUT_COLUMNS} | {
        "year",
        "month",
        "day",
        "hour",
    }
    scale.assert_same_rows(left, right)
    # data files hold the data columns only; the partition keys are in the folders
    one = pq.read_schema(lake.path(staged_spark[0].key))
    assert [f.name for f in one] == [c for c, _ in OUTPUT_COLUMNS]
    other = pq.read_schema(lake.path(staged_duck[0].key))
    assert [(f.name, f.type) for f in one] == [(f.name, f.type) for f in other]


def test_event_days_probe_agrees(settings: Settings, spark_local: Any, spark_conf, scale) -> None:
    """``event_days`` (planning's exact-days probe, run by the run's engine) gives the same
    days on both, stale republishes left out."""
    import pyarrow as pa
    import pyarrow.compute as pc

    lake = Lake.from_settings(settings)
    day = scale.BASE_DAY
    table = scale.raw_minutes(start=day - 30 * 60, minutes=20, seed=3)  # 23:30..23:49
    stale = scale.raw_minutes(start=day - 5 * scale.DAY, minutes=3, seed=4)
    stale = stale.set_column(
        stale.schema.get_field_index("actueel_publicatie"),
        "actueel_publicatie",
        pc.cast(pa.array([0] * stale.num_rows), stale.schema.field("actueel_publicatie").type),
    )
    with lake.open_atomic("raw/year=2026/month=11/day=21/hour=1/x.parquet") as out:
        pq.write_table(pa.concat_tables([table, stale]), out)
    files = [lake.uri(f.key) for f in lake.list("raw")]
    duck = DuckDBEngine(settings, lake, threads=1)
    spark = SparkEngine(_spark_settings(settings, spark_conf), lake)
    try:
        days = duck.event_days(files)
        assert spark.event_days(files) == days
    finally:
        duck.close()
        spark.close()
    # the rows' own day, and the next day reached through its 19-minute look-back; the stale
    # republishes of five days before trigger nothing
    assert days == ({day // scale.DAY - 1}, {day // scale.DAY})

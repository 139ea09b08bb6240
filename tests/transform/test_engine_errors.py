"""Engine errors are typed by condition, the same on both engines, all TransformErrors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from transform_lakes import LakeHarness

from trafficlake.transform.engine import EmptyReadSetError, Engine, TransformError, open_engine

SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.memory": "1g",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


def _open(name: str, tlake: LakeHarness, tmp_path: Path) -> Engine:
    if name == "duckdb":
        return open_engine(name, tlake.settings, tlake.lake, threads=1)
    pytest.importorskip("pyspark")
    from trafficlake.transform.spark import JavaNotFoundError

    conf = {**SPARK_CONF, "spark.sql.warehouse.dir": str(tmp_path / "warehouse")}
    settings = tlake.settings.replace(
        spark=replace(tlake.settings.spark, master="local[1]", conf=conf)
    )
    try:
        return open_engine(name, settings, tlake.lake, threads=1)
    except JavaNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("name", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_no_input_files_is_the_same_error_on_both_engines(
    tlake: LakeHarness, tmp_path: Path, name: str
) -> None:
    engine = _open(name, tlake, tmp_path)
    try:
        with pytest.raises(EmptyReadSetError, match=r"^no input files for the transform$") as info:
            engine.run("SELECT 1", [], tlake.lake.uri("transformed/_staging/none"))
        assert isinstance(info.value, TransformError)
    finally:
        engine.close()


def test_spark_errors_are_transform_errors() -> None:
    from trafficlake.transform import spark  # pyspark itself is imported only when used

    for error in (spark.JavaNotFoundError, spark.SparkStartError, spark.S3ConnectorMissingError):
        assert issubclass(error, TransformError)

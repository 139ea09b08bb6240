"""Spark on S3: the generated s3a configuration reaches the session; without the hadoop-aws jar
(which cannot be fetched here) the engine stops early with the line to add. Reading and writing
S3 from Spark is NOT exercised here."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from trafficlake.config import Settings
from trafficlake.storage import Lake
from trafficlake.transform.spark import (
    S3ConnectorMissingError,
    SparkEngine,
    hadoop_aws_package,
    spark_conf_for,
)

pytestmark = [pytest.mark.spark, pytest.mark.s3]


def test_spark_conf_for_an_s3_lake(s3_settings: Settings) -> None:
    s = s3_settings.replace(
        spark=replace(s3_settings.spark, conf={"spark.hadoop.fs.s3a.connection.maximum": "50"})
    )
    conf = spark_conf_for(s)
    assert conf["spark.hadoop.fs.s3a.endpoint"] == s3_settings.s3.endpoint_url
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3a.connection.maximum"] == "50"  # user conf on top


def test_spark_conf_for_a_local_lake_has_no_s3a(settings: Settings) -> None:
    assert not any(k.startswith("spark.hadoop.fs.s3a") for k in spark_conf_for(settings))


def test_missing_hadoop_aws_is_a_clear_error(
    s3_settings: Settings, spark_local: Any, spark_conf: dict[str, str]
) -> None:
    s = s3_settings.replace(spark=replace(s3_settings.spark, master="local[2]", conf=spark_conf))
    with pytest.raises(S3ConnectorMissingError, match=r"spark\.jars\.packages") as err:
        SparkEngine(s, Lake.from_settings(s))
    assert hadoop_aws_package() in str(err.value)
    # the s3a settings were applied to the running session's Hadoop configuration
    hadoop = spark_local.sparkContext._jsc.hadoopConfiguration()
    assert hadoop.get("fs.s3a.endpoint") == s3_settings.s3.endpoint_url
    assert hadoop.get("fs.s3a.path.style.access") == "true"

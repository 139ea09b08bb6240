"""The Spark engine: the same transform SQL (``traffic.sql``) executed by Spark SQL.

pyspark is an optional extra and is imported only here. The driver never touches the data:
executors read the planned raw files (``spark.read.parquet(*uris)`` with the raw schema) and
write the staged, hour-partitioned output themselves; the shared commit step publishes it.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trafficlake.errors import MissingExtraError, TrafficlakeError

if TYPE_CHECKING:
    from trafficlake.config import Settings

JAVA_FIX = "install a Java 17+ runtime, e.g. apt-get install openjdk-17-jre-headless"

BASE_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.ui.showConsoleProgress": "false",
}
"""Always set: UTC event time, zstd Parquet like the rest of the lake."""


class JavaNotFoundError(TrafficlakeError):
    """Spark needs a Java runtime and none was found."""

    def __init__(self) -> None:
        super().__init__(f"the Spark engine needs Java and none was found: {JAVA_FIX}")


class SparkStartError(TrafficlakeError):
    """The Spark driver could not start or could not reach the master."""


def import_pyspark() -> Any:
    try:
        import pyspark
        import pyspark.sql
    except ImportError:
        raise MissingExtraError("pyspark", "spark") from None
    return pyspark


def check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return
    if shutil.which("java") is None:
        raise JavaNotFoundError()


def hadoop_version() -> str | None:
    """The Hadoop version bundled with pyspark (for the matching hadoop-aws package)."""
    pyspark = import_pyspark()
    jars = Path(pyspark.__file__).parent / "jars"
    for jar in sorted(jars.glob("hadoop-client-api-*.jar")):
        return jar.stem.removeprefix("hadoop-client-api-")
    return None


def hadoop_aws_package() -> str:
    """The ``spark.jars.packages`` coordinate Spark needs to read ``s3a://``."""
    return f"org.apache.hadoop:hadoop-aws:{hadoop_version() or '<hadoop version>'}"


_session_lock = threading.Lock()


def get_spark_session(master: str, conf: dict[str, str] | None = None) -> Any:
    """A SparkSession on ``master``, reused while the master stays the same.

    A session on another master is stopped first (one SparkContext per process). On a reused
    session only runtime SQL settings (``spark.sql.*``) from ``conf`` are applied.
    """
    import_pyspark()
    check_java()
    from pyspark.sql import SparkSession

    conf = {**BASE_CONF, **(conf or {})}
    with _session_lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            if active.sparkContext.master == master:
                for key, value in conf.items():
                    if key.startswith("spark.sql.") and not key.startswith("spark.sql.warehouse"):
                        active.conf.set(key, value)
                return active
            active.stop()
        builder = SparkSession.builder.master(master).appName("trafficlake")
        for key, value in conf.items():
            builder = builder.config(key, value)
        try:
            return builder.getOrCreate()
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SparkStartError(f"cannot start Spark on {master}: {first}") from None


def spark_conf_for(settings: Settings) -> dict[str, str]:
    """Conf for a run: the s3a settings for an S3 lake, then ``settings.spark.conf`` on top."""
    from trafficlake.s3 import is_s3_url, spark_s3a_conf

    conf: dict[str, str] = {}
    if is_s3_url(settings.lake_url):
        conf.update(spark_s3a_conf(settings))
    conf.update(settings.spark.conf)
    return conf

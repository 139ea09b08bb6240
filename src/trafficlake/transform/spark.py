"""The Spark engine: the same transform SQL (``traffic.sql``) executed by Spark SQL.

pyspark is an optional extra and is imported only here. The driver never touches the data:
executors read the planned raw files (``spark.read.parquet(*uris)`` with the raw schema) and
write the staged, hour-partitioned output themselves; the shared commit step publishes it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trafficlake.errors import MissingExtraError, first_line
from trafficlake.s3 import to_s3a
from trafficlake.transform.engine import (
    PARTITION_KEYS,
    EmptyReadSetError,
    StagedFile,
    TransformError,
)
from trafficlake.transform.spark_jvm import driver_java_options, write_archive
from trafficlake.transform.sql import event_days_sql
from trafficlake.transform.staged import collect_staged

if TYPE_CHECKING:
    from trafficlake.config import Settings
    from trafficlake.storage import Lake

JAVA_FIX = "install a Java 17+ runtime, e.g. apt-get install openjdk-17-jre-headless"

BASE_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.ui.showConsoleProgress": "false",
}
"""Always set: UTC event time, zstd Parquet like the rest of the lake."""


class JavaNotFoundError(TransformError):
    """Spark needs a Java runtime and none was found."""

    def __init__(self) -> None:
        super().__init__(f"the Spark engine needs Java and none was found: {JAVA_FIX}")


class SparkStartError(TransformError):
    """The Spark driver could not start or could not reach the master."""


class S3ConnectorMissingError(TransformError):
    """The lake is on S3 but Spark has no s3a connector (the hadoop-aws jar)."""


def import_pyspark() -> Any:
    try:
        import pyspark
        import pyspark.java_gateway
        import pyspark.sql
    except ImportError:
        raise MissingExtraError("pyspark", "spark") from None
    pyspark.java_gateway.Popen = _popen_in_new_session  # type: ignore[misc,assignment]
    return pyspark


def _popen_in_new_session(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
    """How pyspark starts the JVM, without Python code in the forked child.

    pyspark passes ``preexec_fn`` only to make the JVM ignore Ctrl-C; a ``preexec_fn`` makes the
    child run the interpreter's after-fork hooks, which crashes the child in a process with many
    threads (seen: a segfault and ``JAVA_GATEWAY_EXITED`` under the endpoint's and DuckDB's
    threads). A new session keeps Ctrl-C away from the JVM too, and is done in C. The JVM's
    stdout goes to our stderr (its log does already), so what it prints (e.g. when it writes
    the class archive of :mod:`~trafficlake.transform.spark_jvm`) never mixes with a command's
    ``--json`` output.
    """
    kwargs.pop("preexec_fn", None)
    kwargs["start_new_session"] = True
    kwargs.setdefault("stdout", 2)
    return subprocess.Popen(*args, **kwargs)


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
_pending_archive: Path | None = None
"""The class-data sharing archive the running session writes when it stops (spark_jvm)."""


def current_session() -> Any:
    """The process's running SparkSession, or None (whatever thread created it)."""
    if "pyspark" not in sys.modules:
        return None
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    if SparkContext._active_spark_context is None:
        return None
    return SparkSession.builder.getOrCreate()


_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def loopback_driver_conf(master: str) -> dict[str, str]:
    """Keep the driver on 127.0.0.1 for ``local[...]`` and loopback masters.

    Left alone, Spark binds its driver to the host's first non-loopback address (and says so in
    a warning). For a remote ``spark://`` master nothing is set: its executors must reach the
    driver, so the host's own address is right there. ``SPARK_LOCAL_IP`` or ``spark.driver.*``
    in ``[spark.conf]`` override this.
    """
    if os.environ.get("SPARK_LOCAL_IP"):
        return {}
    host = ""
    if master.startswith("spark://"):
        host = master[len("spark://") :].split(",")[0].rsplit(":", 1)[0]
    if master.startswith("local") or host in _LOOPBACK_HOSTS:
        return {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    return {}


def get_spark_session(master: str, conf: dict[str, str] | None = None) -> Any:
    """A SparkSession on ``master``, reused while the master stays the same.

    A session on another master is stopped first (one SparkContext per process). On a reused
    session only runtime settings from ``conf`` are applied: ``spark.sql.*`` and the Hadoop
    ``spark.hadoop.*`` ones (such as the s3a settings).
    """
    global _pending_archive
    import_pyspark()
    check_java()
    from pyspark.sql import SparkSession

    loopback = loopback_driver_conf(master)
    if loopback:
        # Also for the JVM's own address lookup (block manager, its startup warning).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf = {**BASE_CONF, **loopback, **(conf or {})}
    with _session_lock:
        active = current_session()
        if active is not None:
            if active.sparkContext.master == master:
                hadoop = active.sparkContext._jsc.hadoopConfiguration()
                for key, value in conf.items():
                    if key.startswith("spark.hadoop."):
                        hadoop.set(key[len("spark.hadoop.") :], value)
                    elif key.startswith("spark.sql.") and not key.startswith("spark.sql.warehouse"):
                        active.conf.set(key, value)
                return active
            _stop(active)
        conf, _pending_archive = driver_java_options(conf)
        if _pending_archive is not None:
            atexit.register(_write_archive_at_exit)
        builder = SparkSession.builder.master(master).appName("trafficlake")
        for key, value in conf.items():
            builder = builder.config(key, value)
        try:
            return builder.getOrCreate()
        except Exception as exc:
            raise SparkStartError(f"cannot start Spark on {master}: {first_line(exc)}") from None


def check_s3a(spark: Any) -> None:
    """Fail early, with the fix, when Spark cannot load Hadoop's S3A filesystem."""
    jvm = spark._jvm
    try:
        # the context class loader also sees jars added by spark.jars / spark.jars.packages
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        loader.loadClass("org.apache.hadoop.fs.s3a.S3AFileSystem")
    except Exception:
        raise S3ConnectorMissingError(
            "Spark cannot read s3:// lakes without the hadoop-aws jar: add "
            f'"spark.jars.packages" = "{hadoop_aws_package()}" under [spark.conf]'
        ) from None


def spark_conf_for(settings: Settings) -> dict[str, str]:
    """Conf for a run: the s3a settings for an S3 lake, then ``settings.spark.conf`` on top."""
    from trafficlake.s3 import is_s3_url, spark_s3a_conf

    conf: dict[str, str] = {}
    if is_s3_url(settings.lake_url):
        conf.update(spark_s3a_conf(settings))
    conf.update(settings.spark.conf)
    return conf


# ---- the engine ------------------------------------------------------------------------------
_SPARK_TYPES = {"string": "STRING", "int8": "TINYINT", "int32": "INT", "int64": "BIGINT"}


def raw_schema_ddl() -> str:
    """RAW_SCHEMA as a Spark DDL schema string (the types every raw file is read as)."""
    from trafficlake.schema import RAW_SCHEMA

    cols = []
    for f in RAW_SCHEMA:
        spark_type = _SPARK_TYPES.get(str(f.type))
        if spark_type is None:  # pragma: no cover - guards a future schema change
            raise TransformError(f"no Spark type for raw column {f.name} ({f.type})")
        cols.append(f"`{f.name}` {spark_type}")
    return ", ".join(cols)


class SparkEngine:
    """Runs the rendered transform SQL on Spark SQL (``settings.spark.master``)."""

    name = "spark"
    concurrent_chunks = False

    def __init__(
        self, settings: Settings, lake: Lake, *, threads: int = 1, parallel_chunks: int = 1
    ) -> None:
        # threads / parallel_chunks size DuckDB; Spark's parallelism is its master's cores.
        self.settings = settings
        self.lake = lake
        self.spark = get_spark_session(settings.spark.master, spark_conf_for(settings))
        if not lake.is_local:
            check_s3a(self.spark)

    def read_raw(self, input_files: Sequence[str]) -> Any:
        """The raw read set as a DataFrame with exactly the raw columns and types.

        Files are named one by one (no folder listing, no Hive partition columns from the
        arrival-time folders); a column missing from older files reads as NULL.
        """
        from pyspark.sql import functions as F

        from trafficlake.schema import RAW_SCHEMA

        if not input_files:
            raise EmptyReadSetError()
        uris = [to_s3a(u) for u in input_files]
        df = self.spark.read.schema(raw_schema_ddl()).parquet(*uris)
        return df.select(
            *[F.col(f.name).cast(_SPARK_TYPES[str(f.type)]).alias(f.name) for f in RAW_SCHEMA]
        )

    def run(self, sql: str, input_files: Sequence[str], output_uri: str) -> list[StagedFile]:
        staging_key = self.lake.key_of(output_uri)
        self.read_raw(input_files).createOrReplaceTempView("raw_input")
        out = self.spark.sql(sql)
        # One task per hour partition, so each staged hour is one file (not one per task).
        (
            out.repartition(*PARTITION_KEYS)
            .write.partitionBy(*PARTITION_KEYS)
            .mode("overwrite")
            .parquet(to_s3a(output_uri))
        )
        return collect_staged(self.lake, staging_key)

    def event_days(self, input_files: Sequence[str]) -> tuple[set[int], set[int]]:
        """Planning's exact-days probe, run by Spark (the driver reads no data): the same
        query and stale-republish rule as the DuckDB engine (:func:`~trafficlake.transform.sql.event_days_sql`)."""
        self.read_raw(input_files).createOrReplaceTempView("raw_days")
        rows = self.spark.sql(event_days_sql("raw_days")).collect()
        return {int(r["d"]) for r in rows}, {int(r["s"]) for r in rows if r["s"] != r["d"]}

    def close(self) -> None:
        """Keep the session: starting Spark is expensive and it is reused by the next run."""
        with contextlib.suppress(Exception):
            self.spark.catalog.dropTempView("raw_input")
            self.spark.catalog.dropTempView("raw_days")


def stop_spark() -> None:
    """Stop the process's Spark session, if any (a process that just exits leaves its JVM to
    exit with it)."""
    with _session_lock:
        active = current_session()
        if active is not None:
            _stop(active)


def _write_archive_at_exit() -> None:
    """A process that ends without :func:`stop_spark` (the CLI) writes the class archive its
    session was started to write before the JVM goes with it (once per install)."""
    global _pending_archive
    with _session_lock:
        active = current_session() if _pending_archive is not None else None
        if active is not None and _pending_archive is not None:
            write_archive(active, _pending_archive)
        _pending_archive = None


def _stop(session: Any) -> None:
    """Stop ``session``, first writing the class archive it was started to write."""
    global _pending_archive
    if _pending_archive is not None:
        write_archive(session, _pending_archive)
        _pending_archive = None
    session.stop()

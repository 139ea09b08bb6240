"""The engine contract of the traffic transform: what an engine is given and must return.

The SQL both engines run is :mod:`trafficlake.transform.sql`; reading back what an engine
wrote is :mod:`trafficlake.transform.staged`.

Contract for engine implementers (DuckDB here, Spark in ``transform/spark.py``)
-------------------------------------------------------------------------------
An engine executes ONE chunk at a time: ``run(sql, input_files, output_uri)``.

- ``sql`` is :func:`trafficlake.transform.sql.render_traffic_sql` output: a single SELECT over a view named
  ``raw_input``. The engine exposes ``input_files`` (full URIs from ``Lake.uri``: absolute paths
  or ``s3://``) as that view WITHOUT Hive partition discovery (the raw folders hold arrival-time
  keys, which must not become columns), merging schemas by column name. Spark:
  ``spark.read.option("mergeSchema", "true").parquet(*input_files)
  .createOrReplaceTempView("raw_input")`` then ``spark.sql(sql)``.
- The result has the columns of :data:`OUTPUT_COLUMNS` plus ``year, month, day, hour``. The
  engine writes it as Parquet partitioned by ``year, month, day, hour`` under ``output_uri``
  (a staging folder; Hive ``key=value`` folders, unpadded integers, partition columns NOT
  inside the files, any file names ending in ``.parquet``). Spark:
  ``df.write.partitionBy("year","month","day","hour").mode("overwrite").parquet(output_uri)``.
  Files starting with ``_`` or ``.`` (``_SUCCESS``, ``.crc``) are ignored.
- It returns the staged data files as :class:`StagedFile` - the easiest way is
  ``return collect_staged(lake, lake.key_of(output_uri))``
  (:mod:`trafficlake.transform.staged`), which lists the folder and reads the
  Parquet footers. Writing nothing (no rows) is fine: return ``[]``.
- ``concurrent_chunks``: True when the shared runner may call ``run`` from several threads at
  once (DuckDB: one connection per call). Spark sets it False: chunks run one after the other
  and Spark parallelises inside a chunk.
- Construction: ``<Engine>(settings, lake, threads=...)``; ``close()`` releases resources.
  The factory :func:`open_engine` imports ``trafficlake.transform.spark`` lazily and expects a
  class named ``SparkEngine`` there.

Everything else - planning, staging folders, moving staged files to their final keys, the ONE
catalog commit, deleting replaced files, bookmarks and job runs - is shared code
(:mod:`trafficlake.transform.commit`, :mod:`trafficlake.transform.runs`).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from trafficlake.errors import MissingExtraError, TrafficlakeError

if TYPE_CHECKING:
    from trafficlake.config import Settings
    from trafficlake.storage import Lake

PARTITION_KEYS = ("year", "month", "day", "hour")

OUTPUT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("uniqueId", "int"),
    ("recordTimestamp", "bigint"),
    ("currentSpeed", "double"),
    ("bezettingsgraad", "int"),
    ("previousSpeed", "double"),
    ("trafficJamIndicator", "int"),
    ("trafficJamIndicatorLong", "int"),
    ("trafficIntensityClass2", "int"),
    ("trafficIntensityClass3", "int"),
    ("trafficIntensityClass4", "int"),
    ("trafficIntensityClass5", "int"),
    ("speedDiffIndicator", "int"),
    ("avgSpeed3Minutes", "double"),
    ("avgSpeed20Minutes", "double"),
    ("lve_nr", "int"),
    ("laneCount", "int"),
    ("vehicleCount", "int"),
    ("occupancy", "double"),
    ("harmonicSpeed", "double"),
)
"""Data columns of ``traffic.transformed`` with their Hive types (partition keys excluded)."""


class TransformError(TrafficlakeError):
    """Base of transform errors."""


class UnknownEngineError(TransformError):
    pass


class EmptyReadSetError(TransformError):
    """An engine was given no raw files to read (the plan never asks for that)."""

    def __init__(self) -> None:
        super().__init__("no input files for the transform")


@dataclass(frozen=True)
class StagedFile:
    key: str
    """Lake-relative key of the file as the engine wrote it (under the staging folder)."""
    values: tuple[str, ...]
    """The partition values, e.g. (year, month, day, hour), as unpadded strings."""
    size: int
    row_count: int
    stats: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """column -> (min, max) from the footer, e.g. ``recordTimestamp``."""


class Engine(Protocol):
    name: str
    concurrent_chunks: bool

    def run(self, sql: str, input_files: Sequence[str], output_uri: str) -> list[StagedFile]:
        """Run the rendered SQL over ``input_files`` and write partitioned Parquet under
        ``output_uri``; return the files written."""
        ...

    def event_days(self, input_files: Sequence[str]) -> tuple[set[int], set[int]]:
        """The exact-days probe of planning: (UTC epoch days of the rows of these raw files,
        epoch days whose 19-minute look-back they fall in), leaving out stale republishes
        (``actueel_publicatie = 0``) - see :mod:`trafficlake.transform.plan`; the query is
        :func:`trafficlake.transform.sql.event_days_sql`."""
        ...

    def close(self) -> None: ...


# ---- factory -----------------------------------------------------------------------------------

ENGINES = ("duckdb", "spark")


def open_engine(
    name: str, settings: Settings, lake: Lake, *, threads: int, parallel_chunks: int = 1
) -> Engine:
    """Construct the named engine (``threads`` per chunk; ``parallel_chunks`` chunks may run at
    once and share the memory limit); Spark is imported lazily."""
    if name == "duckdb":
        from trafficlake.transform.duckdb import DuckDBEngine

        return DuckDBEngine(settings, lake, threads=threads, parallel_chunks=parallel_chunks)
    if name == "spark":
        try:
            module = importlib.import_module("trafficlake.transform.spark")
        except ModuleNotFoundError as exc:
            if exc.name == "pyspark":
                raise MissingExtraError("pyspark", "spark") from None
            raise UnknownEngineError(
                "the Spark engine (trafficlake.transform.spark) is not available in this install"
            ) from None
        engine: Engine = module.SparkEngine(settings, lake, threads=threads)
        return engine
    raise UnknownEngineError(f"unknown transform engine {name!r}: use one of {', '.join(ENGINES)}")

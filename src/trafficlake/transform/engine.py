"""The engine contract of the traffic transform, and the SQL renderer both engines share.

Contract for engine implementers (DuckDB here, Spark in ``transform/spark.py``)
-------------------------------------------------------------------------------
An engine executes ONE chunk at a time: ``run(sql, input_files, output_uri)``.

- ``sql`` is :func:`render_traffic_sql` output: a single SELECT over a view named
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
  ``return collect_staged(lake, lake.key_of(output_uri))``, which lists the folder and reads the
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
import importlib.resources
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow.parquet as pq

from trafficlake.errors import MissingExtraError, TrafficlakeError

if TYPE_CHECKING:
    from trafficlake.config import Settings
    from trafficlake.storage import Lake

LOOKBACK_SECONDS = 1140
"""19 minutes: the 20-minute window of the first minute of a day reaches back this far."""

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


class SqlParameterError(TransformError):
    pass


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
        (``actueel_publicatie = 0``) - see :mod:`trafficlake.transform.plan`."""
        ...

    def close(self) -> None: ...


EVENT_DAYS_SQL = (
    "SELECT DISTINCT CAST(FLOOR(tijd_waarneming / 86400) AS BIGINT) AS d, "
    "CAST(FLOOR((tijd_waarneming + 1140) / 86400) AS BIGINT) AS s FROM {view} "
    "WHERE tijd_waarneming IS NOT NULL "
    "AND coalesce(CAST(actueel_publicatie AS INTEGER), 1) <> 0"
)
"""The probe's query (DuckDB and Spark SQL alike) over a view of the raw columns."""


# ---- SQL ---------------------------------------------------------------------------------------

_PARAM = re.compile(r"\{([a-z_]+)\}")


def traffic_sql_template() -> str:
    return (importlib.resources.files("trafficlake.transform") / "traffic.sql").read_text("utf-8")


def render_traffic_sql(
    *, start: int, end: int, jam_threshold: float, locations: Sequence[int] = ()
) -> str:
    """The transform SQL for output rows with event time in ``[start, end)`` (epoch seconds)."""
    if end <= start:
        raise SqlParameterError(f"empty range [{start}, {end})")
    threshold = float(jam_threshold)
    if not 0 <= threshold <= 250:
        raise SqlParameterError(f"jam threshold {jam_threshold} km/h is not within 0..250")
    ids = sorted({int(x) for x in locations})
    params = {
        "start": str(int(start)),
        "end": str(int(end)),
        "lookback_start": str(int(start) - LOOKBACK_SECONDS),
        "jam_threshold": repr(threshold),
        "location_filter": f"unieke_id IN ({', '.join(map(str, ids))})" if ids else "TRUE",
    }

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise SqlParameterError(f"traffic.sql uses unknown parameter {{{name}}}")
        return params[name]

    return _PARAM.sub(substitute, traffic_sql_template())


# ---- staged output -----------------------------------------------------------------------------

_PART_RE = re.compile(r"(?:^|/)year=(\d+)/month=(\d+)/day=(\d+)/hour=(\d+)/[^/]+$")


def collect_staged(lake: Lake, staging_key: str) -> list[StagedFile]:
    """The Parquet files an engine wrote under ``staging_key``, with row counts and the
    min/max of ``recordTimestamp`` from their footers."""
    out: list[StagedFile] = []
    for entry in lake.list(staging_key):
        if not entry.key.endswith(".parquet"):
            continue
        m = _PART_RE.search(entry.key)
        if m is None:
            raise TransformError(f"engine wrote {entry.key!r} outside year/month/day/hour folders")
        values = tuple(str(int(v)) for v in m.groups())
        with lake.fs.open_input_file(lake.path(entry.key)) as f:
            meta = pq.ParquetFile(f).metadata
        stats = _footer_minmax(meta, "recordTimestamp")
        out.append(
            StagedFile(entry.key, values, entry.size, meta.num_rows, stats)  # type: ignore[arg-type]
        )
    return out


def _footer_minmax(meta: pq.FileMetaData, column: str) -> dict[str, tuple[Any, Any]]:
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if column not in names:
        return {}
    idx = names.index(column)
    lo: Any = None
    hi: Any = None
    for rg in range(meta.num_row_groups):
        st = meta.row_group(rg).column(idx).statistics
        if st is None or not st.has_min_max:
            return {}
        lo = st.min if lo is None else min(lo, st.min)
        hi = st.max if hi is None else max(hi, st.max)
    return {column: (lo, hi)} if lo is not None else {}


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

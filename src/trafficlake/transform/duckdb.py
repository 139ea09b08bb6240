"""The DuckDB engine: one in-memory DuckDB database per chunk, bounded memory, spill to disk.

Raw files are read with DuckDB's own Parquet reader and the staged output is written with
``COPY ... PARTITION_BY``, for local and S3 lakes alike: on S3 DuckDB's httpfs extension does the
I/O (configured by :func:`trafficlake.s3.configure_duckdb` from the ``[s3]`` settings).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

import duckdb

from trafficlake.s3 import configure_duckdb
from trafficlake.sqlquote import quote_literal
from trafficlake.transform.engine import EmptyReadSetError, StagedFile, TransformError
from trafficlake.transform.sql import event_days_sql
from trafficlake.transform.staged import collect_staged

if TYPE_CHECKING:
    from trafficlake.config import Settings
    from trafficlake.storage import Lake

_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
_UNITS.update({"kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4})


def parse_memory(text: str) -> int:
    """``"4GB"`` -> bytes (DuckDB's units: KB/MB/GB decimal, KiB/MiB/GiB binary)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", text)
    if m is None or m.group(2).lower() not in _UNITS:
        raise TransformError(f"cannot read memory limit {text!r} (use e.g. 4GB or 512MiB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


class DuckDBEngine:
    """Runs the rendered transform SQL on DuckDB, one fresh database per chunk."""

    name = "duckdb"
    concurrent_chunks = True

    def __init__(
        self, settings: Settings, lake: Lake, *, threads: int, parallel_chunks: int = 1
    ) -> None:
        self.settings = settings
        self.lake = lake
        self.threads = max(1, threads)
        total = parse_memory(settings.transform.memory_limit)
        self.memory_limit_bytes = max(64 * 1024**2, total // max(1, parallel_chunks))
        self.temp_root = tempfile.mkdtemp(prefix="trafficlake-duckdb-")

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        tmp = tempfile.mkdtemp(dir=self.temp_root)
        con.execute(f"SET threads = {self.threads}")
        con.execute(f"SET memory_limit = '{self.memory_limit_bytes}B'")
        con.execute(f"SET temp_directory = {quote_literal(tmp)}")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")
        return con

    def expose_raw(self, con: duckdb.DuckDBPyConnection, input_files: Sequence[str]) -> None:
        """Create the ``raw_input`` view over the given files."""
        if not input_files:
            raise EmptyReadSetError()
        configure_duckdb(con, self.settings)  # S3 lakes: httpfs + a secret; local: no-op
        files = ", ".join(quote_literal(f) for f in input_files)
        con.execute(
            "CREATE OR REPLACE VIEW raw_input AS SELECT * FROM read_parquet("
            f"[{files}], union_by_name = true, hive_partitioning = false)"
        )

    def run(self, sql: str, input_files: Sequence[str], output_uri: str) -> list[StagedFile]:
        staging_key = self.lake.key_of(output_uri)
        con = self.connect()
        try:
            self.expose_raw(con, input_files)
            if self.lake.is_local:
                target = self.lake.path(staging_key)
                os.makedirs(target, exist_ok=True)
            else:
                target = output_uri  # s3://...: DuckDB writes the objects itself (httpfs)
            con.execute(
                f"COPY ({sql}) TO {quote_literal(target)} (FORMAT parquet, COMPRESSION zstd, "
                "PARTITION_BY (year, month, day, hour), OVERWRITE_OR_IGNORE true, "
                "FILENAME_PATTERN 'part-{i}')"
            )
        finally:
            con.close()
        return collect_staged(self.lake, staging_key)

    def event_days(self, input_files: Sequence[str]) -> tuple[set[int], set[int]]:
        """(epoch days of the rows in these raw files, epoch days whose 19-minute look-back
        they fall in), read from the data. Stale republishes (``actueel_publicatie = 0``: the
        feed repeating a minute it already published) are left out."""
        con = self.connect()
        try:
            self.expose_raw(con, input_files)
            rows = con.execute(event_days_sql("raw_input")).fetchall()
        finally:
            con.close()
        return {int(r[0]) for r in rows}, {int(r[1]) for r in rows if r[1] != r[0]}

    def close(self) -> None:
        shutil.rmtree(self.temp_root, ignore_errors=True)

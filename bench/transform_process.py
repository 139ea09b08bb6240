"""One process of the full-day transform figure (``bench/bench_transform.py``), importing only
what it runs: ``python bench/transform_process.py {seed|read} ROOT DAY`` (ROOT: the bench
lake's folder, DAY: the day's first second, epoch).

- seed: the seed's query (transpiled Presto -> DuckDB by sqlglot, exact division, no lane
  filter) as a DuckDB ``COPY ... PARTITION_BY`` over the raw files, the write included;
- read: DuckDB reading the raw columns ``traffic.sql`` uses, of the rows in the read set's
  event-time range (``max()`` of each), nothing written.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent


def main(mode: str, root: str, day_start: int) -> None:
    d = datetime.fromtimestamp(day_start, UTC).date()
    files = sorted(str(p) for p in Path(root, "lake", "raw").rglob("*.parquet"))
    if mode == "seed":
        sys.path.insert(0, str(HERE.parent / "tests" / "transform"))
        from seed_query import seed_select_duckdb, seed_source_connection

        con = seed_source_connection(
            files, settings=["memory_limit = '3GB'", "enable_progress_bar = false"]
        )
        sql = seed_select_duckdb(
            source="seed_source",
            year=d.year,
            month=d.month,
            start_day=d.day,
            end_day=d.day,
            lanes=None,
        )
        out = os.path.join(root, "seed-out")
        con.execute(
            f"COPY ({sql}) TO '{out}' (FORMAT parquet, COMPRESSION zstd, "
            "PARTITION_BY (year, month, day, hour), OVERWRITE_OR_IGNORE true)"
        )
    elif mode == "read":
        from trafficlake.schema import RAW_SCHEMA
        from trafficlake.transform.sql import LOOKBACK_SECONDS, traffic_sql_template

        template = traffic_sql_template()
        needed = [c for c in RAW_SCHEMA.names if re.search(rf"\b{c}\b", template)]
        listed = ", ".join(f"'{f}'" for f in files)
        con = duckdb.connect()
        con.execute("SET memory_limit = '3GB'")
        con.execute("SET enable_progress_bar = false")
        con.execute(
            "SELECT " + ", ".join(f"max({c})" for c in needed) + f" FROM read_parquet([{listed}])"
            f" WHERE tijd_waarneming >= {day_start - LOOKBACK_SECONDS}"
            f" AND tijd_waarneming < {day_start + 86400}"
        ).fetchall()
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))

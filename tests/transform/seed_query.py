"""The seed's Athena INSERT INTO query, verbatim (seed 000, the blog's part 3 draft; its one copy
is the library's ``trafficlake/athena/seed_insert.sql``).

The oracle of the transform tests. :func:`seed_select_duckdb` turns it into a DuckDB SELECT the way the contract
says: exact division, placeholders filled, the lane list replaced, translated by the library's
Athena translator (:mod:`trafficlake.athena.translate`); connections that run it come from
:func:`seed_source_connection` (Athena's session: UTC, Presto division, the helper macros).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb

from trafficlake.athena.seed import SEED_INSERT
from trafficlake.athena.translate import parse_one, prepare_duckdb, to_duckdb

SEED_QUERY = SEED_INSERT


SOURCE_TABLE = '"anpr"."sls_data_pipelines_batch_destination_parquet"'
SEED_LANES = "uniqueId IN (32, 37, 1840, 2125, 3388, 3391, 753, 1065, 3159, 2161, 216, 217, 1132)"
INT_DIVISION = re.compile(
    r"\(voertuigsnelheid_rekenkundig_klasse2 \+ voertuigsnelheid_rekenkundig_klasse3 \+ "
    r"voertuigsnelheid_rekenkundig_klasse4 \+ voertuigsnelheid_rekenkundig_klasse5\)/"
)


def seed_select_duckdb(
    *,
    source: str,
    year: int,
    month: int,
    start_day: int,
    end_day: int,
    lanes: Sequence[int] | None,
) -> str:
    """The seed's SELECT (without INSERT INTO) in DuckDB SQL, over the table/view ``source``.

    ``lanes=None`` drops the lane filter (all lanes)."""
    sql = SEED_QUERY
    assert sql.startswith("INSERT INTO")
    sql = sql[sql.index("SELECT") :]
    sql, n = INT_DIVISION.subn(lambda m: "CAST(" + m.group(0)[:-1] + " AS DOUBLE)/", sql)
    assert n == 1, "the seed's lane-speed division was not found"
    assert SOURCE_TABLE in sql and SEED_LANES in sql
    sql = sql.replace(SOURCE_TABLE, source)
    if lanes is None:
        sql = sql.replace("AND " + SEED_LANES, "")
    else:
        sql = sql.replace(SEED_LANES, f"uniqueId IN ({', '.join(str(int(x)) for x in lanes)})")
    sql = sql.format(year=year, month=month, start_day=start_day, end_day=end_day)
    return to_duckdb(parse_one(sql))


def seed_source_connection(
    files: Sequence[str], *, settings: Sequence[str] = ()
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with Athena's session (time zone UTC, Presto division) and the view
    ``seed_source`` over exactly ``files`` (no Hive discovery); ``settings`` are extra ``SET``
    statements."""
    con = prepare_duckdb(duckdb.connect())
    for statement in settings:
        con.execute(f"SET {statement}")
    listed = ", ".join(f"'{f}'" for f in files)
    con.execute(
        f"CREATE VIEW seed_source AS SELECT * FROM read_parquet([{listed}], "
        "hive_partitioning = false)"
    )
    return con

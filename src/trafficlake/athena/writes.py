"""INSERT INTO and CREATE TABLE AS SELECT: Parquet in the table's Hive layout, one catalog commit.

The SELECT, cast to the table's column types, is written in one pass into the table's Hive
layout as hidden files (``k=v/.../_<query id>_<hex>-<n>.parquet``: readers, crawlers and MSCK
ignore names starting with ``_``); a query that fails halfway leaves only hidden files, which
are deleted. At most 100 partitions may be written per statement, as in Athena
(``HIVE_TOO_MANY_OPEN_PARTITIONS``; the reason the seed splits its ranges into 4-day chunks):
a statement over the limit fails before anything is published. The files are renamed to
``<table location>/k=v/.../<query id>_<hex>-<n>.parquet`` and published by ONE
``catalog.commit_partitions`` (INSERT INTO appends: a partition keeps its files and gains the new
ones; the commit is a compare-and-set retried on a concurrent change). Readers go through the
catalog's file lists, so they see all of an INSERT or none of it; a failure or a cancel before
the commit deletes every file the statement wrote.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trafficlake.athena.errors import AthenaQueryError
from trafficlake.athena.results import athena_type
from trafficlake.athena.tables import hive_type
from trafficlake.catalog import (
    Column,
    DataFile,
    NoSuchPartitionError,
    Partition,
    PartitionChangedError,
    Table,
)
from trafficlake.catalog.names import partition_folder
from trafficlake.query import duck_type
from trafficlake.sqlquote import quote_ident as _q

if TYPE_CHECKING:
    from trafficlake.athena.engine import AthenaSession

PARTITION_LIMIT = 100
HIDDEN = "_"
"""Files being written start with ``_``: readers, crawlers and MSCK ignore such names."""
COMMIT_ATTEMPTS = 5

_GROUPS = {
    "tinyint": "number", "smallint": "number", "int": "number", "integer": "number",
    "bigint": "number", "float": "number", "double": "number", "decimal": "number",
    "real": "number", "string": "text", "varchar": "text", "char": "text",
    "boolean": "boolean", "date": "date", "timestamp": "time",
    "timestamp with time zone": "time", "binary": "binary", "varbinary": "binary",
}  # fmt: skip


@dataclass
class WriteResult:
    rows: int
    partitions: int
    files: int


def _group(hive_or_athena: str) -> str:
    base = hive_or_athena.split("(", 1)[0].split("<", 1)[0].strip().lower()
    return _GROUPS.get(base, base)


def query_columns(session: AthenaSession, select_sql: str) -> list[tuple[str, str]]:
    """``(name, DuckDB type)`` of each column the SELECT returns (binds it, runs nothing)."""
    rows = session.run(f"DESCRIBE {select_sql}").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def check_types(table: Table, targets: Sequence[Column], found: Sequence[tuple[str, str]]) -> None:
    """Athena's INSERT type check: as many columns, each of a compatible kind."""
    theirs = [athena_type(t)[0] for _, t in found]
    ok = len(targets) == len(found) and all(
        _group(c.type) == _group(t) or (_group(c.type) == "time" and _group(t) == "date")
        for c, t in zip(targets, theirs, strict=False)
    )
    if not ok:
        raise AthenaQueryError(
            "TYPE_MISMATCH",
            f"Insert query has mismatched column types: Table: "
            f"[{', '.join(c.type for c in targets)}], Query: [{', '.join(theirs)}]",
        )


def columns_for_new_table(found: Sequence[tuple[str, str]]) -> list[Column]:
    """Hive columns of a CTAS result (names lower case, as Athena's catalog keeps them)."""
    return [Column(name.lower(), hive_type(athena_type(t)[0])) for name, t in found]


def write_select(
    session: AthenaSession,
    table: Table,
    select_sql: str,
    *,
    targets: Sequence[Column] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> WriteResult:
    """Run ``select_sql`` (DuckDB SQL, views prepared) into ``table``; ``targets``: the columns
    the SELECT's columns go to, in order (default: every column, partition keys last)."""
    every = [*table.columns, *table.partition_keys]
    targets = list(targets) if targets is not None else every
    found = query_columns(session, select_sql)
    check_types(table, targets, found)
    aliases = ", ".join(_q(f"c{i}") for i in range(len(found)))
    by_name = {c.name: f"c{i}" for i, c in enumerate(targets)}
    casts = ", ".join(
        f"CAST({_q(by_name[c.name]) if c.name in by_name else 'NULL'} AS {duck_type(c.type)}) "
        f"AS {_q(c.name)}"
        for c in every
    )
    rows_sql = f"SELECT {casts} FROM ({select_sql}) AS q({aliases})"
    name = f"{session.query_id}_{uuid.uuid4().hex[:8]}"  # file names never collide
    return _publish(session, table, rows_sql, name, cancelled)


def _publish(
    session: AthenaSession,
    table: Table,
    rows_sql: str,
    name: str,
    cancelled: Callable[[], bool],
) -> WriteResult:
    """Write the rows as hidden files in the table's folders (one pass), check the partition
    limit, unhide them, commit; on any failure delete every file this statement wrote."""
    lake = session.lake
    keys = [k.name for k in table.partition_keys]
    if lake.is_local:
        os.makedirs(lake.path(table.location), exist_ok=True)
    target = lake.uri(table.location)
    options = "FORMAT parquet, COMPRESSION snappy, RETURN_STATS true"
    if keys:
        key_list = ", ".join(_q(k) for k in keys)
        copy = (
            f"COPY ({rows_sql}) TO '{target}' ({options}, PARTITION_BY ({key_list}), "
            f"FILENAME_PATTERN '{HIDDEN}{name}-{{i}}', OVERWRITE_OR_IGNORE true)"
        )
    else:
        copy = f"COPY ({rows_sql}) TO '{target}{HIDDEN}{name}-0.parquet' ({options})"
    hidden: list[str] = []
    try:
        # one row per file; through Arrow, as Python rows of their column statistics cost ~8 ms
        stats = session.run(copy).to_arrow_table()
        hidden = [lake.key_of(str(f)) for f in stats.column("filename").to_pylist()]
        counts = [int(c) for c in stats.column("count").to_pylist()]
        sizes = stats.column("file_size_bytes").to_pylist()
        partitions = (
            stats.column("partition_keys").to_pylist()
            if keys and "partition_keys" in stats.column_names
            else [None] * len(hidden)
        )
        moves: list[tuple[str, str]] = []
        new_files: dict[tuple[str, ...], list[DataFile]] = {}
        for key, count, size, partition in zip(hidden, counts, sizes, partitions, strict=True):
            if count == 0:
                continue
            folder, _, base = key.rpartition("/")
            final = f"{folder}/{base.removeprefix(HIDDEN)}" if folder else base.removeprefix(HIDDEN)
            values = tuple(str(dict(partition or ())[k]) for k in keys)
            moves.append((key, final))
            new_files.setdefault(values, []).append(DataFile(final, int(size), int(count)))
        if len(new_files) > PARTITION_LIMIT:
            raise AthenaQueryError(
                "HIVE_TOO_MANY_OPEN_PARTITIONS",
                f"Exceeded limit of {PARTITION_LIMIT} open writers for partitions/buckets",
            )
        for src, dst in moves:
            lake.move(src, dst)
        if cancelled():  # the last check: False claims the commit (a later stop cannot cancel)
            raise AthenaQueryError("USER_CANCELED", "Query was canceled by user")
        if new_files:
            _commit(session, table, new_files)
    except BaseException:
        for key in hidden:
            lake.delete(key)
            folder, _, base = key.rpartition("/")
            lake.delete(f"{folder}/{base.removeprefix(HIDDEN)}" if folder else base[1:])
        # a COPY that failed halfway returned no file list: its files are found by their name
        lake.delete_named(table.location, f"{HIDDEN}{name}-")
        raise
    for key, count in zip(hidden, counts, strict=True):
        if count == 0:
            lake.delete(key)  # DuckDB's empty file of an unpartitioned write of no rows
    return WriteResult(sum(f.row_count or 0 for fs in new_files.values() for f in fs),
                       len(new_files), len(moves))  # fmt: skip


def _location(table: Table, values: tuple[str, ...]) -> str:
    return partition_folder(table.location, [k.name for k in table.partition_keys], values)


def _commit(
    session: AthenaSession, table: Table, new_files: dict[tuple[str, ...], list[DataFile]]
) -> None:
    """One compare-and-set commit of the appended partitions. The first attempt expects them all
    new (an INSERT into fresh partitions reads nothing); on a conflict the existing ones are read
    and the commit is retried with their files kept."""
    catalog = session.catalog
    existing: dict[tuple[str, ...], Partition] = {}
    for attempt in range(COMMIT_ATTEMPTS):
        upsert: list[Partition] = []
        expect: dict[tuple[str, ...], int | None] = {}
        for values, files in sorted(new_files.items()):
            old = existing.get(values)
            keep = list(old.files) if old is not None else []
            rows = [f.row_count for f in keep + files]
            upsert.append(
                Partition(
                    database=table.database,
                    table=table.name,
                    values=values,
                    location=old.location if old is not None else _location(table, values),
                    files=keep + files,
                    row_count=None if any(r is None for r in rows) else sum(r or 0 for r in rows),
                    size_bytes=sum(f.size for f in keep + files),
                )
            )
            expect[values] = old.version if old is not None else None
        try:
            catalog.commit_partitions(table.database, table.name, upsert=upsert, expect=expect)
            return
        except PartitionChangedError:
            if attempt == COMMIT_ATTEMPTS - 1:
                raise AthenaQueryError(
                    "HIVE_METASTORE_ERROR",
                    f"partitions of {table.database}.{table.name} kept changing concurrently",
                ) from None
        existing = {}
        for values in new_files:
            with contextlib.suppress(NoSuchPartitionError):
                existing[values] = catalog.get_partition(table.database, table.name, values)

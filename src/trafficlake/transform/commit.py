"""Staged output -> catalog partitions: the commit protocol (docs/architecture.md, "Writing,
bookmarks, idempotence").

Layout during a run ``R``::

    transformed/_staging/R/chunk-<i>/year=Y/month=M/day=D/hour=H/<engine's names>.parquet
    transformed/_staging/R/_manifest.json      final keys + keys about to be replaced

Publishing (after every chunk has been staged):

1. write the manifest (the keys this run will create and the keys it will replace);
2. move each staged file to its final key ``transformed/year=Y/.../hour=H/R-<n>.parquet``
   (invisible to readers: they go through the catalog's file lists);
3. ONE ``catalog.commit_partitions``: upsert the new partitions of the rebuilt days, delete the
   partitions of those days that have no rows any more, and advance the bookmark - a
   compare-and-set: if any partition of those days changed since step 1 read it, nothing is
   committed, the run's moved files are deleted and the run fails (PartitionChangedError);
4. delete the replaced files and the run's staging folder.

A run killed anywhere leaves the catalog pointing at the old or the new files, never a mix.
:func:`clean_stale_runs` (called at the start of every run) reads the manifests of dead runs and
deletes every listed key that the catalog does not reference - the new files of a run that
never committed, or the replaced files of a run that committed but died before deleting them -
then removes their staging folders (:mod:`trafficlake.catalog.manifests`, shared with raw
compaction).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from trafficlake.catalog import (
    Catalog,
    Column,
    DataFile,
    NoSuchTableError,
    Partition,
    PartitionChangedError,
    Table,
)
from trafficlake.catalog.manifests import clean_stale_manifests, write_manifest
from trafficlake.catalog.names import TRANSFORMED, TRANSFORMED_PREFIX, TableRef, partition_folder
from trafficlake.storage import Lake
from trafficlake.transform.engine import OUTPUT_COLUMNS, PARTITION_KEYS, StagedFile


@dataclass(frozen=True)
class Layout:
    """Where a writer-owned table lives in the lake and what it holds: the transform's output,
    and the tables derived from it (:mod:`trafficlake.roads`) share this commit protocol."""

    prefix: str
    """Lake folder of the table, e.g. ``transformed/``."""
    columns: tuple[tuple[str, str], ...]
    """Data columns with their Hive types (partition keys excluded)."""
    partition_keys: tuple[str, ...]
    """Hive partition keys; the first three must be ``year, month, day``."""
    stats_column: str | None
    """A column whose min/max is recorded per partition (None: none)."""
    writer: str

    @property
    def staging(self) -> str:
        return f"{self.prefix}_staging/"


TRANSFORMED_LAYOUT = Layout(
    TRANSFORMED_PREFIX, OUTPUT_COLUMNS, PARTITION_KEYS, "recordTimestamp", "trafficlake.transform"
)
PREFIX = TRANSFORMED_LAYOUT.prefix
STAGING = TRANSFORMED_LAYOUT.staging


@dataclass
class CommitResult:
    rows_written: int
    partitions_written: int
    partitions_deleted: int
    files_written: int
    files_replaced: int
    version: int

    @property
    def partitions_replaced(self) -> int:
        return self.partitions_written + self.partitions_deleted


def staging_key(run_id: str, chunk_index: int, layout: Layout = TRANSFORMED_LAYOUT) -> str:
    return f"{layout.staging}{run_id}/chunk-{chunk_index}/"


def partition_location(values: Sequence[str], layout: Layout = TRANSFORMED_LAYOUT) -> str:
    return partition_folder(layout.prefix, layout.partition_keys, values)


def ensure_table(
    catalog: Catalog, ref: TableRef = TRANSFORMED, layout: Layout = TRANSFORMED_LAYOUT
) -> Table:
    """The output table (created with Hive types if missing)."""
    catalog.create_database(ref.database, exist_ok=True)
    try:
        return catalog.get_table(*ref)
    except NoSuchTableError:
        table = Table(
            database=ref.database,
            name=ref.name,
            columns=[Column(n, t) for n, t in layout.columns],
            partition_keys=[Column(k, "int") for k in layout.partition_keys],
            location=layout.prefix,
            format="parquet",
            parameters={"classification": "parquet", "writer": layout.writer},
        )
        return catalog.create_table(table)


def existing_partitions(
    catalog: Catalog,
    days: Iterable[date],
    ref: TableRef = TRANSFORMED,
    from_hours: Mapping[date, int] | None = None,
) -> list[Partition]:
    """The partitions of ``days`` (of a day in ``from_hours``, only its hours from that on)."""
    out: list[Partition] = []
    for d in sorted(set(days)):
        parts = catalog.list_partitions(
            *ref,
            where={"year": d.year, "month": d.month, "day": d.day},
            include_deprecated=True,
        )
        first = (from_hours or {}).get(d, 0)
        out += [p for p in parts if first == 0 or int(p.values[-1]) >= first]
    return out


def publish(
    catalog: Catalog,
    lake: Lake,
    run_id: str,
    staged: Sequence[StagedFile],
    days: Sequence[date],
    *,
    bookmark: tuple[str, dict[str, Any]] | None,
    table: TableRef = TRANSFORMED,
    layout: Layout = TRANSFORMED_LAYOUT,
    from_hours: Mapping[date, int] | None = None,
) -> CommitResult:
    """Move staged files to their final keys and switch the days' partitions in ONE commit
    (a day in ``from_hours``: only its partitions from that hour on)."""
    ensure_table(catalog, table, layout)
    by_partition: dict[tuple[str, ...], list[StagedFile]] = defaultdict(list)
    for f in staged:
        by_partition[f.values].append(f)
    old = existing_partitions(catalog, days, table, from_hours)
    replaced_keys = sorted({f.key for p in old for f in p.files})
    moves: list[tuple[str, str]] = []
    upsert: list[Partition] = []
    for values in sorted(by_partition, key=lambda v: tuple(int(x) for x in v)):
        files = sorted(by_partition[values], key=lambda f: f.key)
        location = partition_location(values, layout)
        data_files: list[DataFile] = []
        lo: Any = None
        hi: Any = None
        for n, f in enumerate(files):
            final = f"{location}{run_id}-{n}.parquet"
            moves.append((f.key, final))
            data_files.append(DataFile(final, f.size, f.row_count))
            s = f.stats.get(layout.stats_column) if layout.stats_column else None
            if s is not None:
                lo = s[0] if lo is None else min(lo, s[0])
                hi = s[1] if hi is None else max(hi, s[1])
        upsert.append(
            Partition(
                database=table.database,
                table=table.name,
                values=values,
                location=location,
                files=data_files,
                row_count=sum(f.row_count for f in files),
                size_bytes=sum(f.size for f in files),
                stats={layout.stats_column: (lo, hi)}
                if layout.stats_column and lo is not None
                else {},
            )
        )
    new_values = {p.values for p in upsert}
    delete = [p.values for p in old if tuple(p.values) not in new_values]
    write_manifest(lake, layout.staging, run_id, [m[1] for m in moves], replaced_keys)
    for src, dst in moves:
        lake.move(src, dst)
    # compare-and-set: the partitions replaced must still be the versions read above
    expect: dict[tuple[str, ...], int | None] = {tuple(p.values): p.version for p in old}
    expect.update({tuple(p.values): None for p in upsert if tuple(p.values) not in expect})
    try:
        version = commit_catalog(catalog, table, upsert, delete, bookmark, expect)
    except PartitionChangedError:
        for _, dst in moves:  # this run's own keys: nothing references them
            lake.delete(dst)
        lake.delete_prefix(f"{layout.staging}{run_id}")
        raise
    new_keys = {m[1] for m in moves}
    for key in replaced_keys:
        if key not in new_keys:
            lake.delete(key)
    lake.delete_prefix(f"{layout.staging}{run_id}")
    refresh_table_totals(catalog, table)
    return CommitResult(
        rows_written=sum(p.row_count or 0 for p in upsert),
        partitions_written=len(upsert),
        partitions_deleted=len(delete),
        files_written=len(moves),
        files_replaced=len(replaced_keys),
        version=version,
    )


def refresh_table_totals(catalog: Catalog, ref: TableRef) -> None:
    """Keep the table's Glue-style totals (recordCount, sizeKey, objectCount) current: crawlers
    leave this writer-owned table alone, so the writer maintains them (informational only)."""
    parts = catalog.list_partitions(*ref)
    table = catalog.get_table(*ref)
    table.parameters = {
        **table.parameters,
        "recordCount": str(sum(p.row_count or 0 for p in parts)),
        "sizeKey": str(sum(p.size_bytes for p in parts)),
        "objectCount": str(sum(len(p.files) for p in parts)),
    }
    catalog.update_table(table)


def commit_catalog(
    catalog: Catalog,
    table: TableRef,
    upsert: Sequence[Partition],
    delete: Sequence[Sequence[str]],
    bookmark: tuple[str, dict[str, Any]] | None,
    expect: Mapping[tuple[str, ...], int | None] | None = None,
) -> int:
    """The one catalog transaction of a run (a separate function so tests can inject a crash)."""
    return catalog.commit_partitions(
        *table, upsert=upsert, delete=delete, bookmark=bookmark, expect=expect
    )


def clean_stale_runs(
    catalog: Catalog,
    lake: Lake,
    *,
    keep: str = "",
    table: TableRef = TRANSFORMED,
    layout: Layout = TRANSFORMED_LAYOUT,
) -> list[str]:
    """Remove the staging folders of runs other than ``keep`` (callers ensure no other run is
    alive), deleting their listed keys that the catalog does not reference. Returns run ids."""
    return clean_stale_manifests(
        catalog, lake, staging=layout.staging, table=table, prefix=layout.prefix, keep=keep
    )

"""Raw compaction: many small delivered files of a closed partition -> one file.

The delivery stream writes one Parquet object per buffer flush, so an arrival hour holds a
dozen small files (more with small buffers or many producers). Each costs every reader a
footer, a request on S3 and a scan set-up. :func:`compact_table` rewrites each *closed*
partition of a crawled table (its arrival period ended at least ``settle_seconds`` ago, so no
delivery will add to it) that has at least ``min_files`` Parquet files into one file with the
same rows in the same order, the same schema and the same column compression, and swaps it in:

1. the raw crawler is taken (its state RUNNING, as for a crawl): no crawl can publish the
   folder while its files change, and a second compaction or a crawl waits its turn
   (``CrawlerRunningError``); a compaction killed anywhere frees it like a dead crawl does;
2. per partition: the new file is written under ``<table folder>_compaction/<run>/`` (hidden
   from crawlers and readers), its footer inspected as the crawler inspects files, the run's
   manifest written (:mod:`trafficlake.catalog.manifests`), the file moved into the partition
   folder, and ONE ``commit_partitions`` swaps the partition's file list - a compare-and-set on
   the version read, so a partition changed meanwhile is left alone; then the old files go;
3. the run is recorded as a run of that crawler (partitions updated, a note per partition
   skipped and why), without the crawler's state-change event (it is not a crawl: nothing new
   to transform).

Readers go through the catalog's file lists, so they see the old files or the new one, never
both. A crawl or compaction that finds a dead run's manifest first deletes what that run left
(its new file if it never committed, the old files if it did). The rows are the same, but the
partition's version changes: an incremental transform rebuilds the days of a partition
compacted after it was transformed (compact before the daily transform to avoid that).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from trafficlake.catalog.base import Catalog, DataFile, Partition, PartitionChangedError
from trafficlake.catalog.crawl_plan import CrawlCancelled, throttled_stop_check
from trafficlake.catalog.inference import PARQUET_SUFFIXES, inspect_file
from trafficlake.catalog.manifests import clean_stale_manifests, write_manifest
from trafficlake.catalog.names import TableRef, arrival_period, raw_table
from trafficlake.storage import FileEntry, Lake

if TYPE_CHECKING:
    from trafficlake.config import Settings

STAGING = "_compaction/"
"""Below the table's folder: hidden from crawlers (a ``_`` folder) and from lake listings."""
ROW_GROUP_ROWS = 1_048_576
"""Rows per row group of a compacted file (pyarrow's default maximum)."""

Progress = Callable[[int, int], None]


@dataclass
class Compaction:
    """What one compaction did (or, with ``dry_run``, would do)."""

    table: str
    run_id: str
    dry_run: bool
    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    rows: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)
    """One line per partition left alone that had ``min_files`` files or more, with why."""


def staging_prefix(table_location: str) -> str:
    return table_location.rstrip("/") + "/" + STAGING


def clean_stale_compactions(catalog: Catalog, lake: Lake, table: TableRef, location: str) -> None:
    """Undo or finish what a killed compaction of ``table`` (lake folder ``location``) left."""
    clean_stale_manifests(
        catalog, lake, staging=staging_prefix(location), table=table, prefix=location
    )


def _why_not(part: Partition, keys: list[str], closed_before: float) -> str | None:
    """None if ``part`` can be compacted, else why not."""
    if any(not f.key.endswith(PARQUET_SUFFIXES) for f in part.files):
        return "holds files that are not Parquet"
    period = arrival_period(keys, part.values)
    if period is None:
        return f"partition keys {keys} are not year/month/day[/hour]: cannot tell it is complete"
    if period[0] + period[1] > closed_before:
        return "its period has not settled yet (deliveries may still add to it)"
    return None


def _rewrite(lake: Lake, keys: list[str], target: str) -> None:
    """The rows of ``keys`` in order into ``target``: first file's schema and compression."""
    with contextlib.ExitStack() as opened:
        files = []
        for k in keys:
            try:
                files.append(
                    opened.enter_context(pq.ParquetFile(lake.fs.open_input_file(lake.path(k))))
                )
            except (OSError, pa.ArrowException) as exc:
                raise _Skip(f"cannot read {k}: {exc}") from None
        schema = files[0].schema_arrow
        for k, f in zip(keys[1:], files[1:], strict=True):
            if not f.schema_arrow.equals(schema, check_metadata=False):
                raise _Skip(f"its files differ in schema ({keys[0]} vs {k})")
        meta = files[0].metadata
        codec = meta.row_group(0).column(0).compression if meta.num_row_groups else "zstd"
        compression = None if codec == "UNCOMPRESSED" else codec.lower()
        with (
            lake.open_atomic(target) as out,
            pq.ParquetWriter(out, schema, compression=compression) as w,
        ):
            pending: list[pa.RecordBatch] = []
            rows = 0
            for k, f in zip(keys, files, strict=True):
                try:
                    batches = list(f.iter_batches(batch_size=65536))
                except (OSError, pa.ArrowException) as exc:
                    raise _Skip(f"cannot read {k}: {exc}") from None
                for batch in batches:
                    pending.append(batch)
                    rows += batch.num_rows
                    if rows >= ROW_GROUP_ROWS:
                        w.write_table(pa.Table.from_batches(pending, schema), ROW_GROUP_ROWS)
                        pending, rows = [], 0
            if pending:
                w.write_table(pa.Table.from_batches(pending, schema), ROW_GROUP_ROWS)


class _Skip(Exception):
    """A partition that cannot be compacted as it is (the reason is the message)."""


def _candidates(
    catalog: Catalog,
    table: TableRef,
    keys: list[str],
    min_files: int,
    closed_before: float,
    skipped: list[str],
) -> list[Partition]:
    """The partitions with at least ``min_files`` files that can be compacted; the others of
    them are added to ``skipped`` with the reason."""
    todo: list[Partition] = []
    for p in catalog.list_partitions(*table):
        if len(p.files) < min_files:
            continue
        why = _why_not(p, keys, closed_before)
        if why is None:
            todo.append(p)
        else:
            skipped.append(f"{p.location}: {why}")
    return todo


def compact_table(
    catalog: Catalog,
    lake: Lake,
    table: TableRef,
    *,
    stats_columns: list[str],
    min_files: int = 2,
    settle_seconds: float = 3600,
    dry_run: bool = False,
    progress: Progress | None = None,
    now: float | None = None,
) -> Compaction:
    """Compact the closed partitions of ``table`` with at least ``min_files`` files (see the
    module's docstring). Raises NoSuchTableError, CrawlerRunningError."""
    if min_files < 2:
        raise ValueError(f"min_files must be at least 2, not {min_files}")
    started = time.monotonic()
    tbl = catalog.get_table(*table)
    keys = [k.name for k in tbl.partition_keys]
    crawler = tbl.parameters.get("UPDATED_BY_CRAWLER") or table.name
    closed_before = (time.time() if now is None else now) - settle_seconds
    result = Compaction(str(table), uuid.uuid4().hex, dry_run)
    if dry_run:
        todo = _candidates(catalog, table, keys, min_files, closed_before, result.skipped)
        result.partitions = len(todo)
        result.files_before = sum(len(p.files) for p in todo)
        result.files_after = len(todo)
        result.rows = sum(p.row_count or 0 for p in todo)
        result.bytes_before = sum(p.size_bytes for p in todo)
        result.seconds = time.monotonic() - started
        return result
    run = catalog.start_crawl(crawler)  # before listing: no crawl changes the list under us
    staging = staging_prefix(tbl.location)
    try:
        clean_stale_compactions(catalog, lake, table, tbl.location)
        todo = _candidates(catalog, table, keys, min_files, closed_before, result.skipped)
        check_stop = throttled_stop_check(catalog, crawler)
        if progress:
            progress(0, len(todo))
        for i, part in enumerate(todo, 1):
            check_stop()
            try:
                sub_run = f"{result.run_id}-{i}"
                _compact_one(catalog, lake, table, part, staging, sub_run, stats_columns, result)
            except _Skip as skip:
                result.skipped.append(f"{part.location}: {skip}")
            if progress:
                progress(i, len(todo))
        run.status = "SUCCEEDED"
    except CrawlCancelled:
        run.status = "CANCELLED"
        run.messages.append("compaction stopped on request; partitions done so far are committed")
    except BaseException as exc:
        run.status, run.error_message = "FAILED", f"compaction: {type(exc).__name__}: {exc}"
        raise
    finally:
        run.partitions_updated = result.partitions
        run.messages.insert(0, _summary(result))
        run.messages += result.skipped
        run.ended_at = time.time()
        catalog.finish_crawl(run)
        result.seconds = time.monotonic() - started
    return result


def _compact_one(
    catalog: Catalog,
    lake: Lake,
    table: TableRef,
    part: Partition,
    staging: str,
    run_id: str,
    stats_columns: list[str],
    result: Compaction,
) -> None:
    """Swap one partition's files for one compacted file (raises _Skip, leaving it as it was).
    Any other failure after the manifest is written leaves the manifest for the next crawl or
    compaction to finish or undo."""
    run_folder = f"{staging}{run_id}/"
    old_keys = [f.key for f in part.files]
    temp = f"{run_folder}part.parquet"
    final = f"{part.location}compacted-{run_id}.parquet"
    try:
        _rewrite(lake, old_keys, temp)
        size = lake.fs.get_file_info(lake.path(temp)).size or 0
        info = inspect_file(lake, FileEntry(temp, size, None), "parquet", stats_columns)
        if part.row_count is not None and info.row_count != part.row_count:
            raise _Skip(f"its files hold {info.row_count} rows, the catalog lists {part.row_count}")
    except BaseException:
        lake.delete_prefix(run_folder)  # nothing of it is visible yet
        raise
    write_manifest(lake, staging, run_id, [final], old_keys)
    lake.move(temp, final)
    new = replace(
        part,
        files=[DataFile(final, size, info.row_count)],
        row_count=info.row_count,
        size_bytes=size,
        stats=info.stats,
    )
    try:
        catalog.commit_partitions(*table, upsert=[new], expect={part.values: part.version})
    except PartitionChangedError:
        lake.delete(final)
        lake.delete_prefix(run_folder)
        raise _Skip("it changed while being compacted") from None
    for key in old_keys:
        lake.delete(key)
    lake.delete_prefix(run_folder)
    result.partitions += 1
    result.files_before += len(old_keys)
    result.files_after += 1
    result.rows += info.row_count or 0
    result.bytes_before += part.size_bytes
    result.bytes_after += size


def compact(
    settings: Settings,
    table: TableRef | None = None,
    *,
    min_files: int = 2,
    settle_seconds: float = 3600,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Compaction:
    """:func:`compact_table` on the configured catalog and lake (default table: the raw one)."""
    from trafficlake.catalog import open_catalog

    lake = Lake.from_settings(settings)
    with open_catalog(settings) as catalog:
        return compact_table(
            catalog,
            lake,
            table or raw_table(settings),
            stats_columns=list(settings.catalog.stats_columns),
            min_files=min_files,
            settle_seconds=settle_seconds,
            dry_run=dry_run,
            progress=progress,
        )


def _summary(c: Compaction) -> str:
    return (
        f"compaction {c.run_id}: {c.partitions} partition(s), {c.files_before} file(s) into "
        f"{c.files_after}, {c.rows:,} rows, {c.bytes_before:,} -> {c.bytes_after:,} bytes"
    )

"""One crawler target -> one table: find partition folders, read what changed, plan the commit.

Nothing here writes to the catalog: :class:`TargetCrawl` reads the lake and the catalog and
produces a :class:`TablePlan`; the runner publishes all plans only when every target succeeded.

A file the table cannot use — empty, neither Parquet nor JSON lines, unreadable, or of another
format than the table's (the existing table's, else the format most files have) — is skipped
and reported in the crawl run's notes (``crawler status`` shows them); it never fails the
target. A partition left without usable files is treated as gone.
"""

from __future__ import annotations

import posixpath
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from trafficlake.catalog.base import (
    Catalog,
    Column,
    Crawler,
    DataFile,
    NoSuchTableError,
    Partition,
    Table,
)
from trafficlake.catalog.inference import (
    CorruptFileError,
    FileInfo,
    file_format,
    inspect_file,
    merge_stats,
)
from trafficlake.catalog.names import table_name
from trafficlake.catalog.schema_merge import infer_keys, merge_schema, values_of, widen_keys
from trafficlake.schema import CURRENT_EVENT_TIME, STALE_EVENT_TIME
from trafficlake.storage import FileEntry, Lake

FOOTER_WORKERS = 8
SKIPPED_SHOWN = 5
"""Skipped files named in the crawl run's note; the rest are counted."""
SCHEMA_SERIALIZER_VERSION = "1.0"
WRITER_PARAMETER = "writer"
"""Table parameter naming the writer that owns the table (the transform sets
``writer = trafficlake.transform``): its partitions change only through that writer's catalog
commits, so a crawler leaves such a table exactly as committed (files in its folders that no
commit lists are uncommitted output, never published by a crawl)."""


def owning_writer(table: Table) -> str | None:
    """The writer that owns ``table`` (its ``writer`` parameter), or None for crawler tables."""
    return table.parameters.get(WRITER_PARAMETER) or None


class CrawlCancelled(Exception):
    """The crawler was asked to stop."""


@dataclass
class Folder:
    key: str
    """Lake key of the partition folder, ending in ``/`` (the target itself if unpartitioned)."""
    names: tuple[str, ...]
    files: list[FileEntry]


@dataclass
class Work:
    """One partition to write: its folder, values, catalog state, files to read and files kept."""

    folder: Folder
    values: tuple[str, ...]
    old: Partition | None
    read: list[tuple[FileEntry, str]]
    reused: list[str]


@dataclass
class TablePlan:
    table: Table
    create: bool
    update: bool
    schema_changed: bool
    upsert: list[Partition] = field(default_factory=list)
    delete: list[tuple[str, ...]] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    removed: int = 0


def _hidden(rel: str) -> bool:
    return any(part.startswith((".", "_")) for part in rel.split("/") if part)


def _is_newer(entry: FileEntry, part: Partition) -> bool:
    return (
        entry.mtime_ns is not None
        and part.updated_at is not None
        and entry.mtime_ns / 1e9 > part.updated_at
    )


class TargetCrawl:
    """Crawl one target prefix of ``crawler`` into its table."""

    def __init__(
        self,
        catalog: Catalog,
        lake: Lake,
        crawler: Crawler,
        target: str,
        stats_columns: list[str],
        messages: list[str],
        check_stop: Callable[[], None],
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.catalog, self.lake, self.crawler = catalog, lake, crawler
        self.target = target.strip("/") + "/" if target.strip("/") else ""
        self.stats_columns = stats_columns
        self.messages = messages
        self.check_stop = check_stop
        self.progress = progress
        self.name = table_name(crawler.table_prefix, self.target)
        self.database = crawler.database
        self.skipped: list[tuple[str, str]] = []
        """``(key, reason)`` of every file this crawl could not use."""

    def note(self, text: str) -> None:
        self.messages.append(f"{self.database}.{self.name}: {text}")

    def skip(self, key: str, reason: str) -> None:
        self.skipped.append((key, reason))

    def note_skipped(self) -> None:
        """One note for every file skipped: the first few named with their reason."""
        if not self.skipped:
            return
        shown = "; ".join(f"{k} ({r})" for k, r in self.skipped[:SKIPPED_SHOWN])
        more = len(self.skipped) - SKIPPED_SHOWN
        rest = f"; and {more} more" if more > 0 else ""
        self.note(f"skipped {len(self.skipped)} unusable file(s): {shown}{rest}")

    # ---- discovery ------------------------------------------------------------------------
    def scan_all(self) -> list[Folder]:
        """Every partition folder with its files (lists the whole target)."""
        by_folder: dict[str, list[FileEntry]] = {}
        for entry in self.lake.list(self.target.rstrip("/")):
            rel = entry.key[len(self.target) :]
            if _hidden(rel):
                continue
            by_folder.setdefault(posixpath.dirname(rel), []).append(entry)
        folders = [Folder(self.target + (d + "/" if d else ""), tuple(d.split("/")) if d else (), f)
                   for d, f in sorted(by_folder.items())]  # fmt: skip
        return folders

    def walk_new(self, depth: int, known: set[str]) -> tuple[list[Folder], set[str]]:
        """Folders at partition ``depth`` not in ``known`` with their files, and the known
        folders seen. Lists folders level by level; never lists the files of a known folder."""
        new: list[Folder] = []
        seen: set[str] = set()

        def visit(prefix: str, names: tuple[str, ...]) -> None:
            if len(names) == depth:
                if prefix in known:
                    seen.add(prefix)
                    return
                files = [
                    e
                    for e in self.lake.list(prefix.rstrip("/"))
                    if not _hidden(e.key[len(prefix) :])
                ]
                flat = [e for e in files if "/" not in e.key[len(prefix) :]]
                if len(flat) < len(files):
                    self.note(
                        f"skipped {len(files) - len(flat)} file(s) below partition depth in {prefix}"
                    )
                if flat:
                    new.append(Folder(prefix, names, flat))
                return
            for d in self.lake.list_dirs(prefix.rstrip("/")):
                visit(d + "/", (*names, posixpath.basename(d)))

        visit(self.target, ())
        return new, seen

    # ---- planning -------------------------------------------------------------------------
    def plan(self) -> TablePlan | None:
        """Everything this crawl would change in the table (None: no data and no table)."""
        try:
            existing: Table | None = self.catalog.get_table(self.database, self.name)
        except NoSuchTableError:
            existing = None
        if existing is not None and (writer := owning_writer(existing)):
            self.note(
                f"table is owned by its writer ({WRITER_PARAMETER}={writer}); partitions and "
                "schema left exactly as the writer committed them"
            )
            return None
        incremental = existing is not None and self.crawler.recrawl_policy == "new_folders_only"
        if incremental:
            assert existing is not None
            folders, present, known = self.discover_new(existing)
        else:
            folders, present, known = self.discover_all(existing)
        if existing is None and not folders:
            self.note(f"no data files under {self.target or '/'}; no table created")
            return None

        keys = list(existing.partition_keys) if existing else infer_keys([f.names for f in folders])
        parsed: list[tuple[Folder, tuple[str, ...]]] = []
        for f in folders:
            values = values_of(f.names, keys)
            if values is None:
                names = [k.name for k in keys]
                self.note(f"skipped folder {f.key}: does not match partition keys {names}")
                present.discard(f.key)
                continue
            parsed.append((f, values))
        if existing:
            keys = widen_keys(keys, [v for _, v in parsed])

        formats = self.file_formats(parsed, existing)
        work = self.work_items(parsed, known, present, formats)
        infos = self.read_files([t for w in work for t in w.read])
        work = self.usable(work, infos, present)
        self.note_skipped()
        plan = self.table_plan(existing, [infos[k] for k in sorted(infos)], keys)
        for w in work:
            plan.upsert.append(self.partition(w, infos))
            if w.old is None:
                plan.added += 1
            else:
                plan.updated += 1
        self.vanished(plan, known, present)
        self.set_parameters(plan, known, existing if incremental else None)
        return plan

    def discover_new(self, existing: Table) -> tuple[list[Folder], set[str], dict[str, Partition]]:
        """new_folders_only: O(new + vanished) - the catalog's location index, a folder walk,
        and full partitions only for new folders that match a known one and vanished ones."""
        index = self.catalog.list_partition_locations(self.database, self.name)
        live = {loc for loc, (_, dep) in index.items() if not dep}
        folders, seen = self.walk_new(len(existing.partition_keys), live)
        new_keys = {f.key for f in folders}
        present = seen | new_keys
        deleting = self.crawler.delete_behavior == "delete"
        known: dict[str, Partition] = {}
        for loc, (values, dep) in index.items():
            if loc in new_keys or (loc not in present and (deleting or not dep)):
                known[loc] = self.catalog.get_partition(self.database, self.name, values)
        return folders, present, known

    def discover_all(
        self, existing: Table | None
    ) -> tuple[list[Folder], set[str], dict[str, Partition]]:
        """everything: list the whole target; every known partition from the catalog."""
        known: dict[str, Partition] = {}
        if existing is not None:
            parts = self.catalog.list_partitions(self.database, self.name, include_deprecated=True)
            known = {p.location: p for p in parts}
        folders = self.scan_all()
        if existing is None and folders:
            depth = Counter(len(f.names) for f in folders).most_common(1)[0][0]
        else:
            depth = len(existing.partition_keys) if existing else 0
        odd = [f for f in folders if len(f.names) != depth]
        if odd:
            n = sum(len(f.files) for f in odd)
            example = odd[0].files[0].key
            self.note(f"skipped {n} file(s) not at partition depth {depth}, e.g. {example}")
            folders = [f for f in folders if len(f.names) == depth]
        return folders, {f.key for f in folders}, known

    def file_formats(
        self, parsed: list[tuple[Folder, tuple[str, ...]]], existing: Table | None
    ) -> dict[str, str]:
        """The format of every file the table can use; the others are skipped."""
        found: dict[str, str] = {}
        for f, _ in parsed:
            for e in f.files:
                fmt = self.format_of(e)
                if fmt is not None:
                    found[e.key] = fmt
        if not found:
            return found
        table_format = existing.format if existing else Counter(found.values()).most_common(1)[0][0]
        for key, fmt in list(found.items()):
            if fmt != table_format:
                self.skip(key, f"{fmt} in a {table_format} table")
                del found[key]
        return found

    def usable(self, work: list[Work], infos: dict[str, FileInfo], present: set[str]) -> list[Work]:
        """The work without files that could not be read; a partition left empty is gone."""
        out = []
        for w in work:
            w.read = [(e, fmt) for e, fmt in w.read if e.key in infos]
            if w.read or w.reused:
                out.append(w)
            else:
                present.discard(w.folder.key)
        return out

    def work_items(
        self,
        parsed: list[tuple[Folder, tuple[str, ...]]],
        known: dict[str, Partition],
        present: set[str],
        formats: dict[str, str],
    ) -> list[Work]:
        """The partitions to (re)write and which of their files need their footer read: new
        files, files whose size changed, files modified after the partition's last update."""
        by_values = {p.values: p for p in known.values()}
        work: list[Work] = []
        for f, values in parsed:
            old = by_values.get(values)
            typed = [(e, formats[e.key]) for e in f.files if e.key in formats]
            if not typed:
                present.discard(f.key)
                continue
            if old is None:
                work.append(Work(f, values, None, typed, []))
                continue
            old_files = {d.key: d for d in old.files}
            same = {
                e.key
                for e, _ in typed
                if e.key in old_files and old_files[e.key].size == e.size and not _is_newer(e, old)
            }
            if same == set(old_files) == {e.key for e, _ in typed}:
                if old.deprecated:  # reappeared unchanged: undeprecate
                    work.append(Work(f, values, old, [], sorted(same)))
            elif set(old_files) <= same:  # only gained files: read just those
                work.append(
                    Work(f, values, old, [t for t in typed if t[0].key not in same], sorted(same))
                )
            else:
                work.append(Work(f, values, old, typed, []))
        return work

    def table_plan(
        self, existing: Table | None, infos: list[FileInfo], keys: list[Column]
    ) -> TablePlan:
        """The table to create, or the existing one with the schema change policy applied."""
        columns, fmt, changes = merge_schema(existing, infos, keys, self.target)
        if existing is None:
            table = Table(self.database, self.name, columns, keys, self.target, fmt)
            return TablePlan(table, create=True, update=False, schema_changed=False)
        plan = TablePlan(
            replace(existing, parameters=dict(existing.parameters)),
            create=False, update=False, schema_changed=False,
        )  # fmt: skip
        if changes or keys != existing.partition_keys:
            what = "; ".join(changes or ["partition key types widened"])
            if self.crawler.schema_change_policy == "update":
                plan.table.columns, plan.table.partition_keys = columns, keys
                plan.schema_changed = True
                self.note(f"schema updated: {what}")
            else:
                self.note(f"schema change not applied (schema_change_policy=log): {what}")
        return plan

    def partition(self, w: Work, infos: dict[str, FileInfo]) -> Partition:
        files = [DataFile(e.key, e.size, infos[e.key].row_count) for e, _ in w.read]
        stats: dict[str, tuple[Any, Any]] = {}
        for e, _ in w.read:
            stats = merge_stats(stats, infos[e.key].stats)
        split = all(CURRENT_EVENT_TIME in infos[e.key].stats for e, _ in w.read)
        if w.old is not None and w.reused:
            kept = {d.key: d for d in w.old.files}
            files += [kept[k] for k in w.reused]
            stats = merge_stats(w.old.stats, stats)
            split = split and CURRENT_EVENT_TIME in w.old.stats
        if not split:  # a file whose rows were not split: the partition's split is unknown
            stats.pop(CURRENT_EVENT_TIME, None)
            stats.pop(STALE_EVENT_TIME, None)
        files.sort(key=lambda d: d.key)
        rows = [d.row_count for d in files]
        return Partition(
            self.database, self.name, w.values, w.folder.key, files,
            row_count=None if any(r is None for r in rows) else sum(r or 0 for r in rows),
            size_bytes=sum(d.size for d in files), stats=stats,
        )  # fmt: skip

    def vanished(self, plan: TablePlan, known: dict[str, Partition], present: set[str]) -> None:
        """Apply the delete behaviour to known partitions whose folder is gone."""
        behavior = self.crawler.delete_behavior
        for loc, part in known.items():
            if loc in present:
                continue
            if behavior == "delete":
                plan.delete.append(part.values)
                plan.removed += 1
            elif behavior == "deprecate" and not part.deprecated:
                plan.upsert.append(replace(part, deprecated=True))
                plan.removed += 1
            elif behavior == "log":
                self.note(f"partition {loc} vanished from the lake (delete_behavior=log: kept)")

    def format_of(self, entry: FileEntry) -> str | None:
        if entry.size == 0:
            self.skip(entry.key, "empty file")
            return None
        fmt = file_format(entry.key)
        if fmt is None:
            with self.lake.fs.open_input_file(self.lake.path(entry.key)) as fh:
                fmt = file_format(entry.key, fh.read(64))
            if fmt is None:
                self.skip(entry.key, "neither Parquet nor JSON lines")
        return fmt

    def read_files(self, todo: list[tuple[FileEntry, str]]) -> dict[str, FileInfo]:
        out: dict[str, FileInfo] = {}
        total = len(todo)
        if self.progress:
            self.progress(0, total)
        if not todo:
            return out
        with ThreadPoolExecutor(FOOTER_WORKERS) as pool:
            futures = [
                pool.submit(inspect_file, self.lake, e, fmt, self.stats_columns) for e, fmt in todo
            ]
            try:
                for i, (fut, (entry, _)) in enumerate(zip(futures, todo, strict=True), 1):
                    try:
                        info = fut.result()
                    except CorruptFileError as exc:
                        self.skip(entry.key, str(exc))
                    else:
                        out[info.key] = info
                    if self.progress:
                        self.progress(i, total)
                    self.check_stop()
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
        return out

    def set_parameters(
        self, plan: TablePlan, known: dict[str, Partition], base: Table | None
    ) -> None:
        """Table totals: from ``base``'s parameters plus this crawl's changes when given
        (incremental crawls), else summed over ``known`` (every partition) plus the changes."""

        def size(p: Partition | None) -> tuple[int, int, int]:
            if p is None or p.deprecated:
                return (0, 0, 0)
            return (p.row_count or 0, p.size_bytes, len(p.files))

        names = ("recordCount", "sizeKey", "objectCount")
        try:
            if base is None:
                raise KeyError
            totals = [int(base.parameters[n]) for n in names]
        except (KeyError, ValueError):
            if base is not None:  # parameters missing: count everything once
                parts = self.catalog.list_partitions(self.database, self.name)
                known = {**{p.location: p for p in parts}, **known}
            totals = [0, 0, 0]
            for p in known.values():
                totals = [t + n for t, n in zip(totals, size(p), strict=True)]
        by_values = {p.values: p for p in known.values()}
        for p in plan.upsert:
            totals = [
                t - o + n
                for t, o, n in zip(totals, size(by_values.get(p.values)), size(p), strict=True)
            ]
        for v in plan.delete:
            totals = [t - o for t, o in zip(totals, size(by_values.get(tuple(v))), strict=True)]
        params = dict(plan.table.parameters)
        params.update({
            "classification": plan.table.format,
            "recordCount": str(totals[0]),
            "sizeKey": str(totals[1]),
            "objectCount": str(totals[2]),
            "UPDATED_BY_CRAWLER": self.crawler.name,
            "CrawlerSchemaSerializerVersion": SCHEMA_SERIALIZER_VERSION,
            "typeOfData": "file",
        })  # fmt: skip
        if not plan.create and params != plan.table.parameters:
            plan.update = True
        plan.table.parameters = params
        plan.update = plan.update or plan.schema_changed


def throttled_stop_check(catalog: Catalog, name: str, every_s: float = 0.5) -> Callable[[], None]:
    """A callable raising CrawlCancelled once the crawler's state is STOPPING."""
    last = [0.0]

    def check() -> None:
        now = time.monotonic()
        if now - last[0] < every_s:
            return
        last[0] = now
        if catalog.get_crawler(name).state == "STOPPING":
            raise CrawlCancelled()

    return check

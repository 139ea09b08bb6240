"""CLI: ``catalog tables|partitions|compact``, ``crawler list|create|update|start|stop|status|runs``,
``query``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trafficlake.catalog import CatalogError, Crawler, CrawlRun, open_catalog
from trafficlake.cli.common import (
    App,
    ConfigOpt,
    JsonOpt,
    LimitOpt,
    collector_paused,
    console,
    epoch_or_number,
    open_for_reading,
    print_json,
    print_table,
    progress_callback,
    settings,
    when,
)

if TYPE_CHECKING:
    from trafficlake.config import Settings
    from trafficlake.query import CatalogConnection

catalog_app = App(
    help="Browse the catalog (tables, partitions); compact raw partitions.", no_args_is_help=True
)
crawler_app = App(help="Crawlers: register lake prefixes as catalog tables.", no_args_is_help=True)


def _split_name(full: str) -> tuple[str, str]:
    db, dot, name = full.partition(".")
    if not dot or not db or not name:
        raise CatalogError(f"table name {full!r} must be DATABASE.TABLE (e.g. traffic.raw)")
    return db, name


@catalog_app.command("tables")
def tables(limit: LimitOpt = 50, config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """List the catalog's tables."""
    with open_for_reading(settings(config)) as cat:
        found = cat.list_tables()
    shown = found[:limit] if limit else found
    if json_:
        print_json(shown)
        return
    rows = [
        (t.full_name, t.format, ", ".join(k.name for k in t.partition_keys), len(t.columns),
         _count(t.parameters.get("recordCount")), when(t.updated_at))
        for t in shown
    ]  # fmt: skip
    print_table(
        ("table", "format", "partition keys", "columns", "records", "updated"),
        rows,
        keys=("table",),
        total=len(found),
        empty="no tables yet: run a crawler (trafficlake crawler start raw --wait) after an "
        "ingest, or try trafficlake demo",
    )


def _count(value: str | None) -> str:
    return f"{int(value):,}" if value and value.lstrip("-").isdigit() else (value or "-")


@catalog_app.command("partitions")
def partitions(
    table: Annotated[str, typer.Argument(help="DATABASE.TABLE, e.g. traffic.raw")],
    limit: Annotated[
        int,
        typer.Option(
            "--limit", "-n", metavar="N", min=0, help="Show the N newest versions (0: all)."
        ),
    ] = 50,
    deprecated: Annotated[
        bool, typer.Option("--deprecated", help="Include deprecated partitions.")
    ] = False,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List a table's partitions (values, files, rows, bytes, stats, version)."""
    db, name = _split_name(table)
    with open_for_reading(settings(config)) as cat:
        parts = cat.list_partitions(db, name, include_deprecated=deprecated)
    total = len(parts)
    if limit > 0:
        keep = {id(p) for p in sorted(parts, key=lambda p: p.version)[-limit:]}
        parts = [p for p in parts if id(p) in keep]
    if json_:
        print_json(parts)
        return
    rows = []
    for p in parts:
        stats = "; ".join(
            f"{c}: {epoch_or_number(lo)} .. {epoch_or_number(hi)}"
            for c, (lo, hi) in p.stats.items()
        )
        rows.append((p.location, len(p.files), _count(str(p.row_count)), f"{p.size_bytes:,}",
                     stats, p.version, "yes" if p.deprecated else ""))  # fmt: skip
    print_table(
        ("location", "files", "rows", "bytes", "stats", "version", "deprecated"),
        rows,
        keys=("location",),
        total=total,
        empty=f"{table} has no partitions",
    )


@catalog_app.command("compact")
def compact(
    table: Annotated[
        str | None, typer.Argument(help="DATABASE.TABLE of a crawled table (default: the raw one).")
    ] = None,
    min_files: Annotated[
        int,
        typer.Option(
            "--min-files", min=2, help="Compact partitions with at least this many files."
        ),
    ] = 2,
    settle_minutes: Annotated[
        float,
        typer.Option(
            "--settle-minutes",
            min=0,
            help="Leave partitions whose hour (or day) ended less than this long ago: "
            "deliveries may still add to them.",
        ),
    ] = 60,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be compacted; change nothing.")
    ] = False,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Rewrite each settled partition's small delivered Parquet files into one file (same rows,
    same order) and swap it in through the catalog. Holds the table's crawler while it runs."""
    from trafficlake.catalog.compaction import compact as compact_files
    from trafficlake.catalog.names import TableRef

    ref = TableRef(*_split_name(table)) if table else None
    with progress_callback("compacting") as report:
        done = compact_files(
            settings(config),
            ref,
            min_files=min_files,
            settle_seconds=settle_minutes * 60,
            dry_run=dry_run,
            progress=report,
        )
    if json_:
        print_json(done)
        return
    verb = "would compact" if dry_run else "compacted"
    after = f" ({done.bytes_before:,} -> {done.bytes_after:,} bytes)" if not dry_run else ""
    console.print(
        f"{done.table}: {verb} {done.partitions} partition(s), {done.files_before} file(s) "
        f"into {done.files_after}, {done.rows:,} rows{after} in {done.seconds:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    for line in done.skipped:
        console.print(f"  left alone: {line}", highlight=False, soft_wrap=True)


@crawler_app.command("list")
def crawler_list(limit: LimitOpt = 50, config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """List crawlers with their state and last crawl."""
    from trafficlake.catalog.crawler import DEFAULT_CRAWLERS, default_crawler

    s = settings(config)
    with open_for_reading(s) as cat:
        stored = {c.name: c for c in cat.list_crawlers()}
    # The default crawlers are listed as they will be created on first use (a listing writes
    # nothing).
    defaults = [default_crawler(s, n) for n in DEFAULT_CRAWLERS if n not in stored]
    found = [*stored.values(), *defaults]
    found.sort(key=lambda c: c.name)
    shown = found[:limit] if limit else found
    if json_:
        print_json(shown)
        return
    rows = []
    for c in shown:
        last = c.last_crawl
        policies = (
            f"{c.recrawl_policy}, schema {c.schema_change_policy}, delete {c.delete_behavior}"
        )
        rows.append((c.name, " ".join(c.targets), c.state, last.status if last else "-",
                     when(last.ended_at if last else None), policies))  # fmt: skip
    print_table(
        ("crawler", "targets", "state", "last crawl", "ended", "policies"),
        rows,
        keys=("crawler", "targets"),
        total=len(found),
        empty="no crawlers",
    )


def _print_run(run: CrawlRun) -> None:
    console.print(
        f"run {run.id}: {run.status}  tables +{run.tables_created} ~{run.tables_updated}  "
        f"partitions +{run.partitions_added} ~{run.partitions_updated} -{run.partitions_removed}",
        highlight=False,
        soft_wrap=True,
    )
    for m in run.messages:
        console.print(f"  note: {m}", highlight=False, soft_wrap=True)
    if run.error_message:
        console.print(f"  error: {run.error_message}", highlight=False, soft_wrap=True)


@crawler_app.command("start")
def crawler_start(
    name: Annotated[str, typer.Argument(help="Crawler name (raw, transformed, ...).")],
    wait: Annotated[
        bool, typer.Option("--wait", help="Crawl in the foreground and report.")
    ] = False,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Start a crawl (in a detached background process unless --wait)."""
    from trafficlake.catalog.crawler import run_crawler, start_crawler_detached

    s = settings(config)
    if not wait:
        run = start_crawler_detached(s, name, config=str(config) if config else None)
        if json_:
            print_json(run)
        else:
            console.print(f"crawler {name} started: run {run.id}", highlight=False)
        return
    with progress_callback(f"crawling {name}") as report:
        run = run_crawler(s, name, progress=report)
    if json_:
        print_json(run)
    else:
        _print_run(run)
    if run.status == "FAILED":
        raise typer.Exit(1)


RecrawlOpt = Annotated[
    str | None, typer.Option("--recrawl-policy", help="everything | new_folders_only")
]
SchemaOpt = Annotated[str | None, typer.Option("--schema-change-policy", help="update | log")]
DeleteOpt = Annotated[
    str | None, typer.Option("--delete-behavior", help="delete | deprecate | log")
]


@crawler_app.command("create")
def crawler_create(
    name: Annotated[str, typer.Argument(help="Crawler name.")],
    target: Annotated[list[str], typer.Option("--target", "-t", help="Lake prefix (repeatable).")],
    database: Annotated[
        str | None, typer.Option("--database", help="Default: catalog.database.")
    ] = None,
    table_prefix: Annotated[str, typer.Option("--table-prefix")] = "",
    recrawl_policy: RecrawlOpt = None,
    schema_change_policy: SchemaOpt = None,
    delete_behavior: DeleteOpt = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Define a crawler: each target prefix becomes a table."""
    s = settings(config)
    crawler = Crawler(
        name, list(target), database=database or s.catalog.database, table_prefix=table_prefix
    )
    crawler = _with_policies(crawler, recrawl_policy, schema_change_policy, delete_behavior)
    with open_catalog(s) as cat:
        created = cat.create_crawler(crawler)
    if json_:
        print_json(created)
    else:
        console.print(f"crawler {name} created", highlight=False)


@crawler_app.command("update")
def crawler_update(
    name: Annotated[str, typer.Argument(help="Crawler name.")],
    recrawl_policy: RecrawlOpt = None,
    schema_change_policy: SchemaOpt = None,
    delete_behavior: DeleteOpt = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Change a crawler's policies."""
    from trafficlake.catalog.crawler import ensure_default_crawlers

    s = settings(config)
    with open_catalog(s) as cat:
        ensure_default_crawlers(cat, s)
        crawler = _with_policies(
            cat.get_crawler(name), recrawl_policy, schema_change_policy, delete_behavior
        )
        updated = cat.update_crawler(crawler)
    if json_:
        print_json(updated)
        return
    console.print(
        f"crawler {name}: {updated.recrawl_policy}, schema {updated.schema_change_policy}, "
        f"delete {updated.delete_behavior}",
        highlight=False,
    )


def _with_policies(
    c: Crawler, recrawl: str | None, schema: str | None, delete: str | None
) -> Crawler:
    return replace(
        c,
        recrawl_policy=recrawl or c.recrawl_policy,
        schema_change_policy=schema or c.schema_change_policy,
        delete_behavior=delete or c.delete_behavior,
    )


@crawler_app.command("stop")
def crawler_stop(
    name: Annotated[str, typer.Argument(help="Crawler name.")], config: ConfigOpt = None
) -> None:
    """Ask a running crawler to stop (it ends CANCELLED, publishing nothing)."""
    from trafficlake.catalog.crawler import stop_crawler

    stop_crawler(settings(config), name)
    console.print(f"crawler {name}: stop requested")


@crawler_app.command("status")
def crawler_status(
    name: Annotated[str, typer.Argument(help="Crawler name.")],
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """State of a crawler and its last crawl."""
    from trafficlake.catalog import NoSuchCrawlerError
    from trafficlake.catalog.crawler import DEFAULT_CRAWLERS, default_crawler

    s = settings(config)
    with open_for_reading(s) as cat:
        try:
            c = cat.get_crawler(name)
        except NoSuchCrawlerError:
            if name not in DEFAULT_CRAWLERS:
                raise
            c = default_crawler(s, name)  # created on first use; reading writes nothing
    if json_:
        print_json(c)
        return
    console.print(
        f"crawler {c.name}: {c.state}  targets {' '.join(c.targets)}  database {c.database}",
        highlight=False,
    )
    if c.last_crawl is not None:
        _print_run(c.last_crawl)


@crawler_app.command("runs")
def crawler_runs(
    name: Annotated[str, typer.Argument(help="Crawler name.")],
    limit: LimitOpt = 20,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """A crawler's runs, newest first."""
    from trafficlake.catalog import NoSuchCrawlerError
    from trafficlake.catalog.crawler import DEFAULT_CRAWLERS

    with open_for_reading(settings(config)) as cat:
        try:
            runs = cat.list_crawl_runs(name, limit=limit + 1 if limit else 1_000_000)
        except NoSuchCrawlerError:
            if name not in DEFAULT_CRAWLERS:
                raise
            runs = []  # a default crawler not created yet: it has not run
    more = bool(limit) and len(runs) > limit
    runs = runs[:limit] if limit else runs
    if json_:
        print_json(runs)
        return
    rows = [
        (r.id, r.status, when(r.started_at), when(r.ended_at), r.partitions_added,
         r.partitions_updated, r.partitions_removed, r.error_message or "")
        for r in runs
    ]  # fmt: skip
    print_table(
        ("run", "status", "started", "ended", "added", "updated", "removed", "error"),
        rows,
        keys=("run",),
        empty=f"crawler {name} has not run yet (trafficlake crawler start {name} --wait)",
    )
    if more:
        console.print(f"… older runs not shown (use --limit {limit * 5} or --limit 0)")


TABLE_ROWS = 40
"""Rows a query prints as a table unless --limit says otherwise."""


@collector_paused()  # one statement, then the process ends
def query(
    sql: Annotated[
        str | None,
        typer.Argument(help="SQL; catalog tables are DATABASE.TABLE, e.g. traffic.raw."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-F", metavar="FILE", help="Read the SQL from FILE."),
    ] = None,
    dialect: Annotated[
        str,
        typer.Option(
            "--dialect",
            metavar="DIALECT",
            help="duckdb | athena (Presto/Trino SQL with Athena's semantics, see docs/athena.md).",
        ),
    ] = "duckdb",
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="FORMAT", help="table | csv | json")
    ] = "table",
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            metavar="N",
            min=0,
            help=f"Print at most N rows (0: all; default {TABLE_ROWS} as a table, all as csv/json).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write the result to FILE."),
    ] = None,
    write: Annotated[bool, typer.Option("--write", help="Allow statements that write.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Run SQL over the catalog with DuckDB (partitions pruned through the catalog); --dialect
    athena runs Athena's SQL (the seed's INSERT INTO, Hive DDL) with Athena's semantics.

    A table prints its first rows and says how many more there are; -f csv or --limit 0 prints
    them all."""
    from rich.console import Console

    from trafficlake.query import QueryError, QueryResult, QueryRows, format_result

    if fmt not in ("table", "csv", "json"):
        raise QueryError(f"unknown output format {fmt!r}: use table, csv or json")
    if dialect not in ("duckdb", "athena"):
        raise QueryError(f"unknown dialect {dialect!r}: use duckdb or athena")
    if (sql is None) == (file is None):
        raise QueryError("give the SQL as an argument or with --file FILE (one of them)")
    if file is not None:
        try:
            sql = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise QueryError(f"cannot read {file}: {exc.strerror}") from None
    assert sql is not None
    if limit is None:
        limit = TABLE_ROWS if fmt == "table" and output is None else 0
    s = settings(config)
    result: QueryResult | QueryRows
    if dialect == "athena":
        from trafficlake.athena.engine import athena_query

        result = athena_query(s, sql, write=write, limit=limit or None)
    else:
        with _query_connection(s, write) as con:
            if fmt == "csv" and _exported_csv(con, sql, output, limit):
                return
            result = con.query_rows(sql, limit=limit or None)
    if fmt == "table":
        target = console if output is None else Console(file=output.open("w"), width=10_000)
        print_table(
            result.columns,
            result.rows,
            total=result.total_rows,
            more_hint="use -f csv / --limit",
            empty=_no_rows(result.columns, result.files_read),
            target=target,
        )
        if output is not None:
            target.file.close()
        return
    text = format_result(result, fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def _query_connection(s: Settings, write: bool) -> Iterator[CatalogConnection]:
    """The connection ``query`` runs on: with ``--write`` one that may write (and create the
    catalog), else one that only reads (never creating a lake folder or a catalog file)."""
    from trafficlake.query import connect
    from trafficlake.storage import Lake

    if write:
        with connect(s, read_only=False) as con:
            yield con
        return
    with (
        open_for_reading(s) as cat,
        connect(s, catalog=cat, lake=Lake.from_settings(s, create=False)) as con,
    ):
        yield con


def _exported_csv(con: CatalogConnection, sql: str, output: Path | None, limit: int) -> bool:
    """A single SELECT as CSV, written by DuckDB to ``output`` or to a temporary file streamed
    to stdout (:mod:`trafficlake.query_export`); False when it is not for that path."""
    import shutil
    import sys
    import tempfile

    from trafficlake.query_export import export_csv

    if output is not None:
        return export_csv(con, sql, output, limit=limit or None) is not None
    with tempfile.TemporaryDirectory(prefix="trafficlake-query-") as tmp:
        target = Path(tmp, "result.csv")
        if export_csv(con, sql, target, limit=limit or None) is None:
            return False
        sys.stdout.flush()
        with target.open("rb") as rows:
            shutil.copyfileobj(rows, sys.stdout.buffer, 1 << 20)
        sys.stdout.buffer.flush()
    return True


def _no_rows(columns: list[str], files_read: list[str]) -> str:
    if not columns:
        return "done (the statement returns no rows)"
    why = "" if files_read else " (it read no data files: the tables it names are empty)"
    return f"0 rows{why}"


def register(app: typer.Typer) -> None:
    """Add the catalog, crawler and query commands to the root app."""
    app.add_typer(catalog_app, name="catalog")
    app.add_typer(crawler_app, name="crawler")
    app.command("query")(query)

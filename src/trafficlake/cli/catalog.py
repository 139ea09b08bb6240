"""CLI: ``catalog tables|partitions``, ``crawler list|create|update|start|stop|status|runs``,
``query``."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table as RichTable

from trafficlake.catalog import Catalog, CatalogError, Crawler, CrawlRun, open_catalog
from trafficlake.cli.common import ConfigOpt, JsonOpt, console, print_json, progress, settings

catalog_app = typer.Typer(help="Browse the catalog: tables and partitions.", no_args_is_help=True)
crawler_app = typer.Typer(
    help="Crawlers: register lake prefixes as catalog tables.", no_args_is_help=True
)


def _when(ts: float | None) -> str:
    return (
        "-" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    )


def _open(config: Path | None) -> Catalog:
    return open_catalog(settings(config))


def _split_name(full: str) -> tuple[str, str]:
    db, dot, name = full.partition(".")
    if not dot or not db or not name:
        raise CatalogError(f"table name {full!r} must be DATABASE.TABLE (e.g. traffic.raw)")
    return db, name


@catalog_app.command("tables")
def tables(config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """List the catalog's tables."""
    with _open(config) as cat:
        found = cat.list_tables()
    if json_:
        print_json(found)
        return
    out = RichTable("table", "format", "partition keys", "columns", "records", "updated")
    for t in found:
        keys = ", ".join(f"{k.name}:{k.type}" for k in t.partition_keys)
        out.add_row(t.full_name, t.format, keys, str(len(t.columns)), t.parameters.get("recordCount", "-"),
                    _when(t.updated_at))  # fmt: skip
    console.print(
        out if found else "no tables (run a crawler: trafficlake crawler start raw --wait)"
    )


@catalog_app.command("partitions")
def partitions(
    table: Annotated[str, typer.Argument(help="DATABASE.TABLE, e.g. traffic.raw")],
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="Show at most N (newest versions).")
    ] = 0,
    deprecated: Annotated[
        bool, typer.Option("--deprecated", help="Include deprecated partitions.")
    ] = False,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List a table's partitions (values, files, rows, bytes, stats, version)."""
    db, name = _split_name(table)
    with _open(config) as cat:
        parts = cat.list_partitions(db, name, include_deprecated=deprecated)
    if limit > 0:
        keep = {id(p) for p in sorted(parts, key=lambda p: p.version)[-limit:]}
        parts = [p for p in parts if id(p) in keep]
    if json_:
        print_json(parts)
        return
    out = RichTable("location", "files", "rows", "bytes", "stats", "version", "deprecated")
    for p in parts:
        stats = "; ".join(f"{c}: {lo}..{hi}" for c, (lo, hi) in p.stats.items())
        out.add_row(p.location, str(len(p.files)), str(p.row_count), str(p.size_bytes), stats, str(p.version),
                    "yes" if p.deprecated else "")  # fmt: skip
    console.print(out)


@crawler_app.command("list")
def crawler_list(config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """List crawlers with their state and last crawl."""
    from trafficlake.catalog.crawler import ensure_default_crawlers

    s = settings(config)
    with open_catalog(s) as cat:
        ensure_default_crawlers(cat, s)
        found = cat.list_crawlers()
    if json_:
        print_json(found)
        return
    out = RichTable("crawler", "targets", "state", "last crawl", "ended", "policies")
    for c in found:
        last = c.last_crawl
        policies = (
            f"{c.recrawl_policy}, schema {c.schema_change_policy}, delete {c.delete_behavior}"
        )
        out.add_row(c.name, " ".join(c.targets), c.state, last.status if last else "-",
                    _when(last.ended_at if last else None), policies)  # fmt: skip
    console.print(out)


def _print_run(run: CrawlRun) -> None:
    console.print(
        f"run {run.id}: {run.status}  tables +{run.tables_created} ~{run.tables_updated}  "
        f"partitions +{run.partitions_added} ~{run.partitions_updated} -{run.partitions_removed}",
        highlight=False,
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
    with progress() as bar:
        task = bar.add_task(f"crawling {name}", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

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
    with _open(config) as cat:
        c = cat.get_crawler(name)
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
    limit: Annotated[int, typer.Option("--limit", "-n")] = 20,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """A crawler's runs, newest first."""
    with _open(config) as cat:
        runs = cat.list_crawl_runs(name, limit=limit)
    if json_:
        print_json(runs)
        return
    out = RichTable("run", "status", "started", "ended", "added", "updated", "removed", "error")
    for r in runs:
        out.add_row(r.id, r.status, _when(r.started_at), _when(r.ended_at), str(r.partitions_added),
                    str(r.partitions_updated), str(r.partitions_removed), r.error_message or "")  # fmt: skip
    console.print(out)


def _render_table(columns: list[str], rows: list[tuple[Any, ...]], target: Console) -> None:
    out = RichTable(*columns)
    for row in rows:
        out.add_row(*["NULL" if v is None else str(v) for v in row])
    target.print(out)


def query(
    sql: Annotated[
        str, typer.Argument(help="SQL; catalog tables are DATABASE.TABLE, e.g. traffic.raw.")
    ],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | csv | json")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the result to FILE.")
    ] = None,
    write: Annotated[bool, typer.Option("--write", help="Allow statements that write.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Run SQL over the catalog with DuckDB (partitions pruned through the catalog)."""
    from trafficlake.query import QueryError, format_result, run_query

    if fmt not in ("table", "csv", "json"):
        raise QueryError(f"unknown output format {fmt!r}: use table, csv or json")
    result = run_query(settings(config), sql, read_only=not write)
    if fmt == "table":
        if output is None:
            _render_table(result.columns, result.rows, console)
        else:
            with output.open("w", encoding="utf-8") as f:
                _render_table(result.columns, result.rows, Console(file=f, width=10_000))
        return
    text = format_result(result, fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def register(app: typer.Typer) -> None:
    """Add the catalog, crawler and query commands to the root app."""
    app.add_typer(catalog_app, name="catalog")
    app.add_typer(crawler_app, name="crawler")
    app.command("query")(query)

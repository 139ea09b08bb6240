"""The crawler (Glue crawler analog): lake prefixes -> catalog tables and partitions.

A crawl reads the lake and the catalog, plans every table (:mod:`crawl_plan`), and publishes
only when all targets were read without error: tables are created or updated, then each
table's partition changes go in ONE ``commit_partitions``. A failed or cancelled crawl leaves
the catalog as it was. Public API (also used as workflow task resources):
:func:`ensure_default_crawlers`, :func:`run_crawler`, :func:`start_crawler`,
:func:`stop_crawler`.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

from trafficlake.catalog import open_catalog
from trafficlake.catalog.base import (
    Catalog,
    CatalogError,
    Crawler,
    CrawlerRunningError,
    CrawlRun,
    NoSuchCrawlerError,
    TableExistsError,
)
from trafficlake.catalog.compaction import clean_stale_compactions
from trafficlake.catalog.crawl_plan import (
    CrawlCancelled,
    TablePlan,
    TargetCrawl,
    throttled_stop_check,
)
from trafficlake.catalog.names import RAW_PREFIX, TRANSFORMED_PREFIX, TableRef
from trafficlake.config import Settings
from trafficlake.errors import TrafficlakeError
from trafficlake.storage import Lake

log = logging.getLogger(__name__)

DEFAULT_CRAWLERS = {"raw": RAW_PREFIX, "transformed": TRANSFORMED_PREFIX}

Progress = Callable[[int, int], None]


def default_crawler(settings: Settings, name: str) -> Crawler:
    return Crawler(
        name=name,
        targets=[DEFAULT_CRAWLERS[name]],
        database=settings.catalog.database,
        table_prefix=settings.catalog.table_prefix,
    )


def ensure_default_crawlers(catalog: Catalog, settings: Settings) -> None:
    """Create the crawlers ``raw`` (raw/) and ``transformed`` (transformed/) if missing."""
    for name in DEFAULT_CRAWLERS:
        catalog.create_crawler(default_crawler(settings, name), exist_ok=True)


def get_crawler(catalog: Catalog, settings: Settings, name: str) -> Crawler:
    try:
        return catalog.get_crawler(name)
    except NoSuchCrawlerError:
        if name not in DEFAULT_CRAWLERS:
            raise
        ensure_default_crawlers(catalog, settings)
        return catalog.get_crawler(name)


def _publish(catalog: Catalog, plan: TablePlan, run: CrawlRun) -> None:
    t = plan.table
    catalog.create_database(t.database, exist_ok=True)
    if plan.create:
        try:
            catalog.create_table(t)
            run.tables_created += 1
        except TableExistsError:  # created concurrently: treat as an update
            catalog.update_table(t)
            run.tables_updated += 1
    elif plan.update:
        catalog.update_table(t)
        if plan.schema_changed:
            run.tables_updated += 1
    if plan.upsert or plan.delete:
        catalog.commit_partitions(t.database, t.name, upsert=plan.upsert, delete=plan.delete)
    run.partitions_added += plan.added
    run.partitions_updated += plan.updated
    run.partitions_removed += plan.removed


def execute_crawl(
    settings: Settings,
    catalog: Catalog,
    lake: Lake,
    crawler: Crawler,
    run: CrawlRun,
    progress: Progress | None = None,
) -> CrawlRun:
    """Carry out an already started ``run`` of ``crawler`` and record how it ended."""
    from trafficlake.events.bus import emit

    crawl_event = {"crawlerName": crawler.name}
    emit(settings, "aws.glue", "Glue Crawler State Change", {**crawl_event, "state": "Started"})
    check_stop = throttled_stop_check(catalog, crawler.name)
    stats_columns = list(settings.catalog.stats_columns)
    try:
        plans: list[TablePlan] = []
        for target in crawler.targets:
            check_stop()
            crawl = TargetCrawl(
                catalog, lake, crawler, target, stats_columns, run.messages, check_stop, progress
            )
            # a compaction killed mid-swap must not have its files published twice
            clean_stale_compactions(
                catalog, lake, TableRef(crawl.database, crawl.name), crawl.target
            )
            plan = crawl.plan()
            if plan is not None:
                plans.append(plan)
        if catalog.get_crawler(crawler.name).state == "STOPPING":
            raise CrawlCancelled()
        for plan in plans:
            _publish(catalog, plan, run)
        run.status = "SUCCEEDED"
    except CrawlCancelled:
        run.status = "CANCELLED"
        run.messages.append("stopped on request before publishing; catalog unchanged")
    except TrafficlakeError as exc:
        run.status, run.error_message = "FAILED", str(exc)
    except Exception as exc:  # a bug or an I/O failure: record it, do not leave the crawler RUNNING
        log.exception("crawler %s failed", crawler.name)
        run.status, run.error_message = "FAILED", f"{type(exc).__name__}: {exc}"
    finally:
        run.ended_at = time.time()
        catalog.finish_crawl(run)
    state = {"SUCCEEDED": "Succeeded", "FAILED": "Failed"}.get(run.status, "Cancelled")
    detail = {**crawl_event, "state": state, "message": run.error_message or f"Crawler {state}"}
    emit(settings, "aws.glue", "Glue Crawler State Change", detail)
    return run


def run_crawler(
    settings: Settings,
    name: str,
    *,
    catalog: Catalog | None = None,
    lake: Lake | None = None,
    progress: Progress | None = None,
) -> CrawlRun:
    """Crawl in the foreground and return the finished run (SUCCEEDED, FAILED or CANCELLED).

    Data errors are recorded on the run, not raised; raises CrawlerRunningError when the
    crawler is already running. The default crawlers are created on first use."""
    own = catalog is None
    cat = catalog or open_catalog(settings)
    try:
        crawler = get_crawler(cat, settings, name)
        lake = lake or Lake.from_settings(settings)  # before start_crawl: a bad lake starts nothing
        run = cat.start_crawl(name)
        return _execute_to_the_end(settings, cat, lake, crawler, run, progress)
    finally:
        if own:
            cat.close()


def _execute_to_the_end(
    settings: Settings,
    catalog: Catalog,
    lake: Lake,
    crawler: Crawler,
    run: CrawlRun,
    progress: Progress | None = None,
) -> CrawlRun:
    """:func:`execute_crawl`, and if even that fails (say recording the end raised), one more
    try to end the run FAILED so that the crawler never stays RUNNING."""
    try:
        return execute_crawl(settings, catalog, lake, crawler, run, progress)
    except BaseException as exc:
        log.exception("crawler %s: could not record the end of run %s", crawler.name, run.id)
        run.status, run.error_message = "FAILED", f"{type(exc).__name__}: {exc}"
        run.ended_at = run.ended_at or time.time()
        try:
            catalog.finish_crawl(run)
        except Exception:
            log.exception("crawler %s: run %s left RUNNING", crawler.name, run.id)
        raise


def start_crawler(settings: Settings, name: str, *, wait: bool = False) -> CrawlRun:
    """Start a crawl: ``wait=True`` runs it here; otherwise in a background thread of this
    process, returning the RUNNING run at once (poll ``get_crawler(name)``)."""
    if wait:
        return run_crawler(settings, name)
    catalog = open_catalog(settings)
    try:
        crawler = get_crawler(catalog, settings, name)
        lake = Lake.from_settings(settings)  # raised here, to the caller, before the run starts
        run = catalog.start_crawl(name)
    except BaseException:
        catalog.close()
        raise

    def work() -> None:
        try:
            _execute_to_the_end(settings, catalog, lake, crawler, run)
        except BaseException:  # already logged and recorded; nothing else listens to this thread
            pass
        finally:
            catalog.close()

    threading.Thread(target=work, name=f"crawler-{name}", daemon=False).start()
    return CrawlRun(id=run.id, crawler=run.crawler, status=run.status, started_at=run.started_at)


def stop_crawler(settings: Settings, name: str) -> None:
    """Ask a running crawler to stop (RUNNING -> STOPPING); it ends CANCELLED, publishing nothing."""
    with open_catalog(settings) as catalog:
        catalog.request_stop(name)


def start_crawler_detached(
    settings: Settings, name: str, *, config: str | None = None, timeout_s: float = 30.0
) -> CrawlRun:
    """Start ``trafficlake crawler start NAME --wait`` as a detached process (it outlives the
    caller) and return its run as soon as the catalog records it."""
    with open_catalog(settings) as catalog:
        crawler = get_crawler(catalog, settings, name)
        if crawler.state != "READY":
            raise CrawlerRunningError(f"crawler {name} is already running (state {crawler.state})")
        before = crawler.last_crawl.id if crawler.last_crawl else None
        cmd = [sys.executable, "-m", "trafficlake.cli", "crawler", "start", name, "--wait"]
        if config:
            cmd += ["--config", str(config)]
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(
                cmd,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                last = catalog.get_crawler(name).last_crawl
                if last is not None and last.id != before:
                    return last
                if proc.poll() is not None:
                    last = catalog.get_crawler(name).last_crawl
                    if last is not None and last.id != before:
                        return last
                    err.seek(0)
                    reason = err.read().decode("utf-8", "replace").strip().splitlines()
                    raise CatalogError(
                        f"crawler {name} process exited ({proc.returncode}): "
                        + (reason[-1] if reason else "no output")
                    )
                time.sleep(0.05)
    raise CatalogError(
        f"crawler {name} did not start within {timeout_s:.0f} s (process {proc.pid})"
    )

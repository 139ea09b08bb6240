"""Crawlers and crawl runs for :class:`SqlCatalog` (a mixin, like :mod:`sql_runs`).

``start_crawl`` and ``request_stop`` lock the crawler row (``FOR UPDATE`` on PostgreSQL; the
SQLite write transaction is ``BEGIN IMMEDIATE``), so state transitions are compare-and-set.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trafficlake.catalog import sql_tables as T
from trafficlake.catalog.base import (
    AlreadyExistsError,
    CatalogError,
    Crawler,
    CrawlerCatalog,
    CrawlerNotRunningError,
    CrawlerRunningError,
    CrawlRun,
    NoSuchCrawlerError,
)
from trafficlake.catalog.sql_rows import crawl_run_from_row
from trafficlake.catalog.sql_store import SqlStore
from trafficlake.owner import owner_alive, owner_id


def _now() -> float:
    return time.time()


class CrawlerStore(SqlStore, CrawlerCatalog):
    """Crawler definitions, state transitions and runs (mixed into SqlCatalog)."""

    # ---- crawlers -------------------------------------------------------------------------
    @staticmethod
    def _crawler_values(c: Crawler) -> dict[str, Any]:
        return {
            "targets": json.dumps(list(c.targets)),
            "database_name": c.database,
            "table_prefix": c.table_prefix,
            "schema_change_policy": c.schema_change_policy,
            "delete_behavior": c.delete_behavior,
            "recrawl_policy": c.recrawl_policy,
        }

    def create_crawler(self, crawler: Crawler, *, exist_ok: bool = False) -> Crawler:
        _validate_crawler(crawler)
        try:
            self._insert_crawler(crawler, exist_ok)
        except AlreadyExistsError:
            if not exist_ok:
                raise
        return self.get_crawler(crawler.name)

    def _insert_crawler(self, crawler: Crawler, exist_ok: bool) -> None:
        taken = AlreadyExistsError(f"crawler {crawler.name} already exists")
        with self._write(taken) as conn:
            if self._crawler_row(conn, crawler.name, must=False) is None:
                conn.execute(
                    T.crawlers.insert().values(
                        name=crawler.name,
                        state="READY",
                        current_run=None,
                        created_at=_now(),
                        **self._crawler_values(crawler),
                    )
                )
            elif not exist_ok:
                raise taken

    def _crawler_row(
        self, conn: Connection, name: str, *, must: bool = True, lock: bool = False
    ) -> Any:
        q = sa.select(T.crawlers).where(T.crawlers.c.name == name)
        if lock:
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None and must:
            raise NoSuchCrawlerError(f"crawler {name} not found")
        return row

    def _crawler_from_row(self, conn: Connection, row: Any) -> Crawler:
        R = T.crawl_runs
        last = conn.execute(
            sa.select(R).where(R.c.crawler == row.name).order_by(R.c.seq.desc()).limit(1)
        ).first()
        return Crawler(
            name=row.name,
            targets=json.loads(row.targets),
            database=row.database_name,
            table_prefix=row.table_prefix,
            schema_change_policy=row.schema_change_policy,
            delete_behavior=row.delete_behavior,
            recrawl_policy=row.recrawl_policy,
            state=row.state,
            last_crawl=crawl_run_from_row(last) if last is not None else None,
            created_at=row.created_at,
        )

    def get_crawler(self, name: str) -> Crawler:
        with self._read() as conn:
            return self._crawler_from_row(conn, self._crawler_row(conn, name))

    def list_crawlers(self) -> list[Crawler]:
        with self._read() as conn:
            rows = list(conn.execute(sa.select(T.crawlers).order_by(T.crawlers.c.name)))
            return [self._crawler_from_row(conn, r) for r in rows]

    def update_crawler(self, crawler: Crawler) -> Crawler:
        _validate_crawler(crawler)
        with self._write() as conn:
            self._crawler_row(conn, crawler.name)
            conn.execute(
                T.crawlers.update()
                .where(T.crawlers.c.name == crawler.name)
                .values(**self._crawler_values(crawler))
            )
        return self.get_crawler(crawler.name)

    def delete_crawler(self, name: str) -> None:
        with self._write() as conn:
            row = self._crawler_row(conn, name, lock=True)
            if row.state != "READY":
                raise CrawlerRunningError(f"Crawler {name} is {row.state.lower()}")
            conn.execute(T.crawl_runs.delete().where(T.crawl_runs.c.crawler == name))
            conn.execute(T.crawlers.delete().where(T.crawlers.c.name == name))

    def start_crawl(self, name: str) -> CrawlRun:
        R = T.crawl_runs
        now = _now()
        with self._write() as conn:
            row = self._crawler_row(conn, name, lock=True)
            if row.state in ("RUNNING", "STOPPING"):
                current = conn.execute(sa.select(R).where(R.c.id == row.current_run)).first()
                if current is None or owner_alive(current.owner):
                    raise CrawlerRunningError(
                        f"crawler {name} is already running (run {row.current_run})"
                    )
                conn.execute(
                    R.update()
                    .where(R.c.id == current.id)
                    .values(
                        status="FAILED",
                        ended_at=now,
                        error_message=f"crawler process {current.owner} died",
                    )
                )
            run = CrawlRun(id=uuid.uuid4().hex, crawler=name, status="RUNNING", started_at=now)
            conn.execute(
                R.insert().values(
                    id=run.id,
                    crawler=name,
                    status="RUNNING",
                    started_at=now,
                    messages="[]",
                    owner=owner_id(),
                    tables_created=0,
                    tables_updated=0,
                    partitions_added=0,
                    partitions_updated=0,
                    partitions_removed=0,
                )
            )
            conn.execute(
                T.crawlers.update()
                .where(T.crawlers.c.name == name)
                .values(state="RUNNING", current_run=run.id)
            )
        return run

    def request_stop(self, name: str) -> None:
        with self._write() as conn:
            row = self._crawler_row(conn, name, lock=True)
            if row.state != "RUNNING":
                raise CrawlerNotRunningError(f"crawler {name} is not running (state {row.state})")
            conn.execute(
                T.crawlers.update().where(T.crawlers.c.name == name).values(state="STOPPING")
            )

    def finish_crawl(self, run: CrawlRun) -> None:
        R = T.crawl_runs
        if run.ended_at is None:
            run.ended_at = _now()
        with self._write() as conn:
            row = self._crawler_row(conn, run.crawler, lock=True)
            res = conn.execute(
                R.update()
                .where(R.c.id == run.id)
                .values(
                    status=run.status,
                    ended_at=run.ended_at,
                    tables_created=run.tables_created,
                    tables_updated=run.tables_updated,
                    partitions_added=run.partitions_added,
                    partitions_updated=run.partitions_updated,
                    partitions_removed=run.partitions_removed,
                    error_message=run.error_message,
                    messages=json.dumps(list(run.messages)),
                )
            )
            if res.rowcount == 0:
                raise CatalogError(f"crawl run {run.id} of crawler {run.crawler} not found")
            if row.current_run in (run.id, None):
                conn.execute(
                    T.crawlers.update()
                    .where(T.crawlers.c.name == run.crawler)
                    .values(state="READY", current_run=None)
                )

    def list_crawl_runs(self, name: str, *, limit: int = 20) -> list[CrawlRun]:
        R = T.crawl_runs
        with self._read() as conn:
            self._crawler_row(conn, name)
            rows = conn.execute(
                sa.select(R).where(R.c.crawler == name).order_by(R.c.seq.desc()).limit(limit)
            )
            return [crawl_run_from_row(r) for r in rows]


def _validate_crawler(c: Crawler) -> None:
    checks = (
        ("schema_change_policy", c.schema_change_policy, ("update", "log")),
        ("delete_behavior", c.delete_behavior, ("delete", "deprecate", "log")),
        ("recrawl_policy", c.recrawl_policy, ("everything", "new_folders_only")),
    )
    for field_name, value, allowed in checks:
        if value not in allowed:
            raise CatalogError(
                f"crawler {c.name}: {field_name} must be one of {allowed}, not {value!r}"
            )
    if not c.targets:
        raise CatalogError(f"crawler {c.name} has no targets")
    for target in c.targets:  # lake prefixes: refused now, not at the first crawl
        if ".." in target.split("/"):
            raise CatalogError(f"crawler {c.name}: target {target!r} escapes the lake")

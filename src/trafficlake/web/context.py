"""What every request of the app shares: the settings, one catalog and one lake handle (opened
on first use, behind a lock), the DuckDB connections requests take turns with, and the day
rules."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from trafficlake.catalog import Catalog, open_catalog
from trafficlake.catalog.names import transformed_table
from trafficlake.config import Settings
from trafficlake.query import CatalogConnection, connect
from trafficlake.storage import Lake
from trafficlake.web import data
from trafficlake.web.data import NotFoundError

KEPT_CONNECTIONS = 8
"""Idle DuckDB connections an app keeps (each is a database of its own); a burst of more
requests at once opens more, and closes them when they are answered."""


class WebContext:
    def __init__(self, settings: Settings, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self._given = catalog
        self._catalog: Catalog | None = catalog
        self._lake: Lake | None = None
        self._opening = threading.Lock()  # request threads share one catalog and one lake
        self._idle: list[CatalogConnection] = []
        self._pool = threading.Lock()
        self._closed = False

    @property
    def catalog(self) -> Catalog:
        with self._opening:
            if self._catalog is None:
                self._catalog = open_catalog(self.settings)
            return self._catalog

    @property
    def lake(self) -> Lake:
        with self._opening:
            if self._lake is None:
                self._lake = Lake.from_settings(self.settings)
            return self._lake

    def close(self) -> None:
        """Close the kept DuckDB connections and the catalog this context opened (not one it
        was given)."""
        with self._pool:
            self._closed, idle, self._idle = True, self._idle, []
        for con in idle:
            con.close()
        if self._catalog is not None and self._given is None:
            self._catalog.close()
            self._catalog = None

    @contextmanager
    def sql(self) -> Iterator[CatalogConnection]:
        """A read-only DuckDB connection over the catalog's tables for one request: one an
        earlier request used (its views and the Parquet footers it read are kept; opening a
        connection cost a warm answer about as much as its query), or a new one. A connection
        serves one request at a time; it answers as a new one would (its views follow the
        catalog and the lake: :meth:`CatalogConnection.current`), and one whose request failed
        is closed, not kept."""
        con = self._kept() or self._connect()
        try:
            yield con
        except BaseException:
            con.close()
            raise
        with self._pool:
            if not self._closed and len(self._idle) < KEPT_CONNECTIONS:
                self._idle.append(con)
                return
        con.close()

    def _kept(self) -> CatalogConnection | None:
        while True:
            with self._pool:
                if not self._idle:
                    return None
                con = self._idle.pop()
            try:
                if con.current():
                    return con
            except BaseException:
                con.close()
                raise
            con.close()

    def _connect(self) -> CatalogConnection:
        con = connect(self.settings, catalog=self.catalog, lake=self.lake)
        # kept across requests: reuse the Parquet footers read (DuckDB checks each file's
        # modification time and size before it does)
        con.duckdb.execute("SET parquet_metadata_cache = true")
        return con

    def days(self) -> list[str]:
        return data.available_days(self.catalog, self.settings)

    def day(self, day: str | None) -> dt.date:
        """The asked day (default: the latest); 400 when malformed, 404 when it has no data."""
        when = data.parse_day(day) if day is not None else None
        available = self.days()
        if not available:
            data.require_transformed(self.catalog, self.settings)  # 404 naming a missing table
            raise NotFoundError(f"{transformed_table(self.settings)} has no partitions yet")
        if when is None:
            return dt.date.fromisoformat(available[-1])
        if when.isoformat() not in available:
            raise NotFoundError(
                f"no transformed data on {when.isoformat()} "
                f"(days available: {available[0]} .. {available[-1]})"
            )
        return when

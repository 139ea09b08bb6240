"""The SQL catalog: one SQLAlchemy Core implementation for SQLite files and PostgreSQL.

Concurrency: SQLite runs in WAL mode with a busy timeout and every write transaction starts
with ``BEGIN IMMEDIATE`` (the write lock is taken up front, so two processes never lose an
update); PostgreSQL uses ordinary transactions with ``SELECT ... FOR UPDATE`` on the version
counter and on crawler rows. The partition ``version`` is a one-row counter bumped inside the
transaction that changes the partitions, so versions are strictly increasing and unique.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from trafficlake.catalog import sql_tables as T
from trafficlake.catalog.base import (
    INT_TYPES,
    AlreadyExistsError,
    Catalog,
    CatalogError,
    NoSuchDatabaseError,
    NoSuchPartitionError,
    NoSuchTableError,
    Partition,
    PartitionChangedError,
    Table,
    TableExistsError,
)
from trafficlake.catalog.sql_crawlers import CrawlerStore
from trafficlake.catalog.sql_queries import QueryExecutionStore
from trafficlake.catalog.sql_resources import ResourceStore
from trafficlake.catalog.sql_rows import (
    partition_from_row,
    stat_row,
    stat_value,
    table_from_row,
)
from trafficlake.catalog.sql_runs import RunStore
from trafficlake.catalog.sql_store import row_exists
from trafficlake.errors import first_line

SQLITE_BUSY_TIMEOUT_S = 60.0
"""How long a SQLite catalog waits for another process's lock by default (``catalog.busy_timeout_s``)."""
_SCHEMA_LOCK_KEY = 0x7472_616C  # pg advisory lock id for schema creation
_CHUNK = 500


def _now() -> float:
    return time.time()


def _engine_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to print)."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not parseable as a database URL: cut any user info out by hand
        scheme, sep, rest = url.partition("://")
        return f"{scheme}{sep}***@{rest.split('@', 1)[1]}" if "@" in rest else url


def _first_line(exc: BaseException) -> str:
    """The driver's own error (SQLAlchemy wraps it as ``orig``) in one line."""
    return first_line(getattr(exc, "orig", None) or exc)


class CatalogLockedError(CatalogError):
    """Another process held the catalog's write lock for the whole busy timeout."""


class CatalogReadOnlyError(CatalogError):
    """The catalog cannot be written (a read-only file, folder or database)."""


class CatalogDriverError(CatalogError):
    """Any other database driver error; ``reason`` is the driver's own first line."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class SqlCatalog(CrawlerStore, RunStore, QueryExecutionStore, ResourceStore, Catalog):
    """A catalog in a SQLite file (``sqlite:///path``) or PostgreSQL (``postgresql://...``)."""

    def __init__(self, url: str, *, busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S) -> None:
        self.url = url
        self.busy_timeout_s = busy_timeout_s
        try:
            self._connect(url, busy_timeout_s)
        except sa.exc.ArgumentError as exc:  # malformed URL or unknown dialect
            raise CatalogError(f"invalid catalog URL {redacted(url)}: {_first_line(exc)}") from None

    def _connect(self, url: str, busy_timeout_s: float) -> None:
        engine_url = _engine_url(url)
        self._sqlite = engine_url.startswith("sqlite")
        if self._sqlite:
            path = engine_url.split("///", 1)[1] if "///" in engine_url else ""
            extra: dict[str, Any] = {}
            if path and path != ":memory:" and not path.startswith("file:"):
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            else:  # in-memory: one shared connection, or every checkout sees an empty database
                extra["poolclass"] = sa.pool.StaticPool
            self._engine: Engine = sa.create_engine(
                engine_url,
                connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
                **extra,
            )
            busy_ms = int(busy_timeout_s * 1000)
            sa.event.listen(
                self._engine, "connect", lambda conn, rec: _sqlite_on_connect(conn, busy_ms)
            )
            sa.event.listen(self._engine, "begin", _sqlite_on_begin)
        else:
            try:
                self._engine = sa.create_engine(engine_url, pool_pre_ping=True)
            except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
                from trafficlake.errors import MissingExtraError

                raise MissingExtraError(exc.name or "psycopg", "postgres") from None
        self._create_schema()

    # ---- plumbing -------------------------------------------------------------------------
    def _schema_ready(self) -> bool:
        with self._read() as conn:
            present = set(sa.inspect(conn).get_table_names())
            if not set(T.metadata.tables) <= present:
                return False
            return row_exists(conn, T.counters.c.name, "version")

    def _create_schema(self) -> None:
        try:
            if self._schema_ready():
                return
            with self._write() as conn:
                if not self._sqlite:
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK_KEY}
                    )
                T.metadata.create_all(conn, checkfirst=True)
                if not row_exists(conn, T.counters.c.name, "version"):
                    conn.execute(T.counters.insert().values(name="version", value=0))
        except CatalogDriverError as exc:  # unreachable server, not a SQLite file, bad login...
            raise CatalogError(f"cannot open catalog {redacted(self.url)}: {exc.reason}") from None

    @contextmanager
    def _write(self, conflict: AlreadyExistsError | None = None) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite). A unique-key violation (a
        concurrent writer created the same object first) raises ``conflict``."""
        try:
            with self._engine.connect() as conn:
                if self._sqlite:
                    conn.execution_options(tl_begin="IMMEDIATE")
                with conn.begin():
                    yield conn
        except sa.exc.IntegrityError as exc:
            if conflict is not None:
                raise conflict from None
            raise CatalogError(f"conflicting concurrent change: {exc.orig}") from None
        except sa.exc.DBAPIError as exc:
            raise self._unavailable(exc, "write") from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.DBAPIError as exc:
            raise self._unavailable(exc, "read") from None

    def _unavailable(self, exc: sa.exc.DBAPIError, action: str) -> CatalogError:
        """A driver error as one line: locked, read-only, or whatever the driver says."""
        reason = _first_line(exc)
        where = f"catalog {redacted(self.url)}"
        if "database is locked" in reason or "database table is locked" in reason:
            return CatalogLockedError(
                f"{where} is locked by another process (waited {self.busy_timeout_s:g} s to "
                f"{action}); try again when it is done"
            )
        if "readonly" in reason.replace("-", "").replace(" ", "").lower():
            return CatalogReadOnlyError(f"{where} is read-only: cannot {action} ({reason})")
        return CatalogDriverError(f"{where}: cannot {action}: {reason}", reason)

    def close(self) -> None:
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"SqlCatalog({redacted(self.url)!r})"

    # ---- databases ------------------------------------------------------------------------
    def create_database(self, name: str, *, exist_ok: bool = True) -> None:
        if exist_ok and name in self.list_databases():
            return
        taken = AlreadyExistsError(f"database {name} already exists")
        try:
            with self._write(taken) as conn:
                exists = conn.execute(
                    sa.select(T.databases.c.name).where(T.databases.c.name == name)
                ).first()
                if exists:
                    raise taken
                conn.execute(T.databases.insert().values(name=name, created_at=_now()))
        except AlreadyExistsError:
            if not exist_ok:
                raise

    def list_databases(self) -> list[str]:
        with self._read() as conn:
            return [
                r[0]
                for r in conn.execute(sa.select(T.databases.c.name).order_by(T.databases.c.name))
            ]

    def drop_database(self, name: str) -> None:
        with self._write() as conn:
            if not row_exists(conn, T.databases.c.name, name):
                raise NoSuchDatabaseError(f"database {name} not found")
            ids = [
                r[0]
                for r in conn.execute(
                    sa.select(T.partitions.c.id).where(T.partitions.c.database_name == name)
                )
            ]
            self._delete_partition_ids(conn, ids)
            D = T.table_definitions
            conn.execute(D.delete().where(D.c.database_name == name))
            conn.execute(T.tables.delete().where(T.tables.c.database_name == name))
            conn.execute(T.databases.delete().where(T.databases.c.name == name))

    # ---- tables ---------------------------------------------------------------------------
    @staticmethod
    def _table_values(table: Table) -> dict[str, Any]:
        return {
            "columns": json.dumps([[c.name, c.type, c.comment] for c in table.columns]),
            "partition_keys": json.dumps(
                [[c.name, c.type, c.comment] for c in table.partition_keys]
            ),
            "location": table.location,
            "format": table.format,
            "parameters": json.dumps(table.parameters, sort_keys=True),
        }

    def create_table(self, table: Table) -> Table:
        return self._create_table(table, _now())

    def _create_table(self, table: Table, now: float) -> Table:
        taken = TableExistsError(f"table {table.full_name} already exists")
        with self._write(taken) as conn:
            if not row_exists(conn, T.databases.c.name, table.database):
                raise NoSuchDatabaseError(f"database {table.database} not found")
            if self._table_row(conn, table.database, table.name, must=False) is not None:
                raise taken
            conn.execute(
                T.tables.insert().values(
                    database_name=table.database,
                    name=table.name,
                    created_at=now,
                    updated_at=now,
                    **self._table_values(table),
                )
            )
            self._put_definition(conn, table)
            return self._table_of(conn, table.database, table.name)

    def _table_row(self, conn: Connection, database: str, name: str, *, must: bool = True) -> Any:
        row = conn.execute(
            sa.select(T.tables).where(T.tables.c.database_name == database, T.tables.c.name == name)
        ).first()
        if row is None and must:
            raise NoSuchTableError(f"table {database}.{name} not found")
        return row

    def _put_definition(self, conn: Connection, table: Table) -> None:
        D = T.table_definitions
        where = (D.c.database_name == table.database, D.c.name == table.name)
        conn.execute(D.delete().where(*where))
        if table.definition:
            conn.execute(
                D.insert().values(
                    database_name=table.database,
                    name=table.name,
                    definition=json.dumps(table.definition, sort_keys=True),
                )
            )

    def _table_of(self, conn: Connection, database: str, name: str) -> Table:
        table = table_from_row(self._table_row(conn, database, name))
        D = T.table_definitions
        row = conn.execute(
            sa.select(D.c.definition).where(D.c.database_name == database, D.c.name == name)
        ).first()
        if row is not None:
            table.definition = json.loads(row[0])
        return table

    def get_table(self, database: str, name: str) -> Table:
        with self._read() as conn:
            return self._table_of(conn, database, name)

    def list_tables(self, database: str | None = None) -> list[Table]:
        q = sa.select(T.tables).order_by(T.tables.c.database_name, T.tables.c.name)
        D = T.table_definitions
        d = sa.select(D)
        if database is not None:
            q = q.where(T.tables.c.database_name == database)
            d = d.where(D.c.database_name == database)
        with self._read() as conn:
            defs = {(r.database_name, r.name): r.definition for r in conn.execute(d)}
            tables = [table_from_row(r) for r in conn.execute(q)]
        for t in tables:
            if (t.database, t.name) in defs:
                t.definition = json.loads(defs[(t.database, t.name)])
        return tables

    def update_table(self, table: Table) -> Table:
        with self._write() as conn:
            self._table_row(conn, table.database, table.name)
            conn.execute(
                T.tables.update()
                .where(T.tables.c.database_name == table.database, T.tables.c.name == table.name)
                .values(updated_at=_now(), **self._table_values(table))
            )
            self._put_definition(conn, table)
            return self._table_of(conn, table.database, table.name)

    def drop_table(self, database: str, name: str) -> None:
        with self._write() as conn:
            self._table_row(conn, database, name)
            ids = [
                r[0]
                for r in conn.execute(
                    sa.select(T.partitions.c.id).where(
                        T.partitions.c.database_name == database, T.partitions.c.table_name == name
                    )
                )
            ]
            self._delete_partition_ids(conn, ids)
            conn.execute(
                T.tables.delete().where(
                    T.tables.c.database_name == database, T.tables.c.name == name
                )
            )
            D = T.table_definitions
            conn.execute(D.delete().where(D.c.database_name == database, D.c.name == name))

    # ---- partitions -----------------------------------------------------------------------
    def list_partitions(
        self,
        database: str,
        table: str,
        *,
        where: Mapping[str, str | int] | None = None,
        overlapping: tuple[str, Any, Any] | None = None,
        changed_since: int | None = None,
        include_deprecated: bool = False,
    ) -> list[Partition]:
        P = T.partitions
        with self._read() as conn:
            tbl = table_from_row(self._table_row(conn, database, table))
            conds: list[Any] = [P.c.database_name == database, P.c.table_name == table]
            if not include_deprecated:
                conds.append(P.c.deprecated == sa.false())
            if changed_since is not None:
                conds.append(P.c.version > changed_since)
            for key, value in (where or {}).items():
                conds.append(_where_condition(tbl, key, value))
            if overlapping is not None:
                conds.append(_overlap_condition(*overlapping))
            rows = list(conn.execute(sa.select(P).where(*conds)))
            stats = self._load_stats(conn, [r.id for r in rows])
        parts = [partition_from_row(r, stats.get(r.id, {})) for r in rows]
        parts.sort(key=lambda p: _sort_key(p.values))
        return parts

    def _load_stats(
        self, conn: Connection, ids: list[int]
    ) -> dict[int, dict[str, tuple[Any, Any]]]:
        out: dict[int, dict[str, tuple[Any, Any]]] = {}
        S = T.partition_stats
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            for r in conn.execute(sa.select(S).where(S.c.partition_id.in_(chunk))):
                out.setdefault(r.partition_id, {})[r.column_name] = stat_value(r)
        return out

    def get_partition(self, database: str, table: str, values: Sequence[str]) -> Partition:
        P = T.partitions
        key = json.dumps([str(v) for v in values])
        with self._read() as conn:
            self._table_row(conn, database, table)
            row = conn.execute(
                sa.select(P).where(
                    P.c.database_name == database, P.c.table_name == table, P.c.pvalues == key
                )
            ).first()
            if row is None:
                raise NoSuchPartitionError(
                    f"partition {list(values)} of table {database}.{table} not found"
                )
            stats = self._load_stats(conn, [row.id])
        return partition_from_row(row, stats.get(row.id, {}))

    def list_partition_locations(
        self, database: str, table: str
    ) -> dict[str, tuple[tuple[str, ...], bool]]:
        P = T.partitions
        with self._read() as conn:
            self._table_row(conn, database, table)
            rows = conn.execute(
                sa.select(P.c.location, P.c.pvalues, P.c.deprecated).where(
                    P.c.database_name == database, P.c.table_name == table
                )
            )
            return {r.location: (tuple(json.loads(r.pvalues)), bool(r.deprecated)) for r in rows}

    def commit_partitions(
        self,
        database: str,
        table: str,
        *,
        upsert: Sequence[Partition] = (),
        delete: Sequence[Sequence[str]] = (),
        bookmark: tuple[str, dict[str, Any]] | None = None,
        expect: Mapping[tuple[str, ...], int | None] | None = None,
    ) -> int:
        P = T.partitions
        now = _now()
        with self._write() as conn:
            tbl = table_from_row(self._table_row(conn, database, table))
            nkeys = len(tbl.partition_keys)
            version = self._bump_version(conn, len(upsert))
            expected = {json.dumps([str(v) for v in k]): v for k, v in (expect or {}).items()}
            wanted = sorted(
                {json.dumps([str(v) for v in p.values]) for p in upsert}
                | {json.dumps([str(v) for v in d]) for d in delete}
                | set(expected)
            )
            existing: dict[str, tuple[int, float]] = {}
            seen_versions: dict[str, int] = {}
            for i in range(0, len(wanted), _CHUNK):  # O(changes), not O(partitions)
                rows = conn.execute(
                    sa.select(P.c.id, P.c.pvalues, P.c.created_at, P.c.version).where(
                        P.c.database_name == database,
                        P.c.table_name == table,
                        P.c.pvalues.in_(wanted[i : i + _CHUNK]),
                    )
                )
                for r in rows:
                    existing[r.pvalues] = (r.id, r.created_at)
                    seen_versions[r.pvalues] = int(r.version)
            changed = sorted(k for k, v in expected.items() if seen_versions.get(k) != v)
            if changed:
                raise PartitionChangedError(
                    f"{len(changed)} partition(s) of {database}.{table} changed since they were "
                    f"read (first {json.loads(changed[0])}): nothing committed"
                )
            next_version = version - len(upsert)
            by_key: dict[str, tuple[str, list[str], dict[str, Any], Partition]] = {}
            for part in upsert:
                values = [str(v) for v in part.values]
                if len(values) != nkeys:
                    raise CatalogError(
                        f"partition {values} of table {database}.{table} has {len(values)} values "
                        f"but the table has {nkeys} partition keys"
                    )
                next_version += 1
                row_values = {
                    "location": part.location,
                    "files": json.dumps([[f.key, f.size, f.row_count] for f in part.files]),
                    "row_count": part.row_count,
                    "size_bytes": int(part.size_bytes),
                    "deprecated": bool(part.deprecated),
                    "version": next_version,
                    "updated_at": now,
                }
                key = json.dumps(values)
                by_key[key] = (key, values, row_values, part)  # a repeated partition: the last
            upserts = list(by_key.values())
            # the changed partitions lose their values and stats (written again below) ...
            changed_ids = [existing[key][0] for key, *_ in upserts if key in existing]
            for key, _, row_values, _ in upserts:
                if key in existing:
                    conn.execute(P.update().where(P.c.id == existing[key][0]).values(**row_values))
            self._delete_partition_details(conn, changed_ids)
            # ... the new ones are inserted in one statement (ids returned in order)
            new_rows = [r for r in upserts if r[0] not in existing]
            if new_rows:
                inserted = conn.execute(
                    P.insert().returning(P.c.id, sort_by_parameter_order=True),
                    [
                        {"database_name": database, "table_name": table, "pvalues": key,
                         "created_at": now, **row_values}
                        for key, _, row_values, _ in new_rows
                    ],
                )  # fmt: skip
                for (key, *_), pid in zip(new_rows, inserted.scalars().all(), strict=True):
                    existing[key] = (pid, now)
            value_rows = [
                {"partition_id": existing[key][0], "pos": i, "value": v, "num_value": _num(v)}
                for key, values, _, _ in upserts
                for i, v in enumerate(values)
            ]  # an unpartitioned table's one partition has no values
            if value_rows:
                conn.execute(T.partition_values.insert(), value_rows)
            stat_rows = [
                stat_row(existing[key][0], col, lo, hi)
                for key, _, _, part in upserts
                for col, (lo, hi) in part.stats.items()
            ]
            if stat_rows:
                conn.execute(T.partition_stats.insert(), stat_rows)
            doomed = [
                existing[k][0]
                for k in {json.dumps([str(v) for v in d]) for d in delete}
                if k in existing
            ]
            self._delete_partition_ids(conn, doomed)
            if bookmark is not None:
                self._put_bookmark(conn, bookmark[0], bookmark[1])
            return version

    def _bump_version(self, conn: Connection, n: int) -> int:
        C = T.counters
        row = conn.execute(
            sa.select(C.c.value).where(C.c.name == "version").with_for_update()
        ).first()
        value = int(row[0]) if row else 0
        if n:
            conn.execute(C.update().where(C.c.name == "version").values(value=value + n))
        return value + n

    def _delete_partition_details(self, conn: Connection, ids: list[int]) -> None:
        """Delete the values and stats of these partitions (the partition rows stay)."""
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            conn.execute(
                T.partition_stats.delete().where(T.partition_stats.c.partition_id.in_(chunk))
            )
            conn.execute(
                T.partition_values.delete().where(T.partition_values.c.partition_id.in_(chunk))
            )

    def _delete_partition_ids(self, conn: Connection, ids: list[int]) -> None:
        self._delete_partition_details(conn, ids)
        for i in range(0, len(ids), _CHUNK):
            conn.execute(T.partitions.delete().where(T.partitions.c.id.in_(ids[i : i + _CHUNK])))

    def current_version(self) -> int:
        with self._read() as conn:
            row = conn.execute(
                sa.select(T.counters.c.value).where(T.counters.c.name == "version")
            ).first()
            return int(row[0]) if row else 0


# ---- helpers --------------------------------------------------------------------------------


def _sqlite_on_connect(dbapi_conn: Any, busy_ms: int) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _sqlite_on_begin)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={busy_ms}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("tl_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _num(value: str) -> float | None:
    try:
        return float(int(value))
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return None


def _sort_key(values: Sequence[str]) -> tuple[tuple[int, float, str], ...]:
    out = []
    for v in values:
        n = _num(v)
        out.append((0, n, "") if n is not None else (1, 0.0, v))
    return tuple(out)


def _where_condition(table: Table, key: str, value: str | int) -> Any:
    names = [c.name for c in table.partition_keys]
    if key not in names:
        raise CatalogError(f"table {table.full_name} has no partition key {key!r} (keys: {names})")
    pos = names.index(key)
    V = T.partition_values
    col_type = table.partition_keys[pos].type
    num = _num(str(value)) if col_type in INT_TYPES else None
    match = V.c.num_value == num if num is not None else V.c.value == str(value)
    return sa.exists().where(V.c.partition_id == T.partitions.c.id, V.c.pos == pos, match)


def _overlap_condition(column: str, lo: Any, hi: Any) -> Any:
    S = T.partition_stats
    numeric = all(
        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in (lo, hi)
    )
    lo_col, hi_col = (S.c.min_num, S.c.max_num) if numeric else (S.c.min_text, S.c.max_text)
    bounds = []
    if hi is not None:
        bounds.append(lo_col <= (float(hi) if numeric else str(hi)))
    if lo is not None:
        bounds.append(hi_col >= (float(lo) if numeric else str(lo)))
    has_stats = sa.exists().where(S.c.partition_id == T.partitions.c.id, S.c.column_name == column)
    overlaps = sa.exists().where(
        S.c.partition_id == T.partitions.c.id, S.c.column_name == column, *bounds
    )
    return sa.or_(~has_stats, overlaps)

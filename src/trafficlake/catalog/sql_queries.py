"""Athena query executions for :class:`SqlCatalog` (the Athena API's query history).

A mixin: it needs the catalog's ``_read``/``_write`` transactions.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from trafficlake.catalog import sql_tables as T
from trafficlake.catalog.base import (
    QUERY_ACTIVE_STATES,
    AlreadyExistsError,
    NoSuchQueryExecutionError,
    QueryCatalog,
    QueryExecution,
)
from trafficlake.catalog.sql_store import SqlStore
from trafficlake.owner import owner_id


def _values(q: QueryExecution) -> dict[str, Any]:
    return {
        "query": q.query,
        "statement_type": q.statement_type,
        "substatement_type": q.substatement_type,
        "database_name": q.database,
        "catalog_name": q.catalog,
        "work_group": q.work_group,
        "output_location": q.output_location,
        "state": q.state,
        "reason": q.reason,
        "error": json.dumps(q.error, sort_keys=True),
        "statistics": json.dumps(q.statistics, sort_keys=True),
        "submitted_at": q.submitted_at,
        "completed_at": q.completed_at,
        "owner": q.owner,
    }


def _from_row(r: Any) -> QueryExecution:
    return QueryExecution(
        id=r.id,
        query=r.query,
        statement_type=r.statement_type,
        substatement_type=r.substatement_type,
        database=r.database_name,
        catalog=r.catalog_name,
        work_group=r.work_group,
        output_location=r.output_location,
        state=r.state,
        reason=r.reason,
        error=json.loads(r.error),
        statistics=json.loads(r.statistics),
        submitted_at=r.submitted_at,
        completed_at=r.completed_at,
        owner=r.owner,
    )


class QueryExecutionStore(SqlStore, QueryCatalog):
    """Athena query executions (mixed into SqlCatalog)."""

    def create_query_execution(self, execution: QueryExecution) -> QueryExecution:
        execution.owner = execution.owner or owner_id()
        Q = T.query_executions
        taken = AlreadyExistsError(f"query execution {execution.id} already exists")
        with self._write(taken) as conn:
            if conn.execute(sa.select(Q.c.id).where(Q.c.id == execution.id)).first():
                raise taken
            conn.execute(Q.insert().values(id=execution.id, **_values(execution)))
        return execution

    def update_query_execution(
        self, execution: QueryExecution, *, only_if_active: bool = False
    ) -> bool:
        Q = T.query_executions
        with self._write() as conn:
            row = conn.execute(
                sa.select(Q.c.state).where(Q.c.id == execution.id).with_for_update()
            ).first()
            if row is None:
                raise NoSuchQueryExecutionError(f"QueryExecution {execution.id} was not found")
            if only_if_active and row.state not in QUERY_ACTIVE_STATES:
                return False
            conn.execute(Q.update().where(Q.c.id == execution.id).values(**_values(execution)))
        return True

    def get_query_execution(self, execution_id: str) -> QueryExecution:
        Q = T.query_executions
        with self._read() as conn:
            row = conn.execute(sa.select(Q).where(Q.c.id == execution_id)).first()
        if row is None:
            raise NoSuchQueryExecutionError(f"QueryExecution {execution_id} was not found")
        return _from_row(row)

    def list_query_executions(
        self, *, work_group: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[QueryExecution]:
        Q = T.query_executions
        q = sa.select(Q).order_by(Q.c.seq.desc()).limit(limit).offset(offset)
        if work_group is not None:
            q = q.where(Q.c.work_group == work_group)
        with self._read() as conn:
            return [_from_row(r) for r in conn.execute(q)]

"""Bookmarks, job runs, workflow executions and their history for :class:`SqlCatalog`.

A mixin: it needs the catalog's ``_read``/``_write`` transactions and ``_bump_version``.
"""

from __future__ import annotations

import abc
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trafficlake.catalog import sql_tables as T
from trafficlake.catalog.base import (
    AlreadyExistsError,
    Execution,
    ExecutionCatalog,
    HistoryEvent,
    JobCatalog,
    JobRun,
    JobRunningError,
    NoSuchExecutionError,
    NoSuchJobRunError,
)
from trafficlake.catalog.sql_rows import execution_from_row, job_run_from_row
from trafficlake.catalog.sql_store import SqlStore, row_exists
from trafficlake.owner import owner_id


def _now() -> float:
    return time.time()


class RunStore(SqlStore, JobCatalog, ExecutionCatalog):
    """Bookmarks, job runs, executions and history (mixed into SqlCatalog)."""

    @abc.abstractmethod
    def _bump_version(self, conn: Connection, n: int) -> int:
        """Advance the catalog-wide version by ``n`` (SqlCatalog implements it)."""

    # ---- bookmarks ------------------------------------------------------------------------
    def get_bookmark(self, job: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(T.bookmarks.c.state).where(T.bookmarks.c.job == job)
            ).first()
        return json.loads(row[0]) if row else None

    def _put_bookmark(self, conn: Connection, job: str, state: dict[str, Any]) -> None:
        B = T.bookmarks
        values = {"state": json.dumps(state, sort_keys=True), "updated_at": _now()}
        if conn.execute(B.update().where(B.c.job == job).values(**values)).rowcount == 0:
            conn.execute(B.insert().values(job=job, **values))

    def put_bookmark(self, job: str, state: dict[str, Any]) -> None:
        with self._write() as conn:
            self._bump_version(conn, 0)  # serialises bookmark writers (row lock on PostgreSQL)
            self._put_bookmark(conn, job, state)

    def reset_bookmark(self, job: str) -> None:
        with self._write() as conn:
            conn.execute(T.bookmarks.delete().where(T.bookmarks.c.job == job))

    # ---- job runs -------------------------------------------------------------------------
    @staticmethod
    def _job_run_values(run: JobRun) -> dict[str, Any]:
        return {
            "job": run.job,
            "state": run.state,
            "arguments": json.dumps(run.arguments, default=str),
            "result": json.dumps(run.result, default=str),
            "error": run.error,
            "started_at": run.started_at,
            "ended_at": run.ended_at,
            "owner": run.owner,
        }

    def create_job_run(self, run: JobRun, *, exclusive: bool = False) -> JobRun:
        run.id = run.id or uuid.uuid4().hex
        run.started_at = run.started_at if run.started_at is not None else _now()
        run.owner = run.owner or owner_id()
        taken = AlreadyExistsError(f"job run {run.id} already exists")
        with self._write(taken) as conn:
            if exclusive:
                self._bump_version(conn, 0)  # serialises writers (row lock on PostgreSQL)
                J = T.job_runs
                running = conn.execute(
                    sa.select(J.c.id, J.c.owner).where(J.c.job == run.job, J.c.state == "RUNNING")
                ).first()
                if running is not None:
                    raise JobRunningError(
                        f"{run.job} run {running.id} is still running (owner {running.owner})"
                    )
            if conn.execute(sa.select(T.job_runs.c.id).where(T.job_runs.c.id == run.id)).first():
                raise taken
            conn.execute(T.job_runs.insert().values(id=run.id, **self._job_run_values(run)))
        return run

    def update_job_run(self, run: JobRun) -> JobRun:
        with self._write() as conn:
            res = conn.execute(
                T.job_runs.update()
                .where(T.job_runs.c.id == run.id)
                .values(**self._job_run_values(run))
            )
            if res.rowcount == 0:
                raise NoSuchJobRunError(f"job run {run.id} not found")
        return run

    def get_job_run(self, run_id: str) -> JobRun:
        with self._read() as conn:
            row = conn.execute(sa.select(T.job_runs).where(T.job_runs.c.id == run_id)).first()
        if row is None:
            raise NoSuchJobRunError(f"job run {run_id} not found")
        return job_run_from_row(row)

    def list_job_runs(
        self, job: str | None = None, *, limit: int = 20, after: str | None = None
    ) -> list[JobRun]:
        R = T.job_runs
        q = sa.select(R).order_by(R.c.seq.desc()).limit(limit)
        if job is not None:
            q = q.where(R.c.job == job)
        with self._read() as conn:
            if after is not None:
                seq = conn.execute(sa.select(R.c.seq).where(R.c.id == after)).scalar()
                if seq is None:
                    raise NoSuchJobRunError(f"job run {after} not found")
                q = q.where(R.c.seq < seq)
            return [job_run_from_row(r) for r in conn.execute(q)]

    # ---- executions -----------------------------------------------------------------------
    @staticmethod
    def _execution_values(e: Execution) -> dict[str, Any]:
        return {
            "state_machine": e.state_machine,
            "name": e.name,
            "status": e.status,
            "input": json.dumps(e.input, default=str),
            "output": json.dumps(e.output, default=str),
            "error": e.error,
            "cause": e.cause,
            "started_at": e.started_at,
            "stopped_at": e.stopped_at,
            "owner": e.owner,
        }

    def create_execution(self, execution: Execution) -> Execution:
        e = execution
        e.name = e.name or uuid.uuid4().hex
        e.id = e.id or f"{e.state_machine}:{e.name}"
        e.started_at = e.started_at if e.started_at is not None else _now()
        e.owner = e.owner or owner_id()
        taken = AlreadyExistsError(f"execution {e.id} already exists")
        with self._write(taken) as conn:
            if conn.execute(sa.select(T.executions.c.id).where(T.executions.c.id == e.id)).first():
                raise taken
            conn.execute(T.executions.insert().values(id=e.id, **self._execution_values(e)))
        return e

    def update_execution(self, execution: Execution) -> Execution:
        E = T.executions
        with self._write() as conn:
            res = conn.execute(
                E.update().where(E.c.id == execution.id).values(**self._execution_values(execution))
            )
            if res.rowcount == 0:
                raise NoSuchExecutionError(f"execution {execution.id} not found")
        return execution

    def get_execution(self, execution_id: str) -> Execution:
        with self._read() as conn:
            row = conn.execute(
                sa.select(T.executions).where(T.executions.c.id == execution_id)
            ).first()
        if row is None:
            raise NoSuchExecutionError(f"execution {execution_id} not found")
        return execution_from_row(row)

    def list_executions(
        self,
        *,
        state_machine: str | None = None,
        status: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> list[Execution]:
        E = T.executions
        q = sa.select(E).order_by(E.c.seq.desc()).limit(limit)
        if state_machine is not None:
            q = q.where(E.c.state_machine == state_machine)
        if status is not None:
            q = q.where(E.c.status == status)
        with self._read() as conn:
            if after is not None:
                seq = conn.execute(sa.select(E.c.seq).where(E.c.id == after)).scalar()
                if seq is None:
                    raise NoSuchExecutionError(f"execution {after} not found")
                q = q.where(E.c.seq < seq)
            return [execution_from_row(r) for r in conn.execute(q)]

    def add_history_events(self, execution_id: str, events: Sequence[HistoryEvent]) -> None:
        if not events:
            return
        duplicate = AlreadyExistsError(f"execution {execution_id}: duplicate history event id")
        with self._write(duplicate) as conn:
            if not row_exists(conn, T.executions.c.id, execution_id):
                raise NoSuchExecutionError(f"execution {execution_id} not found")
            conn.execute(
                T.history_events.insert(),
                [
                    {
                        "execution_id": execution_id,
                        "event_id": ev.id,
                        "type": ev.type,
                        "timestamp": ev.timestamp,
                        "previous_event_id": ev.previous_event_id,
                        "details": json.dumps(ev.details, default=str),
                    }
                    for ev in events
                ],
            )

    def get_history(self, execution_id: str) -> list[HistoryEvent]:
        H = T.history_events
        with self._read() as conn:
            if not row_exists(conn, T.executions.c.id, execution_id):
                raise NoSuchExecutionError(f"execution {execution_id} not found")
            rows = conn.execute(
                sa.select(H).where(H.c.execution_id == execution_id).order_by(H.c.event_id)
            )
            return [
                HistoryEvent(
                    id=r.event_id,
                    type=r.type,
                    timestamp=r.timestamp,
                    previous_event_id=r.previous_event_id,
                    details=json.loads(r.details),
                )
                for r in rows
            ]

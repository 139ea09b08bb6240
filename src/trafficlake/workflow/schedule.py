"""Schedules (``settings.schedules``): fire state machines on EventBridge expressions.

The last fire time of each schedule is a catalog bookmark ``schedule:<name>``, so a restarted
scheduler neither forgets nor repeats: fires missed while it was down run ONCE on restart.
An OS file lock (``schedule.lock`` next to a SQLite catalog, else in ``.trafficlake/``) makes
due executions run one at a time per machine, whichever process fires them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trafficlake.workflow.cron import (
    UTC,
    last_fire_at_or_before,
    next_fire,
    parse_expression,
    timezone,
)
from trafficlake.workflow.errors import ScheduleError, ScheduleLockedError

if TYPE_CHECKING:
    from trafficlake.catalog.base import Catalog, HistoryEvent
    from trafficlake.config import ScheduleEntry, Settings
    from trafficlake.workflow.runtime import ExecutionResult

__all__ = ["ScheduleStatus", "list_schedules", "next_fire", "run_due", "run_forever"]

log = logging.getLogger(__name__)


@dataclass
class ScheduleStatus:
    name: str
    expression: str
    state_machine: str
    timezone: str
    last_fire: str | None
    next_fire: str | None
    last_execution: str | None = None
    last_status: str | None = None
    last_error: str | None = None


def _all(settings: Settings) -> list[ScheduleEntry]:
    """``[[schedules]]`` and the Serverless files' ``events: schedule``."""
    from trafficlake.workflow.library import all_schedules

    return all_schedules(settings)


def _key(name: str) -> str:
    return f"schedule:{name}"


def _ts(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, UTC)


def lock_path(settings: Settings) -> Path:
    url = settings.catalog_url
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url[len("sqlite:///") :]).parent / "schedule.lock"
    return settings.resolve_path(".trafficlake") / "schedule.lock"


@contextlib.contextmanager
def schedule_lock(settings: Settings, *, blocking: bool = True) -> Iterator[None]:
    """Hold the per-machine schedule lock (an flock on ``lock_path``)."""
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            raise ScheduleLockedError(f"another process holds the schedule lock {path}") from None
        yield
    finally:
        os.close(fd)


def validate_schedules(settings: Settings) -> None:
    """Every schedule's expression, timezone and state machine (which must resolve)."""
    from trafficlake.workflow.errors import WorkflowError
    from trafficlake.workflow.library import all_schedules, find_machine

    for entry in all_schedules(settings):
        try:
            parse_expression(entry.expression)
            timezone(entry.timezone)
        except ScheduleError as e:
            raise ScheduleError(f"schedule {entry.name!r}: {e}") from None
        try:
            find_machine(settings, entry.state_machine)
        except WorkflowError as e:  # unknown name, missing file, invalid definition
            raise ScheduleError(
                f"schedule {entry.name!r}: state machine {entry.state_machine!r}: {e}"
            ) from None


def _state(catalog: Catalog, entry: ScheduleEntry, now: dt.datetime) -> dict[str, Any]:
    """The bookmark of a schedule; a new (or changed) schedule is anchored at ``now``."""
    state = catalog.get_bookmark(_key(entry.name))
    if (
        not state
        or state.get("expression") != entry.expression
        or state.get("timezone") != entry.timezone
    ):
        state = {
            "expression": entry.expression,
            "timezone": entry.timezone,
            "last_fire": now.timestamp(),
            "last_execution": None,
            "last_status": None,
        }
        catalog.put_bookmark(_key(entry.name), state)
    return state


def list_schedules(
    settings: Settings, now: dt.datetime | None = None, catalog: Catalog | None = None
) -> list[ScheduleStatus]:
    """Each configured schedule's last and next fire. ``catalog``: one already open (a
    reader's), else the configured one is opened."""
    from trafficlake.catalog import open_catalog

    validate_schedules(settings)
    now = now or dt.datetime.now(UTC)
    out = []
    with open_catalog(settings) if catalog is None else contextlib.nullcontext(catalog) as catalog:
        from trafficlake.workflow.history import mark_abandoned

        mark_abandoned(catalog)  # a fire whose process died reads ABORTED, not RUNNING
        for e in _all(settings):
            state = _state(catalog, e, now)
            if state.get("last_status") == "RUNNING" and state.get("last_execution"):
                _follow_execution(catalog, state)
            last = _ts(state["last_fire"])
            nxt = next_fire(e.expression, last, e.timezone) if last else None
            out.append(
                ScheduleStatus(
                    e.name,
                    e.expression,
                    e.state_machine,
                    e.timezone,
                    last.isoformat() if last else None,
                    nxt.isoformat() if nxt else None,
                    state.get("last_execution"),
                    state.get("last_status"),
                    state.get("last_error"),
                )
            )
    return out


def _follow_execution(catalog: Catalog, state: dict[str, Any]) -> None:
    """A fire recorded RUNNING takes its execution's current status (ABORTED when its process
    died) once that execution has ended."""
    from trafficlake.catalog import NoSuchExecutionError

    try:
        ex = catalog.get_execution(state["last_execution"])
    except NoSuchExecutionError:
        return
    if ex.status != "RUNNING":
        state.update(last_status=ex.status, last_error=ex.cause or ex.error)


def run_due(
    settings: Settings,
    *,
    now: Callable[[], dt.datetime] | None = None,
    on_event: Callable[[HistoryEvent], None] | None = None,
    on_start: Callable[[ScheduleEntry], None] | None = None,
) -> list[ExecutionResult]:
    """Run every schedule that is due, once each, one at a time, under the schedule lock."""
    from trafficlake.catalog import open_catalog
    from trafficlake.workflow.library import run_workflow

    validate_schedules(settings)
    clock = now or (lambda: dt.datetime.now(UTC))
    results: list[ExecutionResult] = []
    with schedule_lock(settings):
        for entry in _all(settings):
            t = clock()
            with open_catalog(settings) as catalog:
                state = _state(catalog, entry, t)
                anchor = _ts(state["last_fire"]) or t
                due = next_fire(entry.expression, anchor, entry.timezone)
                if due is None or due > t:
                    continue
                fired = last_fire_at_or_before(entry.expression, anchor, t, entry.timezone)
            if on_start is not None:
                on_start(entry)
            name = f"{entry.name}-{fired.strftime('%Y%m%dT%H%M%SZ')}"
            # The fire is recorded once the execution exists (its ExecutionStarted event), or
            # as a FAILED attempt when it could not be started: never lost, never repeated.
            record = _FireRecorder(settings, entry, state, fired, name, on_event)
            try:
                result = run_workflow(
                    settings,
                    entry.state_machine,
                    dict(entry.input),
                    execution_name=name,
                    on_event=record.event,
                )
            except Exception as exc:
                if record.started:  # the execution exists: a defect after it began
                    raise
                log.warning("schedule %s: could not start %s: %s", entry.name, name, exc)
                result = _not_started(entry, name, exc, t)
            record.finish(result)
            results.append(result)
    return results


class _FireRecorder:
    """Writes a schedule's bookmark as its fire progresses: started, then finished."""

    def __init__(
        self,
        settings: Settings,
        entry: ScheduleEntry,
        state: dict[str, Any],
        fired: dt.datetime,
        name: str,
        on_event: Callable[[HistoryEvent], None] | None,
    ) -> None:
        self.settings, self.entry, self.state = settings, entry, state
        self.fired, self.name, self.on_event = fired, name, on_event
        self.started = False

    def _put(self, **changes: Any) -> None:
        from trafficlake.catalog import open_catalog

        self.state.update(last_fire=self.fired.timestamp(), **changes)
        with open_catalog(self.settings) as catalog:
            catalog.put_bookmark(_key(self.entry.name), self.state)

    def event(self, event: HistoryEvent) -> None:
        if not self.started and event.type == "ExecutionStarted":
            self.started = True
            machine = event.details.get("stateMachine", self.entry.state_machine)
            self._put(
                last_execution=f"{machine}:{self.name}", last_status="RUNNING", last_error=None
            )
        if self.on_event is not None:
            self.on_event(event)

    def finish(self, result: ExecutionResult) -> None:
        error = None if result.status == "SUCCEEDED" else (result.cause or result.error)
        self._put(last_execution=result.id or None, last_status=result.status, last_error=error)


def _not_started(
    entry: ScheduleEntry, name: str, exc: Exception, now: dt.datetime
) -> ExecutionResult:
    """The result of a fire whose execution could not even be created."""
    from trafficlake.workflow.runtime import ExecutionResult

    return ExecutionResult(
        id="",
        name=name,
        status="FAILED",
        error="Schedule.StartFailed",
        cause=f"schedule {entry.name!r} could not start {entry.state_machine!r}: {exc}",
        started_at=now.timestamp(),
        stopped_at=now.timestamp(),
    )


def seconds_to_next(settings: Settings, now: dt.datetime) -> float:
    nxt = [
        dt.datetime.fromisoformat(s.next_fire) for s in list_schedules(settings, now) if s.next_fire
    ]
    return max(0.0, min((n - now).total_seconds() for n in nxt)) if nxt else 60.0


def run_forever(
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    on_event: Callable[[HistoryEvent], None] | None = None,
    on_start: Callable[[ScheduleEntry], None] | None = None,
    max_sleep: float = 60.0,
) -> None:
    """Fire due schedules until ``stop`` is set (or forever)."""
    stop = stop or threading.Event()
    if not _all(settings) and not settings.rules:
        raise ScheduleError(
            "no schedules configured: add [[schedules]] to trafficlake.toml or a Serverless "
            "file with events: schedule to [workflow] serverless"
        )
    while not stop.is_set():
        run_due(settings, on_event=on_event, on_start=on_start)
        wait = min(max_sleep, seconds_to_next(settings, dt.datetime.now(UTC)))
        stop.wait(max(0.5, wait))

"""Execution history (AWS event names, ids, previousEventId), the clock, and abandoned runs."""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from trafficlake.catalog.base import HistoryEvent
from trafficlake.owner import owner_alive
from trafficlake.owner import owner_id as owner_id  # the runtime records it on executions

if TYPE_CHECKING:
    from trafficlake.catalog.base import Catalog, Execution


class Clock(Protocol):
    """Time source of a run; tests inject a fake one to measure waits without sleeping."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


def iso(ts: float) -> str:
    """Epoch seconds as the ISO form AWS uses in the context object (millisecond precision)."""
    return _iso_ms(int(ts * 1000))


@functools.lru_cache(maxsize=256)
def _iso_ms(ms: int) -> str:
    d = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class HistoryRecorder:
    """Thread-safe event log of one execution; persists to the catalog in batches."""

    def __init__(
        self,
        execution_id: str,
        clock: Clock,
        catalog: Catalog | None = None,
        on_event: Callable[[HistoryEvent], None] | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.clock = clock
        self.catalog = catalog
        self.on_event = on_event
        self.events: list[HistoryEvent] = []
        self._pending: list[HistoryEvent] = []
        self._lock = threading.Lock()

    def add(self, type_: str, previous: int, **details: Any) -> int:
        with self._lock:
            event = HistoryEvent(
                id=len(self.events) + 1,
                type=type_,
                timestamp=self.clock.now(),
                previous_event_id=previous,
                details={k: v for k, v in details.items() if v is not None},
            )
            self.events.append(event)
            if self.catalog is not None:
                self._pending.append(event)
            if self.on_event is not None:
                self.on_event(event)
            return event.id

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            if pending and self.catalog is not None:
                self.catalog.add_history_events(self.execution_id, pending)


def is_abandoned(execution: Execution) -> bool:
    """RUNNING but owned by a process on this host that no longer exists."""
    return execution.status == "RUNNING" and not owner_alive(execution.owner)


def mark_abandoned(catalog: Catalog, now: float | None = None) -> list[str]:
    """Mark executions killed with their process ABORTED; returns their ids."""
    aborted: list[str] = []
    for ex in catalog.list_executions(status="RUNNING", limit=1000):
        if not is_abandoned(ex):
            continue
        ts = time.time() if now is None else now
        history = catalog.get_history(ex.id)
        last = history[-1].id if history else 0
        ex.status = "ABORTED"
        ex.error = "States.Aborted"
        ex.cause = f"the process {ex.owner} that ran this execution is gone"
        ex.stopped_at = ts
        catalog.update_execution(ex)
        catalog.add_history_events(
            ex.id,
            [
                HistoryEvent(
                    last + 1, "ExecutionAborted", ts, last, {"error": ex.error, "cause": ex.cause}
                )
            ],
        )
        aborted.append(ex.id)
    return aborted

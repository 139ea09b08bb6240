"""Ingest's worker processes: a task list (archived files to read and parse, simulated
blocks of minutes) computed by a process pool and taken in task order, so that the landing
process writes the same files and rows as a run in one process.

Workers are forked from the command before it starts any thread (they start in
milliseconds and share what it imported); if a thread already runs, from a fork server.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any, Generic, TypeVar

from trafficlake.errors import TrafficlakeError

T = TypeVar("T")

TASKS_AHEAD = 4
"""Tasks in flight per worker process: the workers go on while this process lands a result
(or writes a file)."""


class WorkerLostError(TrafficlakeError):
    """A worker process died (killed, out of memory); what came before it was landed."""


def start_method() -> str:
    """How worker processes start: forked from this process when it runs no other thread
    (there is no lock a thread could hold to copy, and they start in milliseconds), else from
    a clean fork server that imports ingest once (about half a second)."""
    return "fork" if threading.active_count() == 1 else "forkserver"


def _worker_pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing

    context = multiprocessing.get_context(start_method())
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(["trafficlake.ingest", "trafficlake.miv.simulator"])
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_quiet_worker)


def _quiet_worker() -> None:
    """Workers leave Ctrl-C and SIGTERM to the landing process, which stops them."""
    import gc
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # What the worker inherited stays out of its garbage collections: a full collection would
    # walk (and so copy, page by page) the whole inherited heap: ~6 % of a worker's CPU
    gc.freeze()


class InOrder(Generic[T]):
    """``fn(*task)`` for each task, in task order; computed by ``workers`` processes (started
    here, at once: before the caller starts a thread) or, with one worker, by this process
    as the results are taken. ``close`` stops the workers (pending tasks are dropped)."""

    def __init__(self, fn: Callable[..., T], tasks: list[Any], workers: int) -> None:
        self._fn = fn
        self._tasks = iter(tasks)
        self._pending: deque[Future[T]] = deque()
        self._pool = _worker_pool(workers) if workers > 1 else None
        if self._pool is not None:
            try:
                for task in islice(self._tasks, TASKS_AHEAD * workers):
                    self._pending.append(self._pool.submit(fn, *task))
            except BaseException:
                self.close()
                raise

    def __iter__(self) -> Iterator[T]:
        if self._pool is None:
            for task in self._tasks:
                yield self._fn(*task)
            return
        while self._pending:
            try:
                result = self._pending.popleft().result()
                task = next(self._tasks, None)
                if task is not None:
                    self._pending.append(self._pool.submit(self._fn, *task))
            except BrokenProcessPool:
                raise WorkerLostError(
                    "a worker process died (killed, or out of memory?); the results before it "
                    "were landed"
                ) from None
            yield result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

"""Parallel and Map states: branches and iterations in threads, results in order."""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from trafficlake.workflow.errors import StatesError
from trafficlake.workflow.paths import resolve_template, select

if TYPE_CHECKING:
    from trafficlake.workflow.runtime import Executor, Scope


def _first_error(futures: list[Future[Any]]) -> BaseException | None:
    """The error that stopped the group: a real failure before a cancellation."""
    from trafficlake.workflow.runtime import Cancelled

    errors = [f.exception() for f in futures if f.done() and f.exception() is not None]
    real = [e for e in errors if not isinstance(e, Cancelled)]
    return (real or errors or [None])[0]


def run_parallel(ex: Executor, name: str, state: dict[str, Any], data: Any, scope: Scope) -> Any:
    """Run every branch on ``data`` concurrently; the first failure cancels the others."""
    branches = state["Branches"]
    started = ex.event(scope, "ParallelStateStarted", name=name)
    scopes = [scope.child(started) for _ in branches]
    with ThreadPoolExecutor(max_workers=len(branches), thread_name_prefix=f"{name}") as pool:
        futures = [
            pool.submit(ex.run_states, b, data, s) for b, s in zip(branches, scopes, strict=True)
        ]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            for s in scopes:
                s.cancel()
        wait(futures)
    error = _first_error(futures)
    if error is not None:
        if isinstance(error, StatesError):
            ex.event(scope, "ParallelStateFailed", name=name, error=error.error, cause=error.cause)
        raise error
    ex.event(scope, "ParallelStateSucceeded", name=name)
    return [f.result() for f in futures]


def _resolve_int(state: dict[str, Any], key: str, data: Any, ctx: dict[str, Any]) -> Any:
    if key + "Path" in state:
        return select(state[key + "Path"], data, ctx, field=key + "Path")
    return state.get(key)


def run_map(
    ex: Executor, name: str, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope
) -> list[Any]:
    """Run the item processor over ItemsPath; results keep item order."""
    from trafficlake.workflow.runtime import Cancelled

    items = select(state.get("ItemsPath", "$"), data, ctx, field="ItemsPath")
    if not isinstance(items, list):
        raise StatesError(
            "States.Runtime",
            f"Map state {name!r}: ItemsPath must select an array, got {type(items).__name__}",
        )
    processor = state.get("ItemProcessor") or state["Iterator"]
    selector = state.get("ItemSelector", state.get("Parameters"))
    limit = _resolve_int(state, "MaxConcurrency", data, ctx) or 0
    tol_count = _resolve_int(state, "ToleratedFailureCount", data, ctx)
    tol_pct = _resolve_int(state, "ToleratedFailurePercentage", data, ctx)
    tolerant = tol_count is not None or tol_pct is not None
    started = ex.event(scope, "MapStateStarted", name=name, length=len(items))
    failures = 0
    lock = threading.Lock()

    def exceeded() -> bool:
        if not tolerant:
            return failures > 0
        if tol_count is not None and failures > tol_count:
            return True
        return bool(tol_pct is not None and items and failures * 100.0 / len(items) > tol_pct)

    def iteration(index: int, item: Any, child: Scope) -> Any:
        nonlocal failures
        item_ctx = dict(ctx, Map={"Item": {"Index": index, "Value": item}})
        ex.event(child, "MapIterationStarted", name=name, index=index)
        try:
            child.map_item = {"Index": index, "Value": item}
            value = resolve_template(selector, data, item_ctx, "ItemSelector") if selector else item
            out = ex.run_states(processor, value, child)
        except StatesError as e:
            ex.event(
                child, "MapIterationFailed", name=name, index=index, error=e.error, cause=e.cause
            )
            with lock:
                failures += 1
                stop = not tolerant or exceeded()
            if stop:
                raise
            return e.output()
        except Cancelled:
            ex.event(child, "MapIterationAborted", name=name, index=index)
            raise
        ex.event(child, "MapIterationSucceeded", name=name, index=index)
        return out

    scopes = [scope.child(started) for _ in items]
    workers = max(1, limit if limit else len(items))
    with ThreadPoolExecutor(
        max_workers=min(workers, max(1, len(items))), thread_name_prefix=f"{name}"
    ) as pool:
        futures = [
            pool.submit(iteration, i, item, s)
            for i, (item, s) in enumerate(zip(items, scopes, strict=True))
        ]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            for s in scopes:
                s.cancel()
        wait(futures)
    error = _first_error(futures)
    if error is not None:
        if isinstance(error, StatesError) and tolerant:
            error = StatesError(
                "States.ExceedToleratedFailureThreshold",
                f"{failures} of {len(items)} iterations failed; last error: "
                f"{error.error}: {error.cause}",
            )
        if isinstance(error, StatesError):
            ex.event(scope, "MapStateFailed", name=name, error=error.error, cause=error.cause)
        raise error
    ex.event(scope, "MapStateSucceeded", name=name)
    return [f.result() for f in futures]

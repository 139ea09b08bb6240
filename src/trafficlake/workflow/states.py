"""Parallel and Map states: branches and iterations in threads, results in order."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trafficlake.workflow import query
from trafficlake.workflow.errors import StatesError
from trafficlake.workflow.paths import select
from trafficlake.workflow.payload import resolve_template
from trafficlake.workflow.scope import Cancelled

if TYPE_CHECKING:
    from trafficlake.workflow.runtime import Executor
    from trafficlake.workflow.scope import Scope

INLINE_CONCURRENCY = 40
"""An inline Map with MaxConcurrency 0 runs up to 40 iterations at once (as on AWS)."""


def run_all(
    count: int, job: Callable[[int], Any], workers: int, cancel: threading.Event, name: str
) -> tuple[list[Any], BaseException | None]:
    """Run ``job(0..count-1)`` on ``workers`` threads, results in index order. The first error
    sets ``cancel`` (running jobs stop at their next state) and no further job starts; the
    error returned is the first real failure in index order, before any cancellation."""
    results: list[Any] = [None] * count
    errors: list[BaseException | None] = [None] * count
    indexes = iter(range(count))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(indexes, None)
            if i is None or cancel.is_set():
                return
            try:
                results[i] = job(i)
            except BaseException as e:
                errors[i] = e
                cancel.set()

    workers = max(1, min(workers, count))
    if workers == 1:
        worker()  # one at a time: no thread needed
    else:
        threads = [
            threading.Thread(target=worker, name=f"{name}-{k}", daemon=True) for k in range(workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    found = [e for e in errors if e is not None]
    real = [e for e in found if not isinstance(e, Cancelled)]
    return results, (real or found)[0] if found else None


def run_parallel(ex: Executor, name: str, state: dict[str, Any], data: Any, scope: Scope) -> Any:
    """Run every branch on ``data`` concurrently; the first failure cancels the others."""
    branches = state["Branches"]
    started = ex.event(scope, "ParallelStateStarted", name=name)
    cancel = threading.Event()
    scopes = [scope.child(started, cancel=cancel) for _ in branches]
    results, error = run_all(
        len(branches),
        lambda i: ex.run_states(branches[i], data, scopes[i]),
        len(branches),
        cancel,
        name,
    )
    if error is not None:
        if isinstance(error, StatesError) and error.error != "States.Runtime":
            ex.event(scope, "ParallelStateFailed", name=name, error=error.error, cause=error.cause)
        raise error
    ex.event(scope, "ParallelStateSucceeded", name=name)
    return results


def map_setting(
    ex: Executor,
    state: dict[str, Any],
    key: str,
    data: Any,
    ctx: dict[str, Any],
    scope: Scope,
    *,
    percentage: bool = False,
) -> Any:
    """MaxConcurrency / ToleratedFailureCount / ToleratedFailurePercentage, from the field, its
    ``Path`` form or a JSONata expression; a bad value is ``States.Runtime`` as on AWS."""
    value = state.get(key)
    source = key
    if key + "Path" in state:
        source = key + "Path"
        value = select(state[source], data, ctx, field=source, variables=scope.variables)
    elif query.is_expression(value):
        value = query.evaluate(value, ex.bindings(scope, data, ctx), key)
    if value is None:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = number and value >= 0 and (percentage or float(value).is_integer())
    if percentage:
        ok = ok and value <= 100
    if not ok:
        kind = "a number in 0..100" if percentage else "a non-negative integer"
        raise StatesError(
            "States.Runtime",
            f"The {source} field refers to value '{json.dumps(value)}' which is not {kind}",
        )
    return value if percentage else int(value)


Item = tuple[Any, dict[str, Any]]
"""An iteration's input and its ``$$.Map.Item`` (without Index)."""


def entries(node: Any) -> list[Item] | None:
    """An array's elements, or a JSON object's entries as ``{"Key", "Value"}`` items (with
    ``$$.Map.Item.Key``); None for anything else."""
    if isinstance(node, list):
        return [(v, {"Value": v}) for v in node]
    if isinstance(node, dict):
        return [({"Key": k, "Value": v}, {"Key": k, "Value": v}) for k, v in node.items()]
    return None


def map_items(
    ex: Executor, name: str, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope
) -> list[Item]:
    """What a Map iterates: ItemsPath (JSONPath) or Items (JSONata), default the input; an
    array, or a JSON object's entries."""
    if ex.jsonata(state):
        items = data
        if "Items" in state:
            items = query.resolve(state["Items"], ex.bindings(scope, data, ctx), "Items")
        found = entries(items)
        if found is None:
            raise StatesError(
                query.QUERY_ERROR,
                f"The Items field of Map state '{name}' must be an array or an object, got "
                f"{json.dumps(items)}",
            )
        return found
    path = state.get("ItemsPath", "$")
    items = select(path, data, ctx, field="ItemsPath", variables=scope.variables)
    found = entries(items)
    if found is None:
        raise StatesError(
            "States.Runtime",
            f"Map state '{name}': the ItemsPath '{path}' selected neither an array nor an object",
        )
    return found


INSTANT_TYPES = frozenset({"Pass", "Choice", "Succeed", "Fail"})


def waits(processor: dict[str, Any]) -> bool:
    """Whether an iteration can block (a Task, Wait, Parallel or Map): only then do
    iterations run concurrently; Pass/Choice/Succeed/Fail-only iterations run one by one."""
    return any(
        not isinstance(st, dict) or st.get("Type") not in INSTANT_TYPES
        for st in processor.get("States", {}).values()
    )


def run_map(
    ex: Executor, name: str, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope
) -> list[Any]:
    """Run the item processor over the items; results keep item order."""
    if any(k in state for k in ("ItemReader", "ItemBatcher", "ResultWriter")):
        raise StatesError(
            "States.Runtime",
            "The ItemReader, ItemBatcher and ResultWriter fields are not supported for INLINE maps",
        )
    items = map_items(ex, name, state, data, ctx, scope)
    processor = state.get("ItemProcessor") or state["Iterator"]
    jsonata = ex.jsonata(state)
    selector = state.get("ItemSelector", state.get("Parameters"))
    limit = map_setting(ex, state, "MaxConcurrency", data, ctx, scope) or 0
    tol_count = map_setting(ex, state, "ToleratedFailureCount", data, ctx, scope)
    tol_pct = map_setting(
        ex, state, "ToleratedFailurePercentage", data, ctx, scope, percentage=True
    )
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

    def select_item(item: Any, map_item: dict[str, Any]) -> Any:
        if selector is None:
            return item
        item_ctx = dict(ctx, Map={"Item": map_item})
        if jsonata:
            b = ex.bindings(scope, data, item_ctx)
            return query.resolve(selector, b, "ItemSelector")
        return resolve_template(selector, data, item_ctx, "ItemSelector", scope.variables)

    def iteration(index: int, child: Scope) -> Any:
        nonlocal failures
        item, item_ctx = items[index]
        ex.event(child, "MapIterationStarted", name=name, index=index)
        try:
            child.map_item = {"Index": index, **item_ctx}
            out = ex.run_states(processor, select_item(item, child.map_item), child)
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

    cancel = threading.Event()
    workers = min(limit or INLINE_CONCURRENCY, INLINE_CONCURRENCY)
    if not waits(processor):
        workers = 1  # nothing to overlap: threads would only add switching
    results, error = run_all(
        len(items),
        lambda i: iteration(i, scope.child(started, cancel=cancel)),
        workers,
        cancel,
        name,
    )
    if error is not None:
        if isinstance(error, StatesError) and tolerant:
            error = StatesError(
                "States.ExceedToleratedFailureThreshold",
                f"{failures} of {len(items)} iterations failed; last error: "
                f"{error.error}: {error.cause}",
            )
        if isinstance(error, StatesError) and error.error != "States.Runtime":
            ex.event(scope, "MapStateFailed", name=name, error=error.error, cause=error.cause)
        raise error
    ex.event(scope, "MapStateSucceeded", name=name)
    return results

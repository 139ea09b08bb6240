"""Python task functions used by the workflow tests (resources ``python:wf_tasks.<name>``)."""

from __future__ import annotations

import threading
import time
from typing import Any

CALLS: dict[str, int] = {}
ACTIVE = {"now": 0, "max": 0}
_lock = threading.Lock()
BARRIER = threading.Barrier(3)


class CustomError(Exception):
    pass


def echo(x: Any) -> Any:
    return x


def add(x: dict[str, Any]) -> int:
    return int(x["a"]) + int(x["b"])


def fail_until(x: dict[str, Any]) -> dict[str, Any]:
    """Fail with CustomError the first ``x['fails']`` calls for key ``x['key']``."""
    with _lock:
        n = CALLS.get(x["key"], 0)
        CALLS[x["key"]] = n + 1
    if n < x["fails"]:
        raise CustomError(f"attempt {n + 1} failed")
    return {"attempts": n + 1}


def raise_custom(x: Any) -> Any:
    raise CustomError("custom failure")


def raise_generic(x: Any) -> Any:
    raise Exception("generic failure")


def sleep(x: dict[str, Any]) -> dict[str, Any]:
    time.sleep(float(x["seconds"]))
    return {"slept": x["seconds"]}


def track(x: Any) -> Any:
    """Record how many calls run at once; sleep a little so overlaps show."""
    with _lock:
        ACTIVE["now"] += 1
        ACTIVE["max"] = max(ACTIVE["max"], ACTIVE["now"])
    time.sleep(0.05)
    with _lock:
        ACTIVE["now"] -= 1
    return x


def barrier(x: Any) -> Any:
    """Pass only when three calls run at the same time (raises BrokenBarrierError otherwise)."""
    BARRIER.wait(timeout=5)
    return x


def not_json(x: Any) -> Any:
    return {1, 2}

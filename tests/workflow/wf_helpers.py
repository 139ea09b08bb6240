"""Helpers shared by the workflow tests (importable because conftest puts this folder on sys.path)."""

from __future__ import annotations

from typing import Any

from trafficlake.workflow import Executor, from_dict
from trafficlake.workflow.runtime import ExecutionResult


class FakeClock:
    """now() advances only by sleep(); sleeps are recorded."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.t += seconds


def run(definition: dict[str, Any], input: Any = None, **kw: Any) -> ExecutionResult:
    """Validate and run a definition without a catalog."""
    return Executor(from_dict(definition, kw.pop("name", "test")), **kw).run(input)


def task(resource: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": f"python:wf_tasks.{resource}", **extra}


def one(state: dict[str, Any]) -> dict[str, Any]:
    """A machine of one state."""
    return {"StartAt": "S", "States": {"S": {**state, "End": True}}}

"""The state machine executor: runs a validated ASL definition, records history, persists runs."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trafficlake.catalog.base import Execution, HistoryEvent
from trafficlake.workflow.choice import evaluate_rule, parse_timestamp
from trafficlake.workflow.errors import StatesError
from trafficlake.workflow.history import Clock, HistoryRecorder, SystemClock, iso, owner_id
from trafficlake.workflow.paths import apply_input_path, resolve_template, select, set_result
from trafficlake.workflow.states import run_map, run_parallel
from trafficlake.workflow.tasks import TaskContext, TaskRegistry

if TYPE_CHECKING:
    from trafficlake.catalog.base import Catalog
    from trafficlake.config import Settings
    from trafficlake.workflow.asl import StateMachine


class Cancelled(Exception):
    """A branch or iteration stopped because a sibling failed."""


class MachineTimeout(Exception):
    """The machine-level TimeoutSeconds elapsed."""


@dataclass
class Scope:
    """One thread of control: the top level, a Parallel branch or a Map iteration."""

    cancels: tuple[threading.Event, ...] = ()
    previous: int = 0
    map_item: dict[str, Any] | None = None

    def child(self, previous: int, map_item: dict[str, Any] | None = None) -> Scope:
        return Scope((*self.cancels, threading.Event()), previous, map_item)

    def cancel(self) -> None:
        if self.cancels:
            self.cancels[-1].set()

    @property
    def cancelled(self) -> bool:
        return any(e.is_set() for e in self.cancels)


@dataclass
class ExecutionResult:
    id: str
    name: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    started_at: float = 0.0
    stopped_at: float = 0.0
    events: list[HistoryEvent] = field(default_factory=list)


def error_matches(error: str, names: list[str]) -> bool:
    """Retry/Catch matching: States.ALL matches all but States.Runtime (as in AWS);
    States.TaskFailed matches all but States.Timeout."""
    if error in names:
        return True
    if "States.ALL" in names and error != "States.Runtime":
        return True
    return "States.TaskFailed" in names and error not in ("States.Timeout", "States.Runtime")


class Executor:
    """Runs one state machine. ``catalog`` is optional (pure runtime tests need none)."""

    def __init__(
        self,
        machine: StateMachine,
        *,
        settings: Settings | None = None,
        catalog: Catalog | None = None,
        clock: Clock | None = None,
        wait_scale: float | None = None,
        tasks: TaskRegistry | None = None,
        on_event: Callable[[HistoryEvent], None] | None = None,
        seed: int | None = None,
    ) -> None:
        self.machine = machine
        self.settings = settings
        self.catalog = catalog
        self.clock = clock or SystemClock()
        if wait_scale is None:
            wait_scale = settings.workflow.wait_scale if settings is not None else 1.0
        self.wait_scale = wait_scale
        self.tasks = tasks or TaskRegistry()
        self.on_event = on_event
        self.random = random.Random(seed)
        self.deadline: float | None = None

    # ---- public -------------------------------------------------------------------------

    def run(self, input: Any = None, *, name: str | None = None) -> ExecutionResult:
        input = {} if input is None else json.loads(json.dumps(input))
        name = name or str(uuid.uuid4())
        self.execution_id = f"{self.machine.name}:{name}"
        start = self.clock.now()
        self.context_base = {
            "Execution": {
                "Id": self.execution_id,
                "Input": input,
                "Name": name,
                "StartTime": iso(start),
            },
            "StateMachine": {"Id": self.machine.name, "Name": self.machine.name},
        }
        self.history = HistoryRecorder(self.execution_id, self.clock, self.catalog, self.on_event)
        record = Execution(
            id=self.execution_id,
            state_machine=self.machine.name,
            name=name,
            input=input,
            started_at=start,
            owner=owner_id(),
        )
        if self.catalog is not None:
            self.catalog.create_execution(record)
        t = self.machine.timeout_seconds
        self.deadline = start + t if t else None
        scope = Scope(cancels=(threading.Event(),))
        scope.previous = self.history.add(
            "ExecutionStarted", 0, input=input, stateMachine=self.machine.name
        )
        status, output, error, cause = "SUCCEEDED", None, None, None
        try:
            output = self.run_states(self.machine.definition, input, scope)
            self.history.add("ExecutionSucceeded", scope.previous, output=output)
        except MachineTimeout:
            status, error = "TIMED_OUT", "States.Timeout"
            cause = f"the execution ran longer than TimeoutSeconds={t}"
            self.history.add("ExecutionTimedOut", scope.previous, error=error, cause=cause)
        except StatesError as e:
            status, error, cause = "FAILED", e.error, e.cause or None
            self.history.add("ExecutionFailed", scope.previous, error=error, cause=cause)
        except Exception as e:  # a defect must still end the execution, not leave it RUNNING
            status, error, cause = "FAILED", "States.Runtime", f"{type(e).__name__}: {e}"
            self.history.add("ExecutionFailed", scope.previous, error=error, cause=cause)
        stop = self.clock.now()
        self.history.flush()
        if self.catalog is not None:
            record.status, record.output, record.error, record.cause = status, output, error, cause
            record.stopped_at = stop
            self.catalog.update_execution(record)
        return ExecutionResult(
            self.execution_id,
            name,
            status,
            output,
            error,
            cause,
            start,
            stop,
            list(self.history.events),
        )

    # ---- plumbing -----------------------------------------------------------------------

    def check(self, scope: Scope) -> None:
        if self.deadline is not None and self.clock.now() >= self.deadline:
            raise MachineTimeout()
        if scope.cancelled:
            raise Cancelled()

    def sleep(self, seconds: float, scope: Scope) -> None:
        """Sleep (scaled by the caller), interruptible by cancellation and the machine timeout."""
        if seconds <= 0:
            self.check(scope)
            return
        timed_out = False
        if self.deadline is not None and self.clock.now() + seconds > self.deadline:
            seconds, timed_out = max(0.0, self.deadline - self.clock.now()), True
        if isinstance(self.clock, SystemClock) and scope.cancels:
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0 and not scope.cancelled:
                scope.cancels[-1].wait(min(left, 0.1))
        else:
            self.clock.sleep(seconds)
        if timed_out:
            raise MachineTimeout()
        self.check(scope)

    def context(self, name: str, entered: float, scope: Scope, retry: int = 0) -> dict[str, Any]:
        ctx = dict(self.context_base)
        ctx["State"] = {"Name": name, "EnteredTime": iso(entered), "RetryCount": retry}
        if scope.map_item is not None:
            ctx["Map"] = {"Item": scope.map_item}
        return ctx

    def event(self, scope: Scope, type_: str, **details: Any) -> int:
        scope.previous = self.history.add(type_, scope.previous, **details)
        return scope.previous

    def run_states(self, doc: dict[str, Any], data: Any, scope: Scope) -> Any:
        name: str | None = doc["StartAt"]
        states = doc["States"]
        while name is not None:
            self.check(scope)
            data, name = self.run_state(name, states[name], data, scope)
            if scope.cancels and len(scope.cancels) == 1:
                self.history.flush()
        return data

    # ---- one state ----------------------------------------------------------------------

    def run_state(
        self, name: str, state: dict[str, Any], data: Any, scope: Scope
    ) -> tuple[Any, str | None]:
        typ = state["Type"]
        entered = self.clock.now()
        self.event(scope, f"{typ}StateEntered", name=name, input=data)
        ctx = self.context(name, entered, scope)
        nxt = None if state.get("End") else state.get("Next")
        if typ == "Choice":
            return self._choice(name, state, data, ctx, scope)
        if typ == "Fail":
            error = state.get("Error")
            cause = state.get("Cause")
            if "ErrorPath" in state:
                error = select(state["ErrorPath"], data, ctx, field="ErrorPath")
            if "CausePath" in state:
                cause = select(state["CausePath"], data, ctx, field="CausePath")
            raise StatesError(
                str(error) if error is not None else "States.Fail",
                str(cause) if cause is not None else "",
            )
        if typ in ("Succeed", "Wait"):
            effective = apply_input_path(state.get("InputPath", "$"), data, ctx)
            if typ == "Wait":
                self._wait(state, effective, ctx, scope)
            out = apply_input_path(state.get("OutputPath", "$"), effective, ctx, "OutputPath")
            self.event(scope, f"{typ}StateExited", name=name, output=out)
            return out, (None if typ == "Succeed" else nxt)
        out, catch_next = self._with_retry(name, state, data, entered, scope)
        self.event(scope, f"{typ}StateExited", name=name, output=out)
        return out, catch_next or nxt

    def _choice(
        self, name: str, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope
    ) -> tuple[Any, str | None]:
        effective = apply_input_path(state.get("InputPath", "$"), data, ctx)
        target = None
        for rule in state["Choices"]:
            if evaluate_rule(rule, effective, ctx):
                target = rule["Next"]
                break
        if target is None:
            target = state.get("Default")
        if target is None:
            raise StatesError(
                "States.NoChoiceMatched",
                f"no choice rule matched and state {name!r} has no Default",
            )
        out = apply_input_path(state.get("OutputPath", "$"), effective, ctx, "OutputPath")
        self.event(scope, "ChoiceStateExited", name=name, output=out)
        return out, target

    def _wait(self, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope) -> None:
        if "Seconds" in state or "SecondsPath" in state:
            seconds = state.get("Seconds")
            if "SecondsPath" in state:
                seconds = select(state["SecondsPath"], data, ctx, field="SecondsPath")
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
                raise StatesError(
                    "States.Runtime", f"Wait seconds must be a non-negative number, got {seconds!r}"
                )
        else:
            ts = state.get("Timestamp")
            if "TimestampPath" in state:
                ts = select(state["TimestampPath"], data, ctx, field="TimestampPath")
            when = parse_timestamp(ts)
            if when is None:
                raise StatesError("States.Runtime", f"Wait timestamp is not RFC 3339: {ts!r}")
            seconds = max(0.0, when.timestamp() - self.clock.now())
        self.sleep(float(seconds) * self.wait_scale, scope)

    def _with_retry(
        self, name: str, state: dict[str, Any], data: Any, entered: float, scope: Scope
    ) -> tuple[Any, str | None]:
        retriers = state.get("Retry", [])
        attempts = [0] * len(retriers)
        retry_count = 0
        while True:
            try:
                ctx = self.context(name, entered, scope, retry_count)
                return self._process(name, state, data, ctx, scope), None
            except StatesError as e:
                k = next(
                    (j for j, r in enumerate(retriers) if error_matches(e.error, r["ErrorEquals"])),
                    None,
                )
                if k is not None and attempts[k] < retriers[k].get("MaxAttempts", 3):
                    r = retriers[k]
                    delay = r.get("IntervalSeconds", 1) * r.get("BackoffRate", 2.0) ** attempts[k]
                    if "MaxDelaySeconds" in r:
                        delay = min(delay, r["MaxDelaySeconds"])
                    if r.get("JitterStrategy") == "FULL":
                        delay = self.random.uniform(0, delay)
                    attempts[k] += 1
                    retry_count += 1
                    self.sleep(delay * self.wait_scale, scope)
                    continue
                for c in state.get("Catch", []):
                    if error_matches(e.error, c["ErrorEquals"]):
                        out = set_result(c.get("ResultPath", "$"), data, e.output())
                        return out, c["Next"]
                raise

    def _process(
        self, name: str, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope
    ) -> Any:
        typ = state["Type"]
        effective = apply_input_path(state.get("InputPath", "$"), data, ctx)
        if "Parameters" in state and typ != "Map":
            effective = resolve_template(state["Parameters"], effective, ctx)
        if typ == "Pass":
            result = state.get("Result", effective)
        elif typ == "Task":
            result = self._task(name, state, effective, ctx, scope)
        elif typ == "Parallel":
            result = run_parallel(self, name, state, effective, scope)
        else:
            result = run_map(self, name, state, effective, ctx, scope)
        if "ResultSelector" in state:
            result = resolve_template(state["ResultSelector"], result, ctx, "ResultSelector")
        out = set_result(state.get("ResultPath", "$"), data, result)
        return apply_input_path(state.get("OutputPath", "$"), out, ctx, "OutputPath")

    def _task(
        self, name: str, state: dict[str, Any], effective: Any, ctx: dict[str, Any], scope: Scope
    ) -> Any:
        resource = state["Resource"]
        self.event(scope, "TaskScheduled", resource=resource, parameters=effective)
        timeout = state.get("TimeoutSeconds")
        if "TimeoutSecondsPath" in state:
            timeout = select(
                state["TimeoutSecondsPath"], effective, ctx, field="TimeoutSecondsPath"
            )
        machine_left = None
        if self.deadline is not None:
            machine_left = max(0.0, self.deadline - self.clock.now())
        try:
            fn = self.tasks.resolve(resource)
        except Exception as e:  # an unknown resource fails the task, catchable
            self.event(
                scope, "TaskFailed", resource=resource, error="States.TaskFailed", cause=str(e)
            )
            raise StatesError("States.TaskFailed", str(e)) from None
        self.event(scope, "TaskStarted", resource=resource)
        tctx = TaskContext(
            self.settings,
            self.catalog,
            lambda s: self.sleep(s * self.wait_scale, scope),
            ctx,
            self.execution_id,
        )
        limits = [x for x in (timeout, machine_left) if x is not None]
        limit = min(limits) if limits else None
        box: dict[str, Any] = {}

        def call() -> None:
            try:
                box["result"] = json.loads(json.dumps(fn(effective, tctx)))
            except BaseException as e:
                box["error"] = e

        if limit is None:
            call()
        else:
            worker = threading.Thread(target=call, name=f"task-{name}", daemon=True)
            worker.start()
            worker.join(limit)
            if worker.is_alive():
                if timeout is None or limit < timeout:
                    raise MachineTimeout()
                cause = f"the task ran longer than TimeoutSeconds={timeout}"
                self.event(
                    scope, "TaskTimedOut", resource=resource, error="States.Timeout", cause=cause
                )
                raise StatesError("States.Timeout", cause)
        if "error" in box:
            err = to_states_error(box["error"])
            self.event(scope, "TaskFailed", resource=resource, error=err.error, cause=err.cause)
            raise err
        self.event(scope, "TaskSucceeded", resource=resource, output=box["result"])
        return box["result"]


def to_states_error(exc: BaseException) -> StatesError:
    """Python exception -> AWS error: the class name (States.TaskFailed for a bare Exception)."""
    if isinstance(exc, StatesError):
        return exc
    if isinstance(exc, (MachineTimeout, Cancelled)):
        raise exc
    if isinstance(exc, TypeError) and "JSON serializable" in str(exc):
        return StatesError("States.Runtime", f"the task result is not JSON: {exc}")
    name = type(exc).__name__
    return StatesError("States.TaskFailed" if name == "Exception" else name, str(exc))

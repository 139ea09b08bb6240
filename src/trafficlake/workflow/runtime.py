"""The state machine executor: runs a validated ASL definition, records history, persists runs."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from trafficlake.catalog.base import Execution, HistoryEvent
from trafficlake.config import AwsSettings
from trafficlake.workflow import query
from trafficlake.workflow.choice import evaluate_rule, parse_timestamp
from trafficlake.workflow.distributed import is_distributed, run_distributed_map
from trafficlake.workflow.errors import StatesError
from trafficlake.workflow.history import Clock, HistoryRecorder, SystemClock, iso, owner_id
from trafficlake.workflow.paths import apply_input_path, compact, set_result
from trafficlake.workflow.payload import check_size, resolve_template, resolve_value
from trafficlake.workflow.scope import Cancelled, MachineTimeout, Scope
from trafficlake.workflow.states import run_map, run_parallel
from trafficlake.workflow.tasks import TaskContext, TaskRegistry

if TYPE_CHECKING:
    from trafficlake.catalog.base import Catalog
    from trafficlake.config import Settings
    from trafficlake.workflow.asl import StateMachine

JSONATA = "JSONata"
MAX_WAIT_SECONDS = 99999999
"""The largest Wait the AWS validator accepts."""
VARIABLES_LIMIT = 10 * 1024 * 1024
"""All variables of an execution together (AWS's quota)."""
YEAR_SECONDS = 365 * 24 * 3600
"""A Timestamp further away than this (an execution's maximum life) fails the Wait."""


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
    """Retry/Catch matching as in AWS: States.Runtime is never caught or retried (not even by
    name); States.ALL matches every other error except States.DataLimitExceeded;
    States.TaskFailed matches all but States.Timeout and the terminal ones."""
    if error == "States.Runtime":
        return False
    if error in names:
        return True
    if error == "States.DataLimitExceeded":
        return False
    if "States.ALL" in names:
        return True
    return "States.TaskFailed" in names and error != "States.Timeout"


def account_of(settings: Settings | None) -> tuple[str, str]:
    """(region, account id) the context object's ARNs are built from: the ``[aws]`` settings."""
    aws = settings.aws if settings is not None else AwsSettings()
    return aws.region, aws.account_id


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
        self.language = machine.definition.get("QueryLanguage", "JSONPath")
        self._stop = threading.Event()
        self._stop_reason: tuple[str | None, str | None] = (None, None)

    # ---- public -------------------------------------------------------------------------

    def stop(self, error: str | None = None, cause: str | None = None) -> None:
        """StopExecution: end the running execution ABORTED at its next step (a Wait or a
        retry interval is interrupted; a running task finishes first)."""
        self._stop_reason = (error, cause)
        self._stop.set()

    def run(
        self,
        input: Any = None,
        *,
        name: str | None = None,
        map_item: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Run to the end. ``map_item`` is the ``$$.Map.Item`` of a distributed Map's child."""
        input = {} if input is None else json.loads(json.dumps(input))
        name = name or str(uuid.uuid4())
        self.execution_id = f"{self.machine.name}:{name}"
        start = self.clock.now()
        region, account = account_of(self.settings)
        prefix = f"arn:aws:states:{region}:{account}"
        self.context_base = {
            "Execution": {
                "Id": f"{prefix}:execution:{self.machine.name}:{name}",
                "Input": input,
                "Name": name,
                "RoleArn": f"arn:aws:iam::{account}:role/{self.machine.name}-role",
                "StartTime": iso(start),
                "RedriveCount": 0,
            },
            "StateMachine": {
                "Id": f"{prefix}:stateMachine:{self.machine.name}",
                "Name": self.machine.name,
            },
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
        scope = Scope(cancels=(self._stop,), map_item=map_item)
        scope.previous = self.history.add(
            "ExecutionStarted", 0, input=input, stateMachine=self.machine.name
        )
        status, output, error, cause = "SUCCEEDED", None, None, None
        try:
            check_size(input, "The execution input has")
            output = self.run_states(self.machine.definition, input, scope)
            self.history.add("ExecutionSucceeded", scope.previous, output=output)
        except MachineTimeout:
            status, error = "TIMED_OUT", "States.Timeout"
            cause = f"the execution ran longer than TimeoutSeconds={t}"
            self.history.add("ExecutionTimedOut", scope.previous, error=error, cause=cause)
        except Cancelled:  # stop() was called
            status, (error, cause) = "ABORTED", self._stop_reason
            self.history.add("ExecutionAborted", scope.previous, error=error, cause=cause)
        except StatesError as e:
            status, error, cause = "FAILED", e.error or None, e.cause or None
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
        ctx["State"] = {"EnteredTime": iso(entered), "Name": name, "RetryCount": retry}
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

    def jsonata(self, state: dict[str, Any]) -> bool:
        return bool(state.get("QueryLanguage", self.language) == JSONATA)

    # ---- one state ----------------------------------------------------------------------

    def run_state(
        self, name: str, state: dict[str, Any], data: Any, scope: Scope
    ) -> tuple[Any, str | None]:
        typ = state["Type"]
        entered = self.clock.now()
        entered_id = self.event(scope, f"{typ}StateEntered", name=name, input=data)
        try:
            out, nxt, assigned = self._dispatch(name, state, typ, data, entered, entered_id, scope)
            check_size(out, f"The state/task '{name}' returned a result with")
        except StatesError as e:
            self._attribute(e, name, entered_id, scope)
            if typ == "Task" and len(scope.cancels) > 1 and e.error != "States.Runtime":
                self.event(scope, "TaskStateAborted", name=name)  # it ends its branch
            raise
        if assigned:
            check_variables_total(scope, assigned)
            scope.variables.update(assigned)
        if typ not in ("Fail",):
            self.event(scope, f"{typ}StateExited", name=name, output=out)
        return out, nxt

    def _attribute(self, e: StatesError, name: str, entered_id: int, scope: Scope) -> None:
        """AWS's state prefix on runtime and JSONata causes, and one EvaluationFailed event per
        failed JSONata evaluation (recorded before Retry and Catch look at it)."""
        if e.error in ("States.Runtime", query.QUERY_ERROR) and not e.located:
            e.cause = (
                f"An error occurred while executing the state '{name}' "
                f"(entered at the event id #{entered_id}). {e.cause}"
            )
            e.located = True
        if e.error == query.QUERY_ERROR and not e.reported:
            e.reported = True
            self.event(scope, "EvaluationFailed", name=name, error=e.error, cause=e.cause)

    def _dispatch(
        self,
        name: str,
        state: dict[str, Any],
        typ: str,
        data: Any,
        entered: float,
        entered_id: int,
        scope: Scope,
    ) -> tuple[Any, str | None, dict[str, Any] | None]:
        nxt = None if state.get("End") else state.get("Next")
        if typ in ("Task", "Parallel", "Map") or (typ == "Pass" and not self.jsonata(state)):
            out, catch_next, assigned = self._with_retry(
                name, state, data, entered, entered_id, scope
            )
            return out, catch_next or nxt, assigned
        ctx = self.context(name, entered, scope)
        if typ == "Choice":
            return self._choice(name, state, data, ctx, scope)
        if typ == "Fail":
            self._fail(state, data, ctx, scope)
        if self.jsonata(state):
            b = self.bindings(scope, data, ctx)
            if typ == "Wait":
                self._wait_jsonata(state, b, scope)
            out = self.output(state, b, data)
            return out, (None if typ == "Succeed" else nxt), self.assign(state, b)
        effective = apply_input_path(
            state.get("InputPath", "$"), data, ctx, variables=scope.variables
        )
        if typ == "Wait":
            self._wait(state, effective, ctx, scope)
        assigned = self.assign_jsonpath(state, effective, ctx, scope)
        out = apply_input_path(
            state.get("OutputPath", "$"), effective, ctx, "OutputPath", scope.variables
        )
        return out, (None if typ == "Succeed" else nxt), assigned

    # ---- JSONata helpers ----------------------------------------------------------------

    def bindings(self, scope: Scope, data: Any, ctx: dict[str, Any], **more: Any) -> dict[str, Any]:
        """The JSONata environment: every visible variable plus ``$states``."""
        b = dict(scope.variables)
        b["states"] = {"input": data, "context": ctx, **more}
        return b

    @staticmethod
    def output(state: dict[str, Any], b: dict[str, Any], default: Any, where: str = "") -> Any:
        """``Output`` of a state (or of a Choice rule / catcher named by ``where``)."""
        if "Output" not in state:
            return default
        return query.resolve(state["Output"], b, where + "Output")

    @staticmethod
    def assign(state: dict[str, Any], b: dict[str, Any], where: str = "") -> dict[str, Any] | None:
        if "Assign" not in state:
            return None
        values = query.resolve(state["Assign"], b, where + "Assign")
        check_assign(values)
        return dict(values)

    def assign_jsonpath(
        self, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope
    ) -> dict[str, Any] | None:
        """Assign in a JSONPath state: ``.$`` values are paths/intrinsics over ``data``."""
        if "Assign" not in state:
            return None
        values = resolve_template(state["Assign"], data, ctx, "Assign", scope.variables)
        check_assign(values)
        return dict(values)

    # ---- Choice, Fail, Wait -------------------------------------------------------------

    def _choice(
        self, name: str, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope
    ) -> tuple[Any, str | None, dict[str, Any] | None]:
        """The first matching rule's Next, else Default. The state's Assign applies whichever
        way is taken, merged with the matching rule's own Assign (which wins on a name); a
        matching JSONata rule's own Output replaces the state's."""
        matched: dict[str, Any] | None = None
        if self.jsonata(state):
            b = self.bindings(scope, data, ctx)
            where = ""
            for i, rule in enumerate(state["Choices"]):
                where = f"Choices[{i}]/"
                ok = query.evaluate(rule["Condition"], b, where + "Condition")
                if not isinstance(ok, bool):
                    raise StatesError(
                        query.QUERY_ERROR,
                        f"The Condition of Choices[{i}] returned {json.dumps(ok)}, not a boolean",
                    )
                if ok:
                    matched = rule
                    break
            out = self.output(state, b, data)
            if matched is not None and "Output" in matched:
                out = self.output(matched, b, data, where)
            assigned = [self.assign(state, b), self.assign(matched or {}, b, where)]
        else:
            variables = scope.variables
            effective = apply_input_path(
                state.get("InputPath", "$"), data, ctx, variables=variables
            )
            matched = next(
                (r for r in state["Choices"] if evaluate_rule(r, effective, ctx, variables)), None
            )
            out = apply_input_path(
                state.get("OutputPath", "$"), effective, ctx, "OutputPath", variables
            )
            assigned = [
                self.assign_jsonpath(state, effective, ctx, scope),
                self.assign_jsonpath(matched or {}, effective, ctx, scope),
            ]
        target = matched["Next"] if matched is not None else state.get("Default")
        if target is None:
            raise StatesError(
                "States.Runtime",
                "Failed to transition out of the state. The state does not point to a next state.",
            )
        if assigned == [None, None]:
            return out, target, None
        return out, target, {k: v for part in assigned if part for k, v in part.items()}

    def _fail(
        self, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope
    ) -> NoReturn:
        error, cause = state.get("Error"), state.get("Cause")
        if self.jsonata(state):
            b = self.bindings(scope, data, ctx)
            error = query.resolve(error, b, "Error") if error is not None else None
            cause = query.resolve(cause, b, "Cause") if cause is not None else None
        else:
            if "ErrorPath" in state:
                error = resolve_value(state["ErrorPath"], data, ctx, "ErrorPath", scope.variables)
            if "CausePath" in state:
                cause = resolve_value(state["CausePath"], data, ctx, "CausePath", scope.variables)
        for what, value in (("Error", error), ("Cause", cause)):
            if value is not None and not isinstance(value, str):
                raise StatesError(
                    "States.Runtime",
                    f"The Fail state's {what} must be a string, got {json.dumps(value)}",
                )
        raise StatesError(error or "", cause or "")

    def _wait(self, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope) -> None:
        if "Seconds" in state:
            self._wait_seconds(state["Seconds"], "Seconds", scope)
        elif "SecondsPath" in state:
            value = resolve_value(state["SecondsPath"], data, ctx, "SecondsPath", scope.variables)
            self._wait_seconds(value, "SecondsPath", scope)
        elif "Timestamp" in state:
            self._wait_until(state["Timestamp"], "Timestamp", scope)
        else:
            value = resolve_value(
                state["TimestampPath"], data, ctx, "TimestampPath", scope.variables
            )
            self._wait_until(value, "TimestampPath", scope)

    def _wait_jsonata(self, state: dict[str, Any], b: dict[str, Any], scope: Scope) -> None:
        if "Seconds" in state:
            self._wait_seconds(query.resolve(state["Seconds"], b, "Seconds"), "Seconds", scope)
        else:
            ts = query.resolve(state["Timestamp"], b, "Timestamp")
            self._wait_until(ts, "Timestamp", scope)

    def _wait_seconds(self, seconds: Any, field_name: str, scope: Scope) -> None:
        """Seconds must be a whole number in 0..99999999 (AWS parses it as a long)."""
        ok = (
            isinstance(seconds, (int, float))
            and not isinstance(seconds, bool)
            and float(seconds).is_integer()
            and 0 <= seconds <= MAX_WAIT_SECONDS
        )
        if not ok:
            raise StatesError(
                "States.Runtime",
                f"The {field_name} parameter does not reference a valid integer value: "
                f"'{json.dumps(seconds)}'",
            )
        self.sleep(float(seconds) * self.wait_scale, scope)

    def _wait_until(self, ts: Any, field_name: str, scope: Scope) -> None:
        when = parse_timestamp(ts)
        if when is None:
            raise StatesError(
                "States.Runtime",
                f"The {field_name} parameter does not reference a valid ISO-8601 extended "
                f"offset date-time format string: '{json.dumps(ts)}'",
            )
        seconds = when.timestamp() - self.clock.now()
        if seconds > YEAR_SECONDS:
            raise StatesError(
                "States.Runtime",
                f"The {field_name} parameter references a timestamp more than a year away: '{ts}'",
            )
        self.sleep(max(0.0, seconds) * self.wait_scale, scope)

    # ---- Pass, Task, Parallel, Map with Retry/Catch ------------------------------------

    def _with_retry(
        self,
        name: str,
        state: dict[str, Any],
        data: Any,
        entered: float,
        entered_id: int,
        scope: Scope,
    ) -> tuple[Any, str | None, dict[str, Any] | None]:
        retriers = state.get("Retry", [])
        attempts = [0] * len(retriers)
        retry_count = 0
        while True:
            ctx = self.context(name, entered, scope, retry_count)
            try:
                if self.jsonata(state):
                    out, assigned = self._process_jsonata(name, state, data, ctx, scope)
                else:
                    out, assigned = self._process(name, state, data, ctx, scope)
                return out, None, assigned
            except StatesError as e:
                self._attribute(e, name, entered_id, scope)
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
                for i, c in enumerate(state.get("Catch", [])):
                    if error_matches(e.error, c["ErrorEquals"]):
                        where = f"Catch[{i}]/" if self.jsonata(state) else None
                        return self._caught(c, e, data, ctx, scope, where)
                raise

    def _caught(
        self,
        catcher: dict[str, Any],
        e: StatesError,
        data: Any,
        ctx: dict[str, Any],
        scope: Scope,
        where: str | None,
    ) -> tuple[Any, str, dict[str, Any] | None]:
        """The catcher's output and Assign; ``where`` (``Catch[i]/``) is set in JSONata."""
        if where is not None:
            b = self.bindings(scope, data, ctx, errorOutput=e.output())
            out = self.output(catcher, b, e.output(), where)
            return out, catcher["Next"], self.assign(catcher, b, where)
        assigned = self.assign_jsonpath(catcher, e.output(), ctx, scope)
        return (
            set_result(catcher.get("ResultPath", "$"), data, e.output()),
            catcher["Next"],
            assigned,
        )

    def _process(
        self, name: str, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope
    ) -> tuple[Any, dict[str, Any] | None]:
        typ = state["Type"]
        variables = scope.variables
        effective = apply_input_path(state.get("InputPath", "$"), data, ctx, variables=variables)
        if "Parameters" in state and typ != "Map":
            effective = resolve_template(state["Parameters"], effective, ctx, variables=variables)
            check_size(effective, f"The state '{name}' has an input (after Parameters) with")
        if typ == "Pass":
            result = state.get("Result", effective)
        elif typ == "Task":
            result = self._task(name, state, effective, ctx, scope)
        elif typ == "Parallel":
            result = run_parallel(self, name, state, effective, scope)
        elif is_distributed(state):
            result = run_distributed_map(self, name, state, effective, ctx, scope)
        else:
            result = run_map(self, name, state, effective, ctx, scope)
        if "ResultSelector" in state:
            result = resolve_template(
                state["ResultSelector"], result, ctx, "ResultSelector", variables
            )
        assigned = self.assign_jsonpath(state, result, ctx, scope)
        out = set_result(state.get("ResultPath", "$"), data, result)
        return apply_input_path(state.get("OutputPath", "$"), out, ctx, "OutputPath", variables), (
            assigned
        )

    def _process_jsonata(
        self, name: str, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope
    ) -> tuple[Any, dict[str, Any] | None]:
        typ = state["Type"]
        b = self.bindings(scope, data, ctx)
        if typ == "Pass":
            return self.output(state, b, data), self.assign(state, b)
        args = query.resolve(state["Arguments"], b, "Arguments") if "Arguments" in state else data
        check_size(args, f"The state '{name}' has an input (after Arguments) with")
        if typ == "Task":
            result = self._task(name, state, args, ctx, scope, b)
        elif typ == "Parallel":
            result = run_parallel(self, name, state, args, scope)
        elif is_distributed(state):
            result = run_distributed_map(self, name, state, data, ctx, scope)
        else:
            result = run_map(self, name, state, data, ctx, scope)
        b["states"]["result"] = result
        return self.output(state, b, result), self.assign(state, b)

    def _task(
        self,
        name: str,
        state: dict[str, Any],
        effective: Any,
        ctx: dict[str, Any],
        scope: Scope,
        b: dict[str, Any] | None = None,
    ) -> Any:
        resource = state["Resource"]
        self.event(scope, "TaskScheduled", resource=resource, parameters=effective)
        timeout = state.get("TimeoutSeconds")
        if b is not None and query.is_expression(timeout):
            timeout = query.evaluate(timeout, b, "TimeoutSeconds")
        if "TimeoutSecondsPath" in state:
            timeout = resolve_value(
                state["TimeoutSecondsPath"], effective, ctx, "TimeoutSecondsPath", scope.variables
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
        check_size(box["result"], f"The state/task '{name}' returned a result with")
        self.event(scope, "TaskSucceeded", resource=resource, output=box["result"])
        return box["result"]


def check_assign(values: Any) -> None:
    """Assign's limits: 256 KiB per variable and per Assign field."""
    if not isinstance(values, dict):
        raise StatesError(query.QUERY_ERROR, "Assign must give an object of variables")
    for k, v in values.items():
        check_size(v, f"The variable '{k}' has a value with")
    check_size(values, "The Assign field has values with")


def check_variables_total(scope: Scope, assigned: dict[str, Any]) -> None:
    """All the variables a scope sees may hold at most 10 MiB (AWS's quota)."""
    visible = {**scope.variables, **assigned}
    total = sum(len(compact(v).encode()) for v in visible.values())
    if total > VARIABLES_LIMIT:
        raise StatesError(
            "States.DataLimitExceeded",
            "The variables have a total size exceeding the maximum number of bytes service limit.",
        )


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

"""The Step Functions view of the workflow library: state machines by name (created through the
API and kept in the catalog, or defined in files), executions started in the background of
this process (persisted like every execution), stopped on request.
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trafficlake.catalog import NoSuchResourceError, ResourceExistsError, open_catalog
from trafficlake.workflow.asl import StateMachine, load_text
from trafficlake.workflow.errors import NoSuchStateMachineError, WorkflowError
from trafficlake.workflow.library import (
    MACHINE_KIND,
    check_resources,
    emit_status_change,
    find_machine,
    list_definitions,
    serverless_machines,
)
from trafficlake.workflow.runtime import ExecutionResult, Executor
from trafficlake.workflow.tasks import TaskRegistry

if TYPE_CHECKING:
    from trafficlake.config import Settings

_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


class InvalidNameError(WorkflowError):
    pass


class MachineExistsError(WorkflowError):
    pass


class ReadOnlyMachineError(WorkflowError):
    """A machine defined in a file (shipped, configured, Serverless) cannot be changed by API."""


class ExecutionExistsError(WorkflowError):
    pass


@dataclass
class MachineInfo:
    name: str
    definition: str
    """The definition text as given (JSON or YAML)."""
    origin: str
    """api | shipped | configured | serverless"""
    created_at: float
    role_arn: str = ""
    type: str = "STANDARD"


def check_name(name: Any, what: str = "name") -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 80 or _BAD_NAME.search(name):
        raise InvalidNameError(f"Invalid {what}: {name!r}")
    return name


def list_machines(settings: Settings) -> list[MachineInfo]:
    """Every machine this lake knows, sorted by name."""
    import json
    from pathlib import Path

    found: dict[str, MachineInfo] = {}
    for d in list_definitions(settings):
        p = Path(d.path)
        found[d.name] = MachineInfo(
            d.name, p.read_text(encoding="utf-8"), d.origin, p.stat().st_mtime
        )
    for m in serverless_machines(settings):
        text = json.dumps(m.machine.definition)
        found[m.machine.name] = MachineInfo(m.machine.name, text, "serverless", 0.0)
    with open_catalog(settings) as catalog:
        for r in catalog.list_resources(MACHINE_KIND):
            b = r.body
            found[r.name] = MachineInfo(
                r.name,
                b["definition"],
                "api",
                r.created_at,
                b.get("roleArn", ""),
                b.get("type", "STANDARD"),
            )
    return sorted(found.values(), key=lambda m: m.name)


def get_machine(settings: Settings, name: str) -> MachineInfo:
    for m in list_machines(settings):
        if m.name == name:
            return m
    raise NoSuchStateMachineError(f"State Machine Does Not Exist: {name}")


def _validated(settings: Settings, name: str, definition: str) -> StateMachine:
    machine = load_text(definition, name=name, source=name)
    check_resources(machine, settings)
    return machine


def create_machine(
    settings: Settings, name: str, definition: str, role_arn: str = "", type_: str = "STANDARD"
) -> MachineInfo:
    check_name(name)
    _validated(settings, name, definition)
    if any(m.name == name for m in list_machines(settings)):
        raise MachineExistsError(f"State Machine Already Exists: {name}")
    body = {"definition": definition, "roleArn": role_arn, "type": type_}
    with open_catalog(settings) as catalog:
        try:
            catalog.put_resource(MACHINE_KIND, name, body, mode="create")
        except ResourceExistsError:
            raise MachineExistsError(f"State Machine Already Exists: {name}") from None
    return get_machine(settings, name)


def update_machine(
    settings: Settings, name: str, definition: str | None, role_arn: str | None
) -> MachineInfo:
    current = get_machine(settings, name)
    if current.origin != "api":
        raise ReadOnlyMachineError(f"state machine {name} is defined in a file ({current.origin})")
    if definition is not None:
        _validated(settings, name, definition)
    body = {
        "definition": current.definition if definition is None else definition,
        "roleArn": current.role_arn if role_arn is None else role_arn,
        "type": current.type,
    }
    with open_catalog(settings) as catalog:
        catalog.put_resource(MACHINE_KIND, name, body, mode="update")
    return get_machine(settings, name)


def delete_machine(settings: Settings, name: str) -> None:
    current = get_machine(settings, name)
    if current.origin != "api":
        raise ReadOnlyMachineError(f"state machine {name} is defined in a file ({current.origin})")
    with open_catalog(settings) as catalog, contextlib.suppress(NoSuchResourceError):
        catalog.delete_resource(MACHINE_KIND, name)


class Executions:
    """Executions started by this process (so that StopExecution can reach them)."""

    def __init__(self, settings: Settings, aws: Callable[[], Any] | None) -> None:
        self.settings = settings
        self.aws = aws
        self._running: dict[str, Executor] = {}
        self._claimed: set[str] = set()
        """Execution ids taken by this process (recorded in the catalog a moment later)."""
        self._lock = threading.Lock()

    def _executor(self, name: str, catalog: Any, on_event: Any = None) -> Executor:
        machine = find_machine(self.settings, name)
        return Executor(
            machine,
            settings=self.settings,
            catalog=catalog,
            tasks=TaskRegistry(aws=self.aws),
            on_event=on_event,
        )

    def _claim(self, machine: str, name: str | None) -> str:
        name = check_name(name, "execution name") if name is not None else str(uuid.uuid4())
        from trafficlake.catalog import NoSuchExecutionError

        key = f"{machine}:{name}"
        with self._lock, open_catalog(self.settings) as catalog:
            try:
                catalog.get_execution(key)
            except NoSuchExecutionError:
                if key not in self._claimed:
                    self._claimed.add(key)
                    return name
        raise ExecutionExistsError(f"Execution Already Exists: {key}")

    def start(self, machine: str, name: str | None, input: Any) -> tuple[str, float]:
        """Start in the background; returns (execution id, start time) once it is recorded."""
        name = self._claim(machine, name)
        find_machine(self.settings, machine)  # a bad definition fails the call, not the thread
        started = threading.Event()
        box: dict[str, Any] = {}

        def recorded(event: Any) -> None:  # the execution row exists before its first event
            if not started.is_set():
                box["at"] = event.timestamp
                started.set()

        def work() -> None:
            try:
                run()
            except Exception as exc:  # could not start (say the catalog is unreachable)
                box["error"] = exc
            finally:
                started.set()  # the caller must not hang

        def run() -> None:
            with open_catalog(self.settings) as catalog:
                try:
                    self._run_here(machine, name, input, catalog, recorded)
                except Exception as exc:  # recorded by the executor; keep the thread quiet
                    box["error"] = exc
                finally:
                    started.set()

        threading.Thread(target=work, name=f"execution-{name}", daemon=True).start()
        started.wait(30)
        if "at" not in box:
            raise WorkflowError(f"execution {machine}:{name} did not start: {box.get('error')}")
        return f"{machine}:{name}", box["at"]

    def run_sync(self, machine: str, name: str | None, input: Any) -> ExecutionResult:
        name = self._claim(machine, name)
        with open_catalog(self.settings) as catalog:
            return self._run_here(machine, name, input, catalog)

    def _run_here(
        self, machine: str, name: str, input: Any, catalog: Any, on_event: Any = None
    ) -> ExecutionResult:
        """Run an execution in this thread, stoppable (:meth:`stop`) while it runs; its status
        change is emitted when it ends."""
        ex = self._executor(machine, catalog, on_event)
        key = f"{machine}:{name}"
        with self._lock:
            self._running[key] = ex
        try:
            result = ex.run(input, name=name)
            emit_status_change(self.settings, machine, result, input)
            return result
        finally:
            with self._lock:
                self._running.pop(key, None)

    def stop(self, execution_id: str, error: str | None, cause: str | None) -> bool:
        """Stop a running execution of this process; False when none runs here."""
        with self._lock:
            ex = self._running.get(execution_id)
        if ex is None:
            return False
        ex.stop(error, cause)
        return True

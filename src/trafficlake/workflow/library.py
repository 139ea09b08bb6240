"""Finding definitions (shipped, configured, files), running them, listing executions, graphs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trafficlake.workflow.asl import StateMachine, load_definition, load_text, machine_name
from trafficlake.workflow.errors import NoSuchStateMachineError, ValidationError, WorkflowError
from trafficlake.workflow.history import Clock, mark_abandoned
from trafficlake.workflow.runtime import ExecutionResult, Executor
from trafficlake.workflow.tasks import TaskRegistry

if TYPE_CHECKING:
    from trafficlake.catalog.base import Execution, HistoryEvent
    from trafficlake.config import ScheduleEntry, Settings

SHIPPED_DIR = Path(__file__).parent / "definitions"
SUFFIXES = (".asl.json", ".asl.yaml", ".asl.yml")


@dataclass
class DefinitionInfo:
    name: str
    path: str
    origin: str
    """shipped | configured"""


def _scan(folder: Path, origin: str) -> list[DefinitionInfo]:
    if not folder.is_dir():
        return []
    return [
        DefinitionInfo(machine_name(p), str(p), origin)
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name.endswith(SUFFIXES)
    ]


def list_definitions(settings: Settings | None = None) -> list[DefinitionInfo]:
    """Shipped definitions, then those in ``workflow.definitions_dir`` (which shadow shipped
    ones of the same name)."""
    found = {d.name: d for d in _scan(SHIPPED_DIR, "shipped")}
    if settings is not None and settings.workflow.definitions_dir:
        for d in _scan(settings.resolve_path(settings.workflow.definitions_dir), "configured"):
            found[d.name] = d
    return sorted(found.values(), key=lambda d: d.name)


MACHINE_KIND = "states-machine"
"""Catalog resources holding the state machines created through the Step Functions API."""


def _machine_file(settings: Settings | None, name_or_path: str) -> StateMachine:
    """A machine from a file: plain ASL, or the Serverless layout (``FILE#NAME`` picks one of
    several)."""
    from trafficlake.workflow import serverless

    file_part, _, wanted = name_or_path.partition("#")
    path = Path(file_part).expanduser()
    if not path.is_absolute():
        # As typed on the command line (the working folder) first, then next to the config.
        candidates = [Path.cwd() / path]
        if settings is not None:
            candidates.append(settings.base_dir / path)
        path = next((c for c in candidates if c.is_file()), candidates[0])
    if not path.is_file():
        raise NoSuchStateMachineError(f"no definition file {file_part}")
    machines = [m.machine for m in serverless.machines_of(path)]
    if wanted:
        for m in machines:
            if m.name == wanted:
                return m
        names = ", ".join(m.name for m in machines)
        raise NoSuchStateMachineError(f"{file_part} has no state machine {wanted!r} ({names})")
    if len(machines) > 1:
        names = ", ".join(m.name for m in machines)
        raise NoSuchStateMachineError(
            f"{file_part} defines {len(machines)} state machines ({names}): pick one as FILE#NAME"
        )
    return machines[0]


def serverless_machines(settings: Settings) -> list[Any]:
    """The machines (with their schedules) of the ``[workflow] serverless`` files."""
    from trafficlake.workflow import serverless

    out = []
    for f in settings.workflow.serverless:
        out.extend(serverless.machines_of(settings.resolve_path(f)))
    return out


def all_schedules(settings: Settings) -> list[ScheduleEntry]:
    """``[[schedules]]`` plus the ``events: schedule`` of the Serverless files' machines."""
    from trafficlake.config import ScheduleEntry

    entries = list(settings.schedules)
    for f in settings.workflow.serverless:
        from trafficlake.workflow import serverless

        for m in serverless.machines_of(settings.resolve_path(f)):
            for i, sched in enumerate(m.schedules):
                entries.append(
                    ScheduleEntry(
                        name=f"{m.machine.name}-schedule-{i + 1}",
                        expression=sched.expression,
                        state_machine=f"{settings.resolve_path(f)}#{m.machine.name}",
                        input=sched.input,
                    )
                )
    return entries


def check_resources(machine: StateMachine, settings: Settings | None) -> None:
    """Raise ValidationError naming every Task state whose AWS resource cannot run here (an
    undeclared Lambda function, an unserved service), before anything runs."""
    from trafficlake.workflow.aws_tasks import check_resource, is_aws_resource

    problems: list[str] = []

    def walk(doc: dict[str, Any]) -> None:
        for name, state in doc.get("States", {}).items():
            resource = state.get("Resource")
            task = state.get("Type") == "Task" and isinstance(resource, str)
            if task and is_aws_resource(resource) and (why := check_resource(resource, settings)):
                problems.append(f"state {name!r}: {why}")
            for branch in state.get("Branches", []):
                walk(branch)
            inner = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(inner, dict):
                walk(inner)

    walk(machine.definition)
    if problems:
        raise ValidationError(problems, machine.source or machine.name)


def find_machine(settings: Settings | None, name_or_path: str) -> StateMachine:
    """A definition by file path (``FILE`` or ``FILE#NAME``) or by name: shipped, configured,
    in a ``[workflow] serverless`` file, or created through the Step Functions API. Validated,
    task resources included (raises ValidationError)."""
    machine = _find(settings, name_or_path)
    check_resources(machine, settings)
    return machine


def _find(settings: Settings | None, name_or_path: str) -> StateMachine:
    file_part = name_or_path.partition("#")[0]
    if Path(file_part).suffix in (".json", ".yaml", ".yml") or "/" in file_part:
        return _machine_file(settings, name_or_path)
    for d in list_definitions(settings):
        if d.name == name_or_path:
            return load_definition(d.path)
    known = [d.name for d in list_definitions(settings)]
    if settings is not None:
        for m in serverless_machines(settings):
            if m.machine.name == name_or_path:
                return m.machine  # type: ignore[no-any-return]
            known.append(m.machine.name)
        from trafficlake.catalog import NoSuchResourceError, open_catalog

        with open_catalog(settings) as catalog:
            try:
                body = catalog.get_resource(MACHINE_KIND, name_or_path).body
                return load_text(body["definition"], name=name_or_path, source=name_or_path)
            except NoSuchResourceError:
                known += [r.name for r in catalog.list_resources(MACHINE_KIND)]
    names = ", ".join(known) or "none"
    raise NoSuchStateMachineError(f"no state machine named {name_or_path!r} (known: {names})")


def parse_input(text: str | None) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise WorkflowError(f"--input is not valid JSON: {e}") from None


def run_workflow(
    settings: Settings,
    name_or_path: str,
    input: Any = None,
    *,
    execution_name: str | None = None,
    on_event: Callable[[HistoryEvent], None] | None = None,
    clock: Clock | None = None,
) -> ExecutionResult:
    """Run a state machine in the foreground, persisting the execution in the catalog."""
    from trafficlake.aws.server import LocalAws
    from trafficlake.catalog import open_catalog

    machine = find_machine(settings, name_or_path)
    with open_catalog(settings) as catalog, LocalAws(settings) as aws:
        mark_abandoned(catalog)
        executor = Executor(
            machine,
            settings=settings,
            catalog=catalog,
            clock=clock,
            on_event=on_event,
            tasks=TaskRegistry(aws=aws.services),
        )
        result = executor.run(input, name=execution_name)
    emit_status_change(settings, machine.name, result, input)
    return result


def emit_status_change(
    settings: Settings, machine: str, result: ExecutionResult, input: Any
) -> None:
    """EventBridge's ``Step Functions Execution Status Change`` for a finished execution."""
    from trafficlake.events.bus import emit

    region, account = settings.aws.region, settings.aws.account_id
    prefix = f"arn:aws:states:{region}:{account}"
    detail = {
        "executionArn": f"{prefix}:execution:{machine}:{result.name}",
        "stateMachineArn": f"{prefix}:stateMachine:{machine}",
        "name": result.name,
        "status": result.status,
        "startDate": int(result.started_at * 1000),
        "stopDate": int(result.stopped_at * 1000),
        "input": json.dumps(input if input is not None else {}),
        "output": json.dumps(result.output) if result.status == "SUCCEEDED" else None,
        "error": result.error,
        "cause": result.cause,
    }
    emit(settings, "aws.states", "Step Functions Execution Status Change", detail)


def list_executions(settings: Settings, limit: int = 50) -> list[Execution]:
    from trafficlake.catalog import open_catalog

    with open_catalog(settings) as catalog:
        mark_abandoned(catalog)
        return catalog.list_executions(limit=limit)


def get_history(settings: Settings, execution_id: str) -> tuple[Execution, list[HistoryEvent]]:
    from trafficlake.catalog import open_catalog

    with open_catalog(settings) as catalog:
        execution = _find_execution(catalog, execution_id)
        return execution, catalog.get_history(execution.id)


def _find_execution(catalog: Any, execution_id: str) -> Execution:
    from trafficlake.catalog.base import NoSuchExecutionError

    try:
        return catalog.get_execution(execution_id)
    except NoSuchExecutionError:
        matches = [
            e
            for e in catalog.list_executions(limit=1000)
            if e.name == execution_id or e.id.endswith(execution_id)
        ]
        if len(matches) == 1:
            return matches[0]
        raise


# ---- graphs -----------------------------------------------------------------------------------


def _edges(states: dict[str, Any]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for name, s in states.items():
        if "Next" in s:
            out.append((name, s["Next"], ""))
        for i, rule in enumerate(s.get("Choices", [])):
            out.append((name, rule["Next"], f"rule {i + 1}"))
        if "Default" in s:
            out.append((name, s["Default"], "default"))
        for c in s.get("Catch", []):
            out.append((name, c["Next"], "catch " + ",".join(c["ErrorEquals"])))
    return out


def _nested(state: dict[str, Any]) -> list[dict[str, Any]]:
    if state["Type"] == "Parallel":
        return list(state["Branches"])
    if state["Type"] == "Map":
        return [state.get("ItemProcessor") or state["Iterator"]]
    return []


def graph(machine: StateMachine, fmt: str = "mermaid") -> str:
    """The machine as a Mermaid flowchart or a Graphviz digraph (nested machines as clusters)."""
    if fmt not in ("mermaid", "dot"):
        raise WorkflowError(f"unknown graph format {fmt!r}: use mermaid or dot")
    lines = ["flowchart TD"] if fmt == "mermaid" else [f'digraph "{machine.name}" {{']

    def node_id(name: str) -> str:
        return "s_" + "".join(c if c.isalnum() else "_" for c in name)

    def emit(doc: dict[str, Any], indent: str, start_from: str) -> None:
        for name, s in doc["States"].items():
            label = f"{name}\\n({s['Type']})" if fmt == "dot" else f"{name}<br/>{s['Type']}"
            if fmt == "mermaid":
                lines.append(f'{indent}{node_id(name)}["{label}"]')
            else:
                lines.append(f'{indent}{node_id(name)} [label="{label}"];')
            for k, sub in enumerate(_nested(s)):
                cluster = f"{node_id(name)}_{k}"
                if fmt == "mermaid":
                    lines.append(f"{indent}subgraph {cluster} [{name} {k + 1}]")
                else:
                    lines.append(f'{indent}subgraph cluster_{cluster} {{ label="{name} {k + 1}";')
                emit(sub, indent + "  ", node_id(name))
                lines.append(f"{indent}end" if fmt == "mermaid" else f"{indent}}}")
        first = node_id(doc["StartAt"])
        arrow = "-->" if fmt == "mermaid" else "->"
        lines.append(f"{indent}{start_from} {arrow} {first}" + (";" if fmt == "dot" else ""))
        for a, b, label in _edges(doc["States"]):
            if fmt == "mermaid":
                text = f"|{label}|" if label else ""
                lines.append(f"{indent}{node_id(a)} -->{text} {node_id(b)}")
            else:
                text = f' [label="{label}"]' if label else ""
                lines.append(f"{indent}{node_id(a)} -> {node_id(b)}{text};")

    start = "start" if fmt == "dot" else "start((start))"
    emit(machine.definition, "  ", start)
    if fmt == "dot":
        lines.append("}")
    return "\n".join(lines) + "\n"

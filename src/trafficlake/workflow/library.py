"""Finding definitions (shipped, configured, files), running them, listing executions, graphs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trafficlake.workflow.asl import StateMachine, load_definition, machine_name
from trafficlake.workflow.errors import NoSuchStateMachineError, WorkflowError
from trafficlake.workflow.history import Clock, mark_abandoned
from trafficlake.workflow.runtime import ExecutionResult, Executor

if TYPE_CHECKING:
    from trafficlake.catalog.base import Execution, HistoryEvent
    from trafficlake.config import Settings

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


def find_machine(settings: Settings | None, name_or_path: str) -> StateMachine:
    """A definition by file path or by name; validated (raises ValidationError)."""
    path = Path(name_or_path).expanduser()
    if path.suffix in (".json", ".yaml", ".yml") or "/" in name_or_path:
        if not path.is_absolute():
            # As typed on the command line (the working folder) first, then next to the config.
            candidates = [Path.cwd() / path]
            if settings is not None:
                candidates.append(settings.base_dir / path)
            path = next((c for c in candidates if c.is_file()), candidates[0])
        if not path.is_file():
            raise NoSuchStateMachineError(f"no definition file {name_or_path}")
        return load_definition(path)
    for d in list_definitions(settings):
        if d.name == name_or_path:
            return load_definition(d.path)
    names = ", ".join(d.name for d in list_definitions(settings)) or "none"
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
    from trafficlake.catalog import open_catalog

    machine = find_machine(settings, name_or_path)
    with open_catalog(settings) as catalog:
        mark_abandoned(catalog)
        executor = Executor(
            machine, settings=settings, catalog=catalog, clock=clock, on_event=on_event
        )
        return executor.run(input, name=execution_name)


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

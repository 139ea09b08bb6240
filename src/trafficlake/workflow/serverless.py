"""State machines in the Serverless Framework layout (the serverless-step-functions plugin).

A file is either plain ASL (``StartAt`` + ``States``), a state machines file as the seed keeps
it (``Key: {name, definition, events: [{schedule: rate(1 day)}]}``, YAML or JSON), or a
``serverless.yml`` whose ``stepFunctions.stateMachines`` holds that mapping inline or as
``${file(resources/sm.yml)}``. Other Serverless variables stay as written: Lambda ARNs holding
``${...}``/``#{...}`` resolve at run time to the declared function whose name ends them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trafficlake.workflow.asl import StateMachine, from_dict, machine_name, parse_text
from trafficlake.workflow.errors import ValidationError

_FILE_REF = re.compile(r"^\$\{file\(([^)]+)\)\}$")


@dataclass
class Schedule:
    expression: str
    input: dict[str, Any] = field(default_factory=dict)


@dataclass
class Machine:
    machine: StateMachine
    schedules: list[Schedule]


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValidationError([f"cannot read {path}: {e.strerror}"], str(path)) from None
    doc, dupes = parse_text(text, str(path))
    if dupes:
        raise ValidationError(dupes, str(path))
    return doc


def _schedules(events: Any, where: str) -> list[Schedule]:
    out: list[Schedule] = []
    if events is None:
        return out
    if not isinstance(events, list):
        raise ValidationError([f"{where}: events must be a list"], where)
    for i, event in enumerate(events):
        spec = event.get("schedule") if isinstance(event, dict) else None
        if spec is None:
            continue  # http/cloudwatchEvent triggers are not served
        if isinstance(spec, str):
            out.append(Schedule(spec))
        elif isinstance(spec, dict) and isinstance(spec.get("rate"), str):
            if spec.get("enabled", True) is False:
                continue
            payload = spec.get("input", {})
            out.append(Schedule(spec["rate"], payload if isinstance(payload, dict) else {}))
        else:
            raise ValidationError(
                [f"{where}: events[{i}].schedule must be rate(...)/cron(...)"], where
            )
    return out


def machines_of(path: Path) -> list[Machine]:
    """Every state machine the file defines, validated (raises ValidationError)."""
    doc = _read(path)
    if isinstance(doc, dict) and "States" in doc and "StartAt" in doc:
        return [Machine(from_dict(doc, machine_name(path)), [])]
    if isinstance(doc, dict) and isinstance(doc.get("stepFunctions"), dict):
        machines = doc["stepFunctions"].get("stateMachines")
        if isinstance(machines, str) and (m := _FILE_REF.match(machines.strip())):
            ref = (path.parent / m.group(1).strip().strip("'\"")).resolve()
            return machines_of(ref)
        doc = machines
    if (
        not isinstance(doc, dict)
        or not doc
        or not all(isinstance(v, dict) and "definition" in v for v in doc.values())
    ):
        raise ValidationError(
            [
                "neither an ASL definition (StartAt, States) nor Serverless state machines "
                "(Key: {name, definition, events})"
            ],
            str(path),
        )
    out = []
    for key, spec in doc.items():
        name = spec.get("name") or key
        if not isinstance(name, str):
            raise ValidationError([f"{key}: name must be a string"], str(path))
        try:
            machine = from_dict(spec["definition"], name)
        except ValidationError as e:
            raise ValidationError([f"{name}: {p}" for p in e.problems], str(path)) from None
        machine.source = str(path)
        out.append(Machine(machine, _schedules(spec.get("events"), f"{path}: {name}")))
    return out

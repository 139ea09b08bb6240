"""Load Amazon States Language definitions (JSON or YAML) and validate them before they run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trafficlake.workflow.choice import validate_choice_rule
from trafficlake.workflow.errors import PREDEFINED_ERRORS, ValidationError
from trafficlake.workflow.paths import PathSyntaxError, is_reference_path, parse_path

COMMON = {"Type", "Comment"}
IO = {"InputPath", "OutputPath"}
FLOW = {"Next", "End"}
RESULT = {"ResultPath", "Parameters", "ResultSelector"}
ERRORS = {"Retry", "Catch"}
FIELDS: dict[str, set[str]] = {
    "Pass": COMMON | IO | FLOW | {"ResultPath", "Parameters", "Result"},
    "Task": COMMON
    | IO
    | FLOW
    | RESULT
    | ERRORS
    | {
        "Resource",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
    },
    "Choice": COMMON | IO | {"Choices", "Default"},
    "Wait": COMMON | IO | FLOW | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": COMMON | IO,
    "Fail": COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": COMMON | IO | FLOW | RESULT | ERRORS | {"Branches"},
    "Map": COMMON
    | IO
    | FLOW
    | RESULT
    | ERRORS
    | {
        "ItemsPath",
        "ItemSelector",
        "ItemProcessor",
        "Iterator",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "Label",
    },
}
REQUIRED = {"Task": ["Resource"], "Choice": ["Choices"], "Parallel": ["Branches"]}
TOP_FIELDS = {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"}
SUB_FIELDS = {"Comment", "StartAt", "States", "ProcessorConfig"}
UNSUPPORTED_MAP_FIELDS = ("ItemReader", "ItemBatcher", "ResultWriter")
PATH_FIELDS = ("InputPath", "OutputPath", "ItemsPath")
REFERENCE_FIELDS = (
    "ResultPath",
    "SecondsPath",
    "TimestampPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
)


@dataclass
class StateMachine:
    """A loaded, validated definition."""

    name: str
    definition: dict[str, Any]
    source: str = ""

    @property
    def timeout_seconds(self) -> float | None:
        return self.definition.get("TimeoutSeconds")


# ---- loading (duplicate keys are problems, not silent overwrites) ----------------------------


@dataclass
class _Dupes:
    found: list[str] = field(default_factory=list)

    def note(self, key: str, a: Any, b: Any, where: str = "") -> None:
        if isinstance(a, dict) and isinstance(b, dict) and "Type" in a and "Type" in b:
            self.found.append(f"duplicate state name {key!r}{where}")
        else:
            self.found.append(f"duplicate key {key!r}{where}")


def _yaml_loader(dupes: _Dupes) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            value = loader.construct_object(value_node, deep=True)
            if key in out:
                dupes.note(str(key), out[key], value, f" (line {key_node.start_mark.line + 1})")
            out[key] = value
        return out

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


def parse_text(text: str, source: str = "") -> tuple[Any, list[str]]:
    """Parse JSON or YAML text; returns (document, duplicate-key problems)."""
    dupes = _Dupes()
    stripped = text.lstrip()
    try:
        if stripped.startswith("{"):

            def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
                out: dict[str, Any] = {}
                for k, v in pairs:
                    if k in out:
                        dupes.note(k, out[k], v)
                    out[k] = v
                return out

            doc = json.loads(text, object_pairs_hook=hook)
        else:
            doc = yaml.load(text, Loader=_yaml_loader(dupes))
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ValidationError([f"not valid JSON or YAML: {e}".replace("\n", " ")], source) from None
    return doc, dupes.found


def load_definition(source: str | Path, name: str | None = None) -> StateMachine:
    """Load and validate a definition file; raises ValidationError listing every problem."""
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValidationError([f"cannot read {path}: {e.strerror}"], str(path)) from None
    return load_text(text, name=name or machine_name(path), source=str(path))


def load_text(text: str, *, name: str = "machine", source: str = "") -> StateMachine:
    doc, dupes = parse_text(text, source)
    problems = dupes + validate(doc)
    if problems:
        raise ValidationError(problems, source or name)
    return StateMachine(name=name, definition=doc, source=source)


def from_dict(definition: dict[str, Any], name: str = "machine") -> StateMachine:
    problems = validate(definition)
    if problems:
        raise ValidationError(problems, name)
    return StateMachine(name=name, definition=definition)


def machine_name(path: Path) -> str:
    n = path.name
    for suffix in (".asl.json", ".asl.yaml", ".asl.yml", ".json", ".yaml", ".yml"):
        if n.endswith(suffix):
            return n[: -len(suffix)]
    return n


# ---- validation -----------------------------------------------------------------------------


def validate(doc: Any) -> list[str]:
    """Every problem in a definition, as messages naming the state and field."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["the definition must be an object with StartAt and States"]
    for key in doc:
        if key not in TOP_FIELDS:
            problems.append(f"top level: unknown field {key!r}")
    if doc.get("QueryLanguage", "JSONPath") != "JSONPath":
        problems.append("top level: only QueryLanguage 'JSONPath' is supported")
    t = doc.get("TimeoutSeconds")
    if t is not None and not _positive_int(t):
        problems.append("top level: field 'TimeoutSeconds' must be a positive integer")
    seen: set[str] = set()
    _validate_machine(doc, "top level", problems, seen)
    return problems


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _validate_machine(doc: dict[str, Any], where: str, problems: list[str], seen: set[str]) -> None:
    states = doc.get("States")
    start = doc.get("StartAt")
    if not isinstance(states, dict) or not states:
        problems.append(f"{where}: field 'States' is required and must be a non-empty object")
        return
    if not isinstance(start, str):
        problems.append(f"{where}: field 'StartAt' is required and must be a string")
    elif start not in states:
        problems.append(f"{where}: field 'StartAt' names unknown state {start!r}")
    edges: dict[str, list[str]] = {}
    first = len(problems)
    for name, state in states.items():
        if name in seen:
            problems.append(f"state {name!r}: the name is used more than once in the machine")
        seen.add(name)
        if len(name) > 80:
            problems.append(f"state {name!r}: names may have at most 80 characters")
        edges[name] = _validate_state(name, state, states, problems, seen)
    # an unknown target leaves the intended graph unclear: report it, not its fallout
    broken = any("names unknown state" in p for p in problems[first:])
    if isinstance(start, str) and start in states and not broken:
        reached = {start}
        todo = [start]
        while todo:
            for nxt in edges.get(todo.pop(), []):
                if nxt in states and nxt not in reached:
                    reached.add(nxt)
                    todo.append(nxt)
        for name in states:
            if name not in reached:
                problems.append(f"state {name!r}: unreachable from StartAt {start!r}")


def _validate_state(
    name: str, state: Any, states: dict[str, Any], problems: list[str], seen: set[str]
) -> list[str]:
    def bad(msg: str) -> None:
        problems.append(f"state {name!r}: {msg}")

    if not isinstance(state, dict):
        bad("must be an object")
        return []
    typ = state.get("Type")
    if typ not in FIELDS:
        bad(f"field 'Type' must be one of {', '.join(FIELDS)} (got {typ!r})")
        return []
    for key in state:
        if key not in FIELDS[typ]:
            bad(f"unknown field {key!r} for a {typ} state")
    for key in REQUIRED.get(typ, []):
        if key not in state:
            bad(f"missing required field {key!r}")
    targets: list[str] = []

    def target(field_name: str, value: Any) -> None:
        if not isinstance(value, str):
            bad(f"field {field_name!r} must be a state name")
        elif value not in states:
            bad(f"field {field_name!r} names unknown state {value!r}")
        else:
            targets.append(value)

    if typ in ("Pass", "Task", "Wait", "Parallel", "Map"):
        has_next, end = "Next" in state, state.get("End")
        if has_next and end:
            bad("has both 'Next' and 'End'; exactly one is allowed")
        elif not has_next and end is not True:
            bad("needs exactly one of 'Next' or 'End: true'")
        if has_next:
            target("Next", state["Next"])
        if "End" in state and not isinstance(end, bool):
            bad("field 'End' must be a boolean")
    for key in PATH_FIELDS:
        if key in state and state[key] is not None:
            try:
                parse_path(state[key])
            except PathSyntaxError as e:
                bad(f"field {key!r}: {e}")
    for key in REFERENCE_FIELDS:
        if key in state and state[key] is not None and not is_reference_path(state[key]):
            bad(f"field {key!r} must be a reference path, got {state[key]!r}")
    for key in ("TimeoutSeconds", "HeartbeatSeconds"):
        if key in state and not _positive_int(state[key]):
            bad(f"field {key!r} must be a positive integer")
        if key in state and key + "Path" in state:
            bad(f"fields {key!r} and {key + 'Path'!r} are mutually exclusive")
    if typ == "Task":
        if "Resource" in state and not isinstance(state["Resource"], str):
            bad("field 'Resource' must be a string")
        if (
            _positive_int(state.get("TimeoutSeconds"))
            and _positive_int(state.get("HeartbeatSeconds"))
            and state["HeartbeatSeconds"] >= state["TimeoutSeconds"]
        ):
            bad("field 'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'")
    if typ == "Choice":
        choices = state.get("Choices")
        if "Choices" in state and (not isinstance(choices, list) or not choices):
            bad("field 'Choices' must be a non-empty array")
        elif isinstance(choices, list):
            for i, rule in enumerate(choices):
                for msg in validate_choice_rule(rule, top=True):
                    bad(f"Choices[{i}]: {msg}")
                if isinstance(rule, dict) and "Next" in rule:
                    target(f"Choices[{i}].Next", rule["Next"])
        if "Default" in state:
            target("Default", state["Default"])
    if typ == "Wait":
        given = [k for k in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if k in state]
        if len(given) != 1:
            bad(
                "needs exactly one of 'Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath'"
                + (f" (has {', '.join(given)})" if given else "")
            )
        if "Seconds" in state and not (
            isinstance(state["Seconds"], int)
            and not isinstance(state["Seconds"], bool)
            and state["Seconds"] >= 0
        ):
            bad("field 'Seconds' must be a non-negative integer")
        if "Timestamp" in state:
            from trafficlake.workflow.choice import parse_timestamp

            if parse_timestamp(state["Timestamp"]) is None:
                bad("field 'Timestamp' must be an RFC 3339 timestamp")
    if typ == "Fail":
        for a in ("Error", "Cause"):
            if a in state and a + "Path" in state:
                bad(f"fields {a!r} and {a + 'Path'!r} are mutually exclusive")
            if a in state and not isinstance(state[a], str):
                bad(f"field {a!r} must be a string")
    if typ in ("Task", "Parallel", "Map"):
        _validate_retry_catch(state, bad, target)
    if typ == "Parallel":
        branches = state.get("Branches")
        if "Branches" in state and (not isinstance(branches, list) or not branches):
            bad("field 'Branches' must be a non-empty array")
        elif isinstance(branches, list):
            for i, branch in enumerate(branches):
                _validate_sub(branch, f"state {name!r}: Branches[{i}]", problems, seen)
    if typ == "Map":
        for key in UNSUPPORTED_MAP_FIELDS:
            if key in state:
                bad(f"field {key!r} (distributed Map) is not supported by this runtime")
        procs = [k for k in ("ItemProcessor", "Iterator") if k in state]
        if len(procs) != 1:
            bad("needs exactly one of 'ItemProcessor' or 'Iterator'")
        for k in procs:
            _validate_sub(state[k], f"state {name!r}: {k}", problems, seen)
        if "ItemSelector" in state and "Parameters" in state:
            bad("fields 'ItemSelector' and 'Parameters' are mutually exclusive")
        mc = state.get("MaxConcurrency")
        if "MaxConcurrency" in state and not (
            isinstance(mc, int) and not isinstance(mc, bool) and mc >= 0
        ):
            bad("field 'MaxConcurrency' must be a non-negative integer")
        p = state.get("ToleratedFailurePercentage")
        if p is not None and not (isinstance(p, (int, float)) and 0 <= p <= 100):
            bad("field 'ToleratedFailurePercentage' must be a number in 0..100")
        c = state.get("ToleratedFailureCount")
        if c is not None and not (isinstance(c, int) and not isinstance(c, bool) and c >= 0):
            bad("field 'ToleratedFailureCount' must be a non-negative integer")
    return targets


def _validate_sub(doc: Any, where: str, problems: list[str], seen: set[str]) -> None:
    if not isinstance(doc, dict):
        problems.append(f"{where}: must be an object with StartAt and States")
        return
    for key in doc:
        if key not in SUB_FIELDS:
            problems.append(f"{where}: unknown field {key!r}")
    _validate_machine(doc, where, problems, seen)


def _validate_retry_catch(state: dict[str, Any], bad: Any, target: Any) -> None:
    for kind in ("Retry", "Catch"):
        if kind not in state:
            continue
        rules = state[kind]
        if not isinstance(rules, list):
            bad(f"field {kind!r} must be an array")
            continue
        allowed = (
            {
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            }
            if kind == "Retry"
            else {"ErrorEquals", "Next", "ResultPath", "Comment"}
        )
        for i, rule in enumerate(rules):
            where = f"{kind}[{i}]"
            if not isinstance(rule, dict):
                bad(f"{where} must be an object")
                continue
            for key in rule:
                if key not in allowed:
                    bad(f"{where}: unknown field {key!r}")
            errs = rule.get("ErrorEquals")
            if not isinstance(errs, list) or not errs or not all(isinstance(e, str) for e in errs):
                bad(f"{where}: field 'ErrorEquals' must be a non-empty array of strings")
            else:
                for err in errs:
                    if err.startswith("States.") and err not in PREDEFINED_ERRORS:
                        bad(f"{where}: unknown predefined error {err!r}")
            if isinstance(errs, list) and "States.ALL" in errs:
                if len(errs) != 1:
                    bad(f"{where}: 'States.ALL' must appear alone in ErrorEquals")
                if i != len(rules) - 1:
                    bad(f"{where}: a rule with 'States.ALL' must be the last {kind} rule")
            if kind == "Catch":
                if "Next" not in rule:
                    bad(f"{where}: missing required field 'Next'")
                else:
                    target(f"{where}.Next", rule["Next"])
                rp = rule.get("ResultPath")
                if rp is not None and not is_reference_path(rp):
                    bad(f"{where}: field 'ResultPath' must be a reference path")
                continue
            for key, check in (
                ("IntervalSeconds", _positive_int),
                ("MaxDelaySeconds", _positive_int),
                (
                    "MaxAttempts",
                    lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                ),
                ("BackoffRate", lambda v: isinstance(v, (int, float)) and v >= 1.0),
            ):
                if key in rule and not check(rule[key]):
                    bad(f"{where}: field {key!r} has an invalid value {rule[key]!r}")
            if rule.get("JitterStrategy", "NONE") not in ("FULL", "NONE"):
                bad(f"{where}: field 'JitterStrategy' must be FULL or NONE")

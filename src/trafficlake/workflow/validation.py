"""Validation of Amazon States Language definitions before they run: every problem, each
naming the state and field, in both query languages (JSONPath and JSONata)."""

from __future__ import annotations

import re
from typing import Any

from trafficlake.workflow import query
from trafficlake.workflow.choice import parse_timestamp, validate_choice_rule
from trafficlake.workflow.distributed import GET_OBJECT, LIST_OBJECTS, PUT_OBJECT
from trafficlake.workflow.errors import PREDEFINED_ERRORS
from trafficlake.workflow.paths import PathSyntaxError, is_reference_path, parse_path
from trafficlake.workflow.payload import template_problems, value_problem

COMMON = {"Type", "Comment", "QueryLanguage"}
FLOW = {"Next", "End"}
ERRORS = {"Retry", "Catch"}
MAP_FIELDS = {
    "ItemSelector",
    "ItemProcessor",
    "Iterator",
    "MaxConcurrency",
    "ToleratedFailurePercentage",
    "ToleratedFailureCount",
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "Label",
}
TASK_FIELDS = {"Resource", "TimeoutSeconds", "HeartbeatSeconds", "Credentials"}
FIELDS: dict[str, set[str]] = {
    "Pass": COMMON | FLOW | {"Assign"},
    "Task": COMMON | FLOW | ERRORS | TASK_FIELDS | {"Assign"},
    "Choice": COMMON | {"Choices", "Default", "Assign"},
    "Wait": COMMON | FLOW | {"Seconds", "Timestamp", "Assign"},
    "Succeed": COMMON,
    "Fail": COMMON | {"Error", "Cause"},
    "Parallel": COMMON | FLOW | ERRORS | {"Branches", "Assign"},
    "Map": COMMON | FLOW | ERRORS | MAP_FIELDS | {"Assign"},
}
"""Fields of each state type in both query languages."""
JSONPATH_FIELDS: dict[str, set[str]] = {
    "Pass": {"InputPath", "OutputPath", "ResultPath", "Parameters", "Result"},
    "Task": {
        "InputPath",
        "OutputPath",
        "ResultPath",
        "Parameters",
        "ResultSelector",
        "TimeoutSecondsPath",
        "HeartbeatSecondsPath",
    },
    "Choice": {"InputPath", "OutputPath"},
    "Wait": {"InputPath", "OutputPath", "SecondsPath", "TimestampPath"},
    "Succeed": {"InputPath", "OutputPath"},
    "Fail": {"ErrorPath", "CausePath"},
    "Parallel": {"InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector"},
    "Map": {
        "InputPath",
        "OutputPath",
        "ResultPath",
        "Parameters",
        "ResultSelector",
        "ItemsPath",
        "MaxConcurrencyPath",
        "ToleratedFailurePercentagePath",
        "ToleratedFailureCountPath",
    },
}
JSONATA_FIELDS: dict[str, set[str]] = {
    "Pass": {"Output"},
    "Task": {"Arguments", "Output"},
    "Choice": {"Output"},
    "Wait": {"Output"},
    "Succeed": {"Output"},
    "Fail": set(),
    "Parallel": {"Arguments", "Output"},
    "Map": {"Items", "Output"},
}
REQUIRED = {"Task": ["Resource"], "Choice": ["Choices"], "Parallel": ["Branches"]}
TOP_FIELDS = {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"}
SUB_FIELDS = {"Comment", "StartAt", "States", "ProcessorConfig"}
LANGUAGES = ("JSONPath", "JSONata")
PATH_FIELDS = ("InputPath", "OutputPath", "ItemsPath")
REFERENCE_FIELDS = (
    "ResultPath",
    "SecondsPath",
    "TimestampPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
)
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}$")
LABEL_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
MAX_SECONDS = 99999999


def validate(doc: Any) -> list[str]:
    """Every problem in a definition, as messages naming the state and field."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["the definition must be an object with StartAt and States"]
    for key in doc:
        if key not in TOP_FIELDS:
            problems.append(f"top level: unknown field {key!r}")
    language = doc.get("QueryLanguage", "JSONPath")
    if language not in LANGUAGES:
        problems.append("top level: field 'QueryLanguage' must be 'JSONPath' or 'JSONata'")
        language = "JSONPath"
    t = doc.get("TimeoutSeconds")
    if t is not None and not (_positive_int(t) and t <= MAX_SECONDS):
        problems.append(f"top level: field 'TimeoutSeconds' must be an integer in 1..{MAX_SECONDS}")
    seen: set[str] = set()
    _validate_machine(doc, "top level", problems, seen, language)
    problems.extend(_scope_problems(doc, frozenset()))
    return problems


def _assigned(state: dict[str, Any]) -> dict[str, set[str]]:
    """Variable names each Assign of a state (its own, its Choice rules', its Catchers') sets."""
    found: dict[str, set[str]] = {}
    blocks = [("Assign", state.get("Assign"))]
    for kind in ("Choices", "Catch"):
        rules = state.get(kind)
        if isinstance(rules, list):
            blocks += [(f"{kind}[{i}].Assign", r.get("Assign")) for i, r in enumerate(rules)
                       if isinstance(r, dict)]  # fmt: skip
    for where, block in blocks:
        if isinstance(block, dict):
            found[where] = {k[:-2] if k.endswith(".$") else k for k in block if isinstance(k, str)}
    return found


def _scope_problems(machine: Any, outer: frozenset[str]) -> list[str]:
    """A Parallel branch or inline Map iteration reads the enclosing scopes' variables but may
    not assign one of their names (AWS rejects it); a distributed Map starts a fresh scope."""
    states = machine.get("States") if isinstance(machine, dict) else None
    if not isinstance(states, dict):
        return []
    problems: list[str] = []
    here: set[str] = set()
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        for where, names in _assigned(state).items():
            here |= names
            for var in sorted(names & outer):
                problems.append(
                    f"state {name!r}: {where} assigns {var!r}, a variable of an outer scope"
                )
    inner = outer | here
    for state in states.values():
        if not isinstance(state, dict):
            continue
        subs = state.get("Branches") if state.get("Type") == "Parallel" else None
        if state.get("Type") == "Map":
            proc = state.get("ItemProcessor", state.get("Iterator"))
            config = proc.get("ProcessorConfig") if isinstance(proc, dict) else None
            distributed = isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED"
            for p in _scope_problems(proc, frozenset() if distributed else inner):
                problems.append(p)
        for branch in subs if isinstance(subs, list) else []:
            problems.extend(_scope_problems(branch, inner))
    return problems


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _validate_machine(
    doc: dict[str, Any], where: str, problems: list[str], seen: set[str], language: str
) -> None:
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
        edges[name] = _validate_state(name, state, states, problems, seen, language)
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


def _whole_number(v: Any, low: int = 0, high: int = MAX_SECONDS) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _validate_state(
    name: str,
    state: Any,
    states: dict[str, Any],
    problems: list[str],
    seen: set[str],
    machine_language: str,
) -> list[str]:
    def bad(msg: str) -> None:
        problems.append(f"state {name!r}: {msg}")

    if not isinstance(state, dict):
        bad("must be an object")
        return []
    typ = state.get("Type")
    if not isinstance(typ, str) or typ not in FIELDS:
        bad(f"field 'Type' must be one of {', '.join(FIELDS)} (got {typ!r})")
        return []
    language = state.get("QueryLanguage", machine_language)
    if language not in LANGUAGES:
        bad("field 'QueryLanguage' must be 'JSONPath' or 'JSONata'")
        language = machine_language
    elif machine_language == "JSONata" and language == "JSONPath":
        bad("a state may not use QueryLanguage 'JSONPath' in a JSONata state machine")
    jsonata = language == "JSONata"
    allowed = FIELDS[typ] | (JSONATA_FIELDS[typ] if jsonata else JSONPATH_FIELDS[typ])
    for key in state:
        if key not in allowed:
            other = JSONPATH_FIELDS[typ] if jsonata else JSONATA_FIELDS[typ]
            if key in other:
                bad(f"field {key!r} is not supported in a {language} state")
            else:
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
    if jsonata:
        _validate_jsonata_fields(state, bad)
    else:
        _validate_jsonpath_fields(state, bad)
    if "Assign" in state:
        _validate_assign(state["Assign"], "Assign", jsonata, bad)
    for key in ("TimeoutSeconds", "HeartbeatSeconds"):
        value = state.get(key)
        literal = key in state and not (jsonata and query.is_expression(value))
        if literal and not _whole_number(value, 1):
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
                if jsonata:
                    _validate_jsonata_rule(rule, f"Choices[{i}]", bad)
                else:
                    for msg in validate_choice_rule(rule, top=True):
                        bad(f"Choices[{i}]: {msg}")
                    if isinstance(rule, dict) and "Assign" in rule:
                        _validate_assign(rule["Assign"], f"Choices[{i}].Assign", False, bad)
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
        seconds = state.get("Seconds")
        literal = "Seconds" in state and not (jsonata and query.is_expression(seconds))
        if literal and not _whole_number(seconds):
            bad(f"field 'Seconds' must be an integer in 0..{MAX_SECONDS}")
        ts = state.get("Timestamp")
        literal = "Timestamp" in state and not (jsonata and query.is_expression(ts))
        if literal and parse_timestamp(ts) is None:
            bad("field 'Timestamp' must be an RFC 3339 timestamp")
    if typ == "Fail":
        for a in ("Error", "Cause"):
            if a in state and a + "Path" in state:
                bad(f"fields {a!r} and {a + 'Path'!r} are mutually exclusive")
            if a in state and not isinstance(state[a], str):
                bad(f"field {a!r} must be a string")
            path_problem = value_problem(state[a + "Path"]) if a + "Path" in state else None
            if path_problem:
                bad(f"field {a + 'Path'!r}: {path_problem}")
    if typ in ("Task", "Parallel", "Map"):
        _validate_retry_catch(state, bad, target, jsonata)
    if typ == "Parallel":
        branches = state.get("Branches")
        if "Branches" in state and (not isinstance(branches, list) or not branches):
            bad("field 'Branches' must be a non-empty array")
        elif isinstance(branches, list):
            for i, branch in enumerate(branches):
                _validate_sub(branch, f"state {name!r}: Branches[{i}]", problems, seen, language)
    if typ == "Map":
        _validate_map(name, state, bad, problems, seen, language)
    return targets


def _validate_jsonpath_fields(state: dict[str, Any], bad: Any) -> None:
    for key in PATH_FIELDS:
        if key in state and state[key] is not None:
            try:
                parse_path(state[key])
            except PathSyntaxError as e:
                bad(f"field {key!r}: {e}")
    for key in REFERENCE_FIELDS:
        if key in state and state[key] is not None and not is_reference_path(state[key]):
            bad(f"field {key!r} must be a reference path, got {state[key]!r}")
    for key in ("Parameters", "ResultSelector", "ItemSelector"):
        if key in state:
            for msg in template_problems(state[key], key):
                bad(msg)


def _validate_jsonata_fields(state: dict[str, Any], bad: Any) -> None:
    for key in (
        "Arguments",
        "Output",
        "Items",
        "ItemSelector",
        "Error",
        "Cause",
        "Seconds",
        "Timestamp",
        "TimeoutSeconds",
        "HeartbeatSeconds",
        "MaxConcurrency",
        "ToleratedFailureCount",
        "ToleratedFailurePercentage",
    ):
        if key in state:
            for msg in query.template_problems(state[key], key):
                bad(msg)
    if "Items" in state and not (
        isinstance(state["Items"], (list, dict)) or query.is_expression(state["Items"])
    ):
        bad("field 'Items' must be an array, an object or a JSONata expression")
    args = state.get("Arguments")
    if "Arguments" in state and not (isinstance(args, (dict, list)) or query.is_expression(args)):
        bad("field 'Arguments' must be an object, an array or a JSONata expression")


def _validate_jsonata_rule(rule: Any, where: str, bad: Any) -> None:
    if not isinstance(rule, dict):
        bad(f"{where} must be an object")
        return
    for key in rule:
        if key not in ("Condition", "Next", "Assign", "Output", "Comment"):
            bad(f"{where}: field {key!r} is not supported in a JSONata Choice rule")
    cond = rule.get("Condition")
    if isinstance(cond, bool):
        pass
    elif not query.is_expression(cond):
        bad(f"{where}: field 'Condition' must be a JSONata expression '{{% ... %}}'")
    else:
        msg = query.parse_problem(cond)
        if msg:
            bad(f"{where}.Condition: {msg}")
    if "Next" not in rule:
        bad(f"{where}: missing required field 'Next'")
    if "Assign" in rule:
        _validate_assign(rule["Assign"], f"{where}.Assign", True, bad)
    if "Output" in rule:
        for msg in query.template_problems(rule["Output"], f"{where}.Output"):
            bad(msg)


def _validate_assign(assign: Any, where: str, jsonata: bool, bad: Any) -> None:
    if not isinstance(assign, dict):
        bad(f"field {where!r} must be an object")
        return
    for key in assign:
        name = key[:-2] if not jsonata and key.endswith(".$") else key
        if not VARIABLE_NAME.match(name) or name == "states":
            bad(f"{where}: {name!r} is not a valid variable name")
    if jsonata:
        for msg in query.template_problems(assign, where):
            bad(msg)
    else:
        for msg in template_problems(assign, where):
            bad(msg)


def _validate_map(
    name: str, state: dict[str, Any], bad: Any, problems: list[str], seen: set[str], language: str
) -> None:
    procs = [k for k in ("ItemProcessor", "Iterator") if k in state]
    if len(procs) != 1:
        bad("needs exactly one of 'ItemProcessor' or 'Iterator'")
    for k in procs:
        _validate_sub(state[k], f"state {name!r}: {k}", problems, seen, language)
        config = state[k].get("ProcessorConfig", {}) if isinstance(state[k], dict) else {}
        mode = config.get("Mode", "INLINE") if isinstance(config, dict) else None
        if mode not in ("INLINE", "DISTRIBUTED"):
            bad(f"{k}.ProcessorConfig.Mode must be INLINE or DISTRIBUTED")
        distributed = mode == "DISTRIBUTED"
        if isinstance(config, dict):
            for key in config:
                if key not in ("Mode", "ExecutionType"):
                    bad(f"{k}.ProcessorConfig: unknown field {key!r}")
            if config.get("ExecutionType", "STANDARD") not in ("STANDARD", "EXPRESS"):
                bad(f"{k}.ProcessorConfig.ExecutionType must be STANDARD or EXPRESS")
        if distributed or any(p in state for p in DISTRIBUTED_PARTS):
            _validate_distributed(state, bad)
    if "ItemSelector" in state and "Parameters" in state:
        bad("fields 'ItemSelector' and 'Parameters' are mutually exclusive")
    label = state.get("Label")
    if "Label" in state and not (
        isinstance(label, str) and 0 < len(label) <= 40 and not LABEL_FORBIDDEN.search(label)
    ):
        bad(
            "field 'Label' must be 1 to 40 characters without whitespace, brackets, wildcards, "
            'control characters or any of " # % \\ ^ | ~ ` $ & , ; : /'
        )
    for key, check in (
        ("MaxConcurrency", lambda v: _whole_number(v, 0, 2**31 - 1)),
        ("ToleratedFailureCount", lambda v: _whole_number(v, 0, 2**31 - 1)),
        (
            "ToleratedFailurePercentage",
            lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 100,
        ),
    ):
        value = state.get(key)
        if key in state and not query.is_expression(value) and not check(value):
            bad(f"field {key!r} has an invalid value {value!r}")
        if key in state and key + "Path" in state:
            bad(f"fields {key!r} and {key + 'Path'!r} are mutually exclusive")


DISTRIBUTED_PARTS: dict[str, tuple[set[str], set[str]]] = {
    "ItemReader": (
        {"Resource", "Parameters", "Arguments", "ReaderConfig"},
        {LIST_OBJECTS, GET_OBJECT},
    ),
    "ResultWriter": (
        {"Resource", "Parameters", "Arguments"},
        {PUT_OBJECT},
    ),
    "ItemBatcher": (
        {
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
            "BatchInput",
        },
        set(),
    ),
}
READER_CONFIG = {
    "InputType",
    "CSVHeaderLocation",
    "CSVHeaders",
    "CSVDelimiter",
    "MaxItems",
    "MaxItemsPath",
    "ItemsPointer",
}


def _validate_distributed(state: dict[str, Any], bad: Any) -> None:
    for part, (fields, resources) in DISTRIBUTED_PARTS.items():
        spec = state.get(part)
        if spec is None:
            continue
        if not isinstance(spec, dict):
            bad(f"field {part!r} must be an object")
            continue
        for key in spec:
            if key == "WriterConfig" and part == "ResultWriter":
                bad("ResultWriter.WriterConfig (output types, transformations) is not supported")
            elif key not in fields:
                bad(f"{part}: unknown field {key!r}")
        resource = spec.get("Resource")
        if resources and not (isinstance(resource, str) and resource in resources):
            bad(f"{part}.Resource must be one of {', '.join(sorted(resources))}")
        for key in ("Parameters", "BatchInput"):
            if key in spec:
                for msg in template_problems(spec[key], f"{part}.{key}"):
                    bad(msg)
        if part == "ItemBatcher" and not any(
            k in spec for k in ("MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch",
                                "MaxInputBytesPerBatchPath")
        ):  # fmt: skip
            bad("ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch")
    reader = state.get("ItemReader")
    config = reader.get("ReaderConfig") if isinstance(reader, dict) else None
    if isinstance(config, dict):
        for key in config:
            if key not in READER_CONFIG:
                bad(f"ItemReader.ReaderConfig: unknown field {key!r}")
        if config.get("InputType", "JSON") not in ("CSV", "JSON", "JSONL"):
            bad("ItemReader.ReaderConfig.InputType must be CSV, JSON or JSONL")
        if config.get("CSVHeaderLocation", "FIRST_ROW") not in ("FIRST_ROW", "GIVEN"):
            bad("ItemReader.ReaderConfig.CSVHeaderLocation must be FIRST_ROW or GIVEN")
        if config.get("CSVHeaderLocation") == "GIVEN" and not config.get("CSVHeaders"):
            bad("ItemReader.ReaderConfig: CSVHeaderLocation GIVEN needs CSVHeaders")
    if (
        isinstance(reader, dict)
        and reader.get("Resource") == GET_OBJECT
        and not isinstance(config, dict)
    ):
        bad("ItemReader: s3:getObject needs a ReaderConfig with an InputType")


def _validate_sub(doc: Any, where: str, problems: list[str], seen: set[str], language: str) -> None:
    if not isinstance(doc, dict):
        problems.append(f"{where}: must be an object with StartAt and States")
        return
    for key in doc:
        if key not in SUB_FIELDS:
            problems.append(f"{where}: unknown field {key!r}")
    _validate_machine(doc, where, problems, seen, language)


def _validate_retry_catch(state: dict[str, Any], bad: Any, target: Any, jsonata: bool) -> None:
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
            else {"ErrorEquals", "Next", "Comment", "Assign"}
            | ({"Output"} if jsonata else {"ResultPath"})
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
                if "Assign" in rule:
                    _validate_assign(rule["Assign"], f"{where}.Assign", jsonata, bad)
                if "Output" in rule:
                    for msg in query.template_problems(rule["Output"], f"{where}.Output"):
                        bad(msg)
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

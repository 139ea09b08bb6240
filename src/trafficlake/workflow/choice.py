"""Choice rules: validation and evaluation of every comparison operator, And/Or/Not."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from trafficlake.workflow.errors import StatesError
from trafficlake.workflow.paths import exists, is_reference_path, select

_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE)


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An RFC 3339 timestamp with an offset (``2026-11-21T07:00:00Z``), else None."""
    if not isinstance(value, str) or not _TS.match(value):
        return None
    try:
        return dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def string_matches(value: str, pattern: str) -> bool:
    """``*`` matches any run of characters; ``\\*`` and ``\\\\`` are literal."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if c == "*" else re.escape(c))
        i += 1
    return re.fullmatch("".join(parts), value, re.DOTALL) is not None


def _cmp(kind: str, op: str) -> Callable[[Any, Any], bool]:
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "Equals": lambda a, b: a == b,
        "LessThan": lambda a, b: a < b,
        "GreaterThan": lambda a, b: a > b,
        "LessThanEquals": lambda a, b: a <= b,
        "GreaterThanEquals": lambda a, b: a >= b,
    }
    return ops[op]


OPS = ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
COMPARISONS: dict[str, tuple[str, str]] = {}
for _kind in ("String", "Numeric", "Timestamp"):
    for _op in OPS:
        COMPARISONS[_kind + _op] = (_kind, _op)
COMPARISONS["BooleanEquals"] = ("Boolean", "Equals")
TYPE_TESTS = ("IsPresent", "IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
OPERATORS = (
    set(COMPARISONS) | {k + "Path" for k in COMPARISONS} | set(TYPE_TESTS) | {"StringMatches"}
)


def _value_ok(kind: str, v: Any) -> bool:
    if kind == "String":
        return isinstance(v, str)
    if kind == "Numeric":
        return _is_number(v)
    if kind == "Boolean":
        return isinstance(v, bool)
    return parse_timestamp(v) is not None


def validate_choice_rule(rule: Any, *, top: bool) -> list[str]:
    """Problems of one rule: exactly one operator, Variable where needed, Next only at top."""
    if not isinstance(rule, dict):
        return ["a choice rule must be an object"]
    problems: list[str] = []
    ops = [k for k in rule if k in OPERATORS or k in ("And", "Or", "Not")]
    allowed = set(OPERATORS) | {"And", "Or", "Not", "Variable", "Next", "Comment", "Assign"}
    for key in rule:
        if key not in allowed:
            problems.append(f"unknown field {key!r}")
    if len(ops) != 1:
        problems.append(
            "needs exactly one comparison operator or And/Or/Not"
            + (f" (has {', '.join(ops)})" if ops else "")
        )
    if top and "Next" not in rule:
        problems.append("missing required field 'Next'")
    if not top and "Next" in rule:
        problems.append("field 'Next' is only allowed on top-level choice rules")
    if len(ops) != 1:
        return problems
    op = ops[0]
    if op in ("And", "Or", "Not"):
        if "Variable" in rule:
            problems.append(f"field 'Variable' is not allowed with {op!r}")
        subs = [rule[op]] if op == "Not" else rule[op]
        if op == "Not" and not isinstance(rule[op], dict):
            problems.append("field 'Not' must be one choice rule")
        elif op != "Not" and (not isinstance(subs, list) or not subs):
            problems.append(f"field {op!r} must be a non-empty array of choice rules")
        else:
            for i, sub in enumerate(subs):
                where = op if op == "Not" else f"{op}[{i}]"
                problems.extend(f"{where}: {m}" for m in validate_choice_rule(sub, top=False))
        return problems
    var = rule.get("Variable")
    if var is None:
        problems.append(f"field 'Variable' is required with {op!r}")
    elif not isinstance(var, str) or not var.startswith("$"):
        problems.append(f"field 'Variable' must be a path, got {var!r}")
    value = rule[op]
    if op.endswith("Path"):
        if not isinstance(value, str) or not is_reference_path(value):
            problems.append(f"field {op!r} must be a reference path, got {value!r}")
    elif op in TYPE_TESTS:
        if not isinstance(value, bool):
            problems.append(f"field {op!r} must be true or false")
    elif op == "StringMatches":
        if not isinstance(value, str):
            problems.append("field 'StringMatches' must be a string")
    else:
        kind = COMPARISONS[op][0]
        if not _value_ok(kind, value):
            problems.append(f"field {op!r} has a value of the wrong type: {value!r}")
    return problems


def evaluate_rule(
    rule: dict[str, Any], data: Any, context: Any, variables: Mapping[str, Any] | None = None
) -> bool:
    """Whether ``rule`` matches; a missing Variable raises States.Runtime (as AWS does)."""
    if "And" in rule:
        return all(evaluate_rule(r, data, context, variables) for r in rule["And"])
    if "Or" in rule:
        return any(evaluate_rule(r, data, context, variables) for r in rule["Or"])
    if "Not" in rule:
        return not evaluate_rule(rule["Not"], data, context, variables)
    var = rule["Variable"]
    op = next(k for k in rule if k in OPERATORS)
    expected = rule[op]
    if op == "IsPresent":
        return exists(var, data, context, variables) == expected
    if not exists(var, data, context, variables):
        raise StatesError(
            "States.Runtime",
            f"Invalid path '{var}': The choice state's condition path references an invalid value.",
        )
    value = select(var, data, context, field="Variable", variables=variables)
    if op in TYPE_TESTS:
        actual = {
            "IsNull": value is None,
            "IsNumeric": _is_number(value),
            "IsString": isinstance(value, str),
            "IsBoolean": isinstance(value, bool),
            "IsTimestamp": parse_timestamp(value) is not None,
        }[op]
        return actual == expected
    if op == "StringMatches":
        return isinstance(value, str) and string_matches(value, expected)
    if op.endswith("Path"):
        expected = select(expected, data, context, field=op, variables=variables)
        op = op[:-4]
    kind, cmp = COMPARISONS[op]
    if not (_value_ok(kind, value) and _value_ok(kind, expected)):
        return False
    if kind == "Timestamp":
        value, expected = parse_timestamp(value), parse_timestamp(expected)
    return _cmp(kind, cmp)(value, expected)

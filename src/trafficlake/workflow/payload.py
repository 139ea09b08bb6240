"""Payload templates (Parameters, ItemSelector, ResultSelector, Assign of JSONPath states):
evaluation and the checks the validator runs on them before a machine starts."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from trafficlake.workflow.errors import StatesError
from trafficlake.workflow.intrinsics import evaluate_intrinsic, parse_intrinsic
from trafficlake.workflow.paths import PathSyntaxError, parse_path, select


def resolve_template(
    template: Any,
    data: Any,
    context: Any,
    field: str = "Parameters",
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """Evaluate a payload template: ``"key.$"`` values are paths or intrinsic functions."""
    if isinstance(template, Mapping):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if isinstance(key, str) and key.endswith(".$"):
                out[key[:-2]] = resolve_value(value, data, context, key, variables)
            else:
                out[key] = resolve_template(value, data, context, field, variables)
        return out
    if isinstance(template, list):
        return [resolve_template(v, data, context, field, variables) for v in template]
    return copy.deepcopy(template)


def resolve_value(
    value: Any, data: Any, context: Any, field: str, variables: Mapping[str, Any] | None = None
) -> Any:
    """One ``.$`` value: a path or an intrinsic function call."""
    if not isinstance(value, str):
        raise StatesError("States.Runtime", f"{field}: the value must be a string")
    if value.startswith("$"):
        return select(value, data, context, field=field, variables=variables)
    return evaluate_intrinsic(value, data, context, variables, field)


def value_problem(value: Any) -> str | None:
    """Why a ``.$`` value (or a path-or-intrinsic field) cannot run, or None."""
    if not isinstance(value, str):
        return f"the value must be a path or an intrinsic function, got {value!r}"
    try:
        if value.startswith("$"):
            parse_path(value)
        else:
            parse_intrinsic(value)
    except PathSyntaxError as e:
        return str(e)
    except StatesError as e:
        return e.cause
    return None


PAYLOAD_LIMIT = 256 * 1024
"""AWS's payload quota: 256 KiB of UTF-8 JSON per state input, output, result and variable."""


def check_size(value: Any, subject: str) -> None:
    """Raise ``States.DataLimitExceeded`` when ``value`` is over the payload quota; the cause is
    ``subject`` + AWS's wording ("... a size exceeding the maximum number of bytes service
    limit.")."""
    if value is None or isinstance(value, (bool, int, float)):
        return
    if isinstance(value, str) and len(value) * 4 < PAYLOAD_LIMIT:
        return
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > PAYLOAD_LIMIT:
        raise StatesError(
            "States.DataLimitExceeded",
            f"{subject} a size exceeding the maximum number of bytes service limit.",
        )


def template_problems(template: Any, where: str) -> list[str]:
    """Problems inside a payload template: bad ``.$`` values, ``a`` next to ``a.$``."""
    problems: list[str] = []
    if isinstance(template, Mapping):
        for key, value in template.items():
            if not isinstance(key, str):
                continue
            if key.endswith(".$"):
                if key[:-2] in template:
                    problems.append(f"{where}: fields {key[:-2]!r} and {key!r} collide")
                msg = value_problem(value)
                if msg:
                    problems.append(f"{where}.{key}: {msg}")
            else:
                problems.extend(template_problems(value, f"{where}.{key}"))
    elif isinstance(template, list):
        for i, v in enumerate(template):
            problems.extend(template_problems(v, f"{where}[{i}]"))
    return problems

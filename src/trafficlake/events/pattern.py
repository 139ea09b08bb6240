"""EventBridge event patterns: exact values, prefix, suffix, anything-but, numeric, exists,
equals-ignore-case, nested objects, and arrays in the event (any element may match)."""

from __future__ import annotations

import json
from typing import Any

from trafficlake.errors import TrafficlakeError

_MISSING = object()
_OPS = {
    "<": float.__lt__,
    "<=": float.__le__,
    ">": float.__gt__,
    ">=": float.__ge__,
    "=": float.__eq__,
}


class InvalidEventPatternError(TrafficlakeError):
    pass


def parse_pattern(text: str) -> dict[str, Any]:
    try:
        pattern = json.loads(text)
    except ValueError as exc:
        raise InvalidEventPatternError(f"Event pattern is not valid JSON: {exc}") from None
    if not isinstance(pattern, dict) or not pattern:
        raise InvalidEventPatternError("Event pattern must be a non-empty JSON object")
    _check(pattern, "")
    return pattern


def _check(pattern: dict[str, Any], where: str) -> None:
    for key, value in pattern.items():
        path = f"{where}.{key}" if where else key
        if isinstance(value, dict):
            _check(value, path)
        elif not isinstance(value, list):
            raise InvalidEventPatternError(f"Event pattern: {path} must be an array or an object")
        else:
            for cond in value:
                if isinstance(cond, dict):
                    if len(cond) != 1 or next(iter(cond)) not in (
                        "prefix",
                        "suffix",
                        "anything-but",
                        "numeric",
                        "exists",
                        "equals-ignore-case",
                    ):
                        raise InvalidEventPatternError(
                            f"Event pattern: unsupported condition {cond} at {path}"
                        )
                    if "numeric" in cond:
                        _numeric_ok(cond["numeric"], path)


def _numeric_ok(spec: Any, path: str) -> None:
    if not isinstance(spec, list) or len(spec) % 2 or not spec:
        raise InvalidEventPatternError(
            f"Event pattern: numeric at {path} needs operator/value pairs"
        )
    for op, val in zip(spec[::2], spec[1::2], strict=True):
        if op not in _OPS or isinstance(val, bool) or not isinstance(val, (int, float)):
            raise InvalidEventPatternError(
                f"Event pattern: bad numeric condition {op} {val} at {path}"
            )


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether ``event`` (a dict) matches ``pattern``."""
    for key, cond in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(cond, dict):
            if value is _MISSING or not isinstance(value, dict) or not matches(cond, value):
                return False
        elif not _field(cond, value):
            return False
    return True


def _field(conditions: list[Any], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for cond in conditions:
        if isinstance(cond, dict) and "exists" in cond:
            if bool(cond["exists"]) == (value is not _MISSING):
                return True
            continue
        if value is _MISSING:
            continue
        if any(_one(cond, v) for v in values):
            return True
    return False


def _one(cond: Any, v: Any) -> bool:
    if not isinstance(cond, dict):
        return bool(cond == v and type(cond) is type(v)) or (
            isinstance(cond, (int, float))
            and isinstance(v, (int, float))
            and not isinstance(v, bool)
            and cond == v
        )
    ((op, arg),) = cond.items()
    if op == "prefix":
        return isinstance(v, str) and v.startswith(arg)
    if op == "suffix":
        return isinstance(v, str) and v.endswith(arg)
    if op == "equals-ignore-case":
        return isinstance(v, str) and v.lower() == str(arg).lower()
    if op == "anything-but":
        if isinstance(arg, dict):
            return not _one(arg, v)
        banned = arg if isinstance(arg, list) else [arg]
        return not any(_one(b, v) for b in banned)
    if op == "numeric":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        return all(_OPS[o](float(v), float(x)) for o, x in zip(arg[::2], arg[1::2], strict=True))
    return False

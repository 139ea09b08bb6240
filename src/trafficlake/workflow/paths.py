"""The JSONPath subset of the Amazon States Language: paths, reference paths, payload templates.

Supported path syntax: ``$``, ``$$`` (context object), ``.name``, ``['name']`` / ``["name"]``,
``[n]`` (negative counts from the end), ``[*]`` and ``.*``, ``[a:b]`` slices, ``[i,j]`` unions
and ``..name`` recursive descent. Filter expressions (``[?(...)]``) are not supported.
A *reference path* (ResultPath, Choice ``Variable``, ``*Path`` fields) may only use
``.name``, ``['name']`` and ``[n]``, so it names exactly one node.

Missing paths raise :class:`StatesError` ``States.Runtime`` as AWS Step Functions does (the
spec names ``States.ParameterPathFailure``; AWS reports ``States.Runtime``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trafficlake.workflow.errors import StatesError

_NAME = re.compile(r"[^.\[\]()$@*,\s'\"]+")
_MISSING = object()


@dataclass(frozen=True)
class Step:
    kind: str
    """field | index | wildcard | slice | union | descend"""
    value: Any = None


class PathSyntaxError(ValueError):
    """A path string is not valid JSONPath."""


def parse_path(path: str) -> tuple[bool, list[Step]]:
    """Parse ``path``; returns (is_context, steps)."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise PathSyntaxError(f"path {path!r} must start with '$'")
    is_context = path.startswith("$$")
    i = 2 if is_context else 1
    steps: list[Step] = []
    n = len(path)
    while i < n:
        c = path[i]
        if path.startswith("..", i):
            m = _NAME.match(path, i + 2)
            if not m:
                raise PathSyntaxError(f"path {path!r}: expected a name after '..'")
            steps.append(Step("descend", m.group()))
            i = m.end()
        elif c == ".":
            if path.startswith(".*", i):
                steps.append(Step("wildcard"))
                i += 2
                continue
            m = _NAME.match(path, i + 1)
            if not m:
                raise PathSyntaxError(f"path {path!r}: expected a name at position {i + 1}")
            steps.append(Step("field", m.group()))
            i = m.end()
        elif c == "[":
            end, step = _parse_bracket(path, i)
            steps.append(step)
            i = end
        else:
            raise PathSyntaxError(f"path {path!r}: unexpected {c!r} at position {i}")
    return is_context, steps


def _parse_bracket(path: str, i: int) -> tuple[int, Step]:
    j = i + 1
    if j < len(path) and path[j] in "'\"":
        quote = path[j]
        buf = []
        j += 1
        while j < len(path) and path[j] != quote:
            if path[j] == "\\" and j + 1 < len(path):
                j += 1
            buf.append(path[j])
            j += 1
        if not path.startswith(quote + "]", j):
            raise PathSyntaxError(f"path {path!r}: unterminated bracket at position {i}")
        return j + 2, Step("field", "".join(buf))
    close = path.find("]", j)
    if close < 0:
        raise PathSyntaxError(f"path {path!r}: unterminated bracket at position {i}")
    inner = path[j:close].strip()
    try:
        if inner == "*":
            return close + 1, Step("wildcard")
        if ":" in inner:
            parts = [int(p) if p.strip() else None for p in inner.split(":")]
            if len(parts) > 3:
                raise ValueError
            return close + 1, Step("slice", tuple(parts + [None] * (3 - len(parts))))
        if "," in inner:
            return close + 1, Step("union", tuple(int(p) for p in inner.split(",")))
        return close + 1, Step("index", int(inner))
    except ValueError:
        raise PathSyntaxError(f"path {path!r}: bad bracket expression [{inner}]") from None


def is_reference_path(path: str) -> bool:
    try:
        _, steps = parse_path(path)
    except PathSyntaxError:
        return False
    return all(s.kind in ("field", "index") for s in steps)


def is_definite(steps: list[Step]) -> bool:
    return all(s.kind in ("field", "index") for s in steps)


def _apply(nodes: list[Any], step: Step) -> list[Any]:
    out: list[Any] = []
    for node in nodes:
        if step.kind == "field":
            if isinstance(node, Mapping) and step.value in node:
                out.append(node[step.value])
        elif step.kind == "index":
            if isinstance(node, list) and -len(node) <= step.value < len(node):
                out.append(node[step.value])
        elif step.kind == "wildcard":
            if isinstance(node, Mapping):
                out.extend(node.values())
            elif isinstance(node, list):
                out.extend(node)
        elif step.kind == "slice":
            if isinstance(node, list):
                out.extend(node[slice(*step.value)])
        elif step.kind == "union":
            if isinstance(node, list):
                out.extend(node[k] for k in step.value if -len(node) <= k < len(node))
        elif step.kind == "descend":
            out.extend(_descend(node, step.value))
    return out


def _descend(node: Any, name: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(node, Mapping):
        if name in node:
            found.append(node[name])
        for v in node.values():
            found.extend(_descend(v, name))
    elif isinstance(node, list):
        for v in node:
            found.extend(_descend(v, name))
    return found


def select(path: str, data: Any, context: Any = None, *, field: str = "path") -> Any:
    """Evaluate ``path`` against ``data`` (or ``context`` for ``$$``).

    A definite path returns its one value; other paths return the list of matches. A definite
    path that matches nothing raises ``States.Runtime``.
    """
    try:
        is_ctx, steps = parse_path(path)
    except PathSyntaxError as e:
        raise StatesError("States.Runtime", f"{field}: {e}") from None
    nodes = [context if is_ctx else data]
    for step in steps:
        nodes = _apply(nodes, step)
    if is_definite(steps):
        if not nodes:
            raise StatesError(
                "States.Runtime",
                f"The JSONPath '{path}' specified for the field '{field}' could not be found "
                "in the input",
            )
        return nodes[0]
    return nodes


def exists(path: str, data: Any, context: Any = None) -> bool:
    """Whether a reference path names an existing node."""
    try:
        is_ctx, steps = parse_path(path)
    except PathSyntaxError:
        return False
    nodes = [context if is_ctx else data]
    for step in steps:
        nodes = _apply(nodes, step)
    return bool(nodes)


def apply_input_path(path: str | None, data: Any, context: Any, field: str = "InputPath") -> Any:
    """InputPath / OutputPath: ``None`` (JSON null) gives ``{}``; absent means ``$``."""
    if path is None:
        return {}
    return select(path, data, context, field=field)


def set_result(path: str | None, data: Any, result: Any) -> Any:
    """Apply ResultPath: place ``result`` into (a deep copy of) ``data``."""
    if path is None:
        return data
    try:
        is_ctx, steps = parse_path(path)
    except PathSyntaxError as e:
        raise StatesError("States.ResultPathMatchFailure", str(e)) from None
    if is_ctx or not is_definite(steps):
        raise StatesError("States.ResultPathMatchFailure", f"{path!r} is not a reference path")
    if not steps:
        return result
    root = copy.deepcopy(data)
    node = root
    for k, step in enumerate(steps):
        last = k == len(steps) - 1
        if step.kind == "field":
            if not isinstance(node, dict):
                raise StatesError(
                    "States.ResultPathMatchFailure",
                    f"Unable to apply ResultPath '{path}' to input: a non-object is in the way",
                )
            if last:
                node[step.value] = result
            else:
                if step.value not in node:
                    node[step.value] = {}
                node = node[step.value]
        else:
            if not isinstance(node, list) or not -len(node) <= step.value < len(node):
                raise StatesError(
                    "States.ResultPathMatchFailure",
                    f"Unable to apply ResultPath '{path}': index {step.value} is out of range",
                )
            if last:
                node[step.value] = result
            else:
                node = node[step.value]
    return root


def resolve_template(template: Any, data: Any, context: Any, field: str = "Parameters") -> Any:
    """Evaluate a payload template: ``"key.$"`` values are paths or intrinsic functions."""
    from trafficlake.workflow.intrinsics import evaluate_intrinsic

    if isinstance(template, Mapping):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if isinstance(key, str) and key.endswith(".$"):
                name = key[:-2]
                if not isinstance(value, str):
                    raise StatesError(
                        "States.Runtime", f"{field}: value of {key!r} must be a string"
                    )
                if value.startswith("$"):
                    out[name] = select(value, data, context, field=key)
                else:
                    out[name] = evaluate_intrinsic(value, data, context)
            else:
                out[key] = resolve_template(value, data, context, field)
        return out
    if isinstance(template, list):
        return [resolve_template(v, data, context, field) for v in template]
    return copy.deepcopy(template)

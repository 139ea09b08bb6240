"""The JSONPath of the Amazon States Language: paths, reference paths, ResultPath.

Supported path syntax (the subset of Jayway JsonPath that AWS Step Functions evaluates):
``$``, ``$$`` (context object), ``$name`` (a workflow variable), ``.name``,
``['name']`` / ``["name"]``, ``[n]`` (negative counts from the end), ``[*]`` and ``.*``,
``[a:b]`` slices, ``[i,j]`` unions, ``..name`` recursive descent and filter expressions
``[?(@.status == 0 && @.name =~ /a.*/)]`` (operators ``== != < <= > >= =~ in nin``, ``&&``,
``||``, ``!``, parentheses, existence tests ``[?(@.key)]``).
A *reference path* (ResultPath, Choice ``Variable``, ``*Path`` fields) may only use
``.name``, ``['name']`` and ``[n]``, so it names exactly one node.

Missing paths raise :class:`StatesError` ``States.Runtime`` as AWS Step Functions does (the
spec names ``States.ParameterPathFailure``; AWS reports ``States.Runtime``).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trafficlake.workflow.errors import StatesError

_NAME = re.compile(r"[^.\[\]()$@*,\s'\"]+")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CONTEXT = "$$"
INPUT = "$"


@dataclass(frozen=True)
class Step:
    kind: str
    """field | index | wildcard | slice | union | descend | filter"""
    value: Any = None


class PathSyntaxError(ValueError):
    """A path string is not valid JSONPath."""


def parse_path(path: str) -> tuple[str, list[Step]]:
    """Parse ``path``; returns (root, steps): root is ``$``, ``$$`` or a variable name."""
    if not isinstance(path, str):
        raise PathSyntaxError(f"path {path!r} must start with '$'")
    return _parse_path(path)


@functools.lru_cache(maxsize=4096)
def _parse_path(path: str) -> tuple[str, list[Step]]:
    if not path.startswith("$"):
        raise PathSyntaxError(f"path {path!r} must start with '$'")
    if path.startswith("$$"):
        root, i = CONTEXT, 2
    elif len(path) > 1 and path[1] not in ".[":
        m = _VARIABLE.match(path, 1)
        if not m:
            raise PathSyntaxError(f"path {path!r}: bad variable name")
        root, i = m.group(), m.end()
    else:
        root, i = INPUT, 1
    return root, _parse_steps(path, i)


def _parse_steps(path: str, i: int) -> list[Step]:
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
    return steps


def _parse_bracket(path: str, i: int) -> tuple[int, Step]:
    j = i + 1
    if path.startswith("?", j):
        close = _filter_end(path, j + 1)
        body = path[j + 1 : close].strip()
        if body.startswith("(") and body.endswith(")"):
            body = body[1:-1]
        return close + 1, Step("filter", _FilterParser(path, body).parse())
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


def _filter_end(path: str, j: int) -> int:
    """Index of the ``]`` closing a filter that starts at ``j`` (quotes and nesting aware)."""
    depth, quote = 0, ""
    while j < len(path):
        c = path[j]
        if quote:
            if c == "\\":
                j += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            if c == "]" and depth == 0:
                return j
            depth -= 1
        j += 1
    raise PathSyntaxError(f"path {path!r}: unterminated filter expression")


# ---- filter expressions ---------------------------------------------------------------------

Predicate = Callable[[Any, Any], bool]
"""(current item, root document) -> matches"""

_MISSING = object()
_TOKEN = re.compile(
    r"\s*(?:(?P<op>==|!=|<=|>=|=~|&&|\|\||<|>|!|\(|\))"
    r"|(?P<regex>/(?:\\.|[^/\\])*/[imsx]*)"
    r"|(?P<str>'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\")"
    r"|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<word>\bin\b|\bnin\b|true\b|false\b|null\b)"
    r"|(?P<path>[@$](?:\.\.?[^\s.\[\]()=!<>&|~]+|\[[^\]]*\]|\.\*)*)"
    r"|(?P<list>\[[^\]]*\]))"
)


class _FilterParser:
    """Recursive descent over a filter body: or -> and -> unary -> comparison."""

    def __init__(self, path: str, body: str) -> None:
        self.path = path
        self.tokens: list[tuple[str, str]] = []
        i = 0
        while i < len(body):
            if body[i:].strip() == "":
                break
            m = _TOKEN.match(body, i)
            if not m or m.end() == i:
                raise PathSyntaxError(f"path {path!r}: bad filter expression near {body[i:]!r}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            i = m.end()
        self.k = 0

    def error(self) -> PathSyntaxError:
        return PathSyntaxError(f"path {self.path!r}: bad filter expression")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.k] if self.k < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise self.error()
        self.k += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.disjunction()
        if self.peek() is not None:
            raise self.error()
        return pred

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.peek() == ("op", "||"):
            self.k += 1
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else lambda x, r: any(p(x, r) for p in parts)

    def conjunction(self) -> Predicate:
        parts = [self.unary()]
        while self.peek() == ("op", "&&"):
            self.k += 1
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else lambda x, r: all(p(x, r) for p in parts)

    def unary(self) -> Predicate:
        tok = self.peek()
        if tok == ("op", "!"):
            self.k += 1
            inner = self.unary()
            return lambda x, r: not inner(x, r)
        if tok == ("op", "("):
            self.k += 1
            inner = self.disjunction()
            if self.take() != ("op", ")"):
                raise self.error()
            return inner
        return self.comparison()

    def operand(self) -> Callable[[Any, Any], Any]:
        kind, text = self.take()
        if kind == "path":
            steps = _parse_steps(text, 1)
            relative = text[0] == "@"

            def value(x: Any, r: Any) -> Any:
                nodes = _walk([x if relative else r], steps)
                if not nodes:
                    return _MISSING
                return nodes[0] if is_definite(steps) else nodes

            return value
        if kind == "str":
            lit: Any = _unquote(text)
        elif kind == "num" or (kind == "word" and text in ("true", "false", "null")):
            lit = json.loads(text)
        elif kind == "regex":
            body, _, flags = text[1:].rpartition("/")
            lit = re.compile(body, re.IGNORECASE if "i" in flags else 0)
        elif kind == "list":
            try:
                lit = json.loads(text.replace("'", '"'))
            except ValueError:
                raise self.error() from None
        else:
            raise self.error()
        return lambda x, r: lit

    def comparison(self) -> Predicate:
        left = self.operand()
        tok = self.peek()
        ops = ("==", "!=", "<", "<=", ">", ">=", "=~")
        if tok is None or not (
            (tok[0] == "op" and tok[1] in ops) or (tok[0] == "word" and tok[1] in ("in", "nin"))
        ):
            return lambda x, r: left(x, r) is not _MISSING
        self.k += 1
        op = tok[1]
        right = self.operand()
        return lambda x, r: _compare(op, left(x, r), right(x, r))


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _compare(op: str, a: Any, b: Any) -> bool:
    """Jayway's rules: values of different JSON types are never equal or ordered."""
    if a is _MISSING or b is _MISSING:
        return op == "!=" and not (a is _MISSING and b is _MISSING)
    if op == "=~":
        return isinstance(a, str) and isinstance(b, re.Pattern) and b.fullmatch(a) is not None
    if op in ("in", "nin"):
        found = isinstance(b, list) and any(_same(a, v) for v in b)
        return found if op == "in" else not found
    if op in ("==", "!="):
        return _same(a, b) == (op == "==")
    comparable = (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))
    if not comparable:
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _same(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    return bool(a == b)


# ---- evaluation -----------------------------------------------------------------------------


def is_reference_path(path: str) -> bool:
    try:
        _, steps = parse_path(path)
    except PathSyntaxError:
        return False
    return all(s.kind in ("field", "index") for s in steps)


def is_definite(steps: list[Step]) -> bool:
    return all(s.kind in ("field", "index") for s in steps)


def _apply(nodes: list[Any], step: Step, root: Any) -> list[Any]:
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
        elif step.kind == "filter":
            candidates = node if isinstance(node, list) else [node]
            out.extend(v for v in candidates if step.value(v, root))
        elif step.kind == "descend":
            out.extend(_descend(node, step.value))
    return out


def _walk(nodes: list[Any], steps: list[Step]) -> list[Any]:
    root = nodes[0] if nodes else None
    for step in steps:
        nodes = _apply(nodes, step, root)
    return nodes


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


def _root_value(root: str, data: Any, context: Any, variables: Mapping[str, Any] | None) -> Any:
    if root == INPUT:
        return data
    if root == CONTEXT:
        return context
    if variables is None or root not in variables:
        return _MISSING
    return variables[root]


def compact(value: Any) -> str:
    """JSON as AWS prints it in causes: no spaces."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def select(
    path: str,
    data: Any,
    context: Any = None,
    *,
    field: str = "path",
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """Evaluate ``path`` against ``data`` (``context`` for ``$$``, ``variables`` for ``$name``).

    A definite path returns its one value; other paths return the list of matches. A definite
    path that matches nothing raises ``States.Runtime`` with AWS's cause.
    """
    try:
        root, steps = parse_path(path)
    except PathSyntaxError as e:
        raise StatesError("States.Runtime", f"{field}: {e}") from None
    start = _root_value(root, data, context, variables)
    if start is _MISSING:
        raise StatesError(
            "States.Runtime",
            f"The JSONPath '{path}' specified for the field '{field}' references an undefined "
            f"variable '${root}'",
        )
    nodes = _walk([start], steps)
    if is_definite(steps):
        if not nodes:
            shown = context if root == CONTEXT else data if root == INPUT else start
            raise StatesError(
                "States.Runtime",
                f"The JSONPath '{path}' specified for the field '{field}' could not be found "
                f"in the input '{compact(shown)}'",
            )
        return nodes[0]
    return nodes


def exists(
    path: str, data: Any, context: Any = None, variables: Mapping[str, Any] | None = None
) -> bool:
    """Whether a reference path names an existing node."""
    try:
        root, steps = parse_path(path)
    except PathSyntaxError:
        return False
    start = _root_value(root, data, context, variables)
    return start is not _MISSING and bool(_walk([start], steps))


def apply_input_path(
    path: str | None,
    data: Any,
    context: Any,
    field: str = "InputPath",
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """InputPath / OutputPath: ``None`` (JSON null) gives ``{}``; absent means ``$``."""
    if path is None:
        return {}
    if path == "$":
        return data
    try:
        return select(path, data, context, field=field, variables=variables)
    except StatesError as e:
        if "could not be found" not in e.cause:
            raise
        _, steps = parse_path(path)
        raise StatesError(
            "States.Runtime", f"Invalid path '{path}' : No results for path: {canonical(steps)}"
        ) from None


def canonical(steps: list[Step]) -> str:
    """A definite path as Jayway prints it: ``$['a'][0]``."""
    parts = ["$"]
    for s in steps:
        parts.append(f"['{s.value}']" if s.kind == "field" else f"[{s.value}]")
    return "".join(parts)


def set_result(path: str | None, data: Any, result: Any) -> Any:
    """Apply ResultPath: place ``result`` into (a deep copy of) ``data``."""
    if path is None:
        return data
    try:
        root, steps = parse_path(path)
    except PathSyntaxError as e:
        raise StatesError("States.ResultPathMatchFailure", str(e)) from None
    if root != INPUT or not is_definite(steps):
        raise StatesError("States.ResultPathMatchFailure", f"{path!r} is not a reference path")
    if not steps:
        return result
    root_doc = copy.deepcopy(data)
    node = root_doc
    for k, step in enumerate(steps):
        last = k == len(steps) - 1
        if step.kind == "field":
            if not isinstance(node, dict):
                raise StatesError(
                    "States.ResultPathMatchFailure",
                    f"Unable to apply ReferencePath {path} to input {compact(data)}",
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
                    f"Unable to apply ReferencePath {path} to input {compact(data)}",
                )
            if last:
                node[step.value] = result
            else:
                node = node[step.value]
    return root_doc

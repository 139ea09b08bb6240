"""Intrinsic functions (``States.Format(...)`` and friends) with a real parser.

Arguments are string literals in single quotes (the only escapes are ``\\'``, ``\\{``,
``\\}`` and ``\\\\``, as in AWS), numbers, ``true``/``false``/``null``, paths (``$.a``,
``$$.Execution.Id``, ``$variable.x``) and nested calls. A call with an unknown name, a bad
escape or the wrong number of arguments is a parse error (the validator reports it before the
machine runs); evaluation errors raise ``States.IntrinsicFailure``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trafficlake.workflow.errors import StatesError
from trafficlake.workflow.paths import select

FAIL = "States.IntrinsicFailure"


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class PathArg:
    path: str


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def error(self, msg: str) -> StatesError:
        return StatesError(FAIL, f"{msg} at position {self.i} in {self.text!r}")

    def ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def parse(self) -> Call:
        self.ws()
        call = self.call()
        self.ws()
        if self.i != len(self.text):
            raise self.error("unexpected text after the call")
        return call

    def call(self) -> Call:
        start = self.i
        while self.i < len(self.text) and (
            self.text[self.i].isalnum() or self.text[self.i] in "._"
        ):
            self.i += 1
        name = self.text[start : self.i]
        if not name.startswith("States."):
            raise self.error(f"expected an intrinsic function name, got {name!r}")
        if name not in FUNCTIONS:
            raise StatesError(FAIL, f"unknown intrinsic function {name!r}")
        call = self.arguments(name)
        low, high = ARITY[name]
        if not low <= len(call.args) <= high:
            want = str(low) if low == high else f"{low} to {high}" if high < 99 else f"{low}+"
            raise StatesError(
                FAIL, f"{name} takes {want} argument(s), got {len(call.args)} in {self.text!r}"
            )
        return call

    def arguments(self, name: str) -> Call:
        self.ws()
        if self.i >= len(self.text) or self.text[self.i] != "(":
            raise self.error("expected '('")
        self.i += 1
        args: list[Any] = []
        self.ws()
        if self.i < len(self.text) and self.text[self.i] == ")":
            self.i += 1
            return Call(name, ())
        while True:
            self.ws()
            args.append(self.arg())
            self.ws()
            if self.i >= len(self.text):
                raise self.error("unterminated argument list")
            c = self.text[self.i]
            self.i += 1
            if c == ")":
                return Call(name, tuple(args))
            if c != ",":
                raise self.error(f"expected ',' or ')', got {c!r}")

    def arg(self) -> Any:
        t = self.text
        if self.i >= len(t):
            raise self.error("missing argument")
        c = t[self.i]
        if c == "'":
            return Literal(self.string())
        if c == "$":
            return PathArg(self.path())
        if t.startswith("States.", self.i):
            return self.call()
        start = self.i
        while self.i < len(t) and t[self.i] not in ",)" and not t[self.i].isspace():
            self.i += 1
        word = t[start : self.i]
        if word in ("true", "false", "null"):
            return Literal(json.loads(word))
        try:
            return Literal(json.loads(word))
        except ValueError:
            raise self.error(f"bad argument {word!r}") from None

    def string(self) -> str:
        t = self.text
        self.i += 1
        buf: list[str] = []
        while self.i < len(t):
            c = t[self.i]
            if c == "\\":
                nxt = t[self.i + 1] if self.i + 1 < len(t) else ""
                if nxt not in ESCAPABLE:
                    raise self.error(f"illegal escape sequence '\\{nxt}'")
                # keep \{ and \} escaped so States.Format can tell them from placeholders
                buf.append("\\" + nxt if nxt in "{}" else nxt)
                self.i += 2
                continue
            if c == "'":
                self.i += 1
                return "".join(buf)
            buf.append(c)
            self.i += 1
        raise self.error("unterminated string")

    def path(self) -> str:
        t = self.text
        start = self.i
        depth = 0
        quote = ""
        while self.i < len(t):
            c = t[self.i]
            if quote:
                if c == quote:
                    quote = ""
            elif c in "'\"" and depth:
                quote = c
            elif c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
            elif depth == 0 and (c in ",)" or c.isspace()):
                break
            self.i += 1
        return t[start : self.i]


@functools.lru_cache(maxsize=4096)
def parse_intrinsic(text: str) -> Call:
    return _Parser(text).parse()


def _unescape(s: str) -> str:
    return s.replace("\\{", "{").replace("\\}", "}")


def evaluate_intrinsic(
    text: str,
    data: Any,
    context: Any,
    variables: Mapping[str, Any] | None = None,
    field: str = "Parameters",
) -> Any:
    """Parse and evaluate one intrinsic function call against the effective input; ``field``
    (the ``key.$`` holding the call) names it in the cause of a path that matches nothing."""
    return _eval(parse_intrinsic(text), data, context, variables, field)


def _eval(
    node: Any, data: Any, context: Any, variables: Mapping[str, Any] | None, field: str
) -> Any:
    if isinstance(node, Literal):
        return _unescape(node.value) if isinstance(node.value, str) else node.value
    if isinstance(node, PathArg):
        return select(node.path, data, context, field=field, variables=variables)
    if node.name == "States.Format":
        first = node.args[0]
        if isinstance(first, Literal):
            template = first.value
        else:  # a path or call giving the template: its braces are placeholders
            template = _eval(first, data, context, variables, field)
        rest = [_eval(a, data, context, variables, field) for a in node.args[1:]]
        return _format(template, rest)
    args = [_eval(a, data, context, variables, field) for a in node.args]
    try:
        return FUNCTIONS[node.name](*args)
    except StatesError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, json.JSONDecodeError) as e:
        raise StatesError(FAIL, f"{node.name}: {e}") from None


def _format(template: Any, args: list[Any]) -> str:
    if not isinstance(template, str):
        raise StatesError(FAIL, "States.Format template must be a string")
    out: list[str] = []
    k = 0
    i = 0
    while i < len(template):
        if template.startswith("\\{", i) or template.startswith("\\}", i):
            out.append(template[i + 1])
            i += 2
        elif template.startswith("{}", i):
            if k >= len(args):
                raise StatesError(
                    FAIL,
                    f"States.Format: the template has more placeholders than the "
                    f"{len(args)} argument(s) given",
                )
            v = args[k]
            if isinstance(v, (dict, list)):
                raise StatesError(
                    FAIL, "States.Format arguments must be strings, numbers, booleans or null"
                )
            out.append(v if isinstance(v, str) else json.dumps(v))
            k += 1
            i += 2
        else:
            out.append(template[i])
            i += 1
    if k != len(args):
        raise StatesError(FAIL, f"States.Format: {len(args)} arguments for {k} placeholders")
    return "".join(out)


def _need(cond: bool, msg: str) -> None:
    if not cond:
        raise StatesError(FAIL, msg)


def _int(v: Any, what: str) -> int:
    _need(
        isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer(),
        f"{what} must be an integer, got {v!r}",
    )
    return int(v)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _string_to_json(s: Any) -> Any:
    _need(isinstance(s, str), "States.StringToJson needs a string")
    return json.loads(s, parse_constant=_no_constant)


def _json_to_string(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _array_partition(arr: Any, size: Any) -> list[Any]:
    _need(isinstance(arr, list), "States.ArrayPartition needs an array")
    n = _int(size, "States.ArrayPartition chunk size")
    _need(n > 0, "States.ArrayPartition chunk size must be positive")
    return [arr[i : i + n] for i in range(0, len(arr), n)]


def _array_contains(arr: Any, value: Any) -> bool:
    _need(isinstance(arr, list), "States.ArrayContains needs an array")
    return value in arr


def _array_range(start: Any, end: Any, step: Any) -> list[int]:
    a, b, s = (_int(v, "States.ArrayRange argument") for v in (start, end, step))
    _need(s != 0, "States.ArrayRange step must not be 0")
    out = list(range(a, b + (1 if s > 0 else -1), s))
    _need(len(out) <= 1000, "States.ArrayRange may produce at most 1000 items")
    return out


def _array_get_item(arr: Any, index: Any) -> Any:
    _need(isinstance(arr, list), "States.ArrayGetItem needs an array")
    i = _int(index, "States.ArrayGetItem index")
    _need(0 <= i < len(arr), f"States.ArrayGetItem index {i} is out of range")
    return arr[i]


def _array_length(arr: Any) -> int:
    _need(isinstance(arr, list), "States.ArrayLength needs an array")
    return len(arr)


def _array_unique(arr: Any) -> list[Any]:
    _need(isinstance(arr, list), "States.ArrayUnique needs an array")
    out: list[Any] = []
    for v in arr:
        if v not in out:
            out.append(v)
    return out


def _b64encode(s: Any) -> str:
    _need(isinstance(s, str), "States.Base64Encode needs a string")
    _need(len(s) <= 10000, "States.Base64Encode input is longer than 10000 characters")
    return base64.b64encode(s.encode()).decode()


def _b64decode(s: Any) -> str:
    _need(isinstance(s, str), "States.Base64Decode needs a string")
    _need(len(s) <= 10000, "States.Base64Decode input is longer than 10000 characters")
    return base64.b64decode(s.encode(), validate=True).decode()


_HASHES = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _hash(data: Any, algorithm: Any) -> str:
    _need(algorithm in _HASHES, f"States.Hash algorithm must be one of {', '.join(_HASHES)}")
    _need(data is not None, "States.Hash data must not be null")
    text = data if isinstance(data, str) else _json_to_string(data)
    _need(len(text) <= 10000, "States.Hash input is longer than 10000 characters")
    return hashlib.new(_HASHES[algorithm], text.encode()).hexdigest()


def _json_merge(a: Any, b: Any, deep: Any) -> dict[str, Any]:
    _need(isinstance(a, dict) and isinstance(b, dict), "States.JsonMerge needs two objects")
    _need(deep is False, "States.JsonMerge supports only shallow merges (third argument false)")
    return {**a, **b}


class JavaRandom:
    """``java.util.Random``'s generator, so a seeded ``States.MathRandom`` (and JSONata's
    ``$random(seed)``) gives the numbers a JVM-based service gives for that seed."""

    MULTIPLIER, MASK = 0x5DEECE66D, (1 << 48) - 1

    def __init__(self, seed: int) -> None:
        self.seed = (seed ^ self.MULTIPLIER) & self.MASK

    def next(self, bits: int) -> int:
        self.seed = (self.seed * self.MULTIPLIER + 0xB) & self.MASK
        value = self.seed >> (48 - bits)
        return value - (1 << 32) if value >= 1 << 31 else value  # Java's (int) cast

    def next_int(self, bound: int) -> int:
        if bound & -bound == bound:
            return (bound * self.next(31)) >> 31
        while True:
            bits = self.next(31)
            value = bits % bound
            if bits - value + (bound - 1) < 2**31:
                return value

    def next_double(self) -> float:
        return ((self.next(26) << 27) + self.next(27)) * 2.0**-53


def _math_random(start: Any, end: Any, seed: Any = None) -> int:
    a, b = _int(start, "States.MathRandom start"), _int(end, "States.MathRandom end")
    _need(a < b, "States.MathRandom start must be less than end")
    if seed is None:
        return random.randrange(a, b)
    return a + JavaRandom(_int(seed, "States.MathRandom seed")).next_int(b - a)


def _rounded(v: Any, what: str) -> int:
    """A number rounded half up, as AWS does for MathAdd's decimal arguments (1.5 -> 2)."""
    _need(isinstance(v, (int, float)) and not isinstance(v, bool), f"{what} must be a number")
    _need(math.isfinite(v), f"{what} must be finite")
    return math.floor(v + 0.5) if isinstance(v, float) else v


def _math_add(a: Any, b: Any) -> int:
    total = _rounded(a, "States.MathAdd argument") + _rounded(b, "States.MathAdd argument")
    _need(INT_MIN <= total <= INT_MAX, "States.MathAdd result is out of the integer range")
    return total


def _string_split(s: Any, delimiters: Any) -> list[str]:
    _need(
        isinstance(s, str) and isinstance(delimiters, str),
        "States.StringSplit needs a string and a delimiter string",
    )
    parts = [s]
    for d in delimiters:
        parts = [p for part in parts for p in part.split(d)]
    return [p for p in parts if p != ""]


def _array(*items: Any) -> list[Any]:
    return list(items)


ESCAPABLE = "'{}\\"
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
ARITY: dict[str, tuple[int, int]] = {
    "States.Format": (1, 999),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, 999),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _b64encode,
    "States.Base64Decode": _b64decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": lambda: str(uuid.uuid4()),
}

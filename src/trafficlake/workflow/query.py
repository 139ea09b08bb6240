"""JSONata in state machines: ``{% expression %}`` values, ``$states``, workflow variables and
the functions AWS Step Functions adds (``$partition $range $hash $random $uuid $parse``).

Expressions run on ``jsonata-python`` (a pure-Python port of the JSONata reference
implementation; AWS runs JSONata 2.0.6). Every evaluation is bounded in time and depth, so an
expression that throws, recurses or loops becomes ``States.QueryEvaluationError``.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import uuid
from collections.abc import Mapping
from typing import Any, TypeGuard

import jsonata  # type: ignore[import-untyped]

from trafficlake.workflow.errors import StatesError
from trafficlake.workflow.intrinsics import JavaRandom

QUERY_ERROR = "States.QueryEvaluationError"
TIMEOUT_MS = 5000
MAX_DEPTH = 500
MAX_VALUE_LENGTH = 8 * 1024 * 1024
"""A string or array longer than this while evaluating fails the expression (memory bound)."""
RANGE_LIMIT = 1000
HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
          "SHA-512": "sha512"}  # fmt: skip

_cache = threading.local()


def is_expression(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def _body(value: str) -> str:
    return value[2:-2].strip()


def parse_problem(value: str) -> str | None:
    """Why ``{% ... %}`` does not parse as JSONata, or None."""
    body = _body(value)
    if not body:
        return "the JSONata expression is empty"
    try:
        root = jsonata.Jsonata(body).ast
    except Exception as e:  # the parser raises JException (and a few plain errors)
        return f"the JSONata expression {body!r} does not parse: {e}"
    first = root
    if root.type == "path" and getattr(root, "steps", None):
        first = root.steps[0]
    if first.type == "variable" and first.value in ("", "$"):
        return (
            f"the JSONata expression {body!r} may not start with '$' or '$$'; use "
            "$states.input or $states.context"
        )
    if first.type == "name":
        return f"the JSONata expression {body!r} may not start with a field name; use $states.input"
    return None


def _compiled(body: str) -> Any:
    table = getattr(_cache, "table", None)
    if table is None:
        table = _cache.table = {}
    expr = table.get(body)
    if expr is None:
        expr = jsonata.Jsonata(body)
        for name, fn in _FUNCTIONS.items():
            expr.register_lambda(name, fn)
        if len(table) > 2000:
            table.clear()
        table[body] = expr
    return expr


def evaluate(
    value: str, bindings: Mapping[str, Any], field: str, *, allow_undefined: bool = False
) -> Any:
    """Evaluate one ``{% %}`` string with ``bindings`` ($states and the variables)."""
    body = _body(value)
    try:
        expr = _compiled(body)
        jsonata.Jsonata.CURRENT.jsonata = expr
        frame = _frame(expr, bindings)
        result = expr.evaluate(None, frame)
    except StatesError:
        raise
    except RecursionError:
        raise StatesError(
            QUERY_ERROR,
            f"The JSONata expression '{body}' specified for the field '{field}' recursed too "
            "deeply",
        ) from None
    except Exception as e:
        raise StatesError(
            QUERY_ERROR,
            f"An error occurred while evaluating the JSONata expression '{body}' specified "
            f"for the field '{field}': {_message(e)}",
        ) from None
    if result is None and not allow_undefined and not _is_null_literal(body, bindings):
        raise StatesError(
            QUERY_ERROR,
            f"The JSONata expression '{body}' specified for the field '{field}' returned "
            "nothing (undefined).",
        )
    return _plain(result)


def _frame(expr: Any, bindings: Mapping[str, Any]) -> Any:
    """An evaluation frame with the bindings and the time/depth bounds. A variable holding
    JSON null is bound to JSONata's null (a bare None would read as undefined)."""
    frame = expr.create_frame()
    for k, v in bindings.items():
        frame.bind(k, jsonata.Utils.NULL_VALUE if v is None else v)
    frame.set_runtime_bounds(TIMEOUT_MS, MAX_DEPTH)
    timebox_exit = frame.lookup("__evaluate_exit")

    def bounded_exit(exp: Any, input: Any, env: Any, result: Any) -> None:
        timebox_exit(exp, input, env, result)
        if isinstance(result, (str, list)) and len(result) > MAX_VALUE_LENGTH:
            raise StatesError(QUERY_ERROR, "Expression evaluation memory limit exceeded")

    frame.bind("__evaluate_exit", bounded_exit)
    return frame


def _message(e: Exception) -> str:
    code = getattr(e, "error", None)
    msg = str(getattr(e, "message", "") or e)
    if code == "D1012":
        return f"the expression ran longer than {TIMEOUT_MS} ms"
    if code == "D1011":
        return "the expression recursed too deeply"
    return msg


def _is_null_literal(body: str, bindings: Mapping[str, Any]) -> bool:
    """jsonata-python returns None for both JSON null and undefined; tell them apart."""
    try:
        expr = _compiled(body)
        jsonata.Jsonata.CURRENT.jsonata = expr
        expr.set_output_convert_nulls(False)
        try:
            raw = expr.evaluate(None, _frame(expr, bindings))
        finally:
            expr.set_output_convert_nulls(True)
    except Exception:
        return False
    return raw is not None


def _plain(value: Any) -> Any:
    """JSONata results as plain JSON values (sequences become lists, 1.0 stays a number)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if callable(value) or hasattr(value, "signature"):
        raise StatesError(QUERY_ERROR, "a JSONata expression returned a function")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # JSONata numbers are doubles: 2.0 prints as 2
    return value


def resolve(
    template: Any, bindings: Mapping[str, Any], field: str, *, allow_undefined: bool = False
) -> Any:
    """Evaluate every ``{% %}`` string inside ``template`` (keys are never evaluated)."""
    if is_expression(template):
        return evaluate(template, bindings, field, allow_undefined=allow_undefined)
    if isinstance(template, Mapping):
        return {k: resolve(v, bindings, f"{field}/{k}") for k, v in template.items()}
    if isinstance(template, list):
        return [resolve(v, bindings, f"{field}[{i}]") for i, v in enumerate(template)]
    return template


def template_problems(template: Any, where: str) -> list[str]:
    """Parse errors inside a JSONata template."""
    if is_expression(template):
        msg = parse_problem(template)
        return [f"{where}: {msg}"] if msg else []
    out: list[str] = []
    if isinstance(template, Mapping):
        for k, v in template.items():
            out.extend(template_problems(v, f"{where}.{k}"))
    elif isinstance(template, list):
        for i, v in enumerate(template):
            out.extend(template_problems(v, f"{where}[{i}]"))
    return out


# ---- the functions AWS adds -----------------------------------------------------------------


def _fail(msg: str) -> None:
    raise StatesError(QUERY_ERROR, msg)


def _integer(v: Any, what: str) -> int:
    if not (isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()):
        _fail(f"{what} must be an integer, got {json.dumps(v)}")
    return int(v)


def _partition(array: Any, size: Any) -> list[Any]:
    if not isinstance(array, list):
        _fail("$partition: the first argument must be an array")
    n = _integer(size, "$partition: the chunk size")
    if n <= 0:
        _fail("$partition: the chunk size must be positive")
    return [list(array[i : i + n]) for i in range(0, len(array), n)]


def _range(start: Any, end: Any, step: Any) -> list[int]:
    a, b, s = (_integer(v, "$range: an argument") for v in (start, end, step))
    if s == 0:
        _fail("$range: the step must not be 0")
    out = list(range(a, b + (1 if s > 0 else -1), s))
    if len(out) > RANGE_LIMIT:
        _fail(f"$range: at most {RANGE_LIMIT} items")
    return out


def _hash(data: Any, algorithm: Any) -> str:
    if algorithm not in HASHES:
        _fail(f"$hash: the algorithm must be one of {', '.join(HASHES)}")
    if not isinstance(data, str):
        _fail("$hash: the value must be a string")
    return hashlib.new(HASHES[algorithm], data.encode()).hexdigest()


def _random(seed: Any = None) -> float:
    if seed is None:
        return random.random()
    return JavaRandom(_integer(seed, "$random: the seed")).next_double()


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        _fail("$parse: the argument must be a string")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as e:
        _fail(f"$parse: not JSON: {e}")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_eval(*_: Any) -> None:
    _fail("$eval is not available in Step Functions; use $parse")


_FUNCTIONS = {
    "partition": _partition,
    "range": _range,
    "hash": _hash,
    "random": _random,
    "uuid": lambda: str(uuid.uuid4()),
    "parse": _parse,
    "eval": _no_eval,
}

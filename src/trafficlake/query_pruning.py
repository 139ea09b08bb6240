"""Which partitions a SQL query needs: column predicates per catalog table reference.

The query is parsed with sqlglot (DuckDB dialect). For every reference to a catalog table
``db.table``, the top-level ``AND`` terms of the ``WHERE`` of the ``SELECT`` that reads it are
scanned for simple comparisons of a column with literals (``=``, ``IN``, ``BETWEEN``,
``<``, ``<=``, ``>``, ``>=``): partition keys are matched against partition values, other
columns against the partitions' min/max statistics (e.g. ``tijd_waarneming``). Only such
null-rejecting ``WHERE`` terms are used (never ``ON``), so pruning is correct for every join
type. Anything else reads all partitions: correct, just not pruned.

Pruning proves it keeps every partition DuckDB could return rows from, or does not prune: a
literal is a plain number or string (never a ``CAST``, a function or a parameter, whose value
is DuckDB's to decide: ``CAST(10.6 AS INTEGER)`` is 11); numbers are compared exactly (a
decimal literal as a ``Decimal``, as DuckDB compares an integer with a ``DECIMAL``; longer than
38 digits or with an exponent DuckDB makes it a ``DOUBLE``: not used); only integer and string
partition keys are compared (an integer key with an integer text such as ``'010'``, which
DuckDB casts to the integer, a string key only with strings), and statistics only of integer
columns whose minimum and maximum are integers.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

from trafficlake.catalog.base import INT_TYPES, Partition, Table
from trafficlake.catalog.names import referenced_table
from trafficlake.schema import CURRENT_EVENT_TIME, EVENT_TIME_COLUMN, STALE_EVENT_TIME

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_INT_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*")
MAX_EXACT_DIGITS = 38
"""A number literal with more digits is a DOUBLE in DuckDB (inexact): never pruned on."""
TableKey = tuple[str, str]

_OPS: dict[type[exp.Expression], str] = {
    exp.EQ: "=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
}  # fmt: skip
_FLIP = {"=": "=", ">": "<", ">=": "<=", "<": ">", "<=": ">="}
_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}  # fmt: skip


@dataclass(frozen=True)
class KeyPredicate:
    key: str
    """A partition key, or a column whose partition statistics may prune."""
    op: str
    """=, <, <=, >, >=, in"""
    values: tuple[Any, ...]


Selection = dict[TableKey, list[list[KeyPredicate]]]
"""Per referenced table: one predicate list per reference (an empty list reads everything)."""


def _literal(node: Any) -> Any:
    """The exact value of a plain literal node (int, Decimal or str), or raise ValueError."""
    if isinstance(node, exp.Paren):
        return _literal(node.this)
    if isinstance(node, exp.Neg):
        value = _literal(node.this)
        if isinstance(value, str):
            raise ValueError("a negated string")
        return -value
    if isinstance(node, exp.Literal):
        text = str(node.this)
        if node.is_string:
            return text
        digits = sum(ch.isdigit() for ch in text)
        if not _NUMBER.fullmatch(text) or digits > MAX_EXACT_DIGITS:
            raise ValueError("not an exact number")
        return Decimal(text) if "." in text else int(text)
    raise ValueError("not a plain literal")  # CAST, functions, parameters: DuckDB decides


def _column(node: Any) -> exp.Column | None:
    while isinstance(node, exp.Paren):
        node = node.this
    return node if isinstance(node, exp.Column) else None


def _conjuncts(node: Any) -> list[exp.Expression]:
    if node is None:
        return []
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _predicate(term: exp.Expression) -> tuple[exp.Column, str, tuple[Any, ...]] | None:
    try:
        if isinstance(term, exp.Binary) and type(term) in _OPS:
            op = _OPS[type(term)]
            left, right = term.left, term.right
            col = _column(left)
            if col is not None:
                return col, op, (_literal(right),)
            col = _column(right)
            if col is not None:
                return col, _FLIP[op], (_literal(left),)
            return None
        if isinstance(term, exp.In) and not term.args.get("query"):
            col = _column(term.this)
            if col is not None and term.expressions:
                return col, "in", tuple(_literal(e) for e in term.expressions)
        if isinstance(term, exp.Between):
            col = _column(term.this)
            if col is not None:
                return col, "between", (_literal(term.args["low"]), _literal(term.args["high"]))
    except (ValueError, KeyError):
        return None
    return None


def _reference_predicates(node: exp.Table, keys: set[str]) -> list[KeyPredicate]:
    holder = node.parent
    if not isinstance(holder, (exp.From, exp.Join)) or not isinstance(holder.parent, exp.Select):
        return []
    select = holder.parent
    from_ = select.args.get("from") or select.args.get("from_")
    sources = ([from_.this] if from_ is not None else []) + [
        j.this for j in select.args.get("joins") or []
    ]
    alias = node.alias_or_name
    out: list[KeyPredicate] = []
    where = select.args.get("where")
    for term in _conjuncts(where.this if where is not None else None):
        found = _predicate(term)
        if found is None:
            continue
        col, op, values = found
        if col.name not in keys:
            continue
        if col.table and col.table != alias:
            continue
        if not col.table and len(sources) != 1:
            continue
        if op == "between":
            out += [
                KeyPredicate(col.name, ">=", values[:1]),
                KeyPredicate(col.name, "<=", values[1:]),
            ]
        else:
            out.append(KeyPredicate(col.name, op, values))
    return out


def select_partitions_for(
    sql: str,
    tables: dict[TableKey, Table],
    default_database: str = "",
    *,
    statements: Sequence[exp.Expression | None] | None = None,
) -> Selection | None:
    """Predicates per catalog-table reference in ``sql`` (unqualified names are in
    ``default_database``); None when the SQL cannot be analysed. ``statements``: ``sql``
    already parsed (the Athena path has its tree), so it is not parsed again."""
    parsed: Sequence[Any]
    if statements is None:
        try:
            parsed = sqlglot.parse(sql, read="duckdb")
        except sqlglot.errors.SqlglotError:
            return None
    else:
        parsed = statements
    out: Selection = {}
    for stmt in parsed:
        if stmt is None:
            continue
        ctes = {cte.alias.lower() for cte in stmt.find_all(exp.CTE)}
        for node in stmt.find_all(exp.Table):
            if not node.db and node.name.lower() in ctes:
                continue  # a WITH name, not the catalog table it may share its name with
            key = referenced_table(tables, node.db or default_database, node.name)
            if key is None:
                continue
            table = tables[key]
            columns = {k.name for k in table.partition_keys} | {c.name for c in table.columns}
            out.setdefault(key, []).append(_reference_predicates(node, columns))
    return out


def _typed(value: Any, key_type: str) -> Any:
    """``value`` as DuckDB compares it with a column of ``key_type``, or raise ValueError."""
    if key_type in INT_TYPES:
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT_TEXT.fullmatch(value):
            return int(value)  # DuckDB casts the text to the integer type
        raise ValueError("not comparable with an integer column")
    if key_type == "string" and isinstance(value, str):
        return value
    raise ValueError(f"not compared on a {key_type} column")


def _may_hold(lo: Any, hi: Any, pred: KeyPredicate, col_type: str) -> bool:
    """Whether an integer column whose values lie in [lo, hi] can satisfy ``pred``."""
    if col_type not in INT_TYPES or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)
    ):
        return True
    typed = _typed_values(pred.values, col_type)
    if typed is None:
        return True
    values = typed[0]
    if pred.op in ("=", "in"):
        return any(lo <= v <= hi for v in values)
    v = values[0]
    return {">": hi > v, ">=": hi >= v, "<": lo < v, "<=": lo <= v}[pred.op]


def matches(part: Partition, table: Table, predicates: Sequence[KeyPredicate]) -> bool:
    """Whether the partition can hold rows satisfying every usable predicate: partition keys
    are compared with the partition's values, other columns with its min/max statistics."""
    types = {k.name: k.type for k in table.partition_keys}
    column_types = {c.name: c.type for c in table.columns}
    values = part.as_dict(table.partition_keys)
    for pred in predicates:
        if pred.key not in types:
            col_type = column_types.get(pred.key, "")
            column_preds = [q for q in predicates if q.key == pred.key]
            if not _column_may_hold(part, column_preds, col_type):
                return False
            continue
        wanted = _typed_values(pred.values, types[pred.key])
        try:
            have = _typed(values[pred.key], types[pred.key])
        except ValueError:
            continue
        if wanted is None:
            continue  # not comparable here: do not prune on it
        if pred.op == "in":
            if have not in wanted[1]:
                return False
        elif not _CMP[pred.op](have, wanted[0][0]):
            return False
    return True


def _column_may_hold(part: Partition, preds: Sequence[KeyPredicate], col_type: str) -> bool:
    """Whether the partition's recorded ranges of one column allow a row satisfying every one
    of ``preds`` (all on that column). The event time's current and stale rows have ranges of
    their own: a row lies in one of the two, far narrower together than their hull when the
    stale rows are old - so one of them must allow all the predicates."""
    key = preds[0].key
    split = [part.stats.get(k) for k in (CURRENT_EVENT_TIME, STALE_EVENT_TIME)]
    if key == EVENT_TIME_COLUMN and split[0] is not None and split[1] is not None:
        ranges = [r for r in split if r is not None and r[0] is not None]
    else:
        stats = part.stats.get(key)
        ranges = [stats] if stats is not None else [(None, None)]
    return any(all(_may_hold(*r, p, col_type) for p in preds) for r in ranges)


@lru_cache(maxsize=64)
def _typed_values(
    values: tuple[Any, ...], key_type: str
) -> tuple[tuple[Any, ...], frozenset[Any]] | None:
    """The literals typed for a key, once per statement rather than once per partition (a
    long ``IN`` list would cost its length times the partitions); None when not comparable."""
    try:
        typed = tuple(_typed(v, key_type) for v in values)
    except ValueError:
        return None
    return typed, frozenset(typed)


def equality_filter(table: Table, predicates: Sequence[KeyPredicate]) -> dict[str, str | int]:
    """The ``=`` predicates as a ``list_partitions(where=...)`` mapping (pushed into the catalog)."""
    types = {k.name: k.type for k in table.partition_keys}
    out: dict[str, str | int] = {}
    for p in predicates:
        if p.op != "=" or p.key in out or p.key not in types:
            continue
        try:
            value = _typed(p.values[0], types[p.key])
        except ValueError:
            continue
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            out[p.key] = value
    return out

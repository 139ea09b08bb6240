"""Which partitions a SQL query needs: column predicates per catalog table reference.

The query is parsed with sqlglot (DuckDB dialect). For every reference to a catalog table
``db.table``, the top-level ``AND`` terms of the ``WHERE`` of the ``SELECT`` that reads it are
scanned for simple comparisons of a column with literals (``=``, ``IN``, ``BETWEEN``,
``<``, ``<=``, ``>``, ``>=``): partition keys are matched against partition values, other
columns against the partitions' min/max statistics (e.g. ``tijd_waarneming``). Only such
null-rejecting ``WHERE`` terms are used (never ``ON``), so pruning is correct for every join
type. Anything else reads all partitions: correct, just not pruned.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from trafficlake.catalog.base import Partition, Table

INT_TYPES = ("tinyint", "smallint", "int", "integer", "bigint")
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
    """A Python value of a literal node, or raise ValueError."""
    if isinstance(node, exp.Paren):
        return _literal(node.this)
    if isinstance(node, exp.Neg):
        return -_literal(node.this)
    if isinstance(node, exp.Cast):
        return _literal(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return str(node.this)
        text = str(node.this)
        return int(text) if text.lstrip("-").isdigit() else float(text)
    raise ValueError("not a literal")


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
    sql: str, tables: dict[TableKey, Table], default_database: str = ""
) -> Selection | None:
    """Predicates per catalog-table reference in ``sql`` (unqualified names are in
    ``default_database``); None when the SQL cannot be analysed."""
    try:
        statements = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return None
    out: Selection = {}
    for stmt in statements:
        if stmt is None:
            continue
        for node in stmt.find_all(exp.Table):
            key = (node.db or default_database, node.name)
            if key not in tables:
                continue
            table = tables[key]
            columns = {k.name for k in table.partition_keys} | {c.name for c in table.columns}
            out.setdefault(key, []).append(_reference_predicates(node, columns))
    return out


def _typed(value: Any, key_type: str) -> Any:
    if key_type in INT_TYPES:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        return int(str(value))  # may raise ValueError: the predicate is not used
    if isinstance(value, str):
        return value
    raise ValueError("a number compared with a string key")


def _may_hold(lo: Any, hi: Any, pred: KeyPredicate) -> bool:
    """Whether a column whose values lie in [lo, hi] can satisfy ``pred``."""
    if lo is None or hi is None:
        return True
    values = list(pred.values)

    def comparable(v: Any) -> bool:
        num = (int, float)
        if isinstance(v, bool) or isinstance(lo, bool):
            return False
        return (isinstance(v, num) and isinstance(lo, num)) or (
            isinstance(v, str) and isinstance(lo, str)
        )

    if not all(comparable(v) for v in values):
        return True
    if pred.op in ("=", "in"):
        return any(lo <= v <= hi for v in values)
    v = values[0]
    return {">": hi > v, ">=": hi >= v, "<": lo < v, "<=": lo <= v}[pred.op]


def matches(part: Partition, table: Table, predicates: Sequence[KeyPredicate]) -> bool:
    """Whether the partition can hold rows satisfying every usable predicate: partition keys
    are compared with the partition's values, other columns with its min/max statistics."""
    types = {k.name: k.type for k in table.partition_keys}
    values = part.as_dict(table.partition_keys)
    for pred in predicates:
        if pred.key not in types:
            if pred.key in part.stats and not _may_hold(*part.stats[pred.key], pred):
                return False
            continue
        try:
            have = _typed(values[pred.key], types[pred.key])
            wanted = [_typed(v, types[pred.key]) for v in pred.values]
        except ValueError:
            continue  # not comparable here: do not prune on it
        if pred.op == "in":
            if have not in wanted:
                return False
        elif not _CMP[pred.op](have, wanted[0]):
            return False
    return True


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

"""Athena's DDL (Hive dialect) over the catalog: CREATE EXTERNAL TABLE, CREATE DATABASE,
MSCK REPAIR TABLE, ALTER TABLE ADD/DROP PARTITION, SHOW TABLES/DATABASES/PARTITIONS/COLUMNS/
CREATE TABLE, DESCRIBE, DROP TABLE. Output rows are strings (Athena's DDL output, no header).

Partitions list their data files in this catalog, so MSCK REPAIR TABLE and ADD PARTITION list
the partition folders' files, and MSCK also refreshes the file lists of known partitions.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from trafficlake.athena.errors import DDL_FAILED, AthenaQueryError, not_supported
from trafficlake.athena.results import ColumnInfo
from trafficlake.athena.tables import check_writable, lake_key, show_create_table
from trafficlake.athena.translate import parse_one
from trafficlake.catalog import (
    Column,
    DataFile,
    NoSuchTableError,
    Partition,
    Table,
    TableExistsError,
)
from trafficlake.catalog.glue import declared_partition
from trafficlake.catalog.names import hive_path

if TYPE_CHECKING:
    from trafficlake.athena.engine import AthenaSession, StatementResult

_NAME = r"[`\"]?([\w-]+)[`\"]?"
_TABLE = rf"{_NAME}(?:\s*\.\s*{_NAME})?"
_SPEC = r"PARTITION\s*\(([^)]*)\)(?:\s*LOCATION\s*'([^']*)')?"
_JSON_SERDES = ("org.openx.data.jsonserde.JsonSerDe", "org.apache.hive.hcatalog.data.JsonSerDe")


def _output(sub: str, names: list[str], rows: list[list[str]]) -> StatementResult:
    from trafficlake.athena.engine import StatementResult

    columns = [ColumnInfo(n, "string") for n in names]
    table = pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})
    return StatementResult("DDL", sub, columns, table)


def _done(sub: str) -> StatementResult:
    from trafficlake.athena.engine import StatementResult

    return StatementResult("DDL", sub)


def _table(session: AthenaSession, match: re.Match[str], first: int) -> Table:
    db, name = match.group(first), match.group(first + 1)
    if name is None:
        db, name = session.database, db
    try:
        return session.catalog.get_table(db.lower(), name.lower())
    except NoSuchTableError:
        raise AthenaQueryError(
            "TABLE_NOT_FOUND", f"Table 'awsdatacatalog.{db.lower()}.{name.lower()}' does not exist"
        ) from None


def _spec(text: str, table: Table) -> tuple[str, ...]:
    """Partition values of ``k='v', ...`` in the table's key order."""
    given: dict[str, str] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        given[key.strip().strip('`"').lower()] = value.strip().strip("'\"")
    keys = [k.name for k in table.partition_keys]
    if sorted(given) != sorted(keys):
        raise AthenaQueryError(
            "HIVE_INVALID_PARTITION_VALUE",
            f"Partition spec {sorted(given)} does not match the partition keys {keys}",
            error_type=DDL_FAILED,
        )
    return tuple(given[k] for k in keys)


def run(session: AthenaSession, sql: str, sub: str) -> StatementResult:
    """Run one DDL statement (``sub``: its SubstatementType)."""
    handler = _HANDLERS.get(sub)
    if handler is None:
        raise not_supported(sql.strip().split(None, 2)[0].upper() + " " + sub)
    return handler(session, sql.strip().rstrip(";").strip(), sub)


# ---- CREATE -------------------------------------------------------------------------------
def _create_database(session: AthenaSession, sql: str, sub: str) -> StatementResult:
    m = re.match(rf"CREATE\s+(?:DATABASE|SCHEMA)\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}", sql, re.I)
    if not m:
        raise AthenaQueryError("SYNTAX_ERROR", "line 1:1: expected CREATE DATABASE name")
    name = m.group(2).lower()
    if name in session.catalog.list_databases() and not m.group(1):
        raise AthenaQueryError("ALREADY_EXISTS", f"Database {name} already exists",
                               error_type=DDL_FAILED)  # fmt: skip
    session.catalog.create_database(name, exist_ok=True)
    return _done(sub)


def _create_table(session: AthenaSession, sql: str, sub: str) -> StatementResult:
    if not re.match(r"CREATE\s+EXTERNAL\s+TABLE\b", sql, re.I):
        raise AthenaQueryError(
            "INVALID_REQUEST", "Only external table creation is supported (CREATE EXTERNAL TABLE)"
        )
    tree = parse_one(sql, dialect="hive")
    schema = tree.this
    if not isinstance(tree, exp.Create) or not isinstance(schema, exp.Schema):
        raise not_supported("this form of CREATE EXTERNAL TABLE")
    node = schema.this
    db = (node.db or session.database).lower()
    name = node.name.lower()
    columns = [Column(c.name.lower(), c.args["kind"].sql(dialect="hive").lower())
               for c in schema.expressions if isinstance(c, exp.ColumnDef)]  # fmt: skip
    keys: list[Column] = []
    fmt, location, params = "", "", {}
    for prop in (tree.args.get("properties") or exp.Properties(expressions=[])).expressions:
        if isinstance(prop, exp.PartitionedByProperty):
            keys = [Column(c.name.lower(), c.args["kind"].sql(dialect="hive").lower())
                    for c in prop.this.expressions]  # fmt: skip
        elif isinstance(prop, exp.FileFormatProperty):
            fmt = prop.name.lower()
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            fmt = "json" if prop.this.name in _JSON_SERDES else prop.this.name
        elif isinstance(prop, exp.LocationProperty):
            location = lake_key(session.settings, session.lake, prop.this.name)
        elif type(prop) is exp.Property:
            params[prop.name] = prop.args["value"].name
    if fmt not in ("parquet", "json"):
        raise not_supported(f"tables stored as {fmt or 'TEXTFILE'} (use PARQUET or a JSON SerDe)")
    if not location:
        raise AthenaQueryError("INVALID_REQUEST", "CREATE EXTERNAL TABLE needs a LOCATION")
    if db not in session.catalog.list_databases():
        raise AthenaQueryError("SCHEMA_NOT_FOUND", f"Schema '{db}' does not exist")
    table = Table(db, name, columns, keys, location=location, format=fmt,
                  parameters={"classification": fmt, "EXTERNAL": "TRUE", **params})  # fmt: skip
    try:
        session.catalog.create_table(table)
    except TableExistsError:
        if tree.args.get("exists"):
            return _done(sub)
        raise AthenaQueryError("ALREADY_EXISTS", f"Table {db}.{name} already exists",
                               error_type=DDL_FAILED) from None  # fmt: skip
    if not keys:  # an unpartitioned table reads every file of its location at once
        part = declared_partition(session.lake, table, (), location)
        session.catalog.commit_partitions(db, name, upsert=[part])
    return _done(sub)


def ctas_properties(tree: exp.Create) -> dict[str, Any]:
    """The ``WITH (...)`` properties of a CTAS: format, partitioned_by, external_location."""
    out: dict[str, Any] = {}
    for prop in (tree.args.get("properties") or exp.Properties(expressions=[])).expressions:
        if isinstance(prop, exp.FileFormatProperty):
            out["format"] = prop.name.lower()
        elif isinstance(prop, exp.PartitionedByProperty):
            items = (
                prop.this.expressions
                if isinstance(prop.this, (exp.Array, exp.Tuple, exp.Schema))
                else [prop.this]
            )
            out["partitioned_by"] = [i.name for i in items]
        elif isinstance(prop, exp.LocationProperty):
            out["external_location"] = prop.this.name
        elif type(prop) is exp.Property:
            out[prop.name.lower()] = prop.args["value"]
    if out.get("format", "parquet") != "parquet":
        raise not_supported(f"CTAS with format '{out['format']}' (only PARQUET)")
    for key in ("bucketed_by", "bucket_count", "table_type"):
        if key in out:
            raise not_supported(f"the CTAS property {key}")
    value = out.get("external_location")
    if isinstance(value, exp.Expression):
        out["external_location"] = value.name
    value = out.get("partitioned_by")
    if isinstance(value, exp.Expression):
        out["partitioned_by"] = [e.name for e in value.expressions]
    return out


# ---- partitions ---------------------------------------------------------------------------
def _msck(session: AthenaSession, sql: str, sub: str) -> StatementResult:
    m = re.match(rf"MSCK\s+REPAIR\s+TABLE\s+{_TABLE}", sql, re.I)
    if not m:
        raise AthenaQueryError("SYNTAX_ERROR", "line 1:1: expected MSCK REPAIR TABLE name")
    table = _table(session, m, 1)
    check_writable(table, "repair")
    keys = [k.name for k in table.partition_keys]
    known = {p.values: p for p in session.catalog.list_partitions(table.database, table.name)}
    folders: dict[tuple[str, ...], tuple[str, list[DataFile]]] = {}
    for entry in session.lake.list(table.location):
        parts = entry.key[len(table.location) :].split("/")[:-1]
        pairs = [p.split("=", 1) for p in parts]
        if len(pairs) != len(keys) or any(
            len(p) != 2 or p[0].lower() != k for p, k in zip(pairs, keys, strict=False)
        ):
            continue
        values = tuple(p[1] for p in pairs)
        location = table.location + "".join(p + "/" for p in parts)
        folders.setdefault(values, (location, []))[1].append(DataFile(entry.key, entry.size))
    upsert, lines = [], []
    for values, (location, files) in sorted(folders.items()):
        old = known.get(values)
        if old is not None and sorted(f.key for f in old.files) == sorted(f.key for f in files):
            continue
        name = hive_path(keys, values)
        if old is None:
            lines.append(f"Partitions not in metastore:\t{table.name}:{name}")
        upsert.append(Partition(table.database, table.name, values, location, files,
                                size_bytes=sum(f.size for f in files)))  # fmt: skip
    if upsert:
        session.catalog.commit_partitions(table.database, table.name, upsert=upsert)
    lines += [f"Repair: Added partition to metastore {table.name}:" +
              hive_path(keys, p.values)
              for p in upsert if p.values not in known]  # fmt: skip
    return _output(sub, ["result"], [[line] for line in lines])


def _alter(session: AthenaSession, sql: str, sub: str) -> StatementResult:
    m = re.match(rf"ALTER\s+TABLE\s+{_TABLE}\s+(ADD|DROP)\s+(IF\s+(?:NOT\s+)?EXISTS\s+)?(.*)$",
                  sql, re.I | re.S)  # fmt: skip
    if not m:
        raise AthenaQueryError(
            "SYNTAX_ERROR", "line 1:1: expected ALTER TABLE name ADD|DROP PARTITION (...)"
        )
    table = _table(session, m, 1)
    check_writable(table, "alter")
    specs = re.findall(_SPEC, m.group(5), re.I)
    if not specs:
        raise not_supported("ALTER TABLE other than ADD/DROP PARTITION")
    known = {p.values for p in session.catalog.list_partitions(table.database, table.name)}
    values = [(_spec(spec, table), loc) for spec, loc in specs]
    if m.group(3).upper() == "DROP":
        missing = [v for v, _ in values if v not in known]
        if missing and not m.group(4):
            raise AthenaQueryError("PARTITION_NOT_FOUND", f"Partition {list(missing[0])} does not exist",
                                   error_type=DDL_FAILED)  # fmt: skip
        session.catalog.commit_partitions(table.database, table.name,
                                          delete=[v for v, _ in values if v in known])  # fmt: skip
        return _done(sub)
    present = [v for v, _ in values if v in known]
    if present and not m.group(4):
        raise AthenaQueryError("ALREADY_EXISTS", f"Partition already exists: {list(present[0])}",
                               error_type=DDL_FAILED)  # fmt: skip
    keys = [k.name for k in table.partition_keys]
    upsert = [
        declared_partition(session.lake, table, v, lake_key(session.settings, session.lake, loc) if loc else
                   table.location + "".join(f"{k}={x}/" for k, x in zip(keys, v, strict=True)))
        for v, loc in values if v not in known
    ]  # fmt: skip
    if upsert:
        session.catalog.commit_partitions(table.database, table.name, upsert=upsert)
    return _done(sub)


# ---- SHOW / DESCRIBE / DROP ---------------------------------------------------------------
def _show(session: AthenaSession, sql: str, sub: str) -> StatementResult:
    cat = session.catalog
    if sub == "SHOW_TABLES":
        m = re.match(
            rf"SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+{_NAME})?(?:\s+(?:LIKE\s+)?'([^']*)')?\s*$",
            sql,
            re.I,
        )
        if not m:
            raise AthenaQueryError(
                "SYNTAX_ERROR", "line 1:1: expected SHOW TABLES [IN db] ['pattern']"
            )
        db = (m.group(1) or session.database).lower()
        if db not in cat.list_databases():
            raise AthenaQueryError("SCHEMA_NOT_FOUND", f"Schema '{db}' does not exist")
        pattern = _pattern(m.group(2))
        names = [t.name for t in cat.list_tables(db) if pattern.fullmatch(t.name)]
        return _output(sub, ["tab_name"], [[n] for n in names])
    if sub == "SHOW_DATABASES":
        m = re.match(r"SHOW\s+(?:DATABASES|SCHEMAS)(?:\s+(?:LIKE\s+)?'([^']*)')?\s*$", sql, re.I)
        pattern = _pattern(m.group(1) if m else None)
        return _output(
            sub, ["database_name"], [[d] for d in cat.list_databases() if pattern.fullmatch(d)]
        )
    if sub == "SHOW_PARTITIONS":
        m = re.match(rf"SHOW\s+PARTITIONS\s+{_TABLE}\s*$", sql, re.I)
        if not m:
            raise AthenaQueryError("SYNTAX_ERROR", "line 1:1: expected SHOW PARTITIONS table")
        table = _table(session, m, 1)
        keys = [k.name for k in table.partition_keys]
        if not keys:
            raise AthenaQueryError("NOT_PARTITIONED", f"Table {table.name} is not a partitioned table",
                                   error_type=DDL_FAILED)  # fmt: skip
        rows = [hive_path(keys, p.values)
                for p in cat.list_partitions(table.database, table.name)]  # fmt: skip
        return _output(sub, ["partition"], [[r] for r in rows])
    if sub == "SHOW_CREATE_TABLE":
        m = re.match(rf"SHOW\s+CREATE\s+TABLE\s+{_TABLE}\s*$", sql, re.I)
        if not m:
            raise AthenaQueryError("SYNTAX_ERROR", "line 1:1: expected SHOW CREATE TABLE table")
        lines = show_create_table(_table(session, m, 1), session.lake)
        return _output(sub, ["createtab_stmt"], [[line] for line in lines])
    if sub == "SHOW_COLUMNS":
        m = re.match(rf"SHOW\s+COLUMNS\s+(?:IN|FROM)\s+{_TABLE}\s*$", sql, re.I)
        if not m:
            raise AthenaQueryError("SYNTAX_ERROR", "line 1:1: expected SHOW COLUMNS IN table")
        table = _table(session, m, 1)
        return _output(sub, ["field"], [[c.name] for c in [*table.columns, *table.partition_keys]])
    raise not_supported(sql.split(None, 2)[:2][-1].upper() + " after SHOW")


def _pattern(text: str | None) -> re.Pattern[str]:
    """Athena's SHOW pattern: ``*`` any characters, ``|`` alternatives."""
    if not text:
        return re.compile(".*")
    alts = [re.escape(a.strip()).replace(r"\*", ".*") for a in text.lower().split("|")]
    return re.compile("|".join(alts))


def _describe(session: AthenaSession, sql: str, sub: str) -> StatementResult:
    m = re.match(rf"DESC(?:RIBE)?\s+(?:EXTENDED\s+|FORMATTED\s+)?{_TABLE}\s*$", sql, re.I)
    if not m:
        raise AthenaQueryError("SYNTAX_ERROR", "line 1:1: expected DESCRIBE table")
    table = _table(session, m, 1)
    rows = [[c.name, c.type, c.comment] for c in [*table.columns, *table.partition_keys]]
    if table.partition_keys:
        rows += [["", "", ""], ["# Partition Information", "", ""], ["# col_name", "data_type", "comment"],
                 ["", "", ""]] + [[k.name, k.type, k.comment] for k in table.partition_keys]  # fmt: skip
    return _output(sub, ["col_name", "data_type", "comment"], rows)


def _drop(session: AthenaSession, sql: str, sub: str) -> StatementResult:
    m = re.match(rf"DROP\s+TABLE\s+(IF\s+EXISTS\s+)?{_TABLE}\s*$", sql, re.I)
    if not m:
        raise not_supported("DROP other than DROP TABLE")
    try:
        table = _table(session, m, 2)
    except AthenaQueryError:
        if m.group(1):
            return _done(sub)
        raise
    check_writable(table, "drop")
    session.catalog.drop_table(table.database, table.name)
    return _done(sub)


_HANDLERS = {
    "CREATE_DATABASE": _create_database,
    "CREATE_TABLE": _create_table,
    "MSCK_REPAIR_TABLE": _msck,
    "ALTER_TABLE_ADD_PARTITION": _alter,
    "ALTER_TABLE_DROP_PARTITION": _alter,
    "SHOW_TABLES": _show,
    "SHOW_DATABASES": _show,
    "SHOW_PARTITIONS": _show,
    "SHOW_CREATE_TABLE": _show,
    "SHOW_COLUMNS": _show,
    "DESCRIBE_TABLE": _describe,
    "DROP_TABLE": _drop,
}

"""Athena's error shapes: ``StateChangeReason`` is ``"<ERROR_NAME>: <message>"`` (for example
``SYNTAX_ERROR: line 1:8: ...`` or ``TABLE_NOT_FOUND: line 1:15: Table '...' does not exist``)
and ``AthenaError`` carries an ``ErrorCategory`` (1 system, 2 user, 3 other) and an
``ErrorType`` from Athena's error catalog (1000 user error, 1001 data error, 1003 DDL task
failed, 200 engine internal error, 401 cannot write the results).

:func:`from_duckdb` is the one place a DuckDB error becomes an Athena error name.
"""

from __future__ import annotations

import re

import duckdb

from trafficlake.errors import TrafficlakeError, first_line

USER, SYSTEM = 2, 1
USER_ERROR, DATA_ERROR, DDL_FAILED, ENGINE_ERROR, RESULT_WRITE_ERROR = 1000, 1001, 1003, 200, 401


class AthenaQueryError(TrafficlakeError):
    """A statement that failed the way Athena reports it (``name``: the Trino/Hive error name)."""

    def __init__(
        self, name: str, message: str, *, error_type: int = USER_ERROR, category: int = USER
    ) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.error_type = error_type
        self.category = category

    @property
    def reason(self) -> str:
        """Athena's ``StateChangeReason``."""
        return f"{self.name}: {self.message}"


def position(sql: str, offset: int) -> str:
    """``line L:C`` (1-based, as Trino reports it) of character ``offset`` of ``sql``."""
    line = sql.count("\n", 0, offset) + 1
    col = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}:{col}"


def syntax_error(message: str) -> AthenaQueryError:
    return AthenaQueryError("SYNTAX_ERROR", message)


def not_supported(construct: str) -> AthenaQueryError:
    return AthenaQueryError("NOT_SUPPORTED", f"{construct} is not supported by trafficlake")


_COLUMN = re.compile(r'Referenced column "([^"]+)" not found')
_FUNCTION = re.compile(r"Scalar Function with name (\w+) does not exist|Function with name (\w+)")
_TABLE = re.compile(r"Table with name (\S+) does not exist")


def from_duckdb(exc: duckdb.Error) -> AthenaQueryError:
    """The Athena error a DuckDB error corresponds to (names as Athena engine v3 reports them)."""
    text = first_line(exc)
    body = text.split(": ", 1)[1] if ": " in text else text
    if "DIVIDE_BY_ZERO" in text:
        return AthenaQueryError("DIVIDE_BY_ZERO", "Division by zero", error_type=DATA_ERROR)
    if isinstance(exc, duckdb.BinderException):
        if m := _COLUMN.search(text):
            return AthenaQueryError(
                "COLUMN_NOT_FOUND",
                f"Column '{m.group(1).lower()}' cannot be resolved or requester is not "
                "authorized to access requested resources",
            )
        if m := _FUNCTION.search(text):
            name = (m.group(1) or m.group(2)).lower()
            return AthenaQueryError("FUNCTION_NOT_FOUND", f"Function '{name}' not registered")
        return AthenaQueryError("TYPE_MISMATCH", body)
    if isinstance(exc, duckdb.CatalogException):
        if m := _TABLE.search(text):
            return AthenaQueryError("TABLE_NOT_FOUND", f"Table '{m.group(1)}' does not exist")
        if m := _FUNCTION.search(text):
            name = (m.group(1) or m.group(2)).lower()
            return AthenaQueryError("FUNCTION_NOT_FOUND", f"Function '{name}' not registered")
        return AthenaQueryError("SYNTAX_ERROR", body)
    if isinstance(exc, duckdb.ParserException):
        return AthenaQueryError("SYNTAX_ERROR", body)
    if isinstance(exc, duckdb.ConversionException):
        return AthenaQueryError("INVALID_CAST_ARGUMENT", body, error_type=DATA_ERROR)
    if isinstance(exc, duckdb.OutOfRangeException):
        return AthenaQueryError("NUMERIC_VALUE_OUT_OF_RANGE", body, error_type=DATA_ERROR)
    if isinstance(exc, duckdb.InvalidInputException):
        return AthenaQueryError("INVALID_FUNCTION_ARGUMENT", body, error_type=DATA_ERROR)
    if isinstance(exc, (duckdb.IOException, duckdb.HTTPException)):
        return AthenaQueryError("HIVE_CANNOT_OPEN_SPLIT", body, error_type=DATA_ERROR)
    if isinstance(exc, duckdb.InterruptException):
        return AthenaQueryError("USER_CANCELED", "Query was canceled")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return AthenaQueryError("EXCEEDED_LOCAL_MEMORY_LIMIT", body, error_type=0, category=SYSTEM)
    return AthenaQueryError(
        "GENERIC_INTERNAL_ERROR", body, error_type=ENGINE_ERROR, category=SYSTEM
    )

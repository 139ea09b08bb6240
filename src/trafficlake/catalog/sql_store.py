"""What every part of the SQL catalog backend shares: its transactions.

:class:`~trafficlake.catalog.sql.SqlCatalog` implements them; the stores of each concern
(crawlers, runs, query executions, resources) are mixed into it and only declare them here.
"""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trafficlake.catalog.base import AlreadyExistsError


def row_exists(conn: Connection, column: sa.Column[Any], value: Any) -> bool:
    """Whether ``column``'s table has a row whose ``column`` is ``value``."""
    return conn.execute(sa.select(column).where(column == value).limit(1)).first() is not None


class SqlStore(abc.ABC):
    @abc.abstractmethod
    def _read(self) -> AbstractContextManager[Connection]:
        """A read transaction."""

    @abc.abstractmethod
    def _write(
        self, conflict: AlreadyExistsError | None = None
    ) -> AbstractContextManager[Connection]:
        """A write transaction; a unique-key violation raises ``conflict``."""

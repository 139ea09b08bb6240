"""The catalog as Athena's metadata API shows it: one data catalog (``AwsDataCatalog``), its
databases and tables (what a DB-API or SQLAlchemy client reflects)."""

from __future__ import annotations

import fnmatch

from trafficlake.athena.executions import InvalidQueryRequest, shared_catalog
from trafficlake.catalog import NoSuchTableError, Table
from trafficlake.config import Settings
from trafficlake.errors import TrafficlakeError

DATA_CATALOG = "AwsDataCatalog"


class MetadataError(TrafficlakeError):
    """Athena's MetadataException: a database or table that does not exist."""


def check_data_catalog(name: str) -> str:
    if name.lower() != DATA_CATALOG.lower():
        raise InvalidQueryRequest(f"Catalog {name} is not found.")
    return DATA_CATALOG


def list_databases(settings: Settings, catalog_name: str = DATA_CATALOG) -> list[str]:
    check_data_catalog(catalog_name)
    return shared_catalog(settings).list_databases()


def get_database(settings: Settings, name: str, catalog_name: str = DATA_CATALOG) -> str:
    if name not in list_databases(settings, catalog_name):
        raise MetadataError(f"Database {name} not found.")
    return name


def list_tables(
    settings: Settings, database: str, *, expression: str = "", catalog_name: str = DATA_CATALOG
) -> list[Table]:
    """The database's tables; ``expression``: Athena's name pattern (``*`` any characters,
    ``|`` alternatives)."""
    get_database(settings, database, catalog_name)
    tables = shared_catalog(settings).list_tables(database)
    if not expression:
        return tables
    patterns = [p.strip().lower() for p in expression.split("|")]
    return [t for t in tables if any(fnmatch.fnmatchcase(t.name, p) for p in patterns)]


def get_table(
    settings: Settings, database: str, name: str, catalog_name: str = DATA_CATALOG
) -> Table:
    get_database(settings, database, catalog_name)
    try:
        return shared_catalog(settings).get_table(database, name.lower())
    except NoSuchTableError:
        raise MetadataError(f"Table {name} not found.") from None

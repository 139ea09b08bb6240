"""What the Glue API does beyond storing rows (``catalog/glue.py``): deleting a database with
its tables, declaring, moving and removing single partitions."""

from __future__ import annotations

import pytest
from catalog_rows import make_raw_table

from trafficlake.catalog import NoSuchDatabaseError, NoSuchPartitionError, open_catalog
from trafficlake.catalog import glue as library
from trafficlake.config import Settings
from trafficlake.storage import Lake


def test_delete_database_takes_its_tables_and_stored_input(settings: Settings) -> None:
    with open_catalog(settings) as catalog:
        make_raw_table(catalog)
        catalog.put_resource(library.DATABASE_KIND, "traffic", {"Description": "MIV"})
        library.delete_database(catalog, "traffic")
        assert "traffic" not in catalog.list_databases() and catalog.list_tables() == []
        assert catalog.list_resources(library.DATABASE_KIND) == []
        catalog.create_database("bare")  # no stored input: still deleted
        library.delete_database(catalog, "bare")
        with pytest.raises(NoSuchDatabaseError):
            library.delete_database(catalog, "bare")


def test_single_partitions_are_declared_moved_and_removed(settings: Settings) -> None:
    lake = Lake.from_settings(settings)
    lake.put_atomic("raw/a/x.parquet", b"1234")
    lake.put_atomic("raw/b/y.parquet", b"123456")
    lake.put_atomic("raw/b/_SUCCESS", b"")
    values = ("2026", "11", "21", "7")
    with open_catalog(settings) as catalog:
        t = make_raw_table(catalog)
        p = library.add_partition(catalog, lake, t, values, "raw/a/")
        assert [f.key for f in p.files] == ["raw/a/x.parquet"] and p.size_bytes == 4
        with pytest.raises(library.PartitionExistsError, match=r"Partition already exists\."):
            library.add_partition(catalog, lake, t, values, "raw/b/")

        library.relocate_partition(catalog, lake, t, values, "raw/b/")
        moved = catalog.get_partition("traffic", "raw", values)
        assert (moved.location, [f.key for f in moved.files]) == ("raw/b/", ["raw/b/y.parquet"])
        library.relocate_partition(catalog, lake, t, values, None)  # nothing to change
        assert catalog.get_partition("traffic", "raw", values).version == moved.version

        library.remove_partition(catalog, t, values)
        with pytest.raises(NoSuchPartitionError):
            library.remove_partition(catalog, t, values)
        with pytest.raises(NoSuchPartitionError):
            library.relocate_partition(catalog, lake, t, values, "raw/a/")

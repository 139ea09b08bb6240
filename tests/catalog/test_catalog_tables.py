"""TableCatalog behaviour (databases, tables, partitions, versions), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from catalog_rows import KEYS, make_partition, make_raw_table

from trafficlake.catalog import (
    Catalog,
    CatalogError,
    Column,
    Crawler,
    DataFile,
    NoSuchDatabaseError,
    NoSuchPartitionError,
    NoSuchTableError,
    Partition,
    Table,
    TableExistsError,
    open_catalog,
)


def test_schema_creation_is_idempotent(catalog_url: str) -> None:
    with open_catalog(catalog_url) as a:
        a.create_database("traffic")
    with open_catalog(catalog_url) as b:
        assert b.list_databases() == ["traffic"]
        assert b.current_version() == 0


def test_tables_round_trip_and_named_errors(catalog: Catalog) -> None:
    with pytest.raises(NoSuchDatabaseError, match="database nope not found"):
        catalog.create_table(Table("nope", "t", [Column("a", "int")]))
    t = make_raw_table(catalog)
    assert t.full_name == "traffic.raw" and t.partition_keys == KEYS
    assert t.parameters == {"classification": "parquet"} and t.created_at is not None
    with pytest.raises(TableExistsError, match=r"traffic\.raw"):
        _table_again = catalog.create_table(Table("traffic", "raw", [Column("a", "int")]))
        del _table_again
    with pytest.raises(NoSuchTableError, match=r"table traffic\.missing not found"):
        catalog.get_table("traffic", "missing")
    t.columns.append(Column("extra", "double"))
    t.parameters["recordCount"] = "5"
    catalog.update_table(t)
    got = catalog.get_table("traffic", "raw")
    assert [c.name for c in got.columns] == ["unieke_id", "tijd_waarneming", "extra"]
    assert got.parameters["recordCount"] == "5"
    assert [x.full_name for x in catalog.list_tables("traffic")] == ["traffic.raw"]
    catalog.commit_partitions("traffic", "raw", upsert=[make_partition(2026, 11, 21, 7)])
    catalog.drop_table("traffic", "raw")
    assert catalog.list_tables() == []
    with pytest.raises(NoSuchTableError):
        catalog.list_partitions("traffic", "raw")


def test_partitions_versions_filters_and_sorting(catalog: Catalog) -> None:
    make_raw_table(catalog)
    v1 = catalog.commit_partitions(
        "traffic",
        "raw",
        upsert=[
            make_partition(2026, 11, 21, h, lo=1000 * h, hi=1000 * h + 999) for h in (10, 7, 9, 8)
        ],
    )
    assert v1 == 4 == catalog.current_version()
    parts = catalog.list_partitions("traffic", "raw")
    assert [p.values[3] for p in parts] == ["7", "8", "9", "10"]  # numeric order
    assert sorted(p.version for p in parts) == [1, 2, 3, 4]
    p8 = catalog.get_partition("traffic", "raw", ["2026", "11", "21", "8"])
    assert p8.stats == {"tijd_waarneming": (8000, 8999)}
    assert isinstance(p8.stats["tijd_waarneming"][0], int)
    assert p8.files == [DataFile("raw/year=2026/month=11/day=21/hour=8/a.parquet", 100, 10)]
    with pytest.raises(NoSuchPartitionError, match=r"traffic\.raw"):
        catalog.get_partition("traffic", "raw", ["2026", "11", "21", "23"])

    assert [p.values[3] for p in catalog.list_partitions("traffic", "raw", where={"hour": 9})] == [
        "9"
    ]
    assert len(catalog.list_partitions("traffic", "raw", where={"year": "2026", "day": 21})) == 4
    assert catalog.list_partitions("traffic", "raw", where={"day": 22}) == []
    with pytest.raises(CatalogError, match="no partition key 'minute'"):
        catalog.list_partitions("traffic", "raw", where={"minute": 1})

    # overlapping compares numbers numerically (9500 < 10000 although "9500" > "10000")
    ov = catalog.list_partitions("traffic", "raw", overlapping=("tijd_waarneming", 8500, 9500))
    assert [p.values[3] for p in ov] == ["8", "9"]
    assert [
        p.values[3]
        for p in catalog.list_partitions(
            "traffic", "raw", overlapping=("tijd_waarneming", 10999, None)
        )
    ] == ["10"]
    # a partition without stats for the column is kept
    catalog.commit_partitions("traffic", "raw", upsert=[make_partition(2026, 11, 22, 0)])
    ov = catalog.list_partitions("traffic", "raw", overlapping=("tijd_waarneming", 8500, 9500))
    assert [p.values[2:] for p in ov] == [("21", "8"), ("21", "9"), ("22", "0")]

    changed = catalog.list_partitions("traffic", "raw", changed_since=v1)
    assert [p.values for p in changed] == [("2026", "11", "22", "0")]

    # re-upsert: new version, created_at kept; delete removes; deprecated hidden by default
    old = catalog.get_partition("traffic", "raw", ["2026", "11", "21", "7"])
    new = make_partition(2026, 11, 21, 7, lo=1, hi=2, rows=20)
    new.deprecated = True
    v3 = catalog.commit_partitions(
        "traffic", "raw", upsert=[new], delete=[("2026", "11", "21", "10")]
    )
    assert v3 == 6
    got = catalog.get_partition("traffic", "raw", ["2026", "11", "21", "7"])
    assert got.version == 6 and got.row_count == 20 and got.deprecated
    assert got.created_at == old.created_at and got.stats == {"tijd_waarneming": (1, 2)}
    assert [p.values[3] for p in catalog.list_partitions("traffic", "raw", where={"day": 21})] == [
        "8",
        "9",
    ]
    hidden = catalog.list_partitions("traffic", "raw", where={"day": 21}, include_deprecated=True)
    assert [p.values[3] for p in hidden] == ["7", "8", "9"]
    # nothing to change: version unchanged
    assert catalog.commit_partitions("traffic", "raw") == 6


def test_padded_folder_values_match_integer_filters(catalog: Catalog) -> None:
    make_raw_table(catalog)
    p = make_partition(2026, 11, 21, 7)
    p.values = ("2026", "11", "21", "07")
    catalog.commit_partitions("traffic", "raw", upsert=[p])
    assert len(catalog.list_partitions("traffic", "raw", where={"hour": 7})) == 1
    assert len(catalog.list_partitions("traffic", "raw", where={"hour": "7"})) == 1


def test_commit_partitions_is_one_transaction(catalog: Catalog) -> None:
    make_raw_table(catalog)
    catalog.commit_partitions("traffic", "raw", upsert=[make_partition(2026, 11, 21, 1)])
    bad = Partition("traffic", "raw", ("2026", "11"), "raw/x/")  # wrong number of values
    with pytest.raises(CatalogError, match="has 2 values but the table has 4 partition keys"):
        catalog.commit_partitions(
            "traffic",
            "raw",
            upsert=[make_partition(2026, 11, 21, 2), bad],
            delete=[("2026", "11", "21", "1")],
            bookmark=("transform", {"version": 99}),
        )
    assert [p.values[3] for p in catalog.list_partitions("traffic", "raw")] == ["1"]
    assert catalog.current_version() == 1
    assert catalog.get_bookmark("transform") is None
    catalog.commit_partitions(
        "traffic",
        "raw",
        upsert=[make_partition(2026, 11, 21, 2)],
        bookmark=("transform", {"version": 2}),
    )
    assert catalog.get_bookmark("transform") == {"version": 2}


def test_one_commit_writes_many_partitions_and_rewrites_changed_ones(catalog: Catalog) -> None:
    make_raw_table(catalog)
    catalog.commit_partitions("traffic", "raw", upsert=[make_partition(2026, 11, 21, 0, hi=5)])
    # one commit: new partitions (written together), a changed one, a partition given twice
    twice = [make_partition(2026, 11, 21, 2, rows=1), make_partition(2026, 11, 21, 2, rows=2)]
    version = catalog.commit_partitions(
        "traffic", "raw",
        upsert=[make_partition(2026, 11, 21, 0, lo=7, hi=9, rows=3), make_partition(2026, 11, 21, 1, hi=4),
                *twice, make_partition(2026, 11, 22, 0)],
    )  # fmt: skip
    assert version == 6
    got = {p.values: p for p in catalog.list_partitions("traffic", "raw")}
    assert sorted(v[2:] for v in got) == [("21", "0"), ("21", "1"), ("21", "2"), ("22", "0")]
    assert got[("2026", "11", "21", "0")].row_count == 3
    assert got[("2026", "11", "21", "0")].stats == {"tijd_waarneming": (7, 9)}
    assert got[("2026", "11", "21", "1")].stats == {"tijd_waarneming": (0, 4)}
    assert got[("2026", "11", "21", "2")].row_count == 2  # the last of the two
    assert got[("2026", "11", "22", "0")].stats == {}
    # the partition values were written for each: filters find them
    assert [p.values[3] for p in catalog.list_partitions("traffic", "raw", where={"day": 21})] == [
        "0",
        "1",
        "2",
    ]
    assert len(catalog.list_partitions("traffic", "raw", where={"day": 22, "hour": 0})) == 1


def test_concurrent_writers_get_unique_increasing_versions(catalog_url: str) -> None:
    with open_catalog(catalog_url) as cat:
        make_raw_table(cat)
    n_threads, per_thread = 4, 5
    barrier = threading.Barrier(n_threads)
    results: list[int] = []
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            with open_catalog(catalog_url) as cat:
                barrier.wait()
                for i in range(per_thread):
                    results.append(
                        cat.commit_partitions(
                            "traffic", "raw", upsert=[make_partition(2026, 1, t + 1, i)]
                        )
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sorted(results) == list(range(1, n_threads * per_thread + 1))
    with open_catalog(catalog_url) as cat:
        parts = cat.list_partitions("traffic", "raw")
        assert sorted(p.version for p in parts) == list(range(1, n_threads * per_thread + 1))


def test_concurrent_creates_one_wins_others_get_named_errors(catalog_url: str) -> None:
    n = 5
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def create() -> None:
        with open_catalog(catalog_url) as cat:
            barrier.wait()
            cat.create_database("traffic")  # exist_ok: never fails
            try:
                cat.create_table(Table("traffic", "raw", [Column("a", "int")]))
                outcomes.append("created")
            except TableExistsError:
                outcomes.append("exists")
            cat.create_crawler(Crawler("raw", ["raw/"]), exist_ok=True)

    threads = [threading.Thread(target=create) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes) == ["created"] + ["exists"] * (n - 1)
    with open_catalog(catalog_url) as cat:
        assert [c.name for c in cat.list_crawlers()] == ["raw"]


WRITER_PROCESS = """
import sys
from trafficlake.catalog import DataFile, Partition, open_catalog
url, day = sys.argv[1], sys.argv[2]
with open_catalog(url) as cat:
    for h in range(5):
        loc = f"raw/year=2026/month=1/day={day}/hour={h}/"
        part = Partition("traffic", "raw", ("2026", "1", day, str(h)), loc, [DataFile(loc + "a", 1, 1)])
        print(cat.commit_partitions("traffic", "raw", upsert=[part]))
"""


@pytest.mark.slow
def test_concurrent_writer_processes_lose_no_update(catalog_url: str) -> None:
    import subprocess
    import sys

    with open_catalog(catalog_url) as cat:
        make_raw_table(cat)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER_PROCESS, catalog_url, str(day)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for day in (1, 2, 3)
    ]
    versions = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        versions += [int(v) for v in out.split()]
    assert sorted(versions) == list(range(1, 16))
    with open_catalog(catalog_url) as cat:
        assert sorted(p.version for p in cat.list_partitions("traffic", "raw")) == list(
            range(1, 16)
        )
        assert cat.current_version() == 15


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_keeps_its_data(url: str) -> None:
    with open_catalog(url) as cat:
        make_raw_table(cat)
        cat.commit_partitions("traffic", "raw", upsert=[make_partition(2026, 11, 21, 7)])
        assert [t.full_name for t in cat.list_tables()] == ["traffic.raw"]
        assert cat.current_version() == 1


def test_drop_database_drops_its_tables_and_partitions(catalog: Catalog) -> None:
    make_raw_table(catalog)
    catalog.commit_partitions("traffic", "raw", upsert=[make_partition(2026, 11, 21, 7)])
    catalog.create_database("other")
    catalog.create_table(Table("other", "keep", [Column("a", "int")]))
    catalog.drop_database("traffic")
    assert catalog.list_databases() == ["other"]
    assert [t.full_name for t in catalog.list_tables()] == ["other.keep"]
    with pytest.raises(NoSuchDatabaseError, match="database traffic not found"):
        catalog.drop_database("traffic")
    make_raw_table(catalog)  # a database of the same name starts empty
    assert catalog.list_partitions("traffic", "raw") == []

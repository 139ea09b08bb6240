"""Behaviour of the SQL catalog, on a SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from trafficlake.catalog import (
    Catalog,
    CatalogError,
    Column,
    Crawler,
    CrawlerNotRunningError,
    CrawlerRunningError,
    DataFile,
    Execution,
    HistoryEvent,
    JobRun,
    NoSuchCrawlerError,
    NoSuchDatabaseError,
    NoSuchExecutionError,
    NoSuchJobRunError,
    NoSuchPartitionError,
    NoSuchTableError,
    Partition,
    Table,
    TableExistsError,
    open_catalog,
)

KEYS = [Column("year", "int"), Column("month", "int"), Column("day", "int"), Column("hour", "int")]


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    with open_catalog(catalog_url) as cat:
        yield cat


def _table(cat: Catalog) -> Table:
    cat.create_database("traffic")
    return cat.create_table(
        Table(
            "traffic",
            "raw",
            [Column("unieke_id", "int"), Column("tijd_waarneming", "bigint")],
            KEYS,
            location="raw/",
            parameters={"classification": "parquet"},
        )
    )


def _part(y: int, m: int, d: int, h: int, *, lo: int = 0, hi: int = 0, rows: int = 10) -> Partition:
    loc = f"raw/year={y}/month={m}/day={d}/hour={h}/"
    return Partition(
        "traffic",
        "raw",
        (str(y), str(m), str(d), str(h)),
        loc,
        files=[DataFile(loc + "a.parquet", 100, rows)],
        row_count=rows,
        size_bytes=100,
        stats={"tijd_waarneming": (lo, hi)} if hi else {},
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
    t = _table(catalog)
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
    catalog.commit_partitions("traffic", "raw", upsert=[_part(2026, 11, 21, 7)])
    catalog.drop_table("traffic", "raw")
    assert catalog.list_tables() == []
    with pytest.raises(NoSuchTableError):
        catalog.list_partitions("traffic", "raw")


def test_partitions_versions_filters_and_sorting(catalog: Catalog) -> None:
    _table(catalog)
    v1 = catalog.commit_partitions(
        "traffic",
        "raw",
        upsert=[_part(2026, 11, 21, h, lo=1000 * h, hi=1000 * h + 999) for h in (10, 7, 9, 8)],
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
    catalog.commit_partitions("traffic", "raw", upsert=[_part(2026, 11, 22, 0)])
    ov = catalog.list_partitions("traffic", "raw", overlapping=("tijd_waarneming", 8500, 9500))
    assert [p.values[2:] for p in ov] == [("21", "8"), ("21", "9"), ("22", "0")]

    changed = catalog.list_partitions("traffic", "raw", changed_since=v1)
    assert [p.values for p in changed] == [("2026", "11", "22", "0")]

    # re-upsert: new version, created_at kept; delete removes; deprecated hidden by default
    old = catalog.get_partition("traffic", "raw", ["2026", "11", "21", "7"])
    new = _part(2026, 11, 21, 7, lo=1, hi=2, rows=20)
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
    _table(catalog)
    p = _part(2026, 11, 21, 7)
    p.values = ("2026", "11", "21", "07")
    catalog.commit_partitions("traffic", "raw", upsert=[p])
    assert len(catalog.list_partitions("traffic", "raw", where={"hour": 7})) == 1
    assert len(catalog.list_partitions("traffic", "raw", where={"hour": "7"})) == 1


def test_commit_partitions_is_one_transaction(catalog: Catalog) -> None:
    _table(catalog)
    catalog.commit_partitions("traffic", "raw", upsert=[_part(2026, 11, 21, 1)])
    bad = Partition("traffic", "raw", ("2026", "11"), "raw/x/")  # wrong number of values
    with pytest.raises(CatalogError, match="has 2 values but the table has 4 partition keys"):
        catalog.commit_partitions(
            "traffic",
            "raw",
            upsert=[_part(2026, 11, 21, 2), bad],
            delete=[("2026", "11", "21", "1")],
            bookmark=("transform", {"version": 99}),
        )
    assert [p.values[3] for p in catalog.list_partitions("traffic", "raw")] == ["1"]
    assert catalog.current_version() == 1
    assert catalog.get_bookmark("transform") is None
    catalog.commit_partitions(
        "traffic", "raw", upsert=[_part(2026, 11, 21, 2)], bookmark=("transform", {"version": 2})
    )
    assert catalog.get_bookmark("transform") == {"version": 2}


def test_concurrent_writers_get_unique_increasing_versions(catalog_url: str) -> None:
    with open_catalog(catalog_url) as cat:
        _table(cat)
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
                        cat.commit_partitions("traffic", "raw", upsert=[_part(2026, 1, t + 1, i)])
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


def test_concurrent_start_crawl_exactly_one_wins(catalog_url: str) -> None:
    with open_catalog(catalog_url) as cat:
        cat.create_crawler(Crawler("raw", ["raw/"]))
    n = 6
    barrier = threading.Barrier(n)
    won: list[str] = []
    lost: list[BaseException] = []

    def start() -> None:
        with open_catalog(catalog_url) as cat:
            barrier.wait()
            try:
                won.append(cat.start_crawl("raw").id)
            except CrawlerRunningError as exc:
                lost.append(exc)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(won) == 1 and len(lost) == n - 1
    assert "crawler raw is already running" in str(lost[0])
    with open_catalog(catalog_url) as cat:
        c = cat.get_crawler("raw")
        assert c.state == "RUNNING" and c.last_crawl is not None and c.last_crawl.id == won[0]


def test_crawler_lifecycle(catalog: Catalog) -> None:
    c = catalog.create_crawler(Crawler("raw", ["raw/"], recrawl_policy="new_folders_only"))
    assert c.state == "READY" and c.last_crawl is None and c.created_at is not None
    with pytest.raises(CatalogError, match="already exists"):
        catalog.create_crawler(Crawler("raw", ["raw/"]))
    assert catalog.create_crawler(Crawler("raw", ["other/"]), exist_ok=True).targets == ["raw/"]
    with pytest.raises(CatalogError, match="delete_behavior"):
        catalog.create_crawler(Crawler("bad", ["x/"], delete_behavior="shred"))
    with pytest.raises(NoSuchCrawlerError, match="crawler nope not found"):
        catalog.get_crawler("nope")
    with pytest.raises(CrawlerNotRunningError):
        catalog.request_stop("raw")

    run = catalog.start_crawl("raw")
    with pytest.raises(CrawlerRunningError):
        catalog.start_crawl("raw")
    catalog.request_stop("raw")
    assert catalog.get_crawler("raw").state == "STOPPING"
    with pytest.raises(CrawlerRunningError):
        catalog.start_crawl("raw")
    run.status = "CANCELLED"
    run.partitions_added = 3
    run.messages = ["stopped on request"]
    catalog.finish_crawl(run)
    c = catalog.get_crawler("raw")
    assert c.state == "READY" and c.last_crawl is not None
    assert (c.last_crawl.status, c.last_crawl.partitions_added, c.last_crawl.messages) == (
        "CANCELLED",
        3,
        ["stopped on request"],
    )
    assert c.last_crawl.ended_at is not None

    run2 = catalog.start_crawl("raw")
    run2.status, run2.error_message = "FAILED", "boom"
    catalog.finish_crawl(run2)
    assert [r.status for r in catalog.list_crawl_runs("raw")] == ["FAILED", "CANCELLED"]
    assert catalog.get_crawler("raw").last_crawl.error_message == "boom"  # type: ignore[union-attr]

    c.targets = ["raw2/"]
    c.schema_change_policy = "log"
    catalog.update_crawler(c)
    assert catalog.get_crawler("raw").targets == ["raw2/"]
    assert [x.name for x in catalog.list_crawlers()] == ["raw"]


def test_bookmarks_job_runs_executions_history(catalog: Catalog) -> None:
    assert catalog.get_bookmark("t") is None
    catalog.put_bookmark("t", {"version": 3, "days": ["2026-11-21"]})
    catalog.put_bookmark("t", {"version": 4})
    assert catalog.get_bookmark("t") == {"version": 4}
    catalog.reset_bookmark("t")
    assert catalog.get_bookmark("t") is None

    r1 = catalog.create_job_run(JobRun("r1", "transform", arguments={"from": "2026-11-20"}))
    assert r1.started_at is not None and r1.owner
    catalog.create_job_run(JobRun("r2", "transform"))
    r1.state, r1.result = "SUCCEEDED", {"rows_written": 5}
    catalog.update_job_run(r1)
    assert catalog.get_job_run("r1").result == {"rows_written": 5}
    assert [r.id for r in catalog.list_job_runs("transform")] == ["r2", "r1"]
    with pytest.raises(NoSuchJobRunError, match="job run zz not found"):
        catalog.get_job_run("zz")
    with pytest.raises(NoSuchJobRunError):
        catalog.update_job_run(JobRun("zz", "x"))

    e = catalog.create_execution(Execution("", "etl", "run-1", input={"a": 1}))
    assert e.id == "etl:run-1"
    with pytest.raises(CatalogError, match="already exists"):
        catalog.create_execution(Execution("", "etl", "run-1"))
    e.status, e.output = "SUCCEEDED", {"ok": True}
    catalog.update_execution(e)
    assert catalog.get_execution("etl:run-1").output == {"ok": True}
    catalog.create_execution(Execution("", "other", "x"))
    assert [x.id for x in catalog.list_executions()] == ["other:x", "etl:run-1"]
    assert [x.id for x in catalog.list_executions(state_machine="etl", status="SUCCEEDED")] == [
        "etl:run-1"
    ]
    catalog.add_history_events(
        "etl:run-1",
        [
            HistoryEvent(2, "TaskStateEntered", 2.0, 1, {"name": "Crawl"}),
            HistoryEvent(1, "ExecutionStarted", 1.0, 0, {}),
        ],
    )
    assert [h.type for h in catalog.get_history("etl:run-1")] == [
        "ExecutionStarted",
        "TaskStateEntered",
    ]
    with pytest.raises(NoSuchExecutionError, match="execution nope not found"):
        catalog.get_history("nope")


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


def test_a_crawl_whose_process_died_is_taken_over(catalog_url: str) -> None:
    import subprocess
    import sys

    with open_catalog(catalog_url) as cat:
        cat.create_crawler(Crawler("raw", ["raw/"]))
    code = (
        "import sys; from trafficlake.catalog import open_catalog; "
        "c = open_catalog(sys.argv[1]); print(c.start_crawl('raw').id)"
    )
    dead = subprocess.run(
        [sys.executable, "-c", code, catalog_url], capture_output=True, text=True, check=True
    )
    dead_id = dead.stdout.strip()
    with open_catalog(catalog_url) as cat:
        assert cat.get_crawler("raw").state == "RUNNING"
        run = cat.start_crawl("raw")  # the owner process is gone: not CrawlerRunningError
        runs = {r.id: r for r in cat.list_crawl_runs("raw")}
        assert runs[dead_id].status == "FAILED" and "died" in (runs[dead_id].error_message or "")
        assert runs[run.id].status == "RUNNING"


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


def test_concurrent_writer_processes_lose_no_update(catalog_url: str) -> None:
    import subprocess
    import sys

    with open_catalog(catalog_url) as cat:
        _table(cat)
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
        _table(cat)
        cat.commit_partitions("traffic", "raw", upsert=[_part(2026, 11, 21, 7)])
        assert [t.full_name for t in cat.list_tables()] == ["traffic.raw"]
        assert cat.current_version() == 1

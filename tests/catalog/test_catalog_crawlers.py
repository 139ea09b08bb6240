"""CrawlerCatalog behaviour (definitions, state, runs), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from trafficlake.catalog import (
    AlreadyExistsError,
    Catalog,
    CatalogError,
    Crawler,
    CrawlerNotRunningError,
    CrawlerRunningError,
    NoSuchCrawlerError,
    open_catalog,
)


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
    with pytest.raises(AlreadyExistsError, match="already exists"):
        catalog.create_crawler(Crawler("raw", ["raw/"]))
    assert catalog.create_crawler(Crawler("raw", ["other/"]), exist_ok=True).targets == ["raw/"]
    with pytest.raises(CatalogError, match="delete_behavior"):
        catalog.create_crawler(Crawler("bad", ["x/"], delete_behavior="shred"))
    for target in ("../etc", "raw/../../x"):
        with pytest.raises(CatalogError, match=f"crawler bad: target '{target}' escapes the lake"):
            catalog.create_crawler(Crawler("bad", ["raw/", target]))
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


def test_delete_crawler_refuses_a_running_one_and_drops_its_runs(catalog: Catalog) -> None:
    catalog.create_crawler(Crawler("c", ["raw/"]))
    run = catalog.start_crawl("c")
    with pytest.raises(CrawlerRunningError, match="Crawler c is running"):
        catalog.delete_crawler("c")
    catalog.request_stop("c")
    with pytest.raises(CrawlerRunningError, match="Crawler c is stopping"):
        catalog.delete_crawler("c")
    run.status = "CANCELLED"
    catalog.finish_crawl(run)
    catalog.delete_crawler("c")
    with pytest.raises(NoSuchCrawlerError):
        catalog.delete_crawler("c")
    assert catalog.create_crawler(Crawler("c", ["raw/"])).last_crawl is None  # no old runs

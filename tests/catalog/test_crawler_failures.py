"""A crawl that cannot even start, or dies unexpectedly, never leaves its crawler RUNNING."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from trafficlake.catalog.crawler import ensure_default_crawlers, run_crawler, start_crawler
from trafficlake.config import load_settings
from trafficlake.errors import StorageError

DAY = (2026, 11, 21)
CrawlEnv = Any  # tests/catalog/conftest.py: settings, catalog, lake, raw (RawLakeWriter)


def _file_lake_settings(tmp_path: Path, catalog_url: str) -> Any:
    (tmp_path / "lakefile").write_text("a file, not a folder")
    return load_settings(
        None,
        overrides={"catalog": {"url": catalog_url}, "lake": {"url": str(tmp_path / "lakefile")}},
    )


def test_start_crawler_with_unusable_lake_raises_and_starts_nothing(
    crawl_env: CrawlEnv, catalog_url: str, tmp_path: Path
) -> None:
    bad = _file_lake_settings(tmp_path, catalog_url)
    with pytest.raises(StorageError, match="exists and is not a folder"):
        start_crawler(bad, "raw")
    with pytest.raises(StorageError, match="exists and is not a folder"):
        run_crawler(bad, "raw")
    with pytest.raises(StorageError, match="exists and is not a folder"):
        run_crawler(bad, "raw", catalog=crawl_env.catalog)
    time.sleep(0.2)  # a background thread, had one been started, would have run by now
    c = crawl_env.catalog.get_crawler("raw")
    assert c.state == "READY"
    assert c.last_crawl is None


def test_unexpected_interrupt_ends_the_run_failed(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    env.raw.write_hour(env.lake, *DAY, 1)
    ensure_default_crawlers(env.catalog, env.settings)

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_crawler(env.settings, "raw", catalog=env.catalog, lake=env.lake, progress=interrupt)
    c = env.catalog.get_crawler("raw")
    assert c.state == "READY"
    assert c.last_crawl is not None and c.last_crawl.status == "FAILED"
    assert "KeyboardInterrupt" in (c.last_crawl.error_message or "")
    assert env.catalog.list_tables() == []


def test_background_crawl_ends_failed_when_the_lake_breaks(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    env.raw.write_hour(env.lake, *DAY, 1)
    ensure_default_crawlers(env.catalog, env.settings)
    (Path(env.lake.root) / "raw").rename(Path(env.lake.root) / "raw-moved")
    (Path(env.lake.root) / "raw").write_text("now a file")
    run = start_crawler(env.settings, "raw")
    deadline = time.time() + 30
    while env.catalog.get_crawler("raw").state != "READY" and time.time() < deadline:
        time.sleep(0.05)
    c = env.catalog.get_crawler("raw")
    assert c.state == "READY"
    assert c.last_crawl is not None and c.last_crawl.id == run.id
    assert c.last_crawl.status == "FAILED"
    assert "Not a directory" in (c.last_crawl.error_message or "")

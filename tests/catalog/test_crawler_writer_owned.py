"""A table owned by a writer (parameter ``writer``) is never rewritten by a crawl: files in
its partition folders that no catalog commit lists (a transform that died between moving its
files and committing) are not published."""

from __future__ import annotations

from typing import Any

from trafficlake.catalog import Column, DataFile, Partition, Table
from trafficlake.catalog.crawler import run_crawler
from trafficlake.catalog.inference import hive_type

DAY = (2026, 11, 21)
CrawlEnv = Any  # tests/catalog/conftest.py: settings, catalog, lake, raw (RawLakeWriter)


def _writer_table(env: CrawlEnv, writer: str | None) -> Table:
    """``traffic.transformed`` created and committed the way a writer does: table, then ONE
    ``commit_partitions`` listing the files it wrote."""
    sample = env.raw.raw_table(*DAY, 1)
    params = {"classification": "parquet"} | ({"writer": writer} if writer else {})
    table = Table(
        database="traffic",
        name="transformed",
        columns=[Column(f.name, hive_type(f.type)) for f in sample.schema],
        partition_keys=[Column(k, "int") for k in ("year", "month", "day", "hour")],
        location="transformed/",
        format="parquet",
        parameters=params,
    )
    env.catalog.create_database("traffic", exist_ok=True)
    env.catalog.create_table(table)
    upsert = []
    for h in (1, 2):
        key = env.raw.write_hour(env.lake, *DAY, h, prefix="transformed")
        size = len(env.lake.read_bytes(key))
        rows = env.raw.raw_table(*DAY, h).num_rows
        upsert.append(
            Partition(
                "traffic",
                "transformed",
                tuple(str(v) for v in (*DAY, h)),
                env.raw.hour_key(*DAY, h, prefix="transformed"),
                [DataFile(key, size, rows)],
                row_count=rows,
                size_bytes=size,
            )
        )
    env.catalog.commit_partitions("traffic", "transformed", upsert=upsert)
    return env.catalog.get_table("traffic", "transformed")


def _state(env: CrawlEnv) -> list[tuple[tuple[str, ...], int, list[str]]]:
    parts = env.catalog.list_partitions("traffic", "transformed", include_deprecated=True)
    return sorted((p.values, p.version, [f.key for f in p.files]) for p in parts)


def test_crawl_leaves_writer_owned_partitions_as_committed(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    table = _writer_table(env, "trafficlake.transform")
    before = _state(env)
    # Uncommitted output: moved to its final key, but the writer died before its commit.
    env.raw.write_hour(env.lake, *DAY, 1, prefix="transformed")
    env.raw.write_hour(env.lake, *DAY, 3, prefix="transformed")
    run = run_crawler(env.settings, "transformed", catalog=env.catalog, lake=env.lake)
    assert run.status == "SUCCEEDED", run.error_message
    assert (run.partitions_added, run.partitions_updated, run.partitions_removed) == (0, 0, 0)
    assert any("writer=trafficlake.transform" in m for m in run.messages), run.messages
    assert _state(env) == before
    assert env.catalog.get_table("traffic", "transformed") == table


def test_crawler_owned_table_still_picks_up_new_files(crawl_env: CrawlEnv) -> None:
    """The same layout without the ``writer`` parameter is the crawler's to maintain."""
    env = crawl_env
    _writer_table(env, None)
    env.raw.write_hour(env.lake, *DAY, 1, prefix="transformed")
    run = run_crawler(env.settings, "transformed", catalog=env.catalog, lake=env.lake)
    assert run.status == "SUCCEEDED", run.error_message
    files = {
        p.values[-1]: len(p.files) for p in env.catalog.list_partitions("traffic", "transformed")
    }
    assert files == {"1": 2, "2": 1}

"""Crawler behaviour over real Parquet/JSON files, on SQLite and PostgreSQL catalogs."""

from __future__ import annotations

import gzip
import json
import os
import time
from dataclasses import replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from trafficlake.catalog import CrawlerRunningError, Partition
from trafficlake.catalog.crawler import (
    ensure_default_crawlers,
    run_crawler,
    start_crawler,
    stop_crawler,
)
from trafficlake.schema import RAW_SCHEMA
from trafficlake.storage import FileEntry, Lake

DAY = (2026, 11, 21)
CrawlEnv = Any  # tests/catalog/conftest.py: settings, catalog, lake, raw (RawLakeWriter)


def _crawl(env: CrawlEnv, name: str = "raw", lake: Lake | None = None):  # type: ignore[no-untyped-def]
    return run_crawler(env.settings, name, catalog=env.catalog, lake=lake or env.lake)


def _versions(env: CrawlEnv, table: str = "raw") -> dict[tuple[str, ...], int]:
    return {
        p.values: p.version
        for p in env.catalog.list_partitions("traffic", table, include_deprecated=True)
    }


def _assert_totals(env: CrawlEnv, table: str = "raw") -> None:
    live = env.catalog.list_partitions("traffic", table)
    params = env.catalog.get_table("traffic", table).parameters
    assert params["recordCount"] == str(sum(p.row_count or 0 for p in live))
    assert params["sizeKey"] == str(sum(p.size_bytes for p in live))
    assert params["objectCount"] == str(sum(len(p.files) for p in live))


def _set_policy(env: CrawlEnv, **kw: str) -> None:
    ensure_default_crawlers(env.catalog, env.settings)
    env.catalog.update_crawler(replace(env.catalog.get_crawler("raw"), **kw))


def test_first_crawl_builds_table_partitions_and_stats(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    keys = [env.raw.write_hour(env.lake, *DAY, h) for h in (7, 8, 10)]
    keys.append(env.raw.write_hour(env.lake, *DAY, 7, offset=5))
    env.lake.put_atomic("raw/year=2026/month=11/day=21/hour=7/.miv.tmp", b"partial")
    env.lake.put_atomic("raw/_staging/x.parquet", b"not parquet")
    seen: list[tuple[int, int]] = []
    run = run_crawler(
        env.settings,
        "raw",
        catalog=env.catalog,
        lake=env.lake,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert run.status == "SUCCEEDED", run.error_message
    assert (run.tables_created, run.partitions_added, run.partitions_updated) == (1, 3, 0)
    assert seen[-1] == (4, 4)

    t = env.catalog.get_table("traffic", "raw")
    assert [c.name for c in t.columns] == RAW_SCHEMA.names
    types = {c.name: c.type for c in t.columns}
    assert (
        types["unieke_id"],
        types["tijd_waarneming"],
        types["defect"],
        types["beschrijvende_id"],
    ) == ("int", "bigint", "tinyint", "string")
    assert [(k.name, k.type) for k in t.partition_keys] == [
        ("year", "int"),
        ("month", "int"),
        ("day", "int"),
        ("hour", "int"),
    ]
    assert t.location == "raw/" and t.format == "parquet"
    total_rows = sum(pq.read_metadata(env.lake.path(k)).num_rows for k in keys)
    assert t.parameters["classification"] == "parquet"
    assert t.parameters["recordCount"] == str(total_rows)
    assert t.parameters["objectCount"] == "4"

    parts = env.catalog.list_partitions("traffic", "raw")
    assert [p.values for p in parts] == [("2026", "11", "21", h) for h in ("7", "8", "10")]
    p7 = parts[0]
    assert p7.location == env.raw.hour_key(*DAY, 7)
    assert sorted(f.key for f in p7.files) == sorted(k for k in keys if "/hour=7/" in k)
    data = pa.concat_tables([pq.read_table(env.lake.path(f.key)) for f in p7.files])
    assert p7.row_count == data.num_rows
    assert p7.size_bytes == sum(os.path.getsize(env.lake.path(f.key)) for f in p7.files)
    mm = pc.min_max(data["tijd_waarneming"]).as_py()
    assert p7.stats == {
        "tijd_waarneming": (mm["min"], mm["max"]),
        # the event-time range of current rows apart from stale republishes (none here)
        "tijd_waarneming@current": (mm["min"], mm["max"]),
        "tijd_waarneming@stale": (None, None),
    }
    c = env.catalog.get_crawler("raw")
    assert c.state == "READY" and c.last_crawl is not None and c.last_crawl.id == run.id


def test_second_crawl_without_changes_changes_nothing(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    for h in (1, 2):
        env.raw.write_hour(env.lake, *DAY, h)
    assert _crawl(env).status == "SUCCEEDED"
    before, version = _versions(env), env.catalog.current_version()
    table_before = env.catalog.get_table("traffic", "raw")
    run = _crawl(env)
    assert run.status == "SUCCEEDED"
    assert (
        run.partitions_added,
        run.partitions_updated,
        run.partitions_removed,
        run.tables_updated,
    ) == (0, 0, 0, 0)
    assert _versions(env) == before and env.catalog.current_version() == version
    assert env.catalog.get_table("traffic", "raw").updated_at == table_before.updated_at


@pytest.mark.parametrize("policy", ["everything", "new_folders_only"])
def test_new_hour_folders_become_partitions(crawl_env: CrawlEnv, policy: str) -> None:
    env = crawl_env
    _set_policy(env, recrawl_policy=policy)
    env.raw.write_hour(env.lake, *DAY, 1)
    _crawl(env)
    v1 = env.catalog.current_version()
    env.raw.write_hour(env.lake, *DAY, 2)
    env.raw.write_hour(env.lake, 2026, 11, 22, 0)
    run = _crawl(env)
    assert run.status == "SUCCEEDED" and run.partitions_added == 2
    changed = env.catalog.list_partitions("traffic", "raw", changed_since=v1)
    assert [p.values for p in changed] == [("2026", "11", "21", "2"), ("2026", "11", "22", "0")]
    assert env.catalog.get_partition("traffic", "raw", ["2026", "11", "21", "1"]).version <= v1
    _assert_totals(env)


def test_changed_file_set_reupserts_partition(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    env.raw.write_hour(env.lake, *DAY, 3)
    env.raw.write_hour(env.lake, *DAY, 4)
    _crawl(env)
    before = _versions(env)
    added = env.raw.write_hour(env.lake, *DAY, 3, offset=30)
    run = _crawl(env)
    assert (run.partitions_added, run.partitions_updated) == (0, 1)
    after = _versions(env)
    h3 = ("2026", "11", "21", "3")
    assert (
        after[h3] > before[h3]
        and after[("2026", "11", "21", "4")] == before[("2026", "11", "21", "4")]
    )
    p3 = env.catalog.get_partition("traffic", "raw", h3)
    assert added in [f.key for f in p3.files] and len(p3.files) == 2
    late = env.raw.raw_table(*DAY, 3, offset=30)
    assert p3.stats["tijd_waarneming"][1] == pc.max(late["tijd_waarneming"]).as_py()
    assert p3.row_count == sum(f.row_count or 0 for f in p3.files)


@pytest.mark.parametrize("policy", ["update", "log"])
def test_added_column_updates_table_only_under_update(crawl_env: CrawlEnv, policy: str) -> None:
    env = crawl_env
    _set_policy(env, schema_change_policy=policy)
    env.raw.write_hour(env.lake, *DAY, 5)
    _crawl(env)
    wide = env.raw.raw_table(*DAY, 6).append_column(
        "kwaliteit", pa.array([1.5] * env.raw.raw_table(*DAY, 6).num_rows)
    )
    env.raw.write_parquet(env.lake, env.raw.hour_key(*DAY, 6) + "wide.parquet", wide)
    run = _crawl(env)
    assert run.status == "SUCCEEDED" and run.partitions_added == 1
    cols = [c.name for c in env.catalog.get_table("traffic", "raw").columns]
    if policy == "update":
        assert cols == [*RAW_SCHEMA.names, "kwaliteit"] and run.tables_updated == 1
        assert any("added column kwaliteit double" in m for m in run.messages)
    else:
        assert cols == RAW_SCHEMA.names and run.tables_updated == 0
        assert any(
            "not applied" in m and "kwaliteit" in m and "wide.parquet" in m for m in run.messages
        )


def test_int_types_widen(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    env.raw.write_hour(env.lake, *DAY, 5)
    narrow = env.raw.raw_table(*DAY, 6).cast(
        RAW_SCHEMA.set(RAW_SCHEMA.get_field_index("lve_nr"), pa.field("lve_nr", pa.int64()))
    )
    env.raw.write_parquet(env.lake, env.raw.hour_key(*DAY, 6) + "a.parquet", narrow)
    run = _crawl(env)
    assert run.status == "SUCCEEDED", run.error_message
    types = {c.name: c.type for c in env.catalog.get_table("traffic", "raw").columns}
    assert types["lve_nr"] == "bigint"


@pytest.mark.parametrize("policy", ["everything", "new_folders_only"])
@pytest.mark.parametrize("behavior", ["delete", "deprecate", "log"])
def test_vanished_folder_per_delete_behavior(
    crawl_env: CrawlEnv, behavior: str, policy: str
) -> None:
    env = crawl_env
    _set_policy(env, delete_behavior=behavior, recrawl_policy=policy)
    for h in (1, 2, 3):
        env.raw.write_hour(env.lake, *DAY, h)
    _crawl(env)
    env.lake.delete_prefix(env.raw.hour_key(*DAY, 2))
    run = _crawl(env)
    assert run.status == "SUCCEEDED"
    _assert_totals(env)
    live = [p.values[3] for p in env.catalog.list_partitions("traffic", "raw")]
    every = {
        p.values[3]: p
        for p in env.catalog.list_partitions("traffic", "raw", include_deprecated=True)
    }
    if behavior == "delete":
        assert live == ["1", "3"] and set(every) == {"1", "3"} and run.partitions_removed == 1
    elif behavior == "deprecate":
        assert live == ["1", "3"] and every["2"].deprecated and run.partitions_removed == 1
        env.raw.write_hour(env.lake, *DAY, 2)  # it comes back
        again = _crawl(env)
        assert again.partitions_updated == 1
        _assert_totals(env)
        assert [p.values[3] for p in env.catalog.list_partitions("traffic", "raw")] == [
            "1",
            "2",
            "3",
        ]
    else:
        assert live == ["1", "2", "3"] and run.partitions_removed == 0
        assert any("hour=2/ vanished" in m for m in run.messages)


def test_unusable_files_are_skipped_and_reported_not_failing_the_target(
    crawl_env: CrawlEnv,
) -> None:
    """A corrupt, a zero-byte, a foreign and an other-format file (a Firehose error object
    under ``raw/``) are skipped with their reasons; every usable file is still registered."""
    env = crawl_env
    env.raw.write_hour(env.lake, *DAY, 1)
    _crawl(env)
    env.raw.write_hour(env.lake, *DAY, 2)
    corrupt = env.raw.hour_key(*DAY, 3) + "broken.parquet"
    env.lake.put_atomic(corrupt, b"PAR1 this is not a parquet file at all PAR1")
    empty = env.raw.hour_key(*DAY, 2) + "empty.parquet"
    env.lake.put_atomic(empty, b"")
    foreign = env.raw.hour_key(*DAY, 2) + "notes.txt"
    env.lake.put_atomic(foreign, b"hello")
    error_object = env.raw.hour_key(*DAY, 1) + "miv-1-2026-11-21-01-00-00-x.json"
    env.lake.put_atomic(error_object, b'{"errorCode": "x", "rawData": "eA=="}\n')
    run = _crawl(env)
    assert run.status == "SUCCEEDED", run.error_message
    [note] = [m for m in run.messages if "unusable" in m]
    assert note.startswith("traffic.raw: skipped 4 unusable file(s): ")
    for key, reason in [
        (corrupt, "cannot read Parquet file"),
        (empty, "(empty file)"),
        (foreign, "(neither Parquet nor JSON lines)"),
        (error_object, "(json in a parquet table)"),
    ]:
        assert key in note and reason in note
    parts = {p.values: p for p in env.catalog.list_partitions("traffic", "raw")}
    assert sorted(parts) == [("2026", "11", "21", "1"), ("2026", "11", "21", "2")]
    assert all(f.key.endswith(".parquet") and f.size > 0 for p in parts.values() for f in p.files)
    c = env.catalog.get_crawler("raw")
    assert c.state == "READY" and c.last_crawl is not None and c.last_crawl.status == "SUCCEEDED"
    assert note in c.last_crawl.messages
    from typer.testing import CliRunner

    from trafficlake.cli import app

    shown = CliRunner().invoke(
        app,
        ["crawler", "status", "raw"],
        env={"TRAFFICLAKE_CATALOG__URL": env.settings.catalog_url, "COLUMNS": "400"},
    )
    assert shown.exit_code == 0, shown.output
    assert "note: traffic.raw: skipped 4 unusable file(s): " in shown.output
    assert "(empty file)" in shown.output
    env.raw.write_hour(env.lake, *DAY, 4)  # later crawls still register new data
    assert _crawl(env).status == "SUCCEEDED"
    assert ("2026", "11", "21", "4") in _versions(env)


def test_incompatible_types_reported_by_column_and_file(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    env.raw.write_hour(env.lake, *DAY, 1)
    t = env.raw.raw_table(*DAY, 2)
    i = t.schema.get_field_index("tijd_waarneming")
    t = t.set_column(i, "tijd_waarneming", pc.cast(t["tijd_waarneming"], pa.string()))
    bad = env.raw.write_parquet(env.lake, env.raw.hour_key(*DAY, 2) + "strings.parquet", t)
    run = _crawl(env)
    assert run.status == "FAILED"
    assert "column tijd_waarneming" in (run.error_message or "") and bad in (
        run.error_message or ""
    )
    assert "string" in (run.error_message or "") and "bigint" in (run.error_message or "")
    assert env.catalog.list_tables() == []


class RecordingLake(Lake):
    """A real local lake that records which prefixes were listed."""

    listed: list[str]

    def list(self, prefix: str = "", *, recursive: bool = True) -> list[FileEntry]:  # type: ignore[override]
        self.listed.append(prefix)
        return super().list(prefix, recursive=recursive)


def test_new_folders_only_never_touches_known_partitions(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    _set_policy(env, recrawl_policy="new_folders_only")
    keys = {h: env.raw.write_hour(env.lake, *DAY, h) for h in (1, 2)}
    _crawl(env)
    before = _versions(env)
    # corrupt a known partition's file: a crawl that read it would fail
    with open(env.lake.path(keys[1]), "r+b") as f:
        f.seek(-12, os.SEEK_END)
        f.write(b"garbage!!!!!")
    env.raw.write_hour(env.lake, *DAY, 3)
    lake = RecordingLake(env.lake.fs, env.lake.root, env.lake.url)
    lake.listed = []
    run = _crawl(env, lake=lake)
    assert run.status == "SUCCEEDED", run.error_message
    assert run.partitions_added == 1
    assert lake.listed == [env.raw.hour_key(*DAY, 3).rstrip("/")]
    after = _versions(env)
    assert {k: after[k] for k in before} == before


def test_everything_rereads_only_changed_files(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    keys = {h: env.raw.write_hour(env.lake, *DAY, h) for h in (1, 2)}
    _crawl(env)
    # same size, old mtime, unreadable content: an unchanged file must not be re-read
    path = env.lake.path(keys[1])
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.seek(-12, os.SEEK_END)
        f.write(b"garbage!!!!!")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert _crawl(env).status == "SUCCEEDED"
    # a newer mtime marks it changed: now it is read, found corrupt, skipped and reported;
    # its partition has no usable file left, so it is treated as gone
    os.utime(path, (time.time() + 5, time.time() + 5))
    run = _crawl(env)
    assert run.status == "SUCCEEDED" and any(keys[1] in m for m in run.messages)
    assert [p.values[-1] for p in env.catalog.list_partitions("traffic", "raw")] == ["2"]


def test_non_hive_folders_and_json_lines(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    env.catalog.create_crawler(
        replace_crawler := __import__("trafficlake.catalog", fromlist=["Crawler"]).Crawler(
            "errors", ["errors/format-conversion-failed/"], database="traffic"
        )
    )
    del replace_crawler
    rows = [
        {"errorCode": "X", "rawData": "abc", "attempts": 1},
        {"errorCode": "Y", "rawData": "d", "attempts": 2},
    ]
    body = "\n".join(json.dumps(r) for r in rows).encode()
    env.lake.put_atomic("errors/format-conversion-failed/2026-11-21/a.json", body)
    env.lake.put_atomic("errors/format-conversion-failed/2026-11-22/a.json.gz", gzip.compress(body))
    run = _crawl(env, "errors")
    assert run.status == "SUCCEEDED", run.error_message
    # named as Glue names tables after folders: "-" becomes "_"
    t = env.catalog.get_table("traffic", "format_conversion_failed")
    assert t.format == "json" and [(k.name, k.type) for k in t.partition_keys] == [
        ("partition_0", "string")
    ]
    assert {c.name: c.type for c in t.columns} == {
        "errorCode": "string",
        "rawData": "string",
        "attempts": "bigint",
    }
    assert [p.values for p in env.catalog.list_partitions("traffic", t.name)] == [
        ("2026-11-21",),
        ("2026-11-22",),
    ]
    assert [p.row_count for p in env.catalog.list_partitions("traffic", t.name)] == [2, 2]
    from trafficlake.query import run_query

    res = run_query(
        env.settings,
        "SELECT partition_0, sum(attempts) FROM traffic.format_conversion_failed GROUP BY 1 ORDER BY 1",
        catalog=env.catalog,
        lake=env.lake,
    )
    assert res.rows == [("2026-11-21", 3), ("2026-11-22", 3)]
    env.lake.put_atomic(
        "errors/format-conversion-failed/2026-11-23/b.json", b'{"errorCode": "Z"}\n{broken\n'
    )
    run = _crawl(env, "errors")  # a broken JSON-lines file is skipped, with its line
    assert run.status == "SUCCEEDED"
    assert any("2026-11-23/b.json: line 2" in m for m in run.messages)
    assert len(env.catalog.list_partitions("traffic", t.name)) == 2


def test_stop_request_cancels_without_publishing(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    for h in (1, 2):
        env.raw.write_hour(env.lake, *DAY, h)
    ensure_default_crawlers(env.catalog, env.settings)

    def stop_on_first(done: int, total: int) -> None:
        if done == 0:
            stop_crawler(env.settings, "raw")

    run = run_crawler(
        env.settings, "raw", catalog=env.catalog, lake=env.lake, progress=stop_on_first
    )
    assert run.status == "CANCELLED"
    assert env.catalog.list_tables() == []
    assert env.catalog.get_crawler("raw").state == "READY"


def test_start_crawler_in_background_and_running_error(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    env.raw.write_hour(env.lake, *DAY, 1)
    run = start_crawler(env.settings, "raw")
    assert run.status == "RUNNING"
    deadline = time.time() + 30
    while env.catalog.get_crawler("raw").state != "READY" and time.time() < deadline:
        time.sleep(0.05)
    c = env.catalog.get_crawler("raw")
    assert (
        c.last_crawl is not None
        and c.last_crawl.id == run.id
        and c.last_crawl.status == "SUCCEEDED"
    )
    assert len(env.catalog.list_partitions("traffic", "raw")) == 1
    held = env.catalog.start_crawl("raw")
    with pytest.raises(CrawlerRunningError):
        start_crawler(env.settings, "raw")
    with pytest.raises(CrawlerRunningError):
        run_crawler(env.settings, "raw", catalog=env.catalog)
    held.status = "SUCCEEDED"
    env.catalog.finish_crawl(held)


def test_ensure_default_crawlers(crawl_env: CrawlEnv) -> None:
    ensure_default_crawlers(crawl_env.catalog, crawl_env.settings)
    ensure_default_crawlers(crawl_env.catalog, crawl_env.settings)
    crawlers = {c.name: c for c in crawl_env.catalog.list_crawlers()}
    assert set(crawlers) == {"raw", "transformed"}
    assert (
        crawlers["transformed"].targets == ["transformed/"]
        and crawlers["raw"].database == "traffic"
    )
    crawl_env.raw.write_hour(crawl_env.lake, *DAY, 1, prefix="transformed")
    assert _crawl(crawl_env, "transformed").status == "SUCCEEDED"
    assert [t.full_name for t in crawl_env.catalog.list_tables()] == ["traffic.transformed"]


def test_partition_stats_drive_overlapping(crawl_env: CrawlEnv) -> None:
    env = crawl_env
    for h in (1, 2, 3):
        env.raw.write_hour(env.lake, *DAY, h)
    _crawl(env)
    lo = env.raw.hour_start(*DAY, 2) + 30
    got = env.catalog.list_partitions(
        "traffic", "raw", overlapping=("tijd_waarneming", lo, lo + 10)
    )
    assert [p.values[3] for p in got] == ["2"]
    assert isinstance(got[0], Partition)

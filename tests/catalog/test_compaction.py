"""Raw compaction: closed partitions' small files -> one file, swapped in through the catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli_runner import run_cli
from trafficlake.catalog import CrawlerRunningError
from trafficlake.catalog.compaction import compact_table
from trafficlake.catalog.crawler import ensure_default_crawlers, run_crawler
from trafficlake.catalog.names import RAW
from trafficlake.config import Settings
from trafficlake.storage import Lake

CrawlEnv = Any  # tests/catalog/conftest.py: settings, catalog, lake, raw (RawLakeWriter)
HOURS = (5, 6, 7)
FILES_PER_HOUR = 4
AFTER = 1_800_000_000.0
"""A 'now' in 2027: every 2026 hour below has settled."""


def _land(env: CrawlEnv) -> None:
    for h in HOURS:
        for i in range(FILES_PER_HOUR):
            env.raw.write_hour(env.lake, 2026, 11, 21, h, offset=2 * i)
    ensure_default_crawlers(env.catalog, env.settings)
    assert run_crawler(env.settings, "raw", catalog=env.catalog).status == "SUCCEEDED"


def _partition_rows(lake: Lake, keys: list[str]) -> pa.Table:
    """The rows of these files in this order, as one table."""
    return pa.concat_tables(
        pq.ParquetFile(lake.fs.open_input_file(lake.path(k))).read() for k in keys
    )


def _codec(lake: Lake, key: str) -> str:
    meta = pq.ParquetFile(lake.fs.open_input_file(lake.path(key))).metadata
    return str(meta.row_group(0).column(0).compression)


def _compact(env: CrawlEnv, **kw: Any) -> Any:
    kw.setdefault("now", AFTER)
    return compact_table(
        env.catalog, env.lake, RAW, stats_columns=list(env.settings.catalog.stats_columns), **kw
    )


def test_compaction_keeps_rows_order_stats_and_codec_in_one_file(crawl_env: CrawlEnv) -> None:
    _land(crawl_env)
    lake, cat = crawl_env.lake, crawl_env.catalog
    before = {p.values: p for p in cat.list_partitions(*RAW)}
    rows_before = {v: _partition_rows(lake, [f.key for f in p.files]) for v, p in before.items()}
    codecs = {v: _codec(lake, p.files[0].key) for v, p in before.items()}
    assert set(codecs.values()) == {"SNAPPY"}  # pyarrow's default, as the test files are written

    done = _compact(crawl_env)

    assert (done.partitions, done.files_before, done.files_after) == (3, 12, 3)
    assert done.rows == sum(t.num_rows for t in rows_before.values()) and not done.skipped
    after = {p.values: p for p in cat.list_partitions(*RAW)}
    assert set(after) == set(before)
    for values, part in after.items():
        old = before[values]
        assert len(part.files) == 1 and "/compacted-" in part.files[0].key
        assert part.version > old.version
        assert part.row_count == old.row_count == part.files[0].row_count
        assert part.stats == old.stats  # event-time ranges, current/stale split included
        new_file = pq.ParquetFile(lake.fs.open_input_file(lake.path(part.files[0].key)))
        assert new_file.read().equals(rows_before[values])  # same rows, same order
        assert new_file.metadata.row_group(0).column(0).compression == codecs[values]
    # the lake holds exactly the catalog's files: the old ones are gone, nothing is staged
    listed = sorted(e.key for e in lake.list("raw"))
    assert listed == sorted(p.files[0].key for p in after.values())
    assert not lake.list_dirs("raw/_compaction/")
    # a full crawl afterwards finds nothing to change: the catalog matches the lake
    crawl = run_crawler(crawl_env.settings, "raw", catalog=cat)
    assert crawl.status == "SUCCEEDED"
    assert (crawl.partitions_added, crawl.partitions_updated, crawl.partitions_removed) == (0, 0, 0)
    # the compaction is on record as a run of the crawler it held
    runs = cat.list_crawl_runs("raw")
    compaction = next(r for r in runs if r.id != crawl.id and r.partitions_updated == 3)
    assert compaction.status == "SUCCEEDED"
    assert compaction.messages[0].startswith(f"compaction {done.run_id}: 3 partition(s), 12 file")


def test_unsettled_small_and_dry_runs_are_left_alone(crawl_env: CrawlEnv) -> None:
    _land(crawl_env)
    lake = crawl_env.lake
    crawl_env.raw.write_hour(lake, 2026, 11, 21, 9)  # one file: nothing to compact
    assert run_crawler(crawl_env.settings, "raw", catalog=crawl_env.catalog).status == "SUCCEEDED"
    files_before = [e.key for e in lake.list("raw")]
    hour_7_end = crawl_env.raw.hour_start(2026, 11, 21, 8)

    dry = _compact(crawl_env, dry_run=True)
    assert (dry.partitions, dry.files_before, dry.files_after) == (3, 12, 3)
    assert [e.key for e in lake.list("raw")] == files_before

    # an hour that ended 10 minutes ago may still get deliveries (settle: one hour)
    done = _compact(crawl_env, now=hour_7_end + 600, min_files=4)
    assert done.partitions == 2
    assert done.skipped == [
        "raw/year=2026/month=11/day=21/hour=7/: its period has not settled yet "
        "(deliveries may still add to it)"
    ]
    assert len(crawl_env.catalog.get_partition(*RAW, ("2026", "11", "21", "7")).files) == 4
    assert len(crawl_env.catalog.get_partition(*RAW, ("2026", "11", "21", "9")).files) == 1
    with pytest.raises(ValueError, match="at least 2"):
        _compact(crawl_env, min_files=1)


def test_a_partition_whose_files_differ_in_schema_is_left_alone(crawl_env: CrawlEnv) -> None:
    _land(crawl_env)
    lake = crawl_env.lake
    odd = crawl_env.raw.raw_table(2026, 11, 21, 6, offset=30)
    odd = odd.append_column("extra", pa.array(["x"] * odd.num_rows))
    crawl_env.raw.write_parquet(lake, "raw/year=2026/month=11/day=21/hour=6/zz-odd.parquet", odd)
    assert run_crawler(crawl_env.settings, "raw", catalog=crawl_env.catalog).status == "SUCCEEDED"

    done = _compact(crawl_env)
    assert done.partitions == 2
    assert len(done.skipped) == 1
    assert done.skipped[0].startswith("raw/year=2026/month=11/day=21/hour=6/: its files differ")
    assert len(crawl_env.catalog.get_partition(*RAW, ("2026", "11", "21", "6")).files) == 5
    assert not lake.list_dirs("raw/_compaction/")


def test_a_partition_with_an_unreadable_file_is_left_alone(crawl_env: CrawlEnv) -> None:
    _land(crawl_env)
    lake = crawl_env.lake
    part = crawl_env.catalog.get_partition(*RAW, ("2026", "11", "21", "7"))
    broken = part.files[1].key  # damaged after the crawl catalogued it
    lake.put_atomic(broken, b"PAR1 not really parquet PAR1")

    done = _compact(crawl_env)
    assert done.partitions == 2
    assert len(done.skipped) == 1
    assert done.skipped[0].startswith(f"{part.location}: cannot read {broken}: ")
    assert [f.key for f in crawl_env.catalog.get_partition(*RAW, part.values).files] == [
        f.key for f in part.files
    ]
    assert not lake.list_dirs("raw/_compaction/")


def test_compaction_waits_for_a_running_crawl(crawl_env: CrawlEnv) -> None:
    _land(crawl_env)
    crawl_env.catalog.start_crawl("raw")
    with pytest.raises(CrawlerRunningError):
        _compact(crawl_env)
    assert len(crawl_env.lake.list("raw")) == len(HOURS) * FILES_PER_HOUR


def _total_rows(env: CrawlEnv) -> int:
    keys = [f.key for p in env.catalog.list_partitions(*RAW) for f in p.files]
    assert len(keys) == len(set(keys))
    return sum(pq.ParquetFile(env.lake.fs.open_input_file(env.lake.path(k))).metadata.num_rows
               for k in keys)  # fmt: skip


def test_killed_before_its_commit_the_next_crawl_drops_the_new_file(
    crawl_env: CrawlEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    _land(crawl_env)
    rows = _total_rows(crawl_env)
    cat = crawl_env.catalog

    def die(*a: Any, **kw: Any) -> int:
        raise KeyboardInterrupt  # killed between moving the new file in and the commit

    monkeypatch.setattr(cat, "commit_partitions", die)
    with pytest.raises(KeyboardInterrupt):
        _compact(crawl_env)
    monkeypatch.undo()
    # the new file is in the partition folder, unknown to the catalog, its manifest kept
    compacted = [e.key for e in crawl_env.lake.list("raw") if "/compacted-" in e.key]
    assert len(compacted) == 1
    assert cat.list_crawl_runs("raw")[0].status == "FAILED"

    crawl = run_crawler(crawl_env.settings, "raw", catalog=cat)
    assert crawl.status == "SUCCEEDED" and crawl.partitions_updated == 0
    assert not crawl_env.lake.exists(compacted[0])
    assert _total_rows(crawl_env) == rows  # published once, not twice
    assert not crawl_env.lake.list_dirs("raw/_compaction/")


def test_killed_after_its_commit_the_next_compaction_deletes_the_old_files(
    crawl_env: CrawlEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    _land(crawl_env)
    rows = _total_rows(crawl_env)
    lake = crawl_env.lake
    real_delete = Lake.delete

    def die_on_old(self: Lake, key: str) -> None:
        if "/compacted-" not in key and key.endswith(".parquet"):
            raise KeyboardInterrupt  # killed right after the commit
        real_delete(self, key)

    monkeypatch.setattr(Lake, "delete", die_on_old)
    with pytest.raises(KeyboardInterrupt):
        _compact(crawl_env)
    monkeypatch.undo()
    first = crawl_env.catalog.get_partition(*RAW, ("2026", "11", "21", "5"))
    assert len(first.files) == 1  # committed: readers see the new file only
    assert len(lake.list("raw/year=2026/month=11/day=21/hour=5")) == FILES_PER_HOUR + 1

    done = _compact(crawl_env)  # cleans up first, then does the other two hours
    assert done.partitions == 2
    assert len(lake.list("raw")) == len(HOURS)
    assert _total_rows(crawl_env) == rows


def test_compact_command(settings: Settings, tmp_path: Path, raw_writer: Any) -> None:
    lake = Lake.from_settings(settings)
    for i in range(3):
        raw_writer.write_hour(lake, 2026, 11, 21, 6, offset=2 * i)
    assert run_cli("crawler", "start", "raw", "--wait", cwd=tmp_path).returncode == 0

    dry = run_cli("catalog", "compact", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would compact 1 partition(s), 3 file(s) into 1" in dry.stdout
    done = run_cli("catalog", "compact", "traffic.raw", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["partitions"], report["files_before"], report["files_after"]) == (1, 3, 1)
    assert report["table"] == "traffic.raw" and report["dry_run"] is False
    bad = run_cli("catalog", "compact", "--min-files", "1", cwd=tmp_path)
    assert bad.returncode == 2 and "--min-files" in bad.stderr
    missing = run_cli("catalog", "compact", "traffic.nope", cwd=tmp_path)
    assert missing.returncode == 1 and "nope" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_compaction_as_a_workflow_task(settings: Settings, tmp_path: Path, raw_writer: Any) -> None:
    import dataclasses

    from trafficlake.workflow.library import run_workflow

    lake = Lake.from_settings(settings)
    for i in range(3):
        raw_writer.write_hour(lake, 2026, 11, 21, 6, offset=2 * i)
    assert run_crawler(settings, "raw").status == "SUCCEEDED"
    folder = tmp_path / "machines"
    folder.mkdir()
    for name, params in (
        ("compact", {"MinFiles": 3, "SettleMinutes": 0}),
        ("bad", {"MinFiles": 1}),
    ):
        task = {"Type": "Task", "Resource": "trafficlake:catalog.compact", "End": True}
        machine = {"StartAt": "Compact", "States": {"Compact": {**task, "Parameters": params}}}
        (folder / f"{name}.asl.json").write_text(json.dumps(machine))
    s = dataclasses.replace(
        settings, workflow=dataclasses.replace(settings.workflow, definitions_dir=str(folder))
    )
    bad = run_workflow(s, "bad", {})
    assert bad.status == "FAILED" and "MinFiles must be an integer >= 2" in (bad.cause or "")
    done = run_workflow(s, "compact", {})
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert done.output == {"Partitions": 1, "FilesBefore": 3, "FilesAfter": 1}
    assert len(lake.list("raw")) == 1

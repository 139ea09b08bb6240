"""Two transform runs started at once: exactly one runs, no file is orphaned or listed twice."""

from __future__ import annotations

import threading
from typing import Any

from transform_lakes import T0, LakeHarness, day_of, lane_rows

from trafficlake.transform import TransformRunningError, run_transform


def _lake_files(h: LakeHarness) -> set[str]:
    return {e.key for e in h.lake.list("transformed/") if "/_staging/" not in e.key}


def _catalog_files(h: LakeHarness) -> list[str]:
    with h.catalog() as cat:
        parts = cat.list_partitions("traffic", "transformed")
    return [f.key for p in parts for f in p.files]


def test_concurrent_starts_exclusive(tlake_any: LakeHarness) -> None:
    h = tlake_any
    lanes = [(uid, 1) for uid in range(1, 30)]
    h.land_and_crawl(lane_rows(lanes, range(T0, T0 + 3 * 3600, 60)))
    day = day_of(T0)
    refused = 0
    for _ in range(4):
        barrier = threading.Barrier(2)
        outcomes: list[Any] = []

        def start(barrier: threading.Barrier = barrier, outcomes: list[Any] = outcomes) -> None:
            barrier.wait()
            try:
                outcomes.append(run_transform(h.settings, start_day=day, end_day=day))
            except TransformRunningError as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=start) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        runs = [o for o in outcomes if not isinstance(o, Exception)]
        assert all(r.state == "SUCCEEDED" for r in runs), [r.error for r in runs]
        errors = [o for o in outcomes if isinstance(o, Exception)]
        refused += len(errors)
        for e in errors:
            assert "\n" not in str(e) and "still running" in str(e)
        listed = _catalog_files(h)
        assert len(listed) == len(set(listed))
        assert set(listed) == _lake_files(h)
    assert refused >= 1, "two starts at once never met: the test did not race"
    assert len(h.rows()) == 3 * 60  # one row per location-minute, none twice


def test_publish_is_compare_and_set(tlake_any: LakeHarness, monkeypatch: Any) -> None:
    """A partition that changes between publish's read and its commit fails the run; no file
    of that run is left behind and the other writer's state stands."""
    from trafficlake.catalog import PartitionChangedError
    from trafficlake.transform import commit

    h = tlake_any
    h.land_and_crawl(lane_rows([(1, 1), (2, 1)], range(T0, T0 + 3600, 60)))
    h.transform()
    day = day_of(T0)
    real_commit = commit.commit_catalog

    def other_writer_first(catalog: Any, table: Any, *args: Any) -> int:
        (part,) = catalog.list_partitions(*table, where={"hour": 0})
        catalog.commit_partitions(*table, upsert=[part])  # a new version of the same files
        return real_commit(catalog, table, *args)

    monkeypatch.setattr(commit, "commit_catalog", other_writer_first)
    run = run_transform(h.settings, start_day=day, end_day=day)
    assert run.state == "FAILED" and PartitionChangedError.__name__ in (run.error or "")
    assert "\n" not in (run.error or "")
    monkeypatch.undo()
    listed = _catalog_files(h)
    assert set(listed) == _lake_files(h) and len(listed) == len(set(listed))
    assert not h.lake.list_dirs("transformed/_staging/")
    assert len(h.rows()) == 60
    assert h.transform(start_day=day, end_day=day).state == "SUCCEEDED"
    assert set(_catalog_files(h)) == _lake_files(h)

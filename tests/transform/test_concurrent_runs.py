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

"""Roads benchmarks: what the analyst views cost next to the transform they follow.

(a) derive: a day of simulated Flanders (4,600 lanes x 1,440 minutes ~ 6.6M raw rows, plus one
    hour of look-back) landed, crawled and transformed (``run_transform --from D --to D``,
    timed: the baseline); then jams + detector health of that day derived
    (``trafficlake.roads.derive.derive --from D --to D``, timed); the two alternated, 5 rounds:
    best of each (and the median of the rounds' ratios, since load from elsewhere comes and
    goes). Target: <= 0.5x the transform.
(b) time-space: ``GET /api/roads/{road}/{direction}/timespace?day=D`` for the road with the
    most sections, answered in-process by the app (query, grid, JSON), best of 5.
    Target: < 0.5 s.
``--quick``: 300 lanes.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "transform"))

from transform_lakes import T0, LakeHarness, day_of  # noqa: E402

from bench.bench_transform import _harness, _land_day  # noqa: E402
from trafficlake.miv.locations import write_locations  # noqa: E402
from trafficlake.miv.simulator import Simulator  # noqa: E402
from trafficlake.roads.derive import derive  # noqa: E402
from trafficlake.transform import run_transform  # noqa: E402


def _timespace(tl: LakeHarness, day: str) -> tuple[float, str, int]:
    import warnings

    with warnings.catch_warnings():  # starlette's note about its httpx-based client
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from trafficlake.web import create_app

    with TestClient(create_app(tl.settings)) as client:
        roads = client.get("/api/roads").json()["roads"]
        road = max(roads, key=lambda r: len(r["sections"]))
        url = f"/api/roads/{road['road']}/{road['direction']}/timespace?day={day}"
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            r = client.get(url)
            best = min(best, time.perf_counter() - t0)
            assert r.status_code == 200, r.text
        return best, f"{road['road']} {road['direction']}", len(road["sections"])


def run(quick: bool) -> list[dict[str, Any]]:
    lanes = 300 if quick else 4600
    cwd = os.getcwd()
    try:
        with tempfile.TemporaryDirectory() as root:
            tl = _harness(root)
            sim = Simulator(seed=42, lanes=lanes, clean=False)
            rows = _land_day(tl, sim, T0 - 3600, 60) + _land_day(tl, sim, T0)
            tl.crawl()
            write_locations(tl.lake, sim.network)
            d = day_of(T0)

            # the same two runs alternated, 5 rounds (quick: 1), so that load from elsewhere
            # hits both alike
            transforms: list[float] = []
            derives: list[float] = []
            for _ in range(1 if quick else 5):
                t0 = time.perf_counter()
                run = run_transform(tl.settings, start_day=d, end_day=d)
                transforms.append(time.perf_counter() - t0)
                assert run.state == "SUCCEEDED", run.error

                t0 = time.perf_counter()
                result = derive(tl.settings, start_day=d, end_day=d)
                derives.append(time.perf_counter() - t0)
                assert result.state == "SUCCEEDED", result.error
            transform, roads = min(transforms), min(derives)
            median_ratio = statistics.median(
                r / t for r, t in zip(derives, transforms, strict=True)
            )

            ts, road, sections = _timespace(tl, d.isoformat())
    finally:
        os.chdir(cwd)
    return [
        {
            "name": f"jams + health of a day ({lanes} lanes, {rows:,} raw rows)",
            "value": round(roads, 2),
            "unit": "s",
            "baseline": round(transform, 2),
            "ratio": round(roads / transform, 2),
            "target": 0.5,
            "ok": roads / transform <= 0.5,
        },
        {"name": "  median of the rounds' ratios", "value": round(median_ratio, 2), "unit": "x"},
        {"name": "  jam episodes found", "value": result.jams, "unit": "jams"},
        {
            "name": f"time-space of a day, {road} ({sections} sections)",
            "value": round(ts, 3),
            "unit": "s",
            "target": 0.5,
            "ok": ts < 0.5,
        },
    ]

"""Transform benchmarks (docs/architecture.md, "Quality bars").

(a) full day: a day of simulated Flanders (4,600 lanes x 1,440 minutes ~ 6.6M raw rows, plus
    one hour of look-back) landed as raw Parquet in arrival-hour partitions and crawled. Three
    whole processes, interleaved for a few rounds (the order rotating), each timed from start
    to exit:
    - ours: ``trafficlake transform --from D --to D`` (imports, plan, DuckDB, staged commit);
    - the seed's query (transpiled Presto -> DuckDB by sqlglot, exact division, no lane
      filter) as a DuckDB ``COPY ... PARTITION_BY`` over the same files, the write included;
    - reading the needed columns: DuckDB reading the raw columns ``traffic.sql`` uses, of the
      rows in the read set's event-time range (``max()`` of each), nothing written.
    The ratios are per round (ours / seed, ours / read); reported: their min and median.
(b) incremental: a daily run (one new day landed and crawled) on a 30-day lake vs the same run
    on a 1-day lake, 200 lanes (kept small so the 30-day lake builds in reasonable time).
``--quick``: 300 lanes for (a); a 2-day lake of 20 lanes for (b).

``bench/transform_process.py {seed|read} ROOT DAY`` is one process of (a) (ROOT: the lake's
folder, DAY: its first second, epoch); ours is the CLI.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "transform"))

from transform_lakes import DAY, T0, LakeHarness, day_of, with_arrival  # noqa: E402

from trafficlake.config import load_settings  # noqa: E402
from trafficlake.miv.simulator import Simulator  # noqa: E402
from trafficlake.storage import Lake  # noqa: E402
from trafficlake.transform import run_transform  # noqa: E402


def _harness(root: str) -> LakeHarness:
    os.chdir(root)
    settings = load_settings(None, overrides={"transform": {"memory_limit": "3GB"}})
    return LakeHarness(settings, Lake.from_settings(settings))


def _land_day(tl: LakeHarness, sim: Simulator, start: int, minutes: int = 1440) -> int:
    rows = 0
    for hour in range(0, minutes, 60):
        import pyarrow as pa

        batch = pa.Table.from_batches(list(sim.minutes(start + hour * 60, min(60, minutes - hour))))
        tl.land(with_arrival(batch))
        rows += batch.num_rows
    return rows


def _raw_files(root: str) -> list[str]:
    return sorted(str(p) for p in Path(root, "lake", "raw").rglob("*.parquet"))


def _timed_process(mode: str, root: str) -> float:
    """Wall time of one whole process: ours is the CLI (``trafficlake transform --from D --to
    D`` in the lake's folder), the others ``bench/transform_process.py``."""
    day = day_of(T0).isoformat()
    if mode == "ours":
        cli = "import sys; from trafficlake.cli import main; sys.exit(main())"
        argv = [sys.executable, "-c", cli, "transform", "--from", day, "--to", day]
    else:
        argv = [sys.executable, str(HERE / "transform_process.py"), mode, root, str(T0)]
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=root, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def full_day(quick: bool) -> list[dict[str, Any]]:
    lanes = 300 if quick else 4600
    rounds = 3
    with tempfile.TemporaryDirectory() as root:
        tl = _harness(root)
        sim = Simulator(seed=42, lanes=lanes, clean=False)
        rows = _land_day(tl, sim, T0 - 3600, 60) + _land_day(tl, sim, T0)
        tl.crawl()
        modes = ["ours", "seed", "read"]
        times: dict[str, list[float]] = {m: [] for m in modes}
        for i in range(rounds):  # interleaved, the order rotating: load hits all three alike
            for mode in modes[i % 3 :] + modes[: i % 3]:
                times[mode].append(_timed_process(mode, root))
        with tl.catalog() as cat:
            written = cat.list_job_runs("transform")[0].result["rows_written"]
    vs_seed = [o / s for o, s in zip(times["ours"], times["seed"], strict=True)]
    vs_read = [o / r for o, r in zip(times["ours"], times["read"], strict=True)]
    spread = f"ratio min {min(vs_seed):.2f} median {statistics.median(vs_seed):.2f}"
    spread_read = f"ratio min {min(vs_read):.2f} median {statistics.median(vs_read):.2f}"
    return [
        {
            "name": f"full day ({lanes} lanes, {rows:,} raw rows), processes: ours vs seed "
            f"({spread})",
            "value": round(min(times["ours"]), 2),
            "unit": "s",
            "baseline": round(min(times["seed"]), 2),
            "ratio": round(statistics.median(vs_seed), 2),
            "target": 0.5,
            "ok": statistics.median(vs_seed) <= 0.5,
        },
        {
            "name": f"full day: ours vs reading the needed columns ({spread_read})",
            "value": round(min(times["ours"]), 2),
            "unit": "s",
            "baseline": round(min(times["read"]), 2),
            "ratio": round(statistics.median(vs_read), 2),
            "target": 4.0,
            "ok": statistics.median(vs_read) <= 4.0,
        },
        {"name": "full day: rows written", "value": written, "unit": "rows"},
    ]


def _daily_lake(root: str, days: int, lanes: int) -> tuple[LakeHarness, dict[str, Any]]:
    """A lake of ``days`` days, transformed, plus one new day landed and crawled; returns it
    with the bookmark before the daily run."""
    tl = _harness(root)
    sim = Simulator(seed=7, lanes=lanes, clean=False)
    for i in range(days):
        _land_day(tl, sim, T0 - (days - i) * DAY)
    tl.crawl()
    assert run_transform(tl.settings).state == "SUCCEEDED"
    _land_day(tl, sim, T0)
    tl.crawl()
    with tl.catalog() as cat:
        bookmark = cat.get_bookmark("transform") or {}
    return tl, bookmark


def _daily_run(tl: LakeHarness, bookmark: dict[str, Any]) -> tuple[float, int]:
    os.chdir(tl.settings.base_dir)
    with tl.catalog() as cat:
        cat.put_bookmark("transform", bookmark)
    t0 = time.perf_counter()
    run = run_transform(tl.settings)
    seconds = time.perf_counter() - t0
    assert run.state == "SUCCEEDED", run.error
    return seconds, len(run.result["days"])


def incremental(quick: bool) -> list[dict[str, Any]]:
    days, lanes = (2, 20) if quick else (30, 200)
    with tempfile.TemporaryDirectory() as r1, tempfile.TemporaryDirectory() as r30:
        small_lake = _daily_lake(r1, 1, lanes)
        big_lake = _daily_lake(r30, days, lanes)
        small = big = float("inf")
        # the same daily run (bookmark put back each time), alternating the two lakes so
        # that load from elsewhere hits both alike; best of 5 (quick: 3)
        for _ in range(3 if quick else 5):
            s, small_days = _daily_run(*small_lake)
            b, big_days = _daily_run(*big_lake)
            small, big = min(small, s), min(big, b)
    return [
        {
            "name": f"incremental daily run, {days}-day lake vs 1-day lake ({lanes} lanes; "
            f"rebuilt {big_days} vs {small_days} days)",
            "value": round(big, 3),
            "unit": "s",
            "baseline": round(small, 3),
            "ratio": round(big / small, 2),
            "target": 1.3,
            "ok": big / small <= 1.3,
        },
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    cwd = os.getcwd()
    try:
        return full_day(quick) + incremental(quick)
    finally:
        os.chdir(cwd)

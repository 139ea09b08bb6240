"""Raw compaction (docs/catalog.md, "Compaction"): does it pay?

A simulated Flanders day (4,600 lanes; quick: 300) plus the hour before it, delivered through
the delivery stream by ``ingest.simulate`` with the default buffering (a file per 300 s
buffer: ~12 per arrival hour) and crawled. A copy of that folder (lake and catalog) is
compacted (``compact``, settle 0). Then the day's transform as a whole process
(``trafficlake transform --from D --to D``) on each, alternated for 3 rounds:

- the transform on the compacted lake vs on the delivered files (median of the rounds'
  ratios; target ≤ 0.9: compaction must make the main reader measurably faster);
- the compaction itself vs one transform of the delivered day (reported; it runs once per
  arrival hour, the files are then read by every transform, query and roads run).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from trafficlake.catalog.compaction import compact
from trafficlake.catalog.crawler import run_crawler
from trafficlake.config import load_settings
from trafficlake.ingest import simulate

DAY = "2025-11-21"
START = "2025-11-20T23:00"  # the look-back's hour too


def _settings(root: Path) -> Any:
    return load_settings(None, overrides={"lake": {"url": str(root / "lake")},
                                          "catalog": {"url": f"sqlite:///{root}/catalog.db"}})  # fmt: skip


def _transform(root: Path) -> float:
    cli = "import sys; from trafficlake.cli import main; sys.exit(main())"
    argv = [sys.executable, "-c", cli, "transform", "--from", DAY, "--to", DAY]
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=root, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def run(quick: bool) -> list[dict[str, Any]]:
    lanes = 300 if quick else 4600
    with tempfile.TemporaryDirectory() as tmp:
        delivered, compacted = Path(tmp, "delivered"), Path(tmp, "compacted")
        delivered.mkdir()
        s = _settings(delivered)
        simulate(s, minutes=1500, lanes=lanes, start=START, seed=42, workers=1)
        assert run_crawler(s, "raw").status == "SUCCEEDED"
        shutil.copytree(delivered, compacted)
        # the copy's files are newer than its catalog: one crawl re-reads their footers
        assert run_crawler(_settings(compacted), "raw").status == "SUCCEEDED"
        t0 = time.perf_counter()
        done = compact(_settings(compacted), settle_seconds=0)
        compact_s = time.perf_counter() - t0
        times: dict[str, list[float]] = {"delivered": [], "compacted": []}
        for i in range(3):
            order = ["delivered", "compacted"] if i % 2 == 0 else ["compacted", "delivered"]
            for name in order:
                times[name].append(_transform(Path(tmp, name)))
    ratios = [c / d for c, d in zip(times["compacted"], times["delivered"], strict=True)]
    ratio = statistics.median(ratios)
    return [
        {
            "name": f"compaction of a day ({lanes} lanes): {done.files_before} files into "
            f"{done.files_after}, {done.bytes_before / 1e6:.1f} -> {done.bytes_after / 1e6:.1f} MB"
            ", vs one transform of the delivered day",
            "value": round(compact_s, 2),
            "unit": "s",
            "baseline": round(min(times["delivered"]), 2),
            "ratio": round(compact_s / min(times["delivered"]), 2),
        },
        {
            "name": "transform of the day, compacted vs delivered files (3 alternated rounds; "
            f"median, rounds {', '.join(f'{r:.2f}' for r in ratios)})",
            "value": round(min(times["compacted"]), 2),
            "unit": "s",
            "baseline": round(min(times["delivered"]), 2),
            "ratio": round(ratio, 2),
            "target": 0.9,
            "ok": ratio <= 0.9,
        },
    ]

"""`python -m bench [NAME ...] [--quick]`: run the benchmarks in bench/bench_*.py.

Each module defines ``run(quick: bool) -> list[dict]``; a result dict has ``name``, ``value``,
``unit``, and optionally ``baseline``/``ratio``/``target`` and ``ok``. Targets are ratios against
a baseline measured in the same run, because these machines are noisy.
With more than one benchmark, each runs in a process of its own, as a user's command would: no
threads, imports or warm caches left behind by another (with a thread left running, the
replay's workers would start from a fork server instead of forking).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    args = parser.parse_args(argv)
    here = Path(__file__).parent
    modules = sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")
    )
    if args.names:
        wanted = {f"bench_{n.removeprefix('bench_')}" for n in args.names}
        unknown = wanted - set(modules)
        if unknown:
            parser.error(
                f"unknown benchmarks: {', '.join(sorted(unknown))}; have {', '.join(modules)}"
            )
        modules = [m for m in modules if m in wanted]
    if len(modules) > 1:
        quick = ["--quick"] if args.quick else []
        runs = [
            subprocess.run([sys.executable, "-m", "bench", name, *quick], check=False)
            for name in modules
        ]
        return 1 if any(r.returncode for r in runs) else 0
    failed = 0
    for name in modules:
        mod = importlib.import_module(f"bench.{name}")
        print(f"== {name.removeprefix('bench_')}", flush=True)
        t0 = time.perf_counter()
        for r in mod.run(quick=args.quick):
            status = "" if r.get("ok") is None else ("  OK" if r["ok"] else "  MISSED")
            failed += r.get("ok") is False
            extra = ""
            if "ratio" in r:
                extra = f"  ratio {r['ratio']:.2f}"
                if "target" in r:
                    extra += f" (target {r['target']})"
            elif "target" in r:
                extra = f"  (target {r['target']})"
            print(
                f"  {r['name']:<48} {r['value']:>12.3f} {r['unit']:<10}{extra}{status}", flush=True
            )
        print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

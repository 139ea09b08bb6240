"""Benchmarks: `make bench` runs `python -m bench`. Targets are ratios measured in one run."""

"""Reading back what an engine wrote: the staged Parquet files of one chunk.

An engine writes Hive ``year=/month=/day=/hour=`` folders under its staging folder; this
lists them and reads each file's footer for its row count and ``recordTimestamp`` range
(:mod:`trafficlake.footer_stats`), which the commit records in the catalog.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from trafficlake.footer_stats import footer_minmax
from trafficlake.transform.engine import StagedFile, TransformError

if TYPE_CHECKING:
    from trafficlake.storage import Lake

STATS_COLUMNS = ("recordTimestamp",)

_PART_RE = re.compile(r"(?:^|/)year=(\d+)/month=(\d+)/day=(\d+)/hour=(\d+)/[^/]+$")


def collect_staged(lake: Lake, staging_key: str) -> list[StagedFile]:
    """The Parquet files an engine wrote under ``staging_key``, with row counts and the
    min/max of ``recordTimestamp`` from their footers."""
    out: list[StagedFile] = []
    for entry in lake.list(staging_key):
        if not entry.key.endswith(".parquet"):
            continue
        m = _PART_RE.search(entry.key)
        if m is None:
            raise TransformError(f"engine wrote {entry.key!r} outside year/month/day/hour folders")
        y, mo, d, h = (str(int(v)) for v in m.groups())
        with lake.fs.open_input_file(lake.path(entry.key)) as f:
            pf = pq.ParquetFile(f)
            stats = footer_minmax(pf, STATS_COLUMNS)
            rows = pf.metadata.num_rows
        out.append(StagedFile(entry.key, (y, mo, d, h), entry.size, rows, stats))
    return out

"""Parquet min/max statistics: the one owner of reading a file's column ranges.

The crawler records them per partition (``[catalog] stats_columns``), the transform per staged
file (``recordTimestamp``); the transform plans its read sets and the query layer prunes on
them. The ranges come from the row-group statistics in the footer; a column whose row groups
lack them (a writer that skipped statistics) is read alone and its min/max computed, so a
range is never missing or narrower than the data. Row groups of nulls only add nothing.
Values come back as plain Python (int, float, str, bool; times as ISO text).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq


def plain_value(value: Any) -> Any:
    """A statistics value as int, float, str or bool."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def footer_minmax(pf: pq.ParquetFile, columns: Iterable[str]) -> dict[str, tuple[Any, Any]]:
    """column -> (min, max) of the top-level ``columns`` the file has (absent ones left out;
    a column of nulls only has no range)."""
    md = pf.metadata
    paths = {md.schema.column(i).path: i for i in range(md.num_columns)}
    out: dict[str, tuple[Any, Any]] = {}
    for col in columns:
        idx = paths.get(col)
        if idx is None:
            continue
        lo: Any = None
        hi: Any = None
        complete = True
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            if rg.num_rows == 0:
                continue
            st = rg.column(idx).statistics
            if st is None or not st.has_min_max:
                if st is not None and st.has_null_count and st.null_count == rg.num_rows:
                    continue  # all nulls: nothing to add
                complete = False
                break
            glo, ghi = plain_value(st.min), plain_value(st.max)
            lo = glo if lo is None else min(lo, glo)
            hi = ghi if hi is None else max(hi, ghi)
        if not complete:  # no footer stats: read just this column
            mm = pc.min_max(pf.read(columns=[col]).column(0)).as_py()
            lo, hi = plain_value(mm["min"]), plain_value(mm["max"])
        if lo is not None or hi is not None:
            out[col] = (lo, hi)
    return out

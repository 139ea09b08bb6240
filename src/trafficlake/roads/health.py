"""Detector health per lane (``unieke_id``) and UTC day - PeMS's "% observed" and diagnostics.

Counted over the distinct minutes (``tijd_waarneming``) a lane's rows cover that day:

- ``minutes_expected``: the minutes the feed published fresh data for (any lane) that day;
- ``minutes_observed``: the lane's fresh minutes (``actueel_publicatie`` 1);
- ``minutes_stale``: the lane's republications published that day (``actueel_publicatie`` 0:
  a document repeating an old minute's value instead of a fresh one), however old the minute
  they repeat - one per document, so minutes of the day;
- ``minutes_defect``: fresh minutes with ``defect`` 1 or 2;
- ``minutes_unavailable``: fresh minutes whose five harmonic speeds are all 254 (no data);
- ``minutes_valid``: fresh minutes that are none of these and ``geldig`` 0;
- ``stuck_minutes``: fresh minutes in runs of at least ``[roads] stuck_minutes`` consecutive
  minutes repeating the same non-zero counts, speed and occupancy - a loop that hangs;
- ``pct_observed`` / ``pct_valid``: shares of ``minutes_expected``;
- ``trusted``: ``pct_valid >= [roads] min_valid_share`` and no stuck run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from trafficlake.catalog.inference import hive_columns
from trafficlake.roads.jams import MINUTES


@dataclass(frozen=True)
class HealthRules:
    stuck_minutes: int = 30
    min_valid_share: float = 0.8


HEALTH_INPUT_SQL = """
SELECT unieke_id, coalesce(lve_nr, 0) AS lve_nr,
       -- a fresh row's minute of the day; a stale republish is parked on minute {minutes}
       CASE WHEN coalesce(actueel_publicatie, 1) = 1
         THEN CAST((tijd_waarneming - {start}) // 60 AS INTEGER) ELSE {minutes} END AS minute,
       -- a fresh row (actueel_publicatie 1) packed in one BIGINT: bit 52 set; bits 48-51 its
       -- facts (1 defect, 2 irregular - geldig, 4 no data - all five harmonic speeds 254,
       -- 8 vehicles counted); bits 0-47 its reading (counts of classes 2-5, the class-2 speed,
       -- the occupancy, 8 bits each). A stale republish: -1.
       CASE WHEN coalesce(actueel_publicatie, 1) = 1 THEN
         (CAST(1 AS BIGINT) << 52)
         | (CAST(CASE WHEN coalesce(defect, 0) <> 0 THEN 1 ELSE 0 END
            + CASE WHEN coalesce(geldig, 0) <> 0 THEN 2 ELSE 0 END
            + CASE WHEN coalesce(voertuigsnelheid_harmonisch_klasse1 = 254
                   AND voertuigsnelheid_harmonisch_klasse2 = 254
                   AND voertuigsnelheid_harmonisch_klasse3 = 254
                   AND voertuigsnelheid_harmonisch_klasse4 = 254
                   AND voertuigsnelheid_harmonisch_klasse5 = 254, false) THEN 4 ELSE 0 END
            + CASE WHEN coalesce(verkeersintensiteit_klasse1 + verkeersintensiteit_klasse2
                   + verkeersintensiteit_klasse3 + verkeersintensiteit_klasse4
                   + verkeersintensiteit_klasse5, 0) > 0 THEN 8 ELSE 0 END AS BIGINT) << 48)
         | (CAST(least(greatest(coalesce(verkeersintensiteit_klasse2, 0), 0), 255) AS BIGINT))
         | (CAST(least(greatest(coalesce(verkeersintensiteit_klasse3, 0), 0), 255) AS BIGINT) << 8)
         | (CAST(least(greatest(coalesce(verkeersintensiteit_klasse4, 0), 0), 255) AS BIGINT) << 16)
         | (CAST(least(greatest(coalesce(verkeersintensiteit_klasse5, 0), 0), 255) AS BIGINT) << 24)
         | (CAST(least(greatest(coalesce(voertuigsnelheid_rekenkundig_klasse2, 0), 0), 255)
                 AS BIGINT) << 32)
         | (CAST(least(greatest(coalesce(rekendata_bezettingsgraad, 0), 0), 255) AS BIGINT) << 40)
       ELSE -1 END AS packed
FROM {raw}
WHERE unieke_id IS NOT NULL AND (
      (tijd_waarneming >= {start} AND tijd_waarneming < {end})
      -- republications published that day, whatever minute they repeat
      OR (actueel_publicatie = 0 AND tijd_publicatie >= {start} AND tijd_publicatie < {end}))
"""
"""DuckDB SQL of the per-row facts health is counted from, over raw rows (``{raw}``)."""

HEALTH_INPUT_SCHEMA = pa.schema(
    [
        pa.field("unieke_id", pa.int32()),
        pa.field("lve_nr", pa.int32()),
        pa.field("minute", pa.int32()),
        pa.field("packed", pa.int64()),
    ]
)
"""The columns of :data:`HEALTH_INPUT_SQL`."""

HEALTH_SCHEMA = pa.schema(
    [
        pa.field("unieke_id", pa.int32()),
        pa.field("lve_nr", pa.int32()),
        pa.field("minutes_expected", pa.int32()),
        pa.field("minutes_observed", pa.int32()),
        pa.field("minutes_valid", pa.int32()),
        pa.field("minutes_defect", pa.int32()),
        pa.field("minutes_stale", pa.int32()),
        pa.field("minutes_unavailable", pa.int32()),
        pa.field("stuck_minutes", pa.int32()),
        pa.field("pct_observed", pa.float64()),
        pa.field("pct_valid", pa.float64()),
        pa.field("trusted", pa.bool_()),
    ]
)
"""The ``detector_health`` table (partitioned by year/month/day)."""
HEALTH_COLUMNS = hive_columns(HEALTH_SCHEMA)
"""Its columns with their Hive types, as the catalog records them."""


def health_input_sql(raw: str, start: int) -> str:
    """:data:`HEALTH_INPUT_SQL` for the UTC day starting at epoch second ``start``."""
    return HEALTH_INPUT_SQL.format(
        raw=raw, start=int(start), end=int(start) + MINUTES * 60, minutes=MINUTES
    )


def day_health(rows: pa.Table, rules: HealthRules) -> pa.Table:
    """Per lane of ``rows`` (:data:`HEALTH_INPUT_SQL` output): the day's health
    (:data:`HEALTH_SCHEMA`). Counted on a minutes x lanes grid of the fresh rows' packed facts
    (a minute published fresh twice: the version with the larger packed value, whatever order
    the rows come in); a lane's stale rows are counted apart."""
    if rows.num_rows == 0:
        return HEALTH_SCHEMA.empty_table()

    def col(name: str) -> np.ndarray:
        return rows.column(name).to_numpy()

    # lane index by lookup table (ids are small integers): O(rows), no sort
    ids = col("unieke_id")
    lo = int(ids.min())
    ids = ids - lo
    present = np.zeros(int(ids.max()) + 1, dtype=bool)
    present[ids] = True
    lanes = np.flatnonzero(present) + lo
    n = lanes.size
    lane = (np.cumsum(present, dtype=np.int32) - 1)[ids]
    packed = col("packed")
    stale = np.bincount(lane[packed < 0], minlength=n)  # the day's republications per lane
    # minute-major, so that rows (in time order) land nearly in sequence; stale rows are parked
    # on one extra minute (the SQL's) the counts leave out
    cell: np.ndarray = col("minute").astype(np.int32 if (MINUTES + 1) * n < 2**31 else np.int64)
    cell *= n
    cell += lane
    grid = np.zeros((MINUTES + 1) * n, dtype="<i8")
    grid[cell] = packed
    # a cell written twice kept the last row's value: take the larger one instead, so that the
    # order DuckDB hands the rows over in (not kept: it costs the read a third) plays no part
    lost = grid[cell] != packed
    if lost.any():
        np.maximum.at(grid, cell[lost], packed[lost])
    cells = grid[: MINUTES * n].reshape(MINUTES, n)
    # each cell's facts and fresh bit (bits 48-52) are the low bits of its top 16 bits: 0 for a
    # minute without a fresh row, else 16 + facts
    facts = cells.view("<u2")[:, 3::4].astype(np.uint8)
    observed = np.count_nonzero(facts, axis=0)
    counted = facts & 0b11101 == 0b11000  # fresh, counted, neither defect nor no data
    stuck = _stuck_minutes(cells, counted, rules.stuck_minutes)
    expected = int(np.count_nonzero(facts.any(axis=1)))
    lve = np.zeros(n, dtype=np.int64)  # a lane's lve_nr (0: none known)
    lve[lane] = col("lve_nr")
    sums = {
        "minutes_observed": observed,
        "minutes_valid": np.count_nonzero(facts & 0b10111 == 0b10000, axis=0),
        "minutes_defect": np.count_nonzero(facts & 1, axis=0),
        "minutes_stale": stale,
        "minutes_unavailable": np.count_nonzero(facts & 4, axis=0),
    }
    share = max(expected, 1)
    pct_valid = np.round(sums["minutes_valid"] / share, 4)
    return pa.table(
        {
            "unieke_id": lanes.astype(np.int32),
            "lve_nr": pa.array(lve.astype(np.int32), mask=lve == 0),
            "minutes_expected": np.full(n, expected, dtype=np.int32),
            **{k: v.astype(np.int32) for k, v in sums.items()},
            "stuck_minutes": stuck.astype(np.int32),
            "pct_observed": np.round(sums["minutes_observed"] / share, 4),
            "pct_valid": pct_valid,
            "trusted": (sums["minutes_valid"] / share >= rules.min_valid_share) & (stuck == 0),
        },
        schema=HEALTH_SCHEMA,
    )


READING = (1 << 48) - 1
"""The reading bits of a packed cell."""


def _stuck_minutes(cells: np.ndarray, counted: np.ndarray, run: int) -> np.ndarray:
    """Per lane (column of the minutes x lanes ``cells``): minutes in runs of at least ``run``
    consecutive counted minutes repeating one reading."""
    out = np.zeros(cells.shape[1], dtype=np.int64)
    # a run of >= run minutes holds a whole aligned block of (run + 1) // 2 minutes, whose first
    # and last minute are counted with one reading: only lanes with such a block can be stuck
    block = (run + 1) // 2
    first = np.arange(0, MINUTES - block + 1, block)
    last = first + block - 1
    ends_alike = counted[first] & counted[last] & ((cells[first] ^ cells[last]) & READING == 0)
    maybe = np.flatnonzero(ends_alike.any(axis=0))
    if maybe.size == 0:
        return out
    reading, counted = (cells[:, maybe] & READING).T, counted[:, maybe].T
    same = counted[:, 1:] & counted[:, :-1] & (reading[:, 1:] == reading[:, :-1])
    # run starts where a counted minute does not continue the previous one
    starts = counted & ~np.concatenate([np.zeros((counted.shape[0], 1), bool), same], axis=1)
    run_id = np.cumsum(starts.ravel()).reshape(counted.shape)
    ids = run_id[counted]
    long_runs = np.bincount(ids) >= run
    per_cell = np.zeros(counted.shape, dtype=bool)
    per_cell[counted] = long_runs[ids]
    out[maybe] = per_cell.sum(axis=1)
    return out

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
SELECT unieke_id, lve_nr, CAST((tijd_waarneming - {start}) // 60 AS INTEGER) AS minute,
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
    return HEALTH_INPUT_SQL.format(raw=raw, start=int(start), end=int(start) + MINUTES * 60)


def day_health(rows: pa.Table, rules: HealthRules) -> pa.Table:
    """Per lane of ``rows`` (:data:`HEALTH_INPUT_SQL` output): the day's health
    (:data:`HEALTH_SCHEMA`). Counted on a lanes x minutes grid: a minute with a fresh row is
    observed (its facts from a fresh row), one with only stale rows is stale."""
    if rows.num_rows == 0:
        return HEALTH_SCHEMA.empty_table()

    def col(name: str) -> np.ndarray:
        return rows.column(name).to_numpy(zero_copy_only=False)

    # lane index by lookup table (ids are small integers): O(rows), no sort
    ids = col("unieke_id").astype(np.int64)
    lo = int(ids.min())
    present = np.zeros(int(ids.max()) - lo + 1, dtype=bool)
    present[ids - lo] = True
    lanes = np.flatnonzero(present) + lo
    lane = (np.cumsum(present) - 1)[ids - lo]
    n = lanes.size
    cell = lane.astype(np.int64) * MINUTES + col("minute")
    packed = col("packed")
    fresh = packed >= 0
    grid = np.zeros(n * MINUTES, dtype=np.int64)
    if fresh.all():  # the common case: no republication, no masks to apply
        grid[cell] = packed  # a minute published fresh twice: either version
    else:
        grid[cell[fresh]] = packed[fresh]
    cells = grid.reshape(n, MINUTES)
    observed_grid = cells != 0
    stale = np.bincount(lane[~fresh], minlength=n)  # the day's republications per lane
    facts_grid = (cells >> 48) & 15
    defect = (facts_grid & 1).astype(bool)
    unavailable = (facts_grid & 4).astype(bool)
    valid = observed_grid & (facts_grid & 7 == 0)
    counted = observed_grid & (facts_grid & 13 == 8)  # counted, neither defect nor no data
    reading_grid = cells & ((1 << 48) - 1)
    stuck = _stuck_minutes(reading_grid, counted, rules.stuck_minutes)
    expected = int(observed_grid.any(axis=0).sum())
    lve = np.zeros(n, dtype=np.float64)  # a lane's lve_nr (0: none known)
    lve[lane] = np.nan_to_num(col("lve_nr").astype(np.float64), nan=0.0)
    sums = {
        "minutes_observed": observed_grid.sum(axis=1),
        "minutes_valid": valid.sum(axis=1),
        "minutes_defect": defect.sum(axis=1),
        "minutes_stale": stale,
        "minutes_unavailable": unavailable.sum(axis=1),
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


def _stuck_minutes(reading: np.ndarray, counted: np.ndarray, run: int) -> np.ndarray:
    """Per lane: minutes in runs of at least ``run`` consecutive counted minutes repeating one
    reading."""
    same = counted[:, 1:] & counted[:, :-1] & (reading[:, 1:] == reading[:, :-1])
    out = np.zeros(counted.shape[0], dtype=np.int64)
    # only lanes with enough repeats can hold a long run (usually few): look at those alone
    maybe = np.flatnonzero(same.sum(axis=1) >= run - 1)
    if maybe.size == 0:
        return out
    same, counted = same[maybe], counted[maybe]
    # run starts where a counted minute does not continue the previous one
    starts = counted & ~np.concatenate([np.zeros((counted.shape[0], 1), bool), same], axis=1)
    run_id = np.cumsum(starts.ravel()).reshape(counted.shape)
    ids = run_id[counted]
    lengths = np.bincount(ids)
    long_runs = lengths >= run
    per_cell = np.zeros(counted.shape, dtype=bool)
    per_cell[counted] = long_runs[ids]
    out[maybe] = per_cell.sum(axis=1)
    return out

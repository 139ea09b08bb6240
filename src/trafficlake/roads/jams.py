"""Jam episodes: hysteresis per section, merged along the road, with PeMS-style figures.

Per section (``lve_nr``) and minute the transform gives ``avgSpeed3Minutes``. A section is
*slow* in a minute when that speed is at most the jam threshold (the same test as the
transform's ``trafficJamIndicator``). A section's jam **starts** at the first of ``enter``
consecutive slow minutes and **ends** after the last slow minute that is followed by ``exit``
consecutive minutes that are not slow (hysteresis: a short recovery inside a jam does not end
it, a short dip does not start one). A minute without data is not slow.

Jams of neighbouring sections of one road and direction that overlap in time are one episode
(a section with no data at all between two jammed ones does not split them). Per episode and
minute the jammed sections give the **head** (most downstream) and **tail** (most upstream)
kilometre and the queue length (head to tail, each end section counted with half its extent).

Figures (as Caltrans PeMS reports them): duration; maximum queue length; minimum and mean speed
over the jammed section-minutes; vehicle-hours lost against free flow,
``sum(vehicles * extent_km * (1/speed - 1/free_flow_speed))`` over the jammed section-minutes
(speed floored at 5 km/h; vehicles: the section's ``vehicleCount`` over its measuring sites,
since each site counts the same vehicles), where the free-flow speed is ``[roads] free_flow_kmh`` or, when that
is 0, the section's own 85th percentile of speed in the day's off-peak minutes (local hours
outside 06-10 and 15-20) - 100 km/h when a section has no such minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from trafficlake.catalog.inference import hive_columns

MINUTES = 1440
MIN_SPEED_KMH = 5.0
DEFAULT_FREE_FLOW_KMH = 100.0
BRUSSELS = ZoneInfo("Europe/Brussels")
PEAK_HOURS = ((6, 10), (15, 20))

JAMS_SCHEMA = pa.schema(
    [
        pa.field("jam_id", pa.string()),
        pa.field("road", pa.string()),
        pa.field("direction", pa.string()),
        pa.field("start_ts", pa.int64()),
        pa.field("end_ts", pa.int64()),
        pa.field("duration_min", pa.int32()),
        pa.field("head_km", pa.float64()),
        pa.field("tail_km", pa.float64()),
        pa.field("max_queue_km", pa.float64()),
        pa.field("min_speed", pa.float64()),
        pa.field("mean_speed", pa.float64()),
        pa.field("vehicle_hours_lost", pa.float64()),
        pa.field("sections", pa.list_(pa.int32())),
        pa.field("trace_ts", pa.list_(pa.int64())),
        pa.field("trace_head_km", pa.list_(pa.float64())),
        pa.field("trace_tail_km", pa.list_(pa.float64())),
    ]
)
"""The ``jams`` table (partitioned by year/month/day)."""
JAMS_COLUMNS = hive_columns(JAMS_SCHEMA)
"""Its columns with their Hive types, as the catalog records them."""


@dataclass(frozen=True)
class JamRules:
    threshold_kmh: float = 40.0
    enter_minutes: int = 3
    exit_minutes: int = 5
    free_flow_kmh: float = 0.0
    """0: each section's own off-peak 85th percentile."""


@dataclass
class DayGrid:
    """One UTC day of section-minutes: rows are the sections (in :func:`day_grid` order)."""

    day_start: int
    lve: np.ndarray  # (S,) lve_nr of each row
    avg3: np.ndarray  # (S, 1440) avgSpeed3Minutes, NaN when missing
    speed: np.ndarray  # (S, 1440) currentSpeed
    vehicles: np.ndarray  # (S, 1440) vehicleCount (0 when missing)


def day_grid(minutes: pa.Table, lve: np.ndarray, day_start: int) -> DayGrid:
    """Scatter a day's transformed rows (``lve_nr, recordTimestamp, currentSpeed,
    avgSpeed3Minutes, vehicleCount``) onto a sections x minutes grid; rows of other sections or
    outside the day are left out."""
    s = lve.size
    grid = DayGrid(
        day_start,
        lve,
        np.full((s, MINUTES), np.nan),
        np.full((s, MINUTES), np.nan),
        np.zeros((s, MINUTES)),
    )
    if minutes.num_rows == 0 or s == 0:
        return grid
    order = np.argsort(lve)
    ids = minutes.column("lve_nr").to_numpy(zero_copy_only=False)
    ts = minutes.column("recordTimestamp").to_numpy(zero_copy_only=False)
    ids = np.nan_to_num(ids.astype(np.float64), nan=-1).astype(np.int64)
    pos = np.searchsorted(lve[order], ids)
    pos = np.clip(pos, 0, s - 1)
    known = lve[order][pos] == ids
    minute = (ts.astype(np.int64) - day_start) // 60
    keep = known & (minute >= 0) & (minute < MINUTES)
    row, col = order[pos[keep]], minute[keep]

    def column(name: str) -> np.ndarray:
        return minutes.column(name).to_numpy(zero_copy_only=False).astype(np.float64)[keep]

    grid.avg3[row, col] = column("avgSpeed3Minutes")
    grid.speed[row, col] = column("currentSpeed")
    grid.vehicles[row, col] = np.nan_to_num(column("vehicleCount"))
    return grid


def section_jams(slow: np.ndarray, enter: int, exit_: int) -> list[tuple[int, int]]:
    """Jam intervals ``[start, end)`` (minute indices) of one section's slow-minute series."""
    padded = np.concatenate(([False], slow, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    runs = list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
    out: list[tuple[int, int]] = []
    current: list[int] | None = None
    for start, end in runs:
        if current is not None and start - current[1] < exit_:
            current[1] = end  # recovered for fewer than `exit_` minutes: the jam goes on
            continue
        if current is not None:
            out.append((current[0], current[1]))
            current = None
        if end - start >= enter:
            current = [start, end]
    if current is not None:
        out.append((current[0], current[1]))
    return out


def free_flow(grid: DayGrid, rules: JamRules) -> np.ndarray:
    """Free-flow speed per section (km/h): the setting, or the off-peak 85th percentile."""
    if rules.free_flow_kmh > 0:
        return np.full(grid.lve.size, rules.free_flow_kmh)
    t = grid.day_start + 60 * np.arange(MINUTES)
    hours = np.array(
        [datetime.fromtimestamp(int(x), UTC).astimezone(BRUSSELS).hour for x in t[::60]]
    ).repeat(60)
    off_peak = ~np.any([(hours >= a) & (hours < b) for a, b in PEAK_HOURS], axis=0)
    speeds = np.where(off_peak[None, :], grid.speed, np.nan)
    out = np.full(grid.lve.size, DEFAULT_FREE_FLOW_KMH)
    has = np.isfinite(speeds).any(axis=1)
    if has.any():
        out[has] = np.nanpercentile(speeds[has], 85, axis=1)
    return np.maximum(out, rules.threshold_kmh + 1.0)


def find_jams(grid: DayGrid, sections: pa.Table, rules: JamRules) -> pa.Table:
    """The day's jam episodes (:data:`JAMS_SCHEMA`), ordered by start, road, direction.

    ``sections`` is :func:`trafficlake.roads.sections.build_sections` output; ``grid`` rows
    follow ``sections`` rows."""
    sec = sections.to_pydict()
    n = grid.lve.size
    slow = grid.avg3 <= rules.threshold_kmh + 1e-9  # NaN compares False: no data is not slow
    # one node per section-jam; union-find merges neighbours that overlap in time
    nodes: list[tuple[int, int, int]] = []  # (row, start, end)
    by_row: dict[int, list[int]] = {}
    for row in np.flatnonzero(slow.any(axis=1)).tolist():
        for a, b in section_jams(slow[row], rules.enter_minutes, rules.exit_minutes):
            by_row.setdefault(row, []).append(len(nodes))
            nodes.append((row, a, b))
    if not nodes:
        return JAMS_SCHEMA.empty_table()
    parent = list(range(len(nodes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    key = list(zip(sec["road"], sec["direction"], strict=True))
    row_of = {(key[r], sec["position"][r]): r for r in range(n)}
    no_data = ~np.isfinite(grid.avg3).any(axis=1)
    for i, (row, a, b) in enumerate(nodes):
        pos = sec["position"][row]
        near = [row_of.get((key[row], pos + 1))]
        skip = row_of.get((key[row], pos + 1))
        if skip is not None and no_data[skip]:
            near.append(row_of.get((key[row], pos + 2)))
        for other in near:
            for j in by_row.get(other, []) if other is not None else []:
                _, c, d = nodes[j]
                if a < d and c < b:
                    parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(nodes)):
        groups.setdefault(find(i), []).append(i)
    vff = free_flow(grid, rules)
    rows = [_episode(grid, sec, [nodes[i] for i in members], vff) for members in groups.values()]
    rows.sort(key=lambda r: (r["start_ts"], r["road"], r["direction"], r["head_km"]))
    return pa.Table.from_pylist(rows, schema=JAMS_SCHEMA)


def _episode(
    grid: DayGrid, sec: dict[str, list], members: list[tuple[int, int, int]], vff: np.ndarray
) -> dict[str, object]:
    start = min(a for _, a, _ in members)
    end = max(b for _, _, b in members)
    span = end - start
    rows = sorted({r for r, _, _ in members}, key=lambda r: sec["position"][r])
    index = {r: i for i, r in enumerate(rows)}
    on = np.zeros((len(rows), span), dtype=bool)
    for r, a, b in members:
        on[index[r], a - start : b - start] = True
    km = np.array([sec["km"][r] for r in rows])
    extent = np.array([sec["extent_km"][r] for r in rows])
    downstream_first = sec["direction"][rows[0]] == "2"  # direction 2 runs to lower km
    minutes = np.arange(start, end)
    trace_head: list[float] = []
    trace_tail: list[float] = []
    queue: list[float] = []
    for m in range(span):
        jammed = np.flatnonzero(on[:, m])
        if jammed.size == 0:
            trace_head.append(float("nan"))
            trace_tail.append(float("nan"))
            queue.append(0.0)
            continue
        head, tail = jammed.max(), jammed.min()  # rows are in the direction of travel
        trace_head.append(float(km[head]))
        trace_tail.append(float(km[tail]))
        queue.append(abs(km[head] - km[tail]) + (extent[head] + extent[tail]) / 2)
    speed = grid.speed[rows][:, start:end]
    jam_speed = np.where(on, speed, np.nan)
    sites = np.array([max(1, sec["sites"][r]) for r in rows], dtype=np.float64)
    veh = np.where(on, grid.vehicles[rows][:, start:end], 0.0) / sites[:, None]
    v = np.maximum(np.nan_to_num(jam_speed, nan=np.inf), MIN_SPEED_KMH)
    delay = veh * extent[:, None] * np.maximum(0.0, 1.0 / v - 1.0 / vff[rows][:, None])
    finite = np.isfinite(jam_speed)
    heads = [h for h in trace_head if np.isfinite(h)]
    tails = [t for t in trace_tail if np.isfinite(t)]
    road, direction = sec["road"][rows[0]], sec["direction"][rows[0]]
    head_km = (min(heads) if downstream_first else max(heads)) if heads else float(km[-1])
    tail_km = (max(tails) if downstream_first else min(tails)) if tails else float(km[0])
    start_ts = grid.day_start + 60 * start
    return {
        "jam_id": f"{road}-{direction}-{start_ts}-{sec['lve_nr'][rows[-1]]}",
        "road": road,
        "direction": direction,
        "start_ts": start_ts,
        "end_ts": grid.day_start + 60 * end,
        "duration_min": span,
        "head_km": round(float(head_km), 3),
        "tail_km": round(float(tail_km), 3),
        "max_queue_km": round(float(max(queue)), 3),
        "min_speed": float(np.nanmin(jam_speed)) if finite.any() else None,
        "mean_speed": round(float(np.nanmean(jam_speed)), 3) if finite.any() else None,
        "vehicle_hours_lost": round(float(delay.sum()), 3),
        "sections": [int(sec["lve_nr"][r]) for r in rows],
        "trace_ts": (grid.day_start + 60 * minutes).tolist(),
        "trace_head_km": [None if not np.isfinite(h) else round(h, 3) for h in trace_head],
        "trace_tail_km": [None if not np.isfinite(t) else round(t, 3) for t in trace_tail],
    }

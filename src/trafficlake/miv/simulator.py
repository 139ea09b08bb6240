"""Deterministic, vectorised MIV traffic simulator (offline source and test data).

Every value is a pure function of ``(seed, lanes, clean, t)``: a minute is generated from a
random stream seeded by the seed and the minute, and per-day structures (demand, queues,
incident episodes) from the seed and the UTC day, so ``minute(t)`` gives the same batch
whether it is asked alone, in a loop or in another process.

Traffic model: each road has a daily demand profile (morning and evening peaks, flatter and
lower at weekends, inbound/outbound asymmetry) and one bottleneck. Demand above the bottleneck's
capacity builds a point queue (Lindley recursion) whose length, at a jam density of 55 veh/km
per lane, covers the sites upstream, which then run at 8–38 km/h; the tail moves upstream
minute by minute as the queue grows and retreats as it dissolves. Free-flowing lanes follow a
speed–flow curve; counts are Poisson per vehicle class (cars ≫ vans > lorries, lorries on the
right-hand lanes); occupancy follows from counts, vehicle lengths and speeds.

Feed artefacts (``clean=False`` only): dead detectors (all five classes 254, availability 0),
defect episodes (defect 1/2, no counts), stale lve groups republishing an old minute with
``actueel_publicatie`` 0 (some for months), lanes absent from a document, late publications
(the previous minute published again with a later ``tijd_laatst_gewijzigd``), ``geldig`` 1 and
the odd harmonic 254.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from trafficlake.miv.network import Network, build_network
from trafficlake.miv.xmlwriter import config_document, feed_document
from trafficlake.schema import CLASSES, EVENT_SCHEMA

BRUSSELS = ZoneInfo("Europe/Brussels")
DAY = 86400
PUBLISH_DELAY_S = 114
"""A document for minute t is published at t + 114 s (real feed: 14:38:00 → 14:39:54)."""
CHANGE_DELAY_S = 74
"""``tijd_laatst_gewijzigd`` of a fresh lane is t + 74 s (real feed: 14:38:00 → 14:39:14)."""
JAM_DENSITY = 55.0
"""Vehicles per km per lane in a moving queue."""
CONFIG_CHANGED = 1767620526
"""``tijd_laatste_config_wijziging`` of the simulated network (2026-01-05T14:42:06+01:00)."""

_VEHICLE_LENGTH_M = np.array([1.0, 4.3, 6.0, 10.0, 16.5]) + 1.5  # + loop length
_CLASS_SPEED_OFFSET = np.array([5.0, 0.0, -3.0, -8.0, -10.0])
_CLASS_SPEED_CAP = np.array([200.0, 200.0, 200.0, 92.0, 88.0])


def _profile(hours: np.ndarray, weekend: bool, direction: int) -> np.ndarray:
    """Demand as a fraction of the road's peak flow, by local hour of day."""
    if weekend:
        day = 1 / (1 + np.exp(-(hours - 8.5) * 1.5)) / (1 + np.exp((hours - 22.0) * 1.2))
        return 0.05 + 0.42 * day + 0.15 * np.exp(-(((hours - 15.0) / 2.5) ** 2) / 2)
    day = 1 / (1 + np.exp(-(hours - 6.0) * 2.0)) / (1 + np.exp((hours - 21.0) * 1.2))
    morning, evening = (0.58, 0.30) if direction == 1 else (0.30, 0.58)
    return (
        0.05
        + 0.50 * day
        + morning * np.exp(-(((hours - 8.0) / 0.9) ** 2) / 2)
        + evening * np.exp(-(((hours - 17.3) / 1.1) ** 2) / 2)
    )


@dataclass
class _Day:
    """Per-UTC-day state: demand and queue length per road and minute, plus episodes."""

    demand: np.ndarray  # (1440, roads) veh/h/lane at the bottleneck
    queue_km: np.ndarray  # (1440, roads)
    episodes: dict[str, np.ndarray] = field(default_factory=dict)
    stale_values: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)


class Simulator:
    """Synthetic MIV feed for ``lanes`` lanes. See the module docstring for the model."""

    def __init__(self, seed: int = 42, lanes: int = 4600, *, clean: bool = False) -> None:
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.seed = seed
        self.lanes = lanes
        self.clean = clean
        self.tijd_laatste_config_wijziging = CONFIG_CHANGED
        self._net: Network = build_network(seed, lanes)
        self._ids = self._net.table.column("unieke_id").to_numpy().astype(np.int32)
        self._lve = self._net.table.column("lve_nr").to_numpy().astype(np.int32)
        self._bid = self._net.table.column("beschrijvende_id").combine_chunks()
        self._days: collections.OrderedDict[int, _Day] = collections.OrderedDict()
        self._clean: collections.OrderedDict[int, dict[str, np.ndarray]] = collections.OrderedDict()
        persistent = np.random.default_rng([seed, 3])
        n = self.lanes
        self._dead = np.zeros(n, dtype=bool)
        self._dead[persistent.choice(n, size=round(0.015 * n), replace=False)] = True
        lves = np.unique(self._lve)
        self._long_stale_lve = persistent.choice(lves, size=max(1, n // 1500), replace=False)
        self._long_stale_age = persistent.integers(20, 150, size=self._long_stale_lve.size)
        self._long_stale_minute = persistent.integers(0, 1440, size=self._long_stale_lve.size)

    # ---- public API -------------------------------------------------------------------
    @property
    def network(self) -> pa.Table:
        """The measuring points (``LOCATIONS_SCHEMA``), ordered by ``unieke_id``."""
        return self._net.table

    def minute(self, t: int) -> pa.RecordBatch:
        """The feed document of the minute starting at epoch second ``t`` (a multiple of 60)."""
        if t % 60 or t < 0:
            raise ValueError(f"minute start must be a non-negative multiple of 60 s, got {t}")
        values = self._clean_minute(t)
        if self.clean:
            present = np.ones(self.lanes, dtype=bool)
        else:
            values, present = self._with_artefacts(t, values)
        return self._batch(values, present, t + PUBLISH_DELAY_S)

    def minutes(self, start: int, count: int) -> Iterator[pa.RecordBatch]:
        """``count`` consecutive minutes from ``start``."""
        for i in range(count):
            yield self.minute(start + 60 * i)

    def day(self, start: int) -> pa.Table:
        """The 1,440 minutes from ``start`` as one table."""
        return pa.Table.from_batches(list(self.minutes(start, 1440)), schema=EVENT_SCHEMA)

    def to_xml(self, batch: pa.RecordBatch | pa.Table) -> bytes:
        """A MIV ``<miv>`` verkeersdata document holding ``batch``."""
        return feed_document(batch, self.tijd_laatste_config_wijziging)

    def config_xml(self) -> bytes:
        """The ``<mivconfig>`` document of :attr:`network` (comma decimals, as the real one)."""
        return config_document(self._net.table, self.tijd_laatste_config_wijziging)

    # ---- per day ----------------------------------------------------------------------
    def _day(self, d: int) -> _Day:
        cached = self._days.get(d)
        if cached is not None:
            self._days.move_to_end(d)
            return cached
        net = self._net
        offset = BRUSSELS.utcoffset(datetime.fromtimestamp(d * DAY + DAY // 2, UTC))
        assert offset is not None
        start_local = datetime.fromtimestamp(d * DAY + offset.total_seconds(), UTC)
        hours = (np.arange(1440) / 60.0 + offset.total_seconds() / 3600.0) % 24
        weekend = start_local.weekday() >= 5
        profiles = {k: _profile(hours, weekend, k) for k in (1, 2)}
        rng = np.random.default_rng([self.seed, 1, d])
        factor = np.stack([profiles[int(k)] for k in net.road_direction], axis=1)
        mult = rng.normal(1.0, 0.06, net.road_direction.size)
        demand = factor * net.road_peak_flow * mult
        excess = (demand - net.road_capacity) / 60.0 * net.road_bottleneck_lanes
        cum = np.cumsum(excess, axis=0)
        queue = cum - np.minimum(0.0, np.minimum.accumulate(cum, axis=0))
        day = _Day(demand=demand, queue_km=queue / (net.road_bottleneck_lanes * JAM_DENSITY))
        self._days[d] = day
        if len(self._days) > 8:
            self._days.popitem(last=False)
        return day

    def _day_with_episodes(self, d: int) -> _Day:
        day = self._day(d)
        if not day.episodes:
            self._plan_episodes(d, day)  # may touch (and evict) other days: keep this one
            self._days[d] = day
            self._days.move_to_end(d)
        return day

    def _plan_episodes(self, d: int, day: _Day) -> None:
        rng = np.random.default_rng([self.seed, 2, d])
        n, t_day = self.lanes, d * DAY

        def lanes_episodes(share: float, min_len: int, max_len: int) -> dict[str, np.ndarray]:
            k = rng.binomial(n, share)
            lanes = rng.choice(n, size=k, replace=False)
            start = t_day + 60 * rng.integers(0, 1440, k)
            end = np.minimum(start + 60 * rng.integers(min_len, max_len + 1, k), t_day + DAY)
            return {"lane": lanes, "start": start, "end": end}

        eps = {
            "missing": lanes_episodes(0.005, 30, 240),
            "defect": lanes_episodes(0.006, 60, 1440),
            "absent": lanes_episodes(0.003, 5, 60),
            "late": lanes_episodes(0.02, 5, 30),
        }
        eps["defect"]["code"] = np.where(rng.random(eps["defect"]["lane"].size) < 0.9, 1, 2)
        lves = np.unique(self._lve)
        stale_lves = rng.choice(lves, size=min(lves.size, max(1, n // 450)), replace=False)
        lane, start, end, t0 = [], [], [], []
        for g in stale_lves:
            s = t_day + 60 * int(rng.integers(1, 1440))
            e = min(s + 60 * int(rng.integers(10, 241)), t_day + DAY)
            members = np.flatnonzero(self._lve == g)
            lane += [members]
            start += [np.full(members.size, s)]
            end += [np.full(members.size, e)]
            t0 += [np.full(members.size, s - 60)]
        for g, age, minute in zip(
            self._long_stale_lve, self._long_stale_age, self._long_stale_minute, strict=True
        ):
            members = np.flatnonzero(self._lve == g)
            old = max(0, ((d // 128) * 128 - int(age)) * DAY + 60 * int(minute))
            lane += [members]
            start += [np.full(members.size, t_day)]
            end += [np.full(members.size, t_day + DAY)]
            t0 += [np.full(members.size, old)]
        eps["stale"] = {
            "lane": np.concatenate(lane),
            "start": np.concatenate(start),
            "end": np.concatenate(end),
            "t0": np.concatenate(t0),
        }
        day.stale_values = {
            int(t): self._clean_minute(int(t)) for t in np.unique(eps["stale"]["t0"])
        }
        day.episodes = eps  # type: ignore[assignment]

    # ---- per minute -------------------------------------------------------------------
    def _clean_minute(self, t: int) -> dict[str, np.ndarray]:
        cached = self._clean.get(t)
        if cached is not None:
            return cached
        values = self._generate(t)
        self._clean[t] = values
        if len(self._clean) > 4:
            self._clean.popitem(last=False)
        return values

    def _generate(self, t: int) -> dict[str, np.ndarray]:
        net, n = self._net, self.lanes
        day = self._day(t // DAY)
        m = (t % DAY) // 60
        rng = np.random.default_rng([self.seed, 0, t // 60])
        road = net.site_road
        qlen = day.queue_km[m][road]
        dist = net.site_dist_up
        jammed = (qlen > 0.05) & (dist >= 0) & (dist <= qlen)
        cap = net.road_capacity[road]
        flow = day.demand[m][road] * net.site_demand
        flow = np.where((dist < 0) & (qlen > 0.05), np.minimum(flow, cap), flow)
        flow = np.where(jammed, cap * 0.92, flow)
        jam_speed = 8.0 + 30.0 * rng.beta(2.0, 3.0, jammed.size)
        site = net.lane_site
        lane_flow = flow[site] * net.lane_share  # veh/h
        free_speed = net.lane_vfree * (1 - 0.18 * np.minimum(lane_flow / 2000.0, 1.3) ** 3)
        speed = np.where(jammed[site], jam_speed[site] + rng.normal(0, 2.0, n), free_speed)
        counts = rng.poisson(lane_flow[:, None] / 60.0 * net.lane_class_share).astype(np.int32)
        class_speed = np.minimum(speed[:, None] + _CLASS_SPEED_OFFSET, _CLASS_SPEED_CAP)
        class_speed = np.where(jammed[site][:, None], speed[:, None], class_speed)
        arith = np.clip(np.rint(class_speed + rng.normal(0, 3.5, (n, 5))), 3, 200)
        harm = arith - np.where(counts >= 2, np.rint(np.abs(rng.normal(0, 1.5, (n, 5)))), 0)
        has = counts > 0
        arith_i = np.where(has, arith, 0).astype(np.int32)
        harm_i = np.where(has, np.maximum(harm, 2), 252).astype(np.int32)
        cover_s = np.where(has, counts * _VEHICLE_LENGTH_M / (arith / 3.6), 0.0).sum(axis=1)
        occupancy = np.clip(np.rint(cover_s / 60.0 * 100.0), 0, 100).astype(np.int32)
        total = counts.sum(axis=1)
        spread = np.where(jammed[site], 0.3, 0.1) * speed
        unrest = np.where(total >= 2, np.rint(spread**2 * np.exp(rng.normal(0, 0.4, n))), 0)
        values: dict[str, np.ndarray] = {
            "unieke_id": self._ids,
            "lve_nr": self._lve,
            "tijd_waarneming": np.full(n, t, dtype=np.int64),
            "tijd_laatst_gewijzigd": np.full(n, t + CHANGE_DELAY_S, dtype=np.int64),
            "actueel_publicatie": np.ones(n, dtype=np.int8),
            "beschikbaar": np.ones(n, dtype=np.int8),
            "defect": np.zeros(n, dtype=np.int8),
            "geldig": np.zeros(n, dtype=np.int8),
            "rekendata_bezettingsgraad": occupancy,
            "rekendata_beschikbaarheidsgraad": np.full(n, 100, dtype=np.int32),
            "rekendata_onrustigheid": np.minimum(unrest, 5000).astype(np.int32),
        }
        for i, k in enumerate(CLASSES):
            values[f"verkeersintensiteit_klasse{k}"] = counts[:, i].copy()
            values[f"voertuigsnelheid_rekenkundig_klasse{k}"] = arith_i[:, i].copy()
            values[f"voertuigsnelheid_harmonisch_klasse{k}"] = harm_i[:, i].copy()
        return values

    def _with_artefacts(
        self, t: int, clean: dict[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        day = self._day_with_episodes(t // DAY)
        n = self.lanes
        v = {k: a.copy() for k, a in clean.items()}
        rng = np.random.default_rng([self.seed, 4, t // 60])
        eps = day.episodes

        def active(kind: str) -> np.ndarray:
            e = eps[kind]
            on = (e["start"] <= t) & (t < e["end"])
            return on

        missing = self._dead.copy()
        missing[eps["missing"]["lane"][active("missing")]] = True
        on = active("defect")
        defect_lanes = eps["defect"]["lane"][on]
        v["defect"][defect_lanes] = eps["defect"]["code"][on]
        broken = missing.copy()
        broken[defect_lanes] = True
        for k in CLASSES:
            v[f"verkeersintensiteit_klasse{k}"][broken] = 0
            v[f"voertuigsnelheid_rekenkundig_klasse{k}"][broken] = 0
            harm = v[f"voertuigsnelheid_harmonisch_klasse{k}"]
            harm[broken] = 252
            harm[missing] = 254
            odd = (rng.random(n) < 0.0005) & (v[f"verkeersintensiteit_klasse{k}"] > 0)
            harm[odd] = 254
        for name in ("rekendata_bezettingsgraad", "rekendata_onrustigheid"):
            v[name][broken] = 0
        v["rekendata_beschikbaarheidsgraad"][missing] = 0
        v["geldig"][(rng.random(n) < 0.013) & ~broken] = 1

        on = active("late")
        if on.any():
            late = eps["late"]["lane"][on]
            previous = self._clean_minute(t - 60)
            for name, column in previous.items():
                v[name][late] = column[late]
            v["tijd_laatst_gewijzigd"][late] = t + CHANGE_DELAY_S
        on = active("stale")
        stale_lanes, stale_t0 = eps["stale"]["lane"][on], eps["stale"]["t0"][on]
        for t0 in np.unique(stale_t0):
            lanes = stale_lanes[stale_t0 == t0]
            for name, column in day.stale_values[int(t0)].items():
                v[name][lanes] = column[lanes]
            v["actueel_publicatie"][lanes] = 0
        present = rng.random(n) >= 0.001
        present[eps["absent"]["lane"][active("absent")]] = False
        return v, present

    def _batch(
        self, values: dict[str, np.ndarray], present: np.ndarray, published: int
    ) -> pa.RecordBatch:
        idx = None if present.all() else np.flatnonzero(present)
        arrays: list[pa.Array] = []
        for f in EVENT_SCHEMA:
            if f.name == "beschrijvende_id":
                arrays.append(self._bid if idx is None else self._bid.take(idx))
                continue
            if f.name == "tijd_publicatie":
                col = np.full(self.lanes, published, dtype=np.int64)
            else:
                col = values[f.name]
            col = col if idx is None else col[idx]
            arrays.append(pa.array(col, type=f.type))
        return pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA)

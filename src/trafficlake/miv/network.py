"""A synthetic but real-looking MIV measuring network for the simulator.

Roads are one-directional carriageways (``Ident_8`` ``A0130001`` / ``A0130002``) with measuring
sites every 0.4–2.5 km; a site has 1–5 lanes (``R10``, ``R11``, ... plus the odd ``R09``
merging lane, ``TR10`` ghost-traffic lane or ``P00`` hard shoulder). An ``lve_nr`` groups 1–4
consecutive sites of one road, which gives ~7.4 lanes per group as in the real 2017
configuration (575 groups for 4,254 lanes). Each road has one bottleneck where queues form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from trafficlake.miv.locations import LOCATIONS_SCHEMA

_ROAD_NAMES = ("E17", "E19", "E313", "E314", "E34", "E40", "E403", "E411", "R0", "R1", "A12")
_PLACES = (
    "Kruibeke",
    "Melle",
    "Deinze",
    "Heverlee",
    "Herent",
    "Winksele",
    "Zwijnaarde",
    "Wommelgem",
    "Ranst",
    "Lummen",
    "Machelen",
    "Zaventem",
    "Kontich",
    "Sint-Denijs-Westrem",
    "Aalter",
    "Beveren",
    "Grimbergen",
    "Lier",
)


@dataclass(frozen=True)
class Network:
    """Lane-level arrays (index = lane position, ordered by ``unieke_id``) plus road data."""

    table: pa.Table
    lane_site: np.ndarray  # site index of each lane
    lane_share: np.ndarray  # share of the site's flow on this lane
    lane_vfree: np.ndarray  # free-flow speed km/h
    lane_class_share: np.ndarray  # (lanes, 5) vehicle class mix
    lane_lve: np.ndarray  # lve group index of each lane
    site_road: np.ndarray
    site_dist_up: np.ndarray  # km upstream of the road's bottleneck (negative: downstream)
    site_demand: np.ndarray  # demand multiplier of the site
    site_lanes: np.ndarray
    road_direction: np.ndarray  # 1 or 2 (1: inbound, morning peak; 2: outbound, evening)
    road_peak_flow: np.ndarray  # peak demand veh/h/lane at the bottleneck
    road_capacity: np.ndarray  # bottleneck capacity veh/h/lane
    road_bottleneck_lanes: np.ndarray


def _site_lane_codes(rng: np.random.Generator, n: int) -> list[str]:
    codes = [f"R{10 + i}" for i in range(n)]
    roll = rng.random()
    if n >= 2 and roll < 0.06:
        codes[0] = "R09"
        codes[1:] = [f"R{10 + i}" for i in range(n - 1)]
    elif n >= 2 and roll < 0.08:
        codes[-1] = "TR10"
    elif n >= 2 and roll < 0.09:
        codes[0] = "P00"
        codes[1:] = [f"R{10 + i}" for i in range(n - 1)]
    elif n >= 2 and roll < 0.11:
        codes[0] = "S09"
        codes[1:] = [f"R{10 + i}" for i in range(n - 1)]
    return codes


def build_network(seed: int, lanes: int) -> Network:
    """Build a network of exactly ``lanes`` lanes, deterministically from ``seed``."""
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1, got {lanes}")
    rng = np.random.default_rng([seed, 7001])
    rows: dict[str, list[object]] = {f.name: [] for f in LOCATIONS_SCHEMA}
    lane_site: list[int] = []
    lane_share: list[float] = []
    lane_vfree: list[float] = []
    lane_cls: list[list[float]] = []
    lane_lve: list[int] = []
    site_road: list[int] = []
    site_dist: list[float] = []
    site_demand: list[float] = []
    site_lanes: list[int] = []
    road_dir: list[int] = []
    road_peak: list[float] = []
    road_cap: list[float] = []
    road_bl: list[int] = []
    next_id = 29
    lve_numbers = rng.permutation(np.arange(1, max(64, lanes // 3) + 1))
    lve_count = 0
    road = 0
    while len(lane_site) < lanes:
        name = _ROAD_NAMES[road // 2 % len(_ROAD_NAMES)]
        direction = road % 2 + 1
        ident8 = f"A{(road // 2) % 999 + 1:03d}000{direction}"
        n_sites = int(rng.integers(15, 60))
        km = float(rng.uniform(0, 60))
        positions = km + np.cumsum(rng.uniform(0.4, 2.5, n_sites))
        base_lanes = int(rng.choice([2, 3, 3, 4]))
        bottleneck = int(rng.integers(n_sites // 2, n_sites))
        road_dir.append(direction)
        road_peak.append(float(rng.uniform(1500, 2100)))
        road_cap.append(float(rng.choice([2100.0, 2000.0, 1900.0, 1750.0, 1650.0])))
        road_bl.append(max(1, base_lanes - int(rng.random() < 0.3)))
        site_lve = lve_numbers[lve_count % len(lve_numbers)]
        sites_in_lve = 0
        lve_size = int(rng.integers(1, 5))
        lon0, lat0 = rng.uniform(2.7, 5.7), rng.uniform(50.75, 51.3)
        heading = rng.uniform(0, 2 * np.pi)
        for s in range(n_sites):
            if len(lane_site) >= lanes:
                break
            if sites_in_lve >= lve_size:
                lve_count += 1
                site_lve = lve_numbers[lve_count % len(lve_numbers)]
                sites_in_lve = 0
                lve_size = int(rng.integers(1, 5))
            sites_in_lve += 1
            n = int(np.clip(base_lanes + rng.choice([-1, 0, 0, 0, 0, 1]), 1, 5))
            n = min(n, lanes - len(lane_site))
            site_index = len(site_road)
            site_road.append(road)
            site_dist.append(float(positions[bottleneck] - positions[s]))
            site_demand.append(float(rng.uniform(0.85, 1.1)))
            site_lanes.append(n)
            codes = _site_lane_codes(rng, n)
            site_code = f"{'H' if rng.random() < 0.8 else 'S'}{int(rng.integers(101, 300))}"
            place = _PLACES[int(rng.integers(len(_PLACES)))]
            label = (
                f"{name} kmpt. " + f"{positions[s]:.3f}".replace(".", ",")
                if rng.random() < 0.6
                else f"complex {place} ({int(rng.integers(1, 30))})"
            )
            d_km = positions[s] - km
            lon = round(float(np.clip(lon0 + np.cos(heading) * d_km / 70.0, 2.55, 5.9)), 9)
            lat = round(float(np.clip(lat0 + np.sin(heading) * d_km / 111.0, 50.69, 51.45)), 8)
            x = round(150000.0 + (lon - 4.3677) * 70000.0, 4)
            y = round(170000.0 + (lat - 50.7977) * 111000.0, 4)
            weights = np.linspace(1.0, 0.8, n) * rng.uniform(0.9, 1.1, n)
            for i, code in enumerate(codes):
                next_id += 1 + (int(rng.integers(1, 20)) if rng.random() < 0.03 else 0)
                rows["unieke_id"].append(next_id)
                rows["beschrijvende_id"].append(f"{site_code}L{(i + 1) * 10}")
                rows["volledige_naam"].append(label)
                rows["Ident_8"].append(ident8)
                rows["lve_nr"].append(int(site_lve))
                rows["Kmp_Rsys"].append(round(float(positions[s]), 3))
                rows["Rijstrook"].append(code)
                rows["X_coord_EPSG_31370"].append(x)
                rows["Y_coord_EPSG_31370"].append(y)
                rows["lengtegraad_EPSG_4326"].append(lon)
                rows["breedtegraad_EPSG_4326"].append(lat)
                ghost = code.startswith(("TR", "P"))
                lane_site.append(site_index)
                lane_share.append(0.004 if ghost else float(weights[i] / weights.sum() * n))
                rank = i / max(1, n - 1)
                lane_vfree.append(float(95 + 30 * rank + rng.normal(0, 3)))
                trucks = 1.7 - 1.5 * rank if n > 1 else 1.0
                lane_cls.append([0.0004, 0.70, 0.13, 0.05 * trucks, 0.11 * trucks])
                lane_lve.append(int(site_lve))
        lve_count += 1
        road += 1
    cls = np.asarray(lane_cls)
    cls /= cls.sum(axis=1, keepdims=True)
    return Network(
        table=pa.table(rows, schema=LOCATIONS_SCHEMA),
        lane_site=np.asarray(lane_site, dtype=np.int64),
        lane_share=np.asarray(lane_share),
        lane_vfree=np.asarray(lane_vfree),
        lane_class_share=cls,
        lane_lve=np.asarray(lane_lve, dtype=np.int32),
        site_road=np.asarray(site_road, dtype=np.int64),
        site_dist_up=np.asarray(site_dist),
        site_demand=np.asarray(site_demand),
        site_lanes=np.asarray(site_lanes),
        road_direction=np.asarray(road_dir),
        road_peak_flow=np.asarray(road_peak),
        road_capacity=np.asarray(road_cap),
        road_bottleneck_lanes=np.asarray(road_bl),
    )

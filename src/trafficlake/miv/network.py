"""A synthetic but real-looking MIV measuring network for the simulator.

Roads are Flanders' motorways and rings (E40, E17, E19, E313, E314, E34, E403, R0, R1, A12)
drawn as polylines through the places they pass, each with two carriageways (``Ident_8``
``A0140001`` / ``A0140002`` for the E17 = A14): direction 1 runs towards higher reference
kilometres (``Kmp_Rsys``), direction 2 back along the same line towards lower ones, as on the
real network. Measuring sites stand every ~0.8 km (closer for a network of more lanes than the
real one's, which then also gets parallel roads); a site has 1–5 lanes (``R10``, ``R11``, ... plus the odd ``R09``
merging lane, ``TR10`` ghost-traffic lane or ``P00`` hard shoulder). An ``lve_nr`` groups 1–4
consecutive sites of one road, which gives ~7.4 lanes per group as in the real 2017
configuration (575 groups for 4,254 lanes). Each road has one bottleneck where queues form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from trafficlake.miv.locations import LOCATIONS_SCHEMA

_ROADS: tuple[tuple[str, str, float, tuple[tuple[str, float, float], ...]], ...] = (
    # (European name, Ident_8 road part, km at the first waypoint, waypoints: place, lat, lon)
    (
        "E40",
        "A010",
        4.0,
        (
            ("Groot-Bijgaarden", 50.872, 4.265),
            ("Ternat", 50.873, 4.170),
            ("Erpe-Mere", 50.928, 3.968),
            ("Wetteren", 50.978, 3.845),
            ("Zwijnaarde", 51.006, 3.712),
            ("Sint-Denijs-Westrem", 51.022, 3.672),
            ("Aalter", 51.082, 3.448),
            ("Sint-Michiels", 51.178, 3.205),
            ("Jabbeke", 51.187, 3.088),
            ("Oostende", 51.203, 2.946),
        ),
    ),
    (
        "E17",
        "A014",
        1.0,
        (
            ("Rekkem", 50.768, 3.183),
            ("Kortrijk", 50.812, 3.283),
            ("Waregem", 50.880, 3.421),
            ("Deinze", 50.967, 3.552),
            ("Zwijnaarde", 51.006, 3.712),
            ("Gentbrugge", 51.038, 3.770),
            ("Lokeren", 51.098, 3.990),
            ("Sint-Niklaas", 51.158, 4.140),
            ("Kruibeke", 51.184, 4.297),
            ("Antwerpen-West", 51.213, 4.352),
        ),
    ),
    (
        "E19",
        "A001",
        6.0,
        (
            ("Machelen", 50.910, 4.445),
            ("Zemst", 50.985, 4.465),
            ("Mechelen-Zuid", 51.012, 4.470),
            ("Kontich", 51.135, 4.440),
            ("Antwerpen-Zuid", 51.187, 4.420),
        ),
    ),
    (
        "E313",
        "A013",
        1.0,
        (
            ("Wommelgem", 51.202, 4.520),
            ("Ranst", 51.192, 4.572),
            ("Herentals", 51.165, 4.815),
            ("Geel", 51.140, 4.975),
            ("Lummen", 50.990, 5.190),
            ("Hasselt", 50.945, 5.300),
            ("Tongeren", 50.820, 5.480),
        ),
    ),
    (
        "E314",
        "A002",
        1.0,
        (
            ("Holsbeek", 50.915, 4.730),
            ("Aarschot", 50.962, 4.840),
            ("Diest", 50.982, 5.060),
            ("Lummen", 50.990, 5.190),
            ("Genk", 50.980, 5.480),
            ("Maasmechelen", 50.962, 5.690),
        ),
    ),
    (
        "E40",
        "A003",
        9.0,
        (
            ("Zaventem", 50.878, 4.475),
            ("Kortenberg", 50.880, 4.560),
            ("Heverlee", 50.862, 4.700),
            ("Bierbeek", 50.830, 4.780),
            ("Tienen", 50.800, 4.930),
            ("Landen", 50.770, 5.060),
        ),
    ),
    (
        "E34",
        "A011",
        1.0,
        (
            ("Zwijndrecht", 51.218, 4.330),
            ("Beveren", 51.235, 4.225),
            ("Kallo", 51.255, 4.130),
            ("Zelzate", 51.200, 3.815),
            ("Eeklo", 51.190, 3.570),
        ),
    ),
    (
        "E403",
        "A017",
        1.0,
        (
            ("Sint-Michiels", 51.178, 3.205),
            ("Torhout", 51.065, 3.105),
            ("Roeselare", 50.948, 3.118),
            ("Kortrijk", 50.825, 3.250),
        ),
    ),
    (
        "R0",
        "R000",
        1.0,
        (
            ("Groot-Bijgaarden", 50.872, 4.265),
            ("Zellik", 50.893, 4.282),
            ("Grimbergen", 50.920, 4.360),
            ("Vilvoorde", 50.922, 4.420),
            ("Machelen", 50.910, 4.445),
            ("Zaventem", 50.878, 4.475),
            ("Kraainem", 50.860, 4.480),
            ("Tervuren", 50.830, 4.500),
        ),
    ),
    (
        "R1",
        "R001",
        0.5,
        (
            ("Antwerpen-Noord", 51.245, 4.430),
            ("Deurne", 51.220, 4.450),
            ("Berchem", 51.195, 4.435),
            ("Antwerpen-Zuid", 51.187, 4.395),
            ("Antwerpen-West", 51.213, 4.352),
        ),
    ),
    (
        "A12",
        "A012",
        1.0,
        (
            ("Strombeek", 50.910, 4.350),
            ("Londerzeel", 51.005, 4.300),
            ("Boom", 51.090, 4.365),
            ("Antwerpen-Zuid", 51.187, 4.390),
        ),
    ),
)
"""Flanders' motorways and rings as polylines through the places they pass (approximate)."""

_CARRIAGEWAY_KM = 1188.4
"""Sum of the carriageway lengths of :data:`_ROADS` (both directions), for the spacing."""


def _polyline(points: tuple[tuple[str, float, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Waypoints as (lat, lon) and the km along the line at each (flat-earth distances)."""
    ll = np.array([(lat, lon) for _, lat, lon in points])
    step = np.hypot(np.diff(ll[:, 0]) * 111.2, np.diff(ll[:, 1]) * 70.0)
    return ll, np.concatenate(([0.0], np.cumsum(step)))


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
    # mean distance between measuring sites: ~0.8 km for the real network's 4,600 lanes
    spacing = float(np.clip(_CARRIAGEWAY_KM * 2.9 / max(lanes, 1), 0.15, 1.2))
    road = 0
    while len(lane_site) < lanes:
        name, ident, km0, points = _ROADS[road // 2 % len(_ROADS)]
        direction = road % 2 + 1
        lap = road // (2 * len(_ROADS))  # a network larger than Flanders: parallel roads
        ident8 = f"{ident[0]}{(int(ident[1:]) + 100 * lap) % 1000:03d}000{direction}"
        ll, along = _polyline(points)
        positions = np.arange(0.3, along[-1], spacing) + rng.uniform(-0.3, 0.3) * spacing
        positions = np.sort(
            np.clip(positions + rng.normal(0, 0.15 * spacing, positions.size), 0, along[-1])
        )
        n_sites = positions.size
        base_lanes = int(rng.choice([2, 3, 3, 4]))
        # traffic runs towards higher km on direction 1, lower km on direction 2; the bottleneck
        # is in the downstream half
        if direction == 1:
            bottleneck = int(rng.integers(n_sites // 2, n_sites))
        else:
            bottleneck = int(rng.integers(0, max(1, n_sites // 2)))
        sign = 1.0 if direction == 1 else -1.0
        road_dir.append(direction)
        capacity = float(rng.choice([2100.0, 2000.0, 1900.0, 1750.0, 1650.0]))
        road_cap.append(capacity)
        road_peak.append(capacity * float(rng.uniform(0.9, 1.15)))  # about half queue at peak
        road_bl.append(max(1, base_lanes - int(rng.random() < 0.3)))
        site_lve = lve_numbers[lve_count % len(lve_numbers)]
        sites_in_lve = 0
        lve_size = int(rng.integers(1, 5))
        order = list(range(n_sites) if direction == 1 else range(n_sites - 1, -1, -1))
        # a network of fewer lanes than Flanders' covers several roads: on each, a stretch of
        # at most a sixth of its lanes, mostly upstream of the bottleneck (where queues grow)
        allowed = max(2, lanes // 6 // base_lanes)
        if len(order) > allowed:
            at = order.index(bottleneck)
            first = int(np.clip(at - (3 * allowed) // 4, 0, len(order) - allowed))
            order = order[first : first + allowed]
        for s in order:
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
            site_dist.append(float(sign * (positions[bottleneck] - positions[s])))
            site_demand.append(float(rng.uniform(0.85, 1.1)))
            site_lanes.append(n)
            codes = _site_lane_codes(rng, n)
            site_code = f"{'H' if rng.random() < 0.8 else 'S'}{int(rng.integers(101, 300))}"
            km = km0 + positions[s]
            nearest = points[int(np.argmin(np.abs(along - positions[s])))][0]
            label = (
                f"{name} kmpt. " + f"{km:.3f}".replace(".", ",")
                if rng.random() < 0.6
                else f"complex {nearest} ({int(rng.integers(1, 30))})"
            )
            side = 0.00012 * (1 if direction == 1 else -1)  # carriageways ~15 m apart
            lat_c = float(np.interp(positions[s], along, ll[:, 0]))
            lon_c = float(np.interp(positions[s], along, ll[:, 1]))
            lat = round(lat_c + side + 0.02 * lap, 8)
            lon = round(lon_c + side, 9)
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
                rows["Kmp_Rsys"].append(round(float(km), 3))
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

"""A lake with planted jams: two roads of one-lane sections, jams of known head, tail, start
and end, plus slowdowns too short to be jams, and detectors with known faults."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from trafficlake.miv.locations import LOCATIONS_SCHEMA

T0 = 1763683200  # 2025-11-21 00:00 UTC (a Friday)
FIRST = T0 + 6 * 3600
MINUTES = 180  # 06:00-09:00 UTC
FREE, JAM = 100, 20


@dataclass(frozen=True)
class Planted:
    road: str
    direction: str
    head: int  # lve_nr of the most downstream jammed section
    tail: int  # lve_nr of the most upstream section the queue reaches
    start: int  # epoch s of the first slow minute
    end: int  # epoch s after the last slow minute
    sections: frozenset[int]


# A14 direction 1: lve 101..120 at km 10..29 (traffic towards higher km)
A14 = [(100 + i, 9.0 + i) for i in range(1, 21)]
# A13 direction 2: lve 201..212 at km 50..39 (traffic towards lower km)
A13 = [(200 + i, 51.0 - i) for i in range(1, 13)]


def _a14_jam(lve: int, t: int) -> bool:
    """Head at lve 115 from 06:40; the tail grows one section upstream every 8 min up to lve
    111 (07:12), holds, then the queue dissolves from the tail; gone at 08:00."""
    m = (t - FIRST) // 60  # minutes since 06:00
    if not 40 <= m < 120 or not 111 <= lve <= 115:
        return False
    depth = 115 - lve  # sections upstream of the head
    return 40 + 8 * depth <= m < 120 - 6 * depth


def _a13_jam(lve: int, t: int) -> bool:
    m = (t - FIRST) // 60
    return 205 <= lve <= 207 and 90 <= m < 130


PLANTED = [
    Planted("A14", "1", 115, 111, FIRST + 40 * 60, FIRST + 120 * 60, frozenset(range(111, 116))),
    Planted("A13", "2", 207, 205, FIRST + 90 * 60, FIRST + 130 * 60, frozenset({205, 206, 207})),
]


def speed(uid: int, t: int) -> int:
    lve = uid // 10
    m = (t - FIRST) // 60
    if _a14_jam(lve, t) or _a13_jam(lve, t):
        return JAM
    if lve == 103 and m in (20, 21):  # two slow minutes: the 3-minute speed is slow for 2
        return 10
    if lve == 118 and m == 60:  # one very slow minute
        return 3
    if lve == 210 and m % 20 == 0:  # a slow minute every 20 minutes
        return 15
    return FREE + (uid % 7)


def lanes() -> list[tuple[int, int]]:
    return [(lve * 10, lve) for lve, _ in A14 + A13]


def locations() -> pa.Table:
    rows: dict[str, list[object]] = {f.name: [] for f in LOCATIONS_SCHEMA}
    for ident, road in (("A0140001", A14), ("A0130002", A13)):
        for lve, km in road:
            values = {
                "unieke_id": lve * 10,
                "beschrijvende_id": f"H{lve}L10",
                "volledige_naam": f"section {lve}",
                "Ident_8": ident,
                "lve_nr": lve,
                "Kmp_Rsys": km,
                "Rijstrook": "R10",
                "X_coord_EPSG_31370": 150000.0,
                "Y_coord_EPSG_31370": 170000.0 + km * 1000,
                "lengtegraad_EPSG_4326": 4.0 + km / 100,
                "breedtegraad_EPSG_4326": 51.0,
            }
            for name, value in values.items():
                rows[name].append(value)
    return pa.table(rows, schema=LOCATIONS_SCHEMA)

"""De-duplication (docs/architecture.md, "The transform", step 2) on many competing versions: the transform of a raw set
equals the transform of the same set de-duplicated beforehand in Python by the documented rule
(latest tijd_laatst_gewijzigd, NULL last; then latest arrival_time; then latest
tijd_publicatie, NULL last). Runs traffic.sql directly on DuckDB over an in-memory view."""

from __future__ import annotations

import random
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from transform_lakes import T0, lane_rows

from trafficlake.schema import RAW_SCHEMA
from trafficlake.transform.sql import LANE_BLOCK, render_traffic_sql

LANES = [(1, 10), (2, 10), (3, 11), (4, None), (5, 12)]
START = T0 + 6 * 3600


def _versions(
    seed: int, lanes: list[tuple[int | None, int | None]] = LANES, share: float = 0.5
) -> list[dict[str, Any]]:
    """Clean rows for 40 minutes, plus 0..4 extra versions of ``share`` of the lane-minutes
    (other speeds, counts, defect flags, modification and publication times, NULLs);
    arrival times are all distinct, so the rule never ties."""
    rng = random.Random(seed)
    rows = lane_rows(lanes, range(START - 1200, START + 1200, 60)).to_pylist()
    out: list[dict[str, Any]] = []
    arrival = (START - 7200) * 1000
    for row in rows:
        for _ in range(1 + (rng.randint(0, 4) if rng.random() < share else 0)):
            v = dict(row)
            arrival += rng.randint(1, 5000)
            v["arrival_time"] = arrival
            t = row["tijd_waarneming"]
            v["tijd_laatst_gewijzigd"] = rng.choice([None, t + 60, t + rng.randint(0, 600)])
            v["tijd_publicatie"] = rng.choice([None, t + 120, t + rng.randint(0, 900)])
            v["defect"] = 1 if rng.random() < 0.1 else 0
            speed = rng.randint(5, 130)
            for k in range(2, 6):
                v[f"verkeersintensiteit_klasse{k}"] = rng.randint(0, 4)
                v[f"voertuigsnelheid_rekenkundig_klasse{k}"] = speed + k
                v[f"voertuigsnelheid_harmonisch_klasse{k}"] = speed
            out.append(v)
    rng.shuffle(out)
    return out


def _latest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def rank(r: dict[str, Any]) -> tuple[Any, ...]:
        m, p = r["tijd_laatst_gewijzigd"], r["tijd_publicatie"]
        return (m is not None, m or 0, r["arrival_time"], p is not None, p or 0)

    best: dict[tuple[int, int], dict[str, Any]] = {}
    for r in rows:
        key = (r["unieke_id"], r["tijd_waarneming"])
        if key not in best or rank(r) > rank(best[key]):
            best[key] = r
    return list(best.values())


def _transform(rows: list[dict[str, Any]], threads: int) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    try:
        con.execute(f"SET threads = {threads}")
        con.register("raw_arrow", pa.Table.from_pylist(rows, schema=RAW_SCHEMA))
        con.execute("CREATE VIEW raw_input AS SELECT * FROM raw_arrow")
        sql = render_traffic_sql(start=START, end=START + 3600, jam_threshold=40.0)
        order = "ORDER BY lve_nr, uniqueId, recordTimestamp"
        return con.execute(f"SELECT * FROM ({sql}) {order}").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ranking_equals_the_rule_applied_beforehand(seed: int) -> None:
    rows = _versions(seed)
    assert len(rows) > len(_latest(rows))  # there is something to de-duplicate
    expected = _transform(_latest(rows), threads=1)
    assert len(expected) > 50  # 4 sections x 20 minutes, less the all-defect ones
    for threads in (1, 2):
        assert _transform(rows, threads=threads) == expected


# Lanes on both sides of the duplicate check's block edges (blocks of B = LANE_BLOCK ids:
# -B..-1, 0..B-1, B..2B-1, ...), the smallest and largest ids, a lane without an id, and lanes
# sharing a block with a repeated key's lane.
_B = LANE_BLOCK
EDGE_LANES: list[tuple[int | None, int | None]] = [
    (-_B - 1, 19),
    (-_B, 19),
    (-1, 20),
    (0, 20),
    (_B - 1, 21),
    (_B, 21),
    (2 * _B - 1, 22),
    (2 * _B, 22),
    (-(2**31), 24),
    (2**31 - 1, 24),
    (None, 23),
    (3000, None),
]


@pytest.mark.parametrize("seed", [4, 5])
def test_repeated_keys_are_found_across_block_edges(seed: int) -> None:
    """Few repeated keys (5% of lane-minutes), so that most block-minutes hold none and pass
    unranked while their neighbours are ranked: still the rule applied beforehand."""
    rows = _versions(seed, EDGE_LANES, share=0.05)
    assert len(rows) > len(_latest(rows))
    expected = _transform(_latest(rows), threads=1)
    assert _transform(rows, threads=2) == expected

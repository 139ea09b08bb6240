"""The simulator: determinism, network shape, traffic realism, feed artefacts, clean mode."""

from __future__ import annotations

import re
from collections import Counter

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from trafficlake.miv.locations import LOCATIONS_SCHEMA
from trafficlake.miv.simulator import Simulator
from trafficlake.schema import CLASSES, EVENT_SCHEMA

MONDAY = 1767571200  # 2026-01-05T00:00:00Z (winter: local = UTC+1)
SATURDAY = MONDAY + 5 * 86400


def minutes(sim: Simulator, start: int, count: int, step: int = 60) -> pa.Table:
    return pa.Table.from_batches(
        [sim.minute(start + i * step) for i in range(count)], schema=EVENT_SCHEMA
    )


def query(sql: str, **tables: pa.Table) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    for name, table in tables.items():
        con.register(name, table)
    return con.sql(sql).fetchall()


def test_same_seed_same_data_in_any_order() -> None:
    a, b = Simulator(seed=9, lanes=400), Simulator(seed=9, lanes=400)
    assert a.network.equals(b.network)
    forward = list(a.minutes(MONDAY + 7 * 3600, 5))
    backward = [b.minute(MONDAY + 7 * 3600 + 60 * i) for i in reversed(range(5))][::-1]
    assert all(x.equals(y) for x, y in zip(forward, backward, strict=True))
    other = Simulator(seed=10, lanes=400).minute(MONDAY + 7 * 3600)
    assert not other.equals(forward[0])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="multiple of 60"):
        Simulator(lanes=10).minute(MONDAY + 30)
    with pytest.raises(ValueError, match="non-negative"):
        Simulator(lanes=10).minute(-60)
    with pytest.raises(ValueError, match="seed"):
        Simulator(seed=-1, lanes=10)
    with pytest.raises(ValueError, match="lanes"):
        Simulator(lanes=0)
    assert Simulator(lanes=50).minute(0).num_rows > 40  # the epoch itself works


def test_network_looks_like_the_real_configuration() -> None:
    sim = Simulator(seed=42, lanes=4600)
    net = sim.network
    assert net.schema.equals(LOCATIONS_SCHEMA) and net.num_rows == 4600
    ids = net.column("unieke_id").to_pylist()
    assert ids == sorted(set(ids))
    lve_groups = len(set(net.column("lve_nr").to_pylist()))
    assert 500 <= lve_groups <= 750  # real 2017: 575 groups for 4,254 lanes
    lanes = Counter(net.column("Rijstrook").to_pylist())
    assert lanes.most_common(1)[0][0] == "R10"
    assert all(re.fullmatch(r"(R|TR|P|S|B)\d\d", code) for code in lanes)
    assert all(
        re.fullmatch(r"[HS]\d{3}L\d0", b) for b in net.column("beschrijvende_id").to_pylist()
    )
    assert all(re.fullmatch(r"[AR]\d{7}", i) for i in net.column("Ident_8").to_pylist())
    sites = query(
        "select count(*) from net group by Ident_8, Kmp_Rsys, beschrijvende_id[1:4]", net=net
    )
    assert max(n for (n,) in sites) <= 5
    lon = pc.min_max(net.column("lengtegraad_EPSG_4326")).as_py()
    assert lon["min"] > 2.0 and lon["max"] < 6.5


def test_network_roads_run_both_ways_along_one_line() -> None:
    from trafficlake.roads.sections import build_sections

    sections = build_sections(Simulator(seed=42, lanes=4600).network).to_pylist()
    by_road: dict[tuple[str, str], list[dict[str, object]]] = {}
    for s in sections:
        by_road.setdefault((str(s["road"]), str(s["direction"])), []).append(s)
    assert {"A10", "A14", "A1", "A13", "R0"} <= {road for road, _ in by_road}
    e17_1, e17_2 = by_road[("A14", "1")], by_road[("A14", "2")]
    # direction 1 runs towards higher km, direction 2 back along the same line
    assert [s["km"] for s in e17_1] == sorted(s["km"] for s in e17_1)  # type: ignore[type-var]
    assert [s["km"] for s in e17_2] == sorted((s["km"] for s in e17_2), reverse=True)  # type: ignore[type-var]
    first_1 = min(e17_1, key=lambda s: s["km"])  # type: ignore[arg-type,return-value]
    first_2 = min(e17_2, key=lambda s: s["km"])  # type: ignore[arg-type,return-value]
    assert abs(first_1["lat"] - first_2["lat"]) < 0.02  # type: ignore[operator]
    assert all(50.6 < s["lat"] < 51.5 for s in sections)  # type: ignore[operator]


def test_traffic_has_peaks_quiet_nights_and_weekends() -> None:
    sim = Simulator(seed=42, lanes=800, clean=True)
    flow = "sum(verkeersintensiteit_klasse2 + verkeersintensiteit_klasse3 + verkeersintensiteit_klasse4 + verkeersintensiteit_klasse5)"

    def total(start: int) -> int:
        return query(f"select {flow} from t", t=minutes(sim, start, 5))[0][0]  # type: ignore[return-value]

    night, morning, evening = (
        total(MONDAY + 2 * 3600),
        total(MONDAY + 7 * 3600),
        total(MONDAY + 16 * 3600),
    )
    weekend_noon = total(SATURDAY + 13 * 3600)
    assert morning > 5 * night and evening > 5 * night
    assert weekend_noon < morning and weekend_noon > night


def test_clean_mode_has_jams_spreading_upstream_during_the_peak() -> None:
    sim = Simulator(seed=42, lanes=1000, clean=True)
    day = minutes(sim, MONDAY + 4 * 3600, 30, step=600)  # 04:00–08:50 UTC every 10 min
    net = sim.network
    slow = query(
        """select e.tijd_waarneming, n.Ident_8, min(n.Kmp_Rsys)
           from day e join net n using (unieke_id)
           where e.verkeersintensiteit_klasse2 > 0 and e.voertuigsnelheid_rekenkundig_klasse2 < 40
           group by all order by 2, 1""",
        day=day,
        net=net,
    )
    assert slow, "no congestion at all in the morning peak"
    by_road: dict[str, list[tuple[int, float]]] = {}
    for t, road, tail in slow:
        by_road.setdefault(road, []).append((t, tail))  # type: ignore[arg-type]
    # on some road the queue's upstream tail moves at least 5 km upstream over time
    growth = max(series[0][1] - min(tail for _, tail in series) for series in by_road.values())
    assert growth > 5.0
    night = query(
        "select count(*) from t where verkeersintensiteit_klasse2 > 0 and voertuigsnelheid_rekenkundig_klasse2 < 40",
        t=minutes(sim, MONDAY + 2 * 3600, 3),
    )[0][0]
    assert night == 0


def test_class_mix_sentinels_and_occupancy() -> None:
    sim = Simulator(seed=42, lanes=800, clean=True)
    t = minutes(sim, MONDAY + 7 * 3600 + 40 * 60, 10)
    sums = [pc.sum(t.column(f"verkeersintensiteit_klasse{k}")).as_py() for k in CLASSES]
    assert sums[1] > 3 * sums[2] and sums[2] > sums[3] and sums[2] > sums[4] and sums[0] < sums[3]
    for k in CLASSES:
        empty = query(
            f"""select count(*), count(*) filter (where voertuigsnelheid_rekenkundig_klasse{k} = 0
                   and voertuigsnelheid_harmonisch_klasse{k} = 252)
                from t where verkeersintensiteit_klasse{k} = 0""",
            t=t,
        )[0]
        assert empty[0] > 0 and empty[0] == empty[1]  # arithmetic 0, harmonic 252
    speeds = query(
        """select min(voertuigsnelheid_rekenkundig_klasse2), max(voertuigsnelheid_rekenkundig_klasse2),
                  bool_and(voertuigsnelheid_harmonisch_klasse2 <= voertuigsnelheid_rekenkundig_klasse2)
           from t where verkeersintensiteit_klasse2 > 0""",
        t=t,
    )[0]
    assert 0 < speeds[0] < 40 and speeds[1] <= 200 and speeds[2]
    occ = query(
        """select avg(rekendata_bezettingsgraad) filter (where voertuigsnelheid_rekenkundig_klasse2 between 1 and 39),
                  avg(rekendata_bezettingsgraad) filter (where voertuigsnelheid_rekenkundig_klasse2 > 80),
                  max(rekendata_bezettingsgraad) filter (where verkeersintensiteit_klasse1 + verkeersintensiteit_klasse2
                     + verkeersintensiteit_klasse3 + verkeersintensiteit_klasse4 + verkeersintensiteit_klasse5 = 0)
           from t""",
        t=t,
    )[0]
    assert occ[0] > occ[1] > 0 and occ[2] == 0  # jams occupy the loop longer; empty minute: 0


def test_clean_mode_has_no_artefacts() -> None:
    sim = Simulator(seed=42, lanes=800, clean=True)
    t = minutes(sim, MONDAY + 6 * 3600, 60)
    assert t.num_rows == 800 * 60
    (row,) = query(
        """select count(distinct (unieke_id, tijd_waarneming)), bool_and(actueel_publicatie = 1),
                  bool_and(defect = 0), bool_and(geldig = 0), bool_and(rekendata_beschikbaarheidsgraad = 100),
                  count(*) filter (where voertuigsnelheid_harmonisch_klasse2 = 254),
                  bool_and(tijd_laatst_gewijzigd = tijd_waarneming + 74),
                  bool_and(tijd_publicatie = tijd_waarneming + 114)
           from t""",
        t=t,
    )
    assert row == (800 * 60, True, True, True, True, 0, True, True)


def test_feed_artefacts_when_not_clean() -> None:
    sim = Simulator(seed=42, lanes=2000)
    start = MONDAY + 6 * 3600
    t = minutes(sim, start, 120)
    (row,) = query(
        f"""select
              count(*) filter (where actueel_publicatie = 0 and tijd_waarneming < tijd_publicatie - 180),
              count(*) filter (where defect = 1), count(*) filter (where defect = 2),
              count(*) filter (where geldig = 1),
              count(*) filter (where rekendata_beschikbaarheidsgraad = 0
                 and voertuigsnelheid_harmonisch_klasse1 = 254 and voertuigsnelheid_harmonisch_klasse5 = 254),
              count(*) filter (where tijd_laatst_gewijzigd > tijd_waarneming + 74 and actueel_publicatie = 1),
              count(*) - count(distinct (unieke_id, tijd_waarneming)),
              2000 * 120 - count(*) filter (where tijd_waarneming = tijd_publicatie - 114),
              bool_and(tijd_laatst_gewijzigd >= tijd_waarneming),
              bool_and(tijd_publicatie is not null),
              count(*) filter (where tijd_waarneming < {start - 30 * 86400})
           from t""",
        t=t,
    )
    (
        stale,
        defect1,
        defect2,
        irregular,
        missing,
        late,
        duplicates,
        gaps,
        ordered,
        published,
        ancient,
    ) = row
    assert stale > 0 and defect1 > 0 and irregular > 0 and missing > 0 and late > 0
    assert duplicates > 0 and gaps > 0 and ordered and published and ancient > 0
    assert 0 < defect2 < defect1  # episodes are code 1 nine times in ten, code 2 otherwise
    # a stale lane repeats exactly the values it published before
    changed = query(
        """select count(*) from t a join t b using (unieke_id, tijd_waarneming)
           where a.actueel_publicatie = 0 and b.actueel_publicatie = 0
             and a.tijd_publicatie < b.tijd_publicatie
             and (a.verkeersintensiteit_klasse2, a.voertuigsnelheid_rekenkundig_klasse2, a.rekendata_bezettingsgraad)
               is distinct from (b.verkeersintensiteit_klasse2, b.voertuigsnelheid_rekenkundig_klasse2, b.rekendata_bezettingsgraad)""",
        t=t,
    )[0][0]
    assert changed == 0


def test_day_is_a_table_of_all_minutes() -> None:
    sim = Simulator(seed=1, lanes=20, clean=True)
    day = sim.day(MONDAY)
    assert day.schema.equals(EVENT_SCHEMA) and day.num_rows == 20 * 1440
    times = pc.unique(day.column("tijd_waarneming"))
    assert len(times) == 1440 and pc.min(times).as_py() == MONDAY

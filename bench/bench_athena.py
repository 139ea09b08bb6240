"""Athena path benchmark: the seed's INSERT INTO over a full simulated Flanders day.

A day of 4,600 simulated lanes (~6.6M raw rows, ``--quick``: 300 lanes) landed as raw Parquet in
arrival-hour partitions and crawled (``traffic.raw``). Timed in the same run, on the same files:

- ours: the seed's query text (``trafficlake/athena/seed_insert.sql``, pointed at
  ``traffic.raw``) as an Athena query execution - translated to DuckDB, run in the background,
  written as Hive-layout Parquet and committed to the catalog (24 partitions);
- baseline: the same query hand-written in DuckDB SQL (``//`` for the seed's integer division,
  ``TRY_CAST``, ``to_timestamp``) over the same files, written with ``COPY ... PARTITION_BY``.

Target (full day only): ours <= 1.3x the baseline, the median of 7 rounds' ratios (each round
one of each, back to back, the order alternating; best of each reported too). Both write the
same rows. Also reported, without a target: the CPU time of each (all threads of this process,
best of 7) - what each costs, much less sensitive to load from elsewhere than the wall time.
``--quick`` is a smoke run without the target: on 300 lanes the fixed cost of a
statement (parsing, translating, typing the SELECT, the catalog records and commit: ~20 ms
on a quiet machine, several times that under load) weighs more against a ~0.1 s query.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "transform"))

import duckdb  # noqa: E402
from transform_lakes import T0, LakeHarness, day_of, with_arrival  # noqa: E402

from trafficlake.athena import executions  # noqa: E402
from trafficlake.athena.seed import insert_queries  # noqa: E402
from trafficlake.config import load_settings  # noqa: E402
from trafficlake.miv.simulator import Simulator  # noqa: E402
from trafficlake.storage import Lake  # noqa: E402

ROUNDS = 7

TARGET_DDL = """CREATE EXTERNAL TABLE traffic.seed_transformed_{n} (
  uniqueid int, recordtimestamp bigint, currentspeed double, bezettingsgraad int,
  previousspeed double, trafficjamindicator int, trafficjamindicatorlong int,
  trafficintensityclass2 int, trafficintensityclass3 int, trafficintensityclass4 int,
  trafficintensityclass5 int, speeddiffindicator int, avgspeed3minutes double,
  avgspeed20minutes double)
PARTITIONED BY (year bigint, month bigint, day bigint, hour bigint)
STORED AS PARQUET LOCATION 's3://bench/seed-transformed-{n}/'"""

# the seed's query, written for DuckDB by hand (the baseline)
HAND_WRITTEN = """
SELECT uniqueId, recordTimestamp, currentSpeed, bezettingsgraad, previousSpeed,
  CASE WHEN avgSpeed3Minutes BETWEEN 0 AND 40 THEN 1 WHEN avgSpeed3Minutes BETWEEN 41 AND 250 THEN 0
       ELSE -1 END AS trafficJamIndicator,
  CASE WHEN avgSpeed20Minutes BETWEEN 0 AND 40 THEN 1 WHEN avgSpeed20Minutes BETWEEN 41 AND 250 THEN 0
       ELSE -1 END AS trafficJamIndicatorLong,
  trafficIntensityClass2, trafficIntensityClass3, trafficIntensityClass4, trafficIntensityClass5,
  CASE WHEN currentSpeed - previousSpeed >= 20 THEN 1 WHEN currentSpeed - previousSpeed <= -20 THEN -1
       ELSE 0 END AS speedDiffindicator,
  avgSpeed3Minutes, avgSpeed20Minutes, year, month, day, hour
FROM (
  SELECT *, lag(currentSpeed) OVER w AS previousSpeed,
    avg(currentSpeed) OVER (w ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS avgSpeed3Minutes,
    avg(currentSpeed) OVER (w ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) AS avgSpeed20Minutes,
    year(originalTimestamp) AS year, month(originalTimestamp) AS month,
    day(originalTimestamp) AS day, hour(originalTimestamp) AS hour
  FROM (
    SELECT max(uniqueId) AS uniqueId, originalTimestamp, recordTimestamp, avg(speed) AS currentSpeed,
      TRY_CAST(sum(c2) AS INTEGER) AS trafficIntensityClass2,
      TRY_CAST(sum(c3) AS INTEGER) AS trafficIntensityClass3,
      TRY_CAST(sum(c4) AS INTEGER) AS trafficIntensityClass4,
      TRY_CAST(sum(c5) AS INTEGER) AS trafficIntensityClass5,
      TRY_CAST(round(avg(c2 + c3 + c4 + c5)) AS INTEGER) AS bezettingsgraad
    FROM (
      SELECT lve_nr, unieke_id AS uniqueId, to_timestamp(tijd_waarneming::INTEGER) AS originalTimestamp,
        tijd_waarneming AS recordTimestamp,
        verkeersintensiteit_klasse2 AS c2, verkeersintensiteit_klasse3 AS c3,
        verkeersintensiteit_klasse4 AS c4, verkeersintensiteit_klasse5 AS c5,
        CASE WHEN c2 + c3 + c4 + c5 > 0 THEN
          (voertuigsnelheid_rekenkundig_klasse2 + voertuigsnelheid_rekenkundig_klasse3
           + voertuigsnelheid_rekenkundig_klasse4 + voertuigsnelheid_rekenkundig_klasse5)
          // ((c2 > 0)::INT + (c3 > 0)::INT + (c4 > 0)::INT + (c5 > 0)::INT) END AS speed
      FROM read_parquet({files}, hive_partitioning = false)
      WHERE rekendata_bezettingsgraad > -1 AND defect = 0
    )
    WHERE year(originalTimestamp) = {year} AND month(originalTimestamp) = {month}
      AND day(originalTimestamp) BETWEEN {day} AND {day}
      AND uniqueId IN (32, 37, 1840, 2125, 3388, 3391, 753, 1065, 3159, 2161, 216, 217, 1132)
    GROUP BY lve_nr, originalTimestamp, recordTimestamp
  )
  WINDOW w AS (PARTITION BY uniqueId ORDER BY originalTimestamp)
)"""


def _land(tl: LakeHarness, sim: Simulator, start: int, minutes: int = 1440) -> int:
    import pyarrow as pa

    rows = 0
    for hour in range(0, minutes, 60):
        batch = pa.Table.from_batches(list(sim.minutes(start + hour * 60, min(60, minutes - hour))))
        tl.land(with_arrival(batch))
        rows += batch.num_rows
    return rows


def _athena(settings: Any, sql: str) -> Any:
    started = executions.start_query(
        settings, sql, database="traffic", output_location="s3://bench/athena-results/"
    )
    done = executions.wait_for(settings, started.id, timeout=3600)
    assert done.state == "SUCCEEDED", done.reason
    return done


def run(quick: bool) -> list[dict[str, Any]]:
    cwd = os.getcwd()
    try:
        return _run(quick)
    finally:
        os.chdir(cwd)  # the lake's folder is gone: the next benchmark starts where this one did


def _run(quick: bool) -> list[dict[str, Any]]:
    lanes = 300 if quick else 4600
    with tempfile.TemporaryDirectory() as root:
        os.chdir(root)
        settings = load_settings(None, overrides={"transform": {"memory_limit": "3GB"}})
        tl = LakeHarness(settings, Lake.from_settings(settings))
        sim = Simulator(seed=42, lanes=lanes, clean=False)
        rows = _land(tl, sim, T0 - 3600, 60) + _land(tl, sim, T0)
        tl.crawl()
        d = day_of(T0)
        for n in range(ROUNDS):  # each timed INSERT writes fresh partitions, as each COPY does
            _athena(settings, TARGET_DDL.format(n=n))
        _athena(settings, "SELECT count(*) FROM traffic.raw WHERE 7 / 2 = 3")  # a warm server
        queries = [
            insert_queries({
                "year": d.year, "month": d.month, "day": d.day, "until": d.isoformat(),
                "Source": "traffic.raw", "Target": f"traffic.seed_transformed_{n}",
            })["Queries"][0]
            for n in range(ROUNDS)
        ]  # fmt: skip

        files = [tl.lake.path(e.key) for e in tl.lake.list("raw/")]
        listed = "[" + ", ".join(f"'{f}'" for f in files) + "]"
        sql = HAND_WRITTEN.format(files=listed, year=d.year, month=d.month, day=d.day)
        ours = baseline = ours_cpu = baseline_cpu = float("inf")
        ratios: list[float] = []
        # rounds of one of each, back to back and the order alternating, so that load from
        # elsewhere hits both alike; both warm (the Athena worker keeps its DuckDB session, the
        # baseline keeps its connection)
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET memory_limit = '3GB'")
        for i in range(ROUNDS):
            out = os.path.join(root, f"hand-written-{i}")

            def athena(i: int = i) -> tuple[float, float, Any]:
                t0, c0 = time.perf_counter(), time.process_time()
                done = _athena(settings, queries[i])
                return time.perf_counter() - t0, time.process_time() - c0, done

            def hand(out: str = out) -> tuple[float, float]:
                t0, c0 = time.perf_counter(), time.process_time()
                con.execute(
                    f"COPY ({sql}) TO '{out}' (FORMAT parquet, COMPRESSION snappy, "
                    "PARTITION_BY (year, month, day, hour))"
                )
                return time.perf_counter() - t0, time.process_time() - c0

            if i % 2:
                (b_wall, b_cpu), (o_wall, o_cpu, done) = hand(), athena()
            else:
                (o_wall, o_cpu, done), (b_wall, b_cpu) = athena(), hand()
            ours, ours_cpu = min(ours, o_wall), min(ours_cpu, o_cpu)
            baseline, baseline_cpu = min(baseline, b_wall), min(baseline_cpu, b_cpu)
            ratios.append(o_wall / b_wall)
            written = done.statistics.get("UpdateCount")
            counted = con.execute(
                f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet')"
            ).fetchone()
            assert counted is not None
            (hand_rows,) = counted
            assert written == hand_rows, (written, hand_rows)
        con.close()
    median = statistics.median(ratios)
    timed: dict[str, Any] = {
        "name": f"seed INSERT via Athena, one day ({lanes} lanes, {rows:,} raw rows; ratio of "
        f"the best {ours / baseline:.2f}, rounds {min(ratios):.2f}-{max(ratios):.2f})",
        "value": round(ours, 3),
        "unit": "s",
        "baseline": round(baseline, 3),
        "ratio": round(median, 2),
    }
    if not quick:  # the target is for a full day; --quick is dominated by fixed costs
        timed.update(target=1.3, ok=median <= 1.3)
    return [
        timed,
        {"name": "seed INSERT via Athena: CPU time", "value": round(ours_cpu, 2), "unit": "s",
         "baseline": round(baseline_cpu, 2), "ratio": round(ours_cpu / baseline_cpu, 2)},
        {"name": "seed INSERT via Athena: rows written", "value": written, "unit": "rows"},
    ]  # fmt: skip

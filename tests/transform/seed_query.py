"""The seed's Athena INSERT INTO query, verbatim (seed 000, the blog's part 3 draft).

The oracle of the transform tests: a short public SQL snippet, embedded so the tests run on a
fresh clone. :func:`seed_select_duckdb` turns it into a DuckDB SELECT the way the contract
says: exact division, placeholders filled, the lane list replaced, translated by the library's
Athena translator (:mod:`trafficlake.athena.translate`); connections that run it come from
:func:`seed_source_connection` (Athena's session: UTC, Presto division, the helper macros).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb

from trafficlake.athena.translate import parse_one, prepare_duckdb, to_duckdb

SEED_QUERY = """INSERT INTO "anpr"."sls_data_pipelines_batch_transformed"
SELECT uniqueId, recordTimestamp, currentSpeed, bezettingsgraad, previousSpeed,
CASE WHEN (avgSpeed3Minutes BETWEEN 0 AND 40) THEN 1
WHEN (avgSpeed3Minutes BETWEEN 41 AND 250) THEN 0
ELSE -1 END as trafficJamIndicator,
CASE WHEN (avgSpeed20Minutes BETWEEN 0 AND 40) THEN 1
WHEN (avgSpeed20Minutes BETWEEN 41 AND 250) THEN 0
ELSE -1 END as trafficJamIndicatorLong,
trafficIntensityClass2, trafficIntensityClass3, trafficIntensityClass4, trafficIntensityClass5,
speedDiffindicator, avgSpeed3Minutes, avgSpeed20Minutes, year, month, day, hour
FROM
(
SELECT uniqueId, recordTimestamp, currentSpeed, bezettingsgraad, previousSpeed,
trafficIntensityClass2, trafficIntensityClass3, trafficIntensityClass4, trafficIntensityClass5,
CASE
WHEN (currentSpeed - previousSpeed >= 20) THEN 1
WHEN (currentSpeed - previousSpeed <= -20) THEN -1
ELSE 0 END AS speedDiffindicator,
avg(currentSpeed) OVER (PARTITION BY uniqueId ORDER BY originalTimestamp ROWS BETWEEN 2 PRECEDING AND 0 FOLLOWING) AS avgSpeed3Minutes,
avg(currentSpeed) OVER (PARTITION BY uniqueId ORDER BY originalTimestamp ROWS BETWEEN 19 PRECEDING AND 0 FOLLOWING) AS avgSpeed20Minutes,
year(originalTimestamp) as year, month(originalTimestamp) as month, day(originalTimestamp) as day, hour(originalTimestamp) as hour FROM
(
SELECT uniqueId, recordTimestamp, originalTimestamp, currentSpeed, bezettingsgraad, trafficIntensityClass2,
trafficIntensityClass3, trafficIntensityClass4, trafficIntensityClass5,
lag(currentSpeed, 1) OVER (PARTITION BY uniqueId ORDER BY originalTimestamp) as previousSpeed FROM
(
SELECT MAX(uniqueId) as uniqueId, lve_nr, originalTimestamp, recordTimestamp, AVG(currentSpeed) as currentSpeed,
TRY(CAST(SUM(trafficIntensityClass2) AS INTEGER)) as trafficIntensityClass2,
TRY(CAST(SUM(trafficIntensityClass3) AS INTEGER)) as trafficIntensityClass3,
TRY(CAST(SUM(trafficIntensityClass4) AS INTEGER)) as trafficIntensityClass4,
TRY(CAST(SUM(trafficIntensityClass5) AS INTEGER)) as trafficIntensityClass5,
TRY(CAST(ROUND(AVG(bezettingsgraad)) AS INTEGER)) as bezettingsgraad FROM
(
SELECT lve_nr,
unieke_id as uniqueId,
from_unixtime(CAST(tijd_waarneming as INTEGER)) as originalTimestamp,
tijd_waarneming as recordTimestamp,
CASE WHEN verkeersintensiteit_klasse2 + verkeersintensiteit_klasse3 + verkeersintensiteit_klasse4 + verkeersintensiteit_klasse5 > 0 THEN
(voertuigsnelheid_rekenkundig_klasse2 + voertuigsnelheid_rekenkundig_klasse3 + voertuigsnelheid_rekenkundig_klasse4 + voertuigsnelheid_rekenkundig_klasse5)/
(CASE WHEN verkeersintensiteit_klasse2 > 0 THEN 1 ELSE 0 END +
CASE WHEN verkeersintensiteit_klasse3 > 0 THEN 1 ELSE 0 END +
CASE WHEN verkeersintensiteit_klasse4 > 0 THEN 1 ELSE 0 END +
CASE WHEN verkeersintensiteit_klasse5 > 0 THEN 1 ELSE 0 END)
END
as currentSpeed,
verkeersintensiteit_klasse2 as trafficIntensityClass2,
verkeersintensiteit_klasse3 as trafficIntensityClass3,
verkeersintensiteit_klasse4 as trafficIntensityClass4,
verkeersintensiteit_klasse5 as trafficIntensityClass5,
verkeersintensiteit_klasse2 + verkeersintensiteit_klasse3 + verkeersintensiteit_klasse4 + verkeersintensiteit_klasse5 as bezettingsgraad FROM
"anpr"."sls_data_pipelines_batch_destination_parquet"
WHERE rekendata_bezettingsgraad > -1 AND defect=0)
WHERE year(originalTimestamp)={year} AND month(originalTimestamp)={month} AND day(originalTimestamp) BETWEEN {start_day} AND {end_day}
AND uniqueId IN (32, 37, 1840, 2125, 3388, 3391, 753, 1065, 3159, 2161, 216, 217, 1132)
GROUP BY lve_nr, originalTimestamp, recordTimestamp
)
)
)
"""

SOURCE_TABLE = '"anpr"."sls_data_pipelines_batch_destination_parquet"'
SEED_LANES = "uniqueId IN (32, 37, 1840, 2125, 3388, 3391, 753, 1065, 3159, 2161, 216, 217, 1132)"
INT_DIVISION = re.compile(
    r"\(voertuigsnelheid_rekenkundig_klasse2 \+ voertuigsnelheid_rekenkundig_klasse3 \+ "
    r"voertuigsnelheid_rekenkundig_klasse4 \+ voertuigsnelheid_rekenkundig_klasse5\)/"
)


def seed_select_duckdb(
    *,
    source: str,
    year: int,
    month: int,
    start_day: int,
    end_day: int,
    lanes: Sequence[int] | None,
) -> str:
    """The seed's SELECT (without INSERT INTO) in DuckDB SQL, over the table/view ``source``.

    ``lanes=None`` drops the lane filter (all lanes)."""
    sql = SEED_QUERY
    assert sql.startswith("INSERT INTO")
    sql = sql[sql.index("SELECT") :]
    sql, n = INT_DIVISION.subn(lambda m: "CAST(" + m.group(0)[:-1] + " AS DOUBLE)/", sql)
    assert n == 1, "the seed's lane-speed division was not found"
    assert SOURCE_TABLE in sql and SEED_LANES in sql
    sql = sql.replace(SOURCE_TABLE, source)
    if lanes is None:
        sql = sql.replace("AND " + SEED_LANES, "")
    else:
        sql = sql.replace(SEED_LANES, f"uniqueId IN ({', '.join(str(int(x)) for x in lanes)})")
    sql = sql.format(year=year, month=month, start_day=start_day, end_day=end_day)
    return to_duckdb(parse_one(sql))


def seed_source_connection(
    files: Sequence[str], *, settings: Sequence[str] = ()
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with Athena's session (time zone UTC, Presto division) and the view
    ``seed_source`` over exactly ``files`` (no Hive discovery); ``settings`` are extra ``SET``
    statements."""
    con = prepare_duckdb(duckdb.connect())
    for statement in settings:
        con.execute(f"SET {statement}")
    listed = ", ".join(f"'{f}'" for f in files)
    con.execute(
        f"CREATE VIEW seed_source AS SELECT * FROM read_parquet([{listed}], "
        "hive_partitioning = false)"
    )
    return con

"""Detector health per lane (``unieke_id``) and UTC day - PeMS's "% observed" and diagnostics.

Counted over the distinct minutes (``tijd_waarneming``) a lane's rows cover that day:

- ``minutes_expected``: the minutes the feed published fresh data for (any lane) that day;
- ``minutes_observed``: the lane's fresh minutes (``actueel_publicatie`` 1);
- ``minutes_stale``: minutes only republished (``actueel_publicatie`` 0: an old value repeated);
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

HEALTH_COLUMNS: tuple[tuple[str, str], ...] = (
    ("unieke_id", "int"),
    ("lve_nr", "int"),
    ("minutes_expected", "int"),
    ("minutes_observed", "int"),
    ("minutes_valid", "int"),
    ("minutes_defect", "int"),
    ("minutes_stale", "int"),
    ("minutes_unavailable", "int"),
    ("stuck_minutes", "int"),
    ("pct_observed", "double"),
    ("pct_valid", "double"),
    ("trusted", "boolean"),
)
"""Columns of the ``detector_health`` table with their Hive types (partitioned by
year/month/day)."""


@dataclass(frozen=True)
class HealthRules:
    stuck_minutes: int = 30
    min_valid_share: float = 0.8


HEALTH_SQL = """
WITH day_rows AS (
    SELECT unieke_id, lve_nr, tijd_waarneming AS t,
           coalesce(actueel_publicatie, 1) AS fresh,
           coalesce(defect, 0) AS defect, coalesce(geldig, 0) AS geldig,
           coalesce(voertuigsnelheid_harmonisch_klasse1 = 254
             AND voertuigsnelheid_harmonisch_klasse2 = 254
             AND voertuigsnelheid_harmonisch_klasse3 = 254
             AND voertuigsnelheid_harmonisch_klasse4 = 254
             AND voertuigsnelheid_harmonisch_klasse5 = 254, false) AS unavailable,
           verkeersintensiteit_klasse1 + verkeersintensiteit_klasse2 + verkeersintensiteit_klasse3
             + verkeersintensiteit_klasse4 + verkeersintensiteit_klasse5 AS vehicles,
           hash(verkeersintensiteit_klasse2, verkeersintensiteit_klasse3,
                verkeersintensiteit_klasse4, verkeersintensiteit_klasse5,
                voertuigsnelheid_rekenkundig_klasse2, rekendata_bezettingsgraad) AS reading
    FROM {raw}
    WHERE tijd_waarneming >= {start} AND tijd_waarneming < {end} AND unieke_id IS NOT NULL
), minutes AS (
    -- one row per lane and minute: a fresh row beats a stale republish of the same minute
    SELECT unieke_id, t, max(lve_nr) AS lve_nr, max(fresh) AS fresh,
           max(CASE WHEN fresh = 1 THEN defect END) AS defect,
           max(CASE WHEN fresh = 1 THEN geldig END) AS geldig,
           bool_or(fresh = 1 AND unavailable) AS unavailable,
           max(CASE WHEN fresh = 1 THEN vehicles END) AS vehicles,
           max(CASE WHEN fresh = 1 THEN reading END) AS reading
    FROM day_rows GROUP BY unieke_id, t
), readings AS (
    -- a hanging loop repeats one non-zero reading: group the lane's minutes by reading; a
    -- group of n minutes spanning exactly n minutes is one run, other large groups are split
    -- into their runs below (few rows)
    SELECT unieke_id, reading, count(*) AS n, (max(t) - min(t)) / 60 + 1 AS span
    FROM minutes WHERE fresh = 1 AND vehicles > 0 AND defect = 0 AND NOT unavailable
    GROUP BY unieke_id, reading HAVING count(*) >= {stuck_minutes}
), split AS (
    SELECT m.unieke_id, m.reading,
           m.t / 60 - row_number() OVER (PARTITION BY m.unieke_id, m.reading ORDER BY m.t)
               AS run_key
    FROM minutes AS m JOIN readings AS r USING (unieke_id, reading)
    WHERE r.span > r.n AND m.fresh = 1 AND m.vehicles > 0 AND m.defect = 0
      AND NOT m.unavailable
), runs AS (
    SELECT unieke_id, n FROM readings WHERE span = n
    UNION ALL
    SELECT unieke_id, count(*) AS n FROM split GROUP BY unieke_id, reading, run_key
), stuck AS (
    SELECT unieke_id, CAST(sum(n) AS INTEGER) AS stuck_minutes
    FROM runs WHERE n >= {stuck_minutes} GROUP BY unieke_id
), expected AS (
    SELECT count(DISTINCT t) AS n FROM minutes WHERE fresh = 1
), lanes AS (
    SELECT unieke_id, max(lve_nr) AS lve_nr,
           count(*) FILTER (WHERE fresh = 1) AS observed,
           count(*) FILTER (WHERE fresh = 1 AND defect = 0 AND NOT unavailable
                                  AND geldig = 0) AS valid,
           count(*) FILTER (WHERE fresh = 1 AND defect <> 0) AS defect,
           count(*) FILTER (WHERE fresh = 0) AS stale,
           count(*) FILTER (WHERE fresh = 1 AND unavailable) AS unavailable
    FROM minutes GROUP BY unieke_id
)
SELECT CAST(lanes.unieke_id AS INTEGER) AS unieke_id, CAST(lanes.lve_nr AS INTEGER) AS lve_nr,
       CAST(expected.n AS INTEGER) AS minutes_expected,
       CAST(observed AS INTEGER) AS minutes_observed, CAST(valid AS INTEGER) AS minutes_valid,
       CAST(defect AS INTEGER) AS minutes_defect, CAST(stale AS INTEGER) AS minutes_stale,
       CAST(unavailable AS INTEGER) AS minutes_unavailable,
       coalesce(stuck.stuck_minutes, 0) AS stuck_minutes,
       round(observed / greatest(expected.n, 1), 4) AS pct_observed,
       round(valid / greatest(expected.n, 1), 4) AS pct_valid,
       valid / greatest(expected.n, 1) >= {min_valid_share} AND stuck.stuck_minutes IS NULL
           AS trusted
FROM lanes CROSS JOIN expected LEFT JOIN stuck USING (unieke_id)
ORDER BY unieke_id
"""
"""DuckDB SQL of one day's detector health over a relation of raw rows (``{raw}``)."""


def health_sql(raw: str, start: int, rules: HealthRules) -> str:
    """:data:`HEALTH_SQL` for the UTC day starting at epoch second ``start``."""
    return HEALTH_SQL.format(
        raw=raw,
        start=int(start),
        end=int(start) + 86400,
        stuck_minutes=int(rules.stuck_minutes),
        min_valid_share=float(rules.min_valid_share),
    )

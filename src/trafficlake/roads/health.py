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
           voertuigsnelheid_harmonisch_klasse1 = 254 AND voertuigsnelheid_harmonisch_klasse2 = 254
             AND voertuigsnelheid_harmonisch_klasse3 = 254
             AND voertuigsnelheid_harmonisch_klasse4 = 254
             AND voertuigsnelheid_harmonisch_klasse5 = 254 AS unavailable,
           verkeersintensiteit_klasse1 + verkeersintensiteit_klasse2 + verkeersintensiteit_klasse3
             + verkeersintensiteit_klasse4 + verkeersintensiteit_klasse5 AS vehicles,
           [verkeersintensiteit_klasse2, verkeersintensiteit_klasse3,
            verkeersintensiteit_klasse4, verkeersintensiteit_klasse5,
            voertuigsnelheid_rekenkundig_klasse2, rekendata_bezettingsgraad] AS reading
    FROM {raw}
    WHERE tijd_waarneming >= {start} AND tijd_waarneming < {end} AND unieke_id IS NOT NULL
), minutes AS (
    -- one row per lane and minute: fresh beats stale; the rest of a repeated key is alike
    SELECT unieke_id, t, max(lve_nr) AS lve_nr, max(fresh) AS fresh,
           arg_max(defect, fresh) AS defect, arg_max(geldig, fresh) AS geldig,
           arg_max(unavailable, fresh) AS unavailable, arg_max(vehicles, fresh) AS vehicles,
           arg_max(reading, fresh) AS reading
    FROM day_rows GROUP BY unieke_id, t
), runs AS (
    SELECT *,
           t / 60 - row_number() OVER (PARTITION BY unieke_id, reading ORDER BY t) AS run_key
    FROM minutes WHERE fresh = 1 AND vehicles > 0 AND defect = 0 AND NOT unavailable
), stuck AS (
    SELECT unieke_id, CAST(sum(n) AS INTEGER) AS stuck_minutes FROM (
        SELECT unieke_id, count(*) AS n FROM runs GROUP BY unieke_id, reading, run_key
        HAVING count(*) >= {stuck_minutes}
    ) GROUP BY unieke_id
), expected AS (
    SELECT count(DISTINCT t) AS n FROM minutes WHERE fresh = 1
), lanes AS (
    SELECT unieke_id, max(lve_nr) AS lve_nr,
           count(*) FILTER (WHERE fresh = 1) AS observed,
           count(*) FILTER (WHERE fresh = 1 AND defect = 0 AND NOT coalesce(unavailable, false)
                                  AND geldig = 0) AS valid,
           count(*) FILTER (WHERE fresh = 1 AND defect <> 0) AS defect,
           count(*) FILTER (WHERE fresh = 0) AS stale,
           count(*) FILTER (WHERE fresh = 1 AND coalesce(unavailable, false)) AS unavailable
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

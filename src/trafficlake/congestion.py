"""Congestion per location: the one owner of the query behind the dashboard's ranking and the
demo's summary.

Per location (``lve_nr``) over the transformed table: minutes flagged as a traffic jam
(``trafficJamIndicator = 1``), minutes, minimum and average ``currentSpeed``, and the
location's name from the locations table when the lake has one. Ordered most jammed first,
slowest next, then by ``lve_nr`` so ties come out the same every time.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from trafficlake.catalog.names import locations_table, transformed_table

if TYPE_CHECKING:
    from trafficlake.config import Settings
    from trafficlake.query import CatalogConnection, QueryResult


def day_filter(day: dt.date) -> str:
    """The partition filter of one UTC day, as literals: the catalog prunes to its partitions
    (:mod:`trafficlake.query_pruning` reads literals, not parameters)."""
    return f"year = {int(day.year)} AND month = {int(day.month)} AND day = {int(day.day)}"


def congestion(
    con: CatalogConnection,
    settings: Settings,
    *,
    limit: int,
    day: dt.date | None = None,
    jammed_only: bool = False,
) -> QueryResult:
    """Columns ``lve_nr, name, jam_minutes, minutes, min_speed, avg_speed``; ``day`` None: all
    days; ``jammed_only``: leave out locations without a jam minute."""
    locations = locations_table(settings)
    with_names = con.has_view(locations)
    names = (
        f"LEFT JOIN (SELECT lve_nr, min(volledige_naam) AS name FROM {locations.sql} "
        "GROUP BY lve_nr) AS names USING (lve_nr)"
        if with_names
        else ""
    )
    name_col = "names.name" if with_names else "CAST(NULL AS VARCHAR)"
    where = (day_filter(day) + " AND " if day else "") + "lve_nr IS NOT NULL"
    sql = f"""
        WITH jams AS (
            SELECT lve_nr,
                   CAST(sum(CASE WHEN trafficJamIndicator = 1 THEN 1 ELSE 0 END) AS BIGINT)
                       AS jam_minutes,
                   count(*) AS minutes,
                   min(currentSpeed) AS min_speed,
                   -- rounded: a parallel avg() differs in the last bits from run to run
                   round(avg(currentSpeed), 6) AS avg_speed
            FROM {transformed_table(settings).sql}
            WHERE {where}
            GROUP BY lve_nr
        )
        SELECT jams.lve_nr, {name_col} AS name, jams.jam_minutes, jams.minutes,
               jams.min_speed, jams.avg_speed
        FROM jams {names}
        {"WHERE jams.jam_minutes > 0" if jammed_only else ""}
        ORDER BY jams.jam_minutes DESC, jams.min_speed ASC NULLS LAST, jams.lve_nr
        LIMIT ?
    """
    return con.query(sql, [int(limit)])

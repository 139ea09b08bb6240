"""Road sections: each ``lve_nr`` group of lanes placed on its road, direction and kilometre.

The one owner of the rule that reads a road out of ``Ident_8`` (``A0140001``: road ``A14``,
carriageway ``0001``). Carriageway ``0001`` is direction ``1`` (traffic runs towards increasing
reference kilometres, ``Kmp_Rsys``), ``0002`` is direction ``2`` (towards decreasing ones); any
other carriageway code (ramps, branches: ``A0145031``) is its own direction, named by the code,
with traffic assumed to run towards increasing kilometres.

A section's place is the mean of its lanes' kilometres and coordinates; its name the most common
``volledige_naam``. ``position`` numbers the sections of a road and direction in the direction
of travel (1 = most upstream); ``upstream``/``downstream`` are the neighbouring sections'
``lve_nr``; ``extent_km`` is the stretch of road the section stands for (half-way to each
neighbour; 1 km for a section alone on its road); ``sites`` the measuring sites (distinct
kilometres) its lanes stand at - a vehicle passing the section is counted once at each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from trafficlake.catalog.names import TableRef, lake_table

if TYPE_CHECKING:
    import pyarrow as pa

    from trafficlake.config import Settings
    from trafficlake.storage import Lake

SECTION_INPUTS = frozenset(
    {
        "lve_nr",
        "Ident_8",
        "Kmp_Rsys",
        "volledige_naam",
        "Rijstrook",
        "lengtegraad_EPSG_4326",
        "breedtegraad_EPSG_4326",
    }
)
"""The locations columns the sections are made of."""

SECTIONS_SQL = """
WITH lanes AS (
    SELECT lve_nr, Ident_8, Kmp_Rsys, volledige_naam, Rijstrook,
           lengtegraad_EPSG_4326 AS lon, breedtegraad_EPSG_4326 AS lat
    FROM {locations}
    WHERE lve_nr IS NOT NULL AND Ident_8 IS NOT NULL AND length(Ident_8) = 8
      AND Kmp_Rsys IS NOT NULL
), grouped AS (
    SELECT lve_nr,
           mode(Ident_8) AS ident8,
           round(avg(Kmp_Rsys), 3) AS km,
           avg(lat) AS lat,
           avg(lon) AS lon,
           mode(volledige_naam) AS name,
           CAST(count(*) AS INTEGER) AS lanes,
           CAST(count(DISTINCT Kmp_Rsys) AS INTEGER) AS sites
    FROM lanes GROUP BY lve_nr
), placed AS (
    SELECT lve_nr, ident8,
           substr(ident8, 1, 1) || CAST(TRY_CAST(substr(ident8, 2, 3) AS INTEGER) AS VARCHAR)
               AS road,
           CASE substr(ident8, 5, 4) WHEN '0001' THEN '1' WHEN '0002' THEN '2'
                ELSE substr(ident8, 5, 4) END AS direction,
           km, lat, lon, name, lanes, sites
    FROM grouped
), ordered AS (
    SELECT *,
           CASE WHEN direction = '2' THEN -km ELSE km END AS flow_km
    FROM placed WHERE road IS NOT NULL
), neighbours AS (
    SELECT *,
           CAST(row_number() OVER w AS INTEGER) AS position,
           lag(lve_nr) OVER w AS upstream,
           lead(lve_nr) OVER w AS downstream,
           flow_km - lag(flow_km) OVER w AS gap_up,
           lead(flow_km) OVER w - flow_km AS gap_down
    FROM ordered
    WINDOW w AS (PARTITION BY road, direction ORDER BY flow_km, lve_nr)
)
SELECT CAST(lve_nr AS INTEGER) AS lve_nr, road, direction, ident8 AS Ident_8, km, lat, lon,
       name, lanes, sites, position, CAST(upstream AS INTEGER) AS upstream,
       CAST(downstream AS INTEGER) AS downstream,
       round(CASE
           WHEN gap_up IS NULL AND gap_down IS NULL THEN 1.0
           WHEN gap_up IS NULL THEN least(gap_down, 2.0)
           WHEN gap_down IS NULL THEN least(gap_up, 2.0)
           ELSE (least(gap_up, 4.0) + least(gap_down, 4.0)) / 2
       END, 3) AS extent_km
FROM neighbours
ORDER BY road, direction, position
"""
"""DuckDB SQL of the sections over a locations relation (``{locations}``)."""


def sections_table(settings: Settings) -> TableRef:
    """The ``sections`` view every query connection has when the lake has locations."""
    return lake_table(settings, "sections/")


def sections_sql(locations: str) -> str:
    """:data:`SECTIONS_SQL` over ``locations`` (a table or view name, or a table function)."""
    return SECTIONS_SQL.format(locations=locations)


def build_sections(locations: pa.Table) -> pa.Table:
    """The sections of a locations table (``LOCATIONS_SCHEMA``), in road order."""
    con = duckdb.connect(":memory:")
    try:
        con.register("locations_input", locations)
        return con.execute(sections_sql("locations_input")).to_arrow_table()
    finally:
        con.close()


def read_sections(lake: Lake) -> pa.Table | None:
    """The sections of the lake's locations table, or None when the lake has none."""
    import pyarrow.parquet as pq

    from trafficlake.miv.locations import LOCATIONS_KEY

    if not lake.exists(LOCATIONS_KEY):
        return None
    with lake.fs.open_input_file(lake.path(LOCATIONS_KEY)) as f:
        return build_sections(pq.read_table(f))

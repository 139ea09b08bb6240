"""What the analyst views answer: roads, time-space diagrams, jam episodes, the map at a
minute, detector health. No web framework here; SQL values are ``?`` parameters except the
validated day literals the catalog prunes partitions by.

Speeds in the time-space diagram and on the map are the transform's ``avgSpeed3Minutes`` (the
speed the jam detector judges), rounded to whole km/h; ``-1`` marks a minute without data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from trafficlake.catalog.names import TableRef, locations_table, transformed_table
from trafficlake.config import Settings
from trafficlake.congestion import day_filter
from trafficlake.plain import jsonable
from trafficlake.query import CatalogConnection
from trafficlake.roads.derive import health_table, jams_table
from trafficlake.roads.jams import MINUTES
from trafficlake.roads.sections import sections_table
from trafficlake.web.data import BadRequestError, NotFoundError, require_transformed

SECTION_COLUMNS = (
    "lve_nr, road, direction, km, lat, lon, name, lanes, position, upstream, downstream, extent_km"
)


def _sections(con: CatalogConnection, settings: Settings, where: str = "TRUE",
              params: list[Any] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    ref = sections_table(settings)
    if not con.has_view(ref):
        raise NotFoundError(
            f"no {locations_table(settings)} in the lake: roads need the measuring-point "
            "configuration (trafficlake ingest config, or ingest simulate)"
        )
    sql = (
        f"SELECT {SECTION_COLUMNS} FROM {ref.sql} WHERE {where} ORDER BY road, direction, position"
    )
    return con.query(sql, params or []).table.to_pylist()


def roads(con: CatalogConnection, settings: Settings) -> dict[str, Any]:
    """Every road and direction with its sections in the direction of travel."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for s in _sections(con, settings):
        road = out.setdefault(
            (s["road"], s["direction"]),
            {"road": s["road"], "direction": s["direction"], "sections": []},
        )
        road["sections"].append(s)
    items = list(out.values())
    for r in items:
        secs = r["sections"]
        r.update(
            first_km=secs[0]["km"],
            last_km=secs[-1]["km"],
            from_name=secs[0]["name"],
            to_name=secs[-1]["name"],
            lanes=sum(s["lanes"] for s in secs),
        )
    items.sort(key=lambda r: (-len(r["sections"]), r["road"], r["direction"]))
    return {"roads": jsonable(items)}


def _day_start(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def _jams(con: CatalogConnection, settings: Settings, day: dt.date, where: str = "TRUE",
          params: list[Any] | None = None) -> list[dict[str, Any]] | None:  # fmt: skip
    ref = jams_table(settings)
    if not con.has_view(ref):
        return None
    sql = f"SELECT * EXCLUDE (year, month, day) FROM {ref.sql} WHERE {day_filter(day)} AND {where} "
    sql += "ORDER BY start_ts, road, direction"
    return con.query(sql, params or []).table.to_pylist()


def timespace(
    con: CatalogConnection, settings: Settings, road: str, direction: str, day: dt.date
) -> dict[str, Any]:
    """The 3-minute speed of every section of one road and direction, minute by minute."""
    sections = _sections(con, settings, "road = ? AND direction = ?", [road, direction])
    if not sections:
        raise NotFoundError(f"no road {road!r} direction {direction!r} in the sections")
    table = require_transformed(con.catalog, settings)
    ids = [s["lve_nr"] for s in sections]
    rows = con.query(
        f"SELECT lve_nr, recordTimestamp, avgSpeed3Minutes "
        f"FROM {TableRef(table.database, table.name).sql} "
        f"WHERE {day_filter(day)} AND list_contains(?, lve_nr)",
        [ids],
    ).table
    start = _day_start(day)
    grid = np.full((len(ids), MINUTES), -1, dtype=np.int16)
    if rows.num_rows:
        index = {lve: i for i, lve in enumerate(ids)}
        lve = rows.column("lve_nr").to_numpy(zero_copy_only=False)
        row = np.array([index[int(v)] for v in lve])
        minute = (rows.column("recordTimestamp").to_numpy(zero_copy_only=False) - start) // 60
        speed = rows.column("avgSpeed3Minutes").to_numpy(zero_copy_only=False).astype(float)
        ok = np.isfinite(speed) & (minute >= 0) & (minute < MINUTES)
        grid[row[ok], minute[ok]] = np.clip(np.rint(speed[ok]), 0, 250).astype(np.int16)
    jams = _jams(con, settings, day, "road = ? AND direction = ?", [road, direction])
    return {
        "road": road,
        "direction": direction,
        "day": day.isoformat(),
        "start": start,
        "minutes": MINUTES,
        "jam_threshold_kmh": settings.transform.jam_threshold_kmh,
        "sections": jsonable(sections),
        "speed": grid.tolist(),
        "jams": jsonable(jams or []),
    }


def jams(con: CatalogConnection, settings: Settings, day: dt.date) -> dict[str, Any]:
    """The day's jam episodes with the names of their head and tail sections."""
    found = _jams(con, settings, day)
    names: dict[int, str] = {}
    if found:
        names = {s["lve_nr"]: s["name"] for s in _sections(con, settings)}
    for j in found or []:
        j["head_name"] = names.get(j["sections"][-1])
        j["tail_name"] = names.get(j["sections"][0])
    r = settings.roads
    return {
        "day": day.isoformat(),
        "derived": found is not None,
        "rules": {
            "jam_threshold_kmh": settings.transform.jam_threshold_kmh,
            "enter_minutes": r.jam_enter_minutes,
            "exit_minutes": r.jam_exit_minutes,
            "free_flow_kmh": r.free_flow_kmh or "85th percentile of off-peak speed",
        },
        "jams": jsonable(found or []),
    }


def parse_at(text: str | None) -> int | None:
    """A minute as epoch seconds (floored to the minute) from epoch seconds or ISO 8601."""
    if text is None or text == "":
        return None
    if text.lstrip("-").isdigit():
        value = int(text)
    else:
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequestError(f"at must be epoch seconds or ISO 8601, got {text!r}") from None
        if when.tzinfo is None:
            raise BadRequestError(f"at needs a time zone (Z or +01:00), got {text!r}")
        value = int(when.timestamp())
    return value - value % 60


def map_at(
    con: CatalogConnection,
    settings: Settings,
    at: int | None,
    days: list[str],
    day: dt.date | None = None,
) -> dict[str, Any]:
    """Every section's place and 3-minute speed at minute ``at`` (default: the latest minute
    with data on ``day``, or on the latest day), and whether a jam episode covers it then."""
    table = require_transformed(con.catalog, settings)
    ref = TableRef(table.database, table.name)
    if at is None:
        if not days:
            raise NotFoundError(f"{transformed_table(settings)} has no partitions yet")
        day = day or dt.date.fromisoformat(days[-1])
        latest = con.query(f"SELECT max(recordTimestamp) FROM {ref.sql} WHERE {day_filter(day)}")
        at = int(latest.rows[0][0] or _day_start(day))
    day = dt.datetime.fromtimestamp(at, dt.UTC).date()
    if day.isoformat() not in days:
        raise NotFoundError(f"no transformed data on {day.isoformat()}")
    speeds = con.query(
        f"SELECT lve_nr, avgSpeed3Minutes FROM {ref.sql} "
        f"WHERE {day_filter(day)} AND recordTimestamp = ?",
        [at],
    ).rows
    by_lve = {int(lve): v for lve, v in speeds if lve is not None}
    jammed: set[int] = set()
    for j in _jams(con, settings, day, "start_ts <= ? AND ? < end_ts", [at, at]) or []:
        jammed.update(j["sections"])
    sections = _sections(con, settings)
    for s in sections:
        v = by_lve.get(s["lve_nr"])
        s["speed"] = None if v is None else round(float(v), 1)
        s["jam"] = s["lve_nr"] in jammed
    return {
        "at": at,
        "day": day.isoformat(),
        "jam_threshold_kmh": settings.transform.jam_threshold_kmh,
        "sections": jsonable(sections),
    }


def health(con: CatalogConnection, settings: Settings, day: dt.date) -> dict[str, Any]:
    """Per section: its lanes' health on ``day`` and whether all of them are to be trusted;
    plus the lanes that are not."""
    ref = health_table(settings)
    if not con.has_view(ref):
        return {"day": day.isoformat(), "derived": False, "summary": {}, "sections": [],
                "lanes": []}  # fmt: skip
    loc = locations_table(settings)
    lane_cols = "h.*, l.beschrijvende_id, l.Rijstrook, l.volledige_naam AS name"
    lanes = con.query(
        f"SELECT {lane_cols} FROM (SELECT * FROM {ref.sql} WHERE {day_filter(day)}) AS h "
        f"LEFT JOIN {loc.sql} AS l USING (unieke_id) ORDER BY unieke_id"
    ).table.to_pylist()
    secs = {s["lve_nr"]: s for s in _sections(con, settings)}
    per: dict[int, dict[str, Any]] = {}
    for lane in lanes:
        lane.pop("year", None), lane.pop("month", None), lane.pop("day", None)
        s = secs.get(lane["lve_nr"], {})
        agg = per.setdefault(
            lane["lve_nr"],
            {
                "lve_nr": lane["lve_nr"],
                "road": s.get("road"),
                "direction": s.get("direction"),
                "km": s.get("km"),
                "name": s.get("name") or lane.get("name"),
                "lanes": 0,
                "untrusted_lanes": 0,
                "stuck_lanes": 0,
                "pct_observed": 0.0,
                "pct_valid": 0.0,
            },
        )
        agg["lanes"] += 1
        agg["untrusted_lanes"] += 0 if lane["trusted"] else 1
        agg["stuck_lanes"] += 1 if lane["stuck_minutes"] else 0
        agg["pct_observed"] += lane["pct_observed"] or 0.0
        agg["pct_valid"] += lane["pct_valid"] or 0.0
    sections = list(per.values())
    for agg in sections:
        agg["pct_observed"] = round(agg["pct_observed"] / agg["lanes"], 4)
        agg["pct_valid"] = round(agg["pct_valid"] / agg["lanes"], 4)
        agg["trusted"] = agg["untrusted_lanes"] == 0
    sections.sort(key=lambda a: (a["trusted"], a["pct_valid"], a["lve_nr"]))
    untrusted = [lane for lane in lanes if not lane["trusted"]]
    n = len(lanes)
    return {
        "day": day.isoformat(),
        "derived": True,
        "rules": {
            "min_valid_share": settings.roads.min_valid_share,
            "stuck_minutes": settings.roads.stuck_minutes,
        },
        "summary": {
            "lanes": n,
            "untrusted_lanes": len(untrusted),
            "sections": len(sections),
            "untrusted_sections": sum(1 for a in sections if not a["trusted"]),
            "pct_observed": round(sum(x["pct_observed"] for x in lanes) / n, 4) if n else None,
            "pct_valid": round(sum(x["pct_valid"] for x in lanes) / n, 4) if n else None,
        },
        "sections": jsonable(sections),
        "lanes": jsonable(untrusted),
    }

"""``trafficlake demo``: the whole pipeline from nothing, on embedded defaults.

Simulate a working day of traffic (06:00-20:00 in Brussels, so both rush hours and their jams)
on a realistic network, land it through the delivery stream (the first minutes as MIV XML
through the real parser, the rest as Arrow), write the locations table, run the shipped
``batch`` state machine (crawl raw → transform → crawl transformed), then summarise what the
lake now holds in plain words: events → lane-minutes → road-section minutes, and the jams
found, where and when (local time).

The day is the latest weekday before today, whatever day the demo runs: the simulated network
jams at the weekday rush hours, not at weekends.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from trafficlake.config import DEFAULT_TOML, Settings, load_settings
from trafficlake.errors import TrafficlakeError

MARKER = ".trafficlake-demo"
BRUSSELS = ZoneInfo("Europe/Brussels")
FIRST_LOCAL_HOUR = 6
"""The demo's day starts at 06:00 in Brussels (before the morning rush)."""
DEFAULT_HOURS = 14
"""... and lasts until 20:00 (after the evening rush)."""
NOON = 13
"""Jams before 13:00 local time are the morning's, later ones the evening's."""


@dataclass
class JamPeriod:
    """The jams of one rush hour: how much, where and when (local times)."""

    period: str
    jam_minutes: int
    locations: int
    roads: int
    first: str
    last: str
    worst_road: str
    worst_road_minutes: int
    worst_road_sites: int
    worst_road_first: str
    worst_road_last: str
    worst_road_km: float
    worst_road_start: str
    """Name of the site where the worst road's jam began (its bottleneck)."""


@dataclass
class DemoSummary:
    folder: str
    config: str
    lake: str
    catalog: str
    lanes: int
    minutes: int
    first_minute: str
    day: str = ""
    first_local: str = ""
    last_local: str = ""
    events_landed: int = 0
    lane_minutes: int = 0
    quarantined: int = 0
    raw_files: int = 0
    raw_partitions: int = 0
    transformed_rows: int = 0
    transformed_partitions: int = 0
    execution_id: str = ""
    execution_status: str = ""
    execution_error: str | None = None
    congestion: list[dict[str, Any]] = field(default_factory=list)
    jams: list[JamPeriod] = field(default_factory=list)
    jam_episodes: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    next_steps: list[str] = field(default_factory=list)


def demo_day(today: date) -> date:
    """The latest weekday before ``today``: the day the demo simulates."""
    day = today - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def demo_start(day: date) -> datetime:
    """06:00 in Brussels on ``day``, as a UTC time."""
    local = datetime(day.year, day.month, day.day, FIRST_LOCAL_HOUR, tzinfo=BRUSSELS)
    return local.astimezone(UTC)


def prepare_folder(folder: Path) -> Path:
    """Create (or wipe a previous demo's) folder and write its config; return the config path."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise TrafficlakeError(
                f"{folder} exists and is not a trafficlake demo folder; choose another --dir"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("created by trafficlake demo; safe to delete\n")
    config = folder / "trafficlake.toml"
    # The seed's Wait states are 30 s; the demo runs them 50x faster (never skipped).
    text = DEFAULT_TOML.replace("wait_scale = 1.0 ", "wait_scale = 0.02")
    if "wait_scale = 0.02" not in text:
        raise TrafficlakeError("demo: the default config no longer has a wait_scale line")
    config.write_text(text)
    return config


def settings_for_existing_config(config: Path) -> Settings:
    """The user's settings for a demo run into their own (empty) lake, Waits scaled down."""
    from trafficlake.catalog.names import RAW_PREFIX
    from trafficlake.storage import Lake

    settings = load_settings(config)
    if Lake.from_settings(settings).list(RAW_PREFIX):
        raise TrafficlakeError(
            f"the lake {settings.lake_url} already holds raw data; the demo needs an empty lake "
            "(drop --config to run it in its own --dir)"
        )
    return settings.replace(workflow=dataclasses.replace(settings.workflow, wait_scale=0.02))


def run_demo(
    folder: Path | None,
    *,
    config: Path | None = None,
    lanes: int = 4600,
    hours: int = DEFAULT_HOURS,
    start: str = "",
    today: date | None = None,
    xml_minutes: int = 15,
    step: Callable[[str], None] = lambda _msg: None,
    on_event: Callable[[Any], None] | None = None,
) -> DemoSummary:
    """Run the pipeline end to end; ``step`` is told what is happening.

    Without ``config`` the demo runs in ``folder`` (wiped first) with a config of its own; with
    ``config`` it runs into the lake and catalog that config names, which must hold no raw data.
    ``start`` (ISO, UTC unless it has an offset) overrides the day, which is otherwise
    :func:`demo_day` of ``today`` (default: the real today).
    """
    from trafficlake import ingest
    from trafficlake.catalog import open_catalog
    from trafficlake.catalog.names import raw_table, transformed_table
    from trafficlake.storage import Lake
    from trafficlake.workflow.library import run_workflow

    if not 1 <= hours <= 24 or not 1 <= lanes <= MAX_LANES:
        raise TrafficlakeError(f"--hours must be 1..24 and --lanes 1..{MAX_LANES:,}")
    if config is not None:
        settings = settings_for_existing_config(config)
        folder = settings.base_dir
    elif folder is not None:
        config = prepare_folder(folder)
        settings = load_settings(config)
    else:
        raise TrafficlakeError("the demo needs a folder or a config")
    if not start:
        start = demo_start(demo_day(today or datetime.now(BRUSSELS).date())).isoformat()
    first = ingest.parse_start(start)
    minutes = hours * 60
    local_first = datetime.fromtimestamp(first, BRUSSELS)
    summary = DemoSummary(
        folder=str(folder),
        config=str(config),
        lake=settings.lake_url,
        catalog=settings.catalog_url,
        lanes=lanes,
        minutes=minutes,
        first_minute=datetime.fromtimestamp(first, UTC).isoformat(),
        day=f"{local_first:%A %d %B %Y}",
        first_local=f"{local_first:%H:%M}",
        last_local=f"{datetime.fromtimestamp(first + 60 * minutes, BRUSSELS):%H:%M}",
    )
    lake = Lake.from_settings(settings)

    t0 = time.perf_counter()
    step(f"simulating {lanes} lanes x {minutes} minutes and landing them through the stream")
    xml_part = min(xml_minutes, minutes)
    reports = [
        ingest.simulate(settings, minutes=xml_part, lanes=lanes, start=start, xml=True, lake=lake)
    ]
    if minutes > xml_part:
        rest = datetime.fromtimestamp(first + 60 * xml_part, UTC).isoformat()
        reports.append(
            ingest.simulate(
                settings,
                minutes=minutes - xml_part,
                lanes=lanes,
                start=rest,
                lake=lake,
                workers=os.cpu_count() or 1,
            )
        )
    summary.events_landed = sum(r.events for r in reports)
    summary.quarantined = sum(r.errors for r in reports)
    summary.raw_files = sum(r.files_written for r in reports)
    summary.seconds["ingest"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    step("running the shipped state machine 'batch' (crawl raw -> transform -> crawl transformed)")
    result = run_workflow(settings, "batch", {}, on_event=on_event)
    summary.execution_id = result.id
    summary.execution_status = result.status
    summary.execution_error = f"{result.error}: {result.cause}" if result.error else None
    summary.seconds["workflow"] = time.perf_counter() - t0

    if result.status == "SUCCEEDED":
        from trafficlake.roads.derive import derive

        t0 = time.perf_counter()
        step("deriving jam episodes and detector health (trafficlake roads derive)")
        roads = derive(settings)
        if roads.state != "SUCCEEDED":
            raise TrafficlakeError(f"roads run {roads.run_id} failed: {roads.error}")
        summary.jam_episodes = roads.jams
        summary.seconds["roads"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    raw, transformed = raw_table(settings), transformed_table(settings)
    with open_catalog(settings) as catalog:
        summary.raw_partitions = len(catalog.list_partitions(*raw))
        if result.status == "SUCCEEDED":
            parts = catalog.list_partitions(*transformed)
            summary.transformed_partitions = len(parts)
            summary.transformed_rows = sum(p.row_count or 0 for p in parts)
    if result.status == "SUCCEEDED":
        summary.congestion = congestion_by_location(settings)
        summary.lane_minutes, summary.jams = _lane_minutes_and_jams(
            settings, first, first + 60 * minutes
        )
    summary.seconds["summary"] = time.perf_counter() - t0
    busiest = summary.congestion[0]["lve_nr"] if summary.congestion else 1
    opt = f" --config {config}"
    summary.next_steps = [
        f"trafficlake serve{opt}    # the dashboard on http://127.0.0.1:8080",
        f"trafficlake query{opt} "
        f'"SELECT hour, count(*) AS jam_minutes FROM {transformed} '
        f'WHERE trafficJamIndicator = 1 GROUP BY hour ORDER BY hour"',
        f"trafficlake query{opt} "
        f'"SELECT recordTimestamp, currentSpeed, avgSpeed3Minutes, trafficJamIndicator '
        f'FROM {transformed} WHERE lve_nr = {busiest} ORDER BY recordTimestamp"',
    ]
    return summary


MAX_LANES = 100_000
"""The demo's network size limit (the real feed has about 4,600 lanes)."""


def _lane_minutes_and_jams(settings: Settings, first: int, end: int) -> tuple[int, list[JamPeriod]]:
    """Events measured inside the simulated window (lane-minutes), and the jams per rush hour."""
    from trafficlake.catalog.names import locations_table, raw_table, transformed_table
    from trafficlake.query import connect

    raw, transformed = raw_table(settings).sql, transformed_table(settings).sql
    with connect(settings) as con:
        lane_minutes = con.query(
            f"SELECT count(*) AS n FROM {raw} WHERE tijd_waarneming >= ? AND tijd_waarneming < ?",
            [first, end],
        ).rows[0][0]
        if not con.has_view(locations_table(settings)):
            return int(lane_minutes), []
        offset = int(datetime.fromtimestamp(first, BRUSSELS).utcoffset().total_seconds())  # type: ignore[union-attr]
        jam = f"""
            WITH loc AS (
                SELECT lve_nr, min(Ident_8) AS road, avg(Kmp_Rsys) AS km,
                       min(volledige_naam) AS name
                FROM {locations_table(settings).sql} GROUP BY lve_nr
            ), jam AS (
                SELECT lve_nr, recordTimestamp AS ts,
                       CASE WHEN (recordTimestamp + {offset}) % 86400 < {NOON * 3600}
                            THEN 'morning' ELSE 'evening' END AS period
                FROM {transformed}
                WHERE trafficJamIndicator = 1 AND recordTimestamp >= {int(first)}
                  AND recordTimestamp < {int(end)}
            ), per_road AS (
                SELECT period, coalesce(road, '?') AS road, count(*) AS minutes,
                       count(DISTINCT lve_nr) AS sites, min(ts) AS first, max(ts) AS last,
                       coalesce(max(km) - min(km), 0) AS km, arg_min(name, ts) AS start_name,
                       row_number() OVER (PARTITION BY period
                                          ORDER BY count(*) DESC, coalesce(road, '?')) AS rank
                FROM jam LEFT JOIN loc USING (lve_nr) GROUP BY period, road
            ), per_period AS (
                SELECT period, count(*) AS minutes, count(DISTINCT lve_nr) AS locations,
                       count(DISTINCT road) AS roads, min(ts) AS first, max(ts) AS last
                FROM jam LEFT JOIN loc USING (lve_nr) GROUP BY period
            )
            SELECT p.period, p.minutes, p.locations, p.roads, p.first, p.last, r.road,
                   r.minutes, r.sites, r.first, r.last, r.km, r.start_name
            FROM per_period p JOIN per_road r ON r.period = p.period AND r.rank = 1
            ORDER BY p.first
        """
        rows = con.query(jam).rows
    periods = []
    for row in rows:
        period, minutes, locations, roads, p_first, p_last = row[:6]
        road, r_minutes, sites, r_first, r_last, km, start_name = row[6:]
        periods.append(
            JamPeriod(
                period, int(minutes), int(locations), int(roads), _local(p_first),
                _local(p_last + 60), str(road), int(r_minutes), int(sites), _local(r_first),
                _local(r_last + 60), round(float(km), 1), str(start_name or f"site on {road}"),
            )
        )  # fmt: skip
    return int(lane_minutes), periods


def _local(epoch: int) -> str:
    return f"{datetime.fromtimestamp(int(epoch), BRUSSELS):%H:%M}"


def congestion_by_location(settings: Settings, limit: int = 10) -> list[dict[str, Any]]:
    """Locations (lve groups) with the most minutes flagged as a traffic jam, over all days."""
    from trafficlake.congestion import congestion
    from trafficlake.query import connect

    with connect(settings) as con:
        result = congestion(con, settings, limit=limit, jammed_only=True)
    return result.table.to_pylist()

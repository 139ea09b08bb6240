"""``trafficlake demo``: the whole pipeline from nothing, on embedded defaults.

Simulate a morning of traffic on a realistic network, land it through the delivery stream
(the first minutes as MIV XML through the real parser, the rest as Arrow), write the locations
table, run the shipped ``batch`` state machine (crawl raw → transform → crawl transformed),
then summarise what the lake now holds.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trafficlake.config import DEFAULT_TOML, Settings, load_settings
from trafficlake.errors import TrafficlakeError

MARKER = ".trafficlake-demo"


@dataclass
class DemoSummary:
    folder: str
    config: str
    lake: str
    catalog: str
    lanes: int
    minutes: int
    first_minute: str
    events_landed: int = 0
    quarantined: int = 0
    raw_files: int = 0
    raw_partitions: int = 0
    transformed_rows: int = 0
    transformed_partitions: int = 0
    execution_id: str = ""
    execution_status: str = ""
    execution_error: str | None = None
    congestion: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    example_queries: list[str] = field(default_factory=list)


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
    hours: int = 6,
    start: str = "",
    xml_minutes: int = 15,
    step: Callable[[str], None] = lambda _msg: None,
    on_event: Callable[[Any], None] | None = None,
) -> DemoSummary:
    """Run the pipeline end to end; ``step`` is told what is happening.

    Without ``config`` the demo runs in ``folder`` (wiped first) with a config of its own; with
    ``config`` it runs into the lake and catalog that config names, which must hold no raw data.
    """
    from trafficlake import ingest
    from trafficlake.catalog import open_catalog
    from trafficlake.catalog.names import raw_table, transformed_table
    from trafficlake.miv.locations import write_locations
    from trafficlake.miv.simulator import Simulator
    from trafficlake.storage import Lake
    from trafficlake.workflow.library import run_workflow

    if hours < 1 or lanes < 1:
        raise TrafficlakeError("--hours and --lanes must be >= 1")
    if config is not None:
        settings = settings_for_existing_config(config)
        folder = settings.base_dir
    elif folder is not None:
        config = prepare_folder(folder)
        settings = load_settings(config)
    else:
        raise TrafficlakeError("the demo needs a folder or a config")
    if not start:
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        start = f"{yesterday.isoformat()}T05:00:00+00:00"  # 06:00 in Brussels: morning peak
    first = ingest.parse_start(start)
    minutes = hours * 60
    summary = DemoSummary(
        folder=str(folder),
        config=str(config),
        lake=settings.lake_url,
        catalog=settings.catalog_url,
        lanes=lanes,
        minutes=minutes,
        first_minute=datetime.fromtimestamp(first, UTC).isoformat(),
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
                settings, minutes=minutes - xml_part, lanes=lanes, start=rest, lake=lake
            )
        )
    summary.events_landed = sum(r.events for r in reports)
    summary.quarantined = sum(r.errors for r in reports)
    summary.raw_files = sum(r.files_written for r in reports)
    write_locations(lake, Simulator(settings.simulator.seed, lanes).network)
    summary.seconds["ingest"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    step("running the shipped state machine 'batch' (crawl raw -> transform -> crawl transformed)")
    result = run_workflow(settings, "batch", {}, on_event=on_event)
    summary.execution_id = result.id
    summary.execution_status = result.status
    summary.execution_error = f"{result.error}: {result.cause}" if result.error else None
    summary.seconds["workflow"] = time.perf_counter() - t0

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
    summary.seconds["summary"] = time.perf_counter() - t0
    busiest = summary.congestion[0]["lve_nr"] if summary.congestion else 1
    summary.example_queries = [
        f"trafficlake query --config {config} "
        f'"SELECT hour, count(*) AS jam_minutes FROM {transformed} '
        f'WHERE trafficJamIndicator = 1 GROUP BY hour ORDER BY hour"',
        f"trafficlake query --config {config} "
        f'"SELECT recordTimestamp, currentSpeed, avgSpeed3Minutes, trafficJamIndicator '
        f'FROM {transformed} WHERE lve_nr = {busiest} ORDER BY recordTimestamp LIMIT 30"',
        f"trafficlake catalog partitions {transformed} --config {config}",
        f"trafficlake workflow history {result.id} --config {config}",
    ]
    return summary


def congestion_by_location(settings: Settings, limit: int = 10) -> list[dict[str, Any]]:
    """Locations (lve groups) with the most minutes flagged as a traffic jam, over all days."""
    from trafficlake.congestion import congestion
    from trafficlake.query import connect

    with connect(settings) as con:
        result = congestion(con, settings, limit=limit, jammed_only=True)
    return result.table.to_pylist()

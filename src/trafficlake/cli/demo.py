"""``trafficlake demo``: the pipeline end to end on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from trafficlake.cli.common import ConfigOpt, JsonOpt, console, err_console, print_json

STEP_NAMES = {
    "RunDataCrawler": "crawling raw/ (the crawler registers the new hourly partitions)",
    "RunETL": "transforming (event-time partitions, speeds, 3- and 20-minute averages, jams)",
    "RunTransformedCrawler": "crawling transformed/",
}


def demo(
    directory: Annotated[
        Path,
        typer.Option(
            "--dir",
            metavar="DIR",
            help="Folder for the demo's lake, catalog and config (wiped first).",
        ),
    ] = Path("trafficlake-demo"),
    lanes: Annotated[
        int, typer.Option(metavar="N", help="Lanes in the simulated network (the feed has ~4,600).")
    ] = 4600,
    hours: Annotated[
        int,
        typer.Option(metavar="H", help="Hours of traffic to simulate, from 06:00 Brussels time."),
    ] = 14,
    start: Annotated[
        str,
        typer.Option(
            metavar="TIME",
            help="First simulated minute (ISO; UTC unless it has an offset). "
            "Default: 06:00 Brussels time on the latest weekday before today.",
        ),
    ] = "",
    json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Simulate a working day of traffic, land it, run the shipped state machine and say what
    the lake now holds: the jams of both rush hours, where and when.

    Runs in its own folder (default ./trafficlake-demo) with its own trafficlake.toml, so it
    never touches your ./lake; rerunning wipes and rebuilds that folder. With --config it runs
    into the lake and catalog your config names instead (that lake must hold no raw data yet).
    """
    from trafficlake.demo import run_demo

    def step(msg: str) -> None:
        err_console.print(f"[bold]>[/bold] {msg}", highlight=False)

    seen: set[str] = set()

    def on_event(event: Any) -> None:  # each pipeline step once, not every poll of it
        name = getattr(event, "details", {}).get("name", "")
        if event.type == "TaskStateEntered" and name in STEP_NAMES and name not in seen:
            seen.add(name)
            err_console.print(f"    {STEP_NAMES[name]}", highlight=False)

    try:
        summary = run_demo(
            None if config else directory.resolve(),
            config=config,
            lanes=lanes,
            hours=hours,
            start=start,
            step=step,
            on_event=on_event,
        )
    except KeyboardInterrupt:
        where = config or directory
        err_console.print(
            f"interrupted: the demo in {where} is incomplete; run `trafficlake demo` again "
            "(it starts over in its own folder)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    if json:
        print_json(summary)
    else:
        print_summary(summary)
    if summary.execution_status != "SUCCEEDED":
        raise typer.Exit(1)


def print_summary(s: Any) -> None:
    """The demo's result in a few plain lines."""
    say = lambda text="": console.print(text, highlight=False, soft_wrap=True)  # noqa: E731
    say()
    say(f"[bold]What the demo did[/bold] (in {s.folder})")
    say(
        f"  Simulated {s.lanes:,} lanes (detector loops) from {s.first_local} to {s.last_local} "
        f"Brussels time on {s.day}: the feed publishes one event per lane a minute."
    )
    say(
        f"  Landed {s.events_landed:,} events in {s.raw_files} Parquet files under raw/ "
        f"({s.raw_partitions} arrival-hour partitions, {s.quarantined} quarantined)."
    )
    if s.execution_status != "SUCCEEDED":
        say(f"  The state machine [red]{s.execution_status}[/red]: {s.execution_error}")
        say(f"  See: trafficlake workflow history {s.execution_id} --config {s.config}")
        return
    stale = s.events_landed - s.lane_minutes
    say(
        f"  {s.lane_minutes:,} of them are lane-minutes measured in that window"
        + (f" (the other {stale:,}: stale repeats of lanes that went silent)" if stale else "")
        + "."
    )
    say(
        f"  The transform averaged the lanes of each measuring site into "
        f"{s.transformed_rows:,} road-section minutes ({s.transformed_partitions} event-hour "
        f"partitions under transformed/), with speeds, moving averages and a jam flag."
    )
    say()
    if not s.jams:
        say("[bold]Jams found[/bold]: none (no minute flagged trafficJamIndicator = 1).")
    else:
        say("[bold]Jams found[/bold] (Brussels time)")
        for j in s.jams:
            say(
                f"  {j.period.capitalize()} rush: {j.jam_minutes:,} jammed section-minutes "
                f"between {j.first} and {j.last} on {j.locations} sites of {j.roads} road(s)."
            )
            say(
                f"    Worst: road {j.worst_road}, {j.worst_road_first}-{j.worst_road_last}: "
                f"the queue started at {j.worst_road_start} and spread upstream over "
                f"{j.worst_road_sites} sites ({j.worst_road_km} km)."
            )
    say()
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in s.seconds.items())
    say(f"Took {timings}. The lake is {s.lake}, the catalog {s.catalog}.")
    say()
    say("[bold]Try next[/bold]")
    for i, cmd in enumerate(s.next_steps, 1):
        say(f"  {i}. {cmd}")


def register(app: typer.Typer) -> None:
    app.command()(demo)

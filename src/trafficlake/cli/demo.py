"""``trafficlake demo``: the pipeline end to end on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from trafficlake.cli.common import ConfigOpt, JsonOpt, console, err_console, print_json


def demo(
    directory: Annotated[
        Path,
        typer.Option("--dir", help="Folder for the demo's lake, catalog and config (wiped first)."),
    ] = Path("trafficlake-demo"),
    lanes: Annotated[int, typer.Option(help="Lanes in the simulated network.")] = 4600,
    hours: Annotated[int, typer.Option(help="Hours of traffic to simulate.")] = 6,
    start: Annotated[
        str, typer.Option(help="First simulated minute (ISO, UTC); default yesterday 05:00 UTC.")
    ] = "",
    json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Simulate traffic, land it, run the shipped state machine and summarise the lake.

    Runs in its own folder (default ./trafficlake-demo) with its own trafficlake.toml, so it
    never touches your ./lake; rerunning wipes and rebuilds that folder. With --config it runs
    into the lake and catalog your config names instead (that lake must hold no raw data yet).
    """
    from trafficlake.demo import run_demo

    def step(msg: str) -> None:
        err_console.print(f"[bold]>[/bold] {msg}")

    def on_event(event: object) -> None:
        kind = getattr(event, "type", "")
        if kind.endswith("StateEntered"):
            name = getattr(event, "details", {}).get("name", "")
            err_console.print(f"    {kind:<28} {name}", highlight=False)

    summary = run_demo(
        None if config else directory.resolve(),
        config=config,
        lanes=lanes,
        hours=hours,
        start=start,
        step=step,
        on_event=on_event,
    )
    if json:
        print_json(summary)
    else:
        _print_summary(summary)
    if summary.execution_status != "SUCCEEDED":
        raise typer.Exit(1)


def _print_summary(s: object) -> None:
    from trafficlake.demo import DemoSummary

    assert isinstance(s, DemoSummary)
    console.print()
    console.print(f"[bold]trafficlake demo[/bold] in {s.folder}")
    console.print(f"  simulated      {s.lanes} lanes x {s.minutes} min from {s.first_minute}")
    console.print(
        f"  landed         {s.events_landed:,} events in {s.raw_files} files, "
        f"{s.raw_partitions} raw partitions ({s.quarantined} quarantined)"
    )
    status_color = "green" if s.execution_status == "SUCCEEDED" else "red"
    console.print(
        f"  state machine  [{status_color}]{s.execution_status}[/{status_color}]  {s.execution_id}"
    )
    if s.execution_error:
        console.print(f"                 {s.execution_error}")
    console.print(
        f"  transformed    {s.transformed_rows:,} rows in {s.transformed_partitions} partitions"
    )
    console.print("  timings        " + ", ".join(f"{k} {v:.1f} s" for k, v in s.seconds.items()))
    if s.congestion:
        table = Table(title="Most congested locations (minutes with trafficJamIndicator = 1)")
        for col in ("lve_nr", "name", "jam_minutes", "minutes", "min_speed"):
            table.add_column(col)
        for row in s.congestion:
            table.add_row(
                *(str(row[c]) for c in ("lve_nr", "name", "jam_minutes", "minutes", "min_speed"))
            )
        console.print(table)
    console.print(f"  lake           {s.lake}")
    console.print(f"  catalog        {s.catalog}")
    console.print("  try:")
    for q in s.example_queries:
        console.print(f"    {q}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(demo)

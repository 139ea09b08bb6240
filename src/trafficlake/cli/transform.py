"""``trafficlake transform``: run the traffic transform in the foreground."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import typer

from trafficlake.cli.common import ConfigOpt, JsonOpt, console, print_json, progress, settings
from trafficlake.errors import TrafficlakeError


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def transform(
    start: Annotated[
        datetime | None,
        typer.Option(
            "--from", formats=["%Y-%m-%d"], metavar="DAY", help="First UTC event day to rebuild."
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(
            "--to", formats=["%Y-%m-%d"], metavar="DAY", help="Last UTC event day (inclusive)."
        ),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since", formats=["%Y-%m-%d"], metavar="DAY", help="Rebuild DAY up to yesterday."
        ),
    ] = None,
    engine: Annotated[
        str | None, typer.Option("--engine", help="duckdb | spark (default: settings).")
    ] = None,
    reset_bookmark: Annotated[
        bool,
        typer.Option("--reset-bookmark", help="Forget the bookmark: reprocess all raw data."),
    ] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Repartition raw events by event time and derive speeds and jam indicators.

    Without --from/--since it is incremental: only the days touched by raw partitions added or
    changed since the last run (the job bookmark) are rebuilt."""
    from trafficlake.transform import TransformProgress, run_transform

    cfg = settings(config)
    with progress(transient=True) as bar:
        task = bar.add_task("planning", total=None)

        def on_progress(p: TransformProgress) -> None:
            if p.stage == "plan":
                bar.update(task, description="transforming", total=p.total, completed=0)
            elif p.stage == "chunk":
                bar.update(task, completed=p.done, description=f"transformed {p.message}")
            elif p.stage == "commit":
                bar.update(task, description=p.message)

        run = run_transform(
            cfg,
            start_day=_day(start),
            end_day=_day(end),
            since=_day(since),
            reset_bookmark=reset_bookmark,
            engine=engine,
            progress=on_progress,
        )
    if json_out:
        print_json(run)
    else:
        _summary(run.id, run.state, run.result)
    if run.state != "SUCCEEDED":
        raise TrafficlakeError(f"transform run {run.id} failed: {run.error}")


def _summary(run_id: str, state: str, result: dict[str, Any]) -> None:
    days = result.get("days", [])
    span = f"{days[0]}..{days[-1]}" if len(days) > 1 else (days[0] if days else "none")
    console.print(
        f"transform {run_id}: {state} - {len(days)} day(s) ({span}), "
        f"{result.get('rows_written', 0):,} rows, "
        f"{result.get('partitions_replaced', 0)} partition(s) replaced, "
        f"{result.get('seconds', 0):.1f} s"
    )
    for note in result.get("notes", []):
        console.print(f"  note: {note}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("transform")(transform)

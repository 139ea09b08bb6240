"""``trafficlake roads``: jam episodes and detector health derived from the lake."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from trafficlake.cli.common import (
    App,
    ConfigOpt,
    JsonOpt,
    console,
    day_option,
    print_json,
    progress,
    settings,
)
from trafficlake.errors import TrafficlakeError

roads_app = App(help="Roads, jam episodes and detector health derived from the lake.")


@roads_app.command("derive")
def derive(
    start: Annotated[date | None, day_option("--from", "First UTC day.")] = None,
    end: Annotated[date | None, day_option("--to", "Last UTC day (inclusive).")] = None,
    reset_bookmark: Annotated[
        bool, typer.Option("--reset-bookmark", help="Forget the bookmark: redo every day.")
    ] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Rebuild the jams and detector_health tables of the days the transform changed.

    Without --from it is incremental (its own bookmark over the transformed table)."""
    from trafficlake.roads.derive import derive as run_derive

    cfg = settings(config)
    with progress(transient=True) as bar:
        task = bar.add_task("planning", total=None)

        def on_progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=f"deriving {what}")

        result = run_derive(
            cfg,
            start_day=start,
            end_day=end,
            reset_bookmark=reset_bookmark,
            progress=on_progress,
        )
    if json_out:
        print_json(result)
    else:
        days = result.days
        span = f"{days[0]}..{days[-1]}" if len(days) > 1 else (days[0] if days else "none")
        console.print(
            f"roads {result.run_id}: {result.state} - {len(days)} day(s) ({span}), "
            f"{result.jams} jam episode(s), {result.detectors:,} detector-days, "
            f"{result.seconds:.1f} s",
            soft_wrap=True,
        )
        for note in result.notes:
            console.print(f"  note: {note}", highlight=False)
    if result.state != "SUCCEEDED":
        raise TrafficlakeError(f"roads run {result.run_id} failed: {result.error}")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.add_typer(roads_app, name="roads")

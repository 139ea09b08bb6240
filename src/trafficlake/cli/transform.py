"""``trafficlake transform``: run the traffic transform in the foreground; ``transform runs``
lists the runs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from trafficlake.cli.common import (
    App,
    ConfigOpt,
    JsonOpt,
    LimitOpt,
    console,
    day_option,
    err_console,
    open_for_reading,
    print_json,
    print_table,
    progress,
    settings,
    when,
)
from trafficlake.errors import TrafficlakeError

transform_app = App(no_args_is_help=False, help="Run the traffic transform; list its runs.")


@transform_app.callback(invoke_without_command=True)
def transform(
    ctx: typer.Context,
    start: Annotated[date | None, day_option("--from", "First UTC event day to rebuild.")] = None,
    end: Annotated[date | None, day_option("--to", "Last UTC event day (inclusive).")] = None,
    since: Annotated[date | None, day_option("--since", "Rebuild DAY up to yesterday.")] = None,
    engine: Annotated[
        str | None,
        typer.Option("--engine", metavar="ENGINE", help="duckdb | spark (default: settings)."),
    ] = None,
    reset_bookmark: Annotated[
        bool,
        typer.Option("--reset-bookmark", help="Forget the bookmark: reprocess all raw data."),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Only plan: print each chunk's read set and why each partition is read or not.",
        ),
    ] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Repartition raw events by event time and derive speeds and jam indicators.

    Without --from/--since it is incremental: only the days touched by raw partitions added or
    changed since the last run (the job bookmark) are rebuilt. `trafficlake transform runs`
    lists the runs."""
    if ctx.invoked_subcommand is not None:
        return
    from trafficlake.transform import TransformProgress, explain_transform, run_transform

    cfg = settings(config)
    if explain:
        with open_for_reading(cfg) as reading:  # explaining never creates a catalog or a lake
            plan = explain_transform(
                cfg,
                start_day=start,
                end_day=end,
                since=since,
                reset_bookmark=reset_bookmark,
                engine=engine,
                catalog=reading,
            )
        if json_out:
            print_json({"mode": plan.mode, "notes": plan.notes, "chunks": plan.explanation})
        else:
            _print_explanation(plan.mode, plan.notes, plan.explanation)
        return
    try:
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
                start_day=start,
                end_day=end,
                since=since,
                reset_bookmark=reset_bookmark,
                engine=engine,
                progress=on_progress,
            )
    except KeyboardInterrupt:
        err_console.print(
            "interrupted: the transform stopped before its commit, so the lake and the catalog "
            "are as they were (its staged files are cleaned up by the next run); run "
            "`trafficlake transform` again to resume from the bookmark",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(130) from None
    if json_out:
        print_json(run)
    else:
        _summary(run.id, run.state, run.result)
    if run.state != "SUCCEEDED":
        raise TrafficlakeError(f"transform run {run.id} failed: {run.error}")


def _summary(run_id: str, state: str, result: dict[str, Any]) -> None:
    days = result.get("days", [])
    rows = result.get("rows_written", 0)
    console.print(
        f"transform {run_id}: {state} - {_days(days)}, {rows:,} rows, "
        f"{result.get('partitions_replaced', 0)} partition(s) replaced, "
        f"{result.get('seconds', 0):.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    for note in result.get("notes", []):
        console.print(f"  note: {note}", highlight=False, soft_wrap=True)
    if state == "SUCCEEDED" and not rows:
        console.print(f"  why 0 rows: {why_no_rows(result)}", highlight=False, soft_wrap=True)


def _print_explanation(mode: str, notes: list[str], chunks: list[dict[str, Any]]) -> None:
    console.print(f"plan ({mode}): {len(chunks)} chunk(s)", highlight=False)
    for note in notes:
        console.print(f"  note: {note}", highlight=False, soft_wrap=True)
    for chunk in chunks:
        parts = chunk["partitions"]
        read = [p for p in parts if p["read"]]
        console.print(
            f"{chunk['days']}: reads {chunk['files']} file(s) of {len(read)} partition(s), "
            f"leaves out {len(parts) - len(read)}; event times {chunk['window']}",
            highlight=False,
            soft_wrap=True,
        )
        for p in parts:
            verb = "read" if p["read"] else "skip"
            console.print(
                f"  {verb} {p['location']} ({p['files']} file(s)): {p['why']}",
                highlight=False,
                soft_wrap=True,
            )


def _days(days: list[str]) -> str:
    if not days:
        return "0 days"
    span = f"{days[0]}..{days[-1]}" if len(days) > 1 else days[0]
    return f"{len(days)} day(s) ({span})"


def why_no_rows(result: dict[str, Any]) -> str:
    """A transform that wrote nothing, explained from its result."""
    if not result.get("days") and result.get("mode") == "range":
        return (
            "no raw data in the read set of the days asked for: nothing crawled holds "
            "measurements of them, or there is no such day (--since and --from without --to "
            "end yesterday, UTC); trafficlake transform --explain with the same days shows "
            "which partitions were left out and why"
        )
    if not result.get("days"):
        return (
            "nothing new since the last run: no raw partition was added or changed since the "
            "bookmark (rebuild days with --from/--to or --since, or ingest and crawl new data)"
        )
    return (
        "the raw data of those days holds no usable measurement: every event was defect, "
        "unavailable, a duplicate, or a stale repeat measured outside the days rebuilt "
        "(lanes that stopped reporting)"
    )


@transform_app.command("runs")
def runs_cmd(limit: LimitOpt = 20, json_: JsonOpt = False, config: ConfigOpt = None) -> None:
    """List transform runs, newest first: state, days rebuilt, rows written, time taken."""
    from trafficlake.transform.plan import JOB

    with open_for_reading(settings(config)) as cat:
        found = cat.list_job_runs(JOB, limit=limit + 1 if limit else 1_000_000)
    more = bool(limit) and len(found) > limit
    found = found[:limit] if limit else found
    if json_:
        print_json(found)
        return
    from trafficlake.owner import owner_alive

    rows = []
    for r in found:
        res = r.result or {}
        state = r.state
        if state == "RUNNING" and r.owner and not owner_alive(r.owner):
            state = "RUNNING, process gone (the next run marks it FAILED)"
        seconds = res.get("seconds")
        rows.append((r.id, state, when(r.started_at), _days(res.get("days", [])),
                     f"{res.get('rows_written', 0):,}", "-" if seconds is None else f"{seconds:.1f} s",
                     r.error or ""))  # fmt: skip
    print_table(
        ("run", "state", "started", "days", "rows", "took", "error"),
        rows,
        keys=("run",),
        empty="no transform runs yet (trafficlake transform, or trafficlake workflow run batch)",
    )
    if more:
        console.print(f"… older runs not shown (use --limit {limit * 5} or --limit 0)")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.add_typer(transform_app, name="transform")

"""CLI: ``trafficlake workflow ...`` (ASL state machines) and ``trafficlake schedule ...``."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from trafficlake.cli.common import (
    App,
    ConfigOpt,
    JsonOpt,
    LimitOpt,
    catalog_missing,
    console,
    err_console,
    open_for_reading,
    print_json,
    print_table,
    settings,
    when,
)

workflow_app = App(
    help="Validate and run Amazon States Language state machines.", no_args_is_help=True
)
schedule_app = App(help="Run state machines on EventBridge-style schedules.", no_args_is_help=True)

_SHOWN = (
    "StateEntered",
    "TaskFailed",
    "TaskTimedOut",
    "MapIterationFailed",
    "ParallelStateFailed",
    "MapStateFailed",
)


def _printer(to_stderr: bool) -> Any:
    out = err_console if to_stderr else console

    def on_event(event: Any) -> None:
        if not event.type.endswith(_SHOWN):
            return
        d = event.details
        what = d.get("name") or d.get("resource", "")
        if "error" in d:
            what += f"  {d['error']}: {d.get('cause', '')}"
        out.print(
            f"{when(event.timestamp)}  {event.type:<26} {what}", highlight=False, markup=False
        )

    return on_event


@workflow_app.command("validate")
def validate_cmd(
    definition: Annotated[str, typer.Argument(help="A definition file or a known name.")],
    json_: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Validate a definition (exit 1 listing every problem)."""
    from trafficlake.workflow.library import find_machine

    machine = find_machine(settings(config), definition)
    if json_:
        print_json(
            {
                "name": machine.name,
                "source": machine.source,
                "valid": True,
                "states": len(machine.definition["States"]),
            }
        )
    else:
        console.print(f"{machine.name}: valid ({len(machine.definition['States'])} states)")


@workflow_app.command("run")
def run_cmd(
    definition: Annotated[str, typer.Argument(help="A known name or a definition file.")] = "batch",
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="Execution input JSON.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Execution name.")] = None,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Run a state machine in the foreground, printing each state as it is entered."""
    from trafficlake.workflow.library import parse_input, run_workflow

    s = settings(config)
    began = time.time()
    try:
        result = run_workflow(
            s, definition, parse_input(input), execution_name=name, on_event=_printer(json_)
        )
    except KeyboardInterrupt:
        err_console.print(
            "interrupted: the execution stopped (it is listed as ABORTED); what its steps "
            "committed stays (each crawl and transform commits on its own, or not at all). "
            f"Run `trafficlake workflow run {definition}` again: the transform resumes from "
            "its bookmark.",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    if json_:
        print_json({k: v for k, v in result.__dict__.items() if k != "events"})
    else:
        console.print(
            f"execution {result.id}: {result.status}", highlight=False, markup=False, soft_wrap=True
        )
        if result.error:  # one line however wide (piped output is 80 columns)
            console.print(
                f"  {result.error}: {result.cause}", highlight=False, markup=False, soft_wrap=True
            )
        else:
            typer.echo(json.dumps(result.output))
        transformed = _transformed_since(s, began)
        if transformed:
            console.print(transformed, highlight=False, markup=False, soft_wrap=True)
    if result.status != "SUCCEEDED":
        raise typer.Exit(1)


def _transformed_since(s: Any, began: float) -> str | None:
    """The final line of a run: what the transform runs it started did (days and rows); None
    when it started none (a machine that has nothing to do with the transform)."""
    from trafficlake.cli.transform import why_no_rows
    from trafficlake.transform.plan import JOB

    with open_for_reading(s) as cat:
        runs = [r for r in cat.list_job_runs(JOB, limit=50) if (r.started_at or 0) >= began]
    if not runs:
        return None
    days = sorted({d for r in runs for d in (r.result or {}).get("days", [])})
    rows = sum((r.result or {}).get("rows_written", 0) for r in runs)
    failed = sum(r.state == "FAILED" for r in runs)
    span = f"{days[0]}..{days[-1]}" if len(days) > 1 else (days[0] if days else "")
    line = f"transformed: {len(days)} day(s){f' ({span})' if span else ''}, {rows:,} rows"
    line += f" in {len(runs)} transform run(s)" + (f", {failed} FAILED" if failed else "")
    if not rows and not failed:
        modes = {(r.result or {}).get("mode") for r in runs}
        mode = "range" if modes == {"range"} else "incremental"
        line += f" - {why_no_rows({'days': days, 'mode': mode})}"
    return line


@workflow_app.command("executions")
def executions_cmd(
    limit: LimitOpt = 50,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List executions, newest first (runs killed with their process are marked ABORTED)."""
    from trafficlake.workflow.library import list_executions

    s = settings(config)
    found = [] if catalog_missing(s) else list_executions(s, limit + 1 if limit else 1_000_000)
    more = bool(limit) and len(found) > limit
    found = found[:limit] if limit else found
    if json_:
        print_json(found)
        return
    print_table(
        ("execution", "status", "started", "error"),
        [(e.id, e.status, when(e.started_at), e.error or "") for e in found],
        keys=("execution",),
        empty="no executions yet (trafficlake workflow run batch)",
    )
    if more:
        console.print(f"… older executions not shown (use --limit {limit * 5} or --limit 0)")


@workflow_app.command("history")
def history_cmd(
    execution_id: Annotated[str, typer.Argument(help="Execution id or name.")],
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", metavar="N", min=0, help="Show the last N events (0: all)."),
    ] = 200,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Show an execution's history events (the last --limit of them)."""
    from trafficlake.catalog import NoSuchExecutionError
    from trafficlake.workflow.library import get_history

    s = settings(config)
    if catalog_missing(s):  # reading never creates a catalog
        raise NoSuchExecutionError(f"no execution {execution_id!r}: no catalog here yet")
    execution, events = get_history(s, execution_id)
    hidden = max(0, len(events) - limit) if limit else 0
    events = events[hidden:]
    if json_:
        print_json({"execution": execution, "events": events})
        return
    console.print(f"{execution.id}: {execution.status}", highlight=False, markup=False)
    if hidden:
        console.print(f"… {hidden:,} earlier events (use --limit 0 or --json)", highlight=False)
    for ev in events:
        d = ev.details
        extra = d.get("name", "") or d.get("resource", "")
        if "error" in d:
            extra += f" {d['error']}: {d.get('cause', '')}"
        console.print(
            f"{ev.id:>4} {ev.previous_event_id:>4}  {when(ev.timestamp)}  {ev.type:<26} {extra}",
            highlight=False,
            markup=False,
        )


@workflow_app.command("graph")
def graph_cmd(
    definition: Annotated[str, typer.Argument(help="A known name or a definition file.")] = "batch",
    format: Annotated[str, typer.Option("--format", help="mermaid | dot")] = "mermaid",
    config: ConfigOpt = None,
) -> None:
    """Print the state machine as a Mermaid or Graphviz graph."""
    from trafficlake.workflow.library import find_machine, graph

    typer.echo(graph(find_machine(settings(config), definition), format), nl=False)


@workflow_app.command("list")
def list_cmd(json_: JsonOpt = False, config: ConfigOpt = None) -> None:
    """List shipped and configured definitions."""
    from trafficlake.workflow.library import list_definitions

    rows = list_definitions(settings(config))
    if json_:
        print_json(rows)
        return
    for d in rows:
        console.print(f"{d.name:<20} {d.origin:<10} {d.path}", highlight=False, markup=False)


@schedule_app.command("run")
def schedule_run_cmd(
    once: Annotated[bool, typer.Option("--once", help="Fire what is due now, then exit.")] = False,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Fire due schedules (one execution at a time per machine) and deliver EventBridge rules'
    events; runs until interrupted."""
    from trafficlake.aws.server import LocalAws
    from trafficlake.events.bus import Dispatcher
    from trafficlake.workflow.schedule import run_due, run_forever

    s = settings(config)
    with LocalAws(s) as aws:
        dispatcher = Dispatcher(s, aws.services)
        if once:
            dispatcher.start_once()
        else:
            dispatcher.start()
        try:
            _schedule_run(s, once, json_, run_due, run_forever)
        finally:
            dispatcher.stop()


def _schedule_run(s: Any, once: bool, json_: bool, run_due: Any, run_forever: Any) -> None:

    def started(entry: Any) -> None:
        err_console.print(
            f"schedule {entry.name}: starting {entry.state_machine}", highlight=False, markup=False
        )

    if once:
        results = run_due(s, on_event=_printer(True), on_start=started)
        if json_:
            print_json([{k: v for k, v in r.__dict__.items() if k != "events"} for r in results])
        else:
            for r in results:
                line = f"execution {r.id or r.name}: {r.status}"
                if r.error:
                    line += f" ({r.error}: {r.cause})"
                console.print(line, highlight=False, markup=False)
            if not results:
                console.print("nothing due")
        if any(r.status != "SUCCEEDED" for r in results):
            raise typer.Exit(1)
        return
    try:
        run_forever(s, on_event=_printer(True), on_start=started)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@schedule_app.command("list")
def schedule_list_cmd(json_: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Show configured schedules with their last fire (execution, status) and next fire."""
    from trafficlake.workflow.schedule import list_schedules

    s = settings(config)
    with open_for_reading(s) as reading:  # listing never creates a catalog
        rows = list_schedules(s, catalog=reading)
    if json_:
        print_json(rows)
        return
    table = []
    for r in rows:
        fired = r.last_execution is not None
        last = _iso_when(r.last_fire) if fired else "never"
        status = r.last_status or "-"
        if r.last_error and status != "SUCCEEDED":
            status += f" ({r.last_error})"
        table.append((r.name, r.expression, r.state_machine, last, status,
                      _iso_when(r.next_fire), r.last_execution or "-"))  # fmt: skip
    print_table(
        ("schedule", "expression", "runs", "last fire", "last status", "next fire", "execution"),
        table,
        keys=("schedule", "execution"),
        empty="no schedules configured (add [[schedules]] to trafficlake.toml)",
    )


def _iso_when(iso: str | None) -> str:
    import datetime as dt

    return when(dt.datetime.fromisoformat(iso).timestamp()) if iso else "-"


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.add_typer(workflow_app, name="workflow")
    app.add_typer(schedule_app, name="schedule")

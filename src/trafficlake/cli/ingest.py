"""``trafficlake ingest simulate | replay | live``: the MIV source into the delivery stream."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trafficlake.cli.common import (
    App,
    ConfigOpt,
    JsonOpt,
    console,
    err_console,
    print_json,
    progress,
    settings,
    when,
)

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

group = App(help="Land MIV events in the lake through the delivery stream.", no_args_is_help=True)


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Ctrl-C or SIGTERM sets the event: the run stops after the current document, flushes and
    reports. A second signal stops at once (what was buffered is in the write-ahead log)."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _summary(report: Any, as_json: bool) -> None:
    if as_json:
        print_json(report)
    else:
        say = lambda text: console.print(text, highlight=False, markup=False, soft_wrap=True)  # noqa: E731
        say(
            f"{report.source}: {report.documents} documents, {report.events:,} events delivered, "
            f"{report.errors:,} records quarantined, {report.failed_documents} failed documents, "
            f"{report.files_written} files written"
        )
        if report.config_documents:
            say(
                f"configuration: {report.config_documents} document(s); the locations table "
                f"now holds {report.locations_written:,} measuring points"
            )
        if report.first_event_time is not None:
            say(f"event time {when(report.first_event_time)} .. {when(report.last_event_time)}")
        if report.stale_events:
            say(
                f"{report.stale_events:,} stale events (measured over an hour before their "
                f"document was published, the oldest {when(report.first_stale_time)}: "
                "lanes that stopped reporting, whose last value the feed repeats)"
            )
        elif report.events == 0 and report.documents:
            say("no events: the documents held no measurement")
    if report.failed_documents:
        where = " (quarantined under errors/processing-failed/)" if report.errors else ""
        err_console.print(
            f"error: {report.failed_documents} of "
            f"{report.documents + report.failed_documents} documents failed{where}; "
            "first reasons:",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        for reason in report.failure_reasons:
            err_console.print(f"  {reason}", highlight=False, markup=False, soft_wrap=True)
    if report.interrupted:
        err_console.print(
            f"interrupted: what is listed above landed. To resume: {report.resume}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(130)
    if report.failed_documents and report.source != "live":  # live polls on past fetch errors
        raise typer.Exit(1)


def _run(label: str, total: int | None, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn`` with a progress bar and Ctrl-C/SIGTERM as its stop. A run that reports its start
    (``on_start``: its total, once its worker processes are forked) gets its bar then: the
    bar's refresh is a thread, and workers are only forked from a process without threads."""
    with ExitStack() as stack, _stop_on_signals() as stop:
        bar: list[tuple[Progress, TaskID]] = []

        def on_start(n: int | None) -> None:
            shown = stack.enter_context(progress())
            bar.append((shown, shown.add_task(label, total=n)))

        def advance(n: int) -> None:
            shown, task = bar[0]
            shown.advance(task, n)

        if "on_start" in kwargs:
            kwargs["on_start"] = on_start
        else:
            on_start(total)
        return fn(progress=advance, stop=stop, **kwargs)


WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-j",
        metavar="N",
        min=1,
        help="Worker processes (default: one per core; 1: this process only).",
        show_default=False,
    ),
]


def _cores() -> int:
    import os

    return os.cpu_count() or 1


@group.command()
def simulate(
    minutes: Annotated[int | None, typer.Option(help="Minutes to simulate.")] = None,
    lanes: Annotated[int | None, typer.Option(help="Lanes (measuring points).")] = None,
    start: Annotated[
        str | None, typer.Option(help="First minute, ISO date/datetime (UTC).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    xml: Annotated[
        bool,
        typer.Option("--xml/--arrow", help="Render and parse MIV XML, or put Arrow batches."),
    ] = False,
    simulated_arrival: Annotated[
        bool,
        typer.Option(
            "--simulated-arrival/--real-arrival",
            help="Arrival time follows the simulated publication time (default) or the clock.",
        ),
    ] = True,
    workers: WorkersOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Simulate MIV feed documents and deliver them (defaults: the simulator settings)."""
    from trafficlake import ingest

    s = settings(config)
    total = s.simulator.minutes if minutes is None else minutes
    report = _run(
        "simulating minutes",
        total,
        ingest.simulate,
        settings=s,
        minutes=minutes,
        lanes=lanes,
        start=start,
        seed=seed,
        xml=xml,
        simulated_arrival=simulated_arrival,
        on_start=None,
        workers=workers or _cores(),
    )
    _summary(report, as_json)


@group.command()
def replay(
    files: Annotated[list[str], typer.Argument(help="MIV XML files or globs (.gz ok).")],
    simulated_arrival: Annotated[
        bool,
        typer.Option(
            "--simulated-arrival/--real-arrival",
            help="Arrival time follows each document's publication time, or the clock (default).",
        ),
    ] = False,
    workers: WorkersOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Parse archived MIV documents and deliver their events (configuration documents become
    the locations table). Exits 1 when any document failed."""
    from trafficlake import ingest

    report = _run(
        "replaying documents",
        None,
        ingest.replay,
        settings=settings(config),
        files=files,
        simulated_arrival=simulated_arrival,
        on_start=None,
        workers=workers or _cores(),
    )
    _summary(report, as_json)


@group.command()
def live(
    max_polls: Annotated[
        int | None, typer.Option(help="Stop after this many polls (default: until SIGTERM).")
    ] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Poll the live MIV feed (ingest.feed_url) and deliver every new document."""
    from trafficlake import ingest

    report = _run(
        "polling documents", max_polls, ingest.live, settings=settings(config), max_polls=max_polls
    )
    _summary(report, as_json)


def register(app: typer.Typer) -> None:
    """Add ``ingest`` to the root app."""
    app.add_typer(group, name="ingest")

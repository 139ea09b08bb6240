"""Ingest: the MIV source (simulator, archived XML files, live feed) → the delivery stream.

Each function parses or simulates documents, puts their events on the configured
:class:`~trafficlake.delivery.DeliveryStream` (``put_events``), quarantines rejected
``<meetpunt>`` elements and unreadable documents (``put_errors``), closes the stream (which
delivers its buffer) and returns an :class:`IngestReport`.

Simulated arrival (``simulate``, default on; ``replay``, opt-in): the stream's clock follows the
documents instead of the wall clock, so raw partitions follow the simulated hours. A document
"arrives" when it was published (``tijd_publicatie``, 114 s after the minute for the simulator)
plus a random 0–15 s of polling and network delay.

``replay`` also takes configuration documents (``<mivconfig>``): they become the locations table
(``locations/locations.parquet``), as the live client does with the configuration feed.

Every run honours ``stop`` between documents (the CLI sets it on Ctrl-C and SIGTERM): it
flushes what it has, and its report says where to resume.
"""

from __future__ import annotations

import glob
import gzip
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trafficlake.config import Settings
from trafficlake.delivery import DeliveryStream
from trafficlake.errors import TrafficlakeError
from trafficlake.ingest_workers import InOrder, WorkerLostError
from trafficlake.miv.feed import ParsedFeed, arrival_window, parse_document
from trafficlake.miv.xmlsafe import FeedParseError
from trafficlake.schema import EARLIEST_TIMESTAMP
from trafficlake.storage import Lake

log = logging.getLogger(__name__)

PROCESSING_FAILED = "processing-failed"
"""Error output type of whole documents that could not be parsed."""
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
ARRIVAL_JITTER_S = 15.0
MAX_START_AHEAD_S = 366 * 86_400
"""A simulation may start at most this far ahead: its times set partitions and the clock."""
MAX_LANES = 100_000
"""The largest simulated network (the real feed has about 4,600 lanes)."""
MAX_MINUTES = 366 * 1440
"""The longest simulation in one run (a year of minutes)."""
STALE_AFTER_S = 3600
"""An event measured more than this before its document was published is stale: a lane that
stopped reporting, whose last measurement the feed keeps repeating."""
FIRST_REASONS = 5
"""How many failure reasons a report keeps (the rest are only counted)."""

T = TypeVar("T")
Progress = Callable[[int], None]
"""Called with the number of units (minutes or documents) just completed."""


class IngestError(TrafficlakeError):
    """Base of ingest's own errors (the stream's and the parser's keep their areas' bases)."""


class NoInputFilesError(IngestError):
    """``ingest replay`` was given patterns that match no file."""


class InvalidStartError(IngestError):
    """The simulation start is not an ISO date or datetime."""


@dataclass
class IngestReport:
    """What an ingest run delivered."""

    source: str
    documents: int = 0
    events: int = 0
    errors: int = 0
    """Records quarantined in the error prefix (rejected meetpunten and unreadable documents)."""
    failed_documents: int = 0
    files_written: int = 0
    files: list[str] = field(default_factory=list)
    first_event_time: int | None = None
    last_event_time: int | None = None
    """Measurement times of the fresh events (stale ones are counted apart)."""
    stale_events: int = 0
    """Events measured more than STALE_AFTER_S before publication (delivered all the same)."""
    first_stale_time: int | None = None
    failure_reasons: list[str] = field(default_factory=list)
    """The first reasons documents failed (at most FIRST_REASONS)."""
    config_documents: int = 0
    locations_written: int = 0
    """Measuring points of the last configuration document, written as the locations table."""
    interrupted: bool = False
    resume: str = ""
    """After an interruption: how to carry on (the remaining minutes or files)."""


class _SimClock:
    """A settable clock for the stream (epoch seconds)."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _open_stream(
    settings: Settings, lake: Lake | None, clock: Callable[[], float] | None
) -> DeliveryStream:
    return DeliveryStream.from_settings(settings, lake, clock=clock)


def _finish(stream: DeliveryStream, report: IngestReport) -> IngestReport:
    stream.close()
    report.files_written = stream.files_written
    report.files = list(stream.recent_files)
    return report


def _failed(report: IngestReport, reason: str) -> None:
    report.failed_documents += 1
    report.errors += 1
    if len(report.failure_reasons) < FIRST_REASONS:
        report.failure_reasons.append(reason)


def _land_feed(stream: DeliveryStream, feed: ParsedFeed, report: IngestReport) -> None:
    """Put a parsed document's events into the stream and count them (stale, time range) and
    its quarantined rows in ``report``."""
    events = feed.events
    if events.num_rows:
        stream.put_events(events)
        measured = events.column("tijd_waarneming")
        published = events.column("tijd_publicatie")
        stale = pc.fill_null(
            pc.less(measured, pc.subtract(published, pa.scalar(STALE_AFTER_S, pa.int64()))),
            False,
        )
        n_stale = pc.sum(stale).as_py() or 0
        if n_stale:
            report.stale_events += n_stale
            oldest = pc.min(pc.filter(measured, stale)).as_py()
            report.first_stale_time = min(oldest, report.first_stale_time or oldest)
        lo, hi = pc.min_max(pc.filter(measured, pc.invert(stale))).values()
        if lo.is_valid:
            first, last = lo.as_py(), hi.as_py()
            report.first_event_time = min(first, report.first_event_time or first)
            report.last_event_time = max(last, report.last_event_time or last)
    if feed.errors:
        stream.put_errors([(e.raw, e.reason) for e in feed.errors])
    report.documents += 1
    report.events += events.num_rows
    report.errors += len(feed.errors)


def parse_start(start: str) -> int:
    """An ISO date or datetime (UTC unless it has an offset) → epoch s, floored to the minute.

    Empty: yesterday 00:00 UTC. Before 2000 or more than a year ahead: InvalidStartError.
    """
    if not start:
        today = datetime.now(UTC).date()
        return int(
            datetime.combine(today - timedelta(days=1), datetime.min.time(), UTC).timestamp()
        )
    try:
        if len(start) == 10:
            d = date.fromisoformat(start)
            t = datetime(d.year, d.month, d.day, tzinfo=UTC)
        else:
            t = datetime.fromisoformat(start.replace("Z", "+00:00"))
            t = t if t.tzinfo else t.replace(tzinfo=UTC)
    except ValueError:
        raise InvalidStartError(f"invalid start {start!r}: use an ISO date or datetime") from None
    epoch = int(t.timestamp())
    if not EARLIEST_TIMESTAMP <= epoch <= time.time() + MAX_START_AHEAD_S:
        raise InvalidStartError(
            f"invalid start {start!r}: simulate from 2000-01-01 up to a year from now"
        )
    return epoch - epoch % 60


def simulate(
    settings: Settings,
    *,
    minutes: int | None = None,
    lanes: int | None = None,
    start: str | None = None,
    seed: int | None = None,
    xml: bool = False,
    simulated_arrival: bool = True,
    lake: Lake | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    on_start: Callable[[int], None] | None = None,
    workers: int = 1,
) -> IngestReport:
    """Simulate ``minutes`` feed documents and deliver them through the stream; the simulated
    network's measuring points are written to the lake's locations table first.
    ``on_start`` gets the number of minutes once the workers are started (the caller may
    start threads from then on).

    ``xml=True`` renders each minute as a MIV document and parses it back (exercising the
    parser and its quarantine); otherwise the simulator's Arrow batches go in directly.
    ``workers`` > 1 simulates blocks of minutes in that many processes (each minute depends
    only on the seed, the network and its time) while this one lands them in order.
    """
    from trafficlake.miv.locations import write_locations
    from trafficlake.miv.simulator import Simulator

    sim_settings = settings.simulator
    minutes = sim_settings.minutes if minutes is None else minutes
    lanes = sim_settings.lanes if lanes is None else lanes
    seed = sim_settings.seed if seed is None else seed
    first = parse_start(sim_settings.start if start is None else start)
    if not 1 <= minutes <= MAX_MINUTES or not 1 <= lanes <= MAX_LANES:
        raise TrafficlakeError(
            f"minutes must be 1..{MAX_MINUTES:,} (a year) and lanes 1..{MAX_LANES:,} "
            f"(the real feed has about 4,600); got {minutes:,} minutes, {lanes:,} lanes"
        )
    simulator = Simulator(seed, lanes)
    lake = lake or Lake.from_settings(settings)
    write_locations(lake, simulator.network)  # the measuring points the feed talks about
    rng = np.random.default_rng(seed)
    clock = _SimClock(first + 114) if simulated_arrival else None
    report = IngestReport("simulate")
    in_workers = not xml and workers > 1 and minutes > 2 * workers * SIMULATED_BLOCK
    blocks = (  # started before the stream, whose timer is a thread
        InOrder(_simulate_block, _blocks(seed, lanes, first, minutes), workers)
        if in_workers  # enough minutes to pay for starting the workers
        else None
    )
    try:
        if on_start is not None:
            on_start(minutes)
        stream = _open_stream(settings, lake, clock)
    except BaseException:
        if blocks is not None:
            blocks.close()
        raise
    batches = (
        (batch for block in blocks for batch in block)
        if blocks is not None
        else simulator.minutes(first, minutes)
    )
    try:
        for done, batch in enumerate(batches):
            if stop is not None and stop.is_set():
                rest = datetime.fromtimestamp(first + 60 * done, UTC).strftime("%Y-%m-%dT%H:%MZ")
                report.interrupted = True
                report.resume = (
                    f"trafficlake ingest simulate --start {rest} --minutes {minutes - done} "
                    f"--lanes {lanes} --seed {seed}"
                )
                break
            published = pc.max(batch.column("tijd_publicatie")).as_py()
            if clock is not None and published is not None:
                clock.now = published + float(rng.uniform(0, ARRIVAL_JITTER_S))
            if xml:
                latest = int(published or first) + 86400
                feed = _parse_or_quarantine(stream, simulator.to_xml(batch), report, latest)
            else:
                feed = ParsedFeed(pa.Table.from_batches([batch]))
            if feed is not None:
                _land_feed(stream, feed, report)
            if progress is not None:
                progress(1)
    finally:
        if blocks is not None:
            blocks.close()  # stops the workers when the loop ended early
        _finish(stream, report)
    return report


SIMULATED_BLOCK = 30
"""Minutes one worker simulates per task."""
_SIMULATORS: dict[tuple[int, int], Any] = {}
"""A worker process's simulator per (seed, lanes): its network and day state are reused
(only worker processes fill it)."""


def _simulate_block(seed: int, lanes: int, start: int, count: int) -> list[pa.RecordBatch]:
    from trafficlake.miv.simulator import Simulator

    sim = _SIMULATORS.get((seed, lanes))
    if sim is None:
        sim = _SIMULATORS[(seed, lanes)] = Simulator(seed, lanes)
    return list(sim.minutes(start, count))


def _blocks(seed: int, lanes: int, first: int, minutes: int) -> list[tuple[int, int, int, int]]:
    """The ``_simulate_block`` tasks of a simulation."""
    return [
        (seed, lanes, first + 60 * i, min(SIMULATED_BLOCK, minutes - i))
        for i in range(0, minutes, SIMULATED_BLOCK)
    ]


def _parse_or_quarantine(
    stream: DeliveryStream,
    data: bytes,
    report: IngestReport,
    latest: int | None = None,
    earliest: int | None = None,
    where: str = "",
) -> ParsedFeed | None:
    try:
        return parse_document(data, latest=latest, earliest=earliest)
    except FeedParseError as exc:
        stream.put_error(data, str(exc), PROCESSING_FAILED)
        _failed(report, f"{where}: {exc}" if where else str(exc))
        return None


def expand_files(patterns: Iterable[str]) -> list[Path]:
    """Files named by paths or glob patterns (``**`` recurses), sorted, without duplicates."""
    found: dict[str, Path] = {}
    for pattern in patterns:
        matches = glob.glob(os.path.expanduser(pattern), recursive=True)
        if not matches and os.path.isfile(pattern):
            matches = [pattern]
        for m in matches:
            if os.path.isfile(m):
                found.setdefault(os.path.abspath(m), Path(m))
    if not found:
        raise NoInputFilesError(f"no files match {' '.join(patterns)}")
    return [found[k] for k in sorted(found)]


def read_document(path: Path) -> bytes:
    """A document's bytes; ``.gz`` files are decompressed (at most 512 MiB)."""
    if path.suffix == ".gz":
        return gunzip(path.read_bytes(), MAX_DOCUMENT_BYTES)
    return path.read_bytes()


def gunzip(data: bytes, limit: int) -> bytes:
    """``data`` (one or more gzip members) decompressed, one zlib call per member (a quarter
    faster than reading a GzipFile). More than ``limit`` bytes: FeedParseError; a truncated or
    corrupt file: EOFError or BadGzipFile, as from gzip."""
    parts: list[bytes] = []
    size = 0
    while True:
        member = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer (CRC checked)
        try:
            part = member.decompress(data, limit + 1 - size)
        except zlib.error as exc:
            raise gzip.BadGzipFile(f"not gzip or corrupt: {exc}") from None
        size += len(part)
        if size > limit:
            raise FeedParseError(f"decompresses to more than {limit} bytes")
        parts.append(part)
        if not member.eof:
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        data = member.unused_data.lstrip(b"\0")  # gzip allows zero padding between members
        if not data:
            return parts[0] if len(parts) == 1 else b"".join(parts)


def replay(
    settings: Settings,
    files: list[str],
    *,
    simulated_arrival: bool = False,
    lake: Lake | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    on_start: Callable[[int], None] | None = None,
    workers: int = 1,
) -> IngestReport:
    """Parse archived MIV XML files (paths or globs, ``.gz`` ok) and deliver their events.

    A file that cannot be read or parsed is quarantined whole (error type
    ``processing-failed``) with its reason; the others still go through. A configuration
    document (``<mivconfig>``) is written as the locations table instead.

    ``workers`` > 1 reads and parses (gunzip included) in that many processes while this one
    lands the results in file order behind them: the same files and rows as one process.
    ``on_start`` gets the number of files once the workers are started (the caller may start
    threads from then on).
    """
    paths = expand_files(files)
    rng = np.random.default_rng(0)
    clock = _SimClock(0.0) if simulated_arrival else None
    lake = lake or Lake.from_settings(settings)
    report = IngestReport("replay")
    window = (settings.ingest.max_ahead_s, settings.ingest.max_age_days)
    # workers when there are enough files to pay for starting them; started before the
    # stream, whose timer is a thread
    in_workers = workers if len(paths) > 2 * workers else 1
    parsed = InOrder(_read_and_parse, [(path, window) for path in paths], in_workers)
    try:
        if on_start is not None:
            on_start(len(paths))
        stream = _open_stream(settings, lake, clock)
    except BaseException:
        parsed.close()
        raise
    done = 0
    try:
        for item in parsed:
            if stop is not None and stop.is_set():
                report.interrupted = True
                report.resume = _replay_rest(paths, done)
                break
            if item.failure is not None:
                stream.put_error(item.quarantine, item.quarantine_reason, PROCESSING_FAILED)
                _failed(report, item.failure)
            elif item.config is not None:
                _land_config(lake, item.config, report)
            elif item.feed is not None:
                if clock is not None:
                    published = item.feed.tijd_publicatie or clock.now
                    clock.now = max(clock.now, published + float(rng.uniform(0, ARRIVAL_JITTER_S)))
                _land_feed(stream, item.feed, report)
            if progress is not None:
                progress(1)
            done += 1
    except WorkerLostError as exc:
        raise WorkerLostError(f"{exc}; to resume: {_replay_rest(paths, done)}") from None
    finally:
        parsed.close()  # stops the workers when the loop ended early
        _finish(stream, report)
    return report


def _replay_rest(paths: list[Path], done: int) -> str:
    return (
        f"trafficlake ingest replay with the {len(paths) - done} file(s) not replayed, "
        f"from {paths[done]} on (sorted by path)"
    )


@dataclass
class _Parsed:
    """One replayed file, read and parsed (possibly in a worker process)."""

    path: str
    feed: ParsedFeed | None = None
    config: pa.Table | None = None
    failure: str | None = None
    """Why the file failed, naming it (for the report)."""
    quarantine: bytes = b""
    quarantine_reason: str = ""

    def __getstate__(self) -> dict[str, Any]:
        """From a worker: the events as Arrow IPC, several times cheaper than a pickled table."""
        state = dict(vars(self))
        if self.feed is not None:
            state["feed"] = {**vars(self.feed), "events": _to_ipc(self.feed.events)}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state["feed"] is not None:
            fields = state["feed"]
            state["feed"] = ParsedFeed(**{**fields, "events": _from_ipc(fields["events"])})
        vars(self).update(state)


def _to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def _read_and_parse(path: Path, window: tuple[int, int]) -> _Parsed:
    try:
        data = read_document(path)
    except (OSError, EOFError, FeedParseError) as exc:
        why = f"{path}: {exc}"
        return _Parsed(str(path), failure=why, quarantine=str(path).encode(), quarantine_reason=why)
    try:
        if is_config_document(data):
            from trafficlake.miv.locations import parse_config

            return _Parsed(str(path), config=parse_config(data))
        # the window is around the real arrival (now): an archived document's publication
        # time moves the simulated clock, so it may not lie in the future
        earliest, latest = arrival_window(time.time(), *window)
        return _Parsed(str(path), feed=parse_document(data, latest=latest, earliest=earliest))
    except FeedParseError as exc:  # ConfigParseError included
        return _Parsed(str(path), failure=f"{path}: {exc}", quarantine=data,
                       quarantine_reason=str(exc))  # fmt: skip


def is_config_document(data: bytes) -> bool:
    """Whether ``data`` is a configuration document: its root element is ``<mivconfig>``."""
    head = data[:4096].lstrip()
    while head.startswith((b"<?", b"<!--", b"<!")):  # declaration, comments, doctype
        end = head.find(b">")
        if end < 0:
            return False
        head = head[end + 1 :].lstrip()
    return head.startswith(b"<mivconfig") and head[10:11] in (b">", b" ", b"\n", b"\t", b"\r", b"/")


def _land_config(lake: Lake, table: pa.Table, report: IngestReport) -> None:
    """A configuration document becomes the locations table (the last one replayed wins)."""
    from trafficlake.miv.locations import write_locations

    write_locations(lake, table)
    report.documents += 1
    report.config_documents += 1
    report.locations_written = table.num_rows


def live(
    settings: Settings,
    *,
    max_polls: int | None = None,
    lake: Lake | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> IngestReport:
    """Poll the live MIV feed every ``ingest.poll_interval_s`` and deliver each new document.

    The measuring-point configuration is written to the lake first and whenever a document
    says it changed. Fetch errors are counted and logged; polling goes on. A document that
    arrives but does not parse goes to the ``processing-failed`` error prefix with its reason.
    """
    from trafficlake.miv.client import MivClient
    from trafficlake.miv.locations import write_locations

    lake = lake or Lake.from_settings(settings)
    stop = stop or threading.Event()
    stream = _open_stream(settings, lake, None)
    report = IngestReport("live")
    fetch_errors: list[str] = []

    def on_feed(feed: ParsedFeed) -> None:
        _land_feed(stream, feed, report)
        if progress is not None:
            progress(1)

    def config_changed(table: pa.Table) -> None:
        write_locations(lake, table)

    def failed(exc: Exception) -> None:
        fetch_errors.append(str(exc))
        if len(report.failure_reasons) < FIRST_REASONS:
            report.failure_reasons.append(str(exc))
        log.warning("MIV fetch failed: %s", exc)
        document = getattr(exc, "document", None)
        if document:
            # A document that arrived but could not be parsed is quarantined, not dropped.
            stream.put_error(document, str(exc), PROCESSING_FAILED)
            report.errors += 1
        if on_error is not None:
            on_error(exc)

    try:
        with MivClient.from_settings(settings) as client:
            client.poll(
                settings.ingest.poll_interval_s,
                stop,
                on_feed,
                max_polls,
                on_config=config_changed,
                on_error=failed,
            )
    finally:
        _finish(stream, report)
    report.failed_documents += len(fetch_errors)
    return report

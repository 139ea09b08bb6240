"""The delivery stream: the Kinesis Data Firehose analog that lands raw events in the lake.

Records come in through :meth:`DeliveryStream.put_record_batch` (JSON, shaped like the AWS API),
:meth:`~DeliveryStream.put_events` (typed Arrow rows from the parser or simulator) or
:meth:`~DeliveryStream.put_error` (records the parser quarantined). Each call is appended to the
write-ahead log and fsync'd before it returns (the acknowledgement), then buffered. The buffer is
delivered as one Parquet (or JSON lines) file when it reaches the size hint, when its oldest
record is older than the interval hint, on :meth:`flush` and on :meth:`close`; only then are its
WAL segments deleted. A stream opened on a WAL folder left behind by a killed process first
delivers what that folder holds (duplicates are possible, loss is not).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from trafficlake.config import DeliverySettings, Settings
from trafficlake.delivery.calls import (
    FORMAT_CONVERSION_FAILED,
    ConvertedCall,
    Converter,
    PendingCall,
    convert_call,
    convert_miv,
    error_record,
)
from trafficlake.delivery.errors import DeliveryError
from trafficlake.delivery.output import (
    Output,
    describe_stream,
    write_errors,
    write_object,
    write_raw,
)
from trafficlake.delivery.partitioning import KEY_COLUMN
from trafficlake.delivery.prefix import Prefix
from trafficlake.delivery.records import (
    RecordError,
    convert_objects,
    events_to_raw,
    join_records,
    parse_json_records,
)
from trafficlake.delivery.wal import (
    KIND_ERRORS,
    KIND_JSON,
    KIND_RAW,
    SegmentContents,
    WriteAheadLog,
    encode_errors,
    encode_json_call,
    encode_raw,
)
from trafficlake.schema import RAW_SCHEMA
from trafficlake.storage import Lake

log = logging.getLogger(__name__)

MAX_BATCH_RECORDS = 500
MAX_RECORD_BYTES = 1_000 * 1024
MAX_CALL_BYTES = 4 * 1024 * 1024

COMPRESSIONS = ("zstd", "snappy", "gzip", "uncompressed")

_WAL_WRITERS = 4
"""Threads per stream writing and fsyncing JSON calls while their callers convert them."""
_RECORD_ID_SUFFIXES = [f"{i:04x}" for i in range(MAX_BATCH_RECORDS)]

ErrorsByType = dict[str, list[dict[str, Any]]]
_DEFAULTS = DeliverySettings()


class InvalidArgumentError(DeliveryError):
    """A call breaks an API limit or carries an invalid argument (AWS InvalidArgumentException)."""


class InvalidRecordError(InvalidArgumentError):
    """A single put_record could not be converted; it was quarantined in the error prefix."""


class StreamClosedError(DeliveryError):
    """The stream is closed or shutting down (AWS ServiceUnavailableException)."""


class DeliveryUnavailableError(StreamClosedError):
    """The lake keeps refusing deliveries and the buffer is full (ServiceUnavailableException)."""


def _record_too_big(index: int, size: int) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"record {index} is {size} bytes; the limit is {MAX_RECORD_BYTES} (1,000 KiB)"
    )


class DeliveryStream:
    """A durable, buffering Firehose-style delivery stream writing into a :class:`Lake`."""

    def __init__(
        self,
        lake: Lake,
        name: str = "miv",
        *,
        prefix: str = _DEFAULTS.prefix,
        error_prefix: str = _DEFAULTS.error_prefix,
        buffer_size_mb: float = _DEFAULTS.buffer_size_mb,
        buffer_interval_s: float = _DEFAULTS.buffer_interval_s,
        format: str = _DEFAULTS.format,
        compression: str = _DEFAULTS.compression,
        wal_dir: str | Path | None = None,
        wal_sync: bool = True,
        clock: Callable[[], float] | None = None,
        version: int = 1,
        converter: Converter | None = None,
        output: Output | None = None,
        error_extra: dict[str, Any] | None = None,
        description: Callable[[], dict[str, Any]] | None = None,
        partition_keys: frozenset[str] | None = None,
    ) -> None:
        """A stream; by default the typed MIV stream (``format``/``compression``).

        A generic stream passes ``converter`` (records → its table, failures apart), ``output``
        (how its objects are written), ``error_extra`` (fields added to its error records) and
        ``description`` (its ``ExtendedS3DestinationDescription``).
        """
        if not 1 <= buffer_size_mb <= 128:
            raise InvalidArgumentError("buffer size hint must be 1..128 MB")
        if not 0 <= buffer_interval_s <= 900:
            raise InvalidArgumentError("buffer interval hint must be 0..900 s")
        if format not in ("parquet", "json"):
            raise InvalidArgumentError(f"format must be parquet or json, not {format!r}")
        if compression not in COMPRESSIONS:
            raise InvalidArgumentError(f"compression must be one of {', '.join(COMPRESSIONS)}")
        if format == "json" and compression in ("snappy", "zstd"):
            raise InvalidArgumentError("JSON lines output supports gzip or uncompressed only")
        if not name or "/" in name:
            raise InvalidArgumentError(f"invalid stream name {name!r}")
        self.lake = lake
        self.name = name
        self.version = version
        self.prefix = Prefix.parse(prefix, partition_keys=partition_keys)
        self.error_prefix = Prefix.parse(error_prefix, error_prefix=True)
        self.buffer_size_bytes = int(buffer_size_mb * 1024 * 1024)
        self.buffer_interval_s = float(buffer_interval_s)
        self.format = format
        self.compression = compression
        self.converter = converter or convert_miv
        self.typed = converter is None
        self.output = output
        self.error_extra = error_extra
        self._description = description
        self.clock = clock or time.time
        self._wall_clock = clock is None
        self.created = time.time()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._raw: list[pa.Table | PendingCall] = []
        self._errors: ErrorsByType = {}
        self._buffered_bytes = 0
        self._in_flight_bytes = 0  # taken out of the buffer by a delivery not yet written
        self._oldest_ms: int | None = None
        self._closed = False
        self._last_failure, self._last_failure_at = "", 0.0
        self.records_in = 0
        self.errors_in = 0
        self.files_written = 0
        self.recovered_records = 0
        self.recent_files: deque[str] = deque(maxlen=1000)
        self._wal: WriteAheadLog | None = None
        if wal_dir is not None:
            self._wal = WriteAheadLog(
                wal_dir, sync=wal_sync, owner={"lake": lake.url, "stream": name}
            )
            try:
                self._recover()
            except BaseException:
                self._wal.close()
                raise
        self._wal_writers: ThreadPoolExecutor | None = None
        if self._wal is not None and wal_sync:  # fsync JSON calls while their callers convert
            self._wal_writers = ThreadPoolExecutor(
                _WAL_WRITERS, thread_name_prefix=f"delivery-{name}-wal"
            )
        self._stop = threading.Event()
        self._wake = threading.Event()  # a call filled the buffer: the timer delivers it now
        self._timer: threading.Thread | None = None
        if self.buffer_interval_s > 0:
            self._timer = threading.Thread(
                target=self._timer_loop, name=f"delivery-{name}-timer", daemon=True
            )
            self._timer.start()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        lake: Lake | None = None,
        *,
        clock: Callable[[], float] | None = None,
        name: str | None = None,
    ) -> DeliveryStream:
        d = settings.delivery
        name = name or d.stream_name
        wal_root = settings.resolve_path(d.wal_dir) if d.wal_dir else None
        return cls(
            lake or Lake.from_settings(settings),
            name,
            prefix=d.prefix,
            error_prefix=d.error_prefix,
            buffer_size_mb=d.buffer_size_mb,
            buffer_interval_s=d.buffer_interval_s,
            format=d.format,
            compression=d.compression,
            wal_dir=(wal_root / name) if wal_root else None,
            clock=clock,
        )

    # ---- putting records ------------------------------------------------------------------
    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def put_record(self, data: bytes | str | dict[str, Any]) -> dict[str, Any]:
        """Put one record; raises :class:`InvalidRecordError` (after quarantining) if it is bad."""
        result = self.put_record_batch([data])
        entry = result["RequestResponses"][0]
        if "ErrorCode" in entry:
            raise InvalidRecordError(f"{entry['ErrorCode']}: {entry['ErrorMessage']}")
        return {"RecordId": entry["RecordId"], "Encrypted": False}

    def put_record_batch(self, records: Sequence[bytes | str | dict[str, Any]]) -> dict[str, Any]:
        """Put up to 500 JSON records; per-record results in request order, like AWS.

        A record that cannot be converted fails alone and is written (durably, like the good
        ones) to the error prefix; the typed MIV stream also reports it with its ErrorCode and
        ErrorMessage, a created stream (AWS's behaviour) does not.
        """
        if not records:
            raise InvalidArgumentError("Records must contain at least 1 record")
        if len(records) > MAX_BATCH_RECORDS:
            raise InvalidArgumentError(
                f"Records has {len(records)} records; the limit is {MAX_BATCH_RECORDS}"
            )
        kinds = set(map(type, records))
        if kinds == {bytes}:  # the wire path: no per-record Python loop
            raw: list[bytes] = list(records)  # type: ignore[arg-type]
            lengths = list(map(len, raw))
            if max(lengths) > MAX_RECORD_BYTES:
                i = next(i for i, size in enumerate(lengths) if size > MAX_RECORD_BYTES)
                raise _record_too_big(i, lengths[i])
            total = sum(lengths)
        else:
            raw, total = self._encode_records(records)
        if total > MAX_CALL_BYTES:
            raise InvalidArgumentError(
                f"the records total {total} bytes; the limit is {MAX_CALL_BYTES} (4 MiB) per call"
            )
        arrival = self._now_ms()
        if dict in kinds and self.typed:
            parsed = parse_json_records(raw)
            objects = [
                r if isinstance(r, dict) else p for r, p in zip(records, parsed, strict=True)
            ]
            batch, failures = convert_objects(objects, arrival)
            bad = [error_record(raw[e.index], e.code, e.message, arrival) for e in failures]
            table = pa.Table.from_batches([batch])
            self._accept(table, {FORMAT_CONVERSION_FAILED: bad} if bad else {}, total, arrival)
        else:
            failures = self._put_json(raw, total, arrival)
            if not self.typed:  # AWS accepts the put; failures go to the error prefix only
                failures = []
        call_id = uuid.uuid4().hex
        responses: list[dict[str, str]] = [
            {"RecordId": call_id + suffix} for suffix in _RECORD_ID_SUFFIXES[: len(records)]
        ]
        for e in failures:
            responses[e.index] = {"ErrorCode": e.code, "ErrorMessage": e.message}
        return {"FailedPutCount": len(failures), "Encrypted": False, "RequestResponses": responses}

    def _encode_records(
        self, records: Sequence[bytes | str | dict[str, Any]]
    ) -> tuple[list[bytes], int]:
        """Records of any accepted kind as bytes, checked against the per-record limit."""
        raw: list[bytes] = []
        total = 0
        for i, rec in enumerate(records):
            if isinstance(rec, dict):
                data = json.dumps(rec, separators=(",", ":")).encode()
            elif isinstance(rec, str):
                data = rec.encode()
            elif isinstance(rec, (bytes, bytearray, memoryview)):
                data = bytes(rec)
            else:
                raise InvalidArgumentError(f"record {i}: expected bytes or a dict")
            if len(data) > MAX_RECORD_BYTES:
                raise _record_too_big(i, len(data))
            total += len(data)
            raw.append(data)
        return raw, total

    def put_events(self, table: pa.Table | pa.RecordBatch) -> int:
        """Put typed EVENT_SCHEMA rows (the fast path); the stream sets ``arrival_time``."""
        raw = events_to_raw(table, self._now_ms())
        if raw.num_rows:
            self._accept(raw, {}, raw.nbytes)
        return raw.num_rows

    def put_errors(
        self,
        items: list[tuple[str | bytes, str]],
        error_type: str = FORMAT_CONVERSION_FAILED,
        code: str = "Source.InvalidRecord",
    ) -> int:
        """Quarantine records the source rejected: ``(raw, reason)`` pairs, one fsync."""
        if not items:
            return 0
        arrival = self._now_ms()
        recs = [
            error_record(r.encode() if isinstance(r, str) else bytes(r), code, reason, arrival)
            for r, reason in items
        ]
        self._accept(None, {error_type: recs}, sum(len(r["rawData"]) for r in recs))
        return len(recs)

    def put_error(
        self, raw: str | bytes, reason: str, error_type: str = FORMAT_CONVERSION_FAILED
    ) -> None:
        """Quarantine one record the source rejected, with its reason."""
        self.put_errors([(raw, reason)], error_type)

    def _accept(
        self,
        table: pa.Table | None,
        errors: ErrorsByType,
        size: int,
        arrival_ms: int | None = None,
    ) -> None:
        """WAL-append (fsync) and buffer; the caller's records are acknowledged on return."""
        frames: list[tuple[int, Any]] = []
        if table is not None and table.num_rows:
            frames.append((KIND_RAW, encode_raw(table)))
        for etype, recs in errors.items():
            frames.append((KIND_ERRORS, encode_errors(etype, recs)))
        if arrival_ms is None and table is not None and table.num_rows:
            arrival_ms = table.column("arrival_time")[0].as_py()
        item = table if table is not None and table.num_rows else None
        ticket = self._append(frames, item, errors, size, arrival_ms)
        if self._wal is not None:
            self._wal.sync(ticket)  # group commit: concurrent callers share one fsync
        self._flush_if_due()

    def _put_json(self, raw: list[bytes], size: int, arrival_ms: int) -> list[RecordError]:
        """Convert the call's records while a WAL writer thread logs them as received and
        fsyncs them.

        The calling thread converts at once (no thread has to wake up before the longer of
        the two jobs starts) and finds the fsync done when it is (a wait only when the fsync
        is the slower). Returns once the records are fsync'd and converted (their rows and
        quarantined errors are in the buffer): the acknowledgement, as for every other call.
        A call the WAL or the stream refuses is not acknowledged (its conversion is dropped).
        """
        joined = join_records(raw)
        frames = (
            [(KIND_JSON, encode_json_call(arrival_ms, raw, joined))]
            if self._wal is not None
            else []
        )
        pending = PendingCall()
        result: ConvertedCall | None = None
        if self._wal_writers is None:  # nothing to wait for: convert, then log
            ticket = self._append(frames, pending, {}, size, arrival_ms)
            try:
                result = self._convert(raw, arrival_ms, joined)
                self._sync(ticket)
            finally:
                pending.resolve(result)
        else:
            try:
                logging = self._wal_writers.submit(self._log, frames, pending, size, arrival_ms)
            except RuntimeError:  # shut down by close()
                raise StreamClosedError(f"delivery stream {self.name} is closed") from None
            try:
                try:
                    result = self._convert(raw, arrival_ms, joined)
                finally:
                    logging.result()  # raises what writing or syncing raised: not acknowledged
            finally:
                pending.resolve(result)  # buffered only if the frame was written
        assert result is not None
        with self._lock:
            self.records_in += result.table.num_rows
            self.errors_in += result.error_count
        self._flush_if_due()
        return result.failures

    def _log(
        self, frames: list[tuple[int, Any]], pending: PendingCall, size: int, arrival_ms: int
    ) -> None:
        """Write a JSON call's WAL frame, buffer its pending rows, fsync (a WAL writer's job)."""
        self._sync(self._append(frames, pending, {}, size, arrival_ms))

    def _sync(self, ticket: int) -> None:
        if self._wal is not None:
            self._wal.sync(ticket)

    def _convert(
        self, raw: list[bytes], arrival_ms: int, joined: bytes | None = None
    ) -> ConvertedCall:
        if self.typed:
            return convert_call(raw, arrival_ms, joined)
        schema = self.output_schema
        return convert_call(raw, arrival_ms, joined, self.converter, schema, self.error_extra)

    @property
    def output_schema(self) -> pa.Schema:
        schema = getattr(self.converter, "schema", None)
        return schema if isinstance(schema, pa.Schema) else RAW_SCHEMA

    def _append(
        self,
        frames: list[tuple[int, Any]],
        item: pa.Table | PendingCall | None,
        errors: ErrorsByType,
        size: int,
        arrival_ms: int | None,
    ) -> int:
        """Write the frames to the WAL and buffer the records (one step, under the lock).

        Returns the WAL ticket to sync before acknowledging. Flushes first if the buffer was
        already due, or backed up to twice its size counting a delivery in flight (then the
        caller waits for the lake: back-pressure).
        """
        with self._lock:
            due_before = self._due_locked()
            pending = self._buffered_bytes + self._in_flight_bytes
            backlog = pending >= 2 * self.buffer_size_bytes
        if due_before or backlog:  # e.g. the interval ran out before these records arrived
            try:
                self.flush()
            except Exception as exc:
                if backlog or self._wal is None:
                    raise DeliveryUnavailableError(
                        f"delivery stream {self.name} cannot deliver to the lake: {exc}"
                    ) from exc
                self._flush_failed(exc)
        oldest = self._now_ms()
        if arrival_ms is not None:
            oldest = min(oldest, arrival_ms)
        with self._lock:
            if self._closed:
                raise StreamClosedError(f"delivery stream {self.name} is closed")
            ticket = self._wal.write(frames) if self._wal is not None else 0
            if item is not None:
                self._raw.append(item)
                if isinstance(item, pa.Table):
                    self.records_in += item.num_rows
            for etype, recs in errors.items():
                self._errors.setdefault(etype, []).extend(recs)
                self.errors_in += len(recs)
            self._buffered_bytes += size
            if self._oldest_ms is None or oldest < self._oldest_ms:
                self._oldest_ms = oldest
        return ticket

    def _flush_if_due(self) -> None:
        with self._lock:
            due = self._due_locked()
        if not due:
            return
        if self._delivers_in_background:
            self._wake.set()  # the caller's records are in the WAL: it need not wait for the lake
            return
        try:
            self.flush()
        except Exception as exc:  # acknowledged (in the WAL): a failed delivery is retried later
            if self._wal is None:
                raise
            self._flush_failed(exc)

    @property
    def _delivers_in_background(self) -> bool:
        """A buffer the call filled is delivered by the timer thread: the records are
        acknowledged once in the WAL, so a producer does not wait for a delivery (AWS's
        behaviour) unless the buffer backs up (see ``_append``). On a simulated clock (replay,
        simulate) deliveries stay in the call, so a run's files are the same every time."""
        return self._wal is not None and self._timer is not None and self._wall_clock

    def _flush_failed(self, exc: BaseException) -> None:
        """Report a failed delivery in one line: each new reason, then at most once a minute
        while it lasts (the records stay buffered and in the WAL; the flush is retried)."""
        reason = f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        if reason != self._last_failure or now - self._last_failure_at >= 60:
            self._last_failure, self._last_failure_at = reason, now
            log.error("delivery stream %s: delivery failed, will retry: %s", self.name, reason)

    def _due_locked(self) -> bool:
        if self._oldest_ms is None:
            return False
        if self._buffered_bytes >= self.buffer_size_bytes:
            return True
        return self._now_ms() - self._oldest_ms >= self.buffer_interval_s * 1000

    def _timer_loop(self) -> None:
        tick = min(1.0, max(0.02, self.buffer_interval_s / 10))
        while not self._stop.is_set():
            self._wake.wait(tick)
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._lock:
                due = self._due_locked()
            if due:
                try:
                    self.flush()
                except Exception as exc:  # the records stay buffered and in the WAL
                    self._flush_failed(exc)

    # ---- delivering -----------------------------------------------------------------------
    def flush(self) -> list[str]:
        """Deliver everything buffered now; returns the lake keys written."""
        with self._flush_lock:
            with self._lock:
                raw, errors = self._raw, self._errors
                self._raw, self._errors = [], {}
                size, oldest = self._buffered_bytes, self._oldest_ms
                self._buffered_bytes, self._oldest_ms = 0, None
                self._in_flight_bytes = size
                segments = self._wal.rotate() if self._wal is not None else []
            try:
                keys = self._deliver(raw, errors, oldest)
            except BaseException:
                with self._lock:  # put it back in front; the WAL segments are kept
                    self._in_flight_bytes = 0
                    self._raw = raw + self._raw
                    for etype, recs in errors.items():
                        self._errors[etype] = recs + self._errors.get(etype, [])
                    self._buffered_bytes += size
                    if oldest is not None:
                        self._oldest_ms = min(oldest, self._oldest_ms or oldest)
                raise
            with self._lock:
                self._in_flight_bytes = 0
            if self._wal is not None and segments:
                self._wal.release(segments)
            return keys

    def _deliver(
        self,
        raw: Sequence[pa.Table | PendingCall],
        errors: ErrorsByType,
        oldest_ms: int | None,
    ) -> list[str]:
        """Write the buffered rows (one object) and error records; ``oldest_ms`` is the
        arrival time of the oldest record (the prefix and the object name use it)."""
        keys: list[str] = []
        tables: list[pa.Table] = []
        for item in raw:
            if isinstance(item, PendingCall):  # a call still converting: wait for its rows
                call = item.wait()
                if call is None:
                    continue
                item = call.table
                if call.errors:  # merged into a copy: ``errors`` goes back as is on failure
                    errors = {k: list(v) for k, v in errors.items()}
                    for etype, recs in call.errors.items():
                        errors.setdefault(etype, []).extend(recs)
            if item.num_rows:
                tables.append(item)
        if tables:
            table = pa.concat_tables(tables)
            if "arrival_time" in table.column_names:
                oldest = pc.min(table.column("arrival_time")).as_py()
            else:
                oldest = oldest_ms if oldest_ms is not None else self._now_ms()
            keys.extend(self._write_raw(table, oldest))
        for etype, recs in errors.items():
            if recs:
                keys.append(self._write_errors(etype, recs))
        self.files_written += len(keys)
        self.recent_files.extend(keys)
        return keys

    def _write_raw(self, table: pa.Table, oldest_ms: int) -> list[str]:
        """One object, or one per combination of partition keys (dynamic partitioning)."""
        key_columns = [c for c in table.column_names if c.startswith(KEY_COLUMN)]
        if key_columns:
            written = []
            for combo in table.select(key_columns).group_by(key_columns).aggregate([]).to_pylist():
                mask = pc.equal(table[key_columns[0]], combo[key_columns[0]])
                for c in key_columns[1:]:
                    mask = pc.and_(mask, pc.equal(table[c], combo[c]))
                part = table.filter(mask).drop_columns(key_columns)
                keys = {c.removeprefix(KEY_COLUMN): v for c, v in combo.items()}
                folder = self.prefix.render(oldest_ms, keys=keys)
                assert self.output is not None
                written.append(
                    write_object(
                        self.lake, folder, self.name, self.version, self.output, part, oldest_ms
                    )
                )
            return written
        folder = self.prefix.render(oldest_ms)
        if self.output is not None:
            return [
                write_object(
                    self.lake, folder, self.name, self.version, self.output, table, oldest_ms
                )
            ]
        return [
            write_raw(
                self.lake,
                folder,
                self.name,
                self.version,
                self.format,
                self.compression,
                table,
                oldest_ms,
            )
        ]

    def _write_errors(self, error_type: str, recs: list[dict[str, Any]]) -> str:
        oldest = min(r["arrivalTimestamp"] for r in recs)
        folder = self.error_prefix.render(oldest, error_type)
        return write_errors(self.lake, folder, self.name, self.version, recs, oldest)

    def _recover(self) -> None:
        """Deliver what a previous (killed) instance left in the WAL, segment by segment."""
        assert self._wal is not None
        self.recovered_records += self._wal.recover(self._deliver_segment)

    def _deliver_segment(self, contents: SegmentContents) -> int:
        errors: ErrorsByType = {}
        for etype, recs in contents.errors:
            errors.setdefault(etype, []).extend(recs)
        raw = list(contents.raw)
        for arrival_ms, records in contents.json_calls:  # converted as when they came in
            call = self._convert(records, arrival_ms)
            raw.append(call.table)
            for etype, recs in call.errors.items():
                errors.setdefault(etype, []).extend(recs)
        arrivals = [arrival_ms for arrival_ms, _ in contents.json_calls]
        self._deliver(raw, errors, min(arrivals) if arrivals else None)
        return sum(t.num_rows for t in raw) + sum(len(r) for r in errors.values())

    # ---- lifecycle ------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop accepting records, deliver the buffer and release the WAL folder."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._wake.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join()
        self.flush()
        if self._wal is not None:
            self._wal.close()
        if self._wal_writers is not None:
            self._wal_writers.shutdown(wait=True)

    def __enter__(self) -> DeliveryStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "stream": self.name,
                "records": self.records_in,
                "errors": self.errors_in,
                "files_written": self.files_written,
                "recovered_records": self.recovered_records,
                "buffered_bytes": self._buffered_bytes + self._in_flight_bytes,
            }

    def describe(self) -> dict[str, Any]:
        """A DeliveryStreamDescription shaped like the AWS API's."""
        if self._description is not None:
            return self._description()
        return describe_stream(
            self.name,
            self.version,
            self.lake.url,
            self.prefix.template,
            self.error_prefix.template,
            self.buffer_size_bytes,
            self.buffer_interval_s,
            self.format,
            self.compression,
            self.created,
            active=not self._closed,
        )

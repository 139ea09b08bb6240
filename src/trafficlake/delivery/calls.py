"""One ``put_record_batch`` call's JSON records on their way from the WAL to the buffer.

The stream logs a call's records as received (a WAL ``J`` frame), starts the fsync, and
converts them while the fsync runs. Until the conversion is done the buffer holds a
:class:`PendingCall` in the call's place, so a flush that rotates the WAL segment holding the
frame also delivers the call's rows (it waits for them). :func:`convert_call` is also what
recovery runs on a ``J`` frame: same records, same arrival time, same rows and errors.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from trafficlake.delivery.output import RECORD_COLUMN
from trafficlake.delivery.records import RecordError, convert_json
from trafficlake.schema import RAW_SCHEMA

log = logging.getLogger(__name__)

CONVERSION_FAILED = "DataFormatConversion.ConversionFailed"
FORMAT_CONVERSION_FAILED = "format-conversion-failed"


Converter = Callable[[list[bytes], int, bytes | None], tuple[pa.Table, list[RecordError]]]
"""Converts one call's records (with their arrival time, and the records joined by newlines
when the caller has them) to a table of good rows and the failures by record index."""


def convert_miv(
    raw: list[bytes], arrival_ms: int, joined: bytes | None = None
) -> tuple[pa.Table, list[RecordError]]:
    """The typed MIV stream's conversion: RAW_SCHEMA rows."""
    batch, failures = convert_json(raw, arrival_ms, joined)
    return pa.Table.from_batches([batch], schema=RAW_SCHEMA), failures


class AsReceived:
    """A stream without format conversion: each record kept as received (nothing fails)."""

    schema = pa.schema([pa.field(RECORD_COLUMN, pa.binary())])

    def __call__(
        self, raw: list[bytes], arrival_ms: int, joined: bytes | None = None
    ) -> tuple[pa.Table, list[RecordError]]:
        return pa.Table.from_arrays([pa.array(raw, pa.binary())], schema=self.schema), []


def error_record(
    raw: bytes, code: str, message: str, arrival_ms: int, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Firehose error record: the reason plus the original bytes in base64 (AWS's fields)."""
    rec = {
        "attemptsMade": 1,
        "arrivalTimestamp": arrival_ms,
        "errorCode": code,
        "errorMessage": message,
        "attemptEndingTimestamp": int(time.time() * 1000),
        "rawData": base64.b64encode(raw).decode("ascii"),
    }
    if extra:
        rec.update(extra)
    return rec


@dataclass(frozen=True)
class ConvertedCall:
    """A call's good rows, its error records by error-output-type and the failures by index."""

    table: pa.Table
    errors: dict[str, list[dict[str, Any]]]
    failures: list[RecordError]

    @property
    def error_count(self) -> int:
        return sum(map(len, self.errors.values()))


def convert_call(
    raw: list[bytes],
    arrival_ms: int,
    joined: bytes | None = None,
    converter: Converter = convert_miv,
    schema: pa.Schema = RAW_SCHEMA,
    error_extra: dict[str, Any] | None = None,
) -> ConvertedCall:
    """Convert one call's JSON records; never raises for any input bytes.

    Should the converter itself fail (a bug, not bad input), every record of the call is
    quarantined with the reason instead of being dropped.
    """
    try:
        table, failures = converter(raw, arrival_ms, joined)
    except Exception as exc:
        log.error("converting %d JSON records failed (%s); quarantining them", len(raw), exc)
        table = schema.empty_table()
        reason = f"conversion failed: {type(exc).__name__}: {exc}"
        failures = [RecordError(i, CONVERSION_FAILED, reason) for i in range(len(raw))]
    errors: dict[str, list[dict[str, Any]]] = {}
    processing_extra = getattr(converter, "processing_extra", None)
    for e in failures:
        extra = error_extra if e.output_type == FORMAT_CONVERSION_FAILED else processing_extra
        data = raw[e.index] if e.data is None else e.data
        rec = error_record(data, e.code, e.message, arrival_ms, extra)
        errors.setdefault(e.output_type, []).append(rec)
    return ConvertedCall(table, errors, failures)


class PendingCall:
    """A buffered call whose records are still being converted; :meth:`wait` for them."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._result: ConvertedCall | None = None

    def resolve(self, result: ConvertedCall | None) -> None:
        """Hand over the converted call (None: the call was interrupted, nothing to deliver)."""
        self._result = result
        self._done.set()

    def wait(self) -> ConvertedCall | None:
        self._done.wait()
        return self._result

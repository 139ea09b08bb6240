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
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from trafficlake.delivery.records import RecordError, convert_json
from trafficlake.schema import RAW_SCHEMA

log = logging.getLogger(__name__)

CONVERSION_FAILED = "DataFormatConversion.ConversionFailed"


def error_record(raw: bytes, code: str, message: str, arrival_ms: int) -> dict[str, Any]:
    """A Firehose-style error record: the reason plus the original bytes in base64."""
    return {
        "errorCode": code,
        "errorMessage": message,
        "arrivalTimestamp": arrival_ms,
        "rawData": base64.b64encode(raw).decode("ascii"),
    }


@dataclass(frozen=True)
class ConvertedCall:
    """A call's good rows (RAW_SCHEMA), its error records and the failures by record index."""

    table: pa.Table
    errors: list[dict[str, Any]]
    failures: list[RecordError]


def convert_call(raw: list[bytes], arrival_ms: int, joined: bytes | None = None) -> ConvertedCall:
    """Convert one call's JSON records; never raises for any input bytes.

    Should the converter itself fail (a bug, not bad input), every record of the call is
    quarantined with the reason instead of being dropped.
    """
    try:
        batch, failures = convert_json(raw, arrival_ms, joined)
    except Exception as exc:
        log.exception("converting %d JSON records failed; quarantining them", len(raw))
        batch = pa.RecordBatch.from_pylist([], schema=RAW_SCHEMA)
        reason = f"conversion failed: {type(exc).__name__}: {exc}"
        failures = [RecordError(i, CONVERSION_FAILED, reason) for i in range(len(raw))]
    errors = [error_record(raw[e.index], e.code, e.message, arrival_ms) for e in failures]
    return ConvertedCall(pa.Table.from_batches([batch], schema=RAW_SCHEMA), errors, failures)


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

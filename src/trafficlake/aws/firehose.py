"""Firehose (``Firehose_20150804.``): PutRecord, PutRecordBatch, CreateDeliveryStream,
DescribeDeliveryStream, ListDeliveryStreams, UpdateDestination and DeleteDeliveryStream over the
delivery streams of ``delivery/``.

The streams are the configured (typed MIV) one plus those saved by CreateDeliveryStream
(DirectPut, ``ExtendedS3DestinationConfiguration`` as :mod:`trafficlake.delivery.destination`
takes it); each operation calls one registry or stream method. Closing the service flushes them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from itertools import repeat
from operator import itemgetter
from typing import Any

import pybase64

from trafficlake.aws.service import (
    AwsContext,
    AwsError,
    EncodedReply,
    ErrorMap,
    Operation,
    ServiceAdapter,
    guarded,
)
from trafficlake.delivery.destination import InvalidDestinationError
from trafficlake.delivery.prefix import InvalidPrefixError
from trafficlake.delivery.registry import (
    StreamExistsError,
    StreamLimitError,
    StreamNotFoundError,
    StreamRegistry,
    VersionMismatchError,
)
from trafficlake.delivery.stream import (
    MAX_BATCH_RECORDS,
    DeliveryStream,
    InvalidArgumentError,
    StreamClosedError,
)
from trafficlake.delivery.wal import WalWriteError
from trafficlake.errors import StorageError

ERRORS: ErrorMap = (
    (
        (InvalidArgumentError, InvalidPrefixError, InvalidDestinationError),
        "InvalidArgumentException",
        400,
    ),
    (StreamExistsError, "ResourceInUseException", 400),
    (StreamNotFoundError, "ResourceNotFoundException", 400),
    (StreamLimitError, "LimitExceededException", 400),
    (VersionMismatchError, "ConcurrentModificationException", 400),
    ((StreamClosedError, WalWriteError, StorageError), "ServiceUnavailableException", 503),
)


class FirehoseOperations(Mapping[str, Operation]):
    """The operations over ``streams`` (name → stream); ``close()`` flushes the streams."""

    def __init__(
        self,
        streams: dict[str, DeliveryStream],
        registry: StreamRegistry | None = None,
        account_id: str = "000000000000",
    ) -> None:
        self.streams = streams
        self.registry = registry
        self.account_id = account_id
        self._ops: dict[str, Operation] = {
            "PutRecord": guarded(self.put_record, ERRORS),
            "PutRecordBatch": guarded(self.put_record_batch, ERRORS),
            "CreateDeliveryStream": guarded(self.create_delivery_stream, ERRORS),
            "DescribeDeliveryStream": guarded(self.describe_delivery_stream, ERRORS),
            "ListDeliveryStreams": guarded(self.list_delivery_streams, ERRORS),
        }
        if registry is not None:
            self._ops["UpdateDestination"] = guarded(self.update_destination, ERRORS)
            self._ops["DeleteDeliveryStream"] = guarded(self.delete_delivery_stream, ERRORS)

    def __getitem__(self, name: str) -> Operation:
        return self._ops[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ops)

    def __len__(self) -> int:
        return len(self._ops)

    def close(self) -> None:
        if self.registry is not None:
            self.registry.close()
        else:
            for stream in list(self.streams.values()):
                stream.close()

    # ---- operations ------------------------------------------------------------------------
    def put_record_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(body)
        records = body.get("Records")
        if not isinstance(records, list):
            raise AwsError("InvalidArgumentException", "Records must be a list")
        if len(records) > MAX_BATCH_RECORDS:  # before decoding anything
            raise AwsError(
                "InvalidArgumentException",
                f"Records has {len(records)} records; the limit is {MAX_BATCH_RECORDS}",
            )
        datas = _decode_all(records)
        if datas is None:  # something to report, or to decode the slow way: one by one
            datas = [self._data(r, f"Records[{i}]") for i, r in enumerate(records)]
        return _encoded(stream.put_record_batch(datas))  # type: ignore[arg-type]

    def put_record(self, body: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(body)
        return stream.put_record(self._data(body.get("Record"), "Record"))

    def create_delivery_stream(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.registry is None:
            raise AwsError("InvalidArgumentException", "this server cannot create streams")
        if body.get("DeliveryStreamType", "DirectPut") != "DirectPut":
            raise AwsError("InvalidArgumentException", "only DirectPut streams are supported")
        destination = body.get("ExtendedS3DestinationConfiguration")
        if destination is None:
            destination = body.get("S3DestinationConfiguration")
        if destination is None:
            raise AwsError("InvalidArgumentException", "an S3 destination is required")
        stream = self.registry.create(body.get("DeliveryStreamName"), destination)
        return {"DeliveryStreamARN": stream.describe()["DeliveryStreamARN"]}

    def describe_delivery_stream(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.registry is not None:
            description = self.registry.describe(body.get("DeliveryStreamName"))
            return {"DeliveryStreamDescription": description}
        return {"DeliveryStreamDescription": self._stream(body).describe()}

    def update_destination(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.registry is not None
        update = body.get("ExtendedS3DestinationUpdate")
        if update is None:
            update = body.get("S3DestinationUpdate") or {}
        name, version = body.get("DeliveryStreamName"), body.get("CurrentDeliveryStreamVersionId")
        self.registry.update(name, version, update)
        return {}

    def delete_delivery_stream(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.registry is not None
        self.registry.delete(body.get("DeliveryStreamName"))
        return {}

    def list_delivery_streams(self, body: dict[str, Any]) -> dict[str, Any]:
        names = self.registry.names() if self.registry is not None else sorted(self.streams)
        start = body.get("ExclusiveStartDeliveryStreamName")
        if isinstance(start, str):
            names = [n for n in names if n > start]
        limit = body.get("Limit", 10000)
        limit = limit if isinstance(limit, int) and limit > 0 else 10000
        return {"DeliveryStreamNames": names[:limit], "HasMoreDeliveryStreams": len(names) > limit}

    # ---- request fields --------------------------------------------------------------------
    def _stream(self, body: dict[str, Any]) -> DeliveryStream:
        name = body.get("DeliveryStreamName")
        if not isinstance(name, str):
            raise AwsError("InvalidArgumentException", "DeliveryStreamName is required")
        stream = self.streams.get(name)
        if stream is None:
            raise AwsError(
                "ResourceNotFoundException",
                f"Firehose {name} under account {self.account_id} not found.",
            )
        return stream

    @staticmethod
    def _data(record: Any, where: str) -> bytes:
        if not isinstance(record, dict) or not isinstance(record.get("Data"), str):
            raise AwsError("InvalidArgumentException", f"{where}: Data (base64) is required")
        try:
            return _b64decode(record["Data"])
        except (binascii.Error, ValueError):
            raise AwsError("SerializationException", f"{where}: Data is not base64") from None


def _b64decode(text: str) -> bytes:
    """``base64.b64decode(text, validate=True)``: pybase64's SIMD decoder, which accepts a
    subset of what the standard library's accepts (the same bytes), then the standard one for
    the rest (e.g. padding after a complete quad, which the standard one lets through)."""
    try:
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return base64.b64decode(text, validate=True)


def _decode_all(records: list[Any]) -> list[bytes] | None:
    """Every record's ``Data`` with no per-record Python, or None when a record is no dict
    with ``Data`` text or the fast decoder refuses one (the caller goes record by record)."""
    try:
        texts = list(map(dict.__getitem__, records, repeat("Data")))
    except (TypeError, KeyError):
        return None
    if set(map(type, texts)) != {str}:
        return None
    try:
        return list(map(pybase64.b64decode, texts, repeat(None), repeat(True)))
    except (binascii.Error, ValueError):
        return None


def _encoded(reply: dict[str, Any]) -> dict[str, Any]:
    """A PutRecordBatch reply whose records all succeeded, with its JSON built from a template:
    the RecordIds joined by C-level calls instead of ``json.dumps`` of 500 small objects. Any
    other reply (a failed record, an id that would need escaping) is left to ``json.dumps``."""
    responses = reply["RequestResponses"]
    if reply["FailedPutCount"] or not responses:
        return reply
    try:
        ids = list(map(itemgetter("RecordId"), responses))
    except KeyError:
        return reply
    if not "".join(ids).encode().isalnum():  # ASCII letters and digits only (bytes: fast)
        return reply
    head = '{"FailedPutCount":0,"Encrypted":%s,"RequestResponses":[{"RecordId":"' % (
        "true" if reply["Encrypted"] else "false"
    )
    encoded = head + '"},{"RecordId":"'.join(ids) + '"}]}'
    return EncodedReply(reply, encoded.encode())


def make_operations(context: AwsContext) -> FirehoseOperations:
    """Open the configured stream and the saved ones (delivering what their WALs hold)."""
    registry = StreamRegistry(context.settings, endpoint_url=context.endpoint_url).open()
    return FirehoseOperations(registry.streams, registry, context.account_id)


ADAPTER = ServiceAdapter("Firehose_20150804.", make_operations)

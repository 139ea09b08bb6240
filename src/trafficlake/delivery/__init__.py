"""The Firehose analog: a durable, buffering delivery stream that lands raw events in the lake."""

from trafficlake.delivery.errors import DeliveryError
from trafficlake.delivery.prefix import InvalidPrefixError, Prefix
from trafficlake.delivery.stream import (
    DeliveryStream,
    DeliveryUnavailableError,
    InvalidArgumentError,
    InvalidRecordError,
    StreamClosedError,
)
from trafficlake.delivery.wal import WalLockedError, WalOwnerMismatchError, WalWriteError

__all__ = [
    "DeliveryError",
    "DeliveryStream",
    "DeliveryUnavailableError",
    "InvalidArgumentError",
    "InvalidPrefixError",
    "InvalidRecordError",
    "Prefix",
    "StreamClosedError",
    "WalLockedError",
    "WalOwnerMismatchError",
    "WalWriteError",
]

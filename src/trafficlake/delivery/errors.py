"""The delivery area's error base: every error the delivery stream, its WAL, prefixes,
destinations and registry raise on purpose is a :class:`DeliveryError`."""

from __future__ import annotations

from trafficlake.errors import TrafficlakeError


class DeliveryError(TrafficlakeError):
    """Base of delivery errors."""

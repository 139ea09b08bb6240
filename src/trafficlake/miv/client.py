"""Live HTTP client for the MIV feed and configuration, with retries and conditional GETs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pyarrow as pa

from trafficlake.errors import TrafficlakeError
from trafficlake.miv.feed import FeedParseError, ParsedFeed, arrival_window, parse_document
from trafficlake.miv.locations import parse_config
from trafficlake.miv.xmlsafe import MivError
from trafficlake.schema import FUTURE_SLACK_S

if TYPE_CHECKING:
    from trafficlake.config import Settings

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 60.0


class MivUnavailableError(MivError):
    """The MIV server cannot be reached, or keeps failing, after every retry."""


class MivClient:
    """Fetch MIV documents over HTTP.

    Server errors (5xx), timeouts and connection errors are retried ``retries`` times with
    exponential backoff (``backoff_s``, doubling, at most 60 s); then
    :class:`MivUnavailableError`. Other HTTP errors fail at once. A body that is not a MIV
    document raises :class:`~trafficlake.miv.feed.FeedParseError` without retrying.
    ``transport`` is passed to httpx (e.g. a mounted transport or proxy setup).
    Feed timestamps must fall in :func:`~trafficlake.miv.feed.arrival_window` of the fetch.
    """

    def __init__(
        self,
        feed_url: str,
        config_url: str,
        *,
        timeout_s: float = 30.0,
        retries: int = 5,
        backoff_s: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        max_ahead_s: int = FUTURE_SLACK_S,
        max_age_days: int = 0,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.feed_url = feed_url
        self.config_url = config_url
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_ahead_s = max_ahead_s
        self.max_age_days = max_age_days
        self._http = httpx.Client(
            timeout=timeout_s,
            transport=transport,
            follow_redirects=True,
            headers={"User-Agent": "trafficlake-miv-client", "Accept": "application/xml"},
        )
        self._validators: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> MivClient:
        ingest = settings.ingest
        return cls(
            ingest.feed_url,
            ingest.config_url,
            timeout_s=ingest.timeout_s,
            retries=ingest.retries,
            max_ahead_s=ingest.max_ahead_s,
            max_age_days=ingest.max_age_days,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MivClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- requests -----------------------------------------------------------------------
    def _get(self, url: str, headers: dict[str, str]) -> httpx.Response:
        attempts = self.retries + 1
        reason = ""
        for attempt in range(attempts):
            if attempt:
                delay = min(self.backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
                log.warning(
                    "MIV %s: %s; retry %d/%d in %.1f s", url, reason, attempt, self.retries, delay
                )
                time.sleep(delay)
            try:
                response = self._http.get(url, headers=headers)
            except httpx.TimeoutException:
                reason = f"timed out after {self._http.timeout.read} s"
                continue
            except httpx.TransportError as exc:
                reason = str(exc) or type(exc).__name__
                continue
            if response.status_code >= 500:
                reason = f"HTTP {response.status_code} {response.reason_phrase}"
                continue
            if response.status_code >= 400:
                raise MivUnavailableError(
                    f"{url} answered HTTP {response.status_code} {response.reason_phrase}"
                )
            return response
        raise MivUnavailableError(
            f"cannot reach {url}: {reason} (after {attempts} attempt{'s' * (attempts > 1)})"
        )

    def fetch_feed(self) -> ParsedFeed | None:
        """The current verkeersdata document, or ``None`` when it has not changed (304)."""
        headers = {}
        if "etag" in self._validators:
            headers["If-None-Match"] = self._validators["etag"]
        if "last-modified" in self._validators:
            headers["If-Modified-Since"] = self._validators["last-modified"]
        response = self._get(self.feed_url, headers)
        if response.status_code == 304:
            return None
        try:
            earliest, latest = arrival_window(time.time(), self.max_ahead_s, self.max_age_days)
            feed = parse_document(response.content, earliest=earliest, latest=latest)
        except FeedParseError as exc:
            exc.document = response.content
            raise
        self._validators = {
            k: response.headers[k] for k in ("etag", "last-modified") if k in response.headers
        }
        return feed

    def fetch_config(self) -> pa.Table:
        """The measuring-point configuration (``LOCATIONS_SCHEMA``)."""
        return parse_config(self._get(self.config_url, {}).content)

    # ---- polling ------------------------------------------------------------------------
    def poll(
        self,
        interval_s: float,
        stop: threading.Event,
        on_feed: Callable[[ParsedFeed], None],
        max_polls: int | None = None,
        *,
        on_config: Callable[[pa.Table], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> int:
        """Fetch every ``interval_s`` until ``stop`` is set or ``max_polls`` fetches; return them.

        New documents go to ``on_feed`` (a 304 is skipped). When ``on_config`` is given, the
        configuration is fetched first and again whenever a document's
        ``tijd_laatste_config_wijziging`` changes. Errors of a fetch go to ``on_error`` and
        polling continues; without ``on_error`` they are raised.
        """
        polls = 0
        config_version: int | None = None
        config_known = False
        start = time.monotonic()
        while not stop.is_set():
            try:
                feed = self.fetch_feed()
                if feed is not None:
                    changed = feed.tijd_laatste_config_wijziging
                    if on_config is not None and (not config_known or changed != config_version):
                        on_config(self.fetch_config())
                        config_version, config_known = changed, True
                    on_feed(feed)
            except TrafficlakeError as exc:
                if on_error is None:
                    raise
                on_error(exc)
            polls += 1
            if max_polls is not None and polls >= max_polls:
                break
            next_at = start + polls * interval_s
            stop.wait(max(0.0, next_at - time.monotonic()))
        return polls

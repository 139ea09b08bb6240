"""Planning a transform run: which UTC event days to rebuild and which raw files each needs.

Incremental (the default, like a Glue job bookmark): the bookmark ``{"version": N}`` names the
highest raw-partition version already consumed; ``list_partitions(changed_since=N)`` gives the
raw partitions added or changed since. The event days they touch come from each partition's
recorded min/max of ``tijd_waarneming``; a partition whose rows may touch more than one day
(late data, stale republishes, midnight) is read exactly - one column, distinct days - so a
partition spanning months only rebuilds the days it has rows for. A row at time ``t`` also
feeds the look-back of ``t + 19 min``, so the day of ``t + LOOKBACK_SECONDS`` (1140 s) is rebuilt as well - when
that day has raw data of its own. Rows the feed marks as stale republishes
(``actueel_publicatie = 0``, a minute published before, repeated - for months by some lve
groups) do not trigger a rebuild of their day by themselves (otherwise every run would rebuild
those old days, with read sets growing with the lake); they are used whenever their day is
rebuilt for another reason or explicitly.

Explicit: ``start_day..end_day`` (both INCLUSIVE, like the seed's ``day BETWEEN start_day AND
end_day``) or ``since`` (that day up to yesterday, UTC - the seed's ``{year, month, day}``
start input). Explicit runs leave the bookmark where it is.

Read set of a chunk ``[start, end)``: the raw partitions whose min/max ``tijd_waarneming``
overlaps ``[start - LOOKBACK_SECONDS, end - 1]`` - from the catalog, never a listing of the lake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from trafficlake.catalog import Catalog, NoSuchTableError, Partition
from trafficlake.catalog.names import RAW, TableRef
from trafficlake.transform.engine import TransformError
from trafficlake.transform.sql import LOOKBACK_SECONDS

JOB = "transform"
EVENT_TIME = "tijd_waarneming"
EPOCH = date(1970, 1, 1)


class InvalidRangeError(TransformError):
    pass


def day_start(d: date) -> int:
    return (d - EPOCH).days * 86400


def epoch_day(d: int) -> date:
    return EPOCH + timedelta(days=d)


@dataclass
class Chunk:
    index: int
    days: list[date]
    input_keys: list[str]

    @property
    def start(self) -> int:
        return day_start(self.days[0])

    @property
    def end(self) -> int:
        return day_start(self.days[-1]) + 86400


@dataclass
class TransformPlan:
    mode: str
    """incremental | range"""
    days: list[date] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bookmark: dict[str, Any] | None = None
    """Bookmark state to commit with the output (None: leave it alone)."""

    @property
    def rebuilt_days(self) -> list[date]:
        return [d for c in self.chunks for d in c.days]


DaysOfFiles = Callable[[Sequence[str]], tuple[set[int], set[int]]]
"""Exact epoch days of the rows of raw files (keys), and the days whose look-back they feed."""


def requested_days(
    *,
    start_day: date | None,
    end_day: date | None,
    since: date | None,
    today: date | None = None,
) -> list[date] | None:
    """The explicit days asked for, or None for an incremental run."""
    today = today or datetime.now(UTC).date()
    if since is not None and (start_day is not None or end_day is not None):
        raise InvalidRangeError("give either --since or --from/--to, not both")
    if end_day is not None and start_day is None:
        raise InvalidRangeError("--to needs --from")
    if since is not None or (start_day is not None and end_day is None):
        first = since or start_day
        assert first is not None
        last = today - timedelta(days=1)
    elif start_day is not None and end_day is not None:
        first, last = start_day, end_day
    else:
        return None
    if last < first:
        if since is not None or end_day is None:
            return []
        raise InvalidRangeError(f"--to {last} is before --from {first}")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def changed_days(
    catalog: Catalog, bookmark_version: int, days_of_files: DaysOfFiles, raw: TableRef = RAW
) -> tuple[set[date], int, list[Partition]]:
    """Event days touched by raw partitions changed since ``bookmark_version``; the highest
    version seen (the next bookmark); the changed partitions."""
    changed = catalog.list_partitions(*raw, changed_since=bookmark_version)
    keys = [k.name for k in catalog.get_table(*raw).partition_keys]
    new_version = max([bookmark_version, *(p.version for p in changed)])
    days: set[int] = set()
    spill: set[int] = set()
    exact_keys: list[str] = []
    for p in changed:
        if not p.files:
            continue
        lo_hi = p.stats.get(EVENT_TIME)
        if lo_hi is not None and lo_hi[0] is not None and lo_hi[1] is not None:
            lo, hi = int(lo_hi[0]), int(lo_hi[1])
            arrival = _arrival_hour(p, keys)
            timely = arrival is not None and lo >= arrival - TIMELY_SECONDS
            if timely and lo // 86400 == hi // 86400:
                days.add(lo // 86400)
                if (hi + LOOKBACK_SECONDS) // 86400 != hi // 86400:
                    spill.add(hi // 86400 + 1)
                continue
        exact_keys += [f.key for f in p.files]
    if exact_keys:
        row_days, spill_days = days_of_files(exact_keys)
        days |= row_days
        spill |= spill_days
    # a day reached only through its look-back is rebuilt only if it has data of its own
    for d in sorted(spill - days):
        start = d * 86400
        if catalog.list_partitions(*raw, overlapping=(EVENT_TIME, start, start + 86399)):
            days.add(d)
    return {epoch_day(d) for d in days}, new_version, changed


TIMELY_SECONDS = 2 * 3600
"""Rows at most this much older than their arrival hour are taken from partition stats; a
partition holding older rows (late data, stale republishes) is read exactly."""


def _arrival_hour(p: Partition, keys: Sequence[str]) -> int | None:
    """Start of the arrival hour of a raw partition (Hive keys year/month/day/hour), if known."""
    try:
        v = p.as_dict(keys)
        d = date(int(v["year"]), int(v["month"]), int(v["day"]))
        return day_start(d) + int(v.get("hour", 0)) * 3600
    except (KeyError, ValueError):
        return None


def read_set(catalog: Catalog, start: int, end: int, raw: TableRef = RAW) -> list[str]:
    """Keys of the raw files that may hold rows with event time in [start - 19 min, end)."""
    return sorted({f.key for p in _overlapping(catalog, start, end, raw) for f in p.files})


def _overlapping(catalog: Catalog, start: int, end: int, raw: TableRef) -> list[Partition]:
    return catalog.list_partitions(
        *raw, overlapping=(EVENT_TIME, start - LOOKBACK_SECONDS, end - 1)
    )


def group_days(days: Iterable[date], chunk_days: int) -> list[list[date]]:
    """Consecutive days in groups of at most ``chunk_days``."""
    groups: list[list[date]] = []
    for d in sorted(set(days)):
        if groups and (d - groups[-1][-1]).days == 1 and len(groups[-1]) < chunk_days:
            groups[-1].append(d)
        else:
            groups.append([d])
    return groups


def plan_transform(
    catalog: Catalog,
    days_of_files: DaysOfFiles,
    *,
    chunk_days: int = 1,
    start_day: date | None = None,
    end_day: date | None = None,
    since: date | None = None,
    reset_bookmark: bool = False,
    today: date | None = None,
    raw: TableRef = RAW,
) -> TransformPlan:
    explicit = requested_days(start_day=start_day, end_day=end_day, since=since, today=today)
    try:
        catalog.get_table(*raw)
    except NoSuchTableError:
        plan = TransformPlan(mode="range" if explicit is not None else "incremental")
        plan.notes.append(f"no table {raw} yet: run the raw crawler first")
        return plan
    if explicit is not None:
        plan = TransformPlan(mode="range", days=explicit)
    else:
        state = None if reset_bookmark else catalog.get_bookmark(JOB)
        version = int((state or {}).get("version", 0))
        days, new_version, changed = changed_days(catalog, version, days_of_files, raw)
        plan = TransformPlan(mode="incremental", days=sorted(days))
        plan.bookmark = {"version": new_version}
        plan.notes.append(
            f"{len(changed)} raw partition(s) changed since version {version}: "
            f"{len(days)} event day(s) to rebuild"
        )
    no_stats: set[tuple[str, ...]] = set()
    for group in group_days(plan.days, max(1, chunk_days)):
        start = day_start(group[0])
        end = day_start(group[-1]) + 86400
        parts = _overlapping(catalog, start, end, raw)
        keys = sorted({f.key for p in parts for f in p.files})
        no_stats.update(p.values for p in parts if EVENT_TIME not in p.stats)
        if not keys:
            plan.notes.append(
                f"skipped {group[0]}"
                + (f"..{group[-1]}" if len(group) > 1 else "")
                + ": no raw data in the read set"
            )
            continue
        plan.chunks.append(Chunk(len(plan.chunks), group, keys))
    if no_stats:  # the catalog cannot leave these out: every day's read set has them
        plan.notes.append(
            f"{len(no_stats)} partition(s) of {raw} have no {EVENT_TIME} statistics, so every "
            f"day reads them: keep {EVENT_TIME} in [catalog] stats_columns and recrawl"
        )
    return plan

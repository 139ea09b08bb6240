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

Read set of a chunk ``[start, end)``: the raw partitions whose event times overlap
``[start - LOOKBACK_SECONDS, end - 1]`` - from the catalog, never a listing of the lake. The
crawler records per raw partition the event-time range of its current rows apart from that of
its stale republishes (:data:`~trafficlake.schema.CURRENT_EVENT_TIME`), so months-old
republished rows cannot widen it: a partition is read when its current rows overlap (or when
its rows were not told apart - crawled before, or not Parquet with ``actueel_publicatie`` -
and its whole range overlaps). A stale copy of a minute held only in a later partition is
therefore not read for that minute's day: it repeats a measurement delivered before as
current; only a window that no partition holds current rows of is read from its stale
copies. :func:`read_choices` says per
partition whether and why it is read (``trafficlake transform --explain``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from trafficlake.catalog import Catalog, NoSuchTableError, Partition
from trafficlake.catalog.base import INT_TYPES
from trafficlake.catalog.names import RAW, TableRef, arrival_period
from trafficlake.schema import CURRENT_EVENT_TIME, STALE_EVENT_TIME
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
    first_hour: int = 0
    """The first day is rebuilt from this UTC hour on (0: whole); see ``from_hours``."""

    @property
    def start(self) -> int:
        return day_start(self.days[0]) + self.first_hour * 3600

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
    from_hours: dict[date, int] = field(default_factory=dict)
    """Incremental runs: days rebuilt only from this UTC hour on, because their new rows all
    lie in it or later (the rows of a day's last minutes that arrive after midnight): the
    earlier hours' output cannot change, so it is neither recomputed nor rewritten."""
    explanation: list[dict[str, Any]] = field(default_factory=list)
    """With ``explain``: per group of days, the read set and why each candidate partition is
    read or left out (``trafficlake transform --explain``)."""

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
) -> tuple[set[date], int, list[Partition], dict[date, int]]:
    """Event days touched by raw partitions changed since ``bookmark_version``; the highest
    version seen (the next bookmark); the changed partitions; the days whose changed rows all
    lie at or after an hour > 0 of theirs, with that hour (rebuilt from it on)."""
    changed = catalog.list_partitions(*raw, changed_since=bookmark_version)
    keys = [k.name for k in catalog.get_table(*raw).partition_keys]
    new_version = max([bookmark_version, *(p.version for p in changed)])
    days: set[int] = set()
    spill: set[int] = set()
    earliest: dict[int, int] = {}  # day -> earliest changed event time in it (stats path)
    whole: set[int] = set()  # days whose changed rows are not known to start late
    exact_keys: list[str] = []
    for p in changed:
        if not p.files:
            continue
        current = p.stats.get(CURRENT_EVENT_TIME)
        if current is not None and current[0] is None:
            continue  # only stale republishes: they trigger no rebuild
        lo_hi = current or p.stats.get(EVENT_TIME)
        if lo_hi is not None and lo_hi[0] is not None and lo_hi[1] is not None:
            lo, hi = int(lo_hi[0]), int(lo_hi[1])
            arrival = _arrival_hour(p, keys)
            timely = arrival is not None and lo >= arrival - TIMELY_SECONDS
            if timely and hi // 86400 - lo // 86400 <= 1:  # one day, or across one midnight
                days.add(lo // 86400)
                earliest[lo // 86400] = min(lo, earliest.get(lo // 86400, lo))
                if hi // 86400 != lo // 86400:
                    days.add(hi // 86400)
                    whole.add(hi // 86400)  # its rows start at its midnight
                if (hi + LOOKBACK_SECONDS) // 86400 != hi // 86400:
                    spill.add(hi // 86400 + 1)
                continue
        exact_keys += [f.key for f in p.files]
    if exact_keys:
        row_days, spill_days = days_of_files(exact_keys)
        days |= row_days
        whole |= row_days
        spill |= spill_days
    # a day reached only through its look-back is rebuilt only if it has data of its own
    for d in sorted(spill - days):
        start = d * 86400
        if any(c.read for c in read_choices(catalog, start + LOOKBACK_SECONDS, start + 86400, raw)):
            days.add(d)
            whole.add(d)
    from_hours = {
        epoch_day(d): hour
        for d in days - whole - spill
        if (hour := (earliest[d] - d * 86400) // 3600) > 0
    }
    return {epoch_day(d) for d in days}, new_version, changed, from_hours


TIMELY_SECONDS = 2 * 3600
"""Rows at most this much older than their arrival hour are taken from partition stats; a
partition holding older rows (late data, stale republishes) is read exactly."""


def _arrival_hour(p: Partition, keys: Sequence[str]) -> int | None:
    """Start of the arrival hour of a raw partition (Hive keys year/month/day/hour), if known."""
    period = arrival_period(keys, p.values)
    return period[0] if period else None


@dataclass(frozen=True)
class ReadChoice:
    """Whether a raw partition is in a chunk's read set, and why."""

    partition: Partition
    read: bool
    why: str


def _span(lo_hi: tuple[Any, Any]) -> str:
    lo, hi = (datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M") for t in lo_hi)
    return f"{lo}..{hi}"


def read_choices(catalog: Catalog, start: int, end: int, raw: TableRef = RAW) -> list[ReadChoice]:
    """The raw partitions whose event times overlap ``[start - 19 min, end)`` as recorded (the
    catalog's candidates), each with whether its rows are read and why."""
    lo, hi = start - LOOKBACK_SECONDS, end - 1
    out: list[ReadChoice] = []
    for p in catalog.list_partitions(*raw, overlapping=(EVENT_TIME, lo, hi)):
        if not p.files:
            continue
        full, current = p.stats.get(EVENT_TIME), p.stats.get(CURRENT_EVENT_TIME)
        stale = p.stats.get(STALE_EVENT_TIME) or (None, None)
        stale_text = f"; stale rows {_span(stale)}" if stale[0] is not None else ""
        if full is None or full[0] is None:
            out.append(ReadChoice(p, True, "no event-time statistics: read by every day"))
        elif current is None:
            out.append(
                ReadChoice(p, True, f"rows {_span(full)} (current and stale not told apart)")
            )
        elif current[0] is None:
            out.append(ReadChoice(p, False, f"only stale republished rows{stale_text}"))
        elif _overlaps(current, lo, hi):
            out.append(ReadChoice(p, True, f"current rows {_span(current)}{stale_text}"))
        else:
            out.append(ReadChoice(p, False, f"current rows {_span(current)} outside{stale_text}"))
    if not any(c.read for c in out):  # a window held only in stale copies is read from them
        out = [
            ReadChoice(c.partition, True, f"{c.why} (no current rows hold these days)")
            if _overlaps(c.partition.stats.get(STALE_EVENT_TIME), lo, hi)
            else c
            for c in out
        ]
    return out


def _overlaps(lo_hi: tuple[Any, Any] | None, lo: int, hi: int) -> bool:
    return lo_hi is not None and lo_hi[0] is not None and lo_hi[0] <= hi and lo_hi[1] >= lo


def read_set(catalog: Catalog, start: int, end: int, raw: TableRef = RAW) -> list[str]:
    """Keys of the raw files that may hold rows with event time in [start - 19 min, end)."""
    return _keys(read_choices(catalog, start, end, raw))


def publication_read_set(catalog: Catalog, start: int, end: int, raw: TableRef = RAW) -> list[str]:
    """Keys of the raw files that may hold rows with event time in [start - 19 min, end) or
    published in [start, end): :func:`read_set` plus the partitions that arrived from ``start``
    to an hour after ``end``. Stale republishes (``actueel_publicatie`` 0) repeat older minutes,
    and a partition holding only those (an hour of a feed outage) is left out of the read set,
    yet they were published then (detector health counts them)."""
    keys = set(read_set(catalog, start, end, raw))
    partition_keys = catalog.get_table(*raw).partition_keys
    names = [k.name for k in partition_keys]
    days = range(start // 86400, (end + 3600 - 1) // 86400 + 1)
    if {"year", "month", "day"} <= {k.name for k in partition_keys if k.type in INT_TYPES}:
        wheres: list[dict[str, str | int] | None] = [
            {"year": d.year, "month": d.month, "day": d.day} for d in map(epoch_day, days)
        ]
    else:  # keys that are not year/month/day numbers: every partition is looked at
        wheres = [None]
    for where in wheres:
        for p in catalog.list_partitions(*raw, where=where):
            arrival = _arrival_hour(p, names)
            if arrival is not None and start <= arrival < end + 3600:
                keys.update(f.key for f in p.files)
    return sorted(keys)


def _keys(choices: Iterable[ReadChoice]) -> list[str]:
    return sorted({f.key for c in choices if c.read for f in c.partition.files})


def group_days(
    days: Iterable[date], chunk_days: int, partial: set[date] | None = None
) -> list[list[date]]:
    """Consecutive days in groups of at most ``chunk_days``; a ``partial`` day (rebuilt from
    a later hour) only ever starts a group."""
    groups: list[list[date]] = []
    for d in sorted(set(days)):
        joins = d not in (partial or set())
        if joins and groups and (d - groups[-1][-1]).days == 1 and len(groups[-1]) < chunk_days:
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
    explain: bool = False,
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
        days, new_version, changed, from_hours = changed_days(catalog, version, days_of_files, raw)
        if version == 0:  # a first run (or a reset) rebuilds whole days
            from_hours = {}
        plan = TransformPlan(mode="incremental", days=sorted(days), from_hours=from_hours)
        plan.bookmark = {"version": new_version}
        for day, hour in sorted(from_hours.items()):
            plan.notes.append(
                f"{day} rebuilt from {hour:02d}:00 UTC on: its new rows all lie there or later"
            )
        plan.notes.append(
            f"{len(changed)} raw partition(s) changed since version {version}: "
            f"{len(days)} event day(s) to rebuild"
        )
    no_stats: set[tuple[str, ...]] = set()
    for group in group_days(plan.days, max(1, chunk_days), set(plan.from_hours)):
        first_hour = plan.from_hours.get(group[0], 0)
        start = day_start(group[0]) + first_hour * 3600
        end = day_start(group[-1]) + 86400
        choices = read_choices(catalog, start, end, raw)
        keys = _keys(choices)
        no_stats.update(c.partition.values for c in choices if EVENT_TIME not in c.partition.stats)
        if explain:
            plan.explanation.append(_explain(group, start, end, choices))
        if not keys:
            plan.notes.append(
                f"skipped {group[0]}"
                + (f"..{group[-1]}" if len(group) > 1 else "")
                + ": no raw data in the read set"
            )
            continue
        plan.chunks.append(Chunk(len(plan.chunks), group, keys, first_hour))
    if no_stats:  # the catalog cannot leave these out: every day's read set has them
        plan.notes.append(
            f"{len(no_stats)} partition(s) of {raw} have no {EVENT_TIME} statistics, so every "
            f"day reads them: keep {EVENT_TIME} in [catalog] stats_columns and recrawl"
        )
    return plan


def _explain(group: list[date], start: int, end: int, choices: list[ReadChoice]) -> dict[str, Any]:
    days = group[0].isoformat() + (f"..{group[-1].isoformat()}" if len(group) > 1 else "")
    return {
        "days": days,
        "window": _span((start - LOOKBACK_SECONDS, end - 1)),
        "files": len(_keys(choices)),
        "partitions": [
            {
                "location": c.partition.location,
                "files": len(c.partition.files),
                "read": c.read,
                "why": c.why,
            }
            for c in choices
        ],
    }

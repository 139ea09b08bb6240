"""EventBridge schedule expressions: ``rate(N unit)`` and 6-field ``cron(...)``, next fire time.

Cron fields: minutes hours day-of-month month day-of-week year. Day-of-week 1-7 is SUN-SAT.
Supported: ``*``, ``?``, ``a-b``, lists, ``*/n`` and ``a/n``, names (JAN-DEC, SUN-SAT),
``L`` / ``LW`` / ``nW`` in day-of-month, ``L`` / ``nL`` / ``n#k`` in day-of-week. Exactly one
of day-of-month and day-of-week must be ``?``.

Times are matched on the schedule's local clock (zoneinfo). A local time skipped by a DST
jump fires at the same offset past the jump (02:30 -> 03:30 in Europe/Brussels), a repeated
local time fires once, on its first occurrence.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trafficlake.workflow.errors import ScheduleError

UTC = dt.UTC
MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Rate:
    seconds: int


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    dom: tuple[str | int, ...] | None
    """None when '?'; ints, 'L', 'LW' or 'nW' strings."""
    months: frozenset[int]
    dow: tuple[str | int, ...] | None
    """None when '?'; ints (1=SUN), 'nL' or 'n#k' strings."""
    years: frozenset[int]


def timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown timezone {name!r}") from None


def parse_expression(expr: str) -> Rate | Cron:
    text = expr.strip()
    m = _RATE.match(text)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        if n <= 0:
            raise ScheduleError(f"{expr!r}: the rate must be positive")
        if (n == 1) != (not unit.endswith("s")):
            one = unit.rstrip("s")
            raise ScheduleError(
                f"{expr!r}: write 'rate(1 {one})' (a value of 1 takes the singular unit)"
                if n == 1
                else f"{expr!r}: write 'rate({n} {one}s)' (values above 1 take the plural unit)"
            )
        return Rate(n * _UNIT[unit.rstrip("s")])
    if text.startswith("cron(") and text.endswith(")"):
        return _parse_cron(expr, text[5:-1].split())
    raise ScheduleError(f"{expr!r}: expected rate(N minutes|hours|days) or cron(m h dom mon dow y)")


def _number(token: str, names: dict[str, int], lo: int, hi: int, expr: str) -> int:
    t = token.upper()
    if t in names:
        return names[t]
    if not t.isdigit() or not lo <= int(t) <= hi:
        raise ScheduleError(f"{expr!r}: {token!r} is not in {lo}-{hi}")
    return int(t)


def _field(
    token: str, lo: int, hi: int, expr: str, names: dict[str, int] | None = None
) -> set[int]:
    names = names or {}
    out: set[int] = set()
    for part in token.split(","):
        step = 1
        if "/" in part:
            part, step_s = part.split("/", 1)
            if not step_s.isdigit() or int(step_s) == 0:
                raise ScheduleError(f"{expr!r}: bad step in {token!r}")
            step = int(step_s)
        if part == "*":
            a, b = lo, hi
        elif "-" in part:
            a_s, b_s = part.split("-", 1)
            a, b = _number(a_s, names, lo, hi, expr), _number(b_s, names, lo, hi, expr)
            if a > b:
                raise ScheduleError(f"{expr!r}: range {part!r} runs backwards")
        else:
            a = _number(part, names, lo, hi, expr)
            b = hi if step > 1 else a
        out.update(range(a, b + 1, step))
    return out


def _parse_cron(expr: str, fields: list[str]) -> Cron:
    if len(fields) != 6:
        raise ScheduleError(
            f"{expr!r}: cron needs 6 fields (minutes hours day-of-month month "
            f"day-of-week year), got {len(fields)}"
        )
    mi, hr, dom, mon, dow, yr = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(f"{expr!r}: exactly one of day-of-month and day-of-week must be '?'")
    dom_spec: tuple[str | int, ...] | None = None
    if dom != "?":
        items: list[str | int] = []
        for part in dom.split(","):
            p = part.upper()
            if p in ("L", "LW") or (re.fullmatch(r"\d{1,2}W", p) and 1 <= int(p[:-1]) <= 31):
                items.append(p)
            else:
                items.extend(sorted(_field(part, 1, 31, expr)))
        dom_spec = tuple(items)
    dow_spec: tuple[str | int, ...] | None = None
    if dow != "?":
        ditems: list[str | int] = []
        for part in dow.split(","):
            p = part.upper()
            if p == "L":
                ditems.append(7)
            elif m := re.fullmatch(r"(\w+)L", p):
                ditems.append(f"{_number(m.group(1), DAYS, 1, 7, expr)}L")
            elif m := re.fullmatch(r"(\w+)#([1-5])", p):
                ditems.append(f"{_number(m.group(1), DAYS, 1, 7, expr)}#{m.group(2)}")
            else:
                ditems.extend(sorted(_field(part, 1, 7, expr, DAYS)))
        dow_spec = tuple(ditems)
    return Cron(
        minutes=tuple(sorted(_field(mi, 0, 59, expr))),
        hours=tuple(sorted(_field(hr, 0, 23, expr))),
        dom=dom_spec,
        months=frozenset(_field(mon, 1, 12, expr, MONTHS)),
        dow=dow_spec,
        years=frozenset(_field(yr, 1970, 2199, expr)),
    )


def _nearest_weekday(year: int, month: int, day: int) -> int:
    last = calendar.monthrange(year, month)[1]
    day = min(day, last)
    wd = dt.date(year, month, day).weekday()  # Mon=0
    if wd == 5:
        return day - 1 if day > 1 else day + 2
    if wd == 6:
        return day + 1 if day < last else day - 2
    return day


def _day_matches(c: Cron, d: dt.date) -> bool:
    if d.year not in c.years or d.month not in c.months:
        return False
    last = calendar.monthrange(d.year, d.month)[1]
    if c.dom is not None:
        for item in c.dom:
            if item == d.day:
                return True
            if item == "L" and d.day == last:
                return True
            if item == "LW" and d.day == _nearest_weekday(d.year, d.month, last):
                return True
            if (
                isinstance(item, str)
                and item.endswith("W")
                and item != "LW"
                and d.day == _nearest_weekday(d.year, d.month, int(item[:-1]))
            ):
                return True
        return False
    aws_dow = d.isoweekday() % 7 + 1
    for item in c.dow or ():
        if item == aws_dow:
            return True
        if isinstance(item, str) and item.endswith("L"):
            if int(item[:-1]) == aws_dow and d.day + 7 > last:
                return True
        elif isinstance(item, str) and "#" in item:
            n, k = item.split("#")
            if int(n) == aws_dow and (d.day - 1) // 7 + 1 == int(k):
                return True
    return False


def next_fire(expr: str | Rate | Cron, after: dt.datetime, tz: str = "UTC") -> dt.datetime | None:
    """The first fire time strictly after ``after`` (aware, UTC); None if there is none."""
    spec = parse_expression(expr) if isinstance(expr, str) else expr
    if after.tzinfo is None:
        raise ScheduleError("next_fire needs an aware datetime")
    after = after.astimezone(UTC)
    if isinstance(spec, Rate):
        return after + dt.timedelta(seconds=spec.seconds)
    zone = timezone(tz)
    day = (after.astimezone(zone) - dt.timedelta(days=1)).date()
    limit = dt.date(min(max(spec.years), 9998), 12, 31)
    while day <= limit:
        if day.year not in spec.years:
            later = [y for y in spec.years if y > day.year]
            if not later:
                return None
            day = dt.date(min(later), 1, 1)
            continue
        found = [at for at in _candidates(spec, day, zone) if at > after]
        if found:
            return min(found)
        day += dt.timedelta(days=1)
    return None


def _candidates(spec: Cron, day: dt.date, zone: ZoneInfo) -> list[dt.datetime]:
    if not _day_matches(spec, day):
        return []
    return [
        dt.datetime(day.year, day.month, day.day, h, m, tzinfo=zone).astimezone(UTC)
        for h in spec.hours
        for m in spec.minutes
    ]


def last_fire_at_or_before(
    expr: str, anchor: dt.datetime, now: dt.datetime, tz: str
) -> dt.datetime:
    """The latest fire time in (anchor, now], or ``anchor`` when none falls in it."""
    spec = parse_expression(expr)
    if isinstance(spec, Rate):
        n = int((now - anchor).total_seconds() // spec.seconds)
        return anchor + dt.timedelta(seconds=n * spec.seconds)
    zone = timezone(tz)
    day = (now.astimezone(zone) + dt.timedelta(days=1)).date()
    stop = (anchor.astimezone(zone) - dt.timedelta(days=1)).date()
    while day >= stop:
        found = [at for at in _candidates(spec, day, zone) if anchor < at <= now]
        if found:
            return max(found)
        day -= dt.timedelta(days=1)
    return anchor

"""Cron schedules as Kubernetes reads a CronJob's `spec.schedule` (robfig/cron v3's ParseStandard).

Kubernetes validates and runs schedules with robfig/cron, so kubelite follows that library rather
than a Python cron package, whose rules differ in the places users notice:

- five fields (minute, hour, day of month, month, day of week), or a macro: `@yearly`
  (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`, and `@every <duration>`;
- each field a comma list of `*`, `?`, `N`, `N-M`, with an optional `/step`; `N/step` runs from N
  to the field's maximum; months and weekdays may be named (`jan`, `mon`, case-insensitive);
  weekdays run 0-6 (Sunday is 0; 7 is refused, as robfig refuses it);
- day of month and day of week both restricted: a day matching either runs (classic cron); one of
  them `*`: both must match;
- a `TZ=<zone>` or `CRON_TZ=<zone>` prefix picks the zone (the API refuses it in `spec.schedule`,
  but the controller builds one from `spec.timeZone`).

Error messages are robfig's, since the API server returns them as the field error's detail.

Next-run times follow robfig's `SpecSchedule.Next` step by step, Go's `time.Date` rules
included, because that is what a Kubernetes user sees around daylight-saving changes: the
search walks hour by hour in absolute time, so an hour that a spring-forward change skips is not
run that day (`30 2 * * *` in New York skips 10 March 2024), and an hour that a fall-back change
repeats is run in both its occurrences (`30 1 * * *` runs at 01:30 EDT and 01:30 EST on
3 November 2024).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC
_STAR_BIT = 1 << 63
# How far ahead Next looks before it gives up on a schedule that never fires (`30 0 31 2 *`).
_YEAR_LIMIT = 5


class CronError(ValueError):
    """A schedule robfig/cron refuses; the message is robfig's."""


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int]


_MONTH_NAMES = {
    name: i + 1
    for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_DOW_NAMES = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
MINUTES = _Bounds(0, 59, {})
HOURS = _Bounds(0, 23, {})
DOM = _Bounds(1, 31, {})
MONTHS = _Bounds(1, 12, _MONTH_NAMES)
DOW = _Bounds(0, 6, _DOW_NAMES)

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Go's time.ParseDuration units, in seconds.
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)")


def load_zone(name: str) -> dt.tzinfo:
    """time.LoadLocation: "" and "UTC" are UTC; an unknown name raises CronError with Go's text."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        # kubelite's controllers run in UTC, as kube-controller-manager's image does.
        return UTC
    try:
        if name.startswith("/") or ".." in name.split("/"):
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"unknown time zone {name}") from None


# --- parsing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: a bit set per field (robfig's SpecSchedule), or a constant delay."""

    minute: int = 0
    hour: int = 0
    dom: int = 0
    month: int = 0
    dow: int = 0
    zone: dt.tzinfo = UTC
    # `@every`: seconds between runs (robfig's ConstantDelaySchedule); 0 for field schedules.
    every: float = 0.0

    def next(self, after: dt.datetime) -> dt.datetime | None:
        """The first run strictly after `after` (an aware datetime), in UTC; None if the
        schedule has no run within five years (robfig returns the zero time)."""
        if self.every:
            return _next_every(self.every, after)
        return _next_spec(self, after)


def parse_standard(spec: str) -> Schedule:
    """cron.ParseStandard: a five-field schedule or a macro, optionally zone-prefixed."""
    if not spec:
        raise CronError("empty spec string")
    zone: dt.tzinfo = UTC
    if spec.startswith(("TZ=", "CRON_TZ=")):
        head, _, rest = spec.partition(" ")
        name = head.split("=", 1)[1]
        try:
            zone = load_zone(name)
        except CronError as e:
            raise CronError(f"provided bad location {name}: {e}") from None
        spec = rest.strip()
    if spec.startswith("@"):
        return _parse_descriptor(spec, zone)
    fields = spec.split()
    if len(fields) != 5:
        rendered = "[" + " ".join(fields) + "]"
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {rendered}")
    return Schedule(
        minute=_field(fields[0], MINUTES),
        hour=_field(fields[1], HOURS),
        dom=_field(fields[2], DOM),
        month=_field(fields[3], MONTHS),
        dow=_field(fields[4], DOW),
        zone=zone,
    )


def _parse_descriptor(spec: str, zone: dt.tzinfo) -> Schedule:
    macro = _MACROS.get(spec)
    if macro is not None:
        fields = macro.split()
        return Schedule(
            minute=_field(fields[0], MINUTES),
            hour=_field(fields[1], HOURS),
            dom=_field(fields[2], DOM),
            month=_field(fields[3], MONTHS),
            dow=_field(fields[4], DOW),
            zone=zone,
        )
    if spec.startswith("@every "):
        text = spec[len("@every ") :]
        seconds = parse_go_duration(text)
        if seconds is None:
            raise CronError(f"failed to parse duration {spec}: time: invalid duration {text!r}")
        # robfig rounds a delay below a second up to one second, and drops fractions.
        return Schedule(every=max(1.0, float(int(seconds))), zone=zone)
    raise CronError(f"unrecognized descriptor: {spec}")


def parse_go_duration(text: str) -> float | None:
    """time.ParseDuration's grammar (`1h30m`, `90s`, `1.5h`): seconds, or None if malformed."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        return None
    total, pos = 0.0, 0
    while pos < len(body):
        found = _DURATION_PART.match(body, pos)
        if found is None or found.group(1) in ("", "."):
            return None
        total += float(found.group(1)) * _DURATION_UNITS[found.group(2)]
        pos = found.end()
    return -total if text.startswith("-") else total


def _field(text: str, bounds: _Bounds) -> int:
    bits = 0
    for expr in text.split(","):
        bits |= _range(expr, bounds)
    return bits


def _range(expr: str, bounds: _Bounds) -> int:
    """One comma-separated part of a field: robfig's getRange."""
    extra = 0
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    if low_and_high[0] in ("*", "?"):
        start, end = bounds.low, bounds.high
        extra = _STAR_BIT
    else:
        start = _int_or_name(low_and_high[0], bounds.names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], bounds.names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _must_int(range_and_step[1])
        if single:
            end = bounds.high
        if step > 1:
            extra = 0
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < bounds.low:
        raise CronError(f"beginning of range ({start}) below minimum ({bounds.low}): {expr}")
    if end > bounds.high:
        raise CronError(f"end of range ({end}) above maximum ({bounds.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    bits = 0
    for value in range(start, end + 1, step):
        bits |= 1 << value
    return bits | extra


def _int_or_name(text: str, names: dict[str, int]) -> int:
    if names:
        value = names.get(text.lower())
        if value is not None:
            return value
    return _must_int(text)


def _must_int(text: str) -> int:
    """strconv.Atoi, then robfig's refusal of negative numbers."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise CronError(
            f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
        )
    value = int(text)
    if value < 0:
        raise CronError(f"negative number ({value}) not allowed: {text}")
    return value


# --- Go's time arithmetic -----------------------------------------------------------------------


def _offset_at(instant: dt.datetime, zone: dt.tzinfo) -> dt.timedelta:
    return instant.astimezone(zone).utcoffset() or dt.timedelta(0)


def go_date(
    year: int, month: int, day: int, hour: int, minute: int, second: int, zone: dt.tzinfo
) -> dt.datetime:
    """time.Date: normalizes overflowing fields, and resolves a wall time a zone skips or
    repeats the way Go does (see the module docstring). Returns an instant in UTC."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    base = dt.datetime(year, month, 1, tzinfo=UTC)
    wall = base + dt.timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second)
    offset = _offset_at(wall, zone)
    if offset:
        utc = wall - offset
        real = _offset_at(utc, zone)
        if real != offset:
            offset = real
    return wall - offset


@dataclass(frozen=True)
class _Local:
    """An instant with its wall-clock fields in one zone (a Go time.Time with a Location)."""

    instant: dt.datetime
    zone: dt.tzinfo

    @property
    def wall(self) -> dt.datetime:
        return self.instant.astimezone(self.zone)

    def add(self, **delta: float) -> _Local:
        return _Local(self.instant + dt.timedelta(**delta), self.zone)

    def date(self, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> _Local:
        return _Local(go_date(year, month, day, hour, minute, 0, self.zone), self.zone)


def _next_every(delay: float, after: dt.datetime) -> dt.datetime:
    """ConstantDelaySchedule.Next: `after` plus the delay, rounded down to the second."""
    base = after.astimezone(UTC).replace(microsecond=0)
    return base + dt.timedelta(seconds=delay)


def _day_matches(s: Schedule, wall: dt.datetime) -> bool:
    dom_match = bool((1 << wall.day) & s.dom)
    # Python's weekday: Monday 0; cron's: Sunday 0.
    dow_match = bool((1 << ((wall.weekday() + 1) % 7)) & s.dow)
    if s.dom & _STAR_BIT or s.dow & _STAR_BIT:
        return dom_match and dow_match
    return dom_match or dow_match


def _next_spec(s: Schedule, after: dt.datetime) -> dt.datetime | None:
    """robfig's SpecSchedule.Next, with seconds fixed at 0."""
    t = _Local(after.astimezone(UTC).replace(microsecond=0) + dt.timedelta(seconds=1), s.zone)
    added = False
    year_limit = t.wall.year + _YEAR_LIMIT
    while True:  # WRAP
        w = t.wall
        if w.year > year_limit:
            return None
        wrapped = False
        while not (1 << t.wall.month) & s.month:
            if not added:
                added = True
                w = t.wall
                t = t.date(w.year, w.month, 1)
            w = t.wall
            t = t.date(w.year, w.month + 1, w.day, w.hour, w.minute)
            if t.wall.month == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not _day_matches(s, t.wall):
            if not added:
                added = True
                w = t.wall
                t = t.date(w.year, w.month, w.day)
            w = t.wall
            t = t.date(w.year, w.month, w.day + 1, w.hour, w.minute)
            # A daylight-saving change can leave the day's start off midnight.
            hour = t.wall.hour
            if hour != 0:
                t = t.add(hours=24 - hour) if hour > 12 else t.add(hours=-hour)
            if t.wall.day == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not (1 << t.wall.hour) & s.hour:
            if not added:
                added = True
                w = t.wall
                t = t.date(w.year, w.month, w.day, w.hour)
            t = t.add(hours=1)
            if t.wall.hour == 0:
                wrapped = True
                break
        if wrapped:
            continue
        while not (1 << t.wall.minute) & s.minute:
            if not added:
                added = True
                t = _Local(t.instant.replace(second=0), t.zone)
            t = t.add(minutes=1)
            if t.wall.minute == 0:
                wrapped = True
                break
        if wrapped:
            continue
        # Seconds: the standard parser fixes them at 0, so a time past :00 moves on to the
        # next minute, whose fields are checked again (robfig's seconds loop and WRAP).
        if t.instant.second != 0:
            added = True
            t = _Local(t.instant.replace(second=0) + dt.timedelta(minutes=1), t.zone)
            continue
        return t.instant

"""Deadlines in working time: working periods of working days on the city's clock, holidays and 调休.

Pure: no Dash, no database. Instants in and out are naive UTC datetimes, as stored everywhere; the
calendar converts them to the city's clock (``config.CITY_TIMEZONE``) itself.

Working time accrues only inside a working period ``[start, end)`` of a working date: a date whose
weekday is a working weekday and that is not a day off, or an adjusted working date (调休, a Saturday
or Sunday worked in exchange for a holiday). Periods are local wall-clock times, converted to UTC per
date, so the arithmetic stays right in a zone with daylight saving time too.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config import CITY_TIMEZONE, ConfigError

UNITS = ("minutes", "working_minutes", "working_hours", "working_days")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ENV = "ONEMAP_CALENDAR_FILE"

_Period = tuple[datetime, datetime]
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_MISSING = object()


class CalendarError(ConfigError):
    """The working calendar file cannot be used; the message names the file and the bad entry."""


@dataclass(frozen=True)
class WorkCalendar:
    """When working time runs; see the module docstring. Build one with ``load_calendar`` or directly."""

    # Defaults for Chinese government offices (09:00–12:00, 13:30–17:30); configurable in calendar.toml.
    periods: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13, 30), time(17, 30)))
    weekdays: frozenset[int] = frozenset(range(5))  # date.weekday(): 0 = Monday
    holidays: frozenset[date] = frozenset()
    adjusted_workdays: frozenset[date] = frozenset()
    timezone: str = CITY_TIMEZONE
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    # Caches every caller shares (their values never change): a local date's working periods in naive UTC
    # and their total, and a UTC date's offset to the city's clock (None when the offset changes that day).
    _days: dict[date, tuple[_Period, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _totals: dict[date, timedelta] = field(default_factory=dict, init=False, repr=False, compare=False)
    _offsets: dict[date, timedelta | None] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "_zone", ZoneInfo(self.timezone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"time zone {self.timezone!r} is unknown") from exc
        if not self.periods:
            raise ValueError("no working periods")
        previous_end = time.min
        for start, end in self.periods:
            if not start < end:
                raise ValueError(f"working period {start:%H:%M}-{end:%H:%M} does not end after it starts")
            if start < previous_end:
                raise ValueError(f"working period {start:%H:%M}-{end:%H:%M} overlaps or precedes the one before")
            previous_end = end
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise ValueError(f"working weekdays {sorted(self.weekdays)} must be some of 0 (Monday) to 6")
        both = sorted(self.holidays & self.adjusted_workdays)
        if both:
            raise ValueError(f"{both[0]} is both a day off and an adjusted working day")
        ordinary = sorted(d for d in self.adjusted_workdays if d.weekday() in self.weekdays)
        if ordinary:
            raise ValueError(f"adjusted working day {ordinary[0]} is already a working weekday")

    def is_working_date(self, day: date) -> bool:
        """Whether ``day`` (a date on the city's clock) has working periods."""
        if day in self.adjusted_workdays:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def local_date(self, at_utc: datetime) -> date:
        """The city's calendar date at a naive-UTC instant."""
        utc_day = at_utc.date()
        offset = self._offsets.get(utc_day, _MISSING)
        if offset is _MISSING:
            # A full zone conversion costs ten times the addition: do it twice per UTC date, not per call.
            midnight = datetime.combine(utc_day, time.min, tzinfo=UTC)
            offset = midnight.astimezone(self._zone).utcoffset()
            if (midnight + _DAY).astimezone(self._zone).utcoffset() != offset:
                offset = None
            self._offsets[utc_day] = offset
        if offset is None:
            return at_utc.replace(tzinfo=UTC).astimezone(self._zone).date()
        return (at_utc + offset).date()

    def day_periods(self, day: date) -> tuple[_Period, ...]:
        """The working periods of a local date as naive-UTC ``(start, end)`` pairs; empty on a day off."""
        periods = self._days.get(day)
        if periods is None:
            periods = ()
            if self.is_working_date(day):
                periods = tuple((self._utc(day, start), self._utc(day, end)) for start, end in self.periods)
            self._days[day] = periods
        return periods

    def day_total(self, day: date) -> timedelta:
        """The working time of a local date."""
        total = self._totals.get(day)
        if total is None:
            total = sum((end - start for start, end in self.day_periods(day)), timedelta())
            self._totals[day] = total
        return total

    def _utc(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self._zone).astimezone(UTC).replace(tzinfo=None)


def add(calendar: WorkCalendar, start_utc: datetime, amount: int, unit: str) -> datetime:
    """The naive-UTC due time ``amount`` ``unit`` after ``start_utc`` (naive UTC).

    - ``minutes``: calendar time (emergencies); the calendar is ignored.
    - ``working_minutes`` / ``working_hours``: the earliest instant by which that much working time has
      passed since the start. A start outside working time (night, lunch, weekend, holiday) begins at
      the next working period's start; an amount that runs out exactly at a period's end is due at that
      end (12:00, not 13:30).
    - ``working_days``: the end of the last working period of the Nth working date after the start's
      local date: the start's own day is not counted (期间开始之日不计算在内, as in Chinese
      administrative and procedural law), whatever its time of day. Tuesday 10:00 + 1 working day is
      due Wednesday 17:30; Friday, Saturday or Sunday + 1 is due Monday 17:30 (when those are ordinary).

    An amount of 0 is due at the start itself, in every unit.
    """
    _check_naive(start_utc)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(f"amount {amount!r} must be a whole number, 0 or more")
    if unit == "minutes":
        return start_utc + _MINUTE * amount
    if unit == "working_minutes":
        return _after_working(calendar, start_utc, _MINUTE * amount)
    if unit == "working_hours":
        return _after_working(calendar, start_utc, _HOUR * amount)
    if unit == "working_days":
        return _end_of_working_day(calendar, start_utc, amount)
    raise ValueError(f"unit {unit!r}: use one of {', '.join(UNITS)}")


def working_minutes_between(calendar: WorkCalendar, a_utc: datetime, b_utc: datetime) -> float:
    """Working minutes in ``[a_utc, b_utc)`` (naive UTC); negative when ``b_utc`` is before ``a_utc``."""
    _check_naive(a_utc)
    _check_naive(b_utc)
    if b_utc < a_utc:
        return -working_minutes_between(calendar, b_utc, a_utc)
    first, last = calendar.local_date(a_utc), calendar.local_date(b_utc)
    total = _overlap(calendar, first, a_utc, b_utc)
    if last != first:
        total += _overlap(calendar, last, a_utc, b_utc)
    day = first + _DAY
    while day < last:
        total += calendar.day_total(day)
        day += _DAY
    return total / _MINUTE


def _overlap(calendar: WorkCalendar, day: date, a: datetime, b: datetime) -> timedelta:
    total = timedelta()
    for start, end in calendar.day_periods(day):
        if start < b and a < end:
            total += min(end, b) - max(start, a)
    return total


def is_working_time(calendar: WorkCalendar, at_utc: datetime) -> bool:
    """Whether working time runs at the naive-UTC instant ``at_utc`` (a period's end is outside it)."""
    _check_naive(at_utc)
    return any(start <= at_utc < end for start, end in calendar.day_periods(calendar.local_date(at_utc)))


def _after_working(calendar: WorkCalendar, start: datetime, remaining: timedelta) -> datetime:
    if not remaining:
        return start
    # Periods of earlier local dates all end before the start (a period never crosses midnight).
    day = calendar.local_date(start)
    while True:
        for period_start, period_end in calendar.day_periods(day):
            if period_end <= start:
                continue
            begin = max(period_start, start)
            if remaining <= period_end - begin:
                return begin + remaining
            remaining -= period_end - begin
        day += _DAY


def _end_of_working_day(calendar: WorkCalendar, start: datetime, count: int) -> datetime:
    if not count:
        return start
    day = calendar.local_date(start)
    while count:
        day += _DAY
        if calendar.is_working_date(day):
            count -= 1
    return calendar.day_periods(day)[-1][1]


def _check_naive(at: datetime) -> None:
    if at.tzinfo is not None:
        raise ValueError(f"{at!r}: pass a naive UTC datetime, as stored")


# --- calendar.toml ---------------------------------------------------------------------------------------

_KEYS = {"working_periods", "working_weekdays", "holidays"}
_HOLIDAY_KEYS = {"name", "off", "work"}


def load_calendar(path: str | Path, timezone: str = CITY_TIMEZONE) -> WorkCalendar:
    """Read a calendar file (see calendar.toml); raise ``CalendarError`` naming the file and the entry."""
    where = f"{ENV}={path}"
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise CalendarError(f"{where}: cannot read the calendar file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{where}: not valid TOML ({exc})") from exc
    try:
        return parse_calendar(doc, timezone)
    except ValueError as exc:
        raise CalendarError(f"{where}: {exc}") from exc


def parse_calendar(doc: dict[str, Any], timezone: str = CITY_TIMEZONE) -> WorkCalendar:
    """A ``WorkCalendar`` from a parsed calendar document; ``ValueError`` names the bad entry."""
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (use {', '.join(sorted(_KEYS))})")
    defaults = WorkCalendar(timezone=timezone)
    periods = defaults.periods
    if "working_periods" in doc:
        periods = tuple(_period(i, p) for i, p in enumerate(_list(doc["working_periods"], "working_periods")))
    weekdays = defaults.weekdays
    if "working_weekdays" in doc:
        weekdays = frozenset(_weekday(i, w) for i, w in enumerate(_list(doc["working_weekdays"], "working_weekdays")))
    off: dict[date, str] = {}
    work: dict[date, str] = {}
    for i, item in enumerate(_list(doc.get("holidays", []), "holidays")):
        entry = f"holidays[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{entry} must be a table with name, off and work")
        unknown = sorted(set(item) - _HOLIDAY_KEYS)
        if unknown:
            raise ValueError(f"{entry}: unknown key {unknown[0]!r} (use name, off, work)")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{entry}: give it a name")
        entry = f"holidays[{i}] ({name})"
        for key, seen in (("off", off), ("work", work)):
            for j, value in enumerate(_list(item.get(key, []), f"{entry}.{key}")):
                # tomllib gives a datetime (a date subclass) for 2026-01-01T00:00, which is not a day.
                if type(value) is not date:
                    raise ValueError(f"{entry}.{key}[{j}] = {value!r}: write a TOML date like 2026-01-01, unquoted")
                if value in off or value in work:
                    raise ValueError(f"{entry}.{key}: {value} is already listed in {off.get(value) or work[value]}")
                seen[value] = entry
    return WorkCalendar(periods, weekdays, frozenset(off), frozenset(work), timezone)


def _list(value: Any, entry: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{entry} must be a list")
    return value


def _period(i: int, value: Any) -> tuple[time, time]:
    entry = f"working_periods[{i}] = {value!r}"
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f'{entry}: write a pair of local times like ["09:00", "12:00"]')
    clocks = []
    for clock in value:
        match = _HHMM.fullmatch(clock) if isinstance(clock, str) else None
        if match is None:
            raise ValueError(f"{entry}: {clock!r} is not a time HH:MM between 00:00 and 23:59")
        clocks.append(time(int(match[1]), int(match[2])))
    return clocks[0], clocks[1]


def _weekday(i: int, value: Any) -> int:
    name = value.lower() if isinstance(value, str) else None
    if name not in WEEKDAYS:
        raise ValueError(f"working_weekdays[{i}] = {value!r}: use {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(name)

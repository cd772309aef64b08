"""Working-time deadlines (ops/working_time.py) on the shipped calendar.toml and on made-up calendars."""

import os
import random
import subprocess
import sys
import time as clock
import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import CALENDAR_FILE, CITY_TIMEZONE, Config, ConfigError
from ops.working_time import (
    CalendarError,
    WorkCalendar,
    add,
    is_working_time,
    load_calendar,
    parse_calendar,
    working_minutes_between,
)

ZONE = ZoneInfo(CITY_TIMEZONE)
CAL = load_calendar(CALENDAR_FILE)
MINUTE = timedelta(minutes=1)


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A local (city clock) wall time as the naive UTC the app stores."""
    return datetime(y, m, d, h, mi, tzinfo=ZONE).astimezone(UTC).replace(tzinfo=None)


def local(at_utc: datetime) -> datetime:
    return at_utc.replace(tzinfo=UTC).astimezone(ZONE).replace(tzinfo=None)


def due(start: datetime, amount: int, unit: str = "working_minutes", cal: WorkCalendar = CAL) -> datetime:
    return local(add(cal, start, amount, unit))


# --- working minutes and hours ------------------------------------------------------------------------


def test_across_a_night_and_a_weekend():
    assert due(utc(2026, 3, 12, 17), 60) == datetime(2026, 3, 13, 9, 30)  # Thursday 17:00 -> Friday
    assert due(utc(2026, 3, 13, 17), 60) == datetime(2026, 3, 16, 9, 30)  # Friday 17:00 -> Monday
    assert due(utc(2026, 3, 13, 17), 4, "working_hours") == datetime(2026, 3, 16, 14)  # and past lunch
    assert due(utc(2026, 3, 14, 11), 30) == datetime(2026, 3, 16, 9, 30)  # a Saturday start waits for Monday


def test_across_holidays_listed_in_the_calendar():
    assert due(utc(2026, 4, 30, 17), 60) == datetime(2026, 5, 6, 9, 30)  # 劳动节 May 1-5
    assert due(utc(2026, 9, 30, 17), 60) == datetime(2026, 10, 8, 9, 30)  # 国庆节 Oct 1-7
    assert due(utc(2026, 6, 18, 16), 4, "working_hours") == datetime(2026, 6, 22, 11, 30)  # 端午 Fri Jun 19
    # The same Thursday without the holiday file: Friday is an ordinary working day.
    assert due(utc(2026, 4, 30, 17), 60, cal=WorkCalendar()) == datetime(2026, 5, 1, 9, 30)


def test_adjusted_working_sunday_counts_and_the_holiday_before_it_does_not():
    # 2026-01-03 is a Saturday off (元旦), 2026-01-04 a Sunday worked in exchange (调休).
    assert due(utc(2026, 1, 3, 10), 60) == datetime(2026, 1, 4, 10)
    assert is_working_time(CAL, utc(2026, 1, 4, 10))
    assert not is_working_time(WorkCalendar(), utc(2026, 1, 4, 10))
    assert due(utc(2026, 1, 4, 17), 60) == datetime(2026, 1, 5, 9, 30)
    assert due(utc(2026, 2, 13, 17), 60) == datetime(2026, 2, 14, 9, 30)  # Saturday 2026-02-14 is worked


def test_period_boundaries():
    assert due(utc(2026, 3, 10, 9), 180) == datetime(2026, 3, 10, 12)  # runs out at 12:00, not at 13:30
    assert due(utc(2026, 3, 10, 9), 181) == datetime(2026, 3, 10, 13, 31)
    assert due(utc(2026, 3, 10, 12), 1) == datetime(2026, 3, 10, 13, 31)
    assert due(utc(2026, 3, 10, 17, 30), 1) == datetime(2026, 3, 11, 9, 1)
    assert due(utc(2026, 3, 10, 13, 30), 240) == datetime(2026, 3, 10, 17, 30)
    assert is_working_time(CAL, utc(2026, 3, 10, 9))
    assert is_working_time(CAL, utc(2026, 3, 10, 12) - timedelta(seconds=1))
    assert not is_working_time(CAL, utc(2026, 3, 10, 12))
    assert not is_working_time(CAL, utc(2026, 3, 10, 8, 59))


def test_a_start_inside_lunch_waits_for_the_afternoon():
    assert due(utc(2026, 3, 10, 12, 30), 30) == datetime(2026, 3, 10, 14)
    assert due(utc(2026, 3, 10, 12, 30), 1, "working_hours") == datetime(2026, 3, 10, 14, 30)
    assert not is_working_time(CAL, utc(2026, 3, 10, 12, 30))


def test_calendar_minutes_ignore_the_calendar():
    start = utc(2026, 10, 3, 23, 50)  # a holiday Saturday at night
    assert add(CAL, start, 15, "minutes") == start + timedelta(minutes=15)
    assert add(CAL, start, 30, "minutes") == start + timedelta(minutes=30)


def test_utc_instants_on_the_previous_utc_date_are_read_on_the_city_clock():
    # Monday 2026-03-09 09:00 in the city is Sunday 01:00 UTC: working time although UTC says Sunday.
    monday_nine = datetime(2026, 3, 9, 1, 0)
    assert utc(2026, 3, 9, 9) == monday_nine
    assert is_working_time(CAL, monday_nine)
    assert not is_working_time(CAL, datetime(2026, 3, 8, 0, 59))  # Monday 08:59 local
    # Sunday 20:00 UTC is Monday 04:00 in the city: the first minute counts from Monday 09:00 (01:00 UTC).
    assert add(CAL, datetime(2026, 3, 8, 20), 1, "working_minutes") == datetime(2026, 3, 9, 1, 1)
    # Friday 16:00 UTC is already Saturday 00:00 in the city: nothing counts before Monday.
    assert add(CAL, datetime(2026, 3, 13, 16), 30, "working_minutes") == datetime(2026, 3, 16, 1, 30)
    # Thursday 15:59 UTC is still Thursday in the city, 16:00 UTC is already Friday (the day not counted).
    assert add(CAL, datetime(2026, 3, 12, 15, 59), 1, "working_days") == utc(2026, 3, 13, 17, 30)
    assert add(CAL, datetime(2026, 3, 12, 16), 1, "working_days") == utc(2026, 3, 16, 17, 30)


# --- working days -----------------------------------------------------------------------------------------


def test_working_days_end_with_the_nth_working_day_after_the_start_date():
    assert due(utc(2026, 3, 10, 10), 1, "working_days") == datetime(2026, 3, 11, 17, 30)  # Tue -> Wed
    assert due(utc(2026, 3, 10, 7), 1, "working_days") == datetime(2026, 3, 11, 17, 30)  # before work too
    assert due(utc(2026, 3, 10, 22), 3, "working_days") == datetime(2026, 3, 13, 17, 30)
    assert due(utc(2026, 3, 13, 10), 1, "working_days") == datetime(2026, 3, 16, 17, 30)  # Fri -> Mon
    assert due(utc(2026, 3, 14, 10), 1, "working_days") == datetime(2026, 3, 16, 17, 30)  # Sat -> Mon
    assert due(utc(2026, 2, 13, 10), 1, "working_days") == datetime(2026, 2, 14, 17, 30)  # 调休 Saturday
    assert due(utc(2026, 2, 13, 10), 2, "working_days") == datetime(2026, 2, 24, 17, 30)  # after 春节
    assert due(utc(2026, 3, 10, 10), 0, "working_days") == datetime(2026, 3, 10, 10)


def test_an_afternoon_only_calendar_ends_its_working_day_at_the_last_period():
    cal = parse_calendar({"working_periods": [["14:00", "16:00"]], "working_weekdays": ["sat"]})
    assert due(utc(2026, 3, 10, 10), 1, "working_days", cal) == datetime(2026, 3, 14, 16)
    assert due(utc(2026, 3, 14, 15), 90, cal=cal) == datetime(2026, 3, 21, 14, 30)


# --- between, round trips -------------------------------------------------------------------------------


def test_working_minutes_between():
    assert working_minutes_between(CAL, utc(2026, 3, 13, 17), utc(2026, 3, 16, 9, 30)) == 60
    assert working_minutes_between(CAL, utc(2026, 3, 16, 9, 30), utc(2026, 3, 13, 17)) == -60
    assert working_minutes_between(CAL, utc(2026, 3, 10, 11), utc(2026, 3, 10, 14)) == 90
    assert working_minutes_between(CAL, utc(2026, 3, 10, 12), utc(2026, 3, 10, 13, 30)) == 0
    assert working_minutes_between(CAL, utc(2026, 3, 9), utc(2026, 3, 16)) == 5 * 420  # one ordinary week
    assert working_minutes_between(CAL, utc(2026, 9, 28), utc(2026, 10, 12)) == 6 * 420  # 9/28-30, 10/8-10
    seconds = working_minutes_between(CAL, utc(2026, 3, 10, 9), utc(2026, 3, 10, 9) + timedelta(seconds=90))
    assert seconds == 1.5


def test_round_trips():
    rng = random.Random(7)
    for _ in range(2000):
        start = datetime(2026, 1, 1) + timedelta(minutes=rng.randrange(365 * 1440))
        amount = rng.randrange(0, 5000)
        end = add(CAL, start, amount, "working_minutes")
        assert working_minutes_between(CAL, start, end) == amount
        assert end == start or is_working_time(CAL, end - timedelta(seconds=1))
        later = start + timedelta(minutes=rng.randrange(20000))
        assert add(CAL, start, int(working_minutes_between(CAL, start, later)), "working_minutes") <= later


# --- against a minute-by-minute reference ----------------------------------------------------------------


def _reference_calendar(doc: dict) -> tuple:
    """The same calendar read straight from its document, for a reference that shares no code."""
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    periods = [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in doc["working_periods"]]
    weekdays = {names.index(w) for w in doc["working_weekdays"]}
    off = {d for h in doc.get("holidays", []) for d in h["off"]}
    work = {d for h in doc.get("holidays", []) for d in h.get("work", [])}
    return periods, weekdays, off, work


def _is_working_local(ref: tuple, at_local: datetime) -> bool:
    periods, weekdays, off, work = ref
    day = at_local.date()
    if not (day in work or (day.weekday() in weekdays and day not in off)):
        return False
    return any(a <= at_local.time() < b for a, b in periods)


def _minutes_local(start_utc: datetime):
    """Each minute from ``start_utc`` on the city's clock; Asia/Shanghai keeps one offset in 2025-2027."""
    assert ZONE.utcoffset(datetime(2025, 12, 1)) == ZONE.utcoffset(datetime(2027, 6, 1)) == timedelta(hours=8)
    t = local(start_utc)
    while True:
        yield t
        t += MINUTE


def reference_add(ref: tuple, start: datetime, amount: int) -> datetime:
    if amount == 0:
        return start
    for n, t in enumerate(_minutes_local(start), start=1):
        if _is_working_local(ref, t):
            amount -= 1
            if amount == 0:
                return start + n * MINUTE
    raise AssertionError("unreachable")


def reference_between(ref: tuple, a: datetime, b: datetime) -> int:
    minutes = _minutes_local(a)
    return sum(_is_working_local(ref, next(minutes)) for _ in range(int((b - a) / MINUTE)))


SHIPPED_DOC = tomllib.loads(CALENDAR_FILE.read_text(encoding="utf-8"))
# Periods at the city's midnight and a working Saturday: local dates and UTC dates differ for most of them.
ODD_DOC = {
    "working_periods": [["00:00", "00:30"], ["07:45", "08:10"], ["23:00", "23:59"]],
    "working_weekdays": ["tue", "sat"],
    "holidays": [{"name": "x", "off": [date(2026, 1, 10), date(2026, 1, 13)], "work": [date(2026, 1, 11)]}],
}
CALENDARS = {
    "shipped": (CAL, _reference_calendar(SHIPPED_DOC)),
    "odd": (parse_calendar(ODD_DOC), _reference_calendar(ODD_DOC)),
}

starts = st.integers(0, 400 * 1440).map(lambda m: datetime(2025, 12, 20) + m * MINUTE)


@pytest.mark.parametrize("name", CALENDARS)
@settings(max_examples=150, deadline=None, database=None)
@given(start=starts, amount=st.integers(0, 2500), span=st.integers(0, 6000))
def test_add_and_between_match_a_minute_by_minute_reference(name, start, amount, span):
    cal, ref = CALENDARS[name]
    assert add(cal, start, amount, "working_minutes") == reference_add(ref, start, amount)
    end = start + span * MINUTE
    assert working_minutes_between(cal, start, end) == reference_between(ref, start, end)
    assert is_working_time(cal, start) == _is_working_local(ref, local(start))


# --- speed ------------------------------------------------------------------------------------------------


def test_a_hundred_thousand_deadlines_take_well_under_a_second_or_two():
    rng = random.Random(3)
    starts_ = [datetime(2026, 1, 1) + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(100_000)]
    menu = [(15, "minutes"), (30, "minutes"), (60, "working_minutes"), (1, "working_hours"), (4, "working_hours")]
    menu += [(8, "working_hours"), (1, "working_days"), (3, "working_days"), (5, "working_days"), (15, "working_days")]
    t0 = clock.process_time()  # this process's CPU time: other processes on a loaded machine do not count
    for i, start in enumerate(starts_):
        add(CAL, start, *menu[i % len(menu)])
    elapsed = clock.process_time() - t0
    assert elapsed < 2.0, f"{elapsed:.2f} s"  # about 0.25 s of CPU here


# --- arguments and files --------------------------------------------------------------------------------


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="naive UTC"):
        add(CAL, datetime(2026, 3, 10, tzinfo=UTC), 5, "working_minutes")
    with pytest.raises(ValueError, match="unit 'days'"):
        add(CAL, datetime(2026, 3, 10), 5, "days")
    with pytest.raises(ValueError, match="amount -1"):
        add(CAL, datetime(2026, 3, 10), -1, "minutes")
    with pytest.raises(ValueError, match="amount 1.5"):
        add(CAL, datetime(2026, 3, 10), 1.5, "working_hours")


def test_the_shipped_calendar_holds_the_2026_notice():
    assert CAL.periods == ((time(9), time(12)), (time(13, 30), time(17, 30)))
    assert CAL.weekdays == frozenset(range(5)) and CAL.timezone == "Asia/Shanghai"
    assert len(CAL.holidays) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert sorted(d.weekday() for d in CAL.adjusted_workdays) == [5, 5, 5, 5, 6, 6]
    for holiday in SHIPPED_DOC["holidays"]:  # each break is one run of days
        days = sorted(holiday["off"])
        assert (days[-1] - days[0]).days == len(days) - 1, holiday["name"]


def test_config_reads_the_calendar_file_variable(tmp_path):
    assert Config.from_env({}).calendar_file == str(CALENDAR_FILE)
    assert Config.from_env({"ONEMAP_CALENDAR_FILE": str(tmp_path / "c.toml")}).calendar_file == str(tmp_path / "c.toml")


BAD_FILES = [
    ("working_periods = [[", "not valid TOML"),
    ('working_periods = [["9:00", "12:00"]]', "'9:00' is not a time HH:MM"),
    ('working_periods = [["09:00", "24:00"]]', "'24:00' is not a time"),
    ('working_periods = [["09:00"]]', "working_periods[0]"),
    ('working_periods = [["12:00", "09:00"]]', "12:00-09:00 does not end after it starts"),
    ('working_periods = [["09:00", "12:00"], ["11:00", "17:00"]]', "11:00-17:00 overlaps"),
    ("working_periods = []", "no working periods"),
    ('working_weekdays = ["Mo"]', "working_weekdays[0] = 'Mo'"),
    ("working_weekdays = []", "working weekdays"),
    ('timezone = "UTC"', "unknown key 'timezone'"),
    ('[[holidays]]\nname = "x"\noff = ["2026-01-01"]', "holidays[0] (x).off[0] = '2026-01-01': write a TOML date"),
    ('[[holidays]]\nname = "x"\noff = [2026-01-01T00:00:00]', "holidays[0] (x).off[0]"),
    ('[[holidays]]\nname = "x"\noff = 2026-01-01', "holidays[0] (x).off must be a list"),
    ("[[holidays]]\noff = [2026-01-01]", "holidays[0]: give it a name"),
    ('[[holidays]]\nname = "x"\ndays = [2026-01-01]', "holidays[0]: unknown key 'days'"),
    ('[[holidays]]\nname = "x"\nwork = [2026-01-05]', "adjusted working day 2026-01-05 is already a working weekday"),
    (
        '[[holidays]]\nname = "a"\noff = [2026-01-03]\n[[holidays]]\nname = "b"\nwork = [2026-01-03]',
        "holidays[1] (b).work: 2026-01-03 is already listed in holidays[0] (a)",
    ),
]


@pytest.mark.parametrize("text, problem", BAD_FILES)
def test_a_bad_calendar_file_is_named_with_its_bad_entry(tmp_path, text, problem):
    path = tmp_path / "calendar.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError) as caught:
        load_calendar(path)
    assert f"ONEMAP_CALENDAR_FILE={path}" in str(caught.value)
    assert problem in str(caught.value)
    assert isinstance(caught.value, ConfigError)


def test_a_missing_calendar_file_is_named(tmp_path):
    with pytest.raises(CalendarError, match="cannot read the calendar file"):
        load_calendar(tmp_path / "none.toml")


def test_the_app_does_not_start_with_a_bad_calendar(tmp_path):
    path = tmp_path / "calendar.toml"
    path.write_text('working_weekdays = ["monday"]', encoding="utf-8")
    env = {**os.environ, "ONEMAP_CALENDAR_FILE": str(path), "ONEMAP_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "app.py"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"onemap: ONEMAP_CALENDAR_FILE={path}: working_weekdays[0] = 'monday'" in done.stderr
    assert "Traceback" not in done.stderr

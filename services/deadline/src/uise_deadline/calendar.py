"""The working calendar of Kazakhstan, for deadlines (clause 11 of the Rules).

Clause 11: when the last day of a deadline is a day off, the deadline ends at the end of the next
working day. Which days are off comes from two places:

- the `holidays` package (country KZ): public holidays, their moves off a weekend ("observed"),
  and the transfers the Government decreed for the years the package knows (a weekday made a day
  off in exchange for a Saturday or Sunday made a working day);
- operator entries (`OperatorDay`), each with its decree. A year's transfer decree is published
  late and the package learns of it later still, so an operator enters it; for that day the
  operator's entry wins over the package, both ways (a day made off, a day made working).

Everything else is a plain week: Monday to Friday work, Saturday and Sunday off. Outside the
years the package knows (1991–2100) only weekends and operator entries count.

Times are Asia/Almaty (UTC+5 since 2024-03-01, UTC+6 before). A deadline ends at 23:59:59 on its
day: the *last* 23:59:59 of that day, which matters once, on 2024-02-29, when the clocks went back
from 00:00 to 23:00 and 23:00–23:59:59 happened twice.

This module is pure: no database and no clock; the service passes the entries and the times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from types import MappingProxyType

import holidays

from uise_common.clock import ALMATY

DAY_OFF = "day_off"
WORKING_DAY = "working_day"
KINDS = (DAY_OFF, WORKING_DAY)
PACKAGE = "package"
OPERATOR = "operator"

# The years the package has Kazakhstan's holidays for; outside them it knows none.
FIRST_YEAR: int = holidays.KZ.start_year
LAST_YEAR: int = holidays.KZ.end_year

# A deadline ends at the last 23:59:59 of its day (fold=1: the later one if the clocks went back).
END_OF_DAY = time(23, 59, 59, fold=1)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_DECREE = 200
MAX_NOTE = 500


class CalendarError(ValueError):
    """A refusal with a stable `code` and `why`, a short English explanation.

    CALENDAR_ENTRY_INVALID   an operator entry is malformed (kind, decree, note, day)
    CALENDAR_ENTRY_CONFLICT  two operator entries say different things about one day
    CALENDAR_OUT_OF_RANGE    no working day can be named after the given day (date.max)
    CALENDAR_NAIVE_TIME      a time without a time zone, which could be anywhere
    """

    def __init__(self, code: str, why: str) -> None:
        super().__init__(f"{code}: {why}")
        self.code = code
        self.why = why


def weekday_name(day: date) -> str:
    """`Sat`, independent of the process's locale."""
    return WEEKDAYS[day.weekday()]


def _check_day(day: object, what: str = "day") -> date:
    # datetime is a subclass of date; a datetime here would silently drop its time and zone.
    if not isinstance(day, date) or isinstance(day, datetime):
        raise TypeError(f"{what} must be a datetime.date, not {type(day).__name__}")
    return day


@dataclass(frozen=True)
class OperatorDay:
    """An operator's entry: `day` is made a day off or a working day by `decree`."""

    day: date
    kind: str  # DAY_OFF or WORKING_DAY
    decree: str  # e.g. "Government Decree No. 1234 of 2025-12-20"
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.day, date) or isinstance(self.day, datetime):
            raise CalendarError("CALENDAR_ENTRY_INVALID", f"the day must be a date, not {self.day!r}")
        if self.kind not in KINDS:
            raise CalendarError("CALENDAR_ENTRY_INVALID",
                                f"kind must be {' or '.join(KINDS)}, not {self.kind!r}")
        if not isinstance(self.decree, str) or not self.decree.strip():
            raise CalendarError("CALENDAR_ENTRY_INVALID",
                                f"the entry for {self.day} names no decree; every change of the calendar has one")
        if len(self.decree) > MAX_DECREE:
            raise CalendarError("CALENDAR_ENTRY_INVALID", f"the decree reference is longer than {MAX_DECREE} characters")
        if not isinstance(self.note, str) or len(self.note) > MAX_NOTE:
            raise CalendarError("CALENDAR_ENTRY_INVALID", f"the note must be text of at most {MAX_NOTE} characters")


@dataclass(frozen=True)
class DayOff:
    """A named day off of a year: a holiday, its observed move, or a day off by decree."""

    day: date
    name: str
    source: str  # PACKAGE or OPERATOR
    decree: str = ""  # an operator's decree; the package names none


@dataclass(frozen=True)
class Transfer:
    """A day whose status a decree changed: a weekend (or observed) day made a working day, or a
    working day made a day off."""

    day: date
    kind: str  # DAY_OFF or WORKING_DAY: what the day is now
    source: str  # PACKAGE or OPERATOR
    decree: str = ""
    note: str = ""  # for the package: the day it was exchanged with


@dataclass(frozen=True)
class _PackageYear:
    """What the package says about one year's days, computed once."""

    days_off: Mapping[date, str]  # holidays, observed moves and decreed days off, with names
    weekend_working: frozenset[date]  # Saturdays and Sundays a decree made working days
    moves: tuple[tuple[date, date], ...]  # (decreed day off, the day it was taken from)


_EMPTY_YEAR = _PackageYear(MappingProxyType({}), frozenset(), ())


def _substituted_from(name: str, label: str | None, date_format: str | None) -> date | None:
    """The day a decreed day off was taken from, read back from the package's own label (e.g.
    `Day off (substituted from 01/05/2025)`), or None for any other holiday."""
    if not label or not date_format or "%s" not in label:
        return None
    prefix, suffix = label.split("%s", 1)
    m = re.fullmatch(re.escape(prefix) + r"(.+?)" + re.escape(suffix), name)
    if m is None:
        return None
    try:
        return datetime.strptime(m[1], date_format).date()
    except ValueError:
        return None


@cache
def _package_year(year: int) -> _PackageYear:
    # Building a year takes the package 1-3 ms (measured), against ~5 us for a deadline from the
    # cache; a deadline check asks about a handful of days, the property tests about thousands.
    # The package's data never changes in a process, so one cache serves every calendar.
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return _EMPTY_YEAR
    kz = holidays.country_holidays("KZ", years=year, language="en_US", expand=False)
    label = getattr(kz, "substituted_label", None)
    date_format = getattr(kz, "substituted_date_format", None)
    label = kz.tr(label) if label else None
    date_format = kz.tr(date_format) if date_format else None
    days_off: dict[date, str] = {}
    moves: list[tuple[date, date]] = []
    for day, name in sorted(kz.items()):
        if day.year != year:
            continue
        source = _substituted_from(name, label, date_format)
        if source is None:
            days_off[day] = name
        else:
            # The package's en_US label writes the day the American way (01/05/2025), which
            # reads as 1 May in Kazakhstan; say it unambiguously.
            days_off[day] = f"Day off (transferred from {weekday_name(source)} {source.isoformat()})"
            moves.append((day, source))
    # weekend_workdays also holds other years' cross-year transfers (2013-12-28 for 2014-01-03).
    weekend_working = frozenset(d for d in kz.weekend_workdays if d.year == year)
    return _PackageYear(MappingProxyType(days_off), weekend_working, tuple(moves))


def _package_is_working(day: date) -> bool:
    facts = _package_year(day.year)
    if day.weekday() >= 5:  # the package's own rule: a weekend day works only by decree
        return day in facts.weekend_working
    return day not in facts.days_off


def _utc(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CalendarError("CALENDAR_NAIVE_TIME", f"{what} {moment.isoformat()} has no time zone")
    # Comparing two datetimes of one tzinfo compares wall clocks and ignores fold; in UTC, never.
    return moment.astimezone(UTC)


class WorkingCalendar:
    """Kazakhstan's working days: the `holidays` package, overridden day by day by operator
    entries."""

    def __init__(self, entries: Iterable[OperatorDay] = ()) -> None:
        by_day: dict[date, OperatorDay] = {}
        for entry in entries:
            if not isinstance(entry, OperatorDay):
                raise TypeError(f"an entry must be an OperatorDay, not {type(entry).__name__}")
            known = by_day.get(entry.day)
            if known is not None and known.kind != entry.kind:
                raise CalendarError(
                    "CALENDAR_ENTRY_CONFLICT",
                    f"{entry.day} is made a {known.kind.replace('_', ' ')} by {known.decree!r} and a "
                    f"{entry.kind.replace('_', ' ')} by {entry.decree!r}; remove one")
            by_day.setdefault(entry.day, entry)  # the same kind twice: the first decree is shown
        self._entries = by_day

    @property
    def entries(self) -> tuple[OperatorDay, ...]:
        return tuple(self._entries[d] for d in sorted(self._entries))

    # --- days ---------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        _check_day(day)
        entry = self._entries.get(day)
        if entry is not None:
            return entry.kind == WORKING_DAY
        return _package_is_working(day)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        _check_day(day)
        # Terminates: operator entries are finitely many, and the package never makes a whole
        # week off, so some Monday to Friday comes.
        while True:
            if day == date.max:
                raise CalendarError("CALENDAR_OUT_OF_RANGE", f"there is no day after {date.max}")
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day

    def deadline_day(self, rule_date: date) -> date:
        """Clause 11: the rule's date if it is a working day, else the next working day."""
        return rule_date if self.is_working_day(rule_date) else self.next_working_day(rule_date)

    def effective_deadline(self, rule_date: date) -> datetime:
        """The end (23:59:59 Asia/Almaty) of `deadline_day(rule_date)`."""
        return datetime.combine(self.deadline_day(rule_date), END_OF_DAY, ALMATY)

    # --- lateness -----------------------------------------------------------------------------
    #
    # "n days late" means: the deadline would have had to end n days later for the delivery to
    # be on time. Precisely, with the deadline's Almaty wall-clock time T (23:59:59) on day D:
    #   calendar days late = the least n >= 0 with delivered_at <= T on the n-th day after D;
    #   working days late  = the least n >= 0 with delivered_at <= T on the n-th working day
    #                        after D (the 0-th being D itself).
    # So on time (delivered_at <= deadline_at) is 0; 00:00:00 the next day is 1 calendar day
    # late; any delivery after deadline_at is at least 1 day late (even 23:59:59.5 on D); and a
    # delivery on a day off counts as the next working day: after a Friday deadline, Saturday,
    # Sunday and Monday are each 1 working day late, Tuesday 2. For a delivery on a working day
    # that is the number of working days from D exclusive to the delivery's day inclusive.

    def calendar_days_late(self, deadline_at: datetime, delivered_at: datetime) -> int:
        deadline, delivered = _utc(deadline_at, "deadline_at"), _utc(delivered_at, "delivered_at")
        if delivered <= deadline:
            return 0
        start = deadline_at.astimezone(ALMATY)
        day = delivered_at.astimezone(ALMATY).date()
        late = (day - start.date()).days
        if _utc(_at_wall_time(day, start), "deadline") < delivered:
            late += 1
        return max(late, 1)

    def working_days_late(self, deadline_at: datetime, delivered_at: datetime) -> int:
        deadline, delivered = _utc(deadline_at, "deadline_at"), _utc(delivered_at, "delivered_at")
        if delivered <= deadline:
            return 0
        start = deadline_at.astimezone(ALMATY)
        day = delivered_at.astimezone(ALMATY).date()
        late = 0
        d = start.date()
        while d < day:
            d += timedelta(days=1)
            if self.is_working_day(d):
                late += 1
        if (day > start.date() and self.is_working_day(day)
                and delivered <= _utc(_at_wall_time(day, start), "deadline")):
            return late
        return late + 1  # the next working day after the delivery's day would have covered it

    # --- listings -----------------------------------------------------------------------------

    def days_off(self, year: int) -> list[DayOff]:
        """The year's named days off: holidays, their observed moves and days off by decree
        (package or operator). Plain Saturdays and Sundays are not listed; a holiday on one is."""
        out: list[DayOff] = []
        facts = _package_year(year)
        for day, name in facts.days_off.items():
            if day not in self._entries and not _package_is_working(day):
                out.append(DayOff(day, name, PACKAGE))
        for day, entry in self._entries.items():
            if day.year == year and entry.kind == DAY_OFF:
                name = entry.note or facts.days_off.get(day) or f"Day off by decree {entry.decree}"
                out.append(DayOff(day, name, OPERATOR, entry.decree))
        return sorted(out, key=lambda d: d.day)

    def transfers(self, year: int) -> list[Transfer]:
        """The year's days whose status a decree changed, by the package or an operator: days
        made working (mostly Saturdays and Sundays) and working days made off."""
        out: dict[tuple[date, str], Transfer] = {}
        # A pair can straddle the new year (2014-01-03 off for 2013-12-28 worked).
        for y in (year - 1, year, year + 1):
            for off, worked in _package_year(y).moves:
                if off.year == year and off not in self._entries:
                    out.setdefault((off, DAY_OFF), Transfer(
                        off, DAY_OFF, PACKAGE, note=f"in exchange for {weekday_name(worked)} {worked}"))
                if worked.year == year and worked not in self._entries:
                    out.setdefault((worked, WORKING_DAY), Transfer(
                        worked, WORKING_DAY, PACKAGE, note=f"in exchange for {weekday_name(off)} {off}"))
        for worked in _package_year(year).weekend_working:
            if worked not in self._entries:
                out.setdefault((worked, WORKING_DAY), Transfer(worked, WORKING_DAY, PACKAGE))
        for day, entry in self._entries.items():
            if day.year == year:
                out[(day, entry.kind)] = Transfer(day, entry.kind, OPERATOR, entry.decree, entry.note)
        return sorted(out.values(), key=lambda t: (t.day, t.kind))


def _at_wall_time(day: date, like: datetime) -> datetime:
    """`like`'s Almaty wall-clock time on `day`, the later reading if the clocks went back."""
    return datetime.combine(day, like.time().replace(fold=1), ALMATY)

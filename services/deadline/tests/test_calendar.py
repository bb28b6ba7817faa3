"""The working calendar of Kazakhstan (clause 11), its lateness arithmetic and the ops CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uise_deadline import cli
from uise_deadline.calendar import (
    DAY_OFF,
    KINDS,
    OPERATOR,
    PACKAGE,
    WORKING_DAY,
    CalendarError,
    DayOff,
    OperatorDay,
    Transfer,
    WorkingCalendar,
    _package_year,
)
from uise_deadline.domain import ALMATY, effective_deadline

# The first year the package builds loads its data and translations, and the machine is shared:
# timing is not a property of the code under test, so no per-example deadline.
settings.register_profile("calendar", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("calendar")

FIRST, LAST = date(2000, 1, 1), date(2040, 12, 31)
days = st.dates(min_value=FIRST, max_value=LAST)
END = time(23, 59, 59)


def at(day: date, hh: int = 23, mm: int = 59, ss: int = 59, us: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, us, tzinfo=ALMATY)


def entry(day: date, kind: str, decree: str = "Decree No. 1 (test)") -> OperatorDay:
    return OperatorDay(day, kind, decree)


@st.composite
def rule_and_entries(draw):
    """A rule date and operator entries around it, where they can change its deadline."""
    rule = draw(days)
    offsets = draw(st.lists(st.integers(-3, 21), max_size=12, unique=True))
    entries = [OperatorDay(rule + timedelta(days=o), draw(st.sampled_from(KINDS)), f"Decree {o}")
               for o in offsets]
    return rule, entries


@pytest.fixture(scope="module")
def package_kz():
    """The package's own calendar over the tested years: the oracle for days without entries."""
    return holidays.country_holidays("KZ", years=range(FIRST.year - 1, LAST.year + 2))


# --- properties -------------------------------------------------------------------------------

@given(rule_and_entries())
def test_an_effective_deadline_is_the_end_of_the_first_working_day_on_or_after_the_rule_date(case):
    rule, entries = case
    cal = WorkingCalendar(entries)
    deadline = cal.effective_deadline(rule)
    day = deadline.date()
    assert cal.is_working_day(day)
    assert day >= rule
    assert deadline.tzinfo is ALMATY and deadline.time() == END
    if cal.is_working_day(rule):
        assert day == rule
    # and the first such day: nothing between the rule date and it is a working day
    assert not any(cal.is_working_day(rule + timedelta(days=i)) for i in range((day - rule).days))
    assert day == cal.deadline_day(rule)


@given(rule_and_entries(), st.integers(0, 40))
def test_effective_deadlines_are_monotone_in_the_rule_date(case, gap):
    rule, entries = case
    cal = WorkingCalendar(entries)
    later = rule + timedelta(days=gap)
    assert cal.effective_deadline(rule) <= cal.effective_deadline(later)
    assert cal.effective_deadline(rule).astimezone(UTC) <= cal.effective_deadline(later).astimezone(UTC)


@given(rule_and_entries())
def test_next_working_day_is_strictly_after(case):
    rule, entries = case
    cal = WorkingCalendar(entries)
    nxt = cal.next_working_day(rule)
    assert nxt > rule and cal.is_working_day(nxt)
    assert not any(cal.is_working_day(rule + timedelta(days=i)) for i in range(1, (nxt - rule).days))


@given(rule_and_entries())
def test_an_operator_day_off_on_a_working_deadline_day_moves_it_later(case):
    rule, entries = case
    entries = [e for e in entries if e.day != rule]
    base = WorkingCalendar(entries)
    working = base.deadline_day(rule)  # a working day, by the package or an operator
    moved = WorkingCalendar([*(e for e in entries if e.day != working), entry(working, DAY_OFF)])
    assert not moved.is_working_day(working)
    assert moved.deadline_day(working) > working
    assert moved.deadline_day(working) == base.next_working_day(working)


@given(rule_and_entries())
def test_an_operator_working_day_on_a_day_off_keeps_the_deadline_there(case):
    rule, entries = case
    entries = [e for e in entries if e.day != rule]
    made_working = WorkingCalendar([*entries, entry(rule, WORKING_DAY)])
    assert made_working.deadline_day(rule) == rule
    assert made_working.effective_deadline(rule) == at(rule)


@given(rule_and_entries(), days)
def test_an_operator_entry_decides_its_day_and_the_package_all_others(package_kz, case, other):
    _, entries = case
    cal = WorkingCalendar(entries)
    for e in entries:
        assert cal.is_working_day(e.day) is (e.kind == WORKING_DAY)
    if other not in {e.day for e in entries}:
        assert cal.is_working_day(other) is package_kz.is_working_day(other)


@settings(max_examples=30)
@given(st.integers(FIRST.year, LAST.year), rule_and_entries())
def test_days_off_lists_every_day_off_but_plain_weekends_and_nothing_else(year, case):
    _, entries = case
    cal = WorkingCalendar(entries)
    listed = {d.day for d in cal.days_off(year)}
    day = date(year, 1, 1)
    while day.year == year:
        if day in listed:
            assert not cal.is_working_day(day)
        elif day.weekday() < 5:
            assert cal.is_working_day(day), day
        day += timedelta(days=1)
    assert all(isinstance(d, DayOff) and d.name for d in cal.days_off(year))
    assert all(t.day.year == year and t.kind in KINDS for t in cal.transfers(year))
    for t in cal.transfers(year):
        assert cal.is_working_day(t.day) is (t.kind == WORKING_DAY)


deliveries = st.tuples(rule_and_entries(), st.integers(-3 * 86400, 60 * 86400), st.integers(0, 999_999))


def _moved(day: date, like: datetime) -> datetime:
    return datetime.combine(day, like.time().replace(fold=1), ALMATY)


@given(deliveries)
def test_calendar_days_late_is_the_least_extension_that_would_have_been_on_time(case):
    (rule, entries), seconds, micros = case
    cal = WorkingCalendar(entries)
    deadline = cal.effective_deadline(rule)
    delivered = deadline + timedelta(seconds=seconds, microseconds=micros)
    n = cal.calendar_days_late(deadline, delivered)
    assert (n == 0) is (delivered <= deadline)
    assert delivered.astimezone(UTC) <= _moved(deadline.date() + timedelta(days=n), deadline).astimezone(UTC)
    if n > 0:
        assert delivered.astimezone(UTC) > _moved(deadline.date() + timedelta(days=n - 1), deadline).astimezone(UTC)
    # the same moment written in another zone is the same delivery
    assert cal.calendar_days_late(deadline.astimezone(UTC), delivered.astimezone(UTC)) == n


@given(deliveries)
def test_working_days_late_is_the_least_extension_in_working_days(case):
    (rule, entries), seconds, micros = case
    cal = WorkingCalendar(entries)
    deadline = cal.effective_deadline(rule)
    delivered = deadline + timedelta(seconds=seconds, microseconds=micros)
    n = cal.working_days_late(deadline, delivered)
    assert (n == 0) is (delivered <= deadline)
    extended = [deadline.date()]
    for _ in range(n):
        extended.append(cal.next_working_day(extended[-1]))
    assert delivered <= _moved(extended[-1], deadline)
    if n > 0:
        assert delivered > _moved(extended[-2], deadline)
    # for a delivery on a working day by 23:59:59: the working days from the deadline's day
    # exclusive to the delivery's day inclusive
    day = delivered.date()
    if n > 0 and cal.is_working_day(day) and day > deadline.date() and delivered.time() <= END:
        between = [deadline.date() + timedelta(days=i) for i in range(1, (day - deadline.date()).days + 1)]
        assert n == sum(cal.is_working_day(d) for d in between)
    assert cal.working_days_late(deadline.astimezone(UTC), delivered.astimezone(UTC)) == n


# --- worked examples --------------------------------------------------------------------------

def test_nauryz_on_a_saturday_moves_the_deadline_to_wednesday():
    # Sat 2025-03-22 and Sun 23 are Nauryz; the observed days off are Mon 24 and Tue 25
    cal = WorkingCalendar()
    assert cal.effective_deadline(date(2025, 3, 22)) == at(date(2025, 3, 26))
    assert cal.effective_deadline(date(2025, 3, 22)).isoformat() == "2025-03-26T23:59:59+05:00"
    assert cal.next_working_day(date(2025, 3, 20)) == date(2025, 3, 26)


def test_constitution_day_on_a_saturday_moves_the_deadline_to_tuesday():
    # Sat 2025-08-30 Constitution Day, observed on Mon 2025-09-01
    assert WorkingCalendar().effective_deadline(date(2025, 8, 30)) == at(date(2025, 9, 2))


def test_a_weekend_day_the_package_knows_as_decreed_working_stays_the_deadline():
    cal = WorkingCalendar()
    # Sat 2024-05-04 worked for Wed 2024-05-08 off; Sun 2025-01-05 worked for Fri 2025-01-03 off
    assert cal.is_working_day(date(2024, 5, 4)) and not cal.is_working_day(date(2024, 5, 8))
    assert cal.effective_deadline(date(2024, 5, 4)) == at(date(2024, 5, 4))
    assert cal.effective_deadline(date(2025, 1, 5)) == at(date(2025, 1, 5))
    # Fri 2025-01-03 is off, Sat 4 too, and the next working day is that Sunday
    assert cal.effective_deadline(date(2025, 1, 3)) == at(date(2025, 1, 5))
    # a transfer decreed across the new year: Sat 2013-12-28 worked for Fri 2014-01-03
    assert cal.is_working_day(date(2013, 12, 28)) and not cal.is_working_day(date(2014, 1, 3))


def test_an_operator_decree_before_the_package_knows_it():
    # the package knows no 2026 transfer; say a decree makes Sat 2026-01-03 a working day and
    # Fri 2026-10-23 a day off
    decree = "Government Decree No. 1 of 2025-12-20 (test)"
    plain = WorkingCalendar()
    cal = WorkingCalendar([OperatorDay(date(2026, 1, 3), WORKING_DAY, decree),
                           OperatorDay(date(2026, 10, 23), DAY_OFF, decree, "for Sat 2026-01-03")])
    assert plain.effective_deadline(date(2026, 1, 3)) == at(date(2026, 1, 5))
    assert cal.effective_deadline(date(2026, 1, 3)) == at(date(2026, 1, 3))
    # Fri 23 off, Sat 24, Sun 25 (Republic Day), Mon 26 (its observed day) → Tue 27
    assert plain.effective_deadline(date(2026, 10, 23)) == at(date(2026, 10, 23))
    assert cal.effective_deadline(date(2026, 10, 23)) == at(date(2026, 10, 27))
    # the deadline service goes through domain.effective_deadline: 2026-09 ends on 09-30
    assert effective_deadline("2026-09", 23, cal) == at(date(2026, 10, 27))
    assert effective_deadline("2025-02", 22, plain) == at(date(2025, 3, 26))


def test_an_operator_entry_overrides_the_package_both_ways():
    decree = "Decree (test)"
    # a holiday's observed day made working, and a package weekend workday made off
    cal = WorkingCalendar([OperatorDay(date(2026, 5, 11), WORKING_DAY, decree),
                           OperatorDay(date(2025, 1, 5), DAY_OFF, decree)])
    assert cal.effective_deadline(date(2026, 5, 9)) == at(date(2026, 5, 11))
    assert cal.effective_deadline(date(2025, 1, 3)) == at(date(2025, 1, 6))
    assert WorkingCalendar().effective_deadline(date(2026, 5, 9)) == at(date(2026, 5, 12))


def test_the_deadline_is_the_last_235959_of_the_day_the_clocks_went_back():
    # 2024-03-01 00:00 UTC+6 became 2024-02-29 23:00 UTC+5: 23:00-23:59:59 happened twice
    deadline = WorkingCalendar().effective_deadline(date(2024, 2, 29))
    assert deadline.utcoffset() == timedelta(hours=5)
    assert deadline.astimezone(UTC) == datetime(2024, 2, 29, 18, 59, 59, tzinfo=UTC)
    cal = WorkingCalendar()
    # 23:30 on the second pass (18:30 UTC) is before the end of the day: on time
    assert cal.calendar_days_late(deadline, datetime(2024, 2, 29, 18, 30, tzinfo=UTC)) == 0
    assert cal.calendar_days_late(deadline, datetime(2024, 2, 29, 19, 0, tzinfo=UTC)) == 1


def test_what_a_day_late_means():
    cal = WorkingCalendar()
    friday = date(2025, 5, 16)
    deadline = cal.effective_deadline(friday)
    cases = [  # delivered (Almaty) → (calendar days late, working days late)
        (at(friday), (0, 0)),
        (at(friday, 23, 59, 59, 500_000), (1, 1)),  # after the deadline at all: a day late
        (at(friday + timedelta(days=1), 0, 0, 0), (1, 1)),  # Sat 00:00:00
        (at(friday + timedelta(days=1)), (1, 1)),  # Sat 23:59:59
        (at(friday + timedelta(days=2), 0, 0, 0), (2, 1)),  # Sun: Monday would have covered it
        (at(friday + timedelta(days=3), 12), (3, 1)),  # Mon
        (at(friday + timedelta(days=4), 0, 0, 0), (4, 2)),  # Tue
        (at(friday - timedelta(days=10)), (0, 0)),  # early
    ]
    for delivered, expected in cases:
        assert (cal.calendar_days_late(deadline, delivered), cal.working_days_late(deadline, delivered)) \
            == expected, delivered
    # across Nauryz: deadline Thu 2025-03-20, 21-25 are off, delivered Wed 26
    deadline = cal.effective_deadline(date(2025, 3, 20))
    assert cal.calendar_days_late(deadline, at(date(2025, 3, 26), 10)) == 6
    assert cal.working_days_late(deadline, at(date(2025, 3, 26), 10)) == 1


def test_a_time_without_a_zone_is_refused():
    cal = WorkingCalendar()
    with pytest.raises(CalendarError) as exc:
        cal.calendar_days_late(cal.effective_deadline(date(2025, 5, 16)), datetime(2025, 5, 17, 10))
    assert exc.value.code == "CALENDAR_NAIVE_TIME"
    with pytest.raises(TypeError):
        cal.is_working_day(datetime(2025, 5, 17, 10, tzinfo=ALMATY))


@pytest.mark.parametrize("kwargs, why", [
    ({"kind": "holiday", "decree": "D"}, "kind must be"),
    ({"kind": DAY_OFF, "decree": "  "}, "names no decree"),
    ({"kind": DAY_OFF, "decree": "D" * 201}, "longer than"),
])
def test_a_malformed_operator_entry_is_refused(kwargs, why):
    with pytest.raises(CalendarError, match=why) as exc:
        OperatorDay(date(2026, 1, 2), **kwargs)
    assert exc.value.code == "CALENDAR_ENTRY_INVALID"
    with pytest.raises(CalendarError):
        OperatorDay(datetime(2026, 1, 2, tzinfo=ALMATY), DAY_OFF, "D")


def test_two_entries_for_one_day_must_agree():
    same = [entry(date(2026, 1, 2), DAY_OFF, "A"), entry(date(2026, 1, 2), DAY_OFF, "B")]
    assert WorkingCalendar(same).entries == (same[0],)
    with pytest.raises(CalendarError) as exc:
        WorkingCalendar([entry(date(2026, 1, 2), DAY_OFF, "A"), entry(date(2026, 1, 2), WORKING_DAY, "B")])
    assert exc.value.code == "CALENDAR_ENTRY_CONFLICT" and "'A'" in exc.value.why and "'B'" in exc.value.why


def test_the_days_off_of_2025_with_their_names():
    listed = {d.day: d for d in WorkingCalendar().days_off(2025)}
    assert listed[date(2025, 3, 22)] == DayOff(date(2025, 3, 22), "Nowruz Holiday", PACKAGE)
    assert listed[date(2025, 3, 24)].name == "Nowruz Holiday (observed)"
    assert listed[date(2025, 9, 1)].name == "Constitution Day (observed)"
    assert listed[date(2025, 1, 3)].name == "Day off (transferred from Sun 2025-01-05)"
    assert date(2025, 3, 15) not in listed  # a plain Saturday
    assert date(2025, 1, 5) not in listed  # a Sunday worked by decree
    assert len(listed) == 22


def test_the_transfers_the_package_knows_and_the_operators_add():
    cal = WorkingCalendar()
    assert cal.transfers(2025) == [
        Transfer(date(2025, 1, 3), DAY_OFF, PACKAGE, note="in exchange for Sun 2025-01-05"),
        Transfer(date(2025, 1, 5), WORKING_DAY, PACKAGE, note="in exchange for Fri 2025-01-03"),
    ]
    # a pair across the new year is listed in each of its years
    assert Transfer(date(2013, 12, 28), WORKING_DAY, PACKAGE, note="in exchange for Fri 2014-01-03") \
        in cal.transfers(2013)
    assert Transfer(date(2014, 1, 3), DAY_OFF, PACKAGE, note="in exchange for Sat 2013-12-28") \
        in cal.transfers(2014)
    # an observed day off given back for another day: 2020-05-11 worked, 2020-05-08 off
    assert Transfer(date(2020, 5, 11), WORKING_DAY, PACKAGE, note="in exchange for Fri 2020-05-08") \
        in cal.transfers(2020)
    assert cal.transfers(2026) == []
    # an operator entry replaces the package on its day
    decree = "Decree (test)"
    overridden = WorkingCalendar([OperatorDay(date(2025, 1, 5), DAY_OFF, decree, "cancelled")])
    assert overridden.transfers(2025) == [
        Transfer(date(2025, 1, 3), DAY_OFF, PACKAGE, note="in exchange for Sun 2025-01-05"),
        Transfer(date(2025, 1, 5), DAY_OFF, OPERATOR, decree, "cancelled"),
    ]
    assert DayOff(date(2025, 1, 5), "cancelled", OPERATOR, decree) in overridden.days_off(2025)


def test_the_package_is_asked_once_per_year():
    assert _package_year(2031) is _package_year(2031)
    assert _package_year(2101).days_off == {}  # beyond the package's years: weekends only
    assert WorkingCalendar().deadline_day(date(2101, 1, 1)) == date(2101, 1, 3)  # Sat 1st → Mon 3rd


# --- the ops CLI ------------------------------------------------------------------------------

def test_cli_effective(capsys):
    assert cli.main(["effective", "2025-03-22"]) == 0
    assert capsys.readouterr().out == "2025-03-26T23:59:59+05:00\n"
    assert cli.main(["effective", "2026-01-03", "--working-day", "2026-01-03=Decree No. 1"]) == 0
    assert capsys.readouterr().out == "2026-01-03T23:59:59+05:00\n"


def test_cli_calendar(capsys):
    assert cli.main(["calendar", "2025"]) == 0
    out = capsys.readouterr().out
    assert "2025-03-22 Sat  Nowruz Holiday  [package]" in out
    assert "2025-03-24 Mon  Nowruz Holiday (observed)  [package]" in out
    assert "2025-01-05 Sun  working day  [package]  in exchange for Fri 2025-01-03" in out
    assert "2025-03-15" not in out  # plain Saturdays are not listed
    assert cli.main(["calendar", "2026", "--day-off", "2026-10-23=Decree No. 1"]) == 0
    out = capsys.readouterr().out
    assert "2026-10-23 Fri  Day off by decree Decree No. 1  [operator, Decree No. 1]" in out
    assert "2026-10-23 Fri  day off      [operator]  Decree No. 1" in out


@pytest.mark.parametrize("argv, message", [
    (["effective", "2025-02-30"], "'2025-02-30' is not a date; write YYYY-MM-DD"),
    (["effective", "22.03.2025"], "'22.03.2025' is not a date"),
    (["effective", "20250322"], "'20250322' is not a date"),
    (["effective", "1900-01-01"], "1991–2100 only"),
    (["calendar", "25"], "'25' is not a year the calendar knows"),
    (["effective", "2026-01-02", "--day-off", "2026-01-02"], "write DATE=DECREE"),
    (["effective", "2026-01-02", "--day-off", "2026-01-02="], "names no decree"),
])
def test_cli_bad_input_is_a_message_and_exit_code_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_conflicting_entries_are_exit_code_2(capsys):
    assert cli.main(["effective", "2026-01-02", "--day-off", "2026-01-02=A", "--working-day", "2026-01-02=B"]) == 2
    assert "CALENDAR_ENTRY_CONFLICT" in capsys.readouterr().err


def test_the_installed_command():
    # the console script pyproject.toml installs next to the interpreter, as ops runs it
    exe = [str(Path(sys.executable).parent / "uise-deadline")]
    ok = subprocess.run([*exe, "effective", "2025-08-30"], capture_output=True, text=True, timeout=60)
    assert (ok.returncode, ok.stdout) == (0, "2025-09-02T23:59:59+05:00\n")
    bad = subprocess.run([*exe, "effective", "tomorrow"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "is not a date" in bad.stderr and "Traceback" not in bad.stderr

"""Reporting periods: the one parser every service uses, so `2026` is one period everywhere.

A period is written in exactly one way, by the form's periodicity:

    2026        annual          2026-10      monthly
    2026-H1     semiannual      2026-10-15   as of a date
    2026-Q3     quarterly

Only that ASCII text is a period. Everything else is refused, not normalised: `2026\\n`,
`٢٠٢٦` (Arabic-Indic digits), `２０２６` (fullwidth) or `2026` with a zero-width joiner would
otherwise become a second period beside `2026`, with its own correction chain and inbox rows.
Hence `re.fullmatch` with `[0-9]` under re.ASCII: Python's `$` also matches before a trailing
newline, and `\\d` matches any Unicode decimal digit.

Years run from MIN_YEAR to MAX_YEAR. The floor: UISE collects current reports and corrections
of recent ones, from participants identified by a BIN (issued since 2007); a year before 2000 is
a typo (`0226`, `1026`), not an archive. The ceiling: far beyond any list of forms a Ministry
could approve, and far below `date.max` (9999-12-31), so a collection window (the period's end
plus some days) can always be computed; `9999` used to overflow there into a 500.

A refusal is `PeriodInvalid` (a ValueError, so a Pydantic validator turns it into a 422) with
the stable code PERIOD_INVALID and `why`, a short English explanation.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

MIN_YEAR = 2000
MAX_YEAR = 2100
MAX_LENGTH = len("2026-10-15")
KINDS = ("annual", "semiannual", "quarterly", "monthly", "as_of_date")
EXAMPLES = "2026, 2026-H1, 2026-Q3, 2026-10 or 2026-10-15"

_PERIOD = re.compile(r"([0-9]{4})(?:-(?:H([12])|Q([1-4])|([0-9]{2})|([0-9]{2})-([0-9]{2})))?", re.ASCII)


class PeriodInvalid(ValueError):
    """Not a period; `code` is stable (PERIOD_INVALID), `why` says what is wrong."""

    code = "PERIOD_INVALID"

    def __init__(self, text: object, why: str) -> None:
        super().__init__(f"{why} (a period is written {EXAMPLES})")
        self.text = text
        self.why = why


@dataclass(frozen=True)
class Period:
    text: str  # canonical: the input, which only canonical text gets past parse_period
    kind: str  # one of KINDS
    start: date
    end: date


def parse_period(text: object) -> Period:
    """The period `text` names; raises PeriodInvalid for anything but the canonical form."""
    if not isinstance(text, str):
        raise PeriodInvalid(text, "a period is text")
    if len(text) > MAX_LENGTH:  # before the regex: a 10 KB value costs nothing
        raise PeriodInvalid(text, f"a period is at most {MAX_LENGTH} characters")
    m = _PERIOD.fullmatch(text)
    if m is None:
        raise PeriodInvalid(text, "not a period")
    year = int(m[1])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodInvalid(text, f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    try:
        if m[2]:
            first = m[2] == "1"
            return Period(text, "semiannual", date(year, 1 if first else 7, 1),
                          date(year, 6, 30) if first else date(year, 12, 31))
        if m[3]:
            last = int(m[3]) * 3
            return Period(text, "quarterly", date(year, last - 2, 1),
                          date(year, last, calendar.monthrange(year, last)[1]))
        if m[4]:
            month = int(m[4])
            return Period(text, "monthly", date(year, month, 1),
                          date(year, month, calendar.monthrange(year, month)[1]))
        if m[5]:
            day = date(year, int(m[5]), int(m[6]))
            return Period(text, "as_of_date", day, day)
    except ValueError:  # month 13, 31 February
        raise PeriodInvalid(text, "no such month or day") from None
    return Period(text, "annual", date(year, 1, 1), date(year, 12, 31))


def is_period(text: object) -> bool:
    try:
        parse_period(text)
    except PeriodInvalid:
        return False
    return True


def matches_period_type(period_type: str | None, period: Period) -> bool:
    """Does the period's shape fit the form's periodicity? An ad hoc form takes any, and so does
    a form whose periodicity is not known (read before the read model knew it)."""
    return period_type in (None, "", "ad_hoc") or period_type == period.kind


# How long after its last deadline a period stays open for corrections of distorted data
# (clause 11). Past that, a figure is history: the national report has been used for policy.
CORRECTION_DAYS = 365


@dataclass(frozen=True)
class CollectionWindow:
    """When a form's period may be delivered: from the period's first day (a school cannot
    report a year that has not begun; an annual census is filled during its year) until its
    last level's deadline day plus CORRECTION_DAYS."""

    opens: date
    closes: date

    def refusal(self, today: date) -> str | None:
        """PERIOD_NOT_OPEN before the window, PERIOD_CLOSED after it, else None."""
        if today < self.opens:
            return "PERIOD_NOT_OPEN"
        if today > self.closes:
            return "PERIOD_CLOSED"
        return None


def collection_window(period: Period, deadline_days: Iterable[int] = (), *, opens_days_before: int = 0,
                      correction_days: int = CORRECTION_DAYS) -> CollectionWindow:
    """The window of `period` for a form whose levels have `deadline_days`; a deployment may
    open it earlier or keep corrections for another span (intake's settings)."""
    last = max(deadline_days, default=0)
    return CollectionWindow(opens=period.start - timedelta(days=opens_days_before),
                            closes=period.end + timedelta(days=last + correction_days))


def periods_of(period_type: str, year: int) -> list[str]:
    """The periods of `year` a form of this periodicity is delivered for; none for a form
    collected as of a date or ad hoc (its periods are not known in advance)."""
    if period_type == "annual":
        return [str(year)]
    if period_type == "semiannual":
        return [f"{year}-H1", f"{year}-H2"]
    if period_type == "quarterly":
        return [f"{year}-Q{q}" for q in range(1, 5)]
    if period_type == "monthly":
        return [f"{year}-{m:02d}" for m in range(1, 13)]
    return []

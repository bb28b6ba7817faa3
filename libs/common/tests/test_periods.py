"""The one parser of reporting periods: canonical ASCII text only, years 2000..2100, and every
refusal a PeriodInvalid (PERIOD_INVALID), never another exception."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from uise_common.periods import (
    MAX_YEAR,
    MIN_YEAR,
    PeriodInvalid,
    collection_window,
    is_period,
    matches_period_type,
    parse_period,
)

# Each of these, if accepted, would be a period beside the canonical one (or crash further on).
HOSTILE = [
    "2026\n", "2026\r\n", "\n2026", " 2026", "2026 ", "2026\t",
    "٢٠٢٦",  # Arabic-Indic digits: int() and \d take them
    "۲۰۲۶",  # Extended Arabic-Indic (Persian) digits
    "２０２６",  # fullwidth
    "𝟐𝟎𝟐𝟔",  # mathematical bold digits
    "20\u200d26", "2026\u200d", "\u200b2026", "\ufeff2026", "2026\u2060",  # zero-width characters
    "2026\x00", "\x00", "2026-Q3\x00",
    "2026-q3", "2026-h1", "2026-Q3\n", "2026-10\n", "2026-10-15\n", "2026-1", "2026-001", "2026-10-5",
    "+2026", "-2026", "2_026", "2026.0", "02026", "２026-Q3",
    "9999", "99999999999999999999", "0000", "1999", "2101", "1899",
    "2026-13", "2026-00", "2026-Q0", "2026-Q5", "2026-H0", "2026-H3", "2026-02-30", "2026-02-29", "2026-10-32",
    "2026/10", "2026-W01", "FY2026", "", "2" * 10_240, "2026-" + "1" * 10_240,
]


@pytest.mark.parametrize("text", HOSTILE, ids=[repr(t[:20]) for t in HOSTILE])
def test_anything_but_the_canonical_form_is_refused_with_its_code(text):
    with pytest.raises(PeriodInvalid) as exc:
        parse_period(text)
    assert exc.value.code == "PERIOD_INVALID" and exc.value.why
    assert not is_period(text)


@pytest.mark.parametrize("value", [None, 2026, 2026.0, b"2026", ["2026"]])
def test_a_period_is_text(value):
    with pytest.raises(PeriodInvalid):
        parse_period(value)


@pytest.mark.parametrize("text, kind, start, end", [
    ("2026", "annual", date(2026, 1, 1), date(2026, 12, 31)),
    ("2026-H1", "semiannual", date(2026, 1, 1), date(2026, 6, 30)),
    ("2026-H2", "semiannual", date(2026, 7, 1), date(2026, 12, 31)),
    ("2026-Q1", "quarterly", date(2026, 1, 1), date(2026, 3, 31)),
    ("2026-Q3", "quarterly", date(2026, 7, 1), date(2026, 9, 30)),
    ("2024-02", "monthly", date(2024, 2, 1), date(2024, 2, 29)),
    ("2026-10", "monthly", date(2026, 10, 1), date(2026, 10, 31)),
    ("2026-10-15", "as_of_date", date(2026, 10, 15), date(2026, 10, 15)),
    ("2024-02-29", "as_of_date", date(2024, 2, 29), date(2024, 2, 29)),
])
def test_canonical_periods_parse_to_their_dates(text, kind, start, end):
    p = parse_period(text)
    assert (p.text, p.kind, p.start, p.end) == (text, kind, start, end)


def test_the_year_range_is_inclusive_and_windows_around_it_can_be_computed():
    assert parse_period(str(MIN_YEAR)).start == date(MIN_YEAR, 1, 1)
    last = parse_period(f"{MAX_YEAR}-12-31")
    # the reason for the ceiling: ten years of collection window after the last period still fit
    # in a date, where 9999 overflowed into a 500
    assert (last.end + timedelta(days=3650)).year == MAX_YEAR + 10
    with pytest.raises(OverflowError):
        date(9999, 12, 31) + timedelta(days=1)
    for year in (MIN_YEAR - 1, MAX_YEAR + 1):
        with pytest.raises(PeriodInvalid, match=f"between {MIN_YEAR} and {MAX_YEAR}"):
            parse_period(str(year))


def test_a_period_is_open_from_its_first_day_until_a_year_after_its_last_deadline():
    window = collection_window(parse_period("2026-Q3"), [10, 20, 30])
    assert window.refusal(date(2026, 6, 30)) == "PERIOD_NOT_OPEN"
    assert window.refusal(date(2026, 7, 1)) is None
    assert window.refusal(date(2027, 10, 30)) is None
    assert window.closes == date(2027, 10, 30)  # 30 Sep + 30 days + 365 days
    assert window.refusal(date(2027, 10, 31)) == "PERIOD_CLOSED"
    # an as-of-date period opens on its date
    assert collection_window(parse_period("2026-12-15")).refusal(date(2026, 12, 14)) == "PERIOD_NOT_OPEN"


def test_a_period_matches_the_forms_periodicity_and_an_ad_hoc_form_takes_any():
    q3 = parse_period("2026-Q3")
    assert matches_period_type("quarterly", q3)
    assert matches_period_type("ad_hoc", q3) and matches_period_type(None, q3)
    assert not matches_period_type("annual", q3)
    assert not matches_period_type("quarterly", parse_period("2026"))

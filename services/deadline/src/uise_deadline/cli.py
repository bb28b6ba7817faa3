"""`uise-deadline`: run the deadline service, or ask its working calendar as ops.

    uise-deadline [serve]              run the service (what `python -m uise_deadline` does)
    uise-deadline effective DATE       the effective deadline for a rule's date (clause 11),
                                       e.g. `effective 2025-03-22` → 2025-03-26T23:59:59+05:00
    uise-deadline calendar YEAR        the year's named days off and its transfers

Both questions take operator entries to try out a decree before it is entered:
    --day-off 2026-01-02=DECREE        that day made a day off
    --working-day 2026-01-03=DECREE    that day made a working day

Days off come from the `holidays` package (Kazakhstan, 1991–2100) and operator entries; see
docs/deadline.md, "Calendar". A bad date or year is refused with exit code 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date

import holidays

from uise_deadline.calendar import (
    DAY_OFF,
    FIRST_YEAR,
    LAST_YEAR,
    WORKING_DAY,
    CalendarError,
    OperatorDay,
    WorkingCalendar,
    weekday_name,
)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_YEAR = re.compile(r"[0-9]{4}", re.ASCII)


def _date(text: str) -> date:
    # date.fromisoformat also takes 20250322 and 2025-W12-6; a calendar question takes one form.
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            pass
        else:
            if FIRST_YEAR <= day.year <= LAST_YEAR:
                return day
            raise argparse.ArgumentTypeError(
                f"{text}: the calendar knows Kazakhstan's holidays for {FIRST_YEAR}–{LAST_YEAR} only")
    raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD, e.g. 2025-03-22")


def _year(text: str) -> int:
    if _YEAR.fullmatch(text) and FIRST_YEAR <= int(text) <= LAST_YEAR:
        return int(text)
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a year the calendar knows; write one of {FIRST_YEAR}–{LAST_YEAR}, e.g. 2025")


def _entry(kind: str):
    def parse(text: str) -> OperatorDay:
        day_text, sep, decree = text.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"{text!r}: write DATE=DECREE, e.g. 2026-01-02=\"Decree No. 1\"")
        try:
            return OperatorDay(_date(day_text.strip()), kind, decree.strip())
        except CalendarError as exc:
            raise argparse.ArgumentTypeError(exc.why) from None
    return parse


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="uise-deadline", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service")
    e = sub.add_parser("effective", help="the effective deadline for a rule's date")
    e.add_argument("date", type=_date, help="the rule's date, YYYY-MM-DD")
    c = sub.add_parser("calendar", help="a year's days off and transfers")
    c.add_argument("year", type=_year)
    for q in (e, c):
        q.add_argument("--day-off", dest="entries", action="append", default=[], type=_entry(DAY_OFF),
                       metavar="DATE=DECREE", help="an operator's day off to try")
        q.add_argument("--working-day", dest="entries", action="append", type=_entry(WORKING_DAY),
                       metavar="DATE=DECREE", help="an operator's working day to try")
    return p


def print_calendar(cal: WorkingCalendar, year: int) -> None:
    print(f"Kazakhstan working calendar {year} (holidays {holidays.__version__}, "
          f"{len(cal.entries)} operator entries)")
    print("\nDays off (besides plain Saturdays and Sundays):")
    for off in cal.days_off(year):
        source = f"operator, {off.decree}" if off.decree else off.source
        print(f"  {off.day} {weekday_name(off.day)}  {off.name}  [{source}]")
    print("\nTransfers:")
    moved = cal.transfers(year)
    if not moved:
        print("  none known (a decree not yet in the package is entered by an operator)")
    for t in moved:
        what = "day off    " if t.kind == DAY_OFF else "working day"
        detail = "; ".join(x for x in (t.decree, t.note) if x)
        print(f"  {t.day} {weekday_name(t.day)}  {what}  [{t.source}]" + (f"  {detail}" if detail else ""))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in (None, "serve"):
        from uise_deadline.entrypoint import main as serve

        serve()
        return 0
    try:
        cal = WorkingCalendar(args.entries)
        if args.command == "effective":
            print(cal.effective_deadline(args.date).isoformat())
        else:
            print_calendar(cal, args.year)
    except CalendarError as exc:
        print(f"uise-deadline: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Pure calendar arithmetic. All times are Asia/Almaty (UTC+5 since 2024-03-01).

Which days are working days (holidays, decreed transfers, operator entries) is the business of
`uise_deadline.calendar.WorkingCalendar`; this module turns a period into its rule date."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from uise_deadline.calendar import WorkingCalendar

ALMATY = ZoneInfo("Asia/Almaty")


class PeriodError(ValueError):
    pass


def period_end(period: str) -> date:
    """`2026` → 2026-12-31, `2026-H1` → 06-30, `2026-Q3` → 09-30, `2026-10` → 10-31, `2026-10-15` → itself."""
    if m := re.fullmatch(r"(\d{4})", period):
        return date(int(m[1]), 12, 31)
    if m := re.fullmatch(r"(\d{4})-H([12])", period):
        return date(int(m[1]), 6, 30) if m[2] == "1" else date(int(m[1]), 12, 31)
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", period):
        month = int(m[2]) * 3
        return date(int(m[1]), month, calendar.monthrange(int(m[1]), month)[1])
    if m := re.fullmatch(r"(\d{4})-(\d{2})", period):
        y, mo = int(m[1]), int(m[2])
        if not 1 <= mo <= 12:
            raise PeriodError(period)
        return date(y, mo, calendar.monthrange(y, mo)[1])
    try:
        return date.fromisoformat(period)
    except ValueError as exc:
        raise PeriodError(period) from exc


def effective_deadline(period: str, days_after: int, calendar: WorkingCalendar) -> datetime:
    """End of the day `days_after` the period's end, moved to the end of the next working day
    of `calendar` when that is a day off (clause 11)."""
    return calendar.effective_deadline(period_end(period) + timedelta(days=days_after))

"""What happens around a deadline, and when (pure): the periods a form is collected for in a
year, and the timers of one effective deadline: reminders before it, the `missing` sweep at it, an
escalation to the superiors after it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

# What a form's period type gives in a year; `as_of_date` and `ad_hoc` forms have no periods
# known in advance (their campaigns name their dates), so no timers either.
PERIODS = {
    "annual": lambda y: [f"{y}"],
    "semiannual": lambda y: [f"{y}-H1", f"{y}-H2"],
    "quarterly": lambda y: [f"{y}-Q{q}" for q in range(1, 5)],
    "monthly": lambda y: [f"{y}-{m:02d}" for m in range(1, 13)],
}

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def periods_of(year: int, period_type: str) -> list[str]:
    make = PERIODS.get(period_type)
    return make(year) if make else []


def parse_duration(text: str) -> timedelta:
    """ISO 8601 durations in days, hours, minutes and seconds (P7D, PT3H, P1DT12H, PT0S)."""
    m = _DURATION.fullmatch(text.strip())
    if m is None or text.strip() in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration of days/hours/minutes/seconds: {text!r}")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def parse_leads(text: str) -> list[str]:
    """A comma-separated list of durations, checked, largest first."""
    leads = [t.strip() for t in text.split(",") if t.strip()]
    for lead in leads:
        parse_duration(lead)
    return sorted(set(leads), key=parse_duration, reverse=True)


@dataclass(frozen=True)
class PlannedTimer:
    kind: str  # reminder | sweep | escalation
    lead: str
    due_at: datetime


SWEEP_LEAD = "PT0S"


def timers_for(deadline_at: datetime, reminder_leads: list[str], escalation_after: str | None) -> list[PlannedTimer]:
    """The timers of one deadline. The sweep is due the second after it (23:59:59 is still on
    time: a delivery at that second counts); reminders `lead` before it; the escalation after."""
    out = [PlannedTimer("reminder", lead, deadline_at - parse_duration(lead)) for lead in reminder_leads]
    out.append(PlannedTimer("sweep", SWEEP_LEAD, deadline_at + timedelta(seconds=1)))
    if escalation_after:
        out.append(PlannedTimer("escalation", escalation_after, deadline_at + parse_duration(escalation_after)))
    return out

"""What the participant's pages show, worked out from the services' answers: pure functions, no
I/O (the router in participant.py calls the services and renders)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from uise_common.periods import (
    PeriodInvalid,
    parse_period,
    periods_of,
)

# The statuses a submission goes through (docs/intake.md), and the steps of its timeline.
STATUSES = ("received", "signature_checked", "queried", "validated", "accepted", "rejected", "returned")
STEPS = ("received", "registered_on_paper", "signature_checked", "queried", "explained", "validated",
         "accepted", "rejected", "returned", "timeliness_recorded", "aggregated", "correction_needed")
SERVICES = ("intake", "signature", "validation", "routing", "deadline", "reporting", "registry", "identity")


# --- the periods of a year and their deadlines ----------------------------------------------------



def period_start(period: str) -> date | None:
    try:
        return parse_period(period).start
    except PeriodInvalid:
        return None


def period_year(period: str) -> int | None:
    start = period_start(period)
    return start.year if start else None


@dataclass(frozen=True)
class DayOffReason:
    """Why one day between the rule's date and the effective deadline was not a working day."""

    day: date
    kind: str  # decree | holiday | transfer | weekend | day_off
    name: str = ""


def moved_because(rule_date: date, deadline_day: date, calendars: dict[int, dict]) -> list[DayOffReason]:
    """Every day from the rule's date up to the day before the effective deadline, each a day off
    (clause 11 moves a deadline to the next working day), with what made it one: an operator's
    decree, a public holiday, a transfer of days off, or the weekend. `calendars` are deadline's
    GET /v1/calendar/{year} answers by year."""
    out: list[DayOffReason] = []
    day = rule_date
    while day < deadline_day and len(out) < 31:
        cal = calendars.get(day.year) or {}
        iso = day.isoformat()
        entry = next((e for e in cal.get("operator_entries", []) if e.get("day") == iso and not e.get("withdrawn_at")
                      and e.get("kind") == "day_off"), None)
        holiday = next((h for h in cal.get("days_off", []) if h.get("day") == iso), None)
        transfer = next((t for t in cal.get("transfers", []) if t.get("day") == iso and t.get("kind") == "day_off"),
                        None)
        if entry is not None:
            out.append(DayOffReason(day, "decree", str(entry.get("decree") or "")))
        elif holiday is not None:
            out.append(DayOffReason(day, "holiday", str(holiday.get("name") or "")))
        elif transfer is not None:
            out.append(DayOffReason(day, "transfer", str(transfer.get("decree") or "")))
        elif day.weekday() >= 5:
            out.append(DayOffReason(day, "weekend"))
        else:
            out.append(DayOffReason(day, "day_off"))
        day += timedelta(days=1)
    return out


@dataclass
class Deadline:
    at: datetime
    rule_date: date
    moved: bool
    reasons: list[DayOffReason] = field(default_factory=list)


def deadline_of(row: dict | None, calendars: dict[int, dict]) -> Deadline | None:
    """A deadline service row (GET /v1/deadlines) as the page shows it."""
    if not row:
        return None
    try:
        at = datetime.fromisoformat(row["deadline_at"])
        rule = date.fromisoformat(row["rule_date"])
    except (KeyError, TypeError, ValueError):
        return None
    moved = bool(row.get("moved")) or rule != at.date()
    return Deadline(at, rule, moved, moved_because(rule, at.date(), calendars) if moved else [])


def calendar_years(rows: list[dict]) -> set[int]:
    """The years whose calendars explain the moved deadlines among `rows`."""
    years: set[int] = set()
    for row in rows:
        if row.get("moved"):
            try:
                first = date.fromisoformat(row["rule_date"])
                last = datetime.fromisoformat(row["deadline_at"]).date()
            except (KeyError, TypeError, ValueError):
                continue
            years.update(range(first.year, last.year + 1))
    return years


# --- the forms page -------------------------------------------------------------------------------

@dataclass
class FormRow:
    form: dict
    period: str | None
    deadline: Deadline | None
    latest: dict | None  # the newest submission of the participant for this form and period
    opens: date | None  # the period's first day when it has not begun (nothing to submit yet)


def form_rows(forms: list[dict], year: int, deadlines: list[dict], submissions: list[dict], level: str | None,
              calendars: dict[int, dict], today: date) -> list[FormRow]:
    """One row per form and period of the year (a form without periods known in advance: one row
    without a period), with its effective deadline for the participant's level and the status of
    its latest submission."""
    mine = {(d.get("form_code"), d.get("period")): d for d in deadlines if d.get("level") == (level or "organization")}
    latest: dict[tuple[str, str], dict] = {}
    for sub in submissions:  # newest first (intake's order): the first seen is the latest
        latest.setdefault((sub.get("form_code"), sub.get("period")), sub)
    rows = []
    for form in sorted(forms, key=lambda f: f.get("code", "")):
        periods = periods_of(form.get("period_type", ""), year)
        if not periods:
            rows.append(FormRow(form, None, None, None, None))
            continue
        for period in periods:
            start = period_start(period)
            rows.append(FormRow(form, period, deadline_of(mine.get((form["code"], period)), calendars),
                                latest.get((form["code"], period)),
                                start if start and start > today else None))
    return rows


# --- findings and queries -------------------------------------------------------------------------

@dataclass
class Query:
    """A query (a warning rule) and every finding of it: one written explanation answers them all
    (validation takes an explanation keyed by the rule's code for each of its cells)."""

    rule: str
    findings: list[dict]
    explanation: str | None = None


def errors_of(findings: list[dict]) -> list[dict]:
    return [f for f in findings if f.get("severity") == "error"]


def queries_of(findings: list[dict]) -> list[Query]:
    """The warnings, grouped by rule, in the order they were found."""
    out: dict[str, Query] = {}
    for f in findings:
        if f.get("severity") != "warning":
            continue
        q = out.setdefault(str(f.get("rule")), Query(str(f.get("rule")), []))
        q.findings.append(f)
        if f.get("explanation"):
            q.explanation = f["explanation"]
    return list(out.values())


def finding_text(finding: dict, lang: str) -> str:
    messages = finding.get("messages") or {}
    return messages.get(lang) or messages.get("ru") or messages.get("en") or str(finding.get("message") or "")


MAX_EXPLANATIONS = 200
MAX_EXPLANATION_CHARS = 2000


def explanations_from(text: str | None) -> dict[str, str] | None:
    """The page's explanations (JSON rule → text), the blank ones left out; None when it is not
    such an object or over intake's limits (EXPLANATIONS_INVALID there)."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    if not isinstance(raw, dict) or len(raw) > MAX_EXPLANATIONS:
        return None
    out = {}
    for rule, value in raw.items():
        if not isinstance(rule, str) or not isinstance(value, str) or len(value) > MAX_EXPLANATION_CHARS:
            return None
        if value.strip():
            out[rule] = value.strip()
    return out


# --- one submission -------------------------------------------------------------------------------

def open_queries(submission: dict) -> list[Query]:
    """A queried submission's queries still waiting for an explanation: those of its latest
    `queried` step (validation lists only the open ones there), unless explanations came after
    it (validation is judging them: the status stays `queried` until it has)."""
    if submission.get("status") != "queried":
        return []
    steps = [s for s in submission.get("timeline") or [] if s.get("step") in ("queried", "explained")]
    if not steps or steps[-1].get("step") != "queried":
        return []
    return queries_of(list((steps[-1].get("detail") or {}).get("queries") or []))


def step_findings(step: dict) -> list[dict]:
    detail = step.get("detail") or {}
    return list(detail.get("findings") or detail.get("queries") or [])


def chain_view(submission: dict) -> list[dict]:
    """Every version of this form and period, oldest first, numbered from 1, this one marked."""
    out = []
    for n, version in enumerate(submission.get("chain") or [], start=1):
        out.append({**version, "number": n, "current": version.get("submission_id") == submission.get("submission_id")})
    return out


def when(value: Any) -> str:
    """An ISO time as the page shows it: date and time to the second, in the zone given (Almaty)."""
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value or "")

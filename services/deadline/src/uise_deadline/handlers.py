"""Deadline's event handlers and commands: (session, …) -> events to emit.

- the registry's participants and approved lists become read models, and each list's forms their
  effective deadlines (published with `deadline.changed`) and timers;
- every delivery is judged on time or late against its effective deadline (a correction by its
  first version), and a late one closes the participant's `missing` violation as late;
- an operator's calendar entry moves the deadlines it touches later (never earlier)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from uise_common.consumer import NotYetKnown
from uise_common.periods import PeriodInvalid, parse_period
from uise_contracts.events import (
    DeadlineChanged,
    DeadlineViolation,
    FormListApproved,
    InfoRequestIssued,
    Level,
    ParticipantUpserted,
    SubmissionAccepted,
    SubmissionReceived,
    TimelinessRecorded,
)
from uise_deadline.adapters import (
    CalendarEntry,
    Deadline,
    KnownForm,
    KnownParticipant,
    RequestMember,
    Timeliness,
    Timer,
    Violation,
)
from uise_deadline.calendar import OperatorDay, WorkingCalendar
from uise_deadline.domain import period_end
from uise_deadline.expectations import parents_json, period_last_day, superior_on
from uise_deadline.schedule import periods_of, timers_for

ALMATY = ZoneInfo("Asia/Almaty")


class Refused(Exception):
    """A command refused, with a reason code (the API gives the kk/ru/en message)."""

    def __init__(self, code: str, **detail: object) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Schedule:
    """The timers each deadline gets (from settings)."""

    reminder_leads: list[str]
    escalation_after: str | None


def aware(at: datetime) -> datetime:
    """Times read back from SQLite come naive; they were stored in UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def calendar_of(session: Session) -> WorkingCalendar:
    """The working calendar: the package's Kazakhstan with the operator's entries in force."""
    rows = session.exec(select(CalendarEntry).where(col(CalendarEntry.withdrawn_at).is_(None))).all()
    return WorkingCalendar([OperatorDay(day=r.day, kind=r.kind, decree=r.decree, note=r.note or "") for r in rows])


# --- read models ------------------------------------------------------------------------------------


def on_participant(event: ParticipantUpserted, session: Session) -> list:
    session.merge(KnownParticipant(
        participant_id=event.participant_id, level=event.level.value, kind=event.kind, parent_id=event.parent_id,
        active_from=event.active_from, active_to=event.active_to, parents=parents_json(event.parents)))
    return []


def make_on_formlist(schedule: Schedule):
    def on_formlist(event: FormListApproved, session: Session) -> list:
        """Every form of the list, every period of its year and every level with a rule: its
        effective deadline, published; and its timers."""
        calendar = calendar_of(session)
        out: list = []
        for form in event.forms:
            held = session.get(KnownForm, (form.code, event.year))
            if held is not None and held.request_id is not None:
                continue  # an information request's form keeps its own definition (codes are unique)
            days = {lvl.value: n for lvl, n in form.deadline_days.items()}
            session.merge(KnownForm(code=form.code, year=event.year, deadline_days=json.dumps(days),
                                    respondent_kinds=",".join(form.respondent_kinds), period_type=form.period_type,
                                    approved_on=event.order_date))
            for period in periods_of(event.year, form.period_type):
                for level, n in days.items():
                    rule = period_end(period) + timedelta(days=n)
                    out += publish(session, form.code, period, level, event.year, rule, calendar.effective_deadline(rule),
                                   schedule, approved_on=event.order_date,
                                   reason="list_amended" if event.supersedes_version else "published")
        return out

    return on_formlist


def make_on_inforequest(schedule: Schedule):
    def on_inforequest(event: InfoRequestIssued, session: Session) -> list:
        """An information request (clause 12): its form, the member, and the member's level's
        deadline (its `due_at`, exactly: the Ministry set it, the calendar does not move it) with
        its timers, as for a list's form. One event per member: merged by key, so replays and
        replicas change nothing; a level's deadline is published once."""
        if event.form is None or event.period is None or event.level is None:
            return []  # a v1.2 producer's event: nothing to plan from
        year = parse_period(event.period).start.year
        form = event.form
        session.merge(KnownForm(code=form.code, year=year, request_id=event.request_id,
                                deadline_days=json.dumps({lvl.value: n for lvl, n in form.deadline_days.items()}),
                                respondent_kinds=",".join(form.respondent_kinds), period_type=form.period_type))
        session.merge(RequestMember(form_code=form.code, participant_id=event.to_participant_id,
                                    request_id=event.request_id, period=event.period, role=event.role,
                                    level=event.level.value, parent_id=event.parent_id, due_at=event.due_at))
        held = session.get(Deadline, (form.code, event.period, event.level.value))
        if held is not None and aware(held.deadline_at) >= event.due_at:
            return []  # the level's deadline stands (the latest of its members' wins)
        due = event.due_at.astimezone(ALMATY)
        return publish(session, form.code, event.period, event.level.value, year, due.date(), due, schedule,
                       approved_on=None, reason="published")

    return on_inforequest


def publish(session: Session, form_code: str, period: str, level: str, year: int, rule: date, deadline_at: datetime,
            schedule: Schedule, *, approved_on: date | None, reason: str, decree: str | None = None) -> list:
    """Record an effective deadline and (re)plan its timers; announce it when it is new or moved."""
    deadline_at = deadline_at.astimezone(UTC)  # stored in UTC on every database
    row = session.get(Deadline, (form_code, period, level))
    old = aware(row.deadline_at) if row is not None else None
    if old == deadline_at and row.rule_date == rule:
        return []
    if row is None:
        row = Deadline(form_code=form_code, period=period, level=level, year=year, rule_date=rule,
                       deadline_at=deadline_at)
    row.rule_date, row.deadline_at, row.updated_at = rule, deadline_at, datetime.now(UTC)
    session.add(row)
    # A deadline that passed before the list was approved cannot have been missed: no timers.
    if approved_on is None or deadline_at.date() >= approved_on:
        plan_timers(session, row, schedule)
    return [DeadlineChanged(form_code=form_code, period=period, level=Level(level), rule_date=rule,
                            old_deadline_at=old, new_deadline_at=deadline_at,
                            reason="published" if old is None and reason != "calendar" else reason, decree=decree)]


def plan_timers(session: Session, deadline: Deadline, schedule: Schedule) -> None:
    """Create the deadline's timers, or move those not fired yet to its new time."""
    existing = {(t.kind, t.lead): t for t in session.exec(select(Timer).where(
        Timer.form_code == deadline.form_code, Timer.period == deadline.period, Timer.level == deadline.level))}
    for planned in timers_for(aware(deadline.deadline_at), schedule.reminder_leads, schedule.escalation_after):
        timer = existing.get((planned.kind, planned.lead))
        if timer is None:
            session.add(Timer(kind=planned.kind, form_code=deadline.form_code, period=deadline.period,
                              level=deadline.level, lead=planned.lead, due_at=planned.due_at))
        elif timer.fired_at is None:
            timer.due_at = planned.due_at
            session.add(timer)


# --- deliveries ---------------------------------------------------------------------------------------


def deadline_for(session: Session, form_code: str, period: str, level: str) -> datetime | None:
    """The effective deadline: the published one, else (a period no list planned, e.g. as of a
    date) the form's rule on today's calendar."""
    row = session.get(Deadline, (form_code, period, level))
    if row is not None:
        return aware(row.deadline_at)
    try:
        year = parse_period(period).start.year
    except PeriodInvalid:
        return None
    form = session.get(KnownForm, (form_code, year))
    days = json.loads(form.deadline_days).get(level) if form is not None else None
    if days is None:
        return None
    return calendar_of(session).effective_deadline(period_end(period) + timedelta(days=days))


def on_received(event: SubmissionReceived, session: Session) -> list:
    """On time or late (clause 11), by `delivered_at` (clause 10; for paper, the registered
    delivery date). A correction is judged by the first version of its chain."""
    if session.get(Timeliness, event.submission_id) is not None:
        return []
    participant = session.get(KnownParticipant, event.participant_id)
    if participant is None:
        raise NotYetKnown(f"participant {event.participant_id}")
    judged_by, judged_at = event.submission_id, aware(event.delivered_at)
    if event.supersedes:
        first = session.get(Timeliness, event.supersedes)
        if first is None:
            raise NotYetKnown(f"timeliness of {event.supersedes}, which {event.submission_id} corrects")
        judged_by = first.judged_by or first.submission_id
        judged_at = aware(session.get(Timeliness, judged_by).delivered_at) if judged_by != first.submission_id \
            else aware(first.delivered_at)
    deadline = deadline_for(session, event.form_code, event.period, participant.level)
    deadline = deadline.astimezone(UTC) if deadline is not None else None
    on_time = None if deadline is None else judged_at <= deadline
    calendar = calendar_of(session)
    late_days = (calendar.calendar_days_late(deadline, judged_at), calendar.working_days_late(deadline, judged_at)) \
        if deadline is not None else (None, None)
    session.add(Timeliness(submission_id=event.submission_id, participant_id=event.participant_id,
                           form_code=event.form_code, period=event.period, delivered_at=event.delivered_at,
                           deadline_at=deadline, on_time=on_time, judged_by=judged_by,
                           calendar_days_late=late_days[0], working_days_late=late_days[1],
                           supersedes=event.supersedes))
    out: list = [TimelinessRecorded(
        submission_id=event.submission_id, participant_id=event.participant_id, form_code=event.form_code,
        period=event.period, delivered_at=event.delivered_at, deadline_at=deadline, on_time=on_time,
        calendar_days_late=late_days[0], working_days_late=late_days[1], judged_by_submission_id=judged_by)]
    if on_time is False:
        out += late(session, participant, event, deadline, late_days)
    return out


def late(session: Session, participant: KnownParticipant, event: SubmissionReceived, deadline: datetime,
         late_days: tuple[int | None, int | None]) -> list:
    """Record the participant's lateness once: a `missing` violation closes as late; a second
    late version changes nothing."""
    row = session.get(Violation, (event.participant_id, event.form_code, event.period))
    if row is not None and row.kind == "late":
        return []
    replaces = row is not None
    if row is None:
        row = Violation(participant_id=event.participant_id, form_code=event.form_code, period=event.period,
                        kind="late", level=participant.level, deadline_at=deadline)
    row.kind, row.submission_id, row.closed_at = "late", event.submission_id, datetime.now(UTC)
    session.add(row)
    return [DeadlineViolation(participant_id=event.participant_id, form_code=event.form_code, period=event.period,
                              kind="late", deadline_at=deadline, submission_id=event.submission_id,
                              recipient_id=superior_on(participant, period_last_day(event.period)),
                              level=Level(participant.level),
                              calendar_days_late=late_days[0], working_days_late=late_days[1],
                              replaces_missing=replaces)]


def on_accepted(event: SubmissionAccepted, session: Session) -> list:
    row = session.get(Timeliness, event.submission_id)
    if row is None:
        raise NotYetKnown(f"timeliness of {event.submission_id}")
    row.accepted = True
    session.add(row)
    return []


# --- the operator's calendar ----------------------------------------------------------------------


def open_deadlines(session: Session) -> Iterable[Deadline]:
    """Deadlines not swept yet: the ones a calendar change may still move."""
    return session.exec(select(Deadline).where(col(Deadline.swept_at).is_(None))).all()


def reschedule(session: Session, calendar: WorkingCalendar, schedule: Schedule, decree: str) -> list:
    """Apply a changed calendar to every open deadline: later is announced, earlier is refused
    (DEADLINE_WOULD_SHORTEN: a published deadline is a promise to every participant)."""
    moves = []
    requests = set(session.exec(select(KnownForm.code).where(col(KnownForm.request_id).is_not(None))).all())
    for row in open_deadlines(session):
        if row.form_code in requests:
            continue  # a request's deadline is the time the Ministry set, not a day of the calendar
        new = calendar.effective_deadline(row.rule_date)
        old = aware(row.deadline_at)
        if new < old:
            raise Refused("DEADLINE_WOULD_SHORTEN", form_code=row.form_code, period=row.period, level=row.level,
                          deadline_at=old.isoformat(), would_be=new.isoformat())
        if new != old:
            moves.append((row, new))
    out = []
    for row, new in moves:
        form = session.get(KnownForm, (row.form_code, row.year))
        out += publish(session, row.form_code, row.period, row.level, row.year, row.rule_date, new, schedule,
                       approved_on=form.approved_on if form else None, reason="calendar", decree=decree)
    return out


def add_calendar_entry(session: Session, day: date, kind: str, decree: str, note: str | None, who: str,
                       schedule: Schedule) -> tuple[CalendarEntry, list]:
    if session.exec(select(CalendarEntry).where(CalendarEntry.day == day,
                                                col(CalendarEntry.withdrawn_at).is_(None))).first() is not None:
        raise Refused("CALENDAR_DAY_TAKEN", day=day.isoformat())
    entry = CalendarEntry(day=day, kind=kind, decree=decree, note=note, entered_by=who)
    session.add(entry)
    session.flush()
    events = reschedule(session, calendar_of(session), schedule, decree)
    return entry, events


def withdraw_calendar_entry(session: Session, entry_id: int, who: str, schedule: Schedule) -> tuple[CalendarEntry, list]:
    entry = session.get(CalendarEntry, entry_id)
    if entry is None or entry.withdrawn_at is not None:
        raise Refused("CALENDAR_ENTRY_UNKNOWN", entry_id=entry_id)
    entry.withdrawn_at, entry.withdrawn_by = datetime.now(UTC), who
    session.add(entry)
    session.flush()
    events = reschedule(session, calendar_of(session), schedule, f"withdrawn: {entry.decree}")
    return entry, events

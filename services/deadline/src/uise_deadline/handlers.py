"""Event handlers: (event, session) -> events to emit."""

from __future__ import annotations

import json

from sqlmodel import Session

from uise_common.consumer import NotYetKnown
from uise_contracts.events import (
    DeadlineViolation,
    FormListApproved,
    ParticipantUpserted,
    SubmissionAccepted,
    SubmissionReceived,
    TimelinessRecorded,
)
from uise_deadline.adapters import KnownForm, KnownParticipant, Timeliness
from uise_deadline.calendar import WorkingCalendar
from uise_deadline.domain import PeriodError, effective_deadline


def on_participant(event: ParticipantUpserted, session: Session) -> list:
    session.merge(KnownParticipant(participant_id=event.participant_id, level=event.level.value))
    return []


def on_formlist(event: FormListApproved, session: Session) -> list:
    for form in event.forms:
        days = {lvl.value: n for lvl, n in form.deadline_days.items()}
        session.merge(KnownForm(code=form.code, year=event.year, deadline_days=json.dumps(days)))
    return []


def on_received(event: SubmissionReceived, session: Session) -> list:
    if session.get(Timeliness, event.submission_id) is not None:
        return []
    participant = session.get(KnownParticipant, event.participant_id)
    if participant is None:
        raise NotYetKnown(f"participant {event.participant_id}")
    form = session.get(KnownForm, (event.form_code, int(event.period[:4]))) if event.period[:4].isdigit() else None
    deadline = None
    if form is not None:
        days = json.loads(form.deadline_days).get(participant.level)
        if days is not None:
            try:
                deadline = effective_deadline(event.period, days, WorkingCalendar())
            except PeriodError:
                deadline = None
    on_time = None if deadline is None else event.delivered_at <= deadline
    session.add(Timeliness(submission_id=event.submission_id, participant_id=event.participant_id,
                           form_code=event.form_code, period=event.period, delivered_at=event.delivered_at,
                           deadline_at=deadline, on_time=on_time))
    out: list = [TimelinessRecorded(submission_id=event.submission_id, participant_id=event.participant_id,
                                    form_code=event.form_code, period=event.period,
                                    delivered_at=event.delivered_at, deadline_at=deadline, on_time=on_time)]
    if on_time is False:
        out.append(DeadlineViolation(participant_id=event.participant_id, form_code=event.form_code,
                                     period=event.period, kind="late", deadline_at=deadline,
                                     submission_id=event.submission_id))
    return out


def on_accepted(event: SubmissionAccepted, session: Session) -> list:
    row = session.get(Timeliness, event.submission_id)
    if row is None:
        raise NotYetKnown(f"timeliness of {event.submission_id}")
    row.accepted = True
    session.add(row)
    return []

"""Event handlers: (event, session) -> events to emit. Every submission gets exactly one
Decision row; a second event about a decided submission emits nothing."""

from __future__ import annotations

from sqlmodel import Session, select

from uise_common.consumer import NotYetKnown
from uise_contracts.events import (
    FormListApproved,
    ParticipantUpserted,
    SignatureChecked,
    SubmissionAccepted,
    SubmissionRejected,
    SubmissionValidated,
)
from uise_routing.adapters import Decision, InboxItem, KnownForm, KnownParticipant
from uise_routing.domain import check_route


def on_participant(event: ParticipantUpserted, session: Session) -> list:
    session.merge(KnownParticipant(participant_id=event.participant_id, kind=event.kind,
                                   parent_id=event.parent_id, active=event.active))
    return []


def on_formlist(event: FormListApproved, session: Session) -> list:
    for form in event.forms:
        session.merge(KnownForm(code=form.code, year=event.year, respondent_kinds=",".join(form.respondent_kinds)))
    return []


def _reject(session: Session, event, stage: str, code: str, message: str) -> list:
    session.add(Decision(submission_id=event.submission_id, outcome="rejected", reason_code=code))
    return [SubmissionRejected(submission_id=event.submission_id, participant_id=event.participant_id,
                               form_code=event.form_code, period=event.period, stage=stage,
                               reason_code=code, message=message)]


def on_signature_checked(event: SignatureChecked, session: Session) -> list:
    if event.ok or session.get(Decision, event.submission_id) is not None:
        return []
    return _reject(session, event, "signature", event.reason_code or "SIGNATURE_INVALID", event.message or "")


def on_validated(event: SubmissionValidated, session: Session) -> list:
    if session.get(Decision, event.submission_id) is not None:
        return []
    if not event.ok:
        errors = [f for f in event.findings if f.severity == "error"]
        first = errors[0] if errors else None
        return _reject(session, event, "validation", "VALIDATION_FAILED",
                       "; ".join(f.message for f in errors) or (first.message if first else ""))
    participant = session.get(KnownParticipant, event.participant_id)
    year = int(event.period[:4])
    form = session.get(KnownForm, (event.form_code, year))
    if participant is None or form is None:
        raise NotYetKnown(f"participant {event.participant_id} or form {event.form_code}/{year}")
    refusal = check_route(participant.kind, participant.parent_id, participant.active, form.respondent_kinds.split(","))
    if refusal:
        return _reject(session, event, "routing", refusal.code, refusal.message)
    # a correction supersedes what the same participant filed for the same form and period
    for earlier in session.exec(select(InboxItem).where(
            InboxItem.participant_id == event.participant_id, InboxItem.form_code == event.form_code,
            InboxItem.period == event.period, InboxItem.superseded_by.is_(None))):
        earlier.superseded_by = event.submission_id
        session.add(earlier)
    session.add(InboxItem(submission_id=event.submission_id, recipient_id=participant.parent_id,
                          participant_id=event.participant_id, form_code=event.form_code, period=event.period))
    session.add(Decision(submission_id=event.submission_id, outcome="accepted"))
    return [SubmissionAccepted(submission_id=event.submission_id, participant_id=event.participant_id,
                               recipient_id=participant.parent_id, form_code=event.form_code,
                               period=event.period, values=event.values, values_exact=event.values_exact)]

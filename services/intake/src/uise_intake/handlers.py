"""Intake's event handlers: read models, and each outcome appended to the submission's
timeline with the service that took the step."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import Session, col

from uise_common.consumer import NotYetKnown
from uise_common.periods import parse_period
from uise_contracts.events import (
    ConsolidationDue,
    FormListApproved,
    InfoRequestIssued,
    ParticipantUpserted,
    SignatureChecked,
    SubmissionAccepted,
    SubmissionAggregated,
    SubmissionProcessingFailed,
    SubmissionQueried,
    SubmissionReceived,
    SubmissionRejected,
    SubmissionReturned,
    SubmissionValidated,
    TimelinessRecorded,
)
from uise_contracts.topics import topic_for
from uise_intake.adapters import (
    KnownForm,
    KnownParticipant,
    RequestMember,
    Submission,
    TimelineEntry,
)
from uise_intake.commands import almaty
from uise_intake.domain import next_status
from uise_intake.reasons import OUTCOMES


def on_participant(event: ParticipantUpserted, session: Session) -> list:
    session.merge(KnownParticipant(participant_id=event.participant_id, kind=event.kind,
                                   parent_id=event.parent_id, active=event.active, level=event.level.value))
    return []


def on_formlist(event: FormListApproved, session: Session) -> list:
    for form in event.forms:
        held = session.get(KnownForm, (form.code, event.year))
        if held is not None and held.request_id is not None:
            continue  # an information request's form keeps its own definition (codes are unique)
        session.merge(KnownForm(code=form.code, year=event.year, respondent_kinds=",".join(form.respondent_kinds),
                                period_type=form.period_type, levels=",".join(form.deadline_days)))
    return []


def on_inforequest(event: InfoRequestIssued, session: Session) -> list:
    """An information request's form, and one more participant it concerns (one event per
    member): merged by key, so a replay or a second replica changes nothing."""
    if event.form is None or event.period is None:
        return []  # a v1.2 producer's event: nothing to learn the form from
    year = parse_period(event.period).start.year
    form = event.form
    session.merge(KnownForm(code=form.code, year=year, respondent_kinds=",".join(form.respondent_kinds),
                            period_type=form.period_type, levels=",".join(form.deadline_days),
                            request_id=event.request_id))
    session.merge(RequestMember(form_code=form.code, participant_id=event.to_participant_id,
                                request_id=event.request_id, role=event.role))
    return []


@dataclass(frozen=True)
class _About:
    """An event that concerns a submission without being about it by its own id."""

    submission_id: str


def _step(event: BaseModel | _About, session: Session, step: str, status: str | None, detail: dict,
          reason_code: str | None = None, service: str | None = None) -> list:
    sub = session.get(Submission, event.submission_id)
    if sub is None:
        raise NotYetKnown(f"submission {event.submission_id}")
    service = service or topic_for(event).producers[0]
    session.add(TimelineEntry(submission_id=sub.submission_id, step=step, service=service,
                              detail=json.dumps(detail, default=str, ensure_ascii=False)))
    if status is not None:
        _advance(session, sub, status, reason_code)
    return []


def _advance(session: Session, sub: Submission, status: str, reason_code: str | None) -> bool:
    """Move the status on by compare-and-set: each outcome has its own consumer, so two may run
    at once (accepted beside a late validated). A plain read-modify-write lets the later commit
    overwrite a final state with a stale one (SQLite's driver reads outside the write
    transaction; PostgreSQL's READ COMMITTED does the same). The UPDATE applies only if the
    status is still the one read; otherwise it is read again and judged again. True when this
    call moved it."""
    for _ in range(10):
        current = sub.status
        new = next_status(current, status)
        if new == current:
            return False
        done = session.execute(update(Submission).where(
            col(Submission.submission_id) == sub.submission_id, col(Submission.status) == current)
            .values(status=new, reason_code=reason_code)).rowcount
        session.refresh(sub)  # the committed row as it is now (ours, or another consumer's)
        if done:
            return True
    raise RuntimeError(f"submission {sub.submission_id}: its status keeps changing under us")


def on_signature_checked(e: SignatureChecked, s: Session) -> list:
    # Every signer of a co-signed CMS, and the time the certificates were judged at (v1.2).
    signers = [{"name": x.name, "iin": x.iin, "serial": x.serial, "satisfies_policy": x.satisfies_policy}
               for x in e.signers]
    return _step(e, s, "signature_checked", "signature_checked",
                 {"ok": e.ok, "reason_code": e.reason_code, "message": e.message,
                  "signer": e.signer.model_dump() if e.signer else None, "signers": signers,
                  "trusted_time": e.trusted_time, "time_source": e.time_source})


def on_validated(e: SubmissionValidated, s: Session) -> list:
    return _step(e, s, "validated", "validated",
                 {"ok": e.ok, "findings": [f.model_dump() for f in e.findings]})


def on_queried(e: SubmissionQueried, s: Session) -> list:
    return _step(e, s, "queried", "queried", {"queries": [f.model_dump(mode="json") for f in e.findings],
                                              "form_version": e.form_version})


def on_accepted(e: SubmissionAccepted, s: Session) -> list:
    # a correction of data already accepted is a correction of distorted data (clause 11)
    return _step(e, s, "accepted", "accepted", {"recipient_id": e.recipient_id, "supersedes": e.supersedes,
                                                "corrects_accepted": e.corrects_accepted})


def on_returned(e: SubmissionReturned, s: Session) -> list:
    return _step(e, s, "returned", "returned", {"recipient_id": e.recipient_id, "comment": e.comment,
                                                "returned_by": e.returned_by, "returned_at": almaty(e.returned_at)},
                 "RETURNED")


def on_consolidation_due(e: ConsolidationDue, s: Session) -> list:
    """A change below after the node submitted its consolidation: the node's own submission
    needs a correction, and its timeline says so (the other reasons concern no submission)."""
    if e.reason != "correction" or e.submission_id is None:
        return []
    return _step(_About(e.submission_id), s, "correction_needed", None,
                 {"node_id": e.node_id, "due_id": e.due_id, "included": e.included, "late": e.late,
                  "missing": e.missing, "returned": e.returned}, service="deadline")


def on_rejected(e: SubmissionRejected, s: Session) -> list:
    return _step(e, s, "rejected", "rejected",
                 {"stage": e.stage, "reason_code": e.reason_code, "message": e.message}, e.reason_code)


# Dead-lettered events a submission does not wait on: their consumers keep a side record
# (timeliness, aggregates) while the submission goes its way to a final state, so their failure
# is for operations (the DLQ) and leaves the status alone. Events that come after a final state
# (accepted, returned) need no entry here: a final state never changes.
SIDE_RECORDS = {
    ("deadline", topic_for(SubmissionReceived).name),
    ("intake", topic_for(TimelinessRecorded).name),
    ("intake", topic_for(SubmissionAggregated).name),
}


def on_processing_failed(e: SubmissionProcessingFailed, s: Session) -> list:
    """A service could not process an event the submission waits on and dead-lettered it: the
    submission is rejected (PROCESSING_FAILED) unless it is final already, so it never waits
    forever. Compare-and-set as every status change; a replay finds it rejected and adds nothing."""
    if (e.stage, e.topic) in SIDE_RECORDS:
        return []
    sub = s.get(Submission, e.submission_id)
    if sub is None:
        raise NotYetKnown(f"submission {e.submission_id}")
    if _advance(s, sub, "rejected", e.reason_code):
        messages = OUTCOMES[e.reason_code].messages(stage=e.stage) if e.reason_code in OUTCOMES else {}
        s.add(TimelineEntry(submission_id=sub.submission_id, step="rejected", service=e.stage,
                            detail=json.dumps({"stage": e.stage, "reason_code": e.reason_code,
                                               "message": messages.get("en", e.reason_code), "messages": messages,
                                               "error_type": e.error_type, "failure": e.failure},
                                              ensure_ascii=False)))
    return []


def on_timeliness(e: TimelinessRecorded, s: Session) -> list:
    return _step(e, s, "timeliness_recorded", None,
                 {"deadline_at": almaty(e.deadline_at) if e.deadline_at else None, "on_time": e.on_time, "calendar_days_late": e.calendar_days_late,
                  "working_days_late": e.working_days_late, "judged_by": e.judged_by_submission_id})


def on_aggregated(e: SubmissionAggregated, s: Session) -> list:
    return _step(e, s, "aggregated", None, {"node_id": e.node_id, "contributors": e.contributors})


CONSUMERS = {
    topic_for(ParticipantUpserted): on_participant,
    topic_for(FormListApproved): on_formlist,
    topic_for(InfoRequestIssued): on_inforequest,
    topic_for(SignatureChecked): on_signature_checked,
    topic_for(SubmissionValidated): on_validated,
    topic_for(SubmissionAccepted): on_accepted,
    topic_for(SubmissionRejected): on_rejected,
    topic_for(SubmissionProcessingFailed): on_processing_failed,
    topic_for(SubmissionQueried): on_queried,
    topic_for(TimelinessRecorded): on_timeliness,
    topic_for(SubmissionAggregated): on_aggregated,
    topic_for(SubmissionReturned): on_returned,
    topic_for(ConsolidationDue): on_consolidation_due,
}

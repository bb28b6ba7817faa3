"""What a recipient does with what it received: accept it explicitly (reviewed) or return it for
correction with a comment. Each command is (session, ...) -> (item, events); the HTTP route
writes the events through the outbox in the same transaction."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlmodel import Session, select

from uise_common.periods import PeriodInvalid, parse_period
from uise_contracts.events import (
    Category,
    FormDefinition,
    InfoRequestIssued,
    InfoRequestTarget,
    Level,
    SubmissionReturned,
)
from uise_routing.adapters import (
    InboxItem,
    InfoRequest,
    InfoRequestMember,
    KnownForm,
    KnownParticipant,
)
from uise_routing.domain import Refused, check_return_comment
from uise_routing.handlers import submitter_of
from uise_routing.inforequests import Target, days_after, members_of, resolve


def _current_item(session: Session, recipient_id: str, submission_id: str) -> InboxItem:
    # FOR UPDATE: two officers returning at once on PostgreSQL (READ COMMITTED) queue up here,
    # so only one return is written and emitted
    item = session.exec(select(InboxItem).where(InboxItem.submission_id == submission_id).with_for_update()).first()
    if item is None or item.recipient_id != recipient_id:
        raise Refused("SUBMISSION_NOT_IN_INBOX", submission_id=submission_id, recipient_id=recipient_id)
    if item.superseded_by is not None or item.state == "superseded":
        raise Refused("NOT_CURRENT", submission_id=submission_id, superseded_by=item.superseded_by)
    return item


def review(session: Session, recipient_id: str, submission_id: str, by: str, now: datetime
           ) -> tuple[InboxItem, list]:
    """The recipient has looked at the submission and accepts it (it was accepted on arrival;
    this marks it reviewed). A repeat changes nothing."""
    item = _current_item(session, recipient_id, submission_id)
    if item.state == "returned":
        raise Refused("ALREADY_RETURNED", submission_id=submission_id)
    if item.state != "reviewed":
        item.state, item.reviewed_by, item.reviewed_at = "reviewed", by, now
        session.add(item)
    return item, []


def return_submission(session: Session, recipient_id: str, submission_id: str, comment: str | None, by: str,
                      now: datetime) -> tuple[InboxItem, list]:
    """Send the submission back: the submitter must correct it; its figures leave the
    recipient's consolidation until the correction is accepted. Repeating the same return
    changes nothing and emits nothing."""
    text = check_return_comment(comment)
    item = _current_item(session, recipient_id, submission_id)
    if item.state == "returned":
        if item.return_comment == text:
            return item, []
        raise Refused("ALREADY_RETURNED", submission_id=submission_id)
    item.state, item.returned_by, item.returned_at, item.return_comment = "returned", by, now, text
    session.add(item)
    return item, [SubmissionReturned(submission_id=item.submission_id, participant_id=item.participant_id,
                                     recipient_id=item.recipient_id, form_code=item.form_code, period=item.period,
                                     comment=text, returned_by=by, returned_at=now)]


# --- information requests (clause 12) ---------------------------------------------------------


def issue_request(session: Session, *, title: str, form: FormDefinition, period_text: str,
                  target: InfoRequestTarget, due_at: datetime, relay_days: int, issued_by: str,
                  issuer_id: str | None, now: datetime) -> tuple[InfoRequest, list]:
    """Store the request, its members and its form's row, and one InfoRequestIssued per member:
    the HTTP route writes them through the outbox in this same transaction."""
    if form.category != Category.other:
        raise Refused("REQUEST_FORM_CATEGORY", category=str(form.category))
    if form.period_type != "as_of_date":
        raise Refused("REQUEST_PERIOD_TYPE", period_type=form.period_type)
    try:
        period = parse_period(period_text)
    except PeriodInvalid as exc:
        raise Refused("PERIOD_INVALID", period=period_text, why=exc.why) from None
    if period.kind != "as_of_date":
        raise Refused("REQUEST_PERIOD_TYPE", period_type=period.kind)
    if due_at.tzinfo is None:
        raise Refused("DUE_AT_NAIVE")
    if due_at <= now:
        raise Refused("DUE_AT_PAST", due_at=due_at.isoformat(), now=now.isoformat())
    # a code on any approved list, or another request's: one code, one meaning, everywhere
    if session.exec(select(KnownForm.code).where(KnownForm.code == form.code).limit(1)).first() is not None or \
            session.exec(select(InfoRequest.request_id).where(InfoRequest.form_code == form.code)).first() is not None:
        raise Refused("FORM_CODE_TAKEN", form_code=form.code)
    everyone = {row.participant_id: submitter_of(row) for row in session.exec(select(KnownParticipant))}
    wanted = Target(kinds=tuple(target.kinds), levels=tuple(lv.value for lv in target.levels),
                    within=target.within, participant_ids=tuple(target.participant_ids))
    targets = resolve(wanted, everyone, period.start)
    members = members_of(targets, everyone, period.start, due_at, relay_days)
    # the form's deadlines as every consumer reads them: days after the as-of date, per level
    levels = {m.level: days_after(period.end, m.due_at) for m in members}
    definition = form.model_copy(update={"deadline_days": {Level(k): v for k, v in sorted(levels.items())}})
    request_id = f"ir-{uuid.uuid4().hex[:16]}"
    request = InfoRequest(request_id=request_id, form_code=form.code, title=title, period=period.text,
                          issued_by=issued_by, issuer_id=issuer_id, due_at=due_at, relay_days=relay_days,
                          target=target.model_dump_json(), form=definition.model_dump_json(), issued_at=now)
    session.add(request)
    session.add(KnownForm(code=form.code, year=period.start.year, respondent_kinds=",".join(form.respondent_kinds),
                          period_type=form.period_type, request_id=request_id,
                          deadline_days=json.dumps({k: v for k, v in sorted(levels.items())})))
    events = []
    for m in members:
        session.add(InfoRequestMember(request_id=request_id, participant_id=m.participant_id, form_code=form.code,
                                      role=m.role, level=m.level, parent_id=m.parent_id, due_at=m.due_at))
        events.append(InfoRequestIssued(
            request_id=request_id, issued_by=issued_by, form_code=form.code, to_participant_id=m.participant_id,
            due_at=m.due_at, role=m.role, level=Level(m.level), parent_id=m.parent_id, period=period.text,
            form=definition, target=target, title=title))
    session.flush()
    return request, events

"""What a recipient does with what it received: accept it explicitly (reviewed) or return it for
correction with a comment. Each command is (session, ...) -> (item, events); the HTTP route
writes the events through the outbox in the same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from uise_contracts.events import SubmissionReturned
from uise_routing.adapters import InboxItem
from uise_routing.domain import Refused, check_return_comment


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

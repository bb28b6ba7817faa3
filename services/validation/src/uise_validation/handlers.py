"""Event handlers: (event, session) -> events to emit."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from sqlmodel import Session, select

from uise_common.consumer import NotYetKnown
from uise_contracts.events import (
    FormDefinition,
    FormListApproved,
    SignatureChecked,
    StoredObject,
    SubmissionValidated,
)
from uise_validation.adapters import KnownForm, Result
from uise_validation.domain import apply_explanations, check_identity, check_rules, read_document
from uise_validation.reading import exact_strings, finding, legacy_values

log = logging.getLogger(__name__)


def on_formlist(event: FormListApproved, session: Session) -> list:
    for form in event.forms:
        session.merge(KnownForm(code=form.code, year=event.year, definition=form.model_dump_json()))
    return []


def form_for(session: Session, code: str, period: str) -> FormDefinition | None:
    year = int(period[:4]) if period[:4].isdigit() else None
    rows = session.exec(select(KnownForm).where(KnownForm.code == code)).all()
    match = [r for r in rows if r.year == year] or []
    return FormDefinition.model_validate_json(match[0].definition) if match else None


def make_on_signature_checked(fetch: Callable[[StoredObject], bytes]):
    def on_signature_checked(event: SignatureChecked, session: Session) -> list:
        if not event.ok or session.get(Result, event.submission_id) is not None:
            return []  # refused signatures end at routing; a decided one is not redone
        form = form_for(session, event.form_code, event.period)
        if form is None:
            raise NotYetKnown(f"form {event.form_code} for {event.period}")
        data = fetch(event.document)  # a store outage raises: the consumer retries, as it should
        try:
            # Nothing a document holds may fail the consumer: reading never raises for content,
            # and anything unforeseen is the sender's rejection (logged), not a dead letter.
            doc = read_document(data, event.document.media_type, form)
            findings = (check_identity(doc, event.form_code, event.period, event.participant_id)
                        + doc.findings + check_rules(form, doc.values, doc.where))
            findings = apply_explanations(findings, event.explanations)
            values = doc.values
        except Exception:
            log.exception("the document could not be checked", extra={
                "submission_id": event.submission_id, "sha256": event.document.sha256})
            values, findings = {}, [finding("DOCUMENT_UNREADABLE", detail="an unexpected error while checking it; "
                                                                          "the operators have been told")]
        ok = not any(f.severity == "error" for f in findings)
        session.add(Result(submission_id=event.submission_id, ok=ok,
                           findings=json.dumps([f.model_dump() for f in findings])))
        return [SubmissionValidated(
            submission_id=event.submission_id, participant_id=event.participant_id,
            form_code=event.form_code, period=event.period, ok=ok, findings=findings,
            values=legacy_values(form, values), values_exact=exact_strings(values),
        )]

    return on_signature_checked

"""Event handlers: (event, session) -> events to emit."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlmodel import Session, select

from uise_common.consumer import NotYetKnown
from uise_contracts.events import (
    Finding,
    FormDefinition,
    FormListApproved,
    SignatureChecked,
    StoredObject,
    SubmissionValidated,
)
from uise_validation.adapters import KnownForm, Result
from uise_validation.domain import (
    ParseError,
    apply_explanations,
    check,
    check_identity,
    read_document,
)


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
        try:
            doc = read_document(fetch(event.document), event.document.media_type)
            values, findings = check(form, doc.values)
            findings = check_identity(doc, event.form_code, event.period, event.participant_id) + findings
            findings = apply_explanations(findings, event.explanations)
        except ParseError as exc:
            values, findings = {}, [Finding(rule=exc.code, severity="error", message=str(exc))]
        ok = not any(f.severity == "error" for f in findings)
        session.add(Result(submission_id=event.submission_id, ok=ok,
                           findings=json.dumps([f.model_dump() for f in findings])))
        return [SubmissionValidated(
            submission_id=event.submission_id, participant_id=event.participant_id,
            form_code=event.form_code, period=event.period, ok=ok, findings=findings, values=values,
        )]

    return on_signature_checked

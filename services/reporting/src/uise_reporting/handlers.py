"""Event handlers: (event, session) -> events to emit."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlmodel import Session, select

from uise_common.consumer import NotYetKnown
from uise_contracts.events import (
    DeadlineViolation,
    FormDefinition,
    FormListApproved,
    ParticipantUpserted,
    ReportPublished,
    StoredObject,
    SubmissionAccepted,
    SubmissionAggregated,
)
from uise_reporting.adapters import Contribution, KnownForm, KnownParticipant, Report, Violation
from uise_reporting.domain import consolidate

PutDocument = Callable[[bytes, str, str], StoredObject]  # (data, kind, media_type)


def on_participant(event: ParticipantUpserted, session: Session) -> list:
    session.merge(KnownParticipant(participant_id=event.participant_id, kind=event.kind,
                                   parent_id=event.parent_id, active=event.active))
    return []


def on_formlist(event: FormListApproved, session: Session) -> list:
    for form in event.forms:
        session.merge(KnownForm(code=form.code, year=event.year, definition=form.model_dump_json()))
    return []


def on_violation(event: DeadlineViolation, session: Session) -> list:
    session.merge(Violation(participant_id=event.participant_id, form_code=event.form_code,
                            period=event.period, kind=event.kind))
    return []


def make_on_accepted(put: PutDocument):
    def on_accepted(event: SubmissionAccepted, session: Session) -> list:
        known = session.get(KnownForm, (event.form_code, int(event.period[:4])))
        if known is None:
            raise NotYetKnown(f"form {event.form_code}")
        form = FormDefinition.model_validate_json(known.definition)
        key = (event.recipient_id, event.participant_id, event.form_code, event.period)
        row = session.get(Contribution, key)
        if row is None:
            row = Contribution(node_id=event.recipient_id, participant_id=event.participant_id,
                               form_code=event.form_code, period=event.period,
                               submission_id=event.submission_id, values="{}")
        row.submission_id, row.values = event.submission_id, json.dumps(event.values)
        session.add(row)
        session.flush()
        rows = session.exec(select(Contribution).where(
            Contribution.node_id == event.recipient_id, Contribution.form_code == event.form_code,
            Contribution.period == event.period)).all()
        out: list = [SubmissionAggregated(submission_id=event.submission_id, participant_id=event.participant_id,
                                          node_id=event.recipient_id, form_code=event.form_code,
                                          period=event.period, contributors=len(rows))]
        expected = session.exec(select(KnownParticipant).where(
            KnownParticipant.parent_id == event.recipient_id, KnownParticipant.active)).all()
        expected_ids = {p.participant_id for p in expected if p.kind in form.respondent_kinds}
        if expected_ids and expected_ids <= {r.participant_id for r in rows}:
            totals = consolidate(form, [json.loads(r.values) for r in rows])
            report_id = f"{event.recipient_id}:{event.form_code}:{event.period}:{event.submission_id}"
            body = json.dumps({"report_id": report_id, "node_id": event.recipient_id, "form_code": event.form_code,
                               "period": event.period, "totals": totals,
                               "contributors": sorted(r.participant_id for r in rows)}, sort_keys=True).encode()
            doc = put(body, "reports", "application/json")
            session.add(Report(report_id=report_id, node_id=event.recipient_id, form_code=event.form_code,
                               period=event.period, document_key=doc.key))
            out.append(ReportPublished(report_id=report_id, node_id=event.recipient_id, form_code=event.form_code,
                                       period=event.period, document=doc, totals=totals))
        return out

    return on_accepted

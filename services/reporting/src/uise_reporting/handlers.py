"""Event handlers: (event, session) -> events to emit."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from uise_common.aggregates import aggregated_cells, combine, figures, plain
from uise_common.consumer import NotYetKnown
from uise_common.db import utcnow
from uise_common.docsign import DocumentSigner
from uise_common.periods import parse_period
from uise_contracts.events import (
    ConsolidationDue,
    ConsolidationReady,
    DeadlineViolation,
    FormListApproved,
    InfoRequestIssued,
    ParticipantUpserted,
    StoredObject,
    SubmissionAccepted,
    SubmissionAggregated,
    SubmissionReturned,
)
from uise_reporting import documents, queries, reports
from uise_reporting.adapters import (
    AcceptedSubmission,
    Consolidation,
    KnownForm,
    KnownFormList,
    KnownParticipant,
    ReturnedSubmission,
    Violation,
)
from uise_reporting.reports import Link

PutDocument = Callable[[bytes, str, str], StoredObject]  # (data, kind, media_type)


def on_participant(event: ParticipantUpserted, session: Session) -> list:
    session.merge(KnownParticipant(participant_id=event.participant_id, kind=event.kind,
                                   parent_id=event.parent_id, active=event.active))
    return []


def on_formlist(event: FormListApproved, session: Session) -> list:
    for form in event.forms:
        session.merge(KnownForm(code=form.code, year=event.year, definition=form.model_dump_json()))
    session.merge(KnownFormList(year=event.year, version=event.version, order_no=event.order_no,
                                order_date=event.order_date.isoformat()))
    return []


def on_inforequest(event: InfoRequestIssued, session: Session) -> list:
    """An information request's form (clause 12): its answers consolidate like any form's. One
    event per member, all with the same form: merged by key, a replay changes nothing."""
    if event.form is None or event.period is None:
        return []
    session.merge(KnownForm(code=event.form.code, year=parse_period(event.period).start.year,
                            definition=event.form.model_dump_json()))
    return []


def on_violation(event: DeadlineViolation, session: Session) -> list:
    session.merge(Violation(participant_id=event.participant_id, form_code=event.form_code,
                            period=event.period, kind=event.kind))
    return []


def on_accepted(event: SubmissionAccepted, session: Session) -> list:
    """Keep the accepted submission (history, once per submission_id: a replay changes nothing);
    the node's current figures are read from the kept rows, so nothing shared is updated."""
    if session.get(AcceptedSubmission, event.submission_id) is None:
        exact = {k: v for k, v in event.values_exact.items()}
        for k, v in event.values.items():  # values_exact, else the value as given
            if k not in exact and not isinstance(v, bool) and isinstance(v, int | float | str):
                exact[k] = repr(v) if isinstance(v, float) else str(v)
        session.add(AcceptedSubmission(
            submission_id=event.submission_id, node_id=event.recipient_id, participant_id=event.participant_id,
            form_code=event.form_code, period=event.period, values=json.dumps(exact, sort_keys=True),
            aggregates=json.dumps({k: a.model_dump() for k, a in event.aggregates.items()}, sort_keys=True),
            supersedes=event.supersedes, corrects_accepted=event.corrects_accepted,
            level=event.level.value if event.level else None,
            findings=json.dumps([f.model_dump(mode="json") for f in event.findings])))
        session.flush()
    current = queries.current_submissions(session, event.recipient_id, event.form_code, event.period)
    return [SubmissionAggregated(submission_id=event.submission_id, participant_id=event.participant_id,
                                 node_id=event.recipient_id, form_code=event.form_code, period=event.period,
                                 contributors=len(current))]


def make_on_accepted(put: PutDocument | None = None):
    """Kept for callers of the old factory: accepting no longer builds a report (a consolidation
    is built on `consolidation.due`)."""
    return on_accepted


def on_returned(event: SubmissionReturned, session: Session) -> list:
    """The returned submission leaves the node's current figures until its correction (a
    submission superseding it) is accepted. Order-free: a return may arrive before the acceptance."""
    if session.get(ReturnedSubmission, event.submission_id) is None:
        session.add(ReturnedSubmission(submission_id=event.submission_id, node_id=event.recipient_id,
                                       participant_id=event.participant_id, form_code=event.form_code,
                                       period=event.period, comment=event.comment, returned_at=event.returned_at))
    return []


VersionTaken = reports.VersionTaken  # a replica built this version at the same time: retried


def _due_id(event: ConsolidationDue) -> str:
    if event.due_id:
        return event.due_id
    # An older producer gave no due_id: the event's content stands for it.
    return "content:" + hashlib.sha256(event.model_dump_json().encode()).hexdigest()


def _chosen(session: Session, event: ConsolidationDue) -> dict[str, AcceptedSubmission]:
    """participant -> the accepted submission to count: exactly `included_submissions`; a due
    without them (an older producer) counts the current submissions of `included`."""
    if event.included_submissions:
        chosen: dict[str, AcceptedSubmission] = {}
        for participant, sid in sorted(event.included_submissions.items()):
            row = session.get(AcceptedSubmission, sid)
            if row is None:
                raise NotYetKnown(f"submission {sid} of {participant} is not yet known to reporting")
            chosen[participant] = row
        return chosen
    current = queries.current_submissions(session, event.node_id, event.form_code, event.period)
    unknown = [p for p in event.included if p not in current]
    if unknown:
        raise NotYetKnown(f"no accepted submission yet of {', '.join(sorted(unknown))}")
    return {p: current[p] for p in event.included}


def make_on_due(put: PutDocument, signer: DocumentSigner | None = None, link: Link | None = None):
    """`signer`: reporting's document key (a process-long one when not given: tests); `link`:
    the signed links report.published carries (uise_reporting.published; the bare API path when
    not given)."""
    signer = signer or DocumentSigner.ephemeral()

    def on_due(event: ConsolidationDue, session: Session) -> list:
        due_id = _due_id(event)
        if session.exec(select(Consolidation).where(Consolidation.due_id == due_id)).first() is not None:
            return []  # a replayed due: its version is built already
        form = queries.form_for(session, event.form_code, event.period)
        if form is None:
            raise NotYetKnown(f"form {event.form_code} for {event.period}")
        chosen = _chosen(session, event)
        rules = aggregated_cells(form)
        aggs = combine(queries.contribution_of(form, row) for row in chosen.values())
        ordered = {code: aggs[code] for code in rules if code in aggs}
        shown = figures(rules, ordered)
        version = queries.next_version(session, event.node_id, event.form_code, event.period)
        cid = f"{event.node_id}:{event.form_code}:{event.period}:{version}"
        built = documents.Built(
            consolidation_id=cid, node_id=event.node_id, form_code=event.form_code, period=event.period,
            version=version, reason=event.reason, aggregates=ordered, figures=shown,
            included=sorted(chosen), late=sorted(event.late), missing=sorted(event.missing),
            returned=sorted(event.returned),
            included_submissions={p: r.submission_id for p, r in sorted(chosen.items())})
        # Documents first (content-addressed, so a retry writes the same objects), then the rows.
        json_doc = put(documents.json_document(built), "consolidations", documents.JSON)
        xlsx_doc = put(documents.xlsx_document(form, built), "consolidations", documents.XLSX)
        totals = {code: None if v is None else plain(v) for code, v in shown.items()}
        aggregates = {code: a.contract() for code, a in ordered.items()}
        lists = {"included": built.included, "late": built.late, "missing": built.missing,
                 "returned": built.returned, "included_submissions": dict(built.included_submissions)}
        built_at = utcnow()
        session.add(Consolidation(
            consolidation_id=cid, node_id=event.node_id, form_code=event.form_code, period=event.period,
            version=version, reason=event.reason, due_id=due_id,
            documents=json.dumps({"json": json_doc.model_dump(), "xlsx": xlsx_doc.model_dump()}),
            totals=json.dumps(totals), aggregates=json.dumps({k: a.model_dump() for k, a in aggregates.items()}),
            lists=json.dumps(lists), built_at=built_at))
        try:
            # A replica racing for the same version (or due) fails here (PostgreSQL checks a unique
            # key at the insert, waiting for the other transaction): the consumer retries the
            # whole event, which then finds the next version free, or the due built.
            session.flush()
        except IntegrityError as exc:
            raise VersionTaken(f"{cid}: built concurrently; retrying") from exc
        ready = ConsolidationReady(
            consolidation_id=cid, node_id=event.node_id, form_code=event.form_code, period=event.period,
            version=version, reason=event.reason, documents={"xlsx": xlsx_doc, "json": json_doc},
            totals=totals, aggregates=aggregates, built_at=built_at, **lists)
        # The report version of this consolidation (same transaction: a replayed due builds
        # neither; a racing replica's loser retries both).
        report = reports.build(session, form=form, node_id=event.node_id, period=event.period, chosen=chosen,
                               lists=lists, reason=event.reason, level=event.level, due_id=due_id, put=put,
                               signer=signer, built_at=built_at, link=link)
        return [ready, report]

    return on_due

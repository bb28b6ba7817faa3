"""Validation's event handlers: (event, session) -> events to emit.

A submission with a good signature is read against the version of its form in force for its
period and judged (domain.judge). Errors reject it; queries without an explanation hold it
(`submission.queried`) until the submitter explains them (`submission.explained`); otherwise it
is validated. Accepted figures are kept: the history and peers outliers are judged against, and
what a department's consolidation must add up to."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, select

from uise_common.aggregates import Agg, aggregated_cells, contribution
from uise_common.consumer import NotYetKnown
from uise_common.periods import PeriodInvalid, parse_period
from uise_contracts.events import (
    Finding,
    FormDefinition,
    FormListApproved,
    InfoRequestIssued,
    ParticipantUpserted,
    SignatureChecked,
    StoredObject,
    SubmissionAccepted,
    SubmissionExplained,
    SubmissionQueried,
    SubmissionReturned,
    SubmissionValidated,
)
from uise_validation.adapters import AcceptedFigures, KnownForm, KnownParticipant, Result
from uise_validation.domain import Context, Judgement, check_identity, explain, judge, read_document
from uise_validation.outliers import OutlierPolicy
from uise_validation.reading import exact_strings, finding, legacy_values

log = logging.getLogger(__name__)


# --- read models ---------------------------------------------------------------------------------


def on_formlist(event: FormListApproved, session: Session) -> list:
    """Every approved version is kept: a period is judged by the version in force for it."""
    for form in event.forms:
        session.merge(KnownForm(code=form.code, year=event.year, list_version=event.version,
                                definition=form.model_dump_json(), order_no=event.order_no,
                                order_date=event.order_date))
    return []


# An information request's form is no list's: it is kept as list version 0 of its year, in force
# from the start (no order date), so `form_for` judges a request's answers by the request's own
# definition. Codes are unique across lists and requests (routing refuses a taken one).
REQUEST_LIST_VERSION = 0


def on_inforequest(event: InfoRequestIssued, session: Session) -> list:
    """The request's form (clause 12), from any of its per-member events: merged by key, so the
    replays and the other members' events change nothing."""
    if event.form is None or event.period is None:
        return []
    session.merge(KnownForm(code=event.form.code, year=parse_period(event.period).start.year,
                            list_version=REQUEST_LIST_VERSION, definition=event.form.model_dump_json(),
                            order_no=f"request {event.request_id}", order_date=None))
    return []


def on_participant(event: ParticipantUpserted, session: Session) -> list:
    session.merge(KnownParticipant(participant_id=event.participant_id, level=event.level.value,
                                   parent_id=event.parent_id))
    return []


def on_accepted(event: SubmissionAccepted, session: Session) -> list:
    """The latest accepted figures of a participant's form and period: a correction replaces its
    predecessor by its `supersedes` link; an older version read after its correction does not."""
    row = session.get(AcceptedFigures, (event.participant_id, event.form_code, event.period))
    if row is not None and row.supersedes == event.submission_id:
        return []
    values = event.values_exact or {k: (None if v is None else str(v)) for k, v in event.values.items()}
    session.merge(AcceptedFigures(participant_id=event.participant_id, form_code=event.form_code,
                                  period=event.period, recipient_id=event.recipient_id,
                                  submission_id=event.submission_id, values=json.dumps(values),
                                  supersedes=event.supersedes,
                                  aggregates=json.dumps({c: a.model_dump() for c, a in event.aggregates.items()})))
    return []


def on_returned(event: SubmissionReturned, session: Session) -> list:
    """A returned submission's figures no longer count, for the consolidation above it nor as
    history, until its correction is accepted."""
    row = session.get(AcceptedFigures, (event.participant_id, event.form_code, event.period))
    if row is not None and row.submission_id == event.submission_id:
        session.delete(row)
    return []


def form_for(session: Session, code: str, period: str) -> tuple[FormDefinition, KnownForm] | None:
    """The version in force for the period: of the year's approved versions, the latest ordered
    by the period's end (an amendment ordered later applies to later periods); when every one came
    after, the first."""
    try:
        p = parse_period(period)
    except PeriodInvalid:
        return None
    rows = sorted(session.exec(select(KnownForm).where(KnownForm.code == code, KnownForm.year == p.start.year)),
                  key=lambda r: r.list_version)
    if not rows:
        return None
    in_force = [r for r in rows if r.order_date is None or r.order_date <= p.end]
    row = in_force[-1] if in_force else rows[0]
    return FormDefinition.model_validate_json(row.definition), row


# --- what is known beyond the document --------------------------------------------------------------


def _numbers(values_json: str) -> dict[str, Decimal]:
    out = {}
    for cell, v in json.loads(values_json).items():
        try:
            out[cell] = Decimal(v) if v is not None else None
        except (ArithmeticError, ValueError, TypeError):
            continue
    return {c: v for c, v in out.items() if isinstance(v, Decimal) and v.is_finite()}


def context_for(session: Session, participant_id: str, form: FormDefinition, form_code: str, period: str,
                policy: OutlierPolicy, min_peers: int) -> Context:
    me = session.get(KnownParticipant, participant_id)
    history: dict[str, list[tuple[str, Decimal]]] = {}
    for row in session.exec(select(AcceptedFigures).where(
            AcceptedFigures.participant_id == participant_id, AcceptedFigures.form_code == form_code,
            col(AcceptedFigures.period) < period).order_by(col(AcceptedFigures.period))):
        for cell, v in _numbers(row.values).items():
            history.setdefault(cell, []).append((row.period, v))
    peers: dict[str, list[tuple[str, Decimal]]] = {}
    if me is not None and me.parent_id:
        rows = session.exec(select(AcceptedFigures).where(
            AcceptedFigures.recipient_id == me.parent_id, AcceptedFigures.form_code == form_code,
            AcceptedFigures.period == period, AcceptedFigures.participant_id != participant_id)).all()
        if len(rows) >= min_peers:  # a handful of schools say nothing about what is usual
            for row in rows:
                for cell, v in _numbers(row.values).items():
                    peers.setdefault(cell, []).append((row.participant_id, v))
    subordinates = None
    if me is not None and me.level != "organization":  # a department consolidates its subordinates
        cells = aggregated_cells(form)
        subordinates = {}
        for row in session.exec(select(AcceptedFigures).where(
                AcceptedFigures.recipient_id == participant_id, AcceptedFigures.form_code == form_code,
                AcceptedFigures.period == period)):
            try:
                subordinates[row.participant_id] = contribution(json.loads(row.values), json.loads(row.aggregates),
                                                                cells)
            except ValueError:  # figures validation itself accepted: never expected
                log.error("accepted aggregates unreadable", extra={"submission_id": row.submission_id})
    return Context(history=history, peers=peers, subordinates=subordinates, outliers=policy)


# --- judging a submission ------------------------------------------------------------------------


@dataclass(frozen=True)
class Carried:
    """What validation passes on from the received submission to routing."""

    addressed_to: str | None = None
    supersedes: str | None = None


def outcome(event, judgement: Judgement, form: FormDefinition, row: KnownForm, carried: Carried) -> list:
    """The event a judgement makes: validated (accepted or rejected by routing) or queried."""
    common = dict(submission_id=event.submission_id, participant_id=event.participant_id,
                  form_code=event.form_code, period=event.period)
    if judgement.queried:
        return [SubmissionQueried(**common, findings=judgement.open_queries, form_version=form.version)]
    findings = judgement.findings
    if not judgement.ok and judgement.open_queries:  # rejected anyway: say which queries were open too
        findings = findings + [_explanation_required(f) for f in judgement.open_queries]
    return [SubmissionValidated(**common, ok=judgement.ok, findings=findings,
                                values=legacy_values(form, judgement.values), values_exact=exact_strings(judgement.values),
                                form_version=form.version, list_year=row.year, list_version=row.list_version,
                                aggregates={c: a.contract() for c, a in judgement.aggregates.items()},
                                addressed_to=carried.addressed_to, supersedes=carried.supersedes)]


def _explanation_required(query: Finding) -> Finding:
    return finding("EXPLANATION_REQUIRED", field=query.field, cells=list(query.cells), detail=query.rule)


DEFAULT_POLICY = OutlierPolicy()


def make_on_signature_checked(fetch: Callable[[StoredObject], bytes], policy: OutlierPolicy = DEFAULT_POLICY,
                              min_peers: int = 5):
    def on_signature_checked(event: SignatureChecked, session: Session) -> list:
        if not event.ok or session.get(Result, event.submission_id) is not None:
            return []  # refused signatures end at routing; a decided one is not redone
        found = form_for(session, event.form_code, event.period)
        if found is None:
            raise NotYetKnown(f"form {event.form_code} for {event.period}")
        form, row = found
        data = fetch(event.document)  # a store outage raises: the consumer retries, as it should
        try:
            # Nothing a document holds may fail the consumer: reading never raises for content,
            # and anything unforeseen is the sender's rejection (logged), not a dead letter.
            doc = read_document(data, event.document.media_type, form)
            identity = check_identity(doc, event.form_code, event.period, event.participant_id)
            context = context_for(session, event.participant_id, form, event.form_code, event.period, policy,
                                  min_peers)
            judgement = judge(form, doc, identity, context, event.explanations)
        except Exception:
            log.exception("the document could not be checked", extra={
                "submission_id": event.submission_id, "sha256": event.document.sha256})
            judgement = Judgement({}, [finding("DOCUMENT_UNREADABLE", detail="an unexpected error while checking "
                                                                             "it; the operators have been told")], [])
        session.add(Result(
            submission_id=event.submission_id, ok=judgement.ok, status="queried" if judgement.queried else "validated",
            findings=json.dumps([f.model_dump(mode="json") for f in judgement.findings], ensure_ascii=False),
            participant_id=event.participant_id, form_code=event.form_code, period=event.period,
            explanations=json.dumps(event.explanations, ensure_ascii=False),
            values=json.dumps(exact_strings(judgement.values)), document=event.document.model_dump_json(),
            form_version=form.version, list_year=row.year, list_version=row.list_version,
            addressed_to=event.addressed_to, supersedes=event.supersedes,
            aggregates=json.dumps({c: a.contract().model_dump() for c, a in judgement.aggregates.items()})))
        return outcome(event, judgement, form, row, Carried(event.addressed_to, event.supersedes))

    return on_signature_checked


def on_explained(event: SubmissionExplained, session: Session) -> list:
    """The submitter's written explanations of a queried submission: once every query is
    explained, it is validated and goes on; until then it stays queried."""
    result = session.get(Result, event.submission_id)
    if result is None:
        raise NotYetKnown(f"validation of {event.submission_id}")
    if result.status != "queried":
        return []  # decided already (a replay, or explanations after the fact)
    found = form_for(session, event.form_code, event.period)
    if found is None:
        raise NotYetKnown(f"form {event.form_code} for {event.period}")
    form, row = found
    explanations = {**json.loads(result.explanations), **event.explanations}
    stored = [Finding.model_validate(f) for f in json.loads(result.findings)]
    findings, open_ = explain(stored, explanations)
    values = {c: (None if v is None else value_of(v)) for c, v in json.loads(result.values).items()}
    aggregates = {c: Agg.from_contract(a) for c, a in json.loads(result.aggregates).items()}
    judgement = Judgement(values, findings, open_, aggregates)
    result.explanations = json.dumps(explanations, ensure_ascii=False)
    result.findings = json.dumps([f.model_dump(mode="json") for f in findings], ensure_ascii=False)
    result.status = "queried" if judgement.queried else "validated"
    session.add(result)
    return outcome(event, judgement, form, row, Carried(result.addressed_to, result.supersedes))


def value_of(text: str) -> Decimal | str | date:
    try:
        return Decimal(text)
    except ArithmeticError:
        try:
            return date.fromisoformat(text)
        except ValueError:
            return text

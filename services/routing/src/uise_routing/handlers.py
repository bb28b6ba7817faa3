"""Event handlers: (event, session) -> events to emit. Every submission gets exactly one
Decision row; a second event about a decided submission emits nothing. Read models merge by key,
so a replay or a second replica changes nothing."""

from __future__ import annotations

import json

from sqlmodel import Session, col, select

from uise_common import clock
from uise_common.consumer import NotYetKnown
from uise_common.db import hold_key
from uise_contracts.events import (
    ConsolidationDue,
    ConsolidationReady,
    DeadlineViolation,
    FormListApproved,
    Level,
    ParticipantUpserted,
    SignatureChecked,
    SubmissionAccepted,
    SubmissionRejected,
    SubmissionValidated,
)
from uise_routing.adapters import (
    Decision,
    InboxItem,
    InFlight,
    InfoRequestMember,
    KnownForm,
    KnownParticipant,
    NodeConsolidation,
    Violation,
)
from uise_routing.domain import FormRule, Refusal, Submitter, check_route

MAX_CHAIN = 1000  # versions of one form and period a chain walk follows at most (bad data must not loop)
ERRORS_QUOTED = 10  # validation errors a rejection's message quotes


# --- read models ---------------------------------------------------------------------------


def on_participant(event: ParticipantUpserted, session: Session) -> list:
    session.merge(KnownParticipant(
        participant_id=event.participant_id, kind=event.kind, parent_id=event.parent_id, active=event.active,
        level=event.level.value, parents=json.dumps([t.model_dump(mode="json") for t in event.parents]),
        active_from=event.active_from, active_to=event.active_to))
    return []


def on_formlist(event: FormListApproved, session: Session) -> list:
    for form in event.forms:
        held = session.get(KnownForm, (form.code, event.year))
        if held is not None and held.request_id is not None:
            continue  # an information request's form keeps its own definition (codes are unique)
        session.merge(KnownForm(code=form.code, year=event.year, respondent_kinds=",".join(form.respondent_kinds),
                                period_type=form.period_type,
                                deadline_days=json.dumps({str(k): v for k, v in form.deadline_days.items()})))
    return []


def submitter_of(row: KnownParticipant) -> Submitter:
    return Submitter(participant_id=row.participant_id, level=row.level or Level.organization.value, kind=row.kind,
                     parent_id=row.parent_id, parents=json.loads(row.parents or "[]"), active=row.active,
                     active_from=row.active_from, active_to=row.active_to)


def form_rule(row: KnownForm, session: Session | None = None) -> FormRule:
    """What routing checks a route against; an information request's form (with the session to
    read them) carries its members, to whom alone it applies."""
    members = None
    if row.request_id is not None and session is not None:
        members = frozenset(session.exec(select(InfoRequestMember.participant_id).where(
            InfoRequestMember.request_id == row.request_id)).all())
    return FormRule(code=row.code, respondent_kinds=tuple(k for k in row.respondent_kinds.split(",") if k),
                    period_type=row.period_type, deadline_days=json.loads(row.deadline_days or "{}"),
                    members=members)


# --- decisions -----------------------------------------------------------------------------


def _reject(session: Session, event, stage: str, code: str, message: str) -> list:
    session.add(Decision(submission_id=event.submission_id, outcome="rejected", reason_code=code,
                         participant_id=event.participant_id, form_code=event.form_code, period=event.period,
                         supersedes=getattr(event, "supersedes", None)))
    _landed(session, event.submission_id)
    return [SubmissionRejected(submission_id=event.submission_id, participant_id=event.participant_id,
                               form_code=event.form_code, period=event.period, stage=stage,
                               reason_code=code, message=message)]


def _landed(session: Session, submission_id: str) -> None:
    """Decided: no longer on its way."""
    if (row := session.get(InFlight, submission_id)) is not None:
        session.delete(row)


def _hold_submission(session: Session, submission_id: str) -> None:
    """One submission's signature and validation verdicts come on two topics, to two consumers at
    once: without the lock, the first could read "not decided", the second decide and clear an
    InFlight row not yet there, and the first then write it, in flight for ever."""
    hold_key(session, "routing.submission", submission_id)


def on_signature_checked(event: SignatureChecked, session: Session) -> list:
    _hold_submission(session, event.submission_id)
    if session.get(Decision, event.submission_id) is not None:
        return []
    if event.ok:  # on its way through validation: the recipient sees it delivered
        session.merge(InFlight(submission_id=event.submission_id, participant_id=event.participant_id,
                               form_code=event.form_code, period=event.period))
        return []
    return _reject(session, event, "signature", event.reason_code or "SIGNATURE_INVALID", event.message or "")


def _form_for(session: Session, form_code: str, period: str) -> KnownForm | None:
    """The form of the period's year; NotYetKnown while that year's list has not reached routing
    (retry), None when the list is known and does not hold the form (UNKNOWN_FORM)."""
    year = int(period[:4]) if period[:4].isdigit() else 0
    form = session.get(KnownForm, (form_code, year))
    if form is None and session.exec(select(KnownForm.code).where(KnownForm.year == year).limit(1)).first() is None:
        raise NotYetKnown(f"form list {year}")
    return form


def _errors_said(event: SubmissionValidated) -> str:
    """A rejection's message: the first errors' messages. Every finding is in the submission's
    validation step (intake's timeline); a document wrong in every cell must not make a rejection
    as large as its findings. Routing has no object storage: with the findings claimed
    (uise_common.claimcheck) it can only point there."""
    errors = [f.message for f in event.findings if f.severity == "error"]
    if not errors and event.claim is not None:
        return "validation found errors; every finding is in the submission's validation step"
    said = "; ".join(errors[:ERRORS_QUOTED])
    return said if len(errors) <= ERRORS_QUOTED else f"{said}; and {len(errors) - ERRORS_QUOTED} more"


def on_validated(event: SubmissionValidated, session: Session) -> list:
    _hold_submission(session, event.submission_id)
    if session.get(Decision, event.submission_id) is not None:
        return []
    if not event.ok:
        return _reject(session, event, "validation", "VALIDATION_FAILED", _errors_said(event))
    participant = session.get(KnownParticipant, event.participant_id)
    if participant is None:
        raise NotYetKnown(f"participant {event.participant_id}")
    form = _form_for(session, event.form_code, event.period) if event.period[:4].isdigit() else None
    route = check_route(submitter_of(participant), form_rule(form, session) if form else None, event.period,
                        clock.process_clock().today(), event.addressed_to)
    if isinstance(route, Refusal):
        return _reject(session, event, "routing", route.code, route.message)
    return _file(session, event, route, participant)


# --- corrections: the chain of versions ------------------------------------------------------


def _filed_descendant(session: Session, submission_id: str) -> str | None:
    """The nearest version filed in an inbox that corrects `submission_id`, following the
    `supersedes` links of every decided version (a rejected correction in between included)."""
    frontier, seen = [submission_id], {submission_id}
    while frontier and len(seen) < MAX_CHAIN:
        later = session.exec(select(Decision).where(col(Decision.supersedes).in_(frontier))).all()
        frontier = []
        for d in later:
            if d.submission_id in seen:
                continue
            seen.add(d.submission_id)
            if d.outcome == "accepted":
                return d.submission_id
            frontier.append(d.submission_id)
    return None


def _corrects_accepted(session: Session, supersedes: str | None) -> bool:
    """Was any earlier version of the chain accepted? Then this one corrects data already
    accepted: distorted data corrected (clause 11)."""
    seen: set[str] = set()
    while supersedes and supersedes not in seen and len(seen) < MAX_CHAIN:
        seen.add(supersedes)
        earlier = session.get(Decision, supersedes)
        if earlier is None:
            return False
        if earlier.outcome == "accepted":
            return True
        supersedes = earlier.supersedes
    return False


def _file(session: Session, event: SubmissionValidated, recipient: str, participant: KnownParticipant) -> list:
    """File the version in the recipient's inbox. It supersedes by its `supersedes` link, not by
    arrival order: a version whose correction is filed already is kept as superseded and refused
    (SUPERSEDED), so no consumer counts it over its correction."""
    key = (InboxItem.participant_id == event.participant_id, InboxItem.form_code == event.form_code,
           InboxItem.period == event.period)
    successor = _filed_descendant(session, event.submission_id)
    current = session.exec(select(InboxItem).where(*key, col(InboxItem.superseded_by).is_(None),
                                                   InboxItem.state != "superseded")
                          .order_by(col(InboxItem.filed_at))).all()
    if successor is None and event.supersedes is None and any(i.linked for i in current):
        # a first version arriving after linked corrections of it: older than all of them
        successor = next(i.submission_id for i in current if i.linked)
    if successor is not None:
        session.add(InboxItem(submission_id=event.submission_id, recipient_id=recipient,
                              participant_id=event.participant_id, form_code=event.form_code, period=event.period,
                              superseded_by=successor, state="superseded", supersedes=event.supersedes,
                              linked=event.supersedes is not None))
        return _reject(session, event, "routing", "SUPERSEDED",
                       f"a later version ({successor}) already corrects this one; it is kept in the history")
    # Without a link (a producer that does not carry it yet) the version corrects the current one.
    supersedes = event.supersedes or (current[-1].submission_id if current else None)
    for earlier in current:
        earlier.superseded_by = event.submission_id
        session.add(earlier)
    corrects = _corrects_accepted(session, supersedes)
    session.add(InboxItem(submission_id=event.submission_id, recipient_id=recipient,
                          participant_id=event.participant_id, form_code=event.form_code, period=event.period,
                          supersedes=supersedes, linked=event.supersedes is not None, corrects_accepted=corrects))
    session.add(Decision(submission_id=event.submission_id, outcome="accepted", participant_id=event.participant_id,
                         form_code=event.form_code, period=event.period, supersedes=supersedes))
    _landed(session, event.submission_id)
    return [SubmissionAccepted(submission_id=event.submission_id, participant_id=event.participant_id,
                               recipient_id=recipient, form_code=event.form_code, period=event.period,
                               values=event.values, values_exact=event.values_exact, aggregates=event.aggregates,
                               supersedes=supersedes, corrects_accepted=corrects,
                               level=Level(participant.level) if participant.level else None,
                               findings=event.findings, claim=event.claim)]


# --- what the deadline and reporting services say ---------------------------------------------


def on_violation(event: DeadlineViolation, session: Session) -> list:
    session.merge(Violation(participant_id=event.participant_id, form_code=event.form_code, period=event.period,
                            kind=event.kind, recipient_id=event.recipient_id, deadline_at=event.deadline_at,
                            submission_id=event.submission_id))
    return []


def _sequence(due_id: str | None) -> int | None:
    """The emission's sequence, when its id ends with one (`node:form:period:<n>`)."""
    tail = (due_id or "").rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _node(session: Session, node_id: str, form_code: str, period: str) -> NodeConsolidation:
    return session.get(NodeConsolidation, (node_id, form_code, period)) or NodeConsolidation(
        node_id=node_id, form_code=form_code, period=period)


def on_consolidation_due(event: ConsolidationDue, session: Session) -> list:
    row = _node(session, event.node_id, event.form_code, event.period)
    seq = _sequence(event.due_id)
    if seq is not None and row.due_seq is not None and seq < row.due_seq:
        return []  # an older emission replayed after a newer one
    row.due_reason, row.due_id, row.due_seq = event.reason, event.due_id, seq
    row.expected, row.received, row.deadline_at = event.expected, event.received, event.deadline_at
    row.missing, row.late, row.returned = json.dumps(event.missing), json.dumps(event.late), json.dumps(event.returned)
    session.merge(row)
    return []


def on_consolidation_ready(event: ConsolidationReady, session: Session) -> list:
    row = _node(session, event.node_id, event.form_code, event.period)
    if row.ready_version is not None and event.version < row.ready_version:
        return []
    row.ready_version, row.consolidation_id = event.version, event.consolidation_id
    row.ready_reason, row.built_at = event.reason, event.built_at
    session.merge(row)
    return []

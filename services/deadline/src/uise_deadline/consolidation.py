"""`consolidation.due`: when a node (a district, a region, the Ministry) must consolidate its
subordinates' accepted data and submit up (clause 9).

Per node, form and period, by the hierarchy in force for the period:
- its subordinates' current accepted versions count (`included`) unless returned; a correction
  accepted takes its predecessor's place (by `supersedes`, not by arrival);
- the first due goes out when every expected subordinate is included (`complete`) or when their
  level's deadline is swept (`deadline`, listing the missing);
- after that, every change below goes out as `update`, or as `correction` once the node has
  delivered its own submission (which then needs correcting).

Each emission is one step of the node's `ConsolidationState` row: the row is locked first (so the
state read after it includes whatever another replica committed before), and its `seq` moves by
a conditional update, so two replicas cannot both emit the same step and a replay whose state
has the same fingerprint emits nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from uise_common.consumer import NotYetKnown
from uise_contracts.events import ConsolidationDue, Level, SubmissionAccepted, SubmissionReturned
from uise_deadline import handlers
from uise_deadline.adapters import (
    ConsolidationState,
    Deadline,
    KnownForm,
    KnownParticipant,
    SubmissionVersion,
    Timeliness,
)
from uise_deadline.expectations import (
    ABOVE,
    by_superior,
    form_of,
    period_last_day,
    subordinates,
    superior_on,
)


class Contended(Exception):
    """Another transaction moved the node's state between our lock and our update (only where
    the database ignores row locks): the consumer retries, the timer fires again."""


@dataclass
class NodeState:
    """What the node's consolidation would count right now."""

    expected: list[str]
    included_submissions: dict[str, str] = field(default_factory=dict)
    late: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.expected) and len(self.included_submissions) == len(self.expected)

    @property
    def fingerprint(self) -> str:
        body = json.dumps([sorted(self.included_submissions.items()), self.missing, self.returned])
        return hashlib.sha256(body.encode()).hexdigest()


# --- consumers ----------------------------------------------------------------------------------------


def on_accepted(event: SubmissionAccepted, session: Session) -> list:
    """An accepted version counts in its superior's consolidation (and the timeliness row learns
    it was accepted)."""
    out = handlers.on_accepted(event, session)
    row = _version(session, event.submission_id, event.participant_id, event.form_code, event.period)
    if row.accepted_at is not None:  # a replay: its consequences were committed with it
        return out
    row.supersedes, row.accepted_at = event.supersedes, datetime.now(UTC)
    session.add(row)
    session.flush()
    return out + changed_below(session, event.participant_id, event.form_code, event.period)


def on_returned(event: SubmissionReturned, session: Session) -> list:
    """A returned version leaves its superior's consolidation until a correction is accepted."""
    row = _version(session, event.submission_id, event.participant_id, event.form_code, event.period)
    if row.returned_at is not None:
        return []
    row.returned_at = event.returned_at.astimezone(UTC)
    session.add(row)
    session.flush()
    return changed_below(session, event.participant_id, event.form_code, event.period)


def _version(session: Session, submission_id: str, participant_id: str, form_code: str,
             period: str) -> SubmissionVersion:
    row = session.get(SubmissionVersion, submission_id)
    return row or SubmissionVersion(submission_id=submission_id, participant_id=participant_id,
                                    form_code=form_code, period=period)


def changed_below(session: Session, participant_id: str, form_code: str, period: str) -> list:
    """Something changed for one subordinate: look at its superior for the period."""
    participant = session.get(KnownParticipant, participant_id)
    if participant is None:
        raise NotYetKnown(f"participant {participant_id}")
    form = form_of(session, form_code, period)
    node_id = superior_on(participant, period_last_day(period))
    if form is None or node_id is None or participant.level not in ABOVE:
        return []  # a form no approved list plans, or the Ministry itself: nobody consolidates it
    return evaluate(session, form, period, participant.level, node_id)


def at_deadline(session: Session, form: KnownForm, period: str, level: str, now: datetime,
                emit: Callable[[Session, object], None]) -> int:
    """The sweep of `level`'s deadline: every node expecting the form from that level and not
    told yet gets its due (`deadline`, with the missing). Nodes in a fixed order: two sweeps
    never wait on each other's locks in a cycle."""
    n = 0
    for node_id, subs in sorted(by_superior(session, form, period, level).items()):
        for event in evaluate(session, form, period, level, node_id, subs=subs, deadline_passed=True, now=now):
            emit(session, event)
            n += 1
    return n


# --- the node's state --------------------------------------------------------------------------------


def evaluate(session: Session, form: KnownForm, period: str, below: str, node_id: str, *,
             subs: list[KnownParticipant] | None = None, deadline_passed: bool = False,
             now: datetime | None = None) -> list[ConsolidationDue]:
    """The node's due, if its state calls for one now; at most one per state change."""
    subs = subordinates(session, form, period, below, node_id) if subs is None else subs
    if not subs:
        return []
    row = _lock(session, node_id, form.code, period)
    state = state_of(session, [p.participant_id for p in subs], form.code, period)  # read after the lock
    own = None
    if row.seq == 0:
        if state.complete:
            reason = "complete"
        elif deadline_passed or _swept(session, form.code, period, below):
            reason = "deadline"
        else:
            return []
    else:
        if row.fingerprint == state.fingerprint:
            return []
        own = own_submission(session, node_id, form.code, period)
        reason = "correction" if own else "update"
    seq = row.seq + 1
    moved = session.exec(update(ConsolidationState).where(
        ConsolidationState.node_id == node_id, ConsolidationState.form_code == form.code,
        ConsolidationState.period == period, ConsolidationState.seq == row.seq,
    ).values(seq=seq, fingerprint=state.fingerprint, last_reason=reason, last_due_at=now or datetime.now(UTC)))
    if moved.rowcount != 1:
        raise Contended(f"{node_id}:{form.code}:{period}")
    node = session.get(KnownParticipant, node_id)
    level = node.level if node is not None else ABOVE[below]
    return [ConsolidationDue(
        node_id=node_id, form_code=form.code, period=period, expected=len(state.expected),
        received=len(state.included_submissions), reason=reason, level=Level(level),
        due_id=f"{node_id}:{form.code}:{period}:{seq}", included=sorted(state.included_submissions),
        late=state.late, missing=state.missing, returned=state.returned,
        deadline_at=handlers.deadline_for(session, form.code, period, level), submission_id=own,
        included_submissions=dict(sorted(state.included_submissions.items())))]


def _lock(session: Session, node_id: str, form_code: str, period: str) -> ConsolidationState:
    """The node's state row, created if absent (no error when a replica creates it at the same
    moment) and locked until the transaction ends."""
    key = {"node_id": node_id, "form_code": form_code, "period": period}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.exec(insert(ConsolidationState).values(**key, seq=0).on_conflict_do_nothing())
    return session.exec(select(ConsolidationState).filter_by(**key).with_for_update().execution_options(
        populate_existing=True)).one()


def _swept(session: Session, form_code: str, period: str, level: str) -> bool:
    row = session.get(Deadline, (form_code, period, level))
    return row is not None and row.swept_at is not None


def state_of(session: Session, expected: list[str], form_code: str, period: str) -> NodeState:
    """Included: the current accepted version (none accepted supersedes it), not returned."""
    versions: dict[str, list[SubmissionVersion]] = {}
    for v in session.exec(select(SubmissionVersion).where(
            SubmissionVersion.form_code == form_code, SubmissionVersion.period == period,
            col(SubmissionVersion.participant_id).in_(expected), col(SubmissionVersion.accepted_at).is_not(None))):
        versions.setdefault(v.participant_id, []).append(v)
    state = NodeState(expected=sorted(expected))
    for pid in state.expected:
        accepted = versions.get(pid, [])
        superseded = {v.supersedes for v in accepted}
        current = max((v for v in accepted if v.submission_id not in superseded),
                      key=lambda v: (handlers.aware(v.accepted_at), v.submission_id), default=None)
        if current is None:
            state.missing.append(pid)
        elif current.returned_at is not None:
            state.returned.append(pid)
        else:
            state.included_submissions[pid] = current.submission_id
    if state.included_submissions:
        late = session.exec(select(Timeliness.participant_id).where(
            col(Timeliness.submission_id).in_(list(state.included_submissions.values())),
            col(Timeliness.on_time).is_(False))).all()
        state.late = sorted(set(late))
    return state


def own_submission(session: Session, node_id: str, form_code: str, period: str) -> str | None:
    """The node's current own submission of the form for the period, if it delivered one: the
    version no other of its versions corrects (the latest delivered, if the links are unknown)."""
    rows = session.exec(select(Timeliness).where(Timeliness.participant_id == node_id,
                                                 Timeliness.form_code == form_code,
                                                 Timeliness.period == period)).all()
    superseded = {r.supersedes for r in rows}
    current = [r for r in rows if r.submission_id not in superseded]
    if not current:
        return None
    return max(current, key=lambda r: (handlers.aware(r.delivered_at), r.submission_id)).submission_id

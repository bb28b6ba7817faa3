"""What a recipient reads: its inbox as a list, and per form and period who is expected and
where each one stands."""

from __future__ import annotations

import json
from collections import defaultdict

from sqlmodel import Session, col, or_, select

from uise_common.periods import parse_period
from uise_routing.adapters import (
    Decision,
    InboxItem,
    InFlight,
    KnownForm,
    KnownParticipant,
    NodeConsolidation,
    Violation,
)
from uise_routing.domain import active_during, applies_to, status_of, superior_for
from uise_routing.handlers import form_rule, submitter_of

STATUSES = ("expected", "delivered", "accepted", "reviewed", "returned", "rejected")


def item_view(item: InboxItem) -> dict:
    return item.model_dump(mode="json")


def inbox_items(session: Session, recipient_id: str, form_code: str | None = None, period: str | None = None,
                limit: int = 1000) -> list[dict]:
    q = select(InboxItem).where(InboxItem.recipient_id == recipient_id)
    if form_code:
        q = q.where(InboxItem.form_code == form_code)
    if period:
        q = q.where(InboxItem.period == period)
    return [item_view(i) for i in session.exec(q.order_by(col(InboxItem.filed_at)).limit(limit))]


def expected_subordinates(session: Session, recipient_id: str, form: KnownForm, period_text: str
                          ) -> list[KnownParticipant]:
    """Whom the recipient expects the form from for the period: its subordinates in the
    hierarchy in force for the period (moves apply from their date), active some time during
    it, to whom the form applies (organizations by kind, departments by level)."""
    period = parse_period(period_text)
    rule = form_rule(form)
    # a participant answered to the recipient either today or in one of its parent terms
    candidates = session.exec(select(KnownParticipant).where(or_(
        KnownParticipant.parent_id == recipient_id, col(KnownParticipant.parents).contains(f'"{recipient_id}"'))))
    out = []
    for row in candidates:
        who = submitter_of(row)
        if (superior_for(who, period) == recipient_id and active_during(row.active, row.active_from, row.active_to,
                                                                       period)
                and applies_to(rule, who.level, who.kind)):
            out.append(row)
    return sorted(out, key=lambda r: r.participant_id)


def _consolidation(row: NodeConsolidation | None) -> dict | None:
    if row is None:
        return None
    return {"due_reason": row.due_reason, "due_id": row.due_id, "expected": row.expected, "received": row.received,
            "missing": json.loads(row.missing), "late": json.loads(row.late), "returned": json.loads(row.returned),
            "deadline_at": row.deadline_at.isoformat() if row.deadline_at else None,
            "ready_version": row.ready_version, "consolidation_id": row.consolidation_id,
            "ready_reason": row.ready_reason, "built_at": row.built_at.isoformat() if row.built_at else None}


def inbox_view(session: Session, recipient_id: str, form_code: str, period: str) -> dict | None:
    """None when the form is not on the period's list."""
    form = session.get(KnownForm, (form_code, int(period[:4])))
    if form is None:
        return None
    expected = expected_subordinates(session, recipient_id, form, period)
    by_participant: dict[str, list[InboxItem]] = defaultdict(list)
    for item in session.exec(select(InboxItem).where(
            InboxItem.recipient_id == recipient_id, InboxItem.form_code == form_code, InboxItem.period == period
    ).order_by(col(InboxItem.filed_at))):
        by_participant[item.participant_id].append(item)
    ids = sorted({p.participant_id for p in expected} | set(by_participant))
    in_flight = {r.participant_id: r.submission_id for r in session.exec(select(InFlight).where(
        InFlight.form_code == form_code, InFlight.period == period, col(InFlight.participant_id).in_(ids)))}
    rejected: dict[str, list[dict]] = defaultdict(list)
    for d in session.exec(select(Decision).where(
            Decision.outcome == "rejected", Decision.form_code == form_code, Decision.period == period,
            col(Decision.participant_id).in_(ids), Decision.reason_code != "SUPERSEDED"
    ).order_by(col(Decision.decided_at))):
        rejected[d.participant_id].append({"submission_id": d.submission_id, "reason_code": d.reason_code,
                                           "decided_at": d.decided_at.isoformat()})
    violations: dict[str, set[str]] = defaultdict(set)
    for v in session.exec(select(Violation).where(
            Violation.form_code == form_code, Violation.period == period, col(Violation.participant_id).in_(ids))):
        violations[v.participant_id].add(v.kind)
    expected_ids = {p.participant_id for p in expected}
    kinds = {p.participant_id: (p.level, p.kind) for p in session.exec(
        select(KnownParticipant).where(col(KnownParticipant.participant_id).in_(ids)))}
    rows, counts = [], dict.fromkeys((*STATUSES, "late", "missing"), 0)
    for pid in ids:
        history = by_participant.get(pid, [])
        current = next((i for i in reversed(history) if i.superseded_by is None and i.state != "superseded"), None)
        status = status_of(pid in in_flight, current.state if current else None, bool(rejected.get(pid)))
        late = "late" in violations[pid]
        missing = "missing" in violations[pid] and not late and current is None  # a late delivery closes it
        level, kind = kinds.get(pid, (None, None))
        rows.append({"participant_id": pid, "level": level, "kind": kind, "expected": pid in expected_ids,
                     "status": status, "late": late, "missing": missing,
                     "current_submission_id": current.submission_id if current else None,
                     "in_flight_submission_id": in_flight.get(pid),
                     "history": [item_view(i) for i in history], "rejected": rejected.get(pid, [])})
        if pid in expected_ids:
            counts[status] += 1
            counts["late"] += late
            counts["missing"] += missing
    return {"recipient_id": recipient_id, "form_code": form_code, "period": period,
            "hierarchy_on": parse_period(period).end.isoformat(), "expected": len(expected_ids), "counts": counts,
            "participants": rows,
            "consolidation": _consolidation(session.get(NodeConsolidation, (recipient_id, form_code, period)))}

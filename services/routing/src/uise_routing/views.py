"""What a recipient reads: its inbox as a list, and per form and period who is expected and
where each one stands."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime

from sqlmodel import Session, col, or_, select

from uise_common.periods import parse_period
from uise_routing.adapters import (
    Decision,
    InboxItem,
    InFlight,
    InfoRequest,
    InfoRequestMember,
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
    rule = form_rule(form, session)
    # a participant answered to the recipient either today or in one of its parent terms
    candidates = session.exec(select(KnownParticipant).where(or_(
        KnownParticipant.parent_id == recipient_id, col(KnownParticipant.parents).contains(f'"{recipient_id}"'))))
    out = []
    for row in candidates:
        who = submitter_of(row)
        if (superior_for(who, period) == recipient_id and active_during(row.active, row.active_from, row.active_to,
                                                                       period)
                and applies_to(rule, who.level, who.kind, who.participant_id)):
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


# --- information requests: who was asked, and where each one stands (the chase view) ----------


def _iso(at: datetime) -> str:
    """Stored in UTC; SQLite gives it back naive."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


def request_summary(req: InfoRequest) -> dict:
    return {"request_id": req.request_id, "title": req.title, "form_code": req.form_code, "period": req.period,
            "issued_by": req.issued_by, "issuer_id": req.issuer_id, "issued_at": _iso(req.issued_at),
            "due_at": _iso(req.due_at), "relay_days": req.relay_days, "target": json.loads(req.target)}


def requests_for(session: Session, participant_id: str | None, limit: int = 1000) -> list[dict]:
    """The requests concerning a participant (it is a target or a relay: a department is a relay
    of every request with a target below it); `None`: every request (the national view)."""
    q = select(InfoRequest)
    if participant_id is not None:
        q = q.where(col(InfoRequest.request_id).in_(select(InfoRequestMember.request_id).where(
            InfoRequestMember.participant_id == participant_id)))
    return [request_summary(r) for r in session.exec(q.order_by(col(InfoRequest.issued_at)).limit(limit))]


def _under(members: dict[str, InfoRequestMember], root: str) -> set[str]:
    """The members whose answer passes through `root` (itself included), by the request's own links."""
    out = set()
    for pid in members:
        seen, at = [], pid
        while at in members and at not in seen:
            seen.append(at)
            if at == root:
                out.add(pid)
                break
            at = members[at].parent_id
    return out


def member_status(in_flight: bool, current: InboxItem | None, rejected: bool, violations: set[str]) -> dict:
    """expected (nothing yet), delivered (on its way), accepted, returned, rejected, or missing
    (its deadline passed with nothing accepted); `late` when it delivered after its deadline."""
    status = status_of(in_flight, current.state if current else None, rejected)
    if status == "reviewed":
        status = "accepted"
    late = "late" in violations
    if status in ("expected", "rejected") and "missing" in violations and not late:
        status = "missing"
    return {"status": status, "late": late}


def request_view(session: Session, request_id: str, root: str | None) -> dict | None:
    """The request and, for `root`'s subtree (None: all), each member's status and counts."""
    req = session.get(InfoRequest, request_id)
    if req is None:
        return None
    members = {m.participant_id: m for m in session.exec(select(InfoRequestMember).where(
        InfoRequestMember.request_id == request_id))}
    if root is not None and root not in members:
        return None  # a request that does not concern the caller is answered like an unknown one
    shown = sorted(members if root is None else _under(members, root))
    key = (InboxItem.form_code == req.form_code, InboxItem.period == req.period)
    current = {i.participant_id: i for i in session.exec(select(InboxItem).where(
        *key, col(InboxItem.participant_id).in_(shown), col(InboxItem.superseded_by).is_(None),
        InboxItem.state != "superseded").order_by(col(InboxItem.filed_at)))}
    in_flight = set(session.exec(select(InFlight.participant_id).where(
        InFlight.form_code == req.form_code, InFlight.period == req.period,
        col(InFlight.participant_id).in_(shown))).all())
    rejected = set(session.exec(select(Decision.participant_id).where(
        Decision.outcome == "rejected", Decision.form_code == req.form_code, Decision.period == req.period,
        col(Decision.participant_id).in_(shown), Decision.reason_code != "SUPERSEDED")).all())
    violations: dict[str, set[str]] = defaultdict(set)
    for v in session.exec(select(Violation).where(Violation.form_code == req.form_code, Violation.period == req.period,
                                                  col(Violation.participant_id).in_(shown))):
        violations[v.participant_id].add(v.kind)
    rows, counts = [], dict.fromkeys(("expected", "delivered", "accepted", "returned", "rejected", "missing",
                                      "late"), 0)
    for pid in shown:
        m = members[pid]
        item = current.get(pid)
        state = member_status(pid in in_flight, item, pid in rejected, violations[pid])
        counts[state["status"]] += 1
        counts["late"] += state["late"]
        rows.append({"participant_id": pid, "role": m.role, "level": m.level, "parent_id": m.parent_id,
                     "due_at": _iso(m.due_at), **state,
                     "current_submission_id": item.submission_id if item else None})
    return {**request_summary(req), "form": json.loads(req.form), "scope": root, "members": len(shown),
            "counts": counts, "participants": rows,
            "consolidation": _consolidation(session.get(NodeConsolidation, (root, req.form_code, req.period)))
            if root is not None else None}

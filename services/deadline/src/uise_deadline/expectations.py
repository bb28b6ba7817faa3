"""Who must deliver a form for a period: at one level (the sweep's question) and to one node (the
consolidation's), by the hierarchy in force for the period (a school moved to another district
is expected by the new one for periods ending after the move)."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import or_
from sqlmodel import Session, col, select

from uise_common.periods import parse_period
from uise_contracts.events import Level, ParentTerm
from uise_deadline.adapters import KnownForm, KnownParticipant, RequestMember

# Whom each level consolidates: the level right below it.
BELOW = {Level.ministry.value: Level.region.value, Level.region.value: Level.district.value,
         Level.district.value: Level.organization.value}
ABOVE = {below: above for above, below in BELOW.items()}


def expected(session: Session, form: KnownForm, period: str, level: str,
             near: str | None = None) -> list[KnownParticipant]:
    """Who must deliver this form for this period at this level: the form applies to its kind
    (organizations) or level (departments), and it was active at some time in the period. An
    information request's form: its members at that level (targets and relays), nobody else.
    `near`: only those that answer to that node now or answered to it at some time (a candidate
    the caller still checks with superior_on)."""
    p = parse_period(period)
    q = select(KnownParticipant).where(KnownParticipant.level == level)
    if near is not None:
        q = q.where(or_(KnownParticipant.parent_id == near, col(KnownParticipant.parents).contains(near, autoescape=True)))
    q = q.where(
        or_(col(KnownParticipant.active_from).is_(None), col(KnownParticipant.active_from) <= p.end)).where(
        or_(col(KnownParticipant.active_to).is_(None), col(KnownParticipant.active_to) >= p.start))
    if form.request_id is not None:  # an information request: exactly its members at that level
        q = q.where(col(KnownParticipant.participant_id).in_(select(RequestMember.participant_id).where(
            RequestMember.form_code == form.code, RequestMember.period == period, RequestMember.level == level)))
    elif level == Level.organization.value:
        kinds = [k for k in form.respondent_kinds.split(",") if k]
        q = q.where(col(KnownParticipant.kind).in_(kinds))
    return list(session.exec(q))


def parents_json(terms: list[ParentTerm]) -> str:
    return json.dumps([t.model_dump(mode="json") for t in terms])


def superior_on(participant: KnownParticipant, day: date) -> str | None:
    """The superior in force on `day`: the parent term then, else the current `parent_id`."""
    for raw in json.loads(participant.parents or "[]"):
        if ParentTerm.model_validate(raw).active_on(day):
            return raw["parent_id"]
    return participant.parent_id


def period_last_day(period: str) -> date:
    return parse_period(period).end


def form_of(session: Session, form_code: str, period: str) -> KnownForm | None:
    """The form as the list of the period's year defines it."""
    try:
        year = parse_period(period).start.year
    except ValueError:
        return None
    return session.get(KnownForm, (form_code, year))


def consolidated_at(form: KnownForm, level: str) -> bool:
    """Does a node consolidate this form from `level`? Organizations by the respondent kinds (the
    query filters them), departments only when the list gives their level a deadline."""
    return level == Level.organization.value or level in json.loads(form.deadline_days)


def subordinates(session: Session, form: KnownForm, period: str, below: str, node_id: str) -> list[KnownParticipant]:
    """The node's expected subordinates: those at `below` (the level under the node) that must
    deliver the form, whose superior in force on the period's last day is the node."""
    if not consolidated_at(form, below):
        return []
    end = period_last_day(period)
    # Asked on every accepted submission: the candidates come from the database, not from every
    # participant of the level read and filtered here (19,697 organizations took 1.5 s a message).
    return [p for p in expected(session, form, period, below, near=node_id) if superior_on(p, end) == node_id]


def by_superior(session: Session, form: KnownForm, period: str, level: str) -> dict[str, list[KnownParticipant]]:
    """Every node expecting the form from `level`, with its expected subordinates (one query)."""
    if not consolidated_at(form, level):
        return {}
    end = period_last_day(period)
    out: dict[str, list[KnownParticipant]] = {}
    for p in expected(session, form, period, level):
        node = superior_on(p, end)
        if node is not None:
            out.setdefault(node, []).append(p)
    return out

"""What the registry answers when asked (the read side of the service layer). The route policies
have already checked the scope, and for a route about one participant that it lies in the
caller's subtree; lists and exports are cut to the subtree here, computed once per request."""

from __future__ import annotations

import json
from datetime import date

from sqlmodel import Session, col, select

from uise_common.auth import Principal
from uise_contracts.events import FormDefinition, FormListApproved, Level, ParticipantUpserted
from uise_registry import access, domain, handlers, staff
from uise_registry.adapters import AuditEntry, Participant


def participant(session: Session, participant_id: str) -> dict:
    row = handlers.participant_row(session, participant_id)
    return handlers.participant_event(session, row).model_dump(mode="json")


def head(session: Session, participant_id: str, on: date) -> dict:
    """Who was the first head on a date: what the signature check asks (clause 8)."""
    term = handlers.head_on(session, participant_id, on)
    return {"participant_id": participant_id, "on": on, "head": term.model_dump(mode="json") if term else None}


def participants(session: Session, who: Principal, parent_id: str | None, level: Level | None, limit: int,
                 offset: int) -> list[dict]:
    """The caller's subtree (all of it for the national roles), filtered, by id."""
    mine = access.visible(session, who)
    if mine is None:
        q = select(Participant).order_by(col(Participant.participant_id))
        if parent_id:
            q = q.where(Participant.parent_id == parent_id)
        if level:
            q = q.where(Participant.level == level.value)
        rows = list(session.exec(q.offset(offset).limit(limit)))
    else:
        rows = sorted((p for p in mine if (not parent_id or p.parent_id == parent_id)
                       and (not level or p.level == level.value)), key=lambda p: p.participant_id)
        rows = rows[offset:offset + limit]
    return [e.model_dump(mode="json") for e in handlers.events_of(session, rows)]


def export_rows(session: Session, who: Principal) -> list[ParticipantUpserted]:
    mine = access.visible(session, who)
    if mine is None:
        return list(handlers.all_participants(session).values())
    return handlers.events_of(session, mine)


def staff_of(session: Session, participant_id: str, history: bool) -> dict:
    """The people the head named: in force today or starting later, or every term with `history`."""
    handlers.participant_row(session, participant_id)
    terms = staff.terms_of(session, participant_id)
    shown = terms if history else staff.current(terms, domain.today())
    return {"participant_id": participant_id, "staff": [t.model_dump(mode="json") for t in shown]}


def forms_for(session: Session, participant_id: str, year: int) -> list[dict]:
    """The forms this participant must submit in `year`."""
    row = handlers.participant_row(session, participant_id)
    return [f.model_dump(mode="json") for f in handlers.current_forms(session, year) if row.kind in f.respondent_kinds]


def formlists(session: Session, year: int, drafts: bool = False) -> list[dict]:
    return handlers.formlist_versions(session, year, drafts)


def approved_formlist(session: Session, year: int, version: int) -> FormListApproved:
    return handlers.approved_formlist(session, year, version)


def form(session: Session, code: str, year: int) -> FormDefinition:
    return handlers.form_on_list(session, code, year)


def audit_log(session: Session, entity_id: str | None, limit: int) -> list[dict]:
    q = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if entity_id:
        q = q.where(AuditEntry.entity_id == entity_id)
    return [{**a.model_dump(mode="json"), "before": _loads(a.before), "after": _loads(a.after)} for a in session.exec(q)]


def _loads(text: str | None):
    return json.loads(text) if text else None

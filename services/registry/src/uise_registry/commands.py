"""The registry's service layer: what a caller asks of the registry, one function per act.

Each command takes the session, the caller (a `Principal` from the bearer token) and its
arguments, decides whether the caller may (through `access`), does it (through `handlers`) and
returns an `Outcome`: the answer and the events to queue in the same transaction. The HTTP
routes only parse, declare their policy and call one of these inside `rt.in_transaction`; the
audit log names the caller by `principal.label`, never by anything a request claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from uise_common.auth import Principal
from uise_contracts.events import FormDefinition
from uise_registry import access, domain, handlers, importing, staff


@dataclass
class Outcome:
    body: Any
    events: list[BaseModel] = field(default_factory=list)


# --- participants --------------------------------------------------------------------------


def put_participant(session: Session, who: Principal, participant_id: str, cmd: handlers.ParticipantCommand,
                    test_mode: bool = False) -> Outcome:
    access.require_manage(session, who, participant_id, cmd.parent_id)
    event = handlers.upsert_participant(session, participant_id, cmd, who.label, test_mode=test_mode)
    return Outcome(event.model_dump(mode="json"), [event])


def close_participant(session: Session, who: Principal, participant_id: str, active_to: date) -> Outcome:
    row = session.get(handlers.Participant, participant_id)
    access.require_manage(session, who, participant_id, row.parent_id if row else None)
    event = handlers.close_participant(session, participant_id, active_to, who.label)
    return Outcome(event.model_dump(mode="json"), [event])


def move_participant(session: Session, who: Principal, participant_id: str, parent_id: str, on: date) -> Outcome:
    """A move with its date: the same rule as changing the parent (the caller reaches both the
    old parent and the new one, strictly below its own department; the data office anywhere)."""
    access.require_manage(session, who, participant_id, parent_id)
    event = handlers.move_participant(session, participant_id, parent_id, on, who.label)
    return Outcome(event.model_dump(mode="json"), [event])


def import_participants(session: Session, who: Principal, rows: list[importing.RawRow], dry_run: bool,
                        test_mode: bool = False) -> Outcome:
    """Plan the file against the registry; unless `dry_run`, store it whole. A file with any row
    outside the caller's reach is refused before it is planned."""
    access.require_import(session, who, [(r.values.get("bin", ""), r.values.get("parent_bin") or None) for r in rows])
    existing = handlers.all_participants(session)
    plan = importing.plan(rows, existing, test_mode=test_mode, today=domain.today())
    changes = plan.created + plan.updated
    events = []
    if not dry_run:
        for event in changes:
            handlers.store_participant(session, event, existing.get(event.participant_id), who.label)
        events = list(changes)
    return Outcome({"dry_run": dry_run, "summary": plan.summary(), "rejected": [r.__dict__ for r in plan.rejected]},
                   events)


# --- staff -----------------------------------------------------------------------------------


def name_staff(session: Session, who: Principal, participant_id: str, iin: str, cmd: staff.StaffCommand,
               test_mode: bool = False) -> Outcome:
    access.require_staff_manager(who, participant_id)
    term, event = handlers.name_staff(session, participant_id, iin, cmd, who.label, test_mode=test_mode)
    return Outcome({"participant_id": participant_id, "term": term.model_dump(mode="json")}, [event])


def end_staff(session: Session, who: Principal, participant_id: str, iin: str, test_mode: bool = False) -> Outcome:
    access.require_staff_manager(who, participant_id)
    _was, now, event = handlers.end_staff(session, participant_id, iin, who.label, test_mode=test_mode)
    return Outcome({"participant_id": participant_id, "iin": iin, "withdrawn": now is None,
                    "term": now.model_dump(mode="json") if now else None}, [event])


# --- lists of forms (the policy admits only `formlists:write`: the data office) --------------


def create_formlist(session: Session, who: Principal, year: int, forms: list[FormDefinition]) -> Outcome:
    row = handlers.create_formlist(session, year, forms, who.label)
    return Outcome({"year": row.year, "version": row.version, "status": row.status})


def edit_formlist(session: Session, who: Principal, year: int, version: int, forms: list[FormDefinition]) -> Outcome:
    row = handlers.edit_formlist(session, year, version, forms, who.label)
    return Outcome({"year": row.year, "version": row.version, "status": row.status})


def approve_formlist(session: Session, who: Principal, year: int, version: int, order_no: str, order_date: date,
                     signatory: str | None) -> Outcome:
    event = handlers.approve_formlist(session, year, version, order_no, order_date, signatory, who.label)
    return Outcome({"year": year, "version": version, "status": "approved",
                    "supersedes_version": event.supersedes_version}, [event])

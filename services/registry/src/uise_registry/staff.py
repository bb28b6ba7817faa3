"""The staff a head names to act for the organization: accountants, officers, analysts, the data
office. Each person has terms (role, first day, last day, both included) that never overlap; the
rules that change them are pure functions over one person's terms, so they read and test like
the heads' history in importing._with_head.

What the participant.upserted event carries is the terms in force today or starting later, not
the ended ones: events are sent when something changes, never when a date passes, so a consumer
(identity) must see an upcoming term before its first day and check the dates itself
(`StaffMember.active_on`); an ended term is of no use to it and would grow the compacted event
year after year. The registry keeps every term (GET /v1/participants/{id}/staff?history=true)
and the audit log keeps every change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select

from uise_contracts.events import StaffMember
from uise_registry.adapters import StaffTermRow
from uise_registry.domain import RegistryError

STAFF_LIMIT = 200  # people in force or upcoming at one participant: keeps the event small
_CHUNK = 500  # ids per IN (...) query


class StaffCommand(BaseModel):
    """Name a person (the API body of PUT /v1/participants/{id}/staff/{iin})."""

    full_name: str = Field(min_length=1, max_length=300)
    role: str = Field(min_length=1, max_length=32, description="accountant, officer, analyst or data_office")
    valid_from: date | None = Field(default=None, description="The first day in the role (default today)")
    valid_to: date | None = Field(default=None, description="The last day in the role (default: open)")

    @field_validator("full_name")
    @classmethod
    def _printable(cls, value: str) -> str:
        value = value.strip()
        if not value or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("a name of printable characters")
        return value


def dates_invalid(en: str, ru: str, kk: str) -> RegistryError:
    return RegistryError("STAFF_DATES_INVALID", en, ru, kk)


def not_on_staff(participant_id: str, iin: str) -> RegistryError:
    return RegistryError("STAFF_UNKNOWN", f"{iin} holds no current or upcoming role at {participant_id}",
                         f"{iin} не числится в штате {participant_id}",
                         f"{iin} {participant_id} штатында жоқ")


def current(terms: Iterable[StaffMember], today: date) -> list[StaffMember]:
    """The terms in force today or starting later."""
    return [t for t in terms if t.valid_to is None or t.valid_to >= today]


def with_term(terms: list[StaffMember], iin: str, cmd: StaffCommand, today: date) -> list[StaffMember]:
    """One person's terms (oldest first) after the head names them `cmd.role`.

    - No term in force or upcoming: a new one from `valid_from` (default today).
    - The same role: the term is corrected in place (name, dates); PUT states the whole term, so
      a missing `valid_to` makes it open again.
    - Another role: the current term ends the day before the new one starts, so the history says
      who acted in which role on each day; a term not yet in force before today is not history
      and is simply replaced.
    """
    last = terms[-1] if terms else None
    start = cmd.valid_from or today

    def new(first: date) -> StaffMember:
        return StaffMember(iin=iin, full_name=cmd.full_name, role=cmd.role, valid_from=first, valid_to=cmd.valid_to)

    if last is None or (last.valid_to is not None and last.valid_to < today):
        out = [*terms, new(start)]
    elif last.role == cmd.role:
        out = [*terms[:-1], new(cmd.valid_from or last.valid_from)]
    elif start > last.valid_from:
        ended = start - timedelta(days=1)
        kept = last.model_copy(update={"valid_to": min(last.valid_to or ended, ended)})
        out = [*terms[:-1], kept, new(start)]
    elif last.valid_from >= today:
        out = [*terms[:-1], new(start)]
    else:
        raise dates_invalid(f"the new role must start after {last.valid_from}, when the current one did",
                            f"новая роль должна начинаться после {last.valid_from}, начала текущей",
                            f"жаңа рөл қазіргі рөл басталған {last.valid_from} күнінен кейін басталуы керек")
    _check_dates(out)
    return out


def without_term(terms: list[StaffMember], participant_id: str, iin: str, today: date) -> list[StaffMember]:
    """One person's terms after the head ends their role. The last day is yesterday, so from now
    on nobody maps the person to the organization (a term includes its last day); a term that was
    not in force before today leaves nothing to keep and is withdrawn (the audit log has it)."""
    last = terms[-1] if terms else None
    if last is None or (last.valid_to is not None and last.valid_to < today):
        raise not_on_staff(participant_id, iin)
    if last.valid_from >= today:
        return terms[:-1]
    return [*terms[:-1], last.model_copy(update={"valid_to": today - timedelta(days=1)})]


def _check_dates(terms: list[StaffMember]) -> None:
    for term in terms:
        if term.valid_to is not None and term.valid_to < term.valid_from:
            raise dates_invalid(f"valid_to {term.valid_to} is before valid_from {term.valid_from}",
                                f"valid_to {term.valid_to} раньше valid_from {term.valid_from}",
                                f"valid_to {term.valid_to} valid_from {term.valid_from} күнінен бұрын")
    for before, after in zip(terms, terms[1:], strict=False):
        if before.valid_to is None or before.valid_to >= after.valid_from:
            raise dates_invalid(f"the term from {after.valid_from} overlaps the one from {before.valid_from}",
                                f"период с {after.valid_from} пересекается с периодом с {before.valid_from}",
                                f"{after.valid_from} басталатын кезең {before.valid_from} кезеңімен қиылысады")


# --- the table ----------------------------------------------------------------------------


def _member(r: StaffTermRow) -> StaffMember:
    return StaffMember(iin=r.iin, full_name=r.full_name, role=r.role, valid_from=r.valid_from, valid_to=r.valid_to)


def _ordered(q):
    return q.order_by(col(StaffTermRow.valid_from), col(StaffTermRow.iin), col(StaffTermRow.id))


def terms_of(session: Session, participant_id: str, iin: str | None = None) -> list[StaffMember]:
    """Every term at the participant (of one person, when `iin` is given), oldest first."""
    q = select(StaffTermRow).where(StaffTermRow.participant_id == participant_id)
    if iin is not None:
        q = q.where(StaffTermRow.iin == iin)
    return [_member(r) for r in session.exec(_ordered(q))]


def terms_by_participant(session: Session, ids: Iterable[str] | None = None) -> dict[str, list[StaffMember]]:
    """Every term of these participants (of all, when `ids` is None), in few queries."""
    out: dict[str, list[StaffMember]] = {}
    if ids is None:
        batches = [None]
    else:
        wanted = list(ids)
        batches = [wanted[i:i + _CHUNK] for i in range(0, len(wanted), _CHUNK)]
    for batch in batches:
        q = select(StaffTermRow)
        if batch is not None:
            q = q.where(col(StaffTermRow.participant_id).in_(batch))
        for r in session.exec(_ordered(q)):
            out.setdefault(r.participant_id, []).append(_member(r))
    return out


def replace_terms(session: Session, participant_id: str, iin: str, terms: list[StaffMember]) -> None:
    """Store one person's terms as `with_term` / `without_term` left them."""
    for row in session.exec(select(StaffTermRow).where(StaffTermRow.participant_id == participant_id,
                                                       StaffTermRow.iin == iin)):
        session.delete(row)
    for t in terms:
        session.add(StaffTermRow(participant_id=participant_id, iin=t.iin, full_name=t.full_name, role=t.role,
                                 valid_from=t.valid_from, valid_to=t.valid_to))

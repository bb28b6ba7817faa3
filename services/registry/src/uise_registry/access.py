"""Who may see and change what (issue 3, "Access"):

- the Ministry's data office (actor = the Ministry participant): everything;
- a region or district officer (actor = that department): their own subtree;
- any other participant: its own record and the forms that apply to it.

The actor is named by the authenticating gateway in `X-UISE-Actor` (a participant id) and
`X-UISE-User` (the person, for the audit log); see docs/registry.md."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from uise_contracts.events import Level
from uise_registry.adapters import Participant
from uise_registry.domain import RegistryError


@dataclass(frozen=True)
class Actor:
    participant_id: str
    level: Level
    user: str

    @property
    def label(self) -> str:
        return f"{self.user}@{self.participant_id}"

    @property
    def is_ministry(self) -> bool:
        return self.level == Level.ministry


def denied(what: str) -> RegistryError:
    return RegistryError("FORBIDDEN", f"not allowed: {what}", f"нет прав: {what}", f"рұқсат жоқ: {what}")


def resolve(session: Session, actor_id: str | None, user: str | None) -> Actor:
    if not actor_id:
        raise RegistryError("UNAUTHENTICATED", "X-UISE-Actor is required", "требуется заголовок X-UISE-Actor",
                            "X-UISE-Actor тақырыбы қажет")
    p = session.get(Participant, actor_id)
    if p is None or p.active_to is not None:
        raise RegistryError("UNAUTHENTICATED", f"unknown actor {actor_id}", f"неизвестный участник {actor_id}",
                            f"белгісіз қатысушы {actor_id}")
    return Actor(actor_id, Level(p.level), user or "unknown")


def ancestors(session: Session, participant_id: str | None) -> list[str]:
    """The chain of parents up to the Ministry (at most three steps in a valid tree)."""
    out: list[str] = []
    current = participant_id
    while current is not None and len(out) < 8:
        out.append(current)
        row = session.get(Participant, current)
        current = row.parent_id if row else None
    return out


def in_scope(session: Session, actor: Actor, participant_id: str | None) -> bool:
    """Is `participant_id` the actor itself or below it?"""
    return actor.is_ministry or actor.participant_id in ancestors(session, participant_id)


def require_manage(session: Session, actor: Actor, parent_id: str | None, participant_id: str) -> None:
    """Creating or changing a participant: the Ministry anywhere; a region or district officer
    for participants below their own department (not the department itself)."""
    if actor.is_ministry:
        return
    if actor.level in (Level.region, Level.district) and participant_id != actor.participant_id \
            and in_scope(session, actor, parent_id):
        existing = session.get(Participant, participant_id)
        if existing is None or in_scope(session, actor, existing.parent_id):
            return
    raise denied(f"{actor.participant_id} cannot change {participant_id}")


def require_read(session: Session, actor: Actor, participant_id: str) -> None:
    if not in_scope(session, actor, participant_id):
        raise denied(f"{actor.participant_id} cannot read {participant_id}")


def require_ministry(actor: Actor, what: str) -> None:
    if not actor.is_ministry:
        raise denied(f"only the Ministry may {what}")

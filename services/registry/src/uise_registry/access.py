"""Who may see and change what in the registry, for a caller its bearer token names
(`uise_common.auth.Principal`). The route policies check the scope (and, for a route about one
participant, that it lies in the caller's subtree); the rules here are the ones a scope cannot
express:

- reading: a participant, its ancestors' departments and the Ministry see it (the route's
  `subtree=` policy); lists and exports hold only the caller's subtree;
- managing participants (`registry:write`): the data office anywhere, the Ministry itself
  included; a department's head or officer only strictly below its own department — nobody
  changes their own record or moves a participant in or out of their subtree;
- naming staff: the head of that participant, or the data office; nobody else (a district's
  officer cannot name a school's accountant).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, col, select

from uise_common.auth import DATA_OFFICE, HEAD, OFFICER, Principal
from uise_contracts.events import Level
from uise_registry.adapters import Participant
from uise_registry.domain import DEPARTMENTS, RegistryError

MAX_DEPTH = 8  # a valid tree has four levels; a loop in bad data must not hang a request
_CHUNK = 500


def denied(what: str) -> RegistryError:
    return RegistryError("FORBIDDEN", f"not allowed: {what}", f"нет прав: {what}", f"рұқсат жоқ: {what}")


def chain(session: Session, participant_id: str) -> list[str]:
    """The participant and its parents up to the Ministry, itself first: what the route
    policies check a caller's subtree against (ServiceSpec.hierarchy)."""
    out: list[str] = []
    current: str | None = participant_id
    while current is not None and current not in out and len(out) < MAX_DEPTH:
        out.append(current)
        row = session.get(Participant, current)
        current = row.parent_id if row else None
    return out


def subtree(session: Session, root_id: str) -> list[Participant]:
    """The root and everything below it, level by level: one query per level (and per 500
    parents), never one per participant — a region holds thousands."""
    root = session.get(Participant, root_id)
    if root is None:
        return []
    out, seen, frontier = [root], {root_id}, [root]
    for _ in range(MAX_DEPTH):
        parents = [p.participant_id for p in frontier if p.level != Level.organization.value]
        frontier = []
        for i in range(0, len(parents), _CHUNK):
            q = select(Participant).where(col(Participant.parent_id).in_(parents[i:i + _CHUNK]))
            frontier.extend(p for p in session.exec(q) if p.participant_id not in seen)
        if not frontier:
            break
        seen.update(p.participant_id for p in frontier)
        out.extend(frontier)
    return out


def visible(session: Session, who: Principal) -> list[Participant] | None:
    """The participants `who` may list and export; None means all of them (the data office, ops,
    whoever acts for the Ministry)."""
    if who.national:
        return None
    if who.participant_id is None:
        return []
    return subtree(session, who.participant_id)


# --- managing participants ----------------------------------------------------------------


def may_manage(who: Principal, acting: Participant | None, participant_id: str, new_parent: str | None,
               existing: Participant | None, inside: Callable[[str], bool]) -> bool:
    """The one rule for creating, changing and closing a participant (the API and an import
    alike). `acting` is the caller's own participant as the registry holds it; `inside(x)` says
    whether x lies in the caller's subtree."""
    if who.role == DATA_OFFICE:
        return True
    if who.role not in (HEAD, OFFICER) or acting is None or acting.active_to is not None:
        return False
    if Level(acting.level) not in DEPARTMENTS or participant_id == acting.participant_id:
        return False
    if new_parent is None or not inside(new_parent):
        return False
    # a participant moved in from elsewhere, or the Ministry (no parent), is not the caller's
    return existing is None or (existing.parent_id is not None and inside(existing.parent_id))


def require_manage(session: Session, who: Principal, participant_id: str, new_parent: str | None) -> None:
    acting = session.get(Participant, who.participant_id) if who.participant_id else None
    existing = session.get(Participant, participant_id)

    def inside(pid: str) -> bool:
        return who.participant_id in chain(session, pid)

    if not may_manage(who, acting, participant_id, new_parent, existing, inside):
        raise denied(f"{who.participant_id or who.role} cannot change {participant_id}; only the data office, "
                     "or a department's head or officer below its own department")


def require_import(session: Session, who: Principal, rows: list[tuple[str, str | None]]) -> None:
    """Every row of an import, as (BIN, parent BIN), must be one the caller may manage, before
    anything is planned: the plan's answers (ignored, LEVEL_CHANGE, PARENT_UNKNOWN…) would tell
    a caller about participants outside its subtree. The subtree is computed once for the file;
    a new department in the file brings its new subordinates in, whatever the row order."""
    if who.role == DATA_OFFICE:
        return
    acting = session.get(Participant, who.participant_id) if who.participant_id else None
    mine = {p.participant_id for p in subtree(session, who.participant_id)} if acting else set()
    existing = {r.participant_id: r for r in _rows(session, [pid for pid, _ in rows])}
    pending = list(rows)
    while pending:
        refused = []
        for pid, parent in pending:
            if may_manage(who, acting, pid, parent, existing.get(pid), mine.__contains__):
                mine.add(pid)
            else:
                refused.append((pid, parent))
        if len(refused) == len(pending):
            break
        pending = refused
    if pending:
        raise denied(f"{len(pending)} row(s) outside {who.participant_id or who.role}'s subtree "
                     f"(first: {', '.join(pid for pid, _ in pending[:5])})")


def _rows(session: Session, ids: list[str]) -> list[Participant]:
    out: list[Participant] = []
    for i in range(0, len(ids), _CHUNK):
        out.extend(session.exec(select(Participant).where(col(Participant.participant_id).in_(ids[i:i + _CHUNK]))))
    return out


# --- staff ----------------------------------------------------------------------------------


def require_staff_manager(who: Principal, participant_id: str) -> None:
    """The head of that very participant names its staff, or the data office; not a department
    above it, not its own staff."""
    if who.role == DATA_OFFICE or (who.role == HEAD and who.participant_id == participant_id):
        return
    raise denied(f"only the head of {participant_id} or the data office names its staff")

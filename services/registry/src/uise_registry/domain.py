"""Pure rules of the registry: which kind sits at which level, who may be whose parent, which
roles a head may give at which level, and what an approved list of forms allows."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from uise_common.auth import ACCOUNTANT, ANALYST, DATA_OFFICE, OFFICER
from uise_common.clock import process_clock
from uise_contracts.events import Level, ParentTerm

# Dates in the registry (a head's or a staff member's first day, "today" for what is current)
# are Kazakhstan dates, whatever the server's clock zone.
ALMATY = ZoneInfo("Asia/Almaty")

KINDS_BY_LEVEL: dict[Level, set[str]] = {
    Level.ministry: {"ministry"},
    Level.region: {"region", "republic_city"},
    Level.district: {"district", "city"},
    Level.organization: {"school", "college", "university", "preschool", "other"},
}
PARENT_LEVEL: dict[Level, Level | None] = {
    Level.ministry: None,
    Level.region: Level.ministry,
    Level.district: Level.region,
    Level.organization: Level.district,
}

# The first day of a parent term when the registry never knew when the participant opened
# (the lowest date the API takes): its whole known past answers with that parent.
FIRST_KNOWN = date(1900, 1, 1)

DEPARTMENTS = frozenset({Level.ministry, Level.region, Level.district})
# The roles a head may give, and where: an accountant anywhere; officers and analysts work at the
# departments (their inbox, returns, reports of their subtree); the data office only at the
# Ministry, since that role reaches the whole country.
STAFF_ROLE_LEVELS: dict[str, frozenset[Level]] = {
    ACCOUNTANT: frozenset(Level),
    OFFICER: DEPARTMENTS,
    ANALYST: DEPARTMENTS,
    DATA_OFFICE: frozenset({Level.ministry}),
}


def today() -> date:
    """Today in Kazakhstan, by the service's clock (a rehearsal may move it)."""
    return process_clock().today()


class RegistryError(Exception):
    """`detail` travels beside the code and messages in the API's error body (e.g. the position
    of a refused rule)."""

    def __init__(self, code: str, en: str, ru: str, kk: str, **detail: object) -> None:
        super().__init__(en)
        self.code, self.en, self.ru, self.kk = code, en, ru, kk
        self.detail = detail


def check_placement(level: Level, kind: str, parent_level: Level | None) -> None:
    """Raise RegistryError unless `kind` belongs at `level` and the parent is one level up."""
    if kind not in KINDS_BY_LEVEL[level]:
        raise RegistryError(
            "KIND_NOT_ALLOWED_AT_LEVEL",
            f"kind '{kind}' is not allowed at level '{level}'",
            f"вид '{kind}' недопустим на уровне '{level}'",
            f"'{kind}' түрі '{level}' деңгейінде рұқсат етілмейді",
        )
    if PARENT_LEVEL[level] != parent_level:
        raise RegistryError(
            "PARENT_WRONG_LEVEL",
            f"a {level} participant needs a parent at level {PARENT_LEVEL[level]}, got {parent_level}",
            f"участнику уровня {level} нужен вышестоящий уровня {PARENT_LEVEL[level]}",
            f"{level} деңгейіндегі қатысушыға {PARENT_LEVEL[level]} деңгейіндегі жоғары тұрған қажет",
        )


def forms_diff(old: list[dict], new: list[dict]) -> dict[str, list]:
    """What an amending list changes: forms added, removed, and changed (with the top-level
    keys that differ), so the Ministry and participants see the amendment plainly."""
    before = {f["code"]: f for f in old}
    after = {f["code"]: f for f in new}
    changed = []
    for code in sorted(before.keys() & after.keys()):
        keys = sorted(k for k in before[code].keys() | after[code].keys() if before[code].get(k) != after[code].get(k))
        if keys:
            changed.append({"code": code, "changed": keys})
    return {"added": sorted(after.keys() - before.keys()), "removed": sorted(before.keys() - after.keys()),
            "changed": changed}


def check_staff_role(role: str, level: Level) -> None:
    """Raise RegistryError unless a head at `level` may give `role`."""
    if role not in STAFF_ROLE_LEVELS:
        known = ", ".join(STAFF_ROLE_LEVELS)
        raise RegistryError("STAFF_ROLE_UNKNOWN", f"'{role}' is not a role a head may give ({known})",
                            f"'{role}' — не роль, которую может назначить руководитель ({known})",
                            f"'{role}' — басшы тағайындай алатын рөл емес ({known})")
    if level not in STAFF_ROLE_LEVELS[role]:
        where = ", ".join(sorted(lv.value for lv in STAFF_ROLE_LEVELS[role]))
        raise RegistryError("STAFF_ROLE_NOT_AT_LEVEL", f"a {level.value} cannot have a {role} (only: {where})",
                            f"у участника уровня {level.value} не может быть роли {role} (только: {where})",
                            f"{level.value} деңгейіндегі қатысушыда {role} рөлі болмайды (тек: {where})")


# --- dates that change a participant by themselves: a close date, a move -----------------------


def moved(terms: list[ParentTerm], current_parent: str, active_from: date | None, new_parent: str,
          on: date) -> list[ParentTerm]:
    """The parent history after a move to `new_parent` from `on`: the latest term ends the day
    before and the new one starts on `on`. A participant never moved has no terms yet: its first
    term is its present parent from `active_from` (or from FIRST_KNOWN when the registry does not
    know when it opened), so every day of its past still answers with the parent it had then.
    Raises RegistryError when `on` is not after the latest term's first day (MOVE_DATE_INVALID)
    or the parent is the same (MOVE_SAME_PARENT)."""
    history = list(terms) or [ParentTerm(parent_id=current_parent, valid_from=active_from or FIRST_KNOWN)]
    last = history[-1]
    if on <= last.valid_from:
        raise RegistryError(
            "MOVE_DATE_INVALID",
            f"a move takes effect after the current parent's term began ({last.valid_from}), not on {on}",
            f"перевод вступает в силу после начала текущего подчинения ({last.valid_from}), а не {on}",
            f"ауыстыру ағымдағы бағыныстың басталуынан ({last.valid_from}) кейін күшіне енеді, {on} емес")
    if last.parent_id == new_parent:
        raise RegistryError("MOVE_SAME_PARENT", f"the participant already answers to {new_parent} from {last.valid_from}",
                            f"участник уже подчинён {new_parent} с {last.valid_from}",
                            f"қатысушы {last.valid_from} бастап {new_parent} қарамағында")
    history[-1] = last.model_copy(update={"valid_to": on - timedelta(days=1)})
    return [*history, ParentTerm(parent_id=new_parent, valid_from=on)]


def parent_today(terms: list[ParentTerm], fallback: str | None, today: date) -> str | None:
    """The parent in force on `today`: the contract's rule (ParticipantUpserted.parent_on)."""
    return next((t.parent_id for t in terms if t.active_on(today)), fallback)


def next_change(active_to: date | None, terms: list[ParentTerm], today: date) -> date | None:
    """The first day after `today` on which the participant's event changes with no one acting:
    the day after its close date (it turns inactive), or the first day of a later parent."""
    days = [t.valid_from for t in terms if t.valid_from > today]
    if active_to is not None and active_to >= today:
        days.append(active_to + timedelta(days=1))
    return min(days, default=None)


def answers_after(child_active_to: date | None, terms: list[ParentTerm], current_parent: str | None,
                  parent: str, closing_on: date) -> bool:
    """Does this subordinate still answer to `parent` on some day after `parent` closes on
    `closing_on` (while the subordinate itself is open)? Then the parent may not close."""
    first, last = closing_on + timedelta(days=1), child_active_to
    if last is not None and last < first:
        return False
    if not terms:
        return current_parent == parent
    return any(t.parent_id == parent and (t.valid_to is None or t.valid_to >= first)
               and (last is None or t.valid_from <= last) for t in terms)

"""Pure rules of the registry: which kind sits at which level, who may be whose parent, which
roles a head may give at which level, and what an approved list of forms allows."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from uise_common.auth import ACCOUNTANT, ANALYST, DATA_OFFICE, OFFICER
from uise_common.clock import process_clock
from uise_contracts.events import Level

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

"""Information requests (Rules, clause 12), pure: who a request concerns and by when.

The Ministry names a target (kinds, levels, a subtree, participant ids); the request goes down the
hierarchy in force on its as-of date to exactly the participants the target resolves to, and the
answers come back up the same way: every department on the path from a target up to (not
including) the Ministry is a *relay*, which consolidates its members' answers and submits up. The
targets answer by `due_at`; each level above the lowest target level gets `relay_days` more per
level. No I/O here: routing's command builds the `Submitter`s from its read model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from uise_routing.domain import MINISTRY, ORGANIZATION, Refused, Submitter, active_on, parent_on

ALMATY = ZoneInfo("Asia/Almaty")
RANK = {ORGANIZATION: 0, "district": 1, "region": 2, MINISTRY: 3}
MAX_DEPTH = 8  # a valid tree has four levels; a cycle in bad data must not loop
DEFAULT_RELAY_DAYS = 3


@dataclass(frozen=True)
class Target:
    kinds: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    within: str | None = None
    participant_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Member:
    participant_id: str
    role: str  # target | relay
    level: str
    parent_id: str
    due_at: datetime


def superior_on(who: Submitter, day: date) -> str | None:
    return parent_on(who.parents, who.parent_id, day)


def chain_up(pid: str, everyone: Mapping[str, Submitter], day: date) -> list[str]:
    """`pid`, then its superiors in force on `day`, up to the Ministry (or wherever the data stop)."""
    out = [pid]
    while len(out) < MAX_DEPTH and (who := everyone.get(out[-1])) is not None:
        up = superior_on(who, day)
        if up is None or up in out:
            break
        out.append(up)
    return out


def resolve(target: Target, everyone: Mapping[str, Submitter], day: date) -> list[str]:
    """The targets: every participant active on `day` within `within` (by the hierarchy in force
    on `day`) whose kind is in `kinds` or level in `levels`, plus `participant_ids`. The Ministry
    answers to nobody and is never a target. Refused: an unknown `within` or participant id, a
    named participant not active on `day`, an empty result."""
    if target.within is not None and target.within not in everyone:
        raise Refused("TARGET_UNKNOWN_NODE", node_id=target.within)
    unknown = [p for p in target.participant_ids if p not in everyone]
    if unknown:
        raise Refused("TARGET_UNKNOWN_PARTICIPANT", participant_id=unknown[0])
    out: set[str] = set()
    if target.kinds or target.levels:
        for pid, who in everyone.items():
            if who.level == MINISTRY or not active_on(who.active, who.active_from, who.active_to, day):
                continue
            if who.kind not in target.kinds and who.level not in target.levels:
                continue
            if target.within is not None and target.within not in chain_up(pid, everyone, day):
                continue
            out.add(pid)
    for pid in target.participant_ids:
        who = everyone[pid]
        if who.level == MINISTRY or not active_on(who.active, who.active_from, who.active_to, day):
            raise Refused("TARGET_NOT_ACTIVE", participant_id=pid, day=day.isoformat())
        out.add(pid)
    if not out:
        raise Refused("TARGET_EMPTY", day=day.isoformat())
    return sorted(out)


def due_by_level(target_levels: Iterable[str], due_at: datetime, relay_days: int) -> dict[str, datetime]:
    """The targets' deadline for the lowest target level; `relay_days` more for each level above."""
    base = min(RANK[level] for level in target_levels)
    return {level: due_at + timedelta(days=relay_days * (rank - base))
            for level, rank in RANK.items() if level != MINISTRY and rank >= base}


def members_of(targets: list[str], everyone: Mapping[str, Submitter], day: date, due_at: datetime,
               relay_days: int) -> list[Member]:
    """The targets and their relays, each with whom it answers to and by when. A target whose
    chain does not reach the Ministry cannot answer: TARGET_UNREACHABLE."""
    roles: dict[str, str] = dict.fromkeys(targets, "target")
    parents: dict[str, str] = {}
    for pid in targets:
        chain = chain_up(pid, everyone, day)
        top = everyone.get(chain[-1])
        if top is None or top.level != MINISTRY:
            raise Refused("TARGET_UNREACHABLE", participant_id=pid)
        for below, above in zip(chain, chain[1:], strict=False):
            parents[below] = above
            if everyone[above].level != MINISTRY:
                roles.setdefault(above, "relay")  # a department that is also targeted stays a target
    dues = due_by_level((everyone[p].level for p in targets), due_at, relay_days)
    return [Member(participant_id=pid, role=role, level=everyone[pid].level, parent_id=parents[pid],
                   due_at=dues[everyone[pid].level]) for pid, role in sorted(roles.items())]


def days_after(period_end: date, due: datetime) -> int:
    """A deadline as the form's `deadline_days`: whole days after the period's end (Almaty)."""
    return max(0, (due.astimezone(ALMATY).date() - period_end).days)

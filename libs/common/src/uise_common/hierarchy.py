"""The chain from a participant up to the Ministry, read from a service's own read model of
participants (any table keyed by participant_id with a parent_id): what route policies check a
caller's subtree against."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlmodel import Session

MAX_DEPTH = 8  # a valid tree has four levels; a cycle in bad data must not loop forever


def ancestors_in(model: type) -> Callable[[Session, str], list[str]]:
    """`ancestors(session, participant_id)`: the participant itself first, then its parents."""

    def ancestors(session: Session, participant_id: str) -> list[str]:
        chain = [participant_id]
        while len(chain) < MAX_DEPTH and (row := session.get(model, chain[-1])) is not None and row.parent_id:
            if row.parent_id in chain:
                break
            chain.append(row.parent_id)
        return chain

    return ancestors


def form_applies(kind: str, level: str | None, respondent_kinds: Iterable[str], levels: Iterable[str]) -> bool:
    """Whether a participant delivers a form: an organization (school, college, ...) when the
    form names its kind; a department (district, region) when the form gives its level a
    deadline, for it consolidates its subordinates' answers and submits them up. The Ministry
    submits to nobody."""
    if level in (None, "organization"):
        return kind in set(respondent_kinds)
    return level != "ministry" and level in set(levels)

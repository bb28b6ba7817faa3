"""Pure hierarchy rules: a participant submits only to its immediate superior, and only the
forms that apply to its kind."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


def check_route(kind: str, parent_id: str | None, active: bool, respondent_kinds: list[str]) -> Refusal | None:
    if not active:
        return Refusal("PARTICIPANT_CLOSED", "the participant is closed and cannot submit")
    if parent_id is None:
        return Refusal("NO_RECIPIENT", "the participant has no superior to submit to")
    if kind not in respondent_kinds:
        return Refusal("FORM_NOT_APPLICABLE", f"the form does not apply to a {kind}")
    return None

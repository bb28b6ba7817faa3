"""Pure hierarchy rules (Rules, clause 9): a participant submits only to its immediate superior,
only forms that apply to its kind (an organization) or its level (a department), only for
periods open for collection. Each refusal is a stable reason code with an English message.

No I/O here: the handlers build `Submitter` and `FormRule` from routing's read models, and pass
the business date (uise_common.clock) in."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from uise_common.periods import (
    Period,
    PeriodInvalid,
    collection_window,
    matches_period_type,
    parse_period,
)

ORGANIZATION, MINISTRY = "organization", "ministry"


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


@dataclass(frozen=True)
class Submitter:
    participant_id: str
    level: str
    kind: str
    parent_id: str | None  # the superior today
    parents: Sequence[Mapping] = ()  # stored ParentTerm JSON: parent_id, valid_from, valid_to (ISO dates)
    active: bool = True
    active_from: date | None = None
    active_to: date | None = None


@dataclass(frozen=True)
class FormRule:
    """What routing needs to know of a form: to whom it applies, its periodicity, its deadlines."""

    code: str
    respondent_kinds: tuple[str, ...]
    period_type: str | None = None
    deadline_days: Mapping[str, int] = field(default_factory=dict)  # level -> days after the period's end
    members: frozenset[str] | None = None  # an information request's form: exactly these participants


def _day(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def parent_on(parents: Iterable[Mapping] | str | None, default_parent: str | None, day: date) -> str | None:
    """The superior in force on `day`: the stored term active then, else `default_parent`
    (ParticipantUpserted.parent_on, over the JSON routing stores)."""
    terms = json.loads(parents) if isinstance(parents, str) else (parents or [])
    for term in terms:
        start, end = _day(term["valid_from"]), _day(term.get("valid_to"))
        if start <= day and (end is None or day <= end):
            return term["parent_id"]
    return default_parent


def superior_for(submitter: Submitter, period: Period) -> str | None:
    """A period is consolidated by the hierarchy in force for it: the term on its last day."""
    return parent_on(submitter.parents, submitter.parent_id, period.end)


def active_on(active: bool, active_from: date | None, active_to: date | None, day: date) -> bool:
    """Open on `day`. A participant closed with a future date stays active until that date; one
    with no closing date is as active as the registry says."""
    if active_from is not None and day < active_from:
        return False
    if active_to is not None:
        return day <= active_to
    return active


def active_during(active: bool, active_from: date | None, active_to: date | None, period: Period) -> bool:
    """Open at some time during the period (a school closed in June still owes its half year)."""
    if active_from is not None and active_from > period.end:
        return False
    if active_to is not None:
        return active_to >= period.start
    return active


def applies_to(form: FormRule, level: str, kind: str, participant_id: str | None = None) -> bool:
    """An organization answers the forms for its kind; a department (district, region) the forms
    with a deadline for its level, which it consolidates and submits up. An information request's
    form applies to exactly its members, whatever their kind or level (targets answer, relays
    consolidate)."""
    if form.members is not None:
        return participant_id in form.members
    if level == ORGANIZATION:
        return kind in form.respondent_kinds
    return level != MINISTRY and level in form.deadline_days


def check_route(submitter: Submitter, form: FormRule | None, period_text: str, today: date,
                addressed_to: str | None = None) -> Refusal | str:
    """The recipient's id when the route is allowed, else the Refusal. `form` None: the year's
    list is known and does not hold this form."""
    try:
        period = parse_period(period_text)
    except PeriodInvalid as exc:
        return Refusal("PERIOD_INVALID", f"{period_text!r} is not a period: {exc.why}")
    recipient = superior_for(submitter, period)
    if submitter.level == MINISTRY or recipient is None:
        return Refusal("NO_RECIPIENT", f"{submitter.participant_id} has no superior to submit to"
                                       + (" (the Ministry receives, it does not submit)"
                                          if submitter.level == MINISTRY else ""))
    if not active_on(submitter.active, submitter.active_from, submitter.active_to, today):
        closed = f" (closed on {submitter.active_to.isoformat()})" if submitter.active_to else ""
        return Refusal("PARTICIPANT_CLOSED", f"{submitter.participant_id} is not active on {today.isoformat()}{closed}")
    if addressed_to is not None and addressed_to != recipient:
        return Refusal("NOT_IMMEDIATE_SUPERIOR",
                       f"{submitter.participant_id} submits to its immediate superior {recipient} "
                       f"for {period.text}, not to {addressed_to}")
    if form is None:
        return Refusal("UNKNOWN_FORM", f"the approved list for {period.start.year} holds no form of this code")
    if not applies_to(form, submitter.level, submitter.kind, submitter.participant_id):
        whom = f"a {submitter.kind}" if submitter.level == ORGANIZATION else f"the {submitter.level} level"
        return Refusal("FORM_NOT_APPLICABLE", f"form {form.code} does not apply to {whom}")
    if not matches_period_type(form.period_type, period):
        return Refusal("PERIOD_TYPE_MISMATCH",
                       f"form {form.code} is {form.period_type}; {period.text} is a {period.kind} period")
    window = collection_window(period, form.deadline_days.values())
    match window.refusal(today):
        case "PERIOD_NOT_OPEN":
            return Refusal("PERIOD_NOT_OPEN", f"{period.text} opens for collection on {window.opens.isoformat()}")
        case "PERIOD_CLOSED":
            return Refusal("PERIOD_CLOSED", f"{period.text} closed for collection on {window.closes.isoformat()}")
    return recipient


# --- the inbox: statuses and reviews ---------------------------------------------------------

MAX_COMMENT = 2000


class Refused(Exception):
    """A recipient's command refused: `code` is stable; the API gives it a status and kk/ru/en."""

    def __init__(self, code: str, **detail: object) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def check_return_comment(comment: str | None) -> str:
    text = (comment or "").strip()
    if not text:
        raise Refused("COMMENT_REQUIRED")
    if len(text) > MAX_COMMENT:
        raise Refused("COMMENT_TOO_LONG", max_length=MAX_COMMENT)
    return text


def status_of(in_pipeline: bool, current_state: str | None, rejected: bool) -> str:
    """One subordinate's status for a form and period: a newer version on its way wins, then the
    current filed version's state (accepted, reviewed, returned), then a refusal, else expected."""
    if in_pipeline:
        return "delivered"
    if current_state is not None:
        return current_state
    return "rejected" if rejected else "expected"

"""Event handlers: (event, session) -> events to emit."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from uise_common.consumer import NotYetKnown
from uise_common.periods import parse_period
from uise_common.pki.cms import (
    CLOCK_SKEW,
    MAX_AGE,
    SignatureError,
    SignerInfo,
    TrustStore,
    verify_all,
)
from uise_contracts.events import (
    FormListApproved,
    HeadTerm,
    InfoRequestIssued,
    ParticipantUpserted,
    SignatureChecked,
    Signer,
    StoredObject,
    SubmissionReceived,
)
from uise_signature.adapters import KnownForm, KnownParticipant, Verdict
from uise_signature.domain import check_policy

Fetch = Callable[[StoredObject], bytes]
ALMATY = ZoneInfo("Asia/Almaty")


def on_participant(event: ParticipantUpserted, session: Session) -> list:
    heads = json.dumps([h.model_dump(mode="json") for h in event.heads])
    session.merge(KnownParticipant(participant_id=event.participant_id, bin=event.bin, head_iin=event.head_iin,
                                   heads=heads))
    return []


def head_at(participant: KnownParticipant, when: datetime) -> str | None:
    """The head on `when`'s day in Almaty (the delivery date) from the registry's history;
    without a history, the current head."""
    terms = [HeadTerm.model_validate(h) for h in json.loads(participant.heads or "[]")]
    if not terms:
        return participant.head_iin
    day = when.astimezone(ALMATY).date()
    for term in terms:
        if term.valid_from <= day and (term.valid_to is None or day <= term.valid_to):
            return term.iin
    return None


def on_formlist(event: FormListApproved, session: Session) -> list:
    for form in event.forms:
        session.merge(KnownForm(code=form.code, year=event.year, signers=form.signers))
    return []


def on_inforequest(event: InfoRequestIssued, session: Session) -> list:
    """An information request's form (clause 12) and its signers policy (default: the first head).
    One event per member, all with the same form: merged by key, a replay changes nothing."""
    if event.form is None or event.period is None:
        return []
    session.merge(KnownForm(code=event.form.code, year=parse_period(event.period).start.year,
                            signers=event.form.signers))
    return []


def form_allows_right_to_sign(session: Session, event: SubmissionReceived) -> Callable[[], bool]:
    """The form's policy, looked up when first asked: only for a signer who holds the right to
    sign but is not the head, so a form still on its way from the registry delays just those
    (NotYetKnown retries)."""
    answer: list[bool] = []

    def allowed() -> bool:
        if not answer:
            year = int(event.period[:4]) if event.period[:4].isdigit() else -1
            form = session.get(KnownForm, (event.form_code, year))
            if form is None:
                raise NotYetKnown(f"form {event.form_code}/{year}")
            answer.append(form.signers == "first_head_or_right_to_sign")
        return answer[0]

    return allowed


def _signer(info: SignerInfo, satisfies_policy: bool | None = None) -> Signer:
    return Signer(iin=info.iin, name=info.name, bin=info.bin, serial=info.serial, algorithm=info.algorithm,
                  satisfies_policy=satisfies_policy)


def make_on_received(fetch: Fetch, trust: Callable[[], TrustStore], *, max_age: timedelta | None = MAX_AGE,
                     clock_skew: timedelta = CLOCK_SKEW):
    def on_received(event: SubmissionReceived, session: Session) -> list:
        if session.get(Verdict, event.submission_id) is not None:
            return []  # already decided under another event id (a relayed duplicate)
        participant = session.get(KnownParticipant, event.participant_id)
        if participant is None:
            raise NotYetKnown(f"participant {event.participant_id}")
        if event.channel == "paper":
            # Clause 8's paper channel: the head signed the letterhead; the recipient registered
            # it with a scan. There is no electronic signature to verify, only who registered it.
            session.add(Verdict(submission_id=event.submission_id, ok=True, reason_code=None))
            return [SignatureChecked(
                submission_id=event.submission_id, participant_id=event.participant_id,
                form_code=event.form_code, period=event.period, document=event.document, ok=True,
                message=f"paper submission registered by {event.registered_by or 'the recipient'}",
                signer=Signer(algorithm="paper"), explanations=event.explanations,
                addressed_to=event.addressed_to, supersedes=event.supersedes)]
        document, signature = fetch(event.document), fetch(event.signature)
        # The trusted time: intake's delivery time (a naive one from an old producer is UTC).
        delivered = event.delivered_at if event.delivered_at.tzinfo else event.delivered_at.replace(tzinfo=UTC)
        signer, signers, chosen_info = None, [], None
        try:
            infos = verify_all(signature, document, trust(), at=delivered, clock_skew=clock_skew, max_age=max_age)
            # The head in office on the delivery date, not on the signingTime the signer wrote.
            outcome = check_policy(infos, participant.bin, head_at(participant, delivered),
                                   allow_right_to_sign=form_allows_right_to_sign(session, event))
            signers = [_signer(i, ok) for i, ok in zip(infos, outcome.satisfied, strict=True)]
            index = outcome.chosen if outcome.chosen is not None else 0
            signer, chosen_info = signers[index], infos[index]
            if outcome.refusal is not None:
                raise outcome.refusal
            ok, code, message = True, None, None
        except SignatureError as exc:
            ok, code, message = False, exc.code, str(exc)
        session.add(Verdict(submission_id=event.submission_id, ok=ok, reason_code=code,
                            signer_iin=signer.iin if signer else None, signer_bin=signer.bin if signer else None))
        return [SignatureChecked(
            submission_id=event.submission_id, participant_id=event.participant_id,
            form_code=event.form_code, period=event.period, document=event.document,
            ok=ok, reason_code=code, message=message, signer=signer, explanations=event.explanations,
            signers=signers, trusted_time=chosen_info.trusted_time if chosen_info else None,
            time_source=chosen_info.time_source if chosen_info else None,
            addressed_to=event.addressed_to, supersedes=event.supersedes,
        )]

    return on_received

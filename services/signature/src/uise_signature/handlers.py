"""Event handlers: (event, session) -> events to emit."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from uise_common.consumer import NotYetKnown
from uise_common.pki.cms import SignatureError, TrustStore, verify
from uise_common.pki.oids import EKU_FIRST_HEAD, EKU_RIGHT_TO_SIGN
from uise_contracts.events import (
    FormListApproved,
    HeadTerm,
    ParticipantUpserted,
    SignatureChecked,
    Signer,
    StoredObject,
    SubmissionReceived,
)
from uise_signature.adapters import KnownForm, KnownParticipant, Verdict
from uise_signature.domain import check_authority

Fetch = Callable[[StoredObject], bytes]
ALMATY = ZoneInfo("Asia/Almaty")


def on_participant(event: ParticipantUpserted, session: Session) -> list:
    heads = json.dumps([h.model_dump(mode="json") for h in event.heads])
    session.merge(KnownParticipant(participant_id=event.participant_id, bin=event.bin, head_iin=event.head_iin,
                                   heads=heads))
    return []


def head_at(participant: KnownParticipant, when: datetime) -> str | None:
    """The head on the signing day (Almaty) from the registry's history; without a history,
    the current head."""
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


def allows_right_to_sign(session: Session, event: SubmissionReceived, info) -> bool:
    """The form's policy; asked only of a signer who holds the right to sign but is not the head,
    so a form still on its way from the registry delays just those (NotYetKnown retries)."""
    if EKU_FIRST_HEAD in info.extended_key_usage or EKU_RIGHT_TO_SIGN not in info.extended_key_usage:
        return False
    year = int(event.period[:4]) if event.period[:4].isdigit() else -1
    form = session.get(KnownForm, (event.form_code, year))
    if form is None:
        raise NotYetKnown(f"form {event.form_code}/{year}")
    return form.signers == "first_head_or_right_to_sign"


def make_on_received(fetch: Fetch, trust: Callable[[], TrustStore]):
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
                signer=Signer(algorithm="paper"), explanations=event.explanations)]
        document, signature = fetch(event.document), fetch(event.signature)
        signer = None
        try:
            info = verify(signature, document, trust())
            signer = Signer(iin=info.iin, name=info.name, bin=info.bin, serial=info.serial, algorithm=info.algorithm)
            signed_at = info.signing_time or event.delivered_at
            check_authority(info, participant.bin, head_at(participant, signed_at),
                            allow_right_to_sign=allows_right_to_sign(session, event, info))
            ok, code, message = True, None, None
        except SignatureError as exc:
            ok, code, message = False, exc.code, str(exc)
        session.add(Verdict(submission_id=event.submission_id, ok=ok, reason_code=code,
                            signer_iin=signer.iin if signer else None, signer_bin=signer.bin if signer else None))
        return [SignatureChecked(
            submission_id=event.submission_id, participant_id=event.participant_id,
            form_code=event.form_code, period=event.period, document=event.document,
            ok=ok, reason_code=code, message=message, signer=signer, explanations=event.explanations,
        )]

    return on_received

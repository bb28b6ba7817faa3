"""Intake's commands: what a delivery or a read does to intake's tables, each a function of a
session, called by the HTTP routes (through `delivery.Deliveries` for the writes) exactly as the
consumers call their handlers. No HTTP here: a refusal is `Refused` with a reason code."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, or_, select

from uise_common import reads
from uise_common.auth import Principal
from uise_common.clock import almaty_iso as almaty
from uise_common.hierarchy import form_applies
from uise_contracts.events import StoredObject, SubmissionExplained, SubmissionReceived
from uise_intake.adapters import (
    IdempotencyRecord,
    KnownForm,
    KnownParticipant,
    RequestMember,
    Submission,
    TimelineEntry,
)
from uise_intake.domain import FINAL, Period, check_period_type
from uise_intake.reasons import Refused

Ancestors = Callable[[Session, str], Sequence[str]]


@dataclass
class Delivery:
    """One submission on its way into the database, electronic or paper."""

    caller_id: str  # the authenticated participant: the submitter, or the registering recipient
    participant: KnownParticipant
    form_code: str
    period: Period
    document: bytes
    media_type: str
    proof: bytes  # the CMS signature, or the paper's scan
    channel: str
    fingerprint: str
    idempotency_key: str | None
    delivered_at: datetime
    registered_by: str | None = None
    delivered_on: date | None = None
    explanations: dict[str, str] = field(default_factory=dict)
    signers: list[dict] = field(default_factory=list)  # as the CMS claims them (verified later)
    addressed_to: str | None = None  # the recipient the submitter named, checked against its parent

    @property
    def paper(self) -> bool:
        return self.channel == "paper"


# --- checks against the read models -------------------------------------------------------------


def reference(s: Session, participant_id: str, form_code: str, period: Period,
              recipient: str | None = None, addressed_to: str | None = None) -> KnownParticipant:
    """The submitting participant, if it may deliver this form for this period (and, for paper,
    if `recipient` is its parent; when the submitter names `addressed_to`, if that is its
    immediate superior: a school never submits straight to the region, clause 9)."""
    participant = s.get(KnownParticipant, participant_id)
    if participant is None or not participant.active:
        raise Refused("UNKNOWN_PARTICIPANT", participant_id=participant_id)
    if recipient is not None and participant.parent_id != recipient:
        raise Refused("NOT_RECIPIENT", participant_id=participant_id)
    if participant.parent_id is None:
        raise Refused("NO_RECIPIENT", participant_id=participant_id)
    if addressed_to is not None and addressed_to != participant.parent_id:
        raise Refused("NOT_IMMEDIATE_SUPERIOR", addressed_to=addressed_to, parent_id=participant.parent_id)
    form = s.get(KnownForm, (form_code, period.start.year))
    if form is None:
        raise Refused("UNKNOWN_FORM", form_code=form_code, period=period.text)
    if form.request_id is not None:  # an information request: exactly its members answer (or relay)
        applies = s.get(RequestMember, (form_code, participant_id)) is not None
    else:
        applies = form_applies(participant.kind, participant.level, form.respondent_kinds.split(","),
                               (form.levels or "").split(","))
    if not applies:
        raise Refused("FORM_NOT_APPLICABLE", form_code=form_code, kind=participant.kind)
    check_period_type(form_code, form.period_type, period)
    return participant


def first_answer(s: Session, caller_id: str, key: str | None) -> IdempotencyRecord | None:
    return s.get(IdempotencyRecord, (caller_id, key)) if key is not None else None


@dataclass(frozen=True)
class ChainHead:
    submission_id: str
    channel: str


def chain_head(s: Session, participant_id: str, form_code: str, period: str) -> ChainHead | None:
    """The latest version of (participant, form, period): the one nobody supersedes yet."""
    rows = s.exec(select(Submission.submission_id, Submission.supersedes, Submission.delivered_at,
                         Submission.channel).where(
        Submission.participant_id == participant_id, Submission.form_code == form_code,
        Submission.period == period)).all()
    replaced = {sup for _, sup, _, _ in rows if sup}
    heads = sorted((at, sid, channel) for sid, _, at, channel in rows if sid not in replaced)
    return ChainHead(heads[-1][1], heads[-1][2]) if heads else None


def check_supersedes(d: Delivery, previous: ChainHead | None) -> None:
    """A registration of paper never replaces a signed electronic submission: only the
    participant's own (electronic) correction does (clause 8: the electronic signature is the
    head's own act)."""
    if d.paper and previous is not None and previous.channel == "electronic":
        raise Refused("PAPER_AFTER_ELECTRONIC", submission_id=previous.submission_id)


# --- recording a delivery -------------------------------------------------------------------------


def receipt_fields(d: Delivery, submission_id: str, doc: StoredObject, proof: StoredObject,
                   previous: str | None, registered_at: datetime) -> dict:
    fields = {
        "submission_id": submission_id, "participant_id": d.participant.participant_id,
        "recipient_id": d.participant.parent_id, "form_code": d.form_code, "period": d.period.text,
        "document_sha256": doc.sha256, "delivered_at": d.delivered_at.isoformat(), "supersedes": previous,
    }
    if d.paper:
        fields |= {"channel": "paper", "scan_sha256": proof.sha256, "delivered_on": d.delivered_on.isoformat(),
                   "registered_by": d.registered_by, "registered_at": registered_at.isoformat()}
    else:
        fields["signature_sha256"] = proof.sha256
        fields["signers"] = d.signers
    return fields


def record(s: Session, d: Delivery, submission_id: str, doc: StoredObject, proof: StoredObject,
           previous: str | None, receipt: dict, registered_at: datetime) -> SubmissionReceived:
    """The submission, its first timeline steps and its idempotency record; returns the event
    to queue in the same transaction. Inserts only: nothing read here can go stale, and a
    concurrent version of the same chain loses on the unique `supersedes`."""
    participant = d.participant
    s.add(Submission(
        submission_id=submission_id, participant_id=participant.participant_id,
        recipient_id=participant.parent_id, form_code=d.form_code, period=d.period.text,
        document_key=doc.key, document_sha256=doc.sha256, signature_key=proof.key,
        signature_sha256=proof.sha256, media_type=d.media_type, delivered_at=d.delivered_at,
        supersedes=previous, channel=d.channel, registered_by=d.registered_by, addressed_to=d.addressed_to,
        receipt=json.dumps(receipt, ensure_ascii=False)))
    detail: dict = {"sha256": doc.sha256}
    if d.paper:
        detail |= {"channel": "paper", "delivered_on": d.delivered_on.isoformat()}
    elif d.signers:
        detail["signers_claimed"] = d.signers
    s.add(TimelineEntry(submission_id=submission_id, step="received", service="intake",
                        at=d.delivered_at, detail=json.dumps(detail, ensure_ascii=False)))
    if d.paper:
        s.add(TimelineEntry(submission_id=submission_id, step="registered_on_paper", service="intake",
                            at=registered_at, detail=json.dumps({
                                "registered_by": d.registered_by, "scan_sha256": proof.sha256,
                                "delivered_on": d.delivered_on.isoformat()}, ensure_ascii=False)))
    if d.idempotency_key is not None:
        s.add(IdempotencyRecord(participant_id=d.caller_id, key=d.idempotency_key, fingerprint=d.fingerprint,
                                submission_id=submission_id, status_code=202,
                                response=json.dumps(receipt, ensure_ascii=False)))
    return SubmissionReceived(
        submission_id=submission_id, participant_id=participant.participant_id, form_code=d.form_code,
        period=d.period.text, document=doc, signature=proof, signature_detached=not d.paper,
        delivered_at=d.delivered_at, supersedes=previous, channel=d.channel, registered_by=d.registered_by,
        explanations=d.explanations, addressed_to=d.addressed_to)


# --- reading back --------------------------------------------------------------------------------


def readable(s: Session, who: Principal, submission_id: str, ancestors: Ancestors) -> Submission | None:
    """The submission if `who` may read it (its submitter, a department above it, the Ministry);
    None otherwise, the same as for an unknown id."""
    sub = s.get(Submission, submission_id)
    if sub is None or not who.reaches(ancestors(s, sub.participant_id)):
        return None
    return sub


def summary(sub: Submission, superseded_by: str | None) -> dict:
    return {
        "submission_id": sub.submission_id, "participant_id": sub.participant_id,
        "recipient_id": sub.recipient_id, "form_code": sub.form_code, "period": sub.period,
        "channel": sub.channel, "status": sub.status, "reason_code": sub.reason_code,
        "final": sub.status in FINAL, "delivered_at": almaty(sub.delivered_at),
        "document_sha256": sub.document_sha256, "supersedes": sub.supersedes, "superseded_by": superseded_by,
    }


def chain_of(s: Session, sub: Submission) -> list[dict]:
    """Every version of (participant, form, period), oldest first, by their supersedes links."""
    rows = s.exec(select(Submission).where(
        Submission.participant_id == sub.participant_id, Submission.form_code == sub.form_code,
        Submission.period == sub.period)).all()
    by_id = {r.submission_id: r for r in rows}
    successor = {r.supersedes: r.submission_id for r in rows if r.supersedes}
    first, seen = sub, {sub.submission_id}
    while first.supersedes in by_id and first.supersedes not in seen:
        first = by_id[first.supersedes]
        seen.add(first.submission_id)
    out, current, seen = [], first, set()
    while current is not None and current.submission_id not in seen:
        seen.add(current.submission_id)
        out.append({"submission_id": current.submission_id, "delivered_at": almaty(current.delivered_at),
                    "channel": current.channel, "status": current.status})
        current = by_id.get(successor.get(current.submission_id, ""))
    return out


def submission_view(s: Session, who: Principal, submission_id: str, ancestors: Ancestors) -> dict | None:
    """The submission, its status, its timeline and its chain of corrections (Almaty times)."""
    sub = readable(s, who, submission_id, ancestors)
    if sub is None:
        return None
    steps = s.exec(select(TimelineEntry).where(TimelineEntry.submission_id == submission_id)
                   .order_by(col(TimelineEntry.at), col(TimelineEntry.id))).all()
    chain = chain_of(s, sub)
    ids = [c["submission_id"] for c in chain]
    at = ids.index(sub.submission_id)
    return {
        **sub.model_dump(mode="json", exclude={"receipt"}),
        **summary(sub, ids[at + 1] if at + 1 < len(ids) else None),
        "chain": chain,
        "timeline": [{"step": t.step, "service": t.service, "at": almaty(t.at), "detail": json.loads(t.detail)}
                     for t in steps],
    }


def receipt_of(s: Session, sub: Submission) -> dict | None:
    """The signed receipt the upload was answered with."""
    if sub.receipt:
        return json.loads(sub.receipt)
    # recorded before receipts were kept: the answer kept for its Idempotency-Key, if it had one
    first = s.exec(select(IdempotencyRecord).where(IdempotencyRecord.submission_id == sub.submission_id)).first()
    return json.loads(first.response) if first is not None else None


def subtree(s: Session, root: str, limit: int = 50_000) -> list[str]:
    """`root` and every participant below it, breadth first."""
    out, frontier = [root], [root]
    while frontier and len(out) < limit:
        children = s.exec(select(KnownParticipant.participant_id).where(
            col(KnownParticipant.parent_id).in_(frontier))).all()
        frontier = [c for c in children if c not in out]
        out.extend(frontier)
    return out


def list_view(s: Session, who: Principal, filters: dict[str, str | None], limit: int) -> list[dict]:
    """The caller's own submissions and those of its subtree, newest first."""
    q = select(Submission)
    if not who.national:
        ids = subtree(s, who.participant_id) if who.participant_id else []
        q = q.where(or_(col(Submission.participant_id).in_(ids), Submission.recipient_id == who.participant_id))
    for column, value in ((Submission.form_code, filters.get("form_code")), (Submission.period, filters.get("period")),
                          (Submission.status, filters.get("status")),
                          (Submission.participant_id, filters.get("participant_id"))):
        if value is not None:
            q = q.where(column == value)
    rows = s.exec(q.order_by(col(Submission.delivered_at).desc()).limit(limit)).all()
    ids = [r.submission_id for r in rows]
    successors = dict(s.exec(select(Submission.supersedes, Submission.submission_id).where(
        col(Submission.supersedes).in_(ids))).all()) if ids else {}
    return [summary(r, successors.get(r.submission_id)) for r in rows]


# --- documents -------------------------------------------------------------------------------------

DOCUMENT_PARTS = ("document", "signature", "scan")


def stored_part(sub: Submission, part: str) -> StoredObject | None:
    """The stored object behind `part` of a submission (a paper submission has a scan where an
    electronic one has a signature)."""
    if part == "document":
        return StoredObject(key=sub.document_key, sha256=sub.document_sha256, size=0, media_type=sub.media_type)
    if (part == "scan") == (sub.channel == "paper") and part in ("signature", "scan"):
        media = "application/pdf" if part == "scan" else "application/pkcs7-signature"
        return StoredObject(key=sub.signature_key, sha256=sub.signature_sha256, size=0, media_type=media)
    return None


READS_KIND = "submission"  # what intake's rows of uise_common.reads are about


def record_read(s: Session, by: reads.Reader, sub: Submission, part: str, how: str) -> None:
    """Every read of a document is on record: who, for whom, what, how, from where (clause 5's
    data are children's and staff's)."""
    reads.record(s, by, READS_KIND, sub.submission_id, part, how)


def document_reads(s: Session, submission_id: str) -> list[dict]:
    return reads.reads_of(s, READS_KIND, submission_id)


# --- explaining queries after upload ----------------------------------------------------------------


def open_queries(s: Session, submission_id: str) -> set[str]:
    """How the queries the latest `queried` step left open may be named: their rule codes, and
    `rule:cell` for each cell a per-cell query names."""
    step = s.exec(select(TimelineEntry).where(TimelineEntry.submission_id == submission_id,
                                              TimelineEntry.step == "queried")
                  .order_by(col(TimelineEntry.at).desc(), col(TimelineEntry.id).desc())).first()
    keys: set[str] = set()
    for q in json.loads(step.detail).get("queries", []) if step else []:
        keys.add(q["rule"])  # one explanation for every cell the query names
        if q.get("field"):
            keys.add(f"{q['rule']}:{q['field']}")  # or one per cell (a range, an outlier)
    return keys


def explain(s: Session, who: Principal, submission_id: str, explanations: dict[str, str],
            now: datetime) -> SubmissionExplained | None:
    """The organization's own people explain its queried submission's queries (clause 11: the
    data are theirs to stand by). None when the submission is not theirs (the same answer as an
    unknown one)."""
    sub = s.get(Submission, submission_id)
    if sub is None or sub.participant_id != who.participant_id:
        return None
    if sub.status != "queried":
        raise Refused("NOT_QUERIED", submission_id=submission_id, state=sub.status)
    unknown = sorted(set(explanations) - open_queries(s, submission_id))
    if unknown:
        raise Refused("EXPLANATION_UNKNOWN_RULE", rules=", ".join(unknown))
    s.add(TimelineEntry(submission_id=submission_id, step="explained", service="intake", at=now,
                        detail=json.dumps({"explanations": explanations, "by": who.label}, ensure_ascii=False)))
    return SubmissionExplained(submission_id=submission_id, participant_id=sub.participant_id,
                               form_code=sub.form_code, period=sub.period, explanations=explanations,
                               explained_by=who.label, explained_at=now)

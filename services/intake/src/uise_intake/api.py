"""Intake's HTTP API (docs/intake.md): POST a signed document, register a paper submission,
read one's submissions with their timelines and correction chains; ops endpoints for API keys."""

import asyncio
import hashlib
import hmac
import json
import urllib.parse
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Security, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from uise_common.service import ServiceRuntime
from uise_common.telemetry import tag_submission
from uise_contracts.events import StoredObject, SubmissionReceived
from uise_intake import keys
from uise_intake.adapters import (
    IdempotencyRecord,
    KnownForm,
    KnownParticipant,
    Submission,
    TimelineEntry,
)
from uise_intake.domain import (
    PDF,
    InFlightLimiter,
    Period,
    XlsxLimits,
    check_cms,
    check_idempotency_key,
    check_pdf,
    check_period_type,
    check_window,
    fingerprint,
    inspect_document,
    parse_explanations,
    parse_period,
)
from uise_intake.edge import guarded_route
from uise_intake.limits import UploadLimits
from uise_intake.reasons import REASONS, Refused, from_refused, refuse
from uise_intake.receipts import ReceiptSigner

ALMATY = ZoneInfo("Asia/Almaty")
RETRY_AFTER = {"Retry-After": "5"}
PERIOD_HELP = "2026 (annual), 2026-H1, 2026-Q3, 2026-10 (monthly) or 2026-10-15 (as of a date)"
SUBMITTER_ID = r"^[0-9A-Za-z_-]{1,64}$"
AUTH_CODES = ("UNAUTHENTICATED", "API_KEY_INVALID", "API_KEY_REVOKED", "UNKNOWN_PARTICIPANT")
UPLOAD_CODES = ("REQUEST_TOO_LARGE", "REQUEST_MALFORMED", "OVERLOADED", "PARTICIPANT_BUSY", "RATE_LIMITED",
                "REQUEST_TIMEOUT", "UPLOAD_TOO_SLOW", "IDEMPOTENCY_KEY_INVALID",
                "IDEMPOTENCY_KEY_REUSED", "PERIOD_INVALID", "PERIOD_OUTSIDE_WINDOW", "PERIOD_MISMATCH",
                "UNKNOWN_FORM", "FORM_NOT_APPLICABLE", "KAFKA_UNAVAILABLE", "STORAGE_UNAVAILABLE",
                "DATABASE_UNAVAILABLE")
DOCUMENT_CODES = ("DOCUMENT_TOO_LARGE", "EMPTY_UPLOAD", "DOCUMENT_TYPE_UNSUPPORTED", "DOCUMENT_TYPE_MISMATCH",
                  "DOCUMENT_NOT_UTF8", "DOCUMENT_JSON_INVALID", "XLSX_NOT_A_ZIP", "XLSX_RATIO", "XLSX_TOO_LARGE",
                  "XLSX_XML_ENTITIES")


def almaty(at: datetime) -> str:
    """Clause 10 times are read in Almaty; a naive value from the database is UTC."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(ALMATY).isoformat()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def read_limited(upload: UploadFile, limit: int, too_large: str, what: str | None) -> bytes:
    """At most `limit` bytes of an upload; `what` names it when empty is refused here."""
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise refuse(too_large, limit=limit)
    if not data and what:
        raise refuse("EMPTY_UPLOAD", what=what)
    return data


def registrar(header: str) -> str:
    """X-UISE-User as text: a login, or a name sent as UTF-8 (raw or percent-encoded)."""
    try:
        raw = header.encode("latin-1").decode("utf-8")  # Starlette reads header bytes as latin-1
    except UnicodeError:
        raw = header
    text = urllib.parse.unquote(raw)
    return " ".join("".join(ch for ch in text if ch.isprintable()).split())[:128] or "?"


def errors(*codes: str) -> dict:
    """OpenAPI `responses` naming the reason codes a route may answer with."""
    out: dict[int, dict] = {422: {"description": "REQUEST_INVALID"}}
    for code in codes:
        status = REASONS[code].status if code in REASONS else 422
        out.setdefault(status, {"description": ""})
        out[status]["description"] = ", ".join(filter(None, [out[status]["description"], code]))
    return out


class KeyRequest(BaseModel):
    participant_id: str = Field(pattern=SUBMITTER_ID)
    label: str | None = Field(default=None, max_length=200)


@dataclass
class Delivery:
    """One submission on its way into the database, electronic or paper."""

    caller_id: str
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


def router(rt: ServiceRuntime, signer: ReceiptSigner, limiter: InFlightLimiter | None = None) -> APIRouter:
    settings = rt.settings
    limiter = limiter or InFlightLimiter(settings.intake_max_in_flight)
    max_body = (settings.max_document_bytes + max(settings.intake_max_signature_bytes, settings.intake_max_scan_bytes)
                + 256 * 1024)
    xlsx_limits = XlsxLimits(settings.intake_xlsx_max_uncompressed_bytes, settings.intake_xlsx_max_ratio)
    api = APIRouter(prefix="/v1", tags=["intake"])
    ops = APIRouter(prefix="/v1/ops", tags=["ops"])
    chain_locks: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
    bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                        description="A participant's API key (`uise-intake issue-key <participant_id>`)")

    # --- who is asking -------------------------------------------------------------------

    async def authenticate(request: Request) -> str:
        """The participant of the request's API key, or (only behind an authenticating gateway,
        UISE_INTAKE_TRUST_GATEWAY_HEADER=true) the X-Participant-Id the gateway set."""
        if hasattr(request.state, "participant_id"):  # an upload: done before its body was read
            return request.state.participant_id
        credentials = await bearer(request)
        if credentials is not None:
            token = credentials.credentials
            try:
                return await rt.read(lambda s: keys.resolve(s, token))
            except Refused as r:
                raise from_refused(r) from None
            except Exception as exc:
                raise refuse("DATABASE_UNAVAILABLE", headers=RETRY_AFTER) from exc
        gateway = request.headers.get("x-participant-id", "").strip()
        if settings.intake_trust_gateway_header and gateway and len(gateway) <= 64:
            return gateway
        raise refuse("UNAUTHENTICATED", headers={"WWW-Authenticate": "Bearer"})

    async def caller(request: Request,
                     _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None) -> str:
        return await authenticate(request)

    uploads = APIRouter(prefix="/v1", tags=["intake"], route_class=guarded_route(
        UploadLimits.from_settings(settings, limiter), max_body, authenticate))

    Caller = Annotated[str, Depends(caller)]
    IdempotencyKey = Annotated[str | None, Header(
        alias="Idempotency-Key", description="A retry with the same key returns the first receipt")]

    def admin(x_uise_admin_token: Annotated[str | None, Header()] = None) -> None:
        if not settings.intake_admin_token:
            raise refuse("OPS_DISABLED")
        if not x_uise_admin_token or not hmac.compare_digest(
                x_uise_admin_token.encode(), settings.intake_admin_token.encode()):
            raise refuse("ADMIN_TOKEN_INVALID")

    # --- the shared path of a delivery -------------------------------------------------------

    def check(fn, *args):
        """A pure check; its Refused becomes the answer."""
        try:
            return fn(*args)
        except Refused as r:
            raise from_refused(r) from None

    async def check_in_thread(fn, *args):
        """A CPU-bound check (unzipping, parsing), off the event loop."""
        try:
            return await asyncio.to_thread(fn, *args)
        except Refused as r:
            raise from_refused(r) from None

    async def read(work):
        """A read-only check against the database; a failing database is a 503."""
        try:
            return await rt.read(work)
        except Refused as r:
            raise from_refused(r) from None
        except Exception as exc:
            raise refuse("DATABASE_UNAVAILABLE", headers=RETRY_AFTER) from exc

    async def replay(caller_id: str, key: str | None, fp: str) -> JSONResponse | None:
        """The first answer to this Idempotency-Key, or None when it is new."""
        if key is None:
            return None
        found = await read(lambda s: s.get(IdempotencyRecord, (caller_id, key)))
        if found is None:
            return None
        if not hmac.compare_digest(found.fingerprint, fp):
            raise refuse("IDEMPOTENCY_KEY_REUSED", submission_id=found.submission_id)
        return JSONResponse(json.loads(found.response), status_code=found.status_code,
                            headers={"Location": f"/v1/submissions/{found.submission_id}",
                                     "Idempotent-Replayed": "true"})

    def reference(s: Session, participant_id: str, form_code: str, period: Period,
                  recipient: str | None = None) -> KnownParticipant:
        participant = s.get(KnownParticipant, participant_id)
        if participant is None or not participant.active:
            raise Refused("UNKNOWN_PARTICIPANT", participant_id=participant_id)
        if recipient is not None and participant.parent_id != recipient:
            raise Refused("NOT_RECIPIENT", participant_id=participant_id)
        form = s.get(KnownForm, (form_code, period.start.year))
        if form is None:
            raise Refused("UNKNOWN_FORM", form_code=form_code, period=period.text)
        if participant.kind not in form.respondent_kinds.split(","):
            raise Refused("FORM_NOT_APPLICABLE", form_code=form_code, kind=participant.kind)
        check_period_type(form_code, form.period_type, period)
        return participant

    def chain_head(s: Session, participant_id: str, form_code: str, period: str) -> str | None:
        """The latest version of (participant, form, period): the one nobody supersedes yet."""
        rows = s.exec(select(Submission.submission_id, Submission.supersedes, Submission.delivered_at).where(
            Submission.participant_id == participant_id, Submission.form_code == form_code,
            Submission.period == period)).all()
        replaced = {sup for _, sup, _ in rows if sup}
        heads = sorted((at, sid) for sid, _, at in rows if sid not in replaced)
        return heads[-1][1] if heads else None

    async def deliver(d: Delivery) -> JSONResponse:
        """Store the bytes, then record the submission, its timeline, its outbox event and its
        idempotency record in one transaction, and answer with the signed receipt."""
        # No receipt may be issued for an event that cannot be queued: refuse while Kafka is down.
        if not await rt.kafka_health.ok():
            raise refuse("KAFKA_UNAVAILABLE", headers=RETRY_AFTER)
        paper = d.channel == "paper"
        try:
            stored_doc = await asyncio.to_thread(rt.store.put, d.document, "documents", d.media_type)
            stored_proof = await asyncio.to_thread(
                rt.store.put, d.proof, "scans" if paper else "signatures",
                PDF if paper else "application/pkcs7-signature")
        except Exception as exc:
            raise refuse("STORAGE_UNAVAILABLE", headers=RETRY_AFTER) from exc

        submission_id = str(uuid.uuid4())
        tag_submission(submission_id)
        participant = d.participant
        registered_at = datetime.now(ALMATY)
        # Versions of one (participant, form, period) are recorded one at a time in this process;
        # another replica racing for the same chain loses on the unique `supersedes` and goes again.
        chain = (participant.participant_id, d.form_code, d.period.text)
        lock = chain_locks.get(chain)
        if lock is None:
            lock = chain_locks[chain] = asyncio.Lock()
        async with lock:
            return await record_version(d, submission_id, stored_doc, stored_proof, registered_at)

    async def record_version(d: Delivery, submission_id: str, stored_doc: StoredObject, stored_proof: StoredObject,
                             registered_at: datetime) -> JSONResponse:
        participant = d.participant
        for _attempt in range(5):
            previous = await read(lambda s: chain_head(s, participant.participant_id, d.form_code, d.period.text))
            receipt = signer.sign(receipt_fields(d, submission_id, stored_doc, stored_proof, previous, registered_at))
            record = recorder(d, submission_id, stored_doc, stored_proof, previous, receipt, registered_at)
            try:
                await rt.in_transaction(record)
            except IntegrityError:
                # Either a concurrent retry with the same Idempotency-Key won, or another version
                # of the same chain was recorded first: replay the first, or go again.
                if (first := await replay(d.caller_id, d.idempotency_key, d.fingerprint)) is not None:
                    return first
                continue
            except Exception as exc:
                raise refuse("DATABASE_UNAVAILABLE", headers=RETRY_AFTER) from exc
            return JSONResponse(receipt, status_code=202, headers={"Location": f"/v1/submissions/{submission_id}"})
        raise refuse("DATABASE_UNAVAILABLE", headers=RETRY_AFTER)

    def receipt_fields(d: Delivery, submission_id: str, doc: StoredObject, proof: StoredObject,
                       previous: str | None, registered_at: datetime) -> dict:
        fields = {
            "submission_id": submission_id, "participant_id": d.participant.participant_id,
            "recipient_id": d.participant.parent_id, "form_code": d.form_code, "period": d.period.text,
            "document_sha256": doc.sha256, "delivered_at": d.delivered_at.isoformat(), "supersedes": previous,
        }
        if d.channel == "paper":
            fields |= {"channel": "paper", "scan_sha256": proof.sha256, "delivered_on": d.delivered_on.isoformat(),
                       "registered_by": d.registered_by, "registered_at": registered_at.isoformat()}
        else:
            fields["signature_sha256"] = proof.sha256
        return fields

    def recorder(d: Delivery, submission_id: str, doc: StoredObject, proof: StoredObject, previous: str | None,
                 receipt: dict, registered_at: datetime):
        participant = d.participant
        paper = d.channel == "paper"
        event = SubmissionReceived(
            submission_id=submission_id, participant_id=participant.participant_id, form_code=d.form_code,
            period=d.period.text, document=doc, signature=proof, signature_detached=not paper,
            delivered_at=d.delivered_at, supersedes=previous, channel=d.channel, registered_by=d.registered_by,
            explanations=d.explanations)

        def record(s: Session) -> None:  # inserts only: nothing read here can go stale
            s.add(Submission(
                submission_id=submission_id, participant_id=participant.participant_id,
                recipient_id=participant.parent_id, form_code=d.form_code, period=d.period.text,
                document_key=doc.key, document_sha256=doc.sha256, signature_key=proof.key,
                signature_sha256=proof.sha256, media_type=d.media_type, delivered_at=d.delivered_at,
                supersedes=previous, channel=d.channel, registered_by=d.registered_by))
            detail = {"sha256": doc.sha256} | ({"channel": "paper", "delivered_on": d.delivered_on.isoformat()}
                                               if paper else {})
            s.add(TimelineEntry(submission_id=submission_id, step="received", service="intake",
                                at=d.delivered_at, detail=json.dumps(detail)))
            if paper:
                s.add(TimelineEntry(submission_id=submission_id, step="registered_on_paper", service="intake",
                                    at=registered_at, detail=json.dumps({
                                        "registered_by": d.registered_by, "scan_sha256": proof.sha256,
                                        "delivered_on": d.delivered_on.isoformat()}, ensure_ascii=False)))
            rt.emit(s, event)
            if d.idempotency_key is not None:
                s.add(IdempotencyRecord(participant_id=d.caller_id, key=d.idempotency_key,
                                        fingerprint=d.fingerprint, submission_id=submission_id, status_code=202,
                                        response=json.dumps(receipt, ensure_ascii=False)))

        return record

    def today() -> date:
        return datetime.now(ALMATY).date()

    def window(period: Period, on: date) -> None:
        check_window(period, on, settings.intake_window_opens_days_before,
                     settings.intake_window_closes_days_after)

    # --- electronic submissions ----------------------------------------------------------------

    @uploads.post("/submissions", status_code=202, responses=errors(*AUTH_CODES, *UPLOAD_CODES, *DOCUMENT_CODES,
                                                                     "SIGNATURE_TOO_LARGE", "SIGNATURE_NOT_CMS"))
    async def submit(
        participant_id: Caller,
        form_code: Annotated[str, Form(max_length=32)],
        period: Annotated[str, Form(max_length=16, description=PERIOD_HELP)],
        document: Annotated[UploadFile, File(description="XLSX from the form's template, CSV or JSON")],
        signature: Annotated[UploadFile, File(description="CMS (PKCS#7) SignedData in DER, detached or attached")],
        explanations: Annotated[str | None, Form(
            description='Written explanations of validation queries: JSON {"rule code": "text"}')] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Deliver a signed document (clause 8). The submitter is the participant of the API key;
        the answer is a receipt signed by intake, with `delivered_at` in Asia/Almaty (clause 10)."""
        delivered_at = datetime.now(ALMATY)
        if idempotency_key is not None:
            check(check_idempotency_key, idempotency_key)
        doc = await read_limited(document, settings.max_document_bytes, "DOCUMENT_TOO_LARGE", "document")
        sig = await read_limited(signature, settings.intake_max_signature_bytes, "SIGNATURE_TOO_LARGE", None)
        # A retry may carry a fresh signature over the same document (every CMS signing time is
        # new): the document, form and period are what make it the same submission.
        fp = fingerprint(channel="electronic", form_code=form_code, period=period, document=sha256(doc))
        if (first := await replay(participant_id, idempotency_key, fp)) is not None:
            return first
        p = check(parse_period, period)
        check(window, p, delivered_at.date())
        explained = check(parse_explanations, explanations)
        media_type = await check_in_thread(inspect_document, doc, document.filename, xlsx_limits)
        check(check_cms, sig)
        participant = await read(lambda s: reference(s, participant_id, form_code, p))
        return await deliver(Delivery(
            caller_id=participant_id, participant=participant, form_code=form_code, period=p, document=doc,
            media_type=media_type, proof=sig, channel="electronic", fingerprint=fp,
            idempotency_key=idempotency_key, delivered_at=delivered_at, explanations=explained))

    # --- the paper channel (clause 8, registered by the recipient) -----------------------------

    @uploads.post("/paper-submissions", status_code=202, responses=errors(
        *AUTH_CODES, *UPLOAD_CODES, *DOCUMENT_CODES, "NOT_RECIPIENT", "SCAN_TOO_LARGE", "SCAN_NOT_PDF",
        "DELIVERED_ON_IN_FUTURE", "PAPER_DELIVERY_TOO_OLD"))
    async def register_paper(
        recipient_id: Caller,
        participant_id: Annotated[str, Form(pattern=SUBMITTER_ID, description="The submitting participant")],
        form_code: Annotated[str, Form(max_length=32)],
        period: Annotated[str, Form(max_length=16, description=PERIOD_HELP)],
        delivered_on: Annotated[date, Form(description="The delivery date on the title page (clause 10)")],
        scan: Annotated[UploadFile, File(description="The signed paper, scanned: PDF")],
        document: Annotated[UploadFile, File(description="The data entered from it: JSON, CSV or XLSX")],
        x_uise_user: Annotated[str, Header(min_length=1, max_length=128,
                                           description="Who registers it at the recipient")],
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """The recipient (the submitter's parent) registers a submission delivered on paper, signed
        by the head on the letterhead: the scan, the data entered from it and the delivery date."""
        if idempotency_key is not None:
            check(check_idempotency_key, idempotency_key)
        pdf = await read_limited(scan, settings.intake_max_scan_bytes, "SCAN_TOO_LARGE", "scan")
        doc = await read_limited(document, settings.max_document_bytes, "DOCUMENT_TOO_LARGE", "document")
        user = registrar(x_uise_user)
        fp = fingerprint(channel="paper", participant_id=participant_id, form_code=form_code, period=period,
                         delivered_on=delivered_on, document=sha256(doc), scan=sha256(pdf))
        if (first := await replay(recipient_id, idempotency_key, fp)) is not None:
            return first
        await read(lambda s: recipient_of(s, participant_id, recipient_id))
        now = today()
        if delivered_on > now:
            raise refuse("DELIVERED_ON_IN_FUTURE", delivered_on=delivered_on.isoformat())
        if (now - delivered_on).days > settings.intake_paper_max_age_days:
            raise refuse("PAPER_DELIVERY_TOO_OLD", delivered_on=delivered_on.isoformat(),
                         days=settings.intake_paper_max_age_days)
        p = check(parse_period, period)
        check(window, p, delivered_on)
        check(check_pdf, pdf)
        media_type = await check_in_thread(inspect_document, doc, document.filename, xlsx_limits)
        participant = await read(lambda s: reference(s, participant_id, form_code, p, recipient=recipient_id))
        return await deliver(Delivery(
            caller_id=recipient_id, participant=participant, form_code=form_code, period=p, document=doc,
            media_type=media_type, proof=pdf, channel="paper", fingerprint=fp, idempotency_key=idempotency_key,
            delivered_at=paper_delivered_at(delivered_on), registered_by=f"{recipient_id}/{user}",
            delivered_on=delivered_on))

    def recipient_of(s: Session, participant_id: str, recipient_id: str) -> None:
        participant = s.get(KnownParticipant, participant_id)
        if participant is None or not participant.active:
            raise Refused("UNKNOWN_PARTICIPANT", participant_id=participant_id)
        if participant.parent_id != recipient_id:
            raise Refused("NOT_RECIPIENT", participant_id=participant_id)

    # --- reading back ---------------------------------------------------------------------------

    def summary(sub: Submission, superseded_by: str | None) -> dict:
        return {
            "submission_id": sub.submission_id, "participant_id": sub.participant_id,
            "recipient_id": sub.recipient_id, "form_code": sub.form_code, "period": sub.period,
            "channel": sub.channel, "status": sub.status, "reason_code": sub.reason_code,
            "final": sub.status in ("accepted", "rejected"), "delivered_at": almaty(sub.delivered_at),
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

    @api.get("/submissions/{submission_id}", responses=errors(*AUTH_CODES[:3], "SUBMISSION_UNKNOWN"))
    async def get_submission(submission_id: str, participant_id: Caller) -> dict:
        """The submission, its status, its timeline and its chain of corrections; times in
        Asia/Almaty. Only its submitter and its recipient may read it."""

        def work(s: Session) -> dict | None:
            sub = s.get(Submission, submission_id)
            if sub is None or participant_id not in (sub.participant_id, sub.recipient_id):
                return None
            steps = s.exec(select(TimelineEntry).where(TimelineEntry.submission_id == submission_id)
                           .order_by(col(TimelineEntry.at), col(TimelineEntry.id))).all()
            chain = chain_of(s, sub)
            ids = [c["submission_id"] for c in chain]
            at = ids.index(sub.submission_id)
            return {
                **sub.model_dump(mode="json"),
                **summary(sub, ids[at + 1] if at + 1 < len(ids) else None),
                "chain": chain,
                "timeline": [{"step": t.step, "service": t.service, "at": almaty(t.at),
                              "detail": json.loads(t.detail)} for t in steps],
            }

        found = await rt.read(work)
        if found is None:  # unknown, or not the caller's to read: the same answer
            raise refuse("SUBMISSION_UNKNOWN", submission_id=submission_id)
        return found

    @api.get("/submissions", responses=errors(*AUTH_CODES[:3]))
    async def list_submissions(
        caller_id: Caller,
        form_code: Annotated[str | None, Query(max_length=32)] = None,
        period: Annotated[str | None, Query(max_length=16)] = None,
        status: Annotated[str | None, Query(pattern="^(received|signature_checked|validated|accepted|rejected)$")] = None,
        participant_id: Annotated[str | None, Query(max_length=64, description="One subordinate's")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict:
        """The caller's own submissions and, for a recipient, its subordinates', newest first."""

        def work(s: Session) -> list[dict]:
            q = select(Submission).where(or_(Submission.participant_id == caller_id,
                                             Submission.recipient_id == caller_id))
            for column, value in ((Submission.form_code, form_code), (Submission.period, period),
                                  (Submission.status, status), (Submission.participant_id, participant_id)):
                if value is not None:
                    q = q.where(column == value)
            rows = s.exec(q.order_by(col(Submission.delivered_at).desc()).limit(limit)).all()
            ids = [r.submission_id for r in rows]
            successors = dict(s.exec(select(Submission.supersedes, Submission.submission_id).where(
                col(Submission.supersedes).in_(ids))).all()) if ids else {}
            return [summary(r, successors.get(r.submission_id)) for r in rows]

        items = await rt.read(work)
        return {"items": items, "count": len(items), "limit": limit}

    @api.get("/receipts/public-key")
    async def public_key() -> dict:
        return {"alg": "Ed25519", "key_id": signer.key_id, "pem": signer.public_pem()}

    # --- ops: API keys ---------------------------------------------------------------------------

    @ops.post("/api-keys", status_code=201, dependencies=[Depends(admin)],
              responses=errors("OPS_DISABLED", "ADMIN_TOKEN_INVALID"))
    async def issue_key(body: KeyRequest) -> dict:
        """Issue an API key for a participant. The token is in this answer only; intake keeps its
        SHA-256. Needs X-UISE-Admin-Token = UISE_INTAKE_ADMIN_TOKEN."""
        issued = await rt.in_transaction(lambda s: keys.issue(s, body.participant_id, body.label, "ops"))
        return {"key_id": issued.key_id, "participant_id": issued.participant_id, "token": issued.token,
                "created_at": issued.created_at.isoformat()}

    @ops.get("/api-keys", dependencies=[Depends(admin)], responses=errors("OPS_DISABLED", "ADMIN_TOKEN_INVALID"))
    async def list_keys(participant_id: Annotated[str | None, Query(max_length=64)] = None) -> list[dict]:
        return await rt.read(lambda s: [keys.public(k) for k in keys.listing(s, participant_id)])

    @ops.delete("/api-keys/{key_id}", dependencies=[Depends(admin)],
                responses=errors("OPS_DISABLED", "ADMIN_TOKEN_INVALID", "API_KEY_UNKNOWN"))
    async def revoke_key(key_id: str) -> dict:
        def work(s: Session) -> dict | None:
            revoked = keys.revoke(s, key_id)
            return keys.public(revoked) if revoked else None

        row = await rt.in_transaction(work)
        if row is None:
            raise refuse("API_KEY_UNKNOWN", key_id=key_id)
        return row

    out = APIRouter()
    out.include_router(uploads)
    out.include_router(api)
    out.include_router(ops)
    return out


def paper_delivered_at(delivered_on: date) -> datetime:
    """A paper submission's `delivered_at`. Clause 10 counts the date of delivery and the title
    page gives a date, not a time; deadlines end at 23:59:59, so the start of that day (Almaty)
    stands for "delivered on that date" and is never later than a deadline on the same day."""
    return datetime.combine(delivered_on, time(0, 0), ALMATY)

"""Intake's HTTP API (docs/intake.md): deliver a signed document, register one delivered on paper,
read submissions with their timelines, correction chains and documents. Routes are thin: they
read the request, declare who may call them, and call intake's commands (commands.py) and the
delivery steps (delivery.py)."""

import asyncio
import dataclasses
import hashlib
import json
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from uise_common import auth, reads
from uise_common.auth import Principal
from uise_common.clock import ALMATY
from uise_common.hierarchy import ancestors_in
from uise_common.inputs import Day, FormCode, ParticipantId, PeriodText, Ref
from uise_common.pki.cms import SignatureError, claimed_signers
from uise_common.service import ServiceRuntime
from uise_intake import commands
from uise_intake.adapters import KnownParticipant
from uise_intake.commands import Delivery
from uise_intake.delivery import Deliveries
from uise_intake.domain import (
    InFlightLimiter,
    Period,
    XlsxLimits,
    check_cms,
    check_idempotency_key,
    check_pdf,
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

PERIOD_HELP = "2026 (annual), 2026-H1, 2026-Q3, 2026-10 (monthly) or 2026-10-15 (as of a date)"
AUTH_CODES = ("UNAUTHENTICATED", "TOKEN_INVALID", "TOKEN_EXPIRED", "SESSION_REVOKED", "SCOPE_MISSING")
UPLOAD_CODES = ("NOT_A_PARTICIPANT", "UNKNOWN_PARTICIPANT", "REQUEST_TOO_LARGE", "REQUEST_MALFORMED", "OVERLOADED",
                "PARTICIPANT_BUSY", "RATE_LIMITED", "REQUEST_TIMEOUT", "UPLOAD_TOO_SLOW",
                "IDEMPOTENCY_KEY_INVALID", "IDEMPOTENCY_KEY_REUSED", "PERIOD_INVALID", "PERIOD_NOT_OPEN", "PERIOD_CLOSED",
                "PERIOD_MISMATCH", "UNKNOWN_FORM", "FORM_NOT_APPLICABLE", "NO_RECIPIENT", "NOT_IMMEDIATE_SUPERIOR",
                "KAFKA_UNAVAILABLE", "STORAGE_UNAVAILABLE",
                "DATABASE_UNAVAILABLE")
DOCUMENT_CODES = ("DOCUMENT_TOO_LARGE", "EMPTY_UPLOAD", "DOCUMENT_TYPE_UNSUPPORTED", "DOCUMENT_TYPE_MISMATCH",
                  "DOCUMENT_NOT_UTF8", "DOCUMENT_JSON_INVALID", "XLSX_NOT_A_ZIP", "XLSX_RATIO", "XLSX_TOO_LARGE",
                  "XLSX_XML_ENTITIES")
LINK_SECONDS = 300  # a presigned download link lives five minutes

# Who may call what (module-level: route annotations are resolved in this module).
SUBMIT = auth.allow(auth.SUBMISSIONS_WRITE)
READ = auth.allow(auth.SUBMISSIONS_READ, subtree="resource")
EXPLAIN = auth.allow(auth.SUBMISSIONS_WRITE, subtree="resource")  # the submitter's own people only


class Explanations(BaseModel):
    explanations: dict[str, str] = Field(default={}, description="Rule code (or rule:cell) → the written explanation",
                                         max_length=200)
ancestors = ancestors_in(KnownParticipant)


def errors(*codes: str) -> dict:
    """OpenAPI `responses` naming the reason codes a route may answer with."""
    out: dict[int, dict] = {422: {"description": "REQUEST_INVALID"}}
    statuses = {c: REASONS[c].status for c in codes if c in REASONS} | {c: 401 for c in AUTH_CODES[:4]} | {
        "SCOPE_MISSING": 403}
    for code in codes:
        status = statuses.get(code, 422)
        out.setdefault(status, {"description": ""})
        out[status]["description"] = ", ".join(filter(None, [out[status]["description"], code]))
    return out


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


def named_signers(signature: bytes) -> list[dict]:
    """The signers the CMS names, for the receipt; the signature service judges them later (and
    refuses a CMS these cannot be read from), so an unreadable one names nobody here."""
    try:
        return [dataclasses.asdict(c) for c in claimed_signers(signature)]
    except SignatureError:
        return []


def acting_for(who: Principal) -> str:
    """The organization a delivery is made for: the caller's own."""
    if who.participant_id is None:
        raise refuse("NOT_A_PARTICIPANT", role=who.role)
    return who.participant_id


def paper_delivered_at(delivered_on: date) -> datetime:
    """A paper submission's `delivered_at`. Clause 10 counts the date of delivery and the title
    page gives a date, not a time; deadlines end at 23:59:59, so the start of that day (Almaty)
    stands for "delivered on that date" and is never later than a deadline on the same day."""
    return datetime.combine(delivered_on, time(0, 0), ALMATY)


def router(rt: ServiceRuntime, signer: ReceiptSigner, limiter: InFlightLimiter | None = None) -> APIRouter:
    settings = rt.settings
    limiter = limiter or InFlightLimiter(settings.intake_max_in_flight)
    max_body = (settings.max_document_bytes + max(settings.intake_max_signature_bytes, settings.intake_max_scan_bytes)
                + 256 * 1024)
    xlsx_limits = XlsxLimits(settings.intake_xlsx_max_uncompressed_bytes, settings.intake_xlsx_max_ratio)
    deliveries = Deliveries(rt, signer)

    async def authenticate(request: Request) -> str:
        """Before an upload's body is read: the caller's token and its right to deliver."""
        who = await SUBMIT(request, await auth.bearer(request))
        return acting_for(who)

    uploads = APIRouter(prefix="/v1", tags=["intake"], route_class=guarded_route(
        UploadLimits.from_settings(settings, limiter), max_body, authenticate))
    api = APIRouter(prefix="/v1", tags=["intake"])
    IdempotencyKey = Annotated[str | None, Header(
        alias="Idempotency-Key", description="A retry with the same key returns the first receipt")]

    def today() -> date:
        return rt.clock.today()

    def window(period: Period, on: date) -> None:
        check_window(period, on, settings.intake_window_opens_days_before, settings.intake_window_closes_days_after)

    # --- electronic submissions ----------------------------------------------------------------

    @uploads.post("/submissions", status_code=202, responses=errors(*AUTH_CODES, *UPLOAD_CODES, *DOCUMENT_CODES,
                                                                     "SIGNATURE_TOO_LARGE", "SIGNATURE_NOT_CMS"))
    async def submit(
        who: Annotated[Principal, Depends(SUBMIT)],
        form_code: Annotated[FormCode, Form()],
        period: Annotated[str, Form(max_length=16, description=PERIOD_HELP)],
        document: Annotated[UploadFile, File(description="XLSX from the form's template, CSV or JSON")],
        signature: Annotated[UploadFile, File(description="CMS (PKCS#7) SignedData in DER, detached or attached")],
        explanations: Annotated[str | None, Form(
            max_length=420_000, description='Written explanations of validation queries: JSON {"rule code": "text"}')] = None,
        recipient_id: Annotated[ParticipantId | None, Form(
            description="The recipient, when the submitter names it: must be its immediate superior (clause 9)")] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Deliver a signed document (clause 8) for the caller's organization (the head, a signer,
        an accountant, or the organization's information system). The answer is a receipt signed
        by intake, with `delivered_at` in Asia/Almaty (clause 10) and the signers the CMS names."""
        delivered_at = rt.clock.almaty()  # clause 10: the recipient's receipt time
        participant_id = acting_for(who)
        if idempotency_key is not None:
            check(check_idempotency_key, idempotency_key)
        doc = await read_limited(document, settings.max_document_bytes, "DOCUMENT_TOO_LARGE", "document")
        sig = await read_limited(signature, settings.intake_max_signature_bytes, "SIGNATURE_TOO_LARGE", None)
        # The same document, form, period and signature make the same submission: a retry with
        # the key and another signature is another submission, refused like another document.
        fp = fingerprint(channel="electronic", form_code=form_code, period=period, document=sha256(doc),
                         signature=sha256(sig), **({"recipient_id": recipient_id} if recipient_id else {}))
        if (first := await deliveries.replay(participant_id, idempotency_key, fp)) is not None:
            return first
        p = check(parse_period, period)
        check(window, p, delivered_at.date())
        explained = check(parse_explanations, explanations)
        media_type = await check_in_thread(inspect_document, doc, document.filename, xlsx_limits)
        check(check_cms, sig)
        participant = await deliveries.read(
            lambda s: commands.reference(s, participant_id, form_code, p, addressed_to=recipient_id))
        return await deliveries.deliver(Delivery(
            caller_id=participant_id, participant=participant, form_code=form_code, period=p, document=doc,
            media_type=media_type, proof=sig, channel="electronic", fingerprint=fp,
            idempotency_key=idempotency_key, delivered_at=delivered_at, explanations=explained,
            signers=named_signers(sig), addressed_to=recipient_id))

    # --- the paper channel (clause 8, registered by the recipient) -----------------------------

    @uploads.post("/paper-submissions", status_code=202, responses=errors(
        *AUTH_CODES, *UPLOAD_CODES, *DOCUMENT_CODES, "NOT_RECIPIENT", "SCAN_TOO_LARGE", "SCAN_NOT_PDF",
        "DELIVERED_ON_IN_FUTURE", "PAPER_DELIVERY_TOO_OLD", "PAPER_AFTER_ELECTRONIC"))
    async def register_paper(
        who: Annotated[Principal, Depends(SUBMIT)],
        participant_id: Annotated[ParticipantId, Form(description="The submitting participant")],
        form_code: Annotated[FormCode, Form()],
        period: Annotated[str, Form(max_length=16, description=PERIOD_HELP)],
        delivered_on: Annotated[Day, Form(description="The delivery date on the title page (clause 10)")],
        scan: Annotated[UploadFile, File(description="The signed paper, scanned: PDF")],
        document: Annotated[UploadFile, File(description="The data entered from it: JSON, CSV or XLSX")],
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """The recipient (the submitter's parent) registers a submission delivered on paper, signed
        by the head on the letterhead: the scan, the data entered from it and the delivery date.
        It never replaces a signed electronic submission (PAPER_AFTER_ELECTRONIC)."""
        recipient_id = acting_for(who)
        if idempotency_key is not None:
            check(check_idempotency_key, idempotency_key)
        pdf = await read_limited(scan, settings.intake_max_scan_bytes, "SCAN_TOO_LARGE", "scan")
        doc = await read_limited(document, settings.max_document_bytes, "DOCUMENT_TOO_LARGE", "document")
        fp = fingerprint(channel="paper", participant_id=participant_id, form_code=form_code, period=period,
                         delivered_on=delivered_on, document=sha256(doc), scan=sha256(pdf))
        if (first := await deliveries.replay(recipient_id, idempotency_key, fp)) is not None:
            return first
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
        participant = await deliveries.read(lambda s: commands.reference(
            s, participant_id, form_code, p, recipient=recipient_id))
        return await deliveries.deliver(Delivery(
            caller_id=recipient_id, participant=participant, form_code=form_code, period=p, document=doc,
            media_type=media_type, proof=pdf, channel="paper", fingerprint=fp, idempotency_key=idempotency_key,
            delivered_at=paper_delivered_at(delivered_on), registered_by=who.label, delivered_on=delivered_on))

    # --- reading back ---------------------------------------------------------------------------

    SubmissionId = Ref

    @api.get("/submissions/{submission_id}", responses=errors(*AUTH_CODES, "SUBMISSION_UNKNOWN"))
    async def get_submission(submission_id: SubmissionId, who: Annotated[Principal, Depends(READ)]) -> dict:
        """The submission, its status, its timeline and its chain of corrections; times in
        Asia/Almaty. Its submitter, the departments above it and the Ministry may read it."""
        found = await rt.read(lambda s: commands.submission_view(s, who, submission_id, ancestors))
        if found is None:  # unknown, or not the caller's to read: the same answer
            raise refuse("SUBMISSION_UNKNOWN", submission_id=submission_id)
        return found

    @api.get("/submissions", responses=errors(*AUTH_CODES))
    async def list_submissions(
        who: Annotated[Principal, Depends(READ)],
        form_code: Annotated[FormCode | None, Query()] = None,
        period: Annotated[PeriodText | None, Query()] = None,
        status: Annotated[str | None, Query(
            pattern="^(received|signature_checked|queried|validated|accepted|rejected)$")] = None,
        participant_id: Annotated[ParticipantId | None, Query(description="One participant's")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict:
        """The caller's own submissions and its subtree's, newest first."""
        filters = {"form_code": form_code, "period": period, "status": status, "participant_id": participant_id}
        items = await rt.read(lambda s: commands.list_view(s, who, filters, limit))
        return {"items": items, "count": len(items), "limit": limit}

    @api.get("/submissions/{submission_id}/reads", responses=errors(*AUTH_CODES, "SUBMISSION_UNKNOWN"))
    async def document_reads(submission_id: SubmissionId, who: Annotated[Principal, Depends(READ)]) -> list[dict]:
        """Who read this submission's documents, when, how (`file`, or `link`: a presigned link
        was handed out) and from which address; its submitter, the departments above it and the
        Ministry may ask (as reading the submission)."""

        def work(s: Session):
            if commands.readable(s, who, submission_id, ancestors) is None:
                return None
            return commands.document_reads(s, submission_id)

        found = await rt.read(work)
        if found is None:
            raise refuse("SUBMISSION_UNKNOWN", submission_id=submission_id)
        return found

    # before /{part}: "receipt" is not a stored document
    @api.get("/submissions/{submission_id}/receipt", responses=errors(*AUTH_CODES, "SUBMISSION_UNKNOWN",
                                                                       "RECEIPT_UNKNOWN"))
    async def get_receipt(submission_id: SubmissionId, who: Annotated[Principal, Depends(READ)]) -> dict:
        """The signed receipt the upload was answered with, again (verify it offline with
        `uise-receipt` and GET /v1/receipts/public-key)."""

        def work(s: Session):
            sub = commands.readable(s, who, submission_id, ancestors)
            return None if sub is None else (commands.receipt_of(s, sub) or {})

        found = await rt.read(work)
        if found is None:
            raise refuse("SUBMISSION_UNKNOWN", submission_id=submission_id)
        if not found:
            raise refuse("RECEIPT_UNKNOWN", submission_id=submission_id)
        return found

    @api.get("/submissions/{submission_id}/{part}", responses=errors(*AUTH_CODES, "SUBMISSION_UNKNOWN"))
    async def get_part(submission_id: SubmissionId, part: Literal["document", "signature", "scan"],
                       who: Annotated[Principal, Depends(READ)], request: Request,
                       as_: Annotated[Literal["file", "link"], Query(alias="as")] = "file") -> Response:
        """The stored document, its CMS signature, or a paper submission's scan, checked against
        its SHA-256; `?as=link` gives a presigned link valid five minutes instead. Every read is
        recorded (GET …/reads)."""
        by = reads.reader(who, request)

        def work(s: Session):
            sub = commands.readable(s, who, submission_id, ancestors)
            obj = commands.stored_part(sub, part) if sub is not None else None
            if obj is not None:
                commands.record_read(s, by, sub, part, as_)
            return obj

        obj = await rt.in_transaction(work)
        if obj is None:
            raise refuse("SUBMISSION_UNKNOWN", submission_id=submission_id)
        if as_ == "link":
            url = await asyncio.to_thread(rt.store.presigned_get, obj.key, timedelta(seconds=LINK_SECONDS))
            return JSONResponse({"url": url, "expires_in": LINK_SECONDS, "sha256": obj.sha256})
        try:
            data = await asyncio.to_thread(rt.store.get, obj)
        except Exception as exc:
            raise refuse("STORAGE_UNAVAILABLE", headers={"Retry-After": "5"}) from exc
        extension = {"application/json": "json", "text/csv": "csv", "application/pdf": "pdf",
                     "application/pkcs7-signature": "p7s"}.get(obj.media_type, "xlsx")
        return Response(data, media_type=obj.media_type, headers={
            "Content-Disposition": f'attachment; filename="{submission_id}-{part}.{extension}"',
            "X-Content-SHA256": obj.sha256, "Cache-Control": "no-store"})

    @api.post("/submissions/{submission_id}/explanations", status_code=202,
              responses=errors(*AUTH_CODES, "SUBMISSION_UNKNOWN", "NOT_QUERIED", "EXPLANATION_UNKNOWN_RULE",
                               "EXPLANATIONS_INVALID"))
    async def explain(submission_id: SubmissionId, body: Explanations,
                      who: Annotated[Principal, Depends(EXPLAIN)]) -> dict:
        """The submitter explains its queried submission's queries in writing (rule code → text);
        validation then lets it proceed once every query is explained. The recipient reads the
        explanations with the findings."""
        def work(s: Session):
            # whose it is first (a stranger learns nothing, not even that the body is wrong), then what
            if commands.readable(s, who, submission_id, ancestors) is None:
                return None
            explained = parse_explanations(json.dumps(body.explanations)) if body.explanations else {}
            if not explained:
                raise Refused("EXPLANATIONS_INVALID")
            event = commands.explain(s, who, submission_id, explained, rt.clock.almaty())
            if event is not None:
                rt.emit(s, event)
            return event

        try:
            event = await rt.in_transaction(work)
        except Refused as r:
            raise from_refused(r) from None
        if event is None:
            raise refuse("SUBMISSION_UNKNOWN", submission_id=submission_id)
        return {"submission_id": submission_id, "explained": sorted(event.explanations)}

    @api.get("/receipts/public-key", dependencies=[Depends(auth.public("verifies receipts offline"))])
    async def public_key() -> dict:
        return {"alg": "Ed25519", "key_id": signer.key_id, "pem": signer.public_pem()}

    out = APIRouter()
    out.include_router(uploads)
    out.include_router(api)
    return out

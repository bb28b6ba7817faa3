"""Intake's HTTP API: POST a signed document, read a submission with its timeline."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Header, UploadFile
from fastapi.responses import JSONResponse
from sqlmodel import Session, col, select

from uise_common.http import ApiError
from uise_common.service import ServiceRuntime
from uise_common.telemetry import tag_submission
from uise_contracts.events import SubmissionReceived
from uise_intake.adapters import KnownForm, KnownParticipant, Submission, TimelineEntry
from uise_intake.domain import sniff
from uise_intake.receipts import ReceiptSigner

ALMATY = ZoneInfo("Asia/Almaty")
RETRY_AFTER = {"Retry-After": "5"}


def almaty(at: datetime) -> str:
    """Clause 10 times are read in Almaty; a naive value from the database is UTC."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(ALMATY).isoformat()


def unavailable(code: str, what_en: str, what_ru: str, what_kk: str) -> ApiError:
    return ApiError(503, code, f"{what_en} is unavailable; nothing was stored, retry later",
                    f"{what_ru} недоступно; ничего не сохранено, повторите позже",
                    f"{what_kk} қолжетімсіз; ештеңе сақталмады, кейінірек қайталаңыз", headers=RETRY_AFTER)


async def read_limited(upload: UploadFile, limit: int, what: str) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "DOCUMENT_TOO_LARGE", f"the {what} is larger than {limit} bytes",
                       f"размер файла ({what}) превышает {limit} байт", f"файл ({what}) көлемі {limit} байттан асады")
    if not data:
        raise ApiError(422, "EMPTY_UPLOAD", f"the {what} is empty", f"файл ({what}) пуст", f"файл ({what}) бос")
    return data


def router(rt: ServiceRuntime, signer: ReceiptSigner) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["intake"])
    settings = rt.settings

    def reference(participant_id: str, form_code: str, period: str) -> tuple[KnownParticipant, str | None]:
        with Session(rt.engine) as s:
            participant = s.get(KnownParticipant, participant_id)
            if participant is None or not participant.active:
                raise ApiError(403, "UNKNOWN_PARTICIPANT", f"participant {participant_id} is not registered",
                               f"участник {participant_id} не зарегистрирован", f"{participant_id} қатысушысы тіркелмеген")
            year = int(period[:4]) if period[:4].isdigit() else -1
            form = s.get(KnownForm, (form_code, year))
            if form is None:
                raise ApiError(422, "UNKNOWN_FORM", f"form {form_code} is not on the approved list for {period}",
                               f"формы {form_code} нет в утверждённом перечне на {period}",
                               f"{form_code} нысаны {period} бекітілген тізбеде жоқ")
            if participant.kind not in form.respondent_kinds.split(","):
                raise ApiError(422, "FORM_NOT_APPLICABLE", f"form {form_code} does not apply to a {participant.kind}",
                               f"форма {form_code} не применяется к виду {participant.kind}",
                               f"{form_code} нысаны {participant.kind} түріне қолданылмайды")
            previous = s.exec(select(Submission.submission_id).where(
                Submission.participant_id == participant_id, Submission.form_code == form_code,
                Submission.period == period).order_by(col(Submission.delivered_at).desc())).first()
            return participant, previous

    @api.post("/submissions", status_code=202)
    async def submit(
        form_code: Annotated[str, Form(max_length=32)],
        period: Annotated[str, Form(pattern=r"^\d{4}(-(Q[1-4]|H[12]|\d{2}|\d{2}-\d{2}))?$")],
        document: Annotated[UploadFile, File()],
        signature: Annotated[UploadFile, File()],
        x_participant_id: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        if not x_participant_id:
            raise ApiError(401, "UNAUTHENTICATED", "X-Participant-Id is required",
                           "требуется заголовок X-Participant-Id", "X-Participant-Id тақырыбы қажет")
        doc = await read_limited(document, settings.max_document_bytes, "document")
        sig = await read_limited(signature, 1024 * 1024, "signature")
        media_type = sniff(doc)
        if media_type is None:
            raise ApiError(415, "DOCUMENT_TYPE_UNSUPPORTED", "the document is not XLSX, CSV or JSON",
                           "документ не является XLSX, CSV или JSON", "құжат XLSX, CSV немесе JSON емес")
        participant, previous = await asyncio.to_thread(reference, x_participant_id, form_code, period)
        # No receipt may be issued for an event that cannot be queued: refuse while Kafka is down.
        if not await rt.kafka_health.ok():
            raise unavailable("KAFKA_UNAVAILABLE", "the event bus", "шина событий", "оқиғалар шинасы")
        try:
            stored_doc = await asyncio.to_thread(rt.store.put, doc, "documents", media_type)
            stored_sig = await asyncio.to_thread(rt.store.put, sig, "signatures", "application/pkcs7-signature")
        except Exception as exc:
            raise unavailable("STORAGE_UNAVAILABLE", "object storage", "хранилище", "қойма") from exc

        submission_id = str(uuid.uuid4())
        tag_submission(submission_id)
        delivered_at = datetime.now(ALMATY)
        event = SubmissionReceived(
            submission_id=submission_id, participant_id=participant.participant_id, form_code=form_code,
            period=period, document=stored_doc, signature=stored_sig, delivered_at=delivered_at,
            supersedes=previous,
        )

        def record(s: Session) -> None:
            s.add(Submission(
                submission_id=submission_id, participant_id=participant.participant_id,
                recipient_id=participant.parent_id, form_code=form_code, period=period,
                document_key=stored_doc.key, document_sha256=stored_doc.sha256,
                signature_key=stored_sig.key, signature_sha256=stored_sig.sha256, media_type=media_type,
                delivered_at=delivered_at, supersedes=previous))
            s.add(TimelineEntry(submission_id=submission_id, step="received", service="intake",
                                at=delivered_at, detail=json.dumps({"sha256": stored_doc.sha256})))
            rt.emit(s, event)

        try:
            await rt.in_transaction(record)
        except Exception as exc:
            raise unavailable("DATABASE_UNAVAILABLE", "the database", "база данных", "дерекқор") from exc
        receipt = signer.sign({
            "submission_id": submission_id, "participant_id": participant.participant_id,
            "recipient_id": participant.parent_id, "form_code": form_code, "period": period,
            "document_sha256": stored_doc.sha256, "signature_sha256": stored_sig.sha256,
            "delivered_at": delivered_at.isoformat(), "supersedes": previous,
        })
        return JSONResponse(receipt, status_code=202, headers={"Location": f"/v1/submissions/{submission_id}"})

    @api.get("/submissions/{submission_id}")
    async def get_submission(submission_id: str) -> dict:
        """The submission, its status and its timeline; times in Asia/Almaty."""

        def work(s: Session) -> dict | None:
            sub = s.get(Submission, submission_id)
            if sub is None:
                return None
            steps = s.exec(select(TimelineEntry).where(TimelineEntry.submission_id == submission_id)
                           .order_by(col(TimelineEntry.at), col(TimelineEntry.id))).all()
            return {
                **sub.model_dump(mode="json"),
                "delivered_at": almaty(sub.delivered_at),
                "final": sub.status in ("accepted", "rejected"),
                "timeline": [{"step": t.step, "service": t.service, "at": almaty(t.at),
                              "detail": json.loads(t.detail)} for t in steps],
            }

        found = await rt.read(work)
        if found is None:
            raise ApiError(404, "SUBMISSION_UNKNOWN", f"no submission {submission_id}",
                           f"нет отправки {submission_id}", f"{submission_id} жіберілімі жоқ")
        return found

    @api.get("/receipts/public-key")
    async def public_key() -> dict:
        return {"alg": "Ed25519", "key_id": signer.key_id, "pem": signer.public_pem()}

    return api


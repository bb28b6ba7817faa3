"""Registry process: the admin HTTP API; it produces participant and form-list events."""

from __future__ import annotations

import json
from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel
from sqlmodel import Session, select
from uise_common.http import ApiError
from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import FormDefinition, ParticipantUpserted

from uise_registry import handlers
from uise_registry.adapters import MIGRATIONS, FormList, Participant
from uise_registry.domain import RegistryError


class FormListDraft(BaseModel):
    year: int
    forms: list[FormDefinition]


class Approval(BaseModel):
    order_no: str
    order_date: date


def _api_error(exc: RegistryError) -> ApiError:
    status = 409 if exc.code in ("FORMLIST_IMMUTABLE", "DRAFT_EXISTS") else 422
    if exc.code == "FORMLIST_UNKNOWN":
        status = 404
    return ApiError(status, exc.code, exc.en, exc.ru, exc.kk)


def router(rt: ServiceRuntime) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["registry"])

    async def command(work):
        try:
            return await rt.in_transaction(work)
        except RegistryError as exc:
            raise _api_error(exc) from exc

    @api.put("/participants/{participant_id}")
    async def put_participant(participant_id: str, body: ParticipantUpserted) -> ParticipantUpserted:
        if body.participant_id != participant_id:
            raise ApiError(422, "ID_MISMATCH", "path and body ids differ",
                           "идентификаторы в пути и теле различаются", "жолдағы және денедегі id әртүрлі")

        def work(s: Session) -> ParticipantUpserted:
            event = handlers.upsert_participant(s, body)
            rt.emit(s, event)
            return event

        return await command(work)

    @api.get("/participants")
    async def list_participants() -> list[dict]:
        def work(s: Session) -> list[dict]:
            return [p.model_dump(mode="json") for p in s.exec(select(Participant))]
        return await rt.in_transaction(work)

    @api.post("/formlists", status_code=201)
    async def create_formlist(body: FormListDraft) -> dict:
        def work(s: Session) -> dict:
            row = handlers.create_formlist(s, body.year, body.forms)
            return {"year": row.year, "version": row.version, "status": row.status}
        return await command(work)

    @api.post("/formlists/{year}/{version}/approve")
    async def approve(year: int, version: int, body: Approval) -> dict:
        def work(s: Session) -> dict:
            event = handlers.approve_formlist(s, year, version, body.order_no, body.order_date)
            rt.emit(s, event)
            return {"year": year, "version": version, "status": "approved"}
        return await command(work)

    @api.get("/formlists/{year}")
    async def get_formlists(year: int) -> list[dict]:
        def work(s: Session) -> list[dict]:
            rows = s.exec(select(FormList).where(FormList.year == year).order_by(FormList.version))
            return [{"year": r.year, "version": r.version, "status": r.status, "order_no": r.order_no,
                     "order_date": r.order_date, "forms": json.loads(r.forms_json)} for r in rows]
        return await rt.in_transaction(work)

    return api


SPEC = ServiceSpec(
    name="registry",
    description="Participants' hierarchy and the annual list of forms approved by order.",
    migrations=MIGRATIONS,
    router=router,
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()

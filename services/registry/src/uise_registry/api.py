"""The registry's HTTP API for the Ministry's data office and the region and district officers."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Header, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from uise_common.http import ApiError
from uise_common.inputs import (
    Bin,
    Day,
    FormCode,
    Label,
    Offset,
    ParticipantId,
    PeriodText,
    PersonName,
    Version,
    Year,
)
from uise_common.service import ServiceRuntime
from uise_contracts.events import FormDefinition, FormListApproved, Level
from uise_registry import access, handlers, importing
from uise_registry.adapters import AuditEntry, FormList, Participant
from uise_registry.domain import RegistryError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "FORMLIST_UNKNOWN": 404, "PARTICIPANT_UNKNOWN": 404,
          "FORM_UNKNOWN": 404, "FORMLIST_IMMUTABLE": 409, "DRAFT_EXISTS": 409, "BIN_TAKEN": 409,
          "LEVEL_CHANGE": 409, "PARTICIPANT_CLOSED": 409, "HAS_ACTIVE_CHILDREN": 409}

ActorId = Annotated[str | None, Header(alias="X-UISE-Actor")]
User = Annotated[str | None, Header(alias="X-UISE-User")]


class FormListDraft(BaseModel):
    year: Year
    forms: list[FormDefinition] = Field(max_length=500)


class Approval(BaseModel):
    order_no: Label
    order_date: Day
    signatory: PersonName | None = None


class Closing(BaseModel):
    active_to: Day


def as_api_error(exc: RegistryError) -> ApiError:
    return ApiError(STATUS.get(exc.code, 422), exc.code, exc.en, exc.ru, exc.kk)


def router(rt: ServiceRuntime) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["registry"])
    test_mode = rt.settings.registry_test_identifiers

    async def run(work, actor_id: str | None, user: str | None, *, write: bool = True):
        """Resolve the actor and run `work(session, actor)` in one transaction; RegistryError
        becomes its HTTP answer."""

        def body(s: Session):
            return work(s, access.resolve(s, actor_id, user))

        try:
            return await (rt.in_transaction(body) if write else rt.read(body))
        except RegistryError as exc:
            raise as_api_error(exc) from exc

    # --- participants ---------------------------------------------------------------------

    @api.put("/participants/{participant_id}")
    async def put_participant(participant_id: ParticipantId, body: handlers.ParticipantCommand, x_actor: ActorId = None,
                              x_user: User = None) -> dict:
        def bootstrap(s: Session) -> dict:
            event = handlers.upsert_participant(s, participant_id, body, f"{x_user or 'bootstrap'}@{participant_id}",
                                                test_mode=test_mode)
            rt.emit(s, event)
            return event.model_dump(mode="json")

        def work(s: Session, actor: access.Actor) -> dict:
            access.require_manage(s, actor, body.parent_id, participant_id)
            event = handlers.upsert_participant(s, participant_id, body, actor.label, test_mode=test_mode)
            rt.emit(s, event)
            return event.model_dump(mode="json")

        if body.level == "ministry" and x_actor == participant_id:
            # the root registers itself once, when the registry has no Ministry yet
            def maybe_bootstrap(s: Session) -> dict:
                exists = s.exec(select(Participant).where(Participant.level == "ministry")).first()
                if exists is None:
                    return bootstrap(s)
                return work(s, access.resolve(s, x_actor, x_user))

            try:
                return await rt.in_transaction(maybe_bootstrap)
            except RegistryError as exc:
                raise as_api_error(exc) from exc
        return await run(work, x_actor, x_user)

    @api.post("/participants/{participant_id}/close")
    async def close(participant_id: ParticipantId, body: Closing, x_actor: ActorId = None, x_user: User = None) -> dict:
        def work(s: Session, actor: access.Actor) -> dict:
            row = s.get(Participant, participant_id)
            access.require_manage(s, actor, row.parent_id if row else None, participant_id)
            event = handlers.close_participant(s, participant_id, body.active_to, actor.label)
            rt.emit(s, event)
            return event.model_dump(mode="json")

        return await run(work, x_actor, x_user)

    @api.get("/participants/{participant_id}")
    async def get_participant(participant_id: ParticipantId, x_actor: ActorId = None, x_user: User = None) -> dict:
        def work(s: Session, actor: access.Actor) -> dict:
            access.require_read(s, actor, participant_id)
            row = s.get(Participant, participant_id)
            if row is None:
                raise RegistryError("PARTICIPANT_UNKNOWN", f"no participant {participant_id}",
                                    f"нет участника {participant_id}", f"{participant_id} қатысушысы жоқ")
            return handlers.participant_event(s, row).model_dump(mode="json")

        return await run(work, x_actor, x_user, write=False)

    @api.get("/participants/{participant_id}/head")
    async def get_head(participant_id: ParticipantId, on: Day, x_actor: ActorId = None, x_user: User = None) -> dict:
        """Who was the first head on a date: what the signature check asks (clause 8)."""

        def work(s: Session, actor: access.Actor) -> dict:
            access.require_read(s, actor, participant_id)
            term = handlers.head_on(s, participant_id, on)
            return {"participant_id": participant_id, "on": on, "head": term.model_dump(mode="json") if term else None}

        return await run(work, x_actor, x_user, write=False)

    @api.get("/participants")
    async def list_participants(x_actor: ActorId = None, x_user: User = None,
                                parent_id: ParticipantId | None = None, level: Level | None = None,
                                limit: Annotated[int, Query(ge=1, le=5000)] = 1000, offset: Offset = 0) -> list[dict]:
        """The actor's own subtree (all of it for the Ministry), filtered."""

        def work(s: Session, actor: access.Actor) -> list[dict]:
            q = select(Participant).order_by(col(Participant.participant_id))
            if parent_id:
                q = q.where(Participant.parent_id == parent_id)
            if level:
                q = q.where(Participant.level == level)
            rows = [p for p in s.exec(q) if access.in_scope(s, actor, p.participant_id)]
            return [handlers.participant_event(s, p).model_dump(mode="json") for p in rows[offset:offset + limit]]

        return await run(work, x_actor, x_user, write=False)

    @api.post("/participants/import")
    async def import_participants(file: Annotated[UploadFile, File()], dry_run: bool = True,
                                  x_actor: ActorId = None, x_user: User = None) -> dict:
        """CSV or XLSX of participants. `dry_run` (the default) reports and changes nothing."""
        data = await file.read(50 * 1024 * 1024 + 1)
        try:
            rows = importing.read_rows(data, file.filename or "upload.csv")
        except importing.ImportFileError as exc:
            raise ApiError(422, exc.code, str(exc), str(exc), str(exc)) from exc

        def work(s: Session, actor: access.Actor) -> dict:
            existing = handlers.all_participants(s)
            plan = importing.plan(rows, existing, test_mode=test_mode, today=date.today())
            out_of_scope = []
            if not actor.is_ministry:
                allowed = {pid for pid in existing if access.in_scope(s, actor, pid)}
                out_of_scope = [p for p in plan.created + plan.updated
                                if p.parent_id not in allowed and p.participant_id not in allowed
                                or p.participant_id == actor.participant_id]
            if out_of_scope:
                raise access.denied(f"{len(out_of_scope)} row(s) outside {actor.participant_id}'s subtree")
            if not dry_run:
                for event in plan.created + plan.updated:
                    handlers.store_participant(s, event, existing.get(event.participant_id), actor.label)
                    rt.emit(s, event)
            return {"dry_run": dry_run, "summary": plan.summary(),
                    "rejected": [r.__dict__ for r in plan.rejected]}

        return await run(work, x_actor, x_user, write=not dry_run)

    @api.get("/participants/export/{fmt}")
    async def export(fmt: str, x_actor: ActorId = None, x_user: User = None) -> Response:
        def work(s: Session, actor: access.Actor) -> list:
            everyone = handlers.all_participants(s)
            return [p for pid, p in everyone.items() if access.in_scope(s, actor, pid)]

        rows = await run(work, x_actor, x_user, write=False)
        if fmt == "csv":
            return Response(importing.export_csv(rows), media_type="text/csv; charset=utf-8")
        if fmt == "xlsx":
            return Response(importing.export_xlsx(rows), media_type=XLSX)
        raise ApiError(404, "FORMAT_UNKNOWN", "export as csv or xlsx", "выгрузка в csv или xlsx", "csv не xlsx")

    # --- lists of forms -------------------------------------------------------------------

    @api.post("/formlists", status_code=201)
    async def create_formlist(body: FormListDraft, x_actor: ActorId = None, x_user: User = None) -> dict:
        def work(s: Session, actor: access.Actor) -> dict:
            access.require_ministry(actor, "draft the list of forms")
            row = handlers.create_formlist(s, body.year, body.forms, actor.label)
            return {"year": row.year, "version": row.version, "status": row.status}

        return await run(work, x_actor, x_user)

    @api.post("/formlists/{year}/{version}/approve")
    async def approve(year: Year, version: Version, body: Approval, x_actor: ActorId = None, x_user: User = None) -> dict:
        def work(s: Session, actor: access.Actor) -> dict:
            access.require_ministry(actor, "approve the list of forms")
            event = handlers.approve_formlist(s, year, version, body.order_no, body.order_date, body.signatory,
                                              actor.label)
            rt.emit(s, event)
            return {"year": year, "version": version, "status": "approved",
                    "supersedes_version": event.supersedes_version}

        return await run(work, x_actor, x_user)

    @api.put("/formlists/{year}/{version}")
    async def edit_formlist(year: Year, version: Version, body: FormListDraft, x_actor: ActorId = None,
                            x_user: User = None) -> dict:
        """Replace a draft's forms; an approved list refuses (FORMLIST_IMMUTABLE)."""

        def work(s: Session, actor: access.Actor) -> dict:
            access.require_ministry(actor, "edit the list of forms")
            row = s.get(FormList, (year, version))
            if row is None:
                raise RegistryError("FORMLIST_UNKNOWN", f"no list {year} v{version}", f"нет перечня {year} v{version}",
                                    f"{year} v{version} тізбесі жоқ")
            if row.status != "draft":
                raise RegistryError("FORMLIST_IMMUTABLE", f"list {year} v{version} is {row.status} and cannot change",
                                    f"перечень {year} v{version} утверждён и не изменяется",
                                    f"{year} v{version} тізбесі бекітілген, өзгермейді")
            handlers.check_forms(body.forms)
            row.forms_json = handlers.forms_json(body.forms)
            s.add(row)
            handlers.audit(s, actor.label, "edit", "formlist", f"{year}/{version}", None,
                           {"forms": [f.code for f in body.forms]})
            return {"year": year, "version": version, "status": row.status}

        return await run(work, x_actor, x_user)

    @api.get("/formlists/{year}")
    async def get_formlists(year: Year) -> list[dict]:
        """Every version of the year's list, each with its diff against the one before."""

        def work(s: Session) -> list[dict]:
            rows = s.exec(select(FormList).where(FormList.year == year).order_by(col(FormList.version))).all()
            return [handlers.formlist_view(r, rows[i - 1] if i else None) for i, r in enumerate(rows)]

        return await rt.read(work)

    @api.get("/formlists/{year}/{version}.pdf")
    async def formlist_pdf(year: Year, version: Version) -> Response:
        """The approved list as a printable document for the paper channel (clause 7)."""
        from uise_registry.printing import formlist_pdf as render

        def work(s: Session) -> FormListApproved:
            row = s.get(FormList, (year, version))
            if row is None or row.status == "draft":
                raise ApiError(404, "FORMLIST_UNKNOWN", f"no approved list {year} v{version}",
                               f"нет утверждённого перечня {year} v{version}", f"{year} v{version} бекітілген тізбе жоқ")
            return FormListApproved(year=row.year, version=row.version, order_no=row.order_no or "",
                                    order_date=row.order_date, signatory=row.signatory,
                                    supersedes_version=row.supersedes_version,
                                    forms=[FormDefinition.model_validate(f) for f in _loads(row.forms_json)])

        approved = await rt.read(work)
        pdf = await asyncio.to_thread(render, approved)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="forms-{year}-v{version}.pdf"'})

    def _form(s: Session, code: str, year: int) -> FormDefinition:
        for form in handlers.current_forms(s, year):
            if form.code == code:
                return form
        raise ApiError(404, "FORM_UNKNOWN", f"form {code} is not on the approved list of {year}",
                       f"формы {code} нет в утверждённом перечне на {year}", f"{code} нысаны {year} тізбесінде жоқ")

    @api.get("/forms/{code}")
    async def get_form(code: FormCode, year: Year) -> dict:
        return (await rt.read(lambda s: _form(s, code, year))).model_dump(mode="json")

    @api.get("/forms/{code}/template.xlsx")
    async def template(code: FormCode, year: Year, participant_bin: Bin | None = None,
                       period: PeriodText | None = None) -> Response:
        """The form as an Excel workbook to fill in: locked structure, validated input cells; the BIN
        and period, when given, are entered in advance (canonical only, written as text)."""
        from uise_common.workbook import build_template

        form = await rt.read(lambda s: _form(s, code, year))
        data = await asyncio.to_thread(build_template, form, participant_bin=participant_bin, period=period)
        return Response(data, media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{code}-{year}.xlsx"'})

    @api.get("/participants/{participant_id}/forms")
    async def forms_for(participant_id: ParticipantId, year: Year, x_actor: ActorId = None, x_user: User = None) -> list[dict]:
        """The forms this participant must submit in `year`."""

        def work(s: Session, actor: access.Actor) -> list[dict]:
            access.require_read(s, actor, participant_id)
            row = s.get(Participant, participant_id)
            if row is None:
                raise RegistryError("PARTICIPANT_UNKNOWN", f"no participant {participant_id}",
                                    f"нет участника {participant_id}", f"{participant_id} қатысушысы жоқ")
            return [f.model_dump(mode="json") for f in handlers.current_forms(s, year)
                    if row.kind in f.respondent_kinds]

        return await run(work, x_actor, x_user, write=False)

    @api.get("/audit")
    async def audit_log(entity_id: Annotated[str | None, Query(max_length=64)] = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                        x_actor: ActorId = None, x_user: User = None) -> list[dict]:
        def work(s: Session, actor: access.Actor) -> list[dict]:
            access.require_ministry(actor, "read the audit log")
            q = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
            if entity_id:
                q = q.where(AuditEntry.entity_id == entity_id)
            return [{**a.model_dump(mode="json"), "before": _loads(a.before), "after": _loads(a.after)}
                    for a in s.exec(q)]

        return await run(work, x_actor, x_user, write=False)

    return api


def _loads(text: str | None):
    return json.loads(text) if text else None

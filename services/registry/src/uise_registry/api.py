"""The registry's HTTP API: each route parses its input, declares who may call it (a bearer-token
policy, `uise_common.auth`) and calls one command (`commands`) or view (`views`). No header names
the caller; the token does. Access rules beyond the scope live in `access`, not here."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from uise_common import auth
from uise_common.auth import Principal
from uise_common.http import ApiError, documents, refusals
from uise_common.inputs import (
    Bin,
    Day,
    FormCode,
    Iin,
    Label,
    Offset,
    ParticipantId,
    PeriodText,
    PersonName,
    Ref,
    Version,
    Year,
)
from uise_common.service import ServiceRuntime
from uise_contracts.events import FormDefinition, Level
from uise_registry import commands, handlers, importing, staff, views
from uise_registry.domain import RegistryError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUS = {"FORBIDDEN": 403, "FORMLIST_UNKNOWN": 404, "PARTICIPANT_UNKNOWN": 404, "FORM_UNKNOWN": 404,
          "STAFF_UNKNOWN": 404, "FORMLIST_IMMUTABLE": 409, "DRAFT_EXISTS": 409, "BIN_TAKEN": 409,
          "LEVEL_CHANGE": 409, "PARTICIPANT_CLOSED": 409, "HAS_ACTIVE_CHILDREN": 409, "STAFF_LIMIT": 409,
          "ALREADY_CLOSED": 409, "PARENT_HISTORY": 409, "MOVE_SAME_PARENT": 409, "FORMAT_UNKNOWN": 404}

def refused(*codes: str) -> dict[int, dict]:
    """The route's refusals (OpenAPI responses) by reason code."""
    return refusals(STATUS, *codes)


# Identifiers, years and versions in paths and queries are canonical and bounded (uise_common.inputs):
# `٢٠٢٦` or a 20-digit number is a 422, never a 500.

# Who may call what (the scope; `subtree` names the parameter the caller must reach, "resource"
# means the command applies the subtree rule itself).
ReadOne = Annotated[Principal, Depends(auth.allow(auth.REGISTRY_READ, subtree="participant_id"))]
ReadMany = Annotated[Principal, Depends(auth.allow(auth.REGISTRY_READ, subtree="resource"))]
Manage = Annotated[Principal, Depends(auth.allow(auth.REGISTRY_WRITE, subtree="resource"))]  # the parent is in the body
Close = Annotated[Principal, Depends(auth.allow(auth.REGISTRY_WRITE, subtree="participant_id"))]  # also a move
# a head names its own organization's staff (not a department's head its schools')
NameStaff = Annotated[Principal, Depends(auth.allow(auth.REGISTRY_WRITE, subtree="participant_id",
                                                    roles=[auth.HEAD, auth.DATA_OFFICE], itself=True))]
FormLists = Annotated[Principal, Depends(auth.allow(auth.FORMLISTS_WRITE))]
Auditor = Annotated[Principal, Depends(auth.allow(auth.AUDIT_READ))]
# The Rules (clause 7) distribute the approved list to every participant, electronically and on
# paper: its documents need no sign-in.
DISTRIBUTED = [Depends(auth.public("the approved list of forms is distributed to everyone (Rules, clause 7)"))]


class FormListDraft(BaseModel):
    year: Year
    forms: list[FormDefinition] = Field(max_length=500)


class Approval(BaseModel):
    order_no: Label
    order_date: Day
    signatory: PersonName | None = None


class Closing(BaseModel):
    active_to: Day = Field(description="The last day the participant is active; a later date keeps it active until then")


class Move(BaseModel):
    parent_id: ParticipantId = Field(description="The new parent, one level up")
    valid_from: Day = Field(description="The first day under the new parent; the current term ends the day before")


def as_api_error(exc: RegistryError) -> ApiError:
    return ApiError(STATUS.get(exc.code, 422), exc.code, exc.en, exc.ru, exc.kk, **exc.detail)


def router(rt: ServiceRuntime) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["registry"])
    test_mode = rt.settings.registry_test_identifiers

    async def execute(command, *args, **kwargs):
        """Run one command in one transaction, queueing its events with its changes."""

        def work(s):
            outcome = command(s, *args, **kwargs)
            for event in outcome.events:
                rt.emit(s, event)
            return outcome.body

        try:
            return await rt.in_transaction(work)
        except RegistryError as exc:
            raise as_api_error(exc) from exc

    async def ask(view, *args, **kwargs):
        try:
            return await rt.read(lambda s: view(s, *args, **kwargs))
        except RegistryError as exc:
            raise as_api_error(exc) from exc

    # --- participants ---------------------------------------------------------------------

    @api.put("/participants/{participant_id}", responses=refused(
        "FORBIDDEN", "PARTICIPANT_UNKNOWN", "BIN_TAKEN", "LEVEL_CHANGE", "PARTICIPANT_CLOSED", "PARENT_UNKNOWN",
        "ID_MISMATCH", "PARENT_REQUIRED", "HEAD_DATE_INVALID"))
    async def put_participant(participant_id: ParticipantId, body: handlers.ParticipantCommand, who: Manage) -> dict:
        """Create or change a participant (the Ministry's own record: the data office)."""
        return await execute(commands.put_participant, who, participant_id, body, test_mode=test_mode)

    @api.post("/participants/{participant_id}/close", responses=refused(
        "PARTICIPANT_UNKNOWN", "ALREADY_CLOSED", "HAS_ACTIVE_CHILDREN"))
    async def close(participant_id: ParticipantId, body: Closing, who: Close) -> dict:
        """Close the participant from the day after `active_to`; closing twice is refused (ALREADY_CLOSED)."""
        return await execute(commands.close_participant, who, participant_id, body.active_to)

    @api.post("/participants/{participant_id}/move", responses=refused(
        "FORBIDDEN", "PARTICIPANT_UNKNOWN", "PARTICIPANT_CLOSED", "PARENT_HISTORY", "MOVE_SAME_PARENT",
        "PARENT_UNKNOWN", "MOVE_CYCLE"))
    async def move(participant_id: ParticipantId, body: Move, who: Close) -> dict:
        """From `valid_from` the participant answers to `parent_id` (a school moved to another district,
        a district merged into another); the history goes out as `parents` on its event."""
        return await execute(commands.move_participant, who, participant_id, body.parent_id, body.valid_from)

    @api.get("/participants")
    async def list_participants(who: ReadMany, parent_id: ParticipantId | None = None, level: Level | None = None,
                                limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
                                offset: Offset = 0) -> list[dict]:
        """The caller's own subtree (all of it for the Ministry and the data office), filtered."""
        return await ask(views.participants, who, parent_id, level, limit, offset)

    @api.post("/participants/import", responses=refused(
        "FORBIDDEN", "BIN_TAKEN", "LEVEL_CHANGE", "PARTICIPANT_CLOSED", "FILE_TYPE", "FILE_UNREADABLE",
        "COLUMNS_MISSING", "TOO_MANY_ROWS"))
    async def import_participants(file: Annotated[UploadFile, File()], who: Manage, dry_run: bool = True) -> dict:
        """CSV or XLSX of participants. `dry_run` (the default) reports and changes nothing."""
        data = await file.read(50 * 1024 * 1024 + 1)
        try:
            rows = importing.read_rows(data, file.filename or "upload.csv")
        except importing.ImportFileError as exc:
            raise ApiError(422, exc.code, str(exc), str(exc), str(exc)) from exc
        return await execute(commands.import_participants, who, rows, dry_run, test_mode=test_mode)

    @api.get("/participants/export/{fmt}", response_class=Response, responses={
        **refused("FORMAT_UNKNOWN"), **documents("text/csv", XLSX)})
    async def export(fmt: str, who: ReadMany) -> Response:
        """The caller's subtree as the import's columns (CSV or XLSX)."""
        if fmt not in ("csv", "xlsx"):
            raise ApiError(404, "FORMAT_UNKNOWN", "export as csv or xlsx", "выгрузка в csv или xlsx", "csv не xlsx")
        rows = await ask(views.export_rows, who)
        if fmt == "csv":
            return Response(importing.export_csv(rows), media_type="text/csv; charset=utf-8")
        return Response(importing.export_xlsx(rows), media_type=XLSX)

    @api.get("/participants/{participant_id}", responses=refused("PARTICIPANT_UNKNOWN"))
    async def get_participant(participant_id: ParticipantId, _who: ReadOne) -> dict:
        return await ask(views.participant, participant_id)

    @api.get("/participants/{participant_id}/head", responses=refused("PARTICIPANT_UNKNOWN"))
    async def get_head(participant_id: ParticipantId, on: Day, _who: ReadOne) -> dict:
        """Who was the first head on a date: what the signature check asks (clause 8)."""
        return await ask(views.head, participant_id, on)

    @api.get("/participants/{participant_id}/forms", responses=refused("PARTICIPANT_UNKNOWN"))
    async def forms_for(participant_id: ParticipantId, year: Year, _who: ReadOne) -> list[dict]:
        """The forms this participant must submit in `year`."""
        return await ask(views.forms_for, participant_id, year)

    # --- staff the head names -------------------------------------------------------------

    @api.get("/participants/{participant_id}/staff", responses=refused("PARTICIPANT_UNKNOWN"))
    async def get_staff(participant_id: ParticipantId, _who: ReadOne, history: bool = False) -> dict:
        """Who acts for the participant: in force today or starting later; `history` adds ended terms."""
        return await ask(views.staff_of, participant_id, history)

    @api.put("/participants/{participant_id}/staff/{iin}", responses=refused(
        "FORBIDDEN", "PARTICIPANT_UNKNOWN", "PARTICIPANT_CLOSED", "STAFF_LIMIT", "STAFF_ROLE_UNKNOWN",
        "STAFF_ROLE_NOT_AT_LEVEL", "STAFF_DATES_INVALID"))
    async def put_staff(participant_id: ParticipantId, iin: Iin, body: staff.StaffCommand, who: NameStaff) -> dict:
        """The head (or the data office) names a person to a role, or corrects or changes it."""
        return await execute(commands.name_staff, who, participant_id, iin, body, test_mode=test_mode)

    @api.delete("/participants/{participant_id}/staff/{iin}", responses=refused(
        "FORBIDDEN", "PARTICIPANT_UNKNOWN", "STAFF_UNKNOWN"))
    async def delete_staff(participant_id: ParticipantId, iin: Iin, who: NameStaff) -> dict:
        """Ends the person's role: yesterday was the last day, so they act for nobody from now."""
        return await execute(commands.end_staff, who, participant_id, iin, test_mode=test_mode)

    # --- lists of forms -------------------------------------------------------------------

    @api.post("/formlists", status_code=201, responses=refused(
        "DRAFT_EXISTS", "FORM_CODE_INVALID", "FORM_CODE_REPEATED"))
    async def create_formlist(body: FormListDraft, who: FormLists) -> dict:
        return await execute(commands.create_formlist, who, body.year, body.forms)

    @api.put("/formlists/{year}/{version}", responses=refused(
        "FORMLIST_UNKNOWN", "FORMLIST_IMMUTABLE", "FORM_CODE_INVALID", "FORM_CODE_REPEATED"))
    async def edit_formlist(year: Year, version: Version, body: FormListDraft, who: FormLists) -> dict:
        """Replace a draft's forms; an approved list refuses (FORMLIST_IMMUTABLE)."""
        return await execute(commands.edit_formlist, who, year, version, body.forms)

    @api.post("/formlists/{year}/{version}/approve", responses=refused(
        "FORMLIST_UNKNOWN", "FORMLIST_IMMUTABLE"))
    async def approve(year: Year, version: Version, body: Approval, who: FormLists) -> dict:
        return await execute(commands.approve_formlist, who, year, version, body.order_no, body.order_date,
                             body.signatory)

    @api.get("/formlists/{year}/with-drafts")
    async def get_formlists_with_drafts(year: Year, _who: FormLists) -> list[dict]:
        """Every version of the year's list, the draft in preparation included."""
        return await ask(views.formlists, year, drafts=True)

    @api.get("/formlists/{year}", dependencies=DISTRIBUTED)
    async def get_formlists(year: Year) -> list[dict]:
        """The approved and superseded versions of the year's list, each with its diff against the one before."""
        return await ask(views.formlists, year)

    @api.get("/formlists/{year}/{version}.pdf", dependencies=DISTRIBUTED, response_class=Response,
             responses={**refused("FORMLIST_UNKNOWN"), **documents("application/pdf")})
    async def formlist_pdf(year: Year, version: Version) -> Response:
        """The approved list as a printable document for the paper channel (clause 7)."""
        from uise_registry.printing import formlist_pdf as render

        approved = await ask(views.approved_formlist, year, version)
        pdf = await asyncio.to_thread(render, approved)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="forms-{year}-v{version}.pdf"'})

    @api.get("/forms/{code}", dependencies=DISTRIBUTED, responses=refused("FORMLIST_UNKNOWN", "FORM_UNKNOWN"))
    async def get_form(code: FormCode, year: Year) -> dict:
        return (await ask(views.form, code, year)).model_dump(mode="json")

    @api.get("/forms/{code}/template.xlsx", dependencies=DISTRIBUTED, response_class=Response,
             responses={**refused("FORMLIST_UNKNOWN", "FORM_UNKNOWN"), **documents(XLSX)})
    async def template(code: FormCode, year: Year, participant_bin: Bin | None = None,
                       period: PeriodText | None = None) -> Response:
        """The form as an Excel workbook to fill in: locked structure, validated input cells; the BIN
        and period, when given, are entered in advance (canonical only, written as text)."""
        from uise_common.workbook import build_template

        form = await ask(views.form, code, year)
        data = await asyncio.to_thread(build_template, form, participant_bin=participant_bin, period=period)
        return Response(data, media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{code}-{year}.xlsx"'})

    # --- audit ----------------------------------------------------------------------------

    @api.get("/audit")
    async def audit_log(_who: Auditor, entity_id: Annotated[Ref | None, Query()] = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
        return await ask(views.audit_log, entity_id, limit)

    return api

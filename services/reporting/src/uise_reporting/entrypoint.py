"""Reporting process: consolidates accepted figures and publishes reports."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlmodel import Session, select

from uise_common import auth
from uise_common.hierarchy import ancestors_in
from uise_common.inputs import FormCode, ParticipantId, PeriodText
from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import (
    ConsolidationDue,
    DeadlineViolation,
    FormListApproved,
    InfoRequestIssued,
    ParticipantUpserted,
    SubmissionAccepted,
    SubmissionReturned,
)
from uise_contracts.topics import topic_for
from uise_reporting import analytics_api, handlers, published, views
from uise_reporting.adapters import MIGRATIONS, KnownParticipant, Report

READ_REPORTS = auth.allow(auth.REPORTS_READ, subtree="node_id")
ancestors = ancestors_in(KnownParticipant)


def consumers(rt: ServiceRuntime):
    return {
        topic_for(ParticipantUpserted): handlers.on_participant,
        topic_for(FormListApproved): handlers.on_formlist,
        topic_for(InfoRequestIssued): handlers.on_inforequest,
        topic_for(SubmissionAccepted): handlers.on_accepted,
        topic_for(SubmissionReturned): handlers.on_returned,
        topic_for(ConsolidationDue): handlers.make_on_due(rt.store.put, published.Linker.from_settings(rt.settings)),
        topic_for(DeadlineViolation): handlers.on_violation,
    }


def router(rt: ServiceRuntime) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["reporting"])

    @api.get("/reports")
    async def reports(who: Annotated[auth.Principal, Depends(READ_REPORTS)],
                      node_id: ParticipantId | None = None) -> list[dict]:
        """Published reports of the caller's subtree (of one node with `node_id`); an
        integrator and the Ministry read them all."""

        def work(s: Session) -> list[dict]:
            q = select(Report)
            if node_id:
                q = q.where(Report.node_id == node_id)
            return [r.model_dump(mode="json") for r in s.exec(q) if who.reaches(ancestors(s, r.node_id))]

        return await rt.read(work)

    @api.get("/nodes/{node_id}/figures")
    async def figures(_: Annotated[auth.Principal, Depends(READ_REPORTS)], node_id: ParticipantId,
                      form_code: Annotated[FormCode, Query()], period: Annotated[PeriodText, Query()]) -> dict:
        """The node's live exact figures from its subordinates' current accepted submissions
        (even while some are missing): figures, exact aggregates and who contributes."""
        return await rt.read(lambda s: views.live_figures(s, node_id, form_code, period))

    @api.get("/consolidations")
    async def consolidations(who: Annotated[auth.Principal, Depends(READ_REPORTS)],
                             node_id: ParticipantId | None = None, form_code: FormCode | None = None,
                             period: PeriodText | None = None) -> list[dict]:
        """Consolidated document versions (metadata) in the caller's subtree."""
        def work(s: Session) -> list[dict]:
            return [m for m in views.versions(s, node_id, form_code, period) if who.reaches(ancestors(s, m["node_id"]))]

        return await rt.read(work)

    @api.get("/consolidations/{node_id}/{form_code}/{period}")
    async def consolidation(_: Annotated[auth.Principal, Depends(READ_REPORTS)], node_id: ParticipantId,
                            form_code: FormCode, period: PeriodText,
                            version: Annotated[int | None, Query(ge=1)] = None) -> dict:
        """The latest version's metadata (or `version`); 404 CONSOLIDATION_NOT_FOUND."""
        return await rt.read(lambda s: views.version(s, node_id, form_code, period, version))

    async def document(node_id: str, form_code: str, period: str, version: int | None, kind: str) -> Response:
        meta = await rt.read(lambda s: views.version(s, node_id, form_code, period, version))
        obj = views.document_of(meta, kind)
        data = await asyncio.to_thread(rt.store.get, obj)
        name = f"{node_id}-{form_code}-{period}-v{meta['version']}.{kind}"
        return Response(data, media_type=obj.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @api.get("/consolidations/{node_id}/{form_code}/{period}/document.json")
    async def document_json(_: Annotated[auth.Principal, Depends(READ_REPORTS)], node_id: ParticipantId,
                            form_code: FormCode, period: PeriodText,
                            version: Annotated[int | None, Query(ge=1)] = None) -> Response:
        """The consolidated JSON document (the latest version, or `version`)."""
        return await document(node_id, form_code, period, version, "json")

    @api.get("/consolidations/{node_id}/{form_code}/{period}/document.xlsx")
    async def document_xlsx(_: Annotated[auth.Principal, Depends(READ_REPORTS)], node_id: ParticipantId,
                            form_code: FormCode, period: PeriodText,
                            version: Annotated[int | None, Query(ge=1)] = None) -> Response:
        """The consolidated workbook: the form's template filled in plus `_consolidation`."""
        return await document(node_id, form_code, period, version, "xlsx")

    api.include_router(analytics_api.router(rt))
    published.routes(api, rt, published.Linker.from_settings(rt.settings), ancestors)
    return api


SPEC = ServiceSpec(
    name="reporting",
    description="Consolidates accepted data per node and publishes reports.",
    migrations=MIGRATIONS,
    consumers=consumers,
    router=router,
    uses_object_store=True,
    hierarchy=ancestors,
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()

"""Reporting process: consolidates accepted figures and publishes reports."""

from __future__ import annotations

import asyncio
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from uise_common import auth, reads
from uise_common.docsign import DocumentSigner
from uise_common.hierarchy import ancestors_in
from uise_common.http import ApiError, documents
from uise_common.inputs import FormCode, ParticipantId, PeriodText, Version
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
from uise_reporting import analytics_api, handlers, published, reports, views
from uise_reporting.adapters import MIGRATIONS, READ_MODEL, KnownParticipant
from uise_reporting.documents import XLSX

READ_REPORTS = auth.allow(auth.REPORTS_READ, subtree="node_id")
PEOPLE = (auth.HEAD, auth.SIGNER, auth.OFFICER, auth.ANALYST, auth.DATA_OFFICE)  # who read reports, not machines
# Building a version publishes it to other ministries' systems: people of the node's subtree who
# read reports, not machine clients (a school's system, an integrator).
BUILD_REPORTS = auth.allow(auth.REPORTS_READ, subtree="node_id", roles=PEOPLE)
# Who read a node's documents (uise_common.reads): its own people and its departments', as for
# intake's reads of a submission, but people only: an integrator (nationwide, another ministry's
# system) or a school's system has no business with who read what, and the rows name people.
AUDIT_READS = auth.allow(auth.REPORTS_READ, subtree="node_id", roles=PEOPLE)
CONSOLIDATION_READS = "consolidation"  # reporting's rows of uise_common.reads about consolidations
ancestors = ancestors_in(KnownParticipant)


@cache
def _signer(path: Path) -> DocumentSigner:
    return DocumentSigner.load_or_create(path)


def signer_of(rt: ServiceRuntime) -> DocumentSigner:
    """Reporting's document-signing key (created on first start under the data directory)."""
    return _signer(rt.settings.data_dir / "reporting-document.key")


def consumers(rt: ServiceRuntime):
    return {
        topic_for(ParticipantUpserted): handlers.on_participant,
        topic_for(FormListApproved): handlers.on_formlist,
        topic_for(InfoRequestIssued): handlers.on_inforequest,
        topic_for(SubmissionAccepted): handlers.on_accepted,
        topic_for(SubmissionReturned): handlers.on_returned,
        topic_for(ConsolidationDue): handlers.make_on_due(rt.store.put, signer_of(rt),
                                                          published.Linker.from_settings(rt.settings)),
        topic_for(DeadlineViolation): handlers.on_violation,
    }


def router(rt: ServiceRuntime) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["reporting"])
    # First: `/reports/{report_id}/{version}/document.{fmt}` (signed links, no token) would otherwise
    # be taken by `/reports/{node_id}/{form_code}/{period}`, which asks for a token.
    published.routes(api, rt, published.Linker.from_settings(rt.settings), ancestors)

    @api.get("/reports")
    async def report_versions(who: Annotated[auth.Principal, Depends(READ_REPORTS)],
                              node_id: ParticipantId | None = None, form_code: FormCode | None = None,
                              period: PeriodText | None = None) -> list[dict]:
        """Report versions (metadata: status, summary, changes, checksums, signature) in the
        caller's subtree; an integrator and the Ministry read them all."""

        def work(s: Session) -> list[dict]:
            return [reports.metadata(r) for r in reports.versions(s, node_id, form_code, period)
                    if who.reaches(ancestors(s, r.node_id))]

        return await rt.read(work)

    @api.get("/reports/public-key", dependencies=[Depends(auth.public("verifies report signatures offline"))])
    async def report_public_key() -> dict:
        """The key report manifests are signed with (`uise-receipt REPORT.json --key ...`)."""
        signer = signer_of(rt)
        return {"alg": "Ed25519", "key_id": signer.key_id, "pem": signer.public_pem()}

    @api.get("/reports/{node_id}/{form_code}/{period}", responses=views.refused("REPORT_NOT_FOUND"))
    async def report_of(_: Annotated[auth.Principal, Depends(READ_REPORTS)], node_id: ParticipantId,
                        form_code: FormCode, period: PeriodText) -> dict:
        """A report's versions (metadata), each with its changes; 404 REPORT_NOT_FOUND."""
        return await rt.read(lambda s: views.report(s, node_id, form_code, period))

    @api.post("/reports/{node_id}/{form_code}/{period}/build", status_code=201, responses=views.refused(
        "FORM_NOT_FOUND", "NODE_UNKNOWN", "NOT_A_DEPARTMENT", "REPORT_BUSY"))
    async def build_report(_: Annotated[auth.Principal, Depends(BUILD_REPORTS)], node_id: ParticipantId,
                           form_code: FormCode, period: PeriodText) -> dict:
        """Build a preliminary version now from the node's live figures and publish it; 404
        FORM_NOT_FOUND for a form not on an approved list of the period's year, 404 NODE_UNKNOWN, 409
        NOT_A_DEPARTMENT for an organization (it consolidates nothing), 409 REPORT_BUSY when other
        builds keep taking the next version."""
        signer = signer_of(rt)

        def work(s: Session) -> dict:
            meta, event = views.build_report(s, node_id, form_code, period, rt.store.put, signer,
                                             published.Linker.from_settings(rt.settings))
            rt.emit(s, event)
            return meta

        for _ in range(3):  # another build (or a consolidation) took the version: the next is free
            try:
                return await rt.in_transaction(work)
            except reports.VersionTaken:
                continue
        raise ApiError(409, "REPORT_BUSY", "other versions of this report are being built; try again",
                       "сейчас строятся другие версии этого отчёта; повторите попытку",
                       "бұл есептің басқа нұсқалары жасалып жатыр; қайталап көріңіз")

    @api.get("/nodes/{node_id}/figures", responses=views.refused("FORM_NOT_FOUND"))
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

    @api.get("/consolidations/{node_id}/{form_code}/{period}", responses=views.refused("CONSOLIDATION_NOT_FOUND"))
    async def consolidation(_: Annotated[auth.Principal, Depends(READ_REPORTS)], node_id: ParticipantId,
                            form_code: FormCode, period: PeriodText,
                            version: Annotated[Version | None, Query()] = None) -> dict:
        """The latest version's metadata (or `version`); 404 CONSOLIDATION_NOT_FOUND."""
        return await rt.read(lambda s: views.version(s, node_id, form_code, period, version))

    async def document(node_id: str, form_code: str, period: str, version: int | None, kind: str,
                       by: reads.Reader) -> Response:
        def work(s: Session) -> dict:
            meta = views.version(s, node_id, form_code, period, version)  # 404 before anything is recorded
            reads.record(s, by, CONSOLIDATION_READS, reports.report_id_of(node_id, form_code, period), kind,
                         reads.FILE, version=meta["version"])
            return meta

        meta = await rt.in_transaction(work)
        obj = views.document_of(meta, kind)
        data = await asyncio.to_thread(rt.store.get, obj)
        name = f"{node_id}-{form_code}-{period}-v{meta['version']}.{kind}"
        return Response(data, media_type=obj.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @api.get("/consolidations/{node_id}/{form_code}/{period}/document.json", response_class=Response,
             responses={**views.refused("CONSOLIDATION_NOT_FOUND"), **documents("application/json")})
    async def document_json(who: Annotated[auth.Principal, Depends(READ_REPORTS)], node_id: ParticipantId,
                            form_code: FormCode, period: PeriodText, request: Request,
                            version: Annotated[Version | None, Query()] = None) -> Response:
        """The consolidated JSON document (the latest version, or `version`); the read is recorded
        (…/reads)."""
        return await document(node_id, form_code, period, version, "json", reads.reader(who, request))

    @api.get("/consolidations/{node_id}/{form_code}/{period}/document.xlsx", response_class=Response,
             responses={**views.refused("CONSOLIDATION_NOT_FOUND"), **documents(XLSX)})
    async def document_xlsx(who: Annotated[auth.Principal, Depends(READ_REPORTS)], node_id: ParticipantId,
                            form_code: FormCode, period: PeriodText, request: Request,
                            version: Annotated[Version | None, Query()] = None) -> Response:
        """The consolidated workbook: the form's template filled in plus `_consolidation`; the read
        is recorded (…/reads)."""
        return await document(node_id, form_code, period, version, "xlsx", reads.reader(who, request))

    @api.get("/consolidations/{node_id}/{form_code}/{period}/reads", responses=views.refused("CONSOLIDATION_NOT_FOUND"))
    async def consolidation_reads(_: Annotated[auth.Principal, Depends(AUDIT_READS)], node_id: ParticipantId,
                                  form_code: FormCode, period: PeriodText) -> list[dict]:
        """Who read the consolidated documents (every version), when and from which address: the
        people of the node and the departments above it who read reports, and the data office."""

        def work(s: Session) -> list[dict]:
            views.version(s, node_id, form_code, period, None)  # 404 CONSOLIDATION_NOT_FOUND
            return reads.reads_of(s, CONSOLIDATION_READS, reports.report_id_of(node_id, form_code, period))

        return await rt.read(work)

    @api.get("/reports/{node_id}/{form_code}/{period}/reads", responses=views.refused("REPORT_NOT_FOUND"))
    async def report_reads(_: Annotated[auth.Principal, Depends(AUDIT_READS)], node_id: ParticipantId,
                           form_code: FormCode, period: PeriodText) -> list[dict]:
        """The report's links issued (`link`, to whom, with their `link` grant) and its documents
        read by link (`by_link`: as whom the link was issued to, or `report.published` for the
        event's links, and from which address), every version: for whom …/reads of a
        consolidation is."""

        def work(s: Session) -> list[dict]:
            views.report(s, node_id, form_code, period)  # 404 REPORT_NOT_FOUND
            return reads.reads_of(s, published.READS_KIND, reports.report_id_of(node_id, form_code, period))

        return await rt.read(work)

    api.include_router(analytics_api.router(rt))
    return api


SPEC = ServiceSpec(
    name="reporting",
    description="Consolidates accepted data per node and publishes reports.",
    migrations=MIGRATIONS,
    read_model=READ_MODEL,
    consumers=consumers,
    router=router,
    uses_object_store=True,
    hierarchy=ancestors,
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()

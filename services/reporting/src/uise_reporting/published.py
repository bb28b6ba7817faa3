"""`report.published` as a public contract (docs/integrators.md): where a report version's
documents are found, the signed links the event carries, and the two routes behind them: the
document by its link (no token: the link is the credential) and fresh links for a consumer
replaying events whose links have expired."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from uise_common import auth, reads
from uise_common.http import ApiError, documents
from uise_common.inputs import Ref
from uise_common.settings import Settings
from uise_contracts.events import ReportDocument, StoredObject
from uise_reporting import links
from uise_reporting.adapters import ReportVersion
from uise_reporting.documents import XLSX
from uise_reporting.views import refused

LINKS_READ = auth.allow(auth.REPORTS_READ, subtree="resource")  # the route checks the report's node
ReportIdText = Ref  # node:form:period
Version = Annotated[int, Path(ge=1, le=1_000_000)]
Fmt = Annotated[str, Path(pattern=r"^[a-z0-9]{1,10}$")]
GRANT_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"  # links.new_grant
READS_KIND = "report"  # reporting's rows of uise_common.reads about report versions, by report_id


@dataclass(frozen=True)
class StoredReport:
    report_id: str
    version: int
    node_id: str
    documents: dict[str, StoredObject]  # fmt -> object


def find_report(session: Session, report_id: str, version: int) -> StoredReport | None:
    """A report version's documents (JSON, XLSX, PDF; uise_reporting.reports)."""
    row = session.get(ReportVersion, f"{report_id}:{version}")
    if row is None:
        return None
    docs = {fmt: StoredObject.model_validate(obj) for fmt, obj in json.loads(row.documents).items()}
    return StoredReport(report_id=report_id, version=version, node_id=row.node_id, documents=docs)


def find_document(session: Session, report_id: str, version: int, fmt: str) -> StoredObject | None:
    report = find_report(session, report_id, version)
    return None if report is None else report.documents.get(fmt)


@dataclass(frozen=True)
class Linker:
    """report_links with reporting's settings bound: (report_id, version, fmt) -> (url, expires_at)."""

    base_url: str
    key: bytes
    ttl: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Linker:
        return cls(settings.reporting_public_base_url, links.link_key(settings),
                   timedelta(seconds=settings.reporting_link_ttl_seconds))

    def __call__(self, report_id: str, version: int, fmt: str, now: datetime | None = None,
                 grant: str | None = None) -> tuple[str, datetime]:
        return links.report_links(report_id, version, fmt, base_url=self.base_url, key=self.key, ttl=self.ttl, now=now,
                                  grant=grant)


def report_documents(report_id: str, version: int, documents: dict[str, StoredObject],
                     link: Callable[[str, int, str], tuple[str, datetime]]) -> dict[str, ReportDocument]:
    """What the event (and the fresh-links answer) says of each document: checksum, size, link."""
    out = {}
    for fmt, obj in sorted(documents.items()):
        url, expires_at = link(report_id, version, fmt)
        out[fmt] = ReportDocument(media_type=obj.media_type, sha256=obj.sha256, size=obj.size, url=url,
                                  expires_at=expires_at)
    return out


def report_not_found(report_id: str, version: int, fmt: str | None = None) -> ApiError:
    what = f"{report_id} v{version}" + (f" ({fmt})" if fmt else "")
    return ApiError(404, "REPORT_NOT_FOUND", f"no report {what}", f"отчёт {what} не найден",
                    f"{what} есебі табылмады")


def routes(api: APIRouter, rt, linker: Linker, ancestors: Callable[[Session, str], list[str]]) -> None:
    """Adds the two routes to reporting's /v1 router. Both are on record (uise_common.reads): each
    document read by a link, as whom the link was issued to, and each issuance of fresh links."""

    @api.get("/reports/{report_id}/{version}/document.{fmt}",
             dependencies=[Depends(auth.public("a signed short-lived link is the credential (report.published)"))],
             responses={**refused("LINK_INVALID", "LINK_EXPIRED", "REPORT_NOT_FOUND"),
                        **documents("application/json", XLSX, "application/pdf")})
    async def document_by_link(report_id: ReportIdText, version: Version, fmt: Fmt, request: Request,
                               expires: Annotated[int, Query(ge=0, le=2**40)],
                               sig: Annotated[str, Query(min_length=1, max_length=100)],
                               grant: Annotated[str | None, Query(pattern=GRANT_PATTERN)] = None) -> Response:
        """One document of a report version, by the signed link `report.published` carries (or
        POST …/links gives): the bytes with their media type, `ETag` and `Repr-Digest` (SHA-256).
        The read is recorded as the link's holder's (GET /v1/reports/{node_id}/{form_code}/{period}/reads)."""
        links.verify(report_id, version, fmt, expires, sig, key=linker.key, grant=grant)
        client = reads.client_of(request)

        def work(s: Session) -> StoredObject | None:
            obj = find_document(s, report_id, version, fmt)
            if obj is not None:
                reads.record(s, reads.link_holder(s, grant, client), READS_KIND, report_id, fmt, reads.BY_LINK,
                             version=version, link=grant)
            return obj

        obj = await rt.in_transaction(work)
        if obj is None:
            raise report_not_found(report_id, version, fmt)
        data = await asyncio.to_thread(rt.store.get, obj)  # checks the SHA-256 on the way out
        digest = base64.b64encode(bytes.fromhex(obj.sha256)).decode()
        name = f"{report_id.replace(':', '-')}-v{version}.{fmt}"
        return Response(data, media_type=obj.media_type, headers={
            "ETag": f'"{obj.sha256}"', "Repr-Digest": f"sha-256=:{digest}:",
            "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"})

    @api.post("/reports/{report_id}/{version}/links", responses=refused("REPORT_NOT_FOUND"))
    async def fresh_links(who: Annotated[auth.Principal, Depends(LINKS_READ)], report_id: ReportIdText,
                          version: Version, request: Request) -> dict:
        """Fresh signed links to a report version's documents (for a consumer replaying events whose
        links have expired): an integrator and the Ministry for any report, others for their subtree.
        404 REPORT_NOT_FOUND also for a report outside the caller's reach. The links carry a `grant`
        under which their issuance to the caller is recorded; a read by them is recorded as the
        caller's."""
        by, grant = reads.reader(who, request), links.new_grant()

        def work(s: Session) -> StoredReport | None:
            report = find_report(s, report_id, version)
            if report is None or not who.reaches(ancestors(s, report.node_id)):
                return None
            for fmt in sorted(report.documents):
                reads.record(s, by, READS_KIND, report_id, fmt, reads.LINK, version=version, link=grant)
            return report

        report = await rt.in_transaction(work)
        if report is None:
            raise report_not_found(report_id, version)
        docs = report_documents(report_id, version, report.documents,
                                lambda r, v, f: linker(r, v, f, grant=grant))
        return {"report_id": report_id, "version": version,
                "documents": {fmt: d.model_dump(mode="json") for fmt, d in docs.items()}}

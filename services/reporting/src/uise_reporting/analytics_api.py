"""The analytics API's routes (docs/analytics.md): thin, over the pure questions in `analytics`.

Policy: `reports:read` with the node (`node_id`) as the subtree root, so a district officer asks
about its district and below, the Ministry, the data office and integrators about any node.
Answers about the top of the hierarchy are kept for a short while (`analytics.TtlCache`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field, StringConstraints
from sqlmodel import Session

from uise_common import auth
from uise_common.http import documents
from uise_common.inputs import FormCode, ParticipantId, PeriodText
from uise_common.service import ServiceRuntime
from uise_reporting import analytics, views

READ_NODE = auth.allow(auth.REPORTS_READ, subtree="node_id")
NATIONAL_TTL = 30.0  # seconds a national answer may be served again (docs/analytics.md)
CSV = "text/csv; charset=utf-8"

CellCode = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$"), Field(
    description="A cell of the form: a flat field's code, or `section.row.column`", examples=["pupils_total"])]
Node = Annotated[ParticipantId, Query(description="The node asked about (the subtree's root)")]
Limit = Annotated[int, Query(ge=1, le=500, description="Subordinates (or findings) per page")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
# A page of JSON, or (format=csv) the same page as CSV; what each refuses with.
ANSWERS = {**views.refused("FORM_NOT_FOUND", "CELL_NOT_FOUND", "NODE_NOT_FOUND"),
           **documents("application/json", "text/csv")}
Format = Annotated[Literal["json", "csv"], Query(description="`csv`: the page as CSV (formula-safe)")]


def router(rt: ServiceRuntime, cache: analytics.TtlCache | None = None) -> APIRouter:
    api = APIRouter(prefix="/analytics", tags=["analytics"])
    national = cache or analytics.TtlCache(ttl=NATIONAL_TTL)

    async def answer(request: Request, node_id: str, key: tuple, compute: Callable[[Session], dict],
                     to_csv: Callable[[dict], bytes], fmt: str, name: str) -> dict | Response:
        def work(s: Session) -> dict:
            if analytics.is_national(s, node_id):
                return national.get_or_compute(key, lambda: compute(s))
            return compute(s)

        body = dict(await rt.read(work))
        end = body["offset"] + body["limit"]
        body["next"] = None
        if end < body["total"]:
            nxt = request.url.include_query_params(offset=end)
            body["next"] = f"{nxt.path}?{nxt.query}"
        if fmt == "csv":
            return Response(to_csv(body), media_type=CSV,
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
        return body

    @api.get("/{form_code}/{period}/indicators/{cell}", response_model=None, responses=ANSWERS)
    async def indicator(request: Request, _: Annotated[auth.Principal, Depends(READ_NODE)], form_code: FormCode,
                        period: PeriodText, cell: CellCode, node_id: Node, limit: Limit = 50, offset: Offset = 0,
                        format: Format = "json") -> dict | Response:
        """The cell's live figure at the node and at each of its direct subordinates (drill-down:
        nation → regions → districts → organizations), paged over the subordinates. 404
        FORM_NOT_FOUND, CELL_NOT_FOUND, NODE_NOT_FOUND."""
        return await answer(request, node_id, ("indicator", form_code, period, cell, node_id, limit, offset),
                            lambda s: analytics.indicator(s, form_code, period, cell, node_id, limit, offset),
                            analytics.indicator_csv, format, f"{node_id}-{form_code}-{period}-{cell}")

    @api.get("/{form_code}/{period}/completeness", response_model=None, responses=ANSWERS)
    async def completeness(request: Request, _: Annotated[auth.Principal, Depends(READ_NODE)], form_code: FormCode,
                           period: PeriodText, node_id: Node, limit: Limit = 50, offset: Offset = 0,
                           format: Format = "json") -> dict | Response:
        """Expected, delivered, accepted, on time, late, missing and the on-time rate over the
        organizations beneath the node, for the node and per direct subordinate (paged)."""
        return await answer(request, node_id, ("completeness", form_code, period, node_id, limit, offset),
                            lambda s: analytics.completeness(s, form_code, period, node_id, limit, offset),
                            analytics.completeness_csv, format, f"{node_id}-{form_code}-{period}-completeness")

    @api.get("/{form_code}/{period}/findings", response_model=None, responses=ANSWERS)
    async def findings(request: Request, _: Annotated[auth.Principal, Depends(READ_NODE)], form_code: FormCode,
                       period: PeriodText, node_id: Node, limit: Limit = 50, offset: Offset = 0,
                       format: Format = "json") -> dict | Response:
        """Corrections of distorted data (accepted corrections of accepted data) at the node or
        beneath it, with the cells each changed (reporting keeps no validation findings)."""
        return await answer(request, node_id, ("findings", form_code, period, node_id, limit, offset),
                            lambda s: analytics.findings(s, form_code, period, node_id, limit, offset),
                            analytics.findings_csv, format, f"{node_id}-{form_code}-{period}-findings")

    return api

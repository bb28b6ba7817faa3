"""Reporting process: consolidates accepted figures and publishes reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import Session, select

from uise_common import auth
from uise_common.hierarchy import ancestors_in
from uise_common.inputs import ParticipantId
from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import (
    DeadlineViolation,
    FormListApproved,
    ParticipantUpserted,
    SubmissionAccepted,
)
from uise_contracts.topics import topic_for
from uise_reporting import handlers
from uise_reporting.adapters import MIGRATIONS, KnownParticipant, Report

READ_REPORTS = auth.allow(auth.REPORTS_READ, subtree="node_id")
ancestors = ancestors_in(KnownParticipant)


def consumers(rt: ServiceRuntime):
    return {
        topic_for(ParticipantUpserted): handlers.on_participant,
        topic_for(FormListApproved): handlers.on_formlist,
        topic_for(SubmissionAccepted): handlers.make_on_accepted(rt.store.put),
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

"""Reporting process: consolidates accepted figures and publishes reports."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session, select

from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import (
    DeadlineViolation,
    FormListApproved,
    ParticipantUpserted,
    SubmissionAccepted,
)
from uise_contracts.topics import topic_for
from uise_reporting import handlers
from uise_reporting.adapters import MIGRATIONS, Report


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
    async def reports(node_id: str | None = None) -> list[dict]:
        def work(s: Session) -> list[dict]:
            q = select(Report)
            if node_id:
                q = q.where(Report.node_id == node_id)
            return [r.model_dump(mode="json") for r in s.exec(q)]
        return await rt.in_transaction(work)

    return api


SPEC = ServiceSpec(
    name="reporting",
    description="Consolidates accepted data per node and publishes reports.",
    migrations=MIGRATIONS,
    consumers=consumers,
    router=router,
    uses_object_store=True,
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()

"""Routing process: decides accepted/rejected and files accepted submissions in inboxes."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session, select

from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import (
    FormListApproved,
    ParticipantUpserted,
    SignatureChecked,
    SubmissionValidated,
)
from uise_contracts.topics import topic_for
from uise_routing import handlers
from uise_routing.adapters import MIGRATIONS, InboxItem


def consumers(_rt: ServiceRuntime):
    return {
        topic_for(ParticipantUpserted): handlers.on_participant,
        topic_for(FormListApproved): handlers.on_formlist,
        topic_for(SignatureChecked): handlers.on_signature_checked,
        topic_for(SubmissionValidated): handlers.on_validated,
    }


def router(rt: ServiceRuntime) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["routing"])

    @api.get("/inboxes/{recipient_id}")
    async def inbox(recipient_id: str) -> list[dict]:
        def work(s: Session) -> list[dict]:
            q = select(InboxItem).where(InboxItem.recipient_id == recipient_id).order_by(InboxItem.filed_at)
            return [i.model_dump(mode="json") for i in s.exec(q)]
        return await rt.in_transaction(work)

    return api


SPEC = ServiceSpec(
    name="routing",
    description="Checks the hierarchy and files submissions in the recipient's inbox.",
    migrations=MIGRATIONS,
    consumers=consumers,
    router=router,
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()

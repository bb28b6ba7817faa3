"""Routing process: decides accepted/rejected and files accepted submissions in inboxes."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlmodel import Session, col, select

from uise_common import auth
from uise_common.hierarchy import ancestors_in
from uise_common.inputs import ParticipantId
from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import (
    FormListApproved,
    ParticipantUpserted,
    SignatureChecked,
    SubmissionValidated,
)
from uise_contracts.topics import topic_for
from uise_routing import handlers
from uise_routing.adapters import MIGRATIONS, InboxItem, KnownParticipant

READ_INBOX = auth.allow(auth.INBOX_READ, subtree="recipient_id")


def consumers(_rt: ServiceRuntime):
    return {
        topic_for(ParticipantUpserted): handlers.on_participant,
        topic_for(FormListApproved): handlers.on_formlist,
        topic_for(SignatureChecked): handlers.on_signature_checked,
        topic_for(SubmissionValidated): handlers.on_validated,
    }


def router(rt: ServiceRuntime) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["routing"])

    @api.get("/inboxes/{recipient_id}", dependencies=[Depends(READ_INBOX)])
    async def inbox(recipient_id: ParticipantId) -> list[dict]:
        """What `recipient_id` received: its own officers, its departments above and the
        Ministry may read it."""

        def work(s: Session) -> list[dict]:
            q = select(InboxItem).where(InboxItem.recipient_id == recipient_id).order_by(col(InboxItem.filed_at))
            return [i.model_dump(mode="json") for i in s.exec(q)]

        return await rt.read(work)

    return api


SPEC = ServiceSpec(
    name="routing",
    description="Checks the hierarchy and files submissions in the recipient's inbox.",
    migrations=MIGRATIONS,
    consumers=consumers,
    router=router,
    hierarchy=ancestors_in(KnownParticipant),
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()

"""Routing process: decides accepted/rejected, files accepted submissions in inboxes, and lets
the recipient accept or return them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel

from uise_common import auth
from uise_common.auth import Principal
from uise_common.hierarchy import ancestors_in
from uise_common.http import ApiError
from uise_common.inputs import FormCode, ParticipantId, PeriodText, capped_text
from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import (
    ConsolidationDue,
    ConsolidationReady,
    DeadlineViolation,
    FormListApproved,
    ParticipantUpserted,
    SignatureChecked,
    SubmissionValidated,
)
from uise_contracts.topics import topic_for
from uise_routing import commands, handlers, views
from uise_routing.adapters import MIGRATIONS, KnownParticipant
from uise_routing.domain import MAX_COMMENT, Refused

READ_INBOX = auth.allow(auth.INBOX_READ, subtree="recipient_id")
REVIEW = auth.allow(auth.INBOX_REVIEW, subtree="recipient_id")
SubmissionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]

# code -> (status, en, ru, kk); {names} come from the refusal's detail
REASONS = {
    "SUBMISSION_NOT_IN_INBOX": (404, "submission {submission_id} is not in the inbox of {recipient_id}",
                                "документа {submission_id} нет во входящих {recipient_id}",
                                "{submission_id} құжаты {recipient_id} кіріс жәшігінде жоқ"),
    "NOT_CURRENT": (409, "submission {submission_id} is superseded by {superseded_by}: act on the current version",
                    "документ {submission_id} заменён версией {superseded_by}: работайте с текущей версией",
                    "{submission_id} құжаты {superseded_by} нұсқасымен ауыстырылды: ағымдағы нұсқамен жұмыс істеңіз"),
    "ALREADY_RETURNED": (409, "submission {submission_id} was already returned; the submitter must correct it",
                         "документ {submission_id} уже возвращён; отправитель должен его исправить",
                         "{submission_id} құжаты қайтарылған; жіберуші оны түзетуі тиіс"),
    "COMMENT_REQUIRED": (422, "a return needs a comment saying what to correct",
                         "для возврата нужен комментарий: что исправить",
                         "қайтару үшін түсініктеме қажет: нені түзету керек"),
    "COMMENT_TOO_LONG": (422, "the comment is longer than {max_length} characters",
                         "комментарий длиннее {max_length} символов",
                         "түсініктеме {max_length} таңбадан ұзын"),
    "NOT_A_RECIPIENT": (403, "an organization submits; only a department (or the Ministry) reviews what it received",
                        "организация отправляет отчёты; проверяет полученное только отдел (или Министерство)",
                        "ұйым есеп жібереді; алынғанды тек бөлім (немесе Министрлік) тексереді"),
}


class ReturnBody(BaseModel):
    comment: capped_text(MAX_COMMENT, min_length=0, multiline=True,  # blank: COMMENT_REQUIRED, below
                         description=f"What the submitter must correct, 1 to {MAX_COMMENT} characters") = ""


def refusal(exc: Refused) -> ApiError:
    status, en, ru, kk = REASONS[exc.code]
    text = {k: str(v) for k, v in exc.detail.items()}
    return ApiError(status, exc.code, en.format(**text), ru.format(**text), kk.format(**text), **text)


def consumers(_rt: ServiceRuntime):
    return {
        topic_for(ParticipantUpserted): handlers.on_participant,
        topic_for(FormListApproved): handlers.on_formlist,
        topic_for(SignatureChecked): handlers.on_signature_checked,
        topic_for(SubmissionValidated): handlers.on_validated,
        topic_for(DeadlineViolation): handlers.on_violation,
        topic_for(ConsolidationDue): handlers.on_consolidation_due,
        topic_for(ConsolidationReady): handlers.on_consolidation_ready,
    }


def router(rt: ServiceRuntime) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["routing"])

    async def command(who: Principal, work):
        """Run a recipient's command in one transaction with the events it emits (outbox)."""
        if who.level == "organization":  # a school has no subordinates: nothing of its own to review
            raise refusal(Refused("NOT_A_RECIPIENT"))

        def run_it(session):
            item, events = work(session)
            for event in events:
                rt.emit(session, event)
            return item

        try:
            return await rt.in_transaction(run_it)
        except Refused as exc:
            raise refusal(exc) from None

    @api.get("/inboxes/{recipient_id}", dependencies=[Depends(READ_INBOX)])
    async def inbox(recipient_id: ParticipantId, form_code: Annotated[FormCode | None, Query()] = None,
                    period: Annotated[PeriodText | None, Query()] = None) -> dict | list[dict]:
        """What `recipient_id` received (its own officers, its departments above and the
        Ministry may read it). With `form_code` and `period`: who is expected (subordinates in
        the hierarchy in force for the period, to whom the form applies), each one's status
        (expected, delivered, accepted, reviewed, returned, rejected), late and missing flags,
        current version and history, and the recipient's own consolidation. Without them: the
        filed versions, oldest first."""
        if form_code and period:
            view = await rt.read(lambda s: views.inbox_view(s, recipient_id, form_code, period))
            if view is None:
                raise ApiError(404, "FORM_UNKNOWN", f"form {form_code} is not on the list for {period}",
                               f"формы {form_code} нет в перечне на {period}",
                               f"{form_code} нысаны {period} тізбесінде жоқ")
            return view
        return await rt.read(lambda s: views.inbox_items(s, recipient_id, form_code, period))

    @api.post("/inboxes/{recipient_id}/submissions/{submission_id}/accept")
    async def accept(recipient_id: ParticipantId, submission_id: SubmissionId,
                     who: Annotated[Principal, Depends(REVIEW)]) -> dict:
        """Mark a current submission reviewed and accepted (it was accepted on arrival; the
        recipient confirms it). Its officers, head or a department above may do it."""
        item = await command(who, lambda s: commands.review(s, recipient_id, submission_id, who.subject,
                                                            rt.clock.now()))
        return views.item_view(item)

    @api.post("/inboxes/{recipient_id}/submissions/{submission_id}/return")
    async def return_(recipient_id: ParticipantId, submission_id: SubmissionId,
                      who: Annotated[Principal, Depends(REVIEW)],
                      body: Annotated[ReturnBody | None, Body()] = None) -> dict:
        """Return a current submission for correction with a comment (required): the submitter
        reads it in its timeline and must correct. Repeating the same return changes nothing."""
        item = await command(who, lambda s: commands.return_submission(s, recipient_id, submission_id,
                                                                       body.comment if body else None,
                                                                       who.subject, rt.clock.now()))
        return views.item_view(item)

    return api


SPEC = ServiceSpec(
    name="routing",
    description="Checks the hierarchy, files submissions in the recipient's inbox, and lets the recipient "
                "accept or return them.",
    migrations=MIGRATIONS,
    consumers=consumers,
    router=router,
    hierarchy=ancestors_in(KnownParticipant),
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()

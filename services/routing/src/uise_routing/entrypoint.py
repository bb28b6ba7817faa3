"""Routing process: decides accepted/rejected, files accepted submissions in inboxes, and lets
the recipient accept or return them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel
from pydantic import Field as PydField

from uise_common import auth
from uise_common.auth import Principal
from uise_common.hierarchy import ancestors_in
from uise_common.http import ApiError, refusals
from uise_common.inputs import FormCode, ParticipantId, PeriodText, Ref, capped_text
from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import (
    ConsolidationDue,
    ConsolidationReady,
    DeadlineViolation,
    FormDefinition,
    FormListApproved,
    InfoRequestTarget,
    ParticipantUpserted,
    SignatureChecked,
    SubmissionValidated,
)
from uise_contracts.topics import topic_for
from uise_routing import commands, handlers, views
from uise_routing.adapters import MIGRATIONS, READ_MODEL, KnownParticipant
from uise_routing.domain import MAX_COMMENT, Refused
from uise_routing.inforequests import DEFAULT_RELAY_DAYS

READ_INBOX = auth.allow(auth.INBOX_READ, subtree="recipient_id")
REVIEW = auth.allow(auth.INBOX_REVIEW, subtree="recipient_id")
SubmissionId = RequestId = Ref

# code -> (status, en, ru, kk); {names} come from the refusal's detail
ISSUE = auth.allow(auth.INFOREQUESTS_WRITE)
READ_REQUESTS = auth.allow(auth.INBOX_READ)

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
    # information requests (clause 12)
    "NOT_THE_MINISTRY": (403, "only the Ministry issues information requests",
                         "запрос информации направляет только Министерство",
                         "ақпарат сұрауды тек Министрлік жібереді"),
    "REQUEST_FORM_CATEGORY": (422, "a request's form is of category 'other', not {category}",
                              "форма запроса должна быть категории 'other', а не {category}",
                              "сұрау нысанының санаты 'other' болуы тиіс, {category} емес"),
    "REQUEST_PERIOD_TYPE": (422, "a request is collected as of a date (period_type as_of_date), not {period_type}",
                            "запрос собирается на дату (period_type as_of_date), а не {period_type}",
                            "сұрау күнге жиналады (period_type as_of_date), {period_type} емес"),
    "PERIOD_INVALID": (422, "{period!r} is not a date: {why}", "{period!r} не является датой: {why}",
                       "{period!r} күн емес: {why}"),
    "DUE_AT_NAIVE": (422, "due_at needs its time zone (e.g. +05:00)",
                     "в due_at нужен часовой пояс (например, +05:00)",
                     "due_at уақыт белдеуін көрсетуі тиіс (мысалы, +05:00)"),
    "DUE_AT_PAST": (422, "due_at {due_at} is not in the future (now {now})",
                    "срок {due_at} уже прошёл (сейчас {now})",
                    "{due_at} мерзімі өтіп кетті (қазір {now})"),
    "FORM_CODE_TAKEN": (409, "form code {form_code} is on an approved list or used by another request",
                        "код формы {form_code} уже есть в утверждённом перечне или в другом запросе",
                        "{form_code} нысан коды бекітілген тізбеде немесе басқа сұрауда бар"),
    "TARGET_UNKNOWN_NODE": (422, "the target's subtree root {node_id} is not a known participant",
                            "корень целевого поддерева {node_id} не найден",
                            "мақсатты тармақтың түбірі {node_id} табылмады"),
    "TARGET_UNKNOWN_PARTICIPANT": (422, "participant {participant_id} is not known",
                                   "участник {participant_id} не найден",
                                   "{participant_id} қатысушысы табылмады"),
    "TARGET_NOT_ACTIVE": (422, "participant {participant_id} is not active on {day} (or is the Ministry)",
                          "участник {participant_id} не действует на {day} (или это Министерство)",
                          "{participant_id} қатысушысы {day} күні жұмыс істемейді (немесе бұл Министрлік)"),
    "TARGET_EMPTY": (422, "the target concerns nobody active on {day}",
                     "цель запроса не охватывает ни одного действующего участника на {day}",
                     "сұрау мақсаты {day} күні бірде-бір жұмыс істейтін қатысушыны қамтымайды"),
    "TARGET_UNREACHABLE": (422, "participant {participant_id} has no path up to the Ministry",
                           "у участника {participant_id} нет пути до Министерства",
                           "{participant_id} қатысушысынан Министрлікке дейін жол жоқ"),
    "REQUEST_UNKNOWN": (404, "no information request {request_id} concerns you",
                        "запрос информации {request_id} вас не касается или не существует",
                        "{request_id} ақпарат сұрауы сізге қатысты емес немесе жоқ"),
}


class IssueBody(BaseModel):
    """An information request (clause 12)."""

    title: capped_text(500, description="What the Ministry asks, in a line")
    form: FormDefinition = PydField(description="The ad-hoc form: category `other`, period_type `as_of_date`")
    period: str = PydField(max_length=10, description="The as-of date the answers are for, e.g. 2036-02-01")
    target: InfoRequestTarget = PydField(description="Who must answer")
    due_at: datetime = PydField(description="The targets' deadline (with its time zone)")
    relay_days: int = PydField(default=DEFAULT_RELAY_DAYS, ge=0, le=60,
                               description="Days more for each level above the targets")


class ReturnBody(BaseModel):
    comment: capped_text(MAX_COMMENT, min_length=0, multiline=True,  # blank: COMMENT_REQUIRED, below
                         description=f"What the submitter must correct, 1 to {MAX_COMMENT} characters") = ""


def refused(*codes: str) -> dict[int, dict]:
    """A route's refusals (OpenAPI responses) by reason code."""
    return refusals({code: reason[0] for code, reason in REASONS.items()} | {"FORM_UNKNOWN": 404}, *codes)


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

    @api.get("/inboxes/{recipient_id}", dependencies=[Depends(READ_INBOX)], responses=refused("FORM_UNKNOWN"))
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

    @api.post("/inboxes/{recipient_id}/submissions/{submission_id}/accept", responses=refused(
        "NOT_A_RECIPIENT", "SUBMISSION_NOT_IN_INBOX", "NOT_CURRENT", "ALREADY_RETURNED"))
    async def accept(recipient_id: ParticipantId, submission_id: SubmissionId,
                     who: Annotated[Principal, Depends(REVIEW)]) -> dict:
        """Mark a current submission reviewed and accepted (it was accepted on arrival; the
        recipient confirms it). Its officers, head or a department above may do it."""
        item = await command(who, lambda s: commands.review(s, recipient_id, submission_id, who.subject,
                                                            rt.clock.now()))
        return views.item_view(item)

    @api.post("/inboxes/{recipient_id}/submissions/{submission_id}/return", responses=refused(
        "NOT_A_RECIPIENT", "SUBMISSION_NOT_IN_INBOX", "NOT_CURRENT", "ALREADY_RETURNED", "COMMENT_REQUIRED",
        "COMMENT_TOO_LONG"))
    async def return_(recipient_id: ParticipantId, submission_id: SubmissionId,
                      who: Annotated[Principal, Depends(REVIEW)],
                      body: Annotated[ReturnBody | None, Body()] = None) -> dict:
        """Return a current submission for correction with a comment (required): the submitter
        reads it in its timeline and must correct. Repeating the same return changes nothing."""
        item = await command(who, lambda s: commands.return_submission(s, recipient_id, submission_id,
                                                                       body.comment if body else None,
                                                                       who.subject, rt.clock.now()))
        return views.item_view(item)

    @api.post("/inforequests", status_code=201, responses=refused(
        "NOT_THE_MINISTRY", "FORM_CODE_TAKEN", "REQUEST_FORM_CATEGORY", "REQUEST_PERIOD_TYPE", "PERIOD_INVALID",
        "DUE_AT_NAIVE", "DUE_AT_PAST", "TARGET_UNKNOWN_NODE", "TARGET_UNKNOWN_PARTICIPANT", "TARGET_NOT_ACTIVE",
        "TARGET_EMPTY", "TARGET_UNREACHABLE"))
    async def issue(body: IssueBody, who: Annotated[Principal, Depends(ISSUE)]) -> dict:
        """Issue an information request (clause 12; the Ministry's people or the data office): the
        targets it resolves to on the as-of date, and every department on their paths up to the
        Ministry (relays, which consolidate and submit up), each get `inforequest.issued` with its
        own deadline: `due_at` for the targets, `relay_days` more for each level above."""
        if not who.national:
            raise refusal(Refused("NOT_THE_MINISTRY"))

        def run_it(session):
            request, events = commands.issue_request(
                session, title=body.title, form=body.form, period_text=body.period, target=body.target,
                due_at=body.due_at, relay_days=body.relay_days, issued_by=who.subject,
                issuer_id=who.participant_id, now=rt.clock.now())
            for event in events:
                rt.emit(session, event)
            return views.request_view(session, request.request_id, None)

        try:
            return await rt.in_transaction(run_it)
        except Refused as exc:
            raise refusal(exc) from None

    @api.get("/inforequests")
    async def requests(who: Annotated[Principal, Depends(READ_REQUESTS)]) -> list[dict]:
        """The requests concerning the caller's participant (it answers or relays them); the
        Ministry and national roles see every request."""
        return await rt.read(lambda s: views.requests_for(s, None if who.national else who.participant_id))

    @api.get("/inforequests/{request_id}", responses=refused("REQUEST_UNKNOWN"))
    async def request(request_id: RequestId, who: Annotated[Principal, Depends(READ_REQUESTS)]) -> dict:
        """The request and, for the caller's subtree (national: everyone asked), each member's
        status (expected, delivered, accepted, returned, rejected, missing; late) and counts:
        whom to chase."""
        root = None if who.national else who.participant_id
        view = await rt.read(lambda s: views.request_view(s, request_id, root))
        if view is None:
            raise refusal(Refused("REQUEST_UNKNOWN", request_id=request_id))
        return view

    return api


SPEC = ServiceSpec(
    name="routing",
    description="Checks the hierarchy, files submissions in the recipient's inbox, and lets the recipient "
                "accept or return them.",
    migrations=MIGRATIONS,
    read_model=READ_MODEL,
    consumers=consumers,
    router=router,
    hierarchy=ancestors_in(KnownParticipant),
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()

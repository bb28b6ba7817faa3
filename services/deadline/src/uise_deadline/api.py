"""Deadline's HTTP API: the calendar (public to read; the data office enters decrees), effective
deadlines (public, as the list of forms is), and a node's completeness and timeliness."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from uise_common import auth
from uise_common.auth import Principal
from uise_common.http import ApiError, refusals
from uise_common.inputs import Comment, Day, FormCode, Label, ParticipantId, PeriodText, Year
from uise_common.service import ServiceRuntime
from uise_contracts.events import Level
from uise_deadline import handlers, views
from uise_deadline.handlers import Refused, Schedule

PUBLIC = [Depends(auth.public("the calendar and the deadlines of the approved list are public (Rules, clauses 7, 11)"))]
CALENDAR_WRITE = auth.allow(auth.CALENDAR_WRITE)
NODE = auth.allow(auth.REPORTS_READ, subtree="node_id")

REASONS = {
    "DEADLINE_WOULD_SHORTEN": (409, "this entry would bring a published deadline earlier ({form_code} {period}, "
                                    "{level}: {deadline_at} → {would_be}); a calendar change may only extend one",
                               "запись сократила бы опубликованный срок ({form_code} {period}, {level}: {deadline_at} → "
                               "{would_be}); изменение календаря может срок только продлить",
                               "жазба жарияланған мерзімді қысқартар еді ({form_code} {period}, {level}: {deadline_at} → "
                               "{would_be}); күнтізбе өзгерісі мерзімді тек ұзарта алады"),
    "CALENDAR_DAY_TAKEN": (409, "{day} already has an operator's entry: withdraw it first",
                           "на {day} уже есть запись оператора: сначала отзовите её",
                           "{day} күніне оператор жазбасы бар: алдымен оны кері қайтарыңыз"),
    "CALENDAR_ENTRY_UNKNOWN": (404, "no entry {entry_id} in force", "нет действующей записи {entry_id}",
                               "{entry_id} қолданыстағы жазба жоқ"),
}


def refused(*codes: str) -> dict[int, dict]:
    """A route's refusals (OpenAPI responses) by reason code."""
    return refusals({code: reason[0] for code, reason in REASONS.items()} | {"NODE_UNKNOWN": 404}, *codes)


class Entry(BaseModel):
    day: Day
    kind: Literal["day_off", "working_day"]
    decree: Label
    note: Comment | None = None


def refusal(exc: Refused) -> ApiError:
    status, en, ru, kk = REASONS[exc.code]
    text = {k: str(v) for k, v in exc.detail.items()}
    return ApiError(status, exc.code, en.format(**text), ru.format(**text), kk.format(**text), **text)


def router(rt: ServiceRuntime, schedule: Schedule) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["deadline"])

    async def command(work):
        def run(session):
            result, events = work(session)
            for event in events:
                rt.emit(session, event)
            return result, events

        try:
            return await rt.in_transaction(run)
        except Refused as exc:
            raise refusal(exc) from None

    @api.get("/calendar/{year}", dependencies=PUBLIC)
    async def calendar(year: Annotated[Year, Path()]) -> dict:
        """The year's days off (public holidays and their moves) and transfers, from the law as the
        `holidays` package knows it and the decrees an operator entered."""
        return await rt.read(lambda s: views.calendar_year(s, year))

    @api.post("/calendar/entries", status_code=201, responses=refused("DEADLINE_WOULD_SHORTEN", "CALENDAR_DAY_TAKEN"))
    async def add_entry(body: Entry, who: Annotated[Principal, Depends(CALENDAR_WRITE)]) -> dict:
        """A decree's day: a day made a day off, or a weekend day made a working day. Published
        deadlines it touches move later and are announced; one it would bring earlier refuses it."""
        entry, events = await command(lambda s: handlers.add_calendar_entry(
            s, body.day, body.kind, body.decree, body.note, who.label, schedule))
        return {**views.entry_view(entry), "deadlines_moved": len(events)}

    @api.delete("/calendar/entries/{entry_id}", responses=refused("CALENDAR_ENTRY_UNKNOWN", "DEADLINE_WOULD_SHORTEN"))
    async def withdraw_entry(entry_id: Annotated[int, Path(ge=1, le=2**31)],
                             who: Annotated[Principal, Depends(CALENDAR_WRITE)]) -> dict:
        """Withdraw an entry (kept, with who withdrew it); refused if that would shorten a deadline."""
        entry, events = await command(lambda s: handlers.withdraw_calendar_entry(s, entry_id, who.label, schedule))
        return {**views.entry_view(entry), "deadlines_moved": len(events)}

    @api.get("/deadlines", dependencies=PUBLIC)
    async def deadlines(form_code: Annotated[FormCode | None, Query()] = None,
                        period: Annotated[PeriodText | None, Query()] = None, level: Level | None = None,
                        year: Annotated[Year | None, Query()] = None,
                        limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict]:
        """Effective deadlines (Asia/Almaty), each with the rule's date it rests on."""
        return await rt.read(lambda s: views.deadlines(s, form_code, period, level.value if level else None, year,
                                                       limit))

    @api.get("/nodes/{node_id}/timeliness", responses=refused("NODE_UNKNOWN"))
    async def node_timeliness(node_id: ParticipantId, form_code: Annotated[FormCode, Query()],
                              period: Annotated[PeriodText, Query()],
                              _who: Annotated[Principal, Depends(NODE)]) -> dict:
        """Whom the node expects the form from, who delivered on time or late, who is missing,
        and the two rates (delivered / expected, on time / expected)."""
        found = await rt.read(lambda s: views.node_timeliness(s, node_id, form_code, period))
        if found is None:
            raise ApiError(404, "NODE_UNKNOWN", f"{node_id} has no subordinates this form applies to",
                           f"у {node_id} нет подчинённых, к которым относится форма",
                           f"{node_id} үшін бұл нысан қатысты бағыныстылар жоқ")
        return found

    @api.get("/nodes/{node_id}/consolidation", responses=refused("NODE_UNKNOWN"))
    async def node_consolidation(node_id: ParticipantId, form_code: Annotated[FormCode, Query()],
                                 period: Annotated[PeriodText, Query()],
                                 _who: Annotated[Principal, Depends(NODE)]) -> dict:
        """What the node's consolidation counts now (by the hierarchy in force for the period):
        its expected subordinates, those included (with the accepted submission that counts),
        late, missing and returned; and the last `consolidation.due` it was sent (`seq`, reason)."""
        found = await rt.read(lambda s: views.node_consolidation(s, node_id, form_code, period))
        if found is None:
            raise ApiError(404, "NODE_UNKNOWN", f"{node_id} has no subordinates this form applies to",
                           f"у {node_id} нет подчинённых, к которым относится форма",
                           f"{node_id} үшін бұл нысан қатысты бағыныстылар жоқ")
        return found

    return api

"""The officers' pages (district, region and Ministry staff; docs/portal.md): the campaign board
of their node with drill-down, the inbox (accept, return with a comment), the node's consolidated
document (review, sign through NCALayer, submit up), whom to chase, and information requests.

Everything comes from the services' APIs with the person's own token; each service checks the
subtree itself, so a page never shows more than the person may read."""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from uise_common.inputs import FormCode, ParticipantId, PeriodText, Version
from uise_portal import web
from uise_portal.backend import ServiceError
from uise_portal.pages import boards, office
from uise_portal.pages.office import maybe, query
from uise_portal.session import PortalSession

router = APIRouter()
web.TEMPLATES.env.filters.setdefault("percent", boards.percent)
web.TEMPLATES.env.filters.setdefault("when", boards.when)
Session = Annotated[PortalSession, Depends(web.signed_in)]
OptForm = Annotated[FormCode | None, Query()]
OptPeriod = Annotated[PeriodText | None, Query()]
SubmissionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
ALMATY = ZoneInfo("Asia/Almaty")
ORGANIZATION_KINDS = ("school", "college", "university", "preschool", "other")


# --- the campaign board -----------------------------------------------------------------------------


def summary_bars(t, counts: boards.Counts, inbox: dict) -> list[boards.Bar]:
    """The node's subordinates by where their submissions stand (a bar each), out of the expected."""
    on_way = sum(1 for p in inbox.get("participants", []) if p.get("expected") and p.get("status") == "delivered")
    nothing = sum(1 for p in inbox.get("participants", [])
                  if p.get("expected") and p.get("status") in ("expected", "rejected") and not p.get("missing"))
    items = [("o.chart.accepted", counts.accepted, "ok"), ("o.chart.on_way", on_way, ""),
             ("o.chart.returned", counts.returned, "warn"), ("o.chart.late", counts.late, "warn"),
             ("o.chart.missing", counts.missing, "bad"), ("o.chart.nothing_yet", nothing, "muted")]
    return boards.bars([boards.Bar(t(key), Decimal(n), str(n), tone) for key, n, tone in items],
                       top=Decimal(counts.expected) if counts.expected else None)


def rate_bars(rows: list[boards.Row], form_code: str, period: str) -> list[boards.Bar]:
    out = []
    for r in rows:
        if r.expected and r.is_department:
            rate = r.counts.reporting_rate or Decimal(0)
            out.append(boards.Bar(r.name, rate, f"{boards.percent(rate)}%", "ok" if rate == 1 else "",
                                  f"/board?{query(form_code=form_code, period=period, node=r.participant_id)}"))
    return boards.bars(out, top=Decimal(1))


@router.get("/board")
async def board(request: Request, session: Session, form_code: OptForm = None, period: OptPeriod = None,
                node: Annotated[ParticipantId | None, Query()] = None):
    office.department_only(session)
    t = web.translator(request)
    node = node or session.participant_id
    pick = await office.picker(request, session, form_code, period)
    if not (form_code and period):
        return web.render(request, "officer/board.html", pick=pick, view=None)
    inbox, timeliness, completeness, names, here = await asyncio.gather(
        web.call(request, session, "routing", "GET", f"/v1/inboxes/{node}",
                 params={"form_code": form_code, "period": period}),
        maybe(request, session, "deadline", "GET", f"/v1/nodes/{node}/timeliness",
              params={"form_code": form_code, "period": period}),
        maybe(request, session, "reporting", "GET", f"/v1/analytics/{form_code}/{period}/completeness",
              params={"node_id": node, "limit": 500}),
        office.names_below(request, session, node),
        office.participant(request, session, node))
    rows = boards.board_rows(inbox, completeness, names)
    counts = boards.totals(inbox)
    reporting_rate = (timeliness or {}).get("reporting_rate", counts.reporting_rate)
    on_time_rate = (timeliness or {}).get("reporting_rate_on_time", counts.on_time_rate)
    return web.render(request, "officer/board.html", pick=pick, form_code=form_code, period=period, node=node,
                      here=here, here_name=office.name_of(here, t.lang) or node,
                      trail=await office.path_to(request, session, here), name_of=office.name_of,
                      view=inbox, rows=rows, counts=counts, timeliness=timeliness,
                      reporting_rate=boards.percent(reporting_rate), on_time_rate=boards.percent(on_time_rate),
                      summary=summary_bars(t, counts, inbox), rates=rate_bars(rows, form_code, period),
                      own=node == session.participant_id, query=query, label=lambda p, v: office.label(t, p, v))


@router.get("/board/participant")
async def board_participant(request: Request, session: Session, participant_id: Annotated[ParticipantId, Query()],
                            form_code: OptForm = None, period: OptPeriod = None):
    """Drill-down to an organization: its submissions of the form and period (every version)."""
    office.department_only(session)
    t = web.translator(request)
    found, who = await asyncio.gather(
        web.call(request, session, "intake", "GET", "/v1/submissions",
                 params={"participant_id": participant_id, "form_code": form_code, "period": period, "limit": 100}),
        office.participant(request, session, participant_id))
    return web.render(request, "officer/participant.html", who=who, name=office.name_of(who, t.lang) or participant_id,
                      participant_id=participant_id, form_code=form_code, period=period,
                      items=found.get("items", []), query=query, label=lambda p, v: office.label(t, p, v))


# --- the inbox -----------------------------------------------------------------------------------------


@router.get("/inbox")
async def inbox(request: Request, session: Session, form_code: OptForm = None, period: OptPeriod = None,
                done: Annotated[str | None, Query(pattern="^(accepted|returned)$")] = None,
                who: Annotated[ParticipantId | None, Query()] = None):
    office.department_only(session)
    t = web.translator(request)
    node = session.participant_id
    pick = await office.picker(request, session, form_code, period)
    names = await office.names_below(request, session, node)
    common = dict(pick=pick, form_code=form_code, period=period, node=node, names=names, done=done,
                  done_name=names.get(who or "", who), query=query, label=lambda p, v: office.label(t, p, v))
    if form_code and period:
        view = await web.call(request, session, "routing", "GET", f"/v1/inboxes/{node}",
                              params={"form_code": form_code, "period": period})
        return web.render(request, "officer/inbox.html", rows=boards.board_rows(view, None, names), items=None,
                          **common)
    items = await web.call(request, session, "routing", "GET", f"/v1/inboxes/{node}") or []
    return web.render(request, "officer/inbox.html", rows=None, items=list(reversed(items))[:200], **common)


@router.get("/inbox/submissions/{submission_id}")
async def submission(request: Request, session: Session, submission_id: SubmissionId):
    office.department_only(session)
    t = web.translator(request)
    sub = await web.call(request, session, "intake", "GET", f"/v1/submissions/{submission_id}")
    recipient = sub.get("recipient_id")
    # the recipient's own record of it (routing): reviewed or returned, with the comment, at once
    # (intake's timeline hears of a return a moment later, through the event)
    view, who = await asyncio.gather(
        maybe(request, session, "routing", "GET", f"/v1/inboxes/{recipient}", missing=(403, 404),
              params={"form_code": sub["form_code"], "period": sub["period"]}) if recipient else asyncio.sleep(0),
        office.participant(request, session, sub["participant_id"]))
    filed = next((h for p in (view or {}).get("participants", []) for h in p.get("history", [])
                  if h.get("submission_id") == submission_id), None)
    back = f"/inbox?{query(form_code=sub['form_code'], period=sub['period'])}"
    return web.render(request, "officer/submission.html", sub=sub, who=who, filed=filed,
                      name=office.name_of(who, t.lang) or sub["participant_id"],
                      may_accept=bool(filed) and filed["state"] == "accepted" and not filed.get("superseded_by"),
                      may_return=bool(filed) and filed["state"] in ("accepted", "reviewed")
                      and not filed.get("superseded_by"), back=back, query=query,
                      label=lambda p, v: office.label(t, p, v))


@router.get("/inbox/submissions/{submission_id}/document")
async def submission_document(request: Request, session: Session, submission_id: SubmissionId):
    office.department_only(session)
    sub = await web.call(request, session, "intake", "GET", f"/v1/submissions/{submission_id}")
    ext = {"application/json": "json", "text/csv": "csv"}.get(sub.get("media_type", "").split(";")[0], "xlsx")
    return await office.download(request, session, "intake", f"/v1/submissions/{submission_id}/document",
                                 f"{sub['participant_id']}-{sub['form_code']}-{sub['period']}.{ext}")


def _after(back: str, done: str, who: str) -> RedirectResponse:
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}{query(done=done, who=who)}", status_code=303)


@router.post("/inbox/submissions/{submission_id}/accept")
async def accept(request: Request, session: Session, submission_id: SubmissionId,
                 recipient_id: Annotated[ParticipantId, Form()], participant_id: Annotated[ParticipantId, Form()],
                 back: Annotated[str, Form(max_length=500)] = "/inbox"):
    office.department_only(session)
    await web.call(request, session, "routing", "POST",
                   f"/v1/inboxes/{recipient_id}/submissions/{submission_id}/accept")
    return _after(office.safe_back(back, "/inbox"), "accepted", participant_id)


@router.post("/inbox/submissions/{submission_id}/return")
async def return_(request: Request, session: Session, submission_id: SubmissionId,
                  recipient_id: Annotated[ParticipantId, Form()], participant_id: Annotated[ParticipantId, Form()],
                  comment: Annotated[str, Form(max_length=4000)] = "",
                  back: Annotated[str, Form(max_length=500)] = "/inbox"):
    """Return with a comment; routing refuses a blank one (COMMENT_REQUIRED, in the page's
    language on the error page)."""
    office.department_only(session)
    await web.call(request, session, "routing", "POST",
                   f"/v1/inboxes/{recipient_id}/submissions/{submission_id}/return", json={"comment": comment})
    return _after(office.safe_back(back, "/inbox"), "returned", participant_id)


# --- whom to chase ----------------------------------------------------------------------------------------


@router.get("/reminders")
async def reminders(request: Request, session: Session, form_code: OptForm = None, period: OptPeriod = None):
    """Who is missing, late, returned, refused or silent, with whom to call: the head the registry
    records and the staff the head named (the registry keeps no telephone numbers)."""
    office.department_only(session)
    t = web.translator(request)
    node = session.participant_id
    pick = await office.picker(request, session, form_code, period)
    if not (form_code and period):
        return web.render(request, "officer/reminders.html", pick=pick, chase=None)
    view, timeliness = await asyncio.gather(
        web.call(request, session, "routing", "GET", f"/v1/inboxes/{node}",
                 params={"form_code": form_code, "period": period}),
        maybe(request, session, "deadline", "GET", f"/v1/nodes/{node}/timeliness",
              params={"form_code": form_code, "period": period}))
    chase = boards.to_chase(view)[:300]
    people = await asyncio.gather(*(office.participant(request, session, c["participant_id"]) for c in chase))
    staff = await asyncio.gather(*(maybe(request, session, "registry", "GET",
                                         f"/v1/participants/{c['participant_id']}/staff", missing=(403, 404))
                                   for c in chase))
    for entry, who, named in zip(chase, people, staff, strict=True):
        entry["name"] = office.name_of(who, t.lang) or entry["participant_id"]
        entry["head_name"] = (who or {}).get("head_name")
        entry["staff"] = [s for s in (named or {}).get("staff", []) if s.get("role") in ("accountant", "officer")]
    return web.render(request, "officer/reminders.html", pick=pick, chase=chase, form_code=form_code, period=period,
                      timeliness=timeliness, query=query, label=lambda p, v: office.label(t, p, v))


# --- the node's consolidated document: review, sign, submit up -------------------------------------------


@router.get("/consolidation")
async def consolidation(request: Request, session: Session, form_code: OptForm = None, period: OptPeriod = None,
                        submitted: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9-]+$")] = None):
    office.department_only(session)
    t = web.translator(request)
    node = session.participant_id
    pick = await office.picker(request, session, form_code, period)
    if not (form_code and period):
        return web.render(request, "officer/consolidation.html", pick=pick, meta=None, state=None, chosen=False)
    year = boards.year_of(period)
    meta, versions, state, form, names = await asyncio.gather(
        maybe(request, session, "reporting", "GET", f"/v1/consolidations/{node}/{form_code}/{period}"),
        web.call(request, session, "reporting", "GET", "/v1/consolidations",
                 params={"node_id": node, "form_code": form_code, "period": period}),
        maybe(request, session, "deadline", "GET", f"/v1/nodes/{node}/consolidation",
              params={"form_code": form_code, "period": period}),
        maybe(request, session, "registry", "GET", f"/v1/forms/{form_code}", params={"year": year}),
        office.names_below(request, session, node))
    own_id = submitted or (state or {}).get("own_submission_id")
    own = await maybe(request, session, "intake", "GET", f"/v1/submissions/{own_id}") if own_id else None
    titles = {c["code"]: c.get("title", "") for c in (form or {}).get("fields", [])}
    return web.render(request, "officer/consolidation.html", pick=pick, chosen=True, form_code=form_code,
                      period=period, node=node, meta=meta, versions=list(reversed(versions or [])), state=state,
                      own=own, titles=titles, names=names, query=query, label=lambda p, v: office.label(t, p, v))


@router.get("/consolidation/document.{fmt}")
async def consolidation_document(request: Request, session: Session, fmt: Annotated[str, Path(pattern="^(json|xlsx)$")],
                                 form_code: Annotated[FormCode, Query()], period: Annotated[PeriodText, Query()],
                                 version: Annotated[Version, Query()]):
    """The exact bytes reporting stored: what the browser has NCALayer sign (JSON) or the
    person reads (XLSX)."""
    office.department_only(session)
    node = session.participant_id
    return await office.download(request, session, "reporting",
                                 f"/v1/consolidations/{node}/{form_code}/{period}/document.{fmt}",
                                 f"{node}-{form_code}-{period}-v{version}.{fmt}", params={"version": version})


class SignedConsolidation(BaseModel):
    form_code: FormCode
    period: PeriodText
    version: Version
    signature: str = Field(min_length=16, max_length=400_000, description="base64 CMS, detached, from NCALayer")


@router.post("/consolidation/submit")
async def submit_consolidation(request: Request, session: Session, signed: SignedConsolidation) -> JSONResponse:
    """Submit the node's consolidated JSON (version as signed) up through intake, with the
    detached CMS NCALayer made over exactly those bytes. The portal fetches the bytes again from
    reporting (content-addressed, so they are the ones the browser signed); the signature service
    then checks the digest, the certificate and that the signer is the head."""
    office.department_only(session)
    t = web.translator(request)
    try:
        der = base64.b64decode(signed.signature, validate=True)
    except (binascii.Error, ValueError):
        return JSONResponse({"code": "SIGNATURE_NOT_BASE64", "message": t("o.cons.bad_signature")}, status_code=422)
    node = session.participant_id
    document = await web.backend(request).request(
        "reporting", "GET", f"/v1/consolidations/{node}/{signed.form_code}/{signed.period}/document.json",
        session.access_token, params={"version": signed.version})
    receipt = await web.call(request, session, "intake", "POST", "/v1/submissions",
                             data={"form_code": signed.form_code, "period": signed.period},
                             files={"document": (f"{node}-{signed.form_code}-{signed.period}-v{signed.version}.json",
                                                 document.content, "application/json"),
                                    "signature": (f"{node}-{signed.form_code}-{signed.period}.p7s", der,
                                                  "application/pkcs7-signature")})
    sid = receipt["submission_id"]
    return JSONResponse({"submission_id": sid, "status_url": f"/consolidation/status/{sid}",
                         "redirect": f"/consolidation?{query(form_code=signed.form_code, period=signed.period, submitted=sid)}"},
                        status_code=202)


@router.get("/consolidation/status/{submission_id}")
async def consolidation_status(request: Request, session: Session, submission_id: SubmissionId) -> JSONResponse:
    """Where the submitted consolidation stands (the page polls it while it goes through the
    signature check, validation and routing)."""
    t = web.translator(request)
    sub = await web.call(request, session, "intake", "GET", f"/v1/submissions/{submission_id}")
    return JSONResponse({"status": sub["status"], "final": sub["final"], "reason_code": sub.get("reason_code"),
                         "text": office.label(t, "o.status.", sub["status"])})


# --- information requests -----------------------------------------------------------------------------


def may_issue(session: PortalSession) -> bool:
    return session.level == "ministry" or session.role == "data_office"


@router.get("/inforequests")
async def inforequests(request: Request, session: Session):
    office.department_only(session)
    found = await web.call(request, session, "routing", "GET", "/v1/inforequests") or []
    return web.render(request, "officer/inforequests.html", requests=list(reversed(found)), may_issue=may_issue(session))


def _issue_defaults() -> dict:
    now = office.business_now()
    return {"title": "", "code": "", "title_kk": "", "title_ru": "", "title_en": "", "fields": "",
            "period": now.date().isoformat(), "kinds": ["school"], "levels": [], "within": "", "participants": "",
            "due_date": (now.date() + timedelta(days=10)).isoformat(), "due_time": "18:00",
            "relay_days": 3}


@router.get("/inforequests/new")
async def new_inforequest(request: Request, session: Session):
    office.department_only(session)
    if not may_issue(session):
        raise HTTPException(403)
    return web.render(request, "officer/inforequest_new.html", values=_issue_defaults(), error=None,
                      kinds=ORGANIZATION_KINDS)


def parse_fields(text: str) -> list[dict]:
    """One cell a line, `code; title` (a title may be left out: the code stands for it)."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        code, _, title = line.partition(";")
        out.append({"code": code.strip(), "title": title.strip() or code.strip()})
    return out


@router.post("/inforequests")
async def issue_inforequest(request: Request, session: Session):
    office.department_only(session)
    if not may_issue(session):
        raise HTTPException(403)
    t = web.translator(request)
    raw = await request.form()
    values = {**_issue_defaults(), **{k: str(raw.get(k, "")).strip() for k in (
        "title", "code", "title_kk", "title_ru", "title_en", "fields", "period", "within", "participants",
        "due_date", "due_time", "relay_days")},
        "kinds": [k for k in raw.getlist("kinds") if k in ORGANIZATION_KINDS],
        "levels": [lv for lv in raw.getlist("levels") if lv in ("district", "region")]}
    try:
        due_at = datetime.fromisoformat(f"{values['due_date']}T{values['due_time']}").replace(tzinfo=ALMATY)
        relay_days = int(values["relay_days"] or 3)
    except ValueError:
        return web.render(request, "officer/inforequest_new.html", status_code=422, values=values,
                          error=t("o.ir.bad_due"), kinds=ORGANIZATION_KINDS)
    target = {"kinds": values["kinds"], "levels": values["levels"],
              "participant_ids": [p for p in values["participants"].replace(",", " ").split() if p]}
    if values["within"]:
        target["within"] = values["within"]
    title = values["title"]
    body = {"title": title, "period": values["period"], "due_at": due_at.isoformat(), "relay_days": relay_days,
            "target": target,
            "form": {"code": values["code"], "title_kk": values["title_kk"] or title,
                     "title_ru": values["title_ru"] or title, "title_en": values["title_en"] or title,
                     "category": "other", "period_type": "as_of_date", "respondent_kinds": values["kinds"],
                     "deadline_days": {}, "fields": parse_fields(values["fields"])}}
    try:
        made = await web.call(request, session, "routing", "POST", "/v1/inforequests", json=body)
    except ServiceError as exc:
        if exc.status >= 500:
            raise
        return web.render(request, "officer/inforequest_new.html", status_code=exc.status, values=values,
                          error=exc.message(t.lang), kinds=ORGANIZATION_KINDS)
    return RedirectResponse(f"/inforequests/{made['request_id']}", status_code=303)


@router.get("/inforequests/{request_id}")
async def inforequest(request: Request, session: Session,
                      request_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]):
    office.department_only(session)
    t = web.translator(request)
    view = await web.call(request, session, "routing", "GET", f"/v1/inforequests/{request_id}")
    parents = sorted({p["parent_id"] for p in view.get("participants", []) if p.get("parent_id")})
    names: dict[str, str] = {}
    if len(parents) <= 30:  # a national request's schools are many: their names only within reach
        for found in await asyncio.gather(*(office.names_below(request, session, p) for p in parents)):
            names.update(found)
    me = await office.participant(request, session, session.participant_id)
    names.setdefault(session.participant_id, office.name_of(me, t.lang))
    return web.render(request, "officer/inforequest.html", req=view, names=names, query=query,
                      label=lambda p, v: office.label(t, p, v))


def _tx(kk: str, ru: str, en: str) -> dict[str, str]:
    return {"kk": kk, "ru": ru, "en": en}


# Texts of these pages: key -> {kk, ru, en} (merged into uise_portal.messages.MESSAGES).
TEXTS: dict[str, dict[str, str]] = {
    # --- choosing a form and period; common ---------------------------------------------------
    "o.pick.form": _tx("Нысан", "Форма", "Form"),
    "o.pick.period": _tx("Кезең", "Период", "Period"),
    "o.pick.show": _tx("Көрсету", "Показать", "Show"),
    "o.pick.no_forms": _tx("Бекітілген нысандар жоқ", "Нет утверждённых форм", "No approved forms"),
    "o.print": _tx("Басып шығару", "Печать", "Print"),
    # --- the board --------------------------------------------------------------------------------
    "o.board.title": _tx("Науқан тақтасы", "Ход кампании", "Campaign board"),
    "o.board.choose": _tx("Нысан мен кезеңді таңдаңыз.", "Выберите форму и период.", "Choose a form and a period."),
    "o.board.trail": _tx("Жол", "Путь", "Path"),
    "o.board.deadline": _tx("Бағыныстылардың мерзімі: {deadline}", "Срок для подчинённых: {deadline}",
                          "Subordinates' deadline: {deadline}"),
    "o.board.to_inbox": _tx("Кіріс", "Входящие", "Inbox"),
    "o.board.to_reminders": _tx("Кімге еске салу керек", "Кому напомнить", "Whom to remind"),
    "o.board.to_consolidation": _tx("Жиынтық құжат", "Сводный документ", "Consolidated document"),
    "o.board.consolidated": _tx("Жиынтық құжаттың {version}-нұсқасы дайын.", "Сводный документ готов: версия {version}.",
                              "The consolidated document is ready: version {version}."),
    "o.board.not_expected": _tx("күтілмеген", "не ожидается", "not expected"),
    "o.board.open_submission": _tx("Тапсырылымды ашу", "Открыть представление", "Open the submission"),
    "o.board.comment": _tx("Түсініктеме: {comment}", "Комментарий: {comment}", "Comment: {comment}"),
    "o.board.nobody": _tx("Бұл нысан мен кезең бойынша ешкім күтілмейді.", "По этой форме и периоду никто не ожидается.",
                        "Nobody is expected for this form and period."),
    # --- columns ------------------------------------------------------------------------------------
    "o.col.subordinate": _tx("Бағынысты ұйым", "Подчинённая организация", "Subordinate"),
    "o.col.status": _tx("Күйі", "Статус", "Status"),
    "o.col.expected": _tx("Күтілді", "Ожидалось", "Expected"),
    "o.col.delivered": _tx("Тапсырды", "Представили", "Delivered"),
    "o.col.accepted": _tx("Қабылданды", "Принято", "Accepted"),
    "o.col.returned": _tx("Қайтарылды", "Возвращено", "Returned"),
    "o.col.late": _tx("Кешікті", "С опозданием", "Late"),
    "o.col.missing": _tx("Тапсырмады", "Не представили", "Missing"),
    "o.col.reporting_rate": _tx("Тапсыру деңгейі", "Уровень представления", "Reporting rate"),
    "o.col.on_time_rate": _tx("Уақтылы тапсыру", "Своевременность", "On-time rate"),
    "o.col.actions": _tx("Әрекеттер", "Действия", "Actions"),
    "o.col.versions": _tx("Нұсқалар", "Версии", "Versions"),
    "o.col.filed_at": _tx("Түсті", "Поступило", "Filed"),
    "o.col.form": _tx("Нысан", "Форма", "Form"),
    "o.col.period": _tx("Кезең", "Период", "Period"),
    "o.col.channel": _tx("Арна", "Канал", "Channel"),
    "o.col.delivered_at": _tx("Тапсырылған уақыты", "Время представления", "Delivered at"),
    "o.col.cell": _tx("Ұяшық", "Ячейка", "Cell"),
    "o.col.title": _tx("Атауы", "Наименование", "Title"),
    "o.col.figure": _tx("Мәні", "Значение", "Figure"),
    # --- the chart ----------------------------------------------------------------------------------
    "o.chart.title": _tx("Бағыныстылар: {expected} күтілді", "Подчинённые: ожидается {expected}",
                       "Subordinates: {expected} expected"),
    "o.chart.rates": _tx("Бағыныстылар бойынша тапсыру деңгейі", "Уровень представления по подчинённым",
                       "Reporting rate by subordinate"),
    "o.chart.accepted": _tx("Қабылданды", "Принято", "Accepted"),
    "o.chart.on_way": _tx("Тексерілуде", "На проверке", "Being checked"),
    "o.chart.returned": _tx("Қайтарылды", "Возвращено", "Returned"),
    "o.chart.late": _tx("Кешікті", "С опозданием", "Late"),
    "o.chart.missing": _tx("Тапсырмады", "Не представили", "Missing"),
    "o.chart.nothing_yet": _tx("Әлі тапсырмады", "Ещё не представили", "Nothing yet"),
    # --- statuses, flags, steps ---------------------------------------------------------------------------
    "o.status.expected": _tx("Күтілуде", "Ожидается", "Expected"),
    "o.status.delivered": _tx("Тексерілуде", "На проверке", "Being checked"),
    "o.status.accepted": _tx("Қабылданды", "Принято", "Accepted"),
    "o.status.reviewed": _tx("Қаралды", "Рассмотрено", "Reviewed"),
    "o.status.returned": _tx("Түзетуге қайтарылды", "Возвращено на исправление", "Returned for correction"),
    "o.status.rejected": _tx("Қабылданбады", "Отклонено", "Rejected"),
    "o.status.missing": _tx("Тапсырмады", "Не представлено", "Missing"),
    "o.status.late": _tx("Кешікті", "С опозданием", "Late"),
    "o.status.received": _tx("Алынды", "Получено", "Received"),
    "o.status.signature_checked": _tx("ЭЦҚ тексерілді", "ЭЦП проверена", "Signature checked"),
    "o.status.queried": _tx("Түсіндірме қажет", "Требуются пояснения", "Explanations needed"),
    "o.status.validated": _tx("Тексеруден өтті", "Проверено", "Validated"),
    "o.flag.late": _tx("кешікті", "с опозданием", "late"),
    "o.flag.missing": _tx("тапсырмады", "не представлено", "missing"),
    "o.state.accepted": _tx("қабылданды", "принято", "accepted"),
    "o.state.reviewed": _tx("қаралды", "рассмотрено", "reviewed"),
    "o.state.returned": _tx("қайтарылды", "возвращено", "returned"),
    "o.state.superseded": _tx("ауыстырылды", "заменено", "superseded"),
    "o.step.received": _tx("Алынды", "Получено", "Received"),
    "o.step.registered_on_paper": _tx("Қағаз түрінде тіркелді", "Зарегистрировано на бумаге", "Registered on paper"),
    "o.step.explained": _tx("Түсіндірме берілді", "Даны пояснения", "Explained"),
    "o.step.signature_checked": _tx("ЭЦҚ тексерілді", "ЭЦП проверена", "Signature checked"),
    "o.step.validated": _tx("Тексеруден өтті", "Проверено", "Validated"),
    "o.step.queried": _tx("Түсіндірме сұралды", "Запрошены пояснения", "Explanations asked"),
    "o.step.accepted": _tx("Қабылданды", "Принято", "Accepted"),
    "o.step.returned": _tx("Түзетуге қайтарылды", "Возвращено на исправление", "Returned for correction"),
    "o.step.correction_needed": _tx("Түзету қажет", "Требуется исправление", "Correction needed"),
    "o.step.rejected": _tx("Қабылданбады", "Отклонено", "Rejected"),
    "o.step.timeliness_recorded": _tx("Мерзімі тексерілді", "Срок проверен", "Timeliness recorded"),
    "o.step.aggregated": _tx("Жиынтыққа енгізілді", "Включено в свод", "Aggregated"),
    "o.channel.electronic": _tx("электрондық", "электронно", "electronic"),
    "o.channel.paper": _tx("қағаз түрінде", "на бумаге", "on paper"),
    "o.reason.complete": _tx("барлығы тапсырды", "все представили", "everyone delivered"),
    "o.reason.deadline": _tx("мерзім өтті", "срок истёк", "the deadline passed"),
    "o.reason.update": _tx("жаңартылды", "обновлено", "updated"),
    "o.reason.correction": _tx("түзету", "исправление", "a correction"),
    "o.reason.on_demand": _tx("сұраныс бойынша", "по запросу", "on demand"),
    "o.kind.school": _tx("мектептер", "школы", "schools"),
    "o.kind.college": _tx("колледждер", "колледжи", "colleges"),
    "o.kind.university": _tx("жоғары оқу орындары", "вузы", "universities"),
    "o.kind.preschool": _tx("мектепке дейінгі ұйымдар", "дошкольные организации", "preschools"),
    "o.kind.other": _tx("басқа ұйымдар", "прочие организации", "other organizations"),
    "o.kind.ministry": _tx("министрлік", "министерство", "ministry"),
    "o.kind.region": _tx("облыс", "область", "region"),
    "o.kind.republic_city": _tx("республикалық маңызы бар қала", "город республиканского значения",
                              "city of republican significance"),
    "o.kind.district": _tx("аудан", "район", "district"),
    "o.kind.city": _tx("қала", "город", "city"),
    "o.level.organization": _tx("ұйымдар", "организации", "organizations"),
    "o.level.district": _tx("аудандық (қалалық) бөлімдер", "районные (городские) отделы", "districts"),
    "o.level.region": _tx("облыстық басқармалар", "областные управления", "regions"),
    "o.level.ministry": _tx("министрлік", "министерство", "the Ministry"),
    # --- the inbox and a submission -------------------------------------------------------------------
    "o.inbox.title": _tx("Кіріс", "Входящие", "Inbox"),
    "o.inbox.accept": _tx("Қабылдау", "Принять", "Accept"),
    "o.inbox.return": _tx("Қайтару…", "Вернуть…", "Return…"),
    "o.inbox.comment": _tx("Нені түзету керек", "Что исправить", "What to correct"),
    "o.inbox.comment_hint": _tx("Мысалы: оқушылар саны ұлдар мен қыздардың қосындысына тең емес",
                              "Например: число учащихся не равно сумме мальчиков и девочек",
                              "E.g. the pupils do not add up to the boys and the girls"),
    "o.inbox.return_send": _tx("Түзетуге қайтару", "Вернуть на исправление", "Return for correction"),
    "o.inbox.done_accepted": _tx("{who}: тапсырылым қабылданды.", "{who}: представление принято.",
                               "{who}: the submission is accepted."),
    "o.inbox.done_returned": _tx("{who}: тапсырылым түсініктемеңізбен түзетуге қайтарылды.",
                               "{who}: представление возвращено на исправление с вашим комментарием.",
                               "{who}: the submission is returned for correction with your comment."),
    "o.inbox.to_board": _tx("Науқан тақтасы", "Ход кампании", "Campaign board"),
    "o.inbox.recent": _tx("Соңғы түскендер", "Последние поступления", "Recently filed"),
    "o.inbox.empty": _tx("Кіріс бос.", "Входящих нет.", "The inbox is empty."),
    "o.sub.title": _tx("Тапсырылым", "Представление", "Submission"),
    "o.sub.id": _tx("Нөмірі {id}", "Номер {id}", "Number {id}"),
    "o.sub.delivered": _tx("Тапсырылды: {at}", "Представлено: {at}", "Delivered: {at}"),
    "o.sub.superseded": _tx("Бұл нұсқа ауыстырылды.", "Эта версия заменена.", "This version has been superseded."),
    "o.sub.current": _tx("Ағымдағы нұсқа", "Текущая версия", "The current version"),
    "o.sub.download": _tx("Құжатты жүктеу", "Скачать документ", "Download the document"),
    "o.sub.timeline": _tx("Өңделу барысы", "Ход обработки", "Timeline"),
    "o.sub.at_recipient": _tx("Алушыдағы күйі", "Состояние у получателя", "State at the recipient"),
    "o.sub.chain": _tx("Нұсқалар", "Версии", "Versions"),
    "o.part.submissions": _tx("{form} {period} тапсырылымдары", "Представления {form} {period}",
                            "Submissions {form} {period}"),
    "o.part.none": _tx("Тапсырылымдар жоқ.", "Представлений нет.", "No submissions."),
    # --- whom to remind -------------------------------------------------------------------------------
    "o.remind.title": _tx("Кімге еске салу керек", "Кому напомнить", "Whom to remind"),
    "o.remind.why": _tx("Себебі", "Причина", "Why"),
    "o.remind.contacts": _tx("Байланыс", "Контакты", "Contacts"),
    "o.remind.head": _tx("Басшы: {name}", "Руководитель: {name}", "Head: {name}"),
    "o.remind.no_contacts": _tx("Тізілімде байланыс жоқ", "В реестре нет контактов", "No contacts in the registry"),
    "o.remind.nobody": _tx("Барлығы уақтылы тапсырды: ешкімге еске салудың қажеті жоқ.",
                         "Все представили вовремя: напоминать некому.",
                         "Everyone delivered on time: nobody to remind."),
    "o.remind.note": _tx("Байланыс — тізілімдегі басшы мен ол тағайындаған қызметкерлер; тізілімде телефон нөмірлері "
                       "сақталмайды.",
                       "Контакты — руководитель и назначенные им сотрудники из реестра; телефоны в реестре не "
                       "хранятся.",
                       "Contacts are the head and the staff the head named, from the registry; the registry keeps "
                       "no telephone numbers."),
    "o.why.missing": _tx("мерзімінде тапсырмады", "не представлено в срок", "missing at the deadline"),
    "o.why.late": _tx("кешігіп тапсырды", "представлено с опозданием", "delivered late"),
    "o.why.returned": _tx("түзетуге қайтарылды", "возвращено на исправление", "returned for correction"),
    "o.why.rejected": _tx("қабылданбады", "отклонено", "rejected"),
    "o.why.expected": _tx("әлі тапсырмады", "ещё не представлено", "nothing yet"),
    # --- the consolidated document -----------------------------------------------------------------------
    "o.cons.title": _tx("Жиынтық құжат", "Сводный документ", "Consolidated document"),
    "o.cons.counts_now": _tx("Қазір не есепке алынады", "Что учтено сейчас", "What counts now"),
    "o.cons.state": _tx("Күтілгені {expected}, енгізілгені {included}, кешіккені {late}, тапсырмағаны {missing}, "
                      "қайтарылғаны {returned}.",
                      "Ожидается {expected}, учтено {included}, с опозданием {late}, не представили {missing}, "
                      "возвращено {returned}.",
                      "Expected {expected}, included {included}, late {late}, missing {missing}, "
                      "returned {returned}."),
    "o.cons.own_deadline": _tx("Өз мерзіміңіз: {deadline}", "Ваш срок: {deadline}", "Your own deadline: {deadline}"),
    "o.cons.none": _tx("Жиынтық құжат әлі жасалмаған: ол барлық бағыныстылар тапсырғанда немесе олардың мерзімі "
                     "өткенде жасалады.",
                     "Сводный документ ещё не сформирован: он формируется, когда все подчинённые представят данные "
                     "или истечёт их срок.",
                     "No consolidated document yet: it is built when every subordinate has delivered or their "
                     "deadline has passed."),
    "o.cons.version": _tx("{version}-нұсқа", "Версия {version}", "Version {version}"),
    "o.cons.built": _tx("Жасалды: {at}", "Сформирован: {at}", "Built: {at}"),
    "o.cons.lists": _tx("Енгізілгені {included}, оның ішінде кешіккені {late}; тапсырмағаны {missing}; "
                      "қайтарылғаны {returned}.",
                      "Учтено {included}, из них с опозданием {late}; не представили {missing}; возвращено "
                      "{returned}.",
                      "Included {included}, of them late {late}; missing {missing}; returned {returned}."),
    "o.cons.download_json": _tx("JSON жүктеу", "Скачать JSON", "Download JSON"),
    "o.cons.download_xlsx": _tx("XLSX жүктеу", "Скачать XLSX", "Download XLSX"),
    "o.cons.sign_lead": _tx("Басшы құжатқа (JSON, дәл осы нұсқасына) NCALayer арқылы ЭЦҚ-мен қол қояды, және ол "
                          "жоғары тұрған органға жіберіледі.",
                          "Руководитель подписывает документ (JSON, именно эту версию) ЭЦП через NCALayer, и он "
                          "направляется вышестоящему органу.",
                          "The head signs the document (its JSON, this very version) with the EDS through NCALayer, "
                          "and it goes up to the superior."),
    "o.cons.sign_submit": _tx("Қол қою және жіберу", "Подписать и отправить", "Sign and submit"),
    "o.cons.fetching": _tx("Құжат жүктелуде…", "Загружаем документ…", "Fetching the document…"),
    "o.cons.signing": _tx("NCALayer-де қол қойыңыз…", "Подпишите в NCALayer…", "Sign in NCALayer…"),
    "o.cons.sending": _tx("Жіберілуде…", "Отправляем…", "Submitting…"),
    "o.cons.waiting": _tx("Қолтаңба мен деректер тексерілуде…", "Проверяются подпись и данные…",
                        "Checking the signature and the data…"),
    "o.cons.own": _tx("Жоғары жіберілген жиынтық", "Отправленный наверх свод", "The consolidation submitted up"),
    "o.cons.versions": _tx("Барлық нұсқалар", "Все версии", "All versions"),
    "o.cons.bad_signature": _tx("NCALayer қолтаңбасы оқылмады.", "Подпись NCALayer не читается.",
                              "NCALayer's signature could not be read."),
    # --- information requests ------------------------------------------------------------------------
    "o.ir.title": _tx("Ақпарат сұраулары", "Запросы информации", "Information requests"),
    "o.ir.lead": _tx("Министрлік бекітілген тізбеден тыс сұрайтын қосымша ақпарат (Қағидалардың 12-тармағы).",
                   "Дополнительная информация, которую Министерство запрашивает помимо утверждённого перечня "
                   "(пункт 12 Правил).",
                   "Additional information the Ministry asks for beside the approved list (clause 12 of the Rules)."),
    "o.ir.new": _tx("Жаңа сұрау", "Новый запрос", "New request"),
    "o.ir.none": _tx("Сұраулар жоқ.", "Запросов нет.", "No requests."),
    "o.ir.col_title": _tx("Сұрау", "Запрос", "Request"),
    "o.ir.as_of": _tx("Қай күнгі жағдай", "По состоянию на", "As of"),
    "o.ir.due": _tx("Мерзімі", "Срок", "Due"),
    "o.ir.issued": _tx("Жіберілді", "Направлен", "Issued"),
    "o.ir.summary": _tx("{form} нысаны, {as_of} күнгі жағдай бойынша; мерзімі {due}; әр жоғары деңгейге тағы {relay} күн.",
                      "Форма {form} по состоянию на {as_of}; срок {due}; каждому уровню выше ещё {relay} дн.",
                      "Form {form}, as of {as_of}; due {due}; {relay} more days for each level above."),
    "o.ir.role": _tx("Рөлі", "Роль", "Role"),
    "o.ir.role_target": _tx("жауап береді", "отвечает", "answers"),
    "o.ir.role_relay": _tx("жинақтап жібереді", "сводит и передаёт", "consolidates and relays"),
    "o.ir.code": _tx("Нысан коды", "Код формы", "Form code"),
    "o.ir.form_title_kk": _tx("Нысан атауы (қазақша)", "Наименование формы (на казахском)", "Form title (Kazakh)"),
    "o.ir.form_title_ru": _tx("Нысан атауы (орысша)", "Наименование формы (на русском)", "Form title (Russian)"),
    "o.ir.form_title_en": _tx("Нысан атауы (ағылшынша)", "Наименование формы (на английском)", "Form title (English)"),
    "o.ir.fields": _tx("Көрсеткіштер (әр жолда біреуі: код; атауы)", "Показатели (по одному в строке: код; наименование)",
                     "Indicators (one a line: code; title)"),
    "o.ir.fields_example": _tx("компьютерлер саны", "число компьютеров", "number of computers"),
    "o.ir.target": _tx("Кімнен сұралады", "У кого запрашивается", "Who must answer"),
    "o.ir.within": _tx("Тек осы органның ішінде (БСН)", "Только внутри органа (БИН)", "Only within this department (BIN)"),
    "o.ir.participants": _tx("Сондай-ақ мына қатысушылар (БСН, бос орын арқылы)", "А также участники (БИН через пробел)",
                           "Also these participants (BINs, space-separated)"),
    "o.ir.relay_days": _tx("Әр жоғары деңгейге қосымша күн", "Дополнительных дней каждому уровню выше",
                         "Extra days for each level above"),
    "o.ir.issue": _tx("Сұрауды жіберу", "Направить запрос", "Issue the request"),
    "o.ir.bad_due": _tx("Мерзімнің күні мен уақытын тексеріңіз.", "Проверьте дату и время срока.",
                      "Check the due date and time."),
}

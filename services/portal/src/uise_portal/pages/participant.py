"""The participant's pages (docs/portal.md, "Participants"): a school's accountant or director
sees the forms due this year with their deadlines, downloads a template, checks a filled document
(validation's dry run) and explains its queries before signing, signs the very bytes it chose with
NCALayer and sends them to intake, then follows the submission: its status, timeline, receipt,
open queries, corrections and every version. The portal keeps nothing: each page asks the
services with the person's own token, and a service's refusal is shown in the page's language."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.background import BackgroundTask

from uise_common.clock import Clock
from uise_common.periods import PeriodInvalid, parse_period
from uise_portal import web
from uise_portal.backend import ServiceError
from uise_portal.pages import participant_model as model
from uise_portal.session import PortalSession

__all__ = ["TEXTS", "router"]

router = APIRouter()
SignedIn = Annotated[PortalSession, Depends(web.signed_in)]

# The portal only bounds what it holds in memory while passing an upload on; intake enforces the
# real limits (UISE_MAX_DOCUMENT_BYTES, 20 MiB by default) and says so in the person's language.
MAX_DOCUMENT_BYTES = 64 * 2**20
MAX_SIGNATURE_CHARS = 4 * 2**20
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _ClockSettings(BaseSettings):
    """The business clock the services read (uise_common.clock), so that "this year" is theirs
    when a rehearsal moves it."""

    model_config = SettingsConfigDict(env_prefix="UISE_", extra="ignore")
    clock_offset_seconds: float = 0.0
    clock_fixed: datetime | None = None
    clock_file: Path | None = None


@cache
def _clock() -> Clock:
    return Clock.from_settings(_ClockSettings())


def refused(request: Request, status: int, code: str, key: str) -> JSONResponse:
    """The portal's own refusal of a page's request (JSON: the page's script shows it)."""
    return JSONResponse({"code": code, "message": web.translator(request)(key)}, status_code=status)


CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}", re.ASCII)
SUBMISSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", re.ASCII)


def _own(status: int, code: str, key: str, **values: Any) -> ServiceError:
    """A refusal of the portal's own, worded like a service's (shown by app.py's error page)."""
    return ServiceError(status, code, {lang: TEXTS[key][lang].format(**values) for lang in ("kk", "ru", "en")})


def checked_code(code: str) -> str:
    if not CODE.fullmatch(code):
        raise _own(404, "NOT_FOUND", "p.error.bad_id")
    return code


def checked_id(submission_id: str) -> str:
    if not SUBMISSION_ID.fullmatch(submission_id):
        raise _own(404, "NOT_FOUND", "p.error.bad_id")
    return submission_id


def page(request: Request, template: str, **context: Any):
    """A participant page: the helpers its templates share, then its own context."""
    return web.render(request, template, statuses=model.STATUSES, when=model.when, finding_text=model.finding_text,
                      reason_key=reason_key, **context)


def checked_period(period: str) -> str:
    try:
        return parse_period(period).text
    except PeriodInvalid:
        raise _own(422, "PERIOD_INVALID", "p.error.period", period=period[:16]) from None


async def _participant(request: Request, session: PortalSession) -> dict:
    return await web.call(request, session, "registry", "GET", f"/v1/participants/{session.participant_id}")


async def _form(request: Request, session: PortalSession, code: str, year: int) -> dict:
    return await web.call(request, session, "registry", "GET", f"/v1/forms/{code}", params={"year": year})


async def _calendars(request: Request, session: PortalSession, years: set[int]) -> dict[int, dict]:
    """Deadline's calendars of these years (public): why a deadline moved."""
    async def one(year: int) -> dict:
        try:
            return await web.call(request, session, "deadline", "GET", f"/v1/calendar/{year}")
        except ServiceError:
            return {}  # the deadline still shows; only its reason is left out

    found = await asyncio.gather(*(one(y) for y in sorted(years)))
    return dict(zip(sorted(years), found, strict=True))


# --- the forms due ---------------------------------------------------------------------------------


@router.get("/forms")
async def forms(request: Request, session: SignedIn,
                year: Annotated[int | None, Query(ge=2000, le=2100)] = None):
    today = _clock().today()
    year = year or today.year
    me = session.participant_id
    level = session.level or "organization"
    applicable, deadlines, listed = await asyncio.gather(
        web.call(request, session, "registry", "GET", f"/v1/participants/{me}/forms", params={"year": year}),
        web.call(request, session, "deadline", "GET", "/v1/deadlines",
                 params={"year": year, "level": level, "limit": 5000}),
        web.call(request, session, "intake", "GET", "/v1/submissions", params={"participant_id": me, "limit": 500}))
    calendars = await _calendars(request, session, model.calendar_years(deadlines or []))
    rows = model.form_rows(applicable or [], year, deadlines or [], (listed or {}).get("items", []), level,
                           calendars, today)
    return page(request, "participant/forms.html", year=year, rows=rows, now=_clock().now())


@router.get("/forms/{code}/{period}/template.xlsx")
async def template(request: Request, session: SignedIn, code: str, period: str):
    """The form's XLSX template with the organization's BIN and the period entered, streamed from
    the registry."""
    code, period = checked_code(code), checked_period(period)
    participant = await _participant(request, session)
    bin_ = participant.get("bin") or session.participant_id
    resp = await web.backend(request).stream(
        "registry", "GET", f"/v1/forms/{code}/template.xlsx", session.access_token,
        params={"year": model.period_year(period), "participant_bin": bin_, "period": period})
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{code}-{period}-{bin_}.xlsx")
    return StreamingResponse(resp.aiter_raw(), media_type=resp.headers.get("content-type", XLSX),
                             headers={"Content-Disposition": f'attachment; filename="{name}"'},
                             background=BackgroundTask(resp.aclose))


@router.get("/forms/{code}/submit")
async def choose_period(code: str, period: Annotated[str, Query(max_length=16)]):
    """A form collected as of a date: the date chosen on the forms page."""
    return RedirectResponse(f"/forms/{checked_code(code)}/{checked_period(period.strip())}/submit", status_code=303)


# --- submitting: check, explain, sign, send ----------------------------------------------------------


@router.get("/forms/{code}/{period}/submit")
async def submit_page(request: Request, session: SignedIn, code: str, period: str):
    code, period = checked_code(code), checked_period(period)
    form, listed = await asyncio.gather(
        _form(request, session, code, model.period_year(period)),
        web.call(request, session, "intake", "GET", "/v1/submissions",
                 params={"participant_id": session.participant_id, "form_code": code, "period": period, "limit": 1}))
    items = (listed or {}).get("items") or []
    return page(request, "participant/submit.html", form=form, period=period, latest=items[0] if items else None)


async def _read(upload: UploadFile, limit: int) -> bytes | None:
    data = await upload.read(limit + 1)
    return None if len(data) > limit else data


def _filename(upload: UploadFile) -> str:
    """The browser's file name, only as a hint of its type to intake (which sniffs the bytes)."""
    name = Path(upload.filename or "document").name[-120:]
    return re.sub(r"[\x00-\x1f\"\\/]", "_", name) or "document"


@router.post("/forms/{code}/{period}/check")
async def check(request: Request, session: SignedIn, code: str, period: str,
                document: Annotated[UploadFile, File()]) -> JSONResponse:
    """Validation's dry run of the chosen document (nothing is recorded): the findings as the page
    shows them, and whether it may be signed (no error; each query then needs an explanation)."""
    code, period = checked_code(code), checked_period(period)
    data = await _read(document, MAX_DOCUMENT_BYTES)
    if data is None:
        return refused(request, 413, "DOCUMENT_TOO_LARGE", "p.error.too_large")
    if not data:
        return refused(request, 422, "EMPTY_UPLOAD", "p.error.empty")
    dry = await web.call(request, session, "validation", "POST", "/v1/dry-run",
                         data={"form_code": code, "period": period},
                         files={"document": (_filename(document), data, document.content_type or "application/octet-stream")})
    findings = list(dry.get("findings") or [])
    errors, queries = model.errors_of(findings), model.queries_of(findings)
    html = web.TEMPLATES.get_template("participant/_findings.html").render(
        t=web.translator(request), lang=web.lang_of(request), errors=errors, queries=queries,
        would_be=dry.get("would_be"), finding_text=model.finding_text, explain=True)
    return JSONResponse({"would_be": dry.get("would_be"), "can_sign": not errors,
                         "errors": len(errors), "queries": [q.rule for q in queries], "html": html})


@router.post("/forms/{code}/{period}/submit")
async def submit(request: Request, session: SignedIn, code: str, period: str,
                 document: Annotated[UploadFile, File()],
                 signature: Annotated[str, Form(max_length=MAX_SIGNATURE_CHARS)],
                 idempotency_key: Annotated[str, Form(pattern=r"^[A-Za-z0-9_-]{8,64}$")],
                 explanations: Annotated[str | None, Form(max_length=500_000)] = None) -> JSONResponse:
    """The document and its detached CMS from NCALayer (base64), sent on to intake; the answer
    names the submission's page."""
    code, period = checked_code(code), checked_period(period)
    data = await _read(document, MAX_DOCUMENT_BYTES)
    if data is None:
        return refused(request, 413, "DOCUMENT_TOO_LARGE", "p.error.too_large")
    try:  # NCALayer answers base64; intake takes the DER itself
        der = base64.b64decode("".join(signature.split()), validate=True)
    except (binascii.Error, ValueError):
        der = b""
    if not der:
        return refused(request, 422, "SIGNATURE_NOT_CMS", "p.error.signature")
    explained = model.explanations_from(explanations)
    if explained is None:
        return refused(request, 422, "EXPLANATIONS_INVALID", "p.error.explanations")
    receipt = await web.call(
        request, session, "intake", "POST", "/v1/submissions",
        data={"form_code": code, "period": period, **({"explanations": json.dumps(explained)} if explained else {})},
        files={"document": (_filename(document), data, document.content_type or "application/octet-stream"),
               "signature": ("signature.p7s", der, "application/pkcs7-signature")},
        # a retry of the same signed bytes (a lost answer) is answered with the first receipt
        headers={"Idempotency-Key": f"portal-{idempotency_key}"})
    sid = receipt["submission_id"]
    return JSONResponse({"submission_id": sid, "redirect": f"/submissions/{sid}"}, status_code=202)


# --- submissions --------------------------------------------------------------------------------------


@router.get("/submissions")
async def submissions(request: Request, session: SignedIn,
                      form_code: Annotated[str | None, Query(max_length=32)] = None,
                      period: Annotated[str | None, Query(max_length=16)] = None,
                      status: Annotated[str | None, Query(max_length=20)] = None):
    params: dict[str, Any] = {"participant_id": session.participant_id, "limit": 200}
    for name, value in (("form_code", form_code), ("period", period), ("status", status)):
        if value:
            params[name] = value
    if status and status not in model.STATUSES:
        params.pop("status")
    listed = await web.call(request, session, "intake", "GET", "/v1/submissions", params=params)
    return page(request, "participant/submissions.html", items=(listed or {}).get("items", []),
                form_code=form_code or "", period=period or "", status=status or "")


@router.get("/submissions/receipt-key.json")
async def receipt_key(request: Request, session: SignedIn):
    """Intake's public receipt key, for `uise-receipt --key`."""
    key = await web.call(request, session, "intake", "GET", "/v1/receipts/public-key")
    return JSONResponse(key, headers={"Content-Disposition": 'attachment; filename="uise-receipt-key.json"'})


@router.get("/submissions/{submission_id}")
async def submission(request: Request, session: SignedIn, submission_id: str,
                     explained: bool = False):
    submission_id = checked_id(submission_id)
    sub = await web.call(request, session, "intake", "GET", f"/v1/submissions/{submission_id}")
    try:
        receipt = await web.call(request, session, "intake", "GET", f"/v1/submissions/{submission_id}/receipt")
    except ServiceError as exc:
        if exc.status != 404:
            raise
        receipt = None  # recorded before intake kept receipts
    year = model.period_year(str(sub.get("period")))
    form = None
    if year:
        try:
            form = await _form(request, session, str(sub.get("form_code")), year)
        except ServiceError:
            form = None  # the title only; the submission shows without it
    own = sub.get("participant_id") == session.participant_id
    return page(request, "participant/submission.html", sub=sub, receipt=receipt, form=form, own=own,
                open_queries=model.open_queries(sub), chain=model.chain_view(sub), explained=explained,
                step_findings=model.step_findings, known_steps=model.STEPS, known_services=model.SERVICES)


@router.get("/submissions/{submission_id}/receipt.json")
async def receipt_download(request: Request, session: SignedIn, submission_id: str):
    submission_id = checked_id(submission_id)
    receipt = await web.call(request, session, "intake", "GET", f"/v1/submissions/{submission_id}/receipt")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"receipt-{submission_id}.json")
    return JSONResponse(receipt, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/submissions/{submission_id}/files/{part}")
async def part(request: Request, session: SignedIn, submission_id: str, part: str):
    """The stored document, its signature, or a paper submission's scan, streamed from intake
    (which records the read)."""
    submission_id = checked_id(submission_id)
    if part not in ("document", "signature", "scan"):
        raise _own(404, "NOT_FOUND", "p.error.bad_id")
    resp = await web.backend(request).stream("intake", "GET", f"/v1/submissions/{submission_id}/{part}",
                                             session.access_token)
    headers = {k: v for k, v in resp.headers.items() if k.lower() in ("content-disposition", "x-content-sha256")}
    return StreamingResponse(resp.aiter_raw(), media_type=resp.headers.get("content-type"), headers=headers,
                             background=BackgroundTask(resp.aclose))


@router.post("/submissions/{submission_id}/explanations")
async def explain(request: Request, session: SignedIn, submission_id: str):
    """Written explanations of a queried submission's open queries (one per rule), sent to intake."""
    submission_id = checked_id(submission_id)
    form = await request.form()
    explained = {str(k)[len("explanation:"):]: str(v).strip() for k, v in form.items()
                 if str(k).startswith("explanation:") and isinstance(v, str) and v.strip()}
    if not explained or model.explanations_from(json.dumps(explained)) is None:
        raise _own(422, "EXPLANATIONS_INVALID", "p.error.explanations")
    await web.call(request, session, "intake", "POST", f"/v1/submissions/{submission_id}/explanations",
                   json={"explanations": explained})
    return RedirectResponse(f"/submissions/{submission_id}?explained=1", status_code=303)


def reason_key(code: str | None) -> str:
    """The text key of a reason code a service gave (rejections, returns), or the generic one."""
    key = f"p.reason.{code}"
    return key if key in TEXTS else "p.reason.other"


# --- texts ----------------------------------------------------------------------------------------
# Every text of these pages: key -> {kk, ru, en} (merged into uise_portal.messages.MESSAGES).

def _t(kk: str, ru: str, en: str) -> dict[str, str]:
    return {"kk": kk, "ru": ru, "en": en}


TEXTS: dict[str, dict[str, str]] = {
    # --- the forms due ---------------------------------------------------------------------------
    "p.forms.title": _t("Тапсырылатын нысандар", "Формы к сдаче", "Forms to submit"),
    "p.forms.lead": _t("{year} жылғы бекітілген тізбедегі ұйымыңызға қатысты нысандар, олардың мерзімдері "
                       "және әр кезеңнің соңғы тапсырылымының күйі.",
                       "Формы утверждённого перечня на {year} год, которые относятся к вашей организации, их сроки "
                       "и состояние последнего представления за каждый период.",
                       "The forms of the approved list for {year} that apply to your organization, their "
                       "deadlines and the state of your latest submission for each period."),
    "p.forms.years": _t("Жылдар", "Годы", "Years"),
    "p.forms.year": _t("{year} жыл", "{year} год", "Year {year}"),
    "p.forms.none": _t("{year} жылы ұйымыңызға бекітілген тізбеден ешбір нысан қатысты емес (немесе тізбе әлі "
                       "бекітілмеген).",
                       "В {year} году к вашей организации не относится ни одна форма утверждённого перечня "
                       "(или перечень ещё не утверждён).",
                       "No form of an approved list applies to your organization in {year} (or the list is not "
                       "approved yet)."),
    "p.forms.as_of_date": _t("белгілі бір күнге", "на дату", "as of a date"),
    "p.forms.as_of_label": _t("Қай күнге", "На какую дату", "As of which date"),
    "p.forms.opens": _t("{day} бастап тапсырылады", "сдаётся с {day}", "opens on {day}"),
    "p.col.form": _t("Нысан", "Форма", "Form"),
    "p.col.period": _t("Кезең", "Период", "Period"),
    "p.col.deadline": _t("Мерзімі", "Срок", "Deadline"),
    "p.col.status": _t("Күйі", "Состояние", "Status"),
    "p.col.actions": _t("Әрекеттер", "Действия", "Actions"),
    "p.col.delivered": _t("Жеткізілді", "Доставлено", "Delivered"),
    "p.col.version": _t("Нұсқа", "Версия", "Version"),
    "p.deadline.at": _t("{day}, сағ. {time} дейін", "{day}, до {time}", "{day}, until {time}"),
    "p.deadline.none": _t("мерзімі белгіленбеген", "срок не установлен", "no deadline set"),
    "p.deadline.passed": _t("мерзімі өтті", "срок прошёл", "deadline passed"),
    "p.deadline.moved": _t("Ереже бойынша мерзім {rule_date} еді; демалыс күндеріне байланысты келесі жұмыс "
                           "күніне ауыстырылды (Қағидалардың 11-тармағы):",
                           "По правилу срок {rule_date}; перенесён на следующий рабочий день из-за выходных "
                           "(пункт 11 Правил):",
                           "By the rule the deadline is {rule_date}; moved to the next working day because of "
                           "days off (clause 11 of the Rules):"),
    "p.moved.weekend": _t("{day} — {weekday}", "{day} — {weekday}", "{day} is a {weekday}"),
    "p.moved.holiday": _t("{day} — мереке күні", "{day} — праздничный день", "{day} is a public holiday"),
    "p.moved.decree": _t("{day} — {decree} қаулысы бойынша демалыс күні",
                         "{day} — выходной по постановлению {decree}", "{day} is a day off by decree {decree}"),
    "p.moved.transfer": _t("{day} — Үкімет қаулысымен ауыстырылған демалыс күні",
                           "{day} — выходной, перенесённый постановлением Правительства",
                           "{day} is a day off moved there by the Government's decree"),
    "p.moved.day_off": _t("{day} — демалыс күні", "{day} — выходной день", "{day} is a day off"),
    "p.weekday.0": _t("дүйсенбі", "понедельник", "Monday"),
    "p.weekday.1": _t("сейсенбі", "вторник", "Tuesday"),
    "p.weekday.2": _t("сәрсенбі", "среда", "Wednesday"),
    "p.weekday.3": _t("бейсенбі", "четверг", "Thursday"),
    "p.weekday.4": _t("жұма", "пятница", "Friday"),
    "p.weekday.5": _t("сенбі", "суббота", "Saturday"),
    "p.weekday.6": _t("жексенбі", "воскресенье", "Sunday"),
    "p.action.template": _t("Үлгіні жүктеу (XLSX)", "Скачать шаблон (XLSX)", "Download the template (XLSX)"),
    "p.action.submit": _t("Тапсыру", "Сдать", "Submit"),
    "p.action.correct": _t("Жаңа нұсқасын тапсыру (түзету)", "Сдать новую версию (исправление)",
                           "Submit a new version (a correction)"),
    "p.action.open": _t("Ашу", "Открыть", "Open"),
    "p.action.view": _t("Қарау", "Посмотреть", "View"),
    "p.action.view_latest": _t("Соңғы нұсқасын қарау", "Посмотреть последнюю версию", "See the latest version"),
    # --- statuses ----------------------------------------------------------------------------------
    "p.status.none": _t("тапсырылмаған", "не сдано", "not submitted"),
    "p.status.received": _t("қабылданды, өңделуде", "получено, обрабатывается", "received, in progress"),
    "p.status.signature_checked": _t("қолтаңба тексерілді", "подпись проверена", "signature checked"),
    "p.status.queried": _t("түсініктеме күтілуде", "ждёт пояснения", "waiting for an explanation"),
    "p.status.validated": _t("тексерілді", "проверено", "validated"),
    "p.status.accepted": _t("қабылданды", "принято", "accepted"),
    "p.status.rejected": _t("қабылданбады", "отклонено", "rejected"),
    "p.status.returned": _t("пысықтауға қайтарылды", "возвращено на доработку", "returned for correction"),
    "p.status.other": _t("күйі: {status}", "состояние: {status}", "status: {status}"),
    # --- submitting --------------------------------------------------------------------------------
    "p.submit.title": _t("{form} нысанын тапсыру, кезең {period}", "Сдача формы {form} за {period}",
                         "Submit {form} for {period}"),
    "p.submit.correction": _t("Бұл нысан осы кезеңге тапсырылған. Қазір жіберетініңіз — оның орнын басатын "
                              "жаңа нұсқа (түзету). Қазіргі нұсқасы:",
                              "Эта форма за этот период уже сдана. То, что вы отправите сейчас, — новая версия, "
                              "которая её заменит (исправление). Текущая версия:",
                              "This form has been submitted for this period. What you send now is a new version "
                              "that replaces it (a correction). The current version:"),
    "p.submit.step_file": _t("Толтырылған құжатты таңдаңыз: нысанның толтырылған XLSX үлгісі немесе JSON.",
                             "Выберите заполненный документ: заполненный шаблон формы (XLSX) или JSON.",
                             "Choose the filled document: the form's template filled in (XLSX), or JSON."),
    "p.submit.step_check": _t("Портал оны тексереді — әзірге ештеңе жіберілмейді.",
                              "Портал проверит его — пока ничего не отправляется.",
                              "The portal checks it — nothing is sent yet."),
    "p.submit.step_explain": _t("Қателер болса, түзетіп, файлды қайта таңдаңыз; әр сұраққа жазбаша "
                                "түсініктеме жазыңыз.",
                                "Если есть ошибки, исправьте их и выберите файл снова; на каждый вопрос "
                                "напишите письменное пояснение.",
                                "If there are errors, correct them and choose the file again; write an "
                                "explanation for each query."),
    "p.submit.step_sign": _t("NCALayer арқылы ЭЦҚ-мен қол қойып, жіберіңіз: тексерілген файлдың өзіне қол "
                             "қойылады.",
                             "Подпишите ЭЦП через NCALayer и отправьте: подписывается именно проверенный файл.",
                             "Sign with your EDS through NCALayer and send: the very file that was checked is "
                             "signed."),
    "p.submit.file_label": _t("Толтырылған құжат (XLSX немесе JSON)", "Заполненный документ (XLSX или JSON)",
                              "The filled document (XLSX or JSON)"),
    "p.submit.noscript": _t("Тапсыру үшін браузерде JavaScript қосулы болуы керек (NCALayer-мен қол қою).",
                            "Для сдачи в браузере должен быть включён JavaScript (подпись через NCALayer).",
                            "Submitting needs JavaScript in the browser (to sign with NCALayer)."),
    "p.submit.checking": _t("Құжат тексеруге жүктелуде… {percent}%", "Документ загружается на проверку… {percent}%",
                            "Uploading the document for its check… {percent}%"),
    "p.submit.checked": _t("Тексеру аяқталды.", "Проверка завершена.", "The check is done."),
    "p.submit.signing": _t("NCALayer-де қол қойыңыз…", "Подпишите в NCALayer…", "Sign in NCALayer…"),
    "p.submit.sending": _t("Жіберілуде… {percent}%", "Отправка… {percent}%", "Sending… {percent}%"),
    "p.submit.sent": _t("Жіберілді. Тапсырылым беті ашылуда…", "Отправлено. Открываем страницу представления…",
                        "Sent. Opening the submission…"),
    "p.submit.resend": _t("Қайта жіберу", "Отправить ещё раз", "Send again"),
    "p.submit.read_error": _t("Файлды оқу мүмкін емес.", "Файл не читается.", "The file cannot be read."),
    "p.submit.network": _t("Байланыс үзілді; қайталап көріңіз.", "Связь прервалась; повторите попытку.",
                           "The connection failed; try again."),
    "p.submit.sign": _t("ЭЦҚ-мен қол қою және жіберу", "Подписать ЭЦП и отправить", "Sign with the EDS and send"),
    "p.submit.explain_missing": _t("Қол қоймас бұрын әр сұраққа түсініктеме жазыңыз.",
                                   "Перед подписанием напишите пояснение к каждому вопросу.",
                                   "Write an explanation for every query before signing."),
    "p.submit.signers.first_head": _t(
        "Құжатқа ұйымның бірінші басшысы өз ЭЦҚ-мен қол қояды.",
        "Документ подписывает первый руководитель организации своей ЭЦП.",
        "The document is signed with the EDS of the organization's first head."),
    "p.submit.signers.first_head_or_right_to_sign": _t(
        "Құжатқа бірінші басшы немесе қол қою құқығы бар қызметкер өз ЭЦҚ-мен қол қояды.",
        "Документ подписывает своей ЭЦП первый руководитель или сотрудник с правом подписи.",
        "The document is signed with the EDS of the first head or of an employee with the right to sign."),
    # --- findings ----------------------------------------------------------------------------------
    "p.check.valid": _t("Қате де, сұрақ та жоқ: құжатқа қол қоюға болады.",
                        "Ни ошибок, ни вопросов: документ можно подписывать.",
                        "No errors and no queries: the document is ready to be signed."),
    "p.check.queried": _t("Қате жоқ, бірақ {count} сұраққа жазбаша түсініктеме қажет.",
                          "Ошибок нет, но {count} вопрос(а) требуют письменного пояснения.",
                          "No errors, but {count} queries need your written explanation."),
    "p.check.rejected": _t("Құжатта {count} қате бар: оны осы күйінде жіберуге болмайды. Түзетіп, файлды "
                           "қайта таңдаңыз.",
                           "В документе ошибок: {count}. В таком виде его отправить нельзя: исправьте и "
                           "выберите файл снова.",
                           "The document has {count} errors: it cannot be sent as it is. Correct them and "
                           "choose the file again."),
    "p.findings.errors": _t("Қателер", "Ошибки", "Errors"),
    "p.findings.queries": _t("Сұрақтар (түсініктеме қажет)", "Вопросы (нужно пояснение)",
                             "Queries (need an explanation)"),
    "p.findings.queries_lead": _t("Сирек кездесетін, бірақ мүмкін мәндер. Олардың дұрыс екенін жазбаша "
                                  "түсіндіріңіз: түсініктеме алушыға тапсырылыммен бірге жетеді.",
                                  "Необычные, но возможные значения. Объясните письменно, почему они верны: "
                                  "пояснение дойдёт до получателя вместе с представлением.",
                                  "Unusual but possible values. Explain in writing why they are right: the "
                                  "recipient reads your explanation with the submission."),
    "p.findings.queries_after_errors": _t("Қателерді түзеткеннен кейін осы сұрақтарға да түсініктеме керек.",
                                          "После исправления ошибок понадобятся и пояснения к этим вопросам.",
                                          "Once the errors are corrected, these queries need explanations too."),
    "p.finding.cells": _t("Ұяшықтар: {cells}", "Ячейки: {cells}", "Cells: {cells}"),
    "p.explain.label": _t("Түсініктемеңіз ({rule})", "Ваше пояснение ({rule})", "Your explanation ({rule})"),
    "p.explain.hint": _t("Неге мәндер дұрыс: мысалы, қыркүйекте екі сынып қосылды.",
                         "Почему значения верны: например, в сентябре открылись два класса.",
                         "Why the figures are right: e.g. two more classes opened in September."),
    "p.explain.given": _t("Түсініктеме: {text}", "Пояснение: {text}", "Explanation: {text}"),
    "p.explain.title": _t("Түсініктеме күтетін сұрақтар", "Вопросы, ждущие пояснения",
                          "Queries waiting for your explanation"),
    "p.explain.lead": _t("Тапсырылым сіз түсініктеме бергенше ұсталып тұр: ол әлі қабылданбады да, "
                         "қабылданбай да қалмады.",
                         "Представление ждёт ваших пояснений: оно пока ни принято, ни отклонено.",
                         "The submission is held until you explain: it is neither accepted nor rejected yet."),
    "p.explain.send": _t("Түсініктемелерді жіберу", "Отправить пояснения", "Send the explanations"),
    "p.explain.sent": _t("Түсініктемелер жіберілді; тапсырылым әрі қарай өңделеді.",
                         "Пояснения отправлены; представление обрабатывается дальше.",
                         "Explanations sent; the submission goes on."),
    # --- the portal's own refusals -----------------------------------------------------------------
    "p.error.period": _t("«{period}» — кезең емес (мысалы: 2026, 2026-H1, 2026-Q3, 2026-10, 2026-10-15).",
                         "«{period}» — не период (например: 2026, 2026-H1, 2026-Q3, 2026-10, 2026-10-15).",
                         "“{period}” is not a period (e.g. 2026, 2026-H1, 2026-Q3, 2026-10, 2026-10-15)."),
    "p.error.too_large": _t("Файл тым үлкен.", "Файл слишком большой.", "The file is too large."),
    "p.error.empty": _t("Файл бос.", "Файл пуст.", "The file is empty."),
    "p.error.signature": _t("NCALayer-ден келген қолтаңба оқылмайды; қайта қол қойыңыз.",
                            "Подпись от NCALayer не читается; подпишите ещё раз.",
                            "The signature from NCALayer cannot be read; sign again."),
    "p.error.explanations": _t("Түсініктемелер оқылмайды: әр сұраққа 2000 таңбаға дейінгі мәтін жазыңыз.",
                               "Пояснения не читаются: напишите к каждому вопросу текст до 2000 символов.",
                               "The explanations cannot be read: write a text of up to 2000 characters per "
                               "query."),
    "p.error.bad_id": _t("Мұндай бет жоқ.", "Такой страницы нет.", "There is no such page."),
    # --- submissions -------------------------------------------------------------------------------
    "p.subs.title": _t("Тапсырылымдар", "Представления", "Submissions"),
    "p.subs.any_status": _t("кез келген", "любое", "any"),
    "p.subs.filter": _t("Көрсету", "Показать", "Show"),
    "p.subs.none": _t("Тапсырылымдар әзірге жоқ.", "Представлений пока нет.", "No submissions yet."),
    "p.subs.first": _t("алғашқы", "первая", "first"),
    "p.subs.correction": _t("түзету", "исправление", "correction"),
    "p.subs.superseded": _t("кейінгі нұсқамен ауыстырылды", "заменена более поздней версией",
                            "replaced by a later version"),
    # --- one submission ----------------------------------------------------------------------------
    "p.sub.title": _t("{form} тапсырылымы, кезең {period}", "Представление {form} за {period}",
                      "Submission of {form} for {period}"),
    "p.sub.status": _t("Күйі", "Состояние", "Status"),
    "p.sub.final": _t("(соңғы шешім)", "(окончательно)", "(final)"),
    "p.sub.waiting": _t("сіздің түсініктемеңізді күтуде", "ждёт вашего пояснения", "waiting for your explanation"),
    "p.sub.in_progress": _t("өңделуде; бет өздігінен жаңарады", "обрабатывается; страница обновится сама",
                            "in progress; this page updates by itself"),
    "p.sub.reason": _t("Себебі", "Причина", "Reason"),
    "p.sub.delivered": _t("Жеткізілген уақыты (Астана)", "Время доставки (Астана)", "Delivered (Astana time)"),
    "p.sub.participant": _t("Тапсырушы (БСН)", "Сдающий (БИН)", "Submitted by (BIN)"),
    "p.sub.recipient": _t("Алушы", "Получатель", "Recipient"),
    "p.sub.channel": _t("Арна", "Канал", "Channel"),
    "p.sub.id": _t("Тапсырылым нөмірі", "Номер представления", "Submission number"),
    "p.sub.superseded": _t("Бұл нұсқаның орнын кейінгі нұсқа басты.", "Эту версию заменила более поздняя.",
                           "A later version has replaced this one."),
    "p.sub.document": _t("Құжатты жүктеу", "Скачать документ", "Download the document"),
    "p.sub.signature": _t("Қолтаңбаны жүктеу (CMS)", "Скачать подпись (CMS)", "Download the signature (CMS)"),
    "p.sub.scan": _t("Сканды жүктеу (PDF)", "Скачать скан (PDF)", "Download the scan (PDF)"),
    "p.channel.electronic": _t("электрондық, ЭЦҚ-мен", "электронно, с ЭЦП", "electronic, with the EDS"),
    "p.channel.paper": _t("қағаз түрінде", "на бумаге", "on paper"),
    "p.receipt.title": _t("Түбіртек", "Квитанция", "Receipt"),
    "p.receipt.lead": _t("Жүйенің өз кілтімен қол қойылған түбіртек: онда мерзім үшін есептелетін жеткізу "
                         "уақыты көрсетілген (Қағидалардың 10-тармағы).",
                         "Квитанция, подписанная ключом системы: в ней время доставки, которое учитывается "
                         "для срока (пункт 10 Правил).",
                         "The receipt, signed with the system's own key: it states the delivery time that "
                         "counts for the deadline (clause 10 of the Rules)."),
    "p.receipt.delivered_at": _t("Жеткізілген уақыты", "Время доставки", "Delivered at"),
    "p.receipt.document": _t("Құжаттың SHA-256", "SHA-256 документа", "The document's SHA-256"),
    "p.receipt.signature": _t("Қолтаңбаның SHA-256", "SHA-256 подписи", "The signature's SHA-256"),
    "p.receipt.signers": _t("Қол қойғандар", "Подписавшие", "Signed by"),
    "p.receipt.signer": _t("{name}, ЖСН {iin}, БСН {bin}", "{name}, ИИН {iin}, БИН {bin}",
                           "{name}, IIN {iin}, BIN {bin}"),
    "p.receipt.supersedes": _t("Түзететін нұсқасы", "Исправляет версию", "Corrects the version"),
    "p.receipt.key_id": _t("Жүйе кілтінің идентификаторы", "Идентификатор ключа системы", "The system key's id"),
    "p.receipt.download": _t("Түбіртекті жүктеу (JSON)", "Скачать квитанцию (JSON)", "Download the receipt (JSON)"),
    "p.receipt.key": _t("Жүйенің ашық кілтін жүктеу", "Скачать открытый ключ системы",
                        "Download the system's public key"),
    "p.receipt.verify": _t("Түбіртекті интернетсіз тексеру үшін екі файлды да жүктеп алып, uise-receipt "
                           "құралын іске қосыңыз:",
                           "Чтобы проверить квитанцию без интернета, скачайте оба файла и запустите "
                           "программу uise-receipt:",
                           "To check the receipt offline, download both files and run the uise-receipt tool:"),
    "p.receipt.none": _t("Бұл тапсырылым түбіртектер сақталмай тұрғанда жазылған: оның түбіртегі жүктеу "
                         "кезіндегі жауап болды.",
                         "Это представление записано до того, как квитанции стали храниться: его квитанция "
                         "была ответом на загрузку.",
                         "This submission was recorded before receipts were kept: its receipt was the answer "
                         "to its upload."),
    "p.timeline.title": _t("Барысы", "Ход обработки", "Timeline"),
    "p.step.received": _t("Қабылданды", "Получено", "Received"),
    "p.step.registered_on_paper": _t("Қағаз түрінде тіркелді", "Зарегистрировано на бумаге",
                                     "Registered on paper"),
    "p.step.signature_checked": _t("Қолтаңба тексерілді", "Подпись проверена", "Signature checked"),
    "p.step.queried": _t("Түсініктеме сұралды", "Запрошено пояснение", "Explanation asked for"),
    "p.step.explained": _t("Түсініктеме берілді", "Дано пояснение", "Explained"),
    "p.step.validated": _t("Деректер тексерілді", "Данные проверены", "Data validated"),
    "p.step.accepted": _t("Қабылданды", "Принято", "Accepted"),
    "p.step.rejected": _t("Қабылданбады", "Отклонено", "Rejected"),
    "p.step.returned": _t("Пысықтауға қайтарылды", "Возвращено на доработку", "Returned for correction"),
    "p.step.timeliness_recorded": _t("Мерзімі бағаланды", "Оценено соблюдение срока", "Timeliness recorded"),
    "p.step.aggregated": _t("Жиынтыққа енгізілді", "Включено в свод", "Included in the consolidation"),
    "p.step.correction_needed": _t("Түзету қажет", "Нужно исправление", "Correction needed"),
    "p.step.other": _t("Қадам: {step}", "Шаг: {step}", "Step: {step}"),
    "p.step.signed_by": _t("Қол қойған: {names}", "Подписал(и): {names}", "Signed by: {names}"),
    "p.service.intake": _t("қабылдау", "приём", "intake"),
    "p.service.signature": _t("қолтаңбаны тексеру", "проверка подписи", "signature check"),
    "p.service.validation": _t("деректерді тексеру", "проверка данных", "validation"),
    "p.service.routing": _t("бағыттау", "маршрутизация", "routing"),
    "p.service.deadline": _t("мерзімдер", "сроки", "deadlines"),
    "p.service.reporting": _t("есептілік", "отчётность", "reporting"),
    "p.service.registry": _t("тізілім", "реестр", "registry"),
    "p.service.identity": _t("кіру", "вход", "sign-in"),
    "p.sig.ok": _t("Қолтаңба жарамды: {name}", "Подпись действительна: {name}", "The signature is valid: {name}"),
    "p.validated.ok": _t("Қате табылмады.", "Ошибок не найдено.", "No errors found."),
    "p.accepted.corrects": _t("Бұрын қабылданған деректердің түзетуі ретінде қабылданды (11-тармақ).",
                              "Принято как исправление ранее принятых данных (пункт 11).",
                              "Accepted as a correction of data accepted before (clause 11)."),
    "p.returned.comment": _t("Алушының ескертуі: {comment}", "Замечание получателя: {comment}",
                             "The recipient's comment: {comment}"),
    "p.timeliness.on_time": _t("Мерзімінде ({deadline} дейін)", "В срок (до {deadline})", "On time (by {deadline})"),
    "p.timeliness.late": _t("Мерзімінен кеш: мерзім {deadline}, {days} күнтізбелік ({working} жұмыс) күн кешікті",
                            "С опозданием: срок {deadline}, опоздание {days} календарных ({working} рабочих) дней",
                            "Late: the deadline was {deadline}, {days} calendar ({working} working) days late"),
    "p.timeliness.unknown": _t("Мерзімі белгіленбеген", "Срок не установлен", "No deadline to judge by"),
    "p.correction_needed": _t("Төменгі деңгейдегі деректер өзгерді: жиынтықты түзету керек.",
                              "Данные ниже изменились: свод нужно исправить.",
                              "Data below changed: the consolidation needs a correction."),
    "p.correct.title": _t("Түзету", "Исправление", "Correction"),
    "p.correct.lead": _t("Қате тапсаңыз немесе тапсырылым қайтарылса, жаңа нұсқасын тапсырыңыз: ол осы "
                         "нұсқаның орнын басады, ал бұрынғы нұсқалар тарихта сақталады.",
                         "Если вы нашли ошибку или представление вернули, сдайте новую версию: она заменит "
                         "эту, а прежние версии останутся в истории.",
                         "If you found a mistake or the submission was returned, submit a new version: it "
                         "replaces this one, and the earlier versions stay in the history."),
    "p.history.title": _t("Нұсқалар тарихы", "История версий", "Every version"),
    "p.history.version": _t("{n}-нұсқа", "Версия {n}", "Version {n}"),
    "p.history.this": _t("(осы)", "(эта)", "(this one)"),
    # --- reasons the services give (rejections, returns) --------------------------------------------
    "p.reason.other": _t("Себеп коды: {code}", "Код причины: {code}", "Reason code: {code}"),
    "p.reason.VALIDATION_FAILED": _t("Деректерде қателер бар (төмендегі тексеру нәтижесін қараңыз).",
                                     "В данных есть ошибки (см. результат проверки ниже).",
                                     "The data have errors (see the validation below)."),
    "p.reason.EXPLANATION_REQUIRED": _t("Сұрақтарға түсініктеме берілмеген.", "Нет пояснений к вопросам.",
                                        "Queries were not explained."),
    "p.reason.RETURNED": _t("Алушы пысықтауға қайтарды: ескертуді оқып, жаңа нұсқасын тапсырыңыз.",
                            "Получатель вернул на доработку: прочитайте замечание и сдайте новую версию.",
                            "The recipient returned it: read the comment and submit a new version."),
    "p.reason.PROCESSING_FAILED": _t("Жүйе жіберілімді өңдей алмады, сондықтан ол күтуде қалмай, қабылданбады: "
                                     "оны қайта тапсырыңыз.",
                                     "Система не смогла обработать отправку, поэтому она отклонена, а не оставлена "
                                     "в ожидании: сдайте её ещё раз.",
                                     "The system could not process the submission, so it is rejected rather than "
                                     "left waiting: submit it again."),
    "p.reason.SUPERSEDED": _t("Кейінгі нұсқа бұрын тіркелген.", "Уже зарегистрирована более поздняя версия.",
                              "A later version was filed already."),
    "p.reason.NOT_FIRST_HEAD": _t("Қол қойған адам ұйымның бірінші басшысы емес.",
                                  "Подписавший не является первым руководителем организации.",
                                  "The signer is not the organization's first head."),
    "p.reason.HEAD_MISMATCH": _t("Қол қойған адам тізілімде жеткізу күні тіркелген басшы емес.",
                                 "Подписавший — не тот руководитель, который записан в реестре на дату доставки.",
                                 "The signer is not the head the registry records for the delivery date."),
    "p.reason.WRONG_ORGANIZATION": _t("Басқа ұйымның (БСН) кілтімен қол қойылған.",
                                      "Подписано ключом другой организации (БИН).",
                                      "Signed with another organization's key (BIN)."),
    "p.reason.NOT_ORGANIZATION": _t("Жеке тұлғаның кілтімен қол қойылған; ұйымның кілті керек.",
                                    "Подписано ключом физического лица; нужен ключ организации.",
                                    "Signed with an individual's key; the organization's key is needed."),
    "p.reason.CERT_REVOKED": _t("Қолтаңба сертификаты кері қайтарылған.", "Сертификат подписи отозван.",
                                "The signing certificate is revoked."),
    "p.reason.CERT_EXPIRED": _t("Қолтаңба сертификатының мерзімі өткен.", "Срок сертификата подписи истёк.",
                                "The signing certificate has expired."),
    "p.reason.CERT_NOT_YET_VALID": _t("Қолтаңба сертификаты әлі жарамды емес.",
                                      "Сертификат подписи ещё не действует.",
                                      "The signing certificate is not valid yet."),
    "p.reason.CHAIN_UNTRUSTED": _t("Сертификатты сенімді куәландырушы орталық бермеген.",
                                   "Сертификат выдан не доверенным удостоверяющим центром.",
                                   "The certificate was not issued by a trusted certification authority."),
    "p.reason.SIGNATURE_INVALID": _t("Қолтаңба жарамсыз.", "Подпись недействительна.", "The signature is invalid."),
    "p.reason.CONTENT_MISMATCH": _t("Қолтаңба басқа құжатқа қойылған.", "Подпись поставлена под другим документом.",
                                    "The signature is of another document."),
    "p.reason.SIGNATURE_MALFORMED": _t("Қолтаңба оқылмайды.", "Подпись не читается.", "The signature cannot be read."),
    "p.reason.SIGNING_TIME_AFTER_DELIVERY": _t("Қол қою уақыты жеткізу уақытынан кейін.",
                                               "Время подписи позже времени доставки.",
                                               "The signing time is after the delivery."),
    "p.reason.SIGNING_TIME_TOO_OLD": _t("Құжатқа жеткізуден тым ерте қол қойылған.",
                                        "Документ подписан слишком задолго до доставки.",
                                        "The document was signed too long before its delivery."),
    "p.reason.KEY_USAGE": _t("Бұл кілтпен қол қоюға болмайды.", "Этим ключом нельзя подписывать.",
                             "This key may not sign."),
    "p.reason.ALGORITHM_UNSUPPORTED": _t("Қолтаңба алгоритмі қолдау таппайды.", "Алгоритм подписи не поддерживается.",
                                         "The signature's algorithm is not supported."),
    "p.reason.PARTICIPANT_CLOSED": _t("Ұйым бұл күні жұмыс істемейді (жабылған).",
                                      "Организация в эту дату не действует (закрыта).",
                                      "The organization is not active on that date (closed)."),
    "p.reason.NOT_IMMEDIATE_SUPERIOR": _t("Алушы тікелей жоғары тұрған ұйым емес.",
                                          "Получатель — не непосредственно вышестоящая организация.",
                                          "The recipient is not the immediate superior."),
    "p.reason.UNKNOWN_FORM": _t("Нысан жылдың бекітілген тізбесінде жоқ.", "Формы нет в утверждённом перечне года.",
                                "The form is not on the year's approved list."),
    "p.reason.FORM_NOT_APPLICABLE": _t("Нысан ұйымыңызға қатысты емес.", "Форма не относится к вашей организации.",
                                       "The form does not apply to your organization."),
    "p.reason.PERIOD_TYPE_MISMATCH": _t("Кезең нысанның кезеңділігіне сәйкес келмейді.",
                                        "Период не соответствует периодичности формы.",
                                        "The period does not fit the form's periodicity."),
    "p.reason.PERIOD_NOT_OPEN": _t("Бұл кезеңді тапсыру әлі басталмаған.", "Приём за этот период ещё не начался.",
                                   "This period is not open yet."),
    "p.reason.PERIOD_CLOSED": _t("Бұл кезеңді тапсыру аяқталған.", "Приём за этот период закрыт.",
                                 "This period is closed."),
    "p.reason.NO_RECIPIENT": _t("Тапсыратын жоғары тұрған ұйым жоқ.", "Нет вышестоящей организации для сдачи.",
                                "There is no superior to submit to."),
}

"""The Ministry's pages (docs/portal.md): the approved list of forms (printable, with the
registry's PDF), the final reports and their versions with their documents (fetched by the signed
links reporting makes, checked against their SHA-256), a report built on demand with its
progress shown, and analytics: any indicator by node with drill-down nation → region → district
→ school, and a chart. Departments may open the reports and analytics of their own subtree too
(reporting decides what each may read)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError

from uise_common.aggregates import aggregated_cells
from uise_common.inputs import FormCode, ParticipantId, PeriodText
from uise_contracts.events import FormDefinition
from uise_portal import web
from uise_portal.backend import ServiceError
from uise_portal.pages import boards, office
from uise_portal.pages.office import maybe, query
from uise_portal.session import PortalSession

router = APIRouter()
Session = Annotated[PortalSession, Depends(web.signed_in)]
Year = Annotated[int, Path(ge=2000, le=2100)]
Node = Annotated[ParticipantId, Path()]
Code = Annotated[FormCode, Path()]
Period = Annotated[PeriodText, Path()]
Format = Annotated[str, Path(pattern="^(json|xlsx|pdf)$")]
DEPARTMENT_KINDS = frozenset({"ministry", "region", "republic_city", "district", "city"})
PAGE = 50


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


# --- the approved list of forms ----------------------------------------------------------------------


@router.get("/formlists")
async def formlists(request: Request, session: Session, year: Annotated[int | None, Query(ge=2000, le=2100)] = None):
    """The year's list in force with every form, and its earlier versions with what each changed
    (the list is public: every participant may read it, clause 7)."""
    year = year or office.business_now().year
    versions = await web.call(request, session, "registry", "GET", f"/v1/formlists/{year}") or []
    current = office.approved(versions)
    return web.render(request, "ministry/formlists.html", year=year, current=current,
                      versions=list(reversed(versions)), label=lambda p, v: office.label(web.translator(request), p, v))


@router.get("/formlists/{year}/{version}.pdf")
async def formlist_pdf(request: Request, session: Session, year: Year,
                       version: Annotated[int, Path(ge=1, le=10_000)]):
    return await office.download(request, session, "registry", f"/v1/formlists/{year}/{version}.pdf",
                                 f"forms-{year}-v{version}.pdf")


# --- reports ---------------------------------------------------------------------------------------------


async def department_names(request: Request, session: PortalSession) -> dict[str, str]:
    """Names of the departments the person may see (reports are a department's)."""
    lang = web.lang_of(request)
    found = await asyncio.gather(*(web.call(request, session, "registry", "GET", "/v1/participants",
                                            params={"level": level, "limit": 5000})
                                   for level in ("ministry", "region", "district")))
    return {p["participant_id"]: office.name_of(p, lang) for rows in found for p in rows or []}


def latest_per_report(versions: list[dict]) -> list[dict]:
    """One line per report: its newest version, with how many there are."""
    out: dict[str, dict] = {}
    for v in versions:
        seen = out.get(v["report_id"])
        if seen is None or v["version"] > seen["version"]:
            out[v["report_id"]] = {**v, "versions": (seen or {}).get("versions", 0) + 1}
        else:
            seen["versions"] += 1
    return sorted(out.values(), key=lambda v: v["built_at"], reverse=True)


@router.get("/reports")
async def reports(request: Request, session: Session, form_code: Annotated[FormCode | None, Query()] = None,
                  period: Annotated[PeriodText | None, Query()] = None,
                  node_id: Annotated[ParticipantId | None, Query()] = None):
    office.department_only(session)
    pick = await office.picker(request, session, form_code, period)
    found, names = await asyncio.gather(
        web.call(request, session, "reporting", "GET", "/v1/reports",
                 params={k: v for k, v in {"form_code": form_code, "period": period, "node_id": node_id}.items() if v}),
        department_names(request, session))
    rows = latest_per_report(found or [])[:300]
    return web.render(request, "ministry/reports.html", pick=pick, rows=rows, names=names, node_id=node_id,
                      form_code=form_code, period=period, query=query,
                      label=lambda p, v: office.label(web.translator(request), p, v))


@router.get("/reports/{node_id}/{form_code}/{period}")
async def report(request: Request, session: Session, node_id: Node, form_code: Code, period: Period):
    office.department_only(session)
    t = web.translator(request)
    found, who = await asyncio.gather(
        maybe(request, session, "reporting", "GET", f"/v1/reports/{node_id}/{form_code}/{period}"),
        office.participant(request, session, node_id))
    versions = list(reversed((found or {}).get("versions", [])))
    return web.render(request, "ministry/report.html", node_id=node_id, form_code=form_code, period=period,
                      name=office.name_of(who, t.lang) or node_id, versions=versions, query=query,
                      label=lambda p, v: office.label(t, p, v))


@router.post("/reports/{node_id}/{form_code}/{period}/build")
async def build(request: Request, session: Session, node_id: Node, form_code: Code, period: Period):
    """A preliminary version from the node's live figures, built now (it may take a while at the
    Ministry: the page shows progress and comes back to the report when it is done)."""
    office.department_only(session)
    made = await web.call(request, session, "reporting", "POST", f"/v1/reports/{node_id}/{form_code}/{period}/build")
    to = f"/reports/{node_id}/{form_code}/{period}?{query(built=made['version'])}"
    if _wants_json(request):
        return JSONResponse({"version": made["version"], "redirect": to}, status_code=201)
    return RedirectResponse(to, status_code=303)


@router.get("/reports/{node_id}/{form_code}/{period}/{version}/document.{fmt}")
async def report_document(request: Request, session: Session, node_id: Node, form_code: Code, period: Period,
                          version: Annotated[int, Path(ge=1, le=1_000_000)], fmt: Format):
    """A report version's document: reporting makes a fresh signed link, the portal fetches it
    (by the link's path, from reporting itself: the public base URL need not be reachable from
    here) and checks the bytes against the SHA-256 the link was issued with."""
    office.department_only(session)
    report_id = f"{node_id}:{form_code}:{period}"
    links = await web.call(request, session, "reporting", "POST", f"/v1/reports/{report_id}/{version}/links")
    doc = links["documents"].get(fmt)
    if doc is None:
        raise ServiceError(404, "REPORT_NOT_FOUND", {"en": f"{report_id} v{version} has no {fmt}"})
    link = urlsplit(doc["url"])
    resp = await web.backend(request).request("reporting", "GET", f"{link.path}?{link.query}")
    if hashlib.sha256(resp.content).hexdigest() != doc["sha256"]:
        raise ServiceError(502, "REPORT_CHECKSUM", {
            "en": "the document does not match its checksum; try again",
            "ru": "документ не совпадает со своей контрольной суммой; повторите попытку",
            "kk": "құжат бақылау сомасына сәйкес келмейді; қайталап көріңіз"})
    return office.attachment(resp.content, doc["media_type"], f"{node_id}-{form_code}-{period}-v{version}.{fmt}")


# --- analytics -------------------------------------------------------------------------------------------


async def cells_of(request: Request, session: PortalSession, form_code: str, period: str) -> dict[str, str]:
    """The form's cells a consolidation carries (numbers it aggregates), code → title."""
    year = boards.year_of(period)
    raw = await maybe(request, session, "registry", "GET", f"/v1/forms/{form_code}", params={"year": year}) if year \
        else None
    if not raw:
        return {}
    try:
        form = FormDefinition.model_validate(raw)
    except ValidationError:
        return {}
    rules = aggregated_cells(form)
    return {c.code: c.title for c in form.cells() if c.code in rules}


def indicator_bars(items: list[dict], names: dict[str, str], base: dict) -> list[boards.Bar]:
    out = []
    for item in items:
        value = boards.number(item.get("figure"))
        if value is None:
            continue
        href = (f"/analytics?{query(**base, node_id=item['node_id'])}"
                if item.get("kind") in DEPARTMENT_KINDS else None)
        out.append(boards.Bar(names.get(item["node_id"], item["node_id"]), value, item["figure"], "", href))
    return boards.bars(out)


@router.get("/analytics")
async def analytics(request: Request, session: Session, form_code: Annotated[FormCode | None, Query()] = None,
                    period: Annotated[PeriodText | None, Query()] = None,
                    cell: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")] = None,
                    node_id: Annotated[ParticipantId | None, Query()] = None,
                    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0):
    office.department_only(session)
    t = web.translator(request)
    node = node_id or session.participant_id
    pick = await office.picker(request, session, form_code, period)
    cells = await cells_of(request, session, form_code, period) if form_code and period else {}
    cell = cell if cell in cells else next(iter(cells), None)
    if not (form_code and period and cell):
        return web.render(request, "ministry/analytics.html", pick=pick, cells=cells, cell=cell, view=None,
                          form_code=form_code, period=period, node_id=node_id)
    base = {"form_code": form_code, "period": period, "cell": cell}
    view, completeness, names, here = await asyncio.gather(
        web.call(request, session, "reporting", "GET", f"/v1/analytics/{form_code}/{period}/indicators/{cell}",
                 params={"node_id": node, "limit": PAGE, "offset": offset}),
        maybe(request, session, "reporting", "GET", f"/v1/analytics/{form_code}/{period}/completeness",
              params={"node_id": node, "limit": 1}),
        office.names_below(request, session, node),
        office.participant(request, session, node))
    return web.render(request, "ministry/analytics.html", pick=pick, cells=cells, cell=cell, view=view,
                      completeness=completeness, names=names, here_name=office.name_of(here, t.lang) or node,
                      trail=await office.path_to(request, session, here), name_of=office.name_of,
                      chart=indicator_bars(view.get("subordinates", []), names, base), base=base, node=node,
                      form_code=form_code, period=period, node_id=node_id, offset=offset, page=PAGE,
                      departments=DEPARTMENT_KINDS, query=query, label=lambda p, v: office.label(t, p, v),
                      on_time=boards.percent((completeness or {}).get("on_time_rate")),
                      delivered_rate=boards.percent(boards.ratio((completeness or {}).get("delivered", 0),
                                                                 (completeness or {}).get("expected", 0))))


@router.get("/analytics/export.csv")
async def analytics_csv(request: Request, session: Session, form_code: Annotated[FormCode, Query()],
                        period: Annotated[PeriodText, Query()],
                        cell: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
                        node_id: Annotated[ParticipantId, Query()]):
    """The indicator's drill-down as CSV (reporting writes it formula-safe)."""
    office.department_only(session)
    return await office.download(request, session, "reporting", f"/v1/analytics/{form_code}/{period}/indicators/{cell}",
                                 f"{node_id}-{form_code}-{period}-{cell}.csv",
                                 params={"node_id": node_id, "limit": 500, "format": "csv"})


def _tx(kk: str, ru: str, en: str) -> dict[str, str]:
    return {"kk": kk, "ru": ru, "en": en}


# Texts of these pages: key -> {kk, ru, en} (merged into uise_portal.messages.MESSAGES).
TEXTS: dict[str, dict[str, str]] = {
    # --- the list of forms ---------------------------------------------------------------------------
    "m.fl.title": _tx("{year} жылға арналған нысандар тізбесі", "Перечень форм на {year} год", "List of forms for {year}"),
    "m.fl.years": _tx("Жылдар", "Годы", "Years"),
    "m.fl.pdf": _tx("Басып шығаруға арналған PDF", "PDF для печати", "PDF to print"),
    "m.fl.none": _tx("{year} жылға бекітілген тізбе жоқ.", "Утверждённого перечня на {year} год нет.",
                     "No approved list for {year}."),
    "m.fl.order": _tx("{version}-нұсқа, {order_date} № {order_no} бұйрық", "Версия {version}, приказ № {order_no} от {order_date}",
                      "Version {version}, order No. {order_no} of {order_date}"),
    "m.fl.code": _tx("Коды", "Код", "Code"),
    "m.fl.form": _tx("Нысан", "Форма", "Form"),
    "m.fl.category": _tx("Санаты", "Категория", "Category"),
    "m.fl.periodicity": _tx("Кезеңділігі", "Периодичность", "Periodicity"),
    "m.fl.respondents": _tx("Кім тапсырады", "Кто представляет", "Respondents"),
    "m.fl.deadlines": _tx("Мерзімдері", "Сроки", "Deadlines"),
    "m.fl.signers": _tx("Кім қол қояды", "Кто подписывает", "Signed by"),
    "m.fl.cells": _tx("көрсеткіштер: {n}", "показателей: {n}", "indicators: {n}"),
    "m.fl.sections": _tx("кестелер: {n}", "таблиц: {n}", "tables: {n}"),
    "m.fl.days": _tx("{level}: кезең аяқталғаннан кейін {days} күн", "{level}: {days} дн. после окончания периода",
                     "{level}: {days} days after the period"),
    "m.fl.versions": _tx("Тізбенің нұсқалары", "Версии перечня", "Versions of the list"),
    "m.fl.status_approved": _tx("қолданыста", "действует", "in force"),
    "m.fl.status_superseded": _tx("ауыстырылды", "заменена", "superseded"),
    "m.fl.added": _tx("Қосылды: {codes}.", "Добавлены: {codes}.", "Added: {codes}."),
    "m.fl.removed": _tx("Алып тасталды: {codes}.", "Исключены: {codes}.", "Removed: {codes}."),
    "m.fl.changed": _tx("Өзгертілді: {codes}.", "Изменены: {codes}.", "Changed: {codes}."),
    "m.cat.indicators": _tx("көрсеткіштер", "показатели", "indicators"),
    "m.cat.monitoring": _tx("мониторинг", "мониторинг", "monitoring"),
    "m.cat.other": _tx("басқа", "прочее", "other"),
    "m.per.annual": _tx("жылдық", "годовая", "annual"),
    "m.per.semiannual": _tx("жартыжылдық", "полугодовая", "semiannual"),
    "m.per.quarterly": _tx("тоқсандық", "квартальная", "quarterly"),
    "m.per.monthly": _tx("айлық", "месячная", "monthly"),
    "m.per.as_of_date": _tx("белгілі бір күнгі жағдай бойынша", "на дату", "as of a date"),
    "m.per.ad_hoc": _tx("біржолғы", "разовая", "ad hoc"),
    "m.signers.first_head": _tx("бірінші басшы", "первый руководитель", "the first head"),
    "m.signers.first_head_or_right_to_sign": _tx("бірінші басшы немесе қол қою құқығы бар қызметкер",
                                                 "первый руководитель или сотрудник с правом подписи",
                                                 "the first head or an employee with the right to sign"),
    # --- reports --------------------------------------------------------------------------------------
    "m.rep.title": _tx("Есептер", "Отчёты", "Reports"),
    "m.rep.lead": _tx("Органдардың қорытынды есептері және олардың нұсқалары; құжаттар қолтаңбалы сілтемелер арқылы "
                      "алынып, бақылау сомасымен тексеріледі.",
                      "Итоговые отчёты органов и их версии; документы получаются по подписанным ссылкам и сверяются "
                      "с контрольной суммой.",
                      "The departments' final reports and their versions; the documents are fetched by signed links "
                      "and checked against their checksums."),
    "m.rep.any": _tx("барлығы", "все", "any"),
    "m.rep.node": _tx("Орган", "Орган", "Department"),
    "m.rep.status": _tx("Мәртебесі", "Статус", "Status"),
    "m.rep.latest": _tx("Соңғы нұсқа", "Последняя версия", "Latest version"),
    "m.rep.built": _tx("Жасалды", "Сформирован", "Built"),
    "m.rep.status_final": _tx("қорытынды", "итоговый", "final"),
    "m.rep.status_preliminary": _tx("алдын ала", "предварительный", "preliminary"),
    "m.rep.version_of": _tx("{version}-нұсқа (барлығы {count})", "версия {version} (всего {count})",
                            "version {version} (of {count})"),
    "m.rep.none": _tx("Есептер әлі жоқ.", "Отчётов пока нет.", "No reports yet."),
    "m.rep.one": _tx("Есеп: {node}", "Отчёт: {node}", "Report: {node}"),
    "m.rep.build": _tx("Қазір жасау (алдын ала нұсқа)", "Сформировать сейчас (предварительная версия)",
                       "Build now (a preliminary version)"),
    "m.rep.building": _tx("Есеп жасалуда…", "Отчёт формируется…", "Building the report…"),
    "m.rep.build_note": _tx("Алдын ала нұсқа бағыныстылардың қазір қабылданған деректерінен жасалады және басқа "
                            "министрліктерге жарияланады.",
                            "Предварительная версия строится из принятых сейчас данных подчинённых и публикуется для "
                            "других министерств.",
                            "A preliminary version is built from the subordinates' data accepted now and published to "
                            "other ministries."),
    "m.rep.no_versions": _tx("Бұл есептің нұсқалары әлі жоқ.", "У этого отчёта ещё нет версий.",
                             "This report has no versions yet."),
    "m.rep.version": _tx("{version}-нұсқа", "Версия {version}", "Version {version}"),
    "m.rep.built_from": _tx("Жасалды: {at}; {n} қабылданған тапсырылым негізінде",
                            "Сформирован: {at}; на основе принятых представлений: {n}",
                            "Built {at} from {n} accepted submissions"),
    "m.rep.totals": _tx("Жиындар", "Итоги", "Totals"),
    "m.rep.changes": _tx("Алдыңғы нұсқамен салыстырғандағы өзгерістер: {n}", "Изменения против предыдущей версии: {n}",
                         "Changes since the previous version: {n}"),
    "m.rep.signed": _tx("Қолтаңба кілті: {key_id}", "Ключ подписи: {key_id}", "Signature key: {key_id}"),
    # --- analytics ----------------------------------------------------------------------------------------
    "m.an.title": _tx("Талдау", "Аналитика", "Analytics"),
    "m.an.indicator": _tx("Көрсеткіш", "Показатель", "Indicator"),
    "m.an.choose": _tx("Нысанды, кезеңді және көрсеткішті таңдаңыз.", "Выберите форму, период и показатель.",
                       "Choose a form, a period and an indicator."),
    "m.an.no_cells": _tx("Бұл нысанда жинақталатын сандық көрсеткіштер жоқ немесе нысан сол жылдың тізбесінде жоқ.",
                         "В этой форме нет сводимых числовых показателей, или формы нет в перечне этого года.",
                         "This form has no numeric indicators that consolidate, or it is not on that year's list."),
    "m.an.figure": _tx("Мәні ({rule})", "Значение ({rule})", "Figure ({rule})"),
    "m.an.contributors": _tx("Есепке алынғандар", "Учтено участников", "Contributors"),
    "m.an.delivered": _tx("Тапсырған ұйымдар", "Представившие организации", "Organizations delivered"),
    "m.an.empty_note": _tx("Бұл түйіннің мәні бағыныстылары өз жиынтығын жоғары жібергенде шығады; әзірге төменде "
                           "олардың өз мәндері.",
                           "Значение узла появится, когда подчинённые отправят свои своды наверх; пока ниже их "
                           "собственные значения.",
                           "The node's figure appears once its subordinates submit their consolidations up; meanwhile "
                           "their own figures are below."),
    "m.an.chart": _tx("{indicator}: бағыныстылар бойынша", "{indicator}: по подчинённым", "{indicator} by subordinate"),
    "m.an.figure_col": _tx("Мәні", "Значение", "Figure"),
    "m.an.submitted": _tx("Жоғары жіберілгені", "Отправлено наверх", "Submitted up"),
    "m.an.no_subordinates": _tx("Бағыныстылар жоқ.", "Подчинённых нет.", "No subordinates."),
    "m.an.prev": _tx("Алдыңғы", "Назад", "Previous"),
    "m.an.next": _tx("Келесі", "Далее", "Next"),
    "m.an.csv": _tx("CSV жүктеу", "Скачать CSV", "Download CSV"),
    "m.rule.sum": _tx("сомасы", "сумма", "sum"),
    "m.rule.mean": _tx("орташасы", "среднее", "mean"),
    "m.rule.min": _tx("ең азы", "минимум", "minimum"),
    "m.rule.max": _tx("ең көбі", "максимум", "maximum"),
}

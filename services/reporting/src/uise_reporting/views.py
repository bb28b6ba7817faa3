"""What the API answers, from reporting's tables (thin routes call these)."""

from __future__ import annotations

from sqlmodel import Session, select

from uise_common.aggregates import aggregated_cells, combine, figures, plain
from uise_common.http import ApiError, refusals
from uise_contracts.events import StoredObject
from uise_reporting import queries, reports
from uise_reporting.adapters import Consolidation, KnownParticipant, ReportVersion

# The status of each reason code reporting's routes refuse with (OpenAPI responses).
STATUS = {"CONSOLIDATION_NOT_FOUND": 404, "FORM_NOT_FOUND": 404, "REPORT_NOT_FOUND": 404, "NODE_UNKNOWN": 404,
          "NODE_NOT_FOUND": 404, "CELL_NOT_FOUND": 404, "NOT_A_DEPARTMENT": 409, "REPORT_BUSY": 409,
          "LINK_INVALID": 403, "LINK_EXPIRED": 410}


def refused(*codes: str) -> dict[int, dict]:
    """A route's refusals (OpenAPI responses) by reason code."""
    return refusals(STATUS, *codes)


def not_found(node_id: str, form_code: str, period: str) -> ApiError:
    what = f"{node_id} {form_code} {period}"
    return ApiError(404, "CONSOLIDATION_NOT_FOUND", f"no consolidated document of {what}",
                    f"сводный документ {what} не найден", f"{what} жиынтық құжаты табылмады")


def form_not_known(form_code: str, period: str) -> ApiError:
    return ApiError(404, "FORM_NOT_FOUND", f"form {form_code} is not on an approved list for {period}",
                    f"форма {form_code} не входит в утверждённый перечень на {period}",
                    f"{form_code} нысаны {period} кезеңіне бекітілген тізбеде жоқ")


def live_figures(session: Session, node_id: str, form_code: str, period: str) -> dict:
    form = queries.form_for(session, form_code, period)
    if form is None:
        raise form_not_known(form_code, period)
    current = queries.current_submissions(session, node_id, form_code, period)
    aggs = combine(queries.contribution_of(form, row) for row in current.values())
    shown = figures(aggregated_cells(form), aggs)
    return {"node_id": node_id, "form_code": form_code, "period": period, "contributors": len(current),
            "submissions": {p: r.submission_id for p, r in sorted(current.items())},
            "figures": {c: None if v is None else plain(v) for c, v in shown.items()},
            "aggregates": {c: a.contract().model_dump() for c, a in aggs.items()}}


def versions(session: Session, node_id: str | None, form_code: str | None, period: str | None) -> list[dict]:
    return [queries.metadata(c) for c in queries.consolidations(session, node_id, form_code, period)]


def version(session: Session, node_id: str, form_code: str, period: str, number: int | None) -> dict:
    q = select(Consolidation).where(Consolidation.node_id == node_id, Consolidation.form_code == form_code,
                                    Consolidation.period == period)
    q = q.where(Consolidation.version == number) if number else q.order_by(Consolidation.version.desc())
    row = session.exec(q).first()
    if row is None:
        raise not_found(node_id, form_code, period)
    return queries.metadata(row)


def document_of(meta: dict, kind: str) -> StoredObject:
    return StoredObject.model_validate(meta["documents"][kind])


def report_not_found(node_id: str, form_code: str, period: str) -> ApiError:
    what = f"{node_id} {form_code} {period}"
    return ApiError(404, "REPORT_NOT_FOUND", f"no report of {what}", f"отчёт {what} не найден",
                    f"{what} есебі табылмады")


def report(session: Session, node_id: str, form_code: str, period: str) -> dict:
    """A report's versions, oldest first, each with what changed since the one before."""
    rows = reports.versions(session, node_id, form_code, period)
    if not rows:
        raise report_not_found(node_id, form_code, period)
    return {"report_id": reports.report_id_of(node_id, form_code, period), "node_id": node_id,
            "form_code": form_code, "period": period, "versions": [reports.metadata(r) for r in rows]}


def build_report(session: Session, node_id: str, form_code: str, period: str, put, signer,
                 link=None) -> tuple[dict, object]:
    """A preliminary version on demand from the node's live figures: (its metadata, the event).
    Only a department (district, region) or the Ministry has a report: an organization consolidates
    nothing."""
    if session.get(KnownParticipant, node_id) is None:
        raise ApiError(404, "NODE_UNKNOWN", f"participant {node_id} is not known to reporting",
                       f"участник {node_id} неизвестен", f"{node_id} қатысушысы белгісіз")
    if reports.level_of(session, node_id).value == "organization":
        raise ApiError(409, "NOT_A_DEPARTMENT", f"{node_id} is an organization: it has no consolidated report",
                       f"{node_id} — организация: сводного отчёта у неё нет",
                       f"{node_id} — ұйым: оның жиынтық есебі жоқ")
    event = reports.build_on_demand(session, node_id, form_code, period, put, signer, link)
    if event is None:
        raise form_not_known(form_code, period)
    row = session.get(ReportVersion, f"{event.report_id}:{event.version}")
    return reports.metadata(row), event

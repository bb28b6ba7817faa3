"""What the API answers, from reporting's tables (thin routes call these)."""

from __future__ import annotations

from sqlmodel import Session, select

from uise_common.aggregates import aggregated_cells, combine, figures, plain
from uise_common.http import ApiError
from uise_contracts.events import StoredObject
from uise_reporting import queries
from uise_reporting.adapters import Consolidation


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

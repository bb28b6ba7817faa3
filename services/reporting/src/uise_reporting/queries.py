"""Read-side questions over reporting's tables, shared by the consumers and the API."""

from __future__ import annotations

import json
import logging

from sqlmodel import Session, col, func, select

from uise_common.aggregates import Agg, aggregated_cells, contribution
from uise_contracts.events import FormDefinition
from uise_reporting.adapters import AcceptedSubmission, Consolidation, KnownForm, ReturnedSubmission

log = logging.getLogger(__name__)


def form_for(session: Session, form_code: str, period: str) -> FormDefinition | None:
    """The form in force for the period's year (the latest approved list's definition)."""
    try:
        year = int(period[:4])
    except ValueError:
        return None
    known = session.get(KnownForm, (form_code, year))
    return None if known is None else FormDefinition.model_validate_json(known.definition)


def current_submissions(session: Session, node_id: str, form_code: str, period: str) -> dict[str, AcceptedSubmission]:
    """participant -> its current accepted submission at the node. A submission is current when
    no accepted submission supersedes it (by the `supersedes` link, whatever the arrival order)
    and it was not returned. Should a broken chain leave two candidates (a correction of a
    version reporting never saw accepted), the later accepted one stands."""
    rows = session.exec(select(AcceptedSubmission).where(
        AcceptedSubmission.node_id == node_id, AcceptedSubmission.form_code == form_code,
        AcceptedSubmission.period == period)).all()
    superseded = {r.supersedes for r in rows if r.supersedes}
    ids = [r.submission_id for r in rows]
    returned = set(session.exec(select(ReturnedSubmission.submission_id).where(
        col(ReturnedSubmission.submission_id).in_(ids)))) if ids else set()
    out: dict[str, AcceptedSubmission] = {}
    for r in sorted(rows, key=lambda r: (r.accepted_at, r.submission_id)):
        if r.submission_id not in superseded and r.submission_id not in returned:
            out[r.participant_id] = r
    return out


def contribution_of(form: FormDefinition, row: AcceptedSubmission) -> dict[str, Agg]:
    """What one kept submission stands for in each aggregated cell of the form."""
    values, cells = json.loads(row.values), aggregated_cells(form)
    try:
        return contribution(values, json.loads(row.aggregates), cells)
    except ValueError:  # validation only passes exact aggregates: never expected
        log.error("accepted aggregates unreadable; counting the values", extra={"submission_id": row.submission_id})
        return contribution(values, None, cells)


def next_version(session: Session, node_id: str, form_code: str, period: str) -> int:
    latest = session.exec(select(func.max(Consolidation.version)).where(
        Consolidation.node_id == node_id, Consolidation.form_code == form_code,
        Consolidation.period == period)).one()
    return (latest or 0) + 1


def consolidations(session: Session, node_id: str | None = None, form_code: str | None = None,
                   period: str | None = None) -> list[Consolidation]:
    q = select(Consolidation)
    if node_id:
        q = q.where(Consolidation.node_id == node_id)
    if form_code:
        q = q.where(Consolidation.form_code == form_code)
    if period:
        q = q.where(Consolidation.period == period)
    return list(session.exec(q.order_by(Consolidation.node_id, Consolidation.form_code, Consolidation.period,
                                        Consolidation.version)))


def metadata(c: Consolidation) -> dict:
    """What the API shows of a consolidation version (the documents by key, not their bytes)."""
    return {"consolidation_id": c.consolidation_id, "node_id": c.node_id, "form_code": c.form_code,
            "period": c.period, "version": c.version, "reason": c.reason, "due_id": c.due_id,
            "documents": json.loads(c.documents), "totals": json.loads(c.totals),
            "aggregates": json.loads(c.aggregates), **json.loads(c.lists),
            "built_at": c.built_at.isoformat()}

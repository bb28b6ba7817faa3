"""Report versions (clauses 13, 14; docs/reports.md): one per consolidation version reporting
builds, and one on demand from the node's live figures. A version is never overwritten: its
documents (JSON, XLSX, PDF) are stored by content hash, its row is inserted once, and it says what
changed since the previous version. Its manifest is signed with reporting's document key."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from uise_common.aggregates import Agg, aggregated_cells, combine, figures, plain
from uise_common.db import utcnow
from uise_common.docsign import DocumentSigner, report_manifest
from uise_common.hierarchy import form_applies
from uise_contracts.events import (
    FormDefinition,
    Level,
    ReportChange,
    ReportDocument,
    ReportPublished,
    ReportSignature,
    StoredObject,
)
from uise_reporting import domain, queries, report_documents
from uise_reporting.adapters import (
    AcceptedSubmission,
    Consolidation,
    KnownFormList,
    KnownParticipant,
    ReportVersion,
    Violation,
)

PutDocument = Callable[[bytes, str, str], StoredObject]  # (data, kind, media_type)
Link = Callable[[str, int, str], tuple[str, datetime]]  # (report_id, version, fmt) -> (url, expires_at)
KIND = "reports"

_LEVEL_OF_KIND = {"ministry": Level.ministry, "region": Level.region, "republic_city": Level.region,
                  "district": Level.district, "city": Level.district}


class VersionTaken(Exception):
    """Another replica built this version (a consolidation's or a report's) at the same time:
    retry (the next version is free)."""


def _unsigned_link(report_id: str, version: int, fmt: str) -> tuple[str, datetime]:
    """The API path alone, for builds without reporting's link key (handler tests, tools): the
    service always passes its signed links (uise_reporting.published.Linker)."""
    return f"/v1/reports/{report_id}/{version}/document.{fmt}", utcnow() + timedelta(hours=1)


def report_id_of(node_id: str, form_code: str, period: str) -> str:
    return f"{node_id}:{form_code}:{period}"


def level_of(session: Session, participant_id: str) -> Level:
    known = session.get(KnownParticipant, participant_id)
    return _LEVEL_OF_KIND.get(known.kind, Level.organization) if known else Level.organization


def _figures_of(form: FormDefinition, aggs: Mapping[str, Agg]) -> dict[str, str | None]:
    rules = aggregated_cells(form)
    shown = figures(rules, {c: aggs[c] for c in rules if c in aggs})
    return {c: None if v is None else plain(v) for c, v in shown.items()}


def _breakdown(session: Session, form: FormDefinition, period: str,
               chosen: Mapping[str, AcceptedSubmission], depth: int = 2) -> list[dict]:
    """Each subordinate's figures from the submission counted (a department's: its accepted
    consolidated submission), and below a department, its own subordinates' current ones."""
    out = []
    for participant, row in sorted(chosen.items()):
        entry = {"participant_id": participant, "level": level_of(session, participant).value,
                 "submission_id": row.submission_id,
                 "figures": _figures_of(form, queries.contribution_of(form, row)), "subordinates": []}
        if depth > 1:
            below = queries.current_submissions(session, participant, form.code, period)
            entry["subordinates"] = _breakdown(session, form, period, below, depth - 1)
        out.append(entry)
    return out


def _counts(level: str, lists: Mapping[str, list]) -> dict:
    delivered, late = len(lists["included"]), len(set(lists["late"]) & set(lists["included"]))
    missing, returned = len(lists["missing"]), len(lists.get("returned", []))
    return {"level": level, "expected": delivered + missing + returned, "delivered": delivered,
            "on_time": delivered - late, "late": late, "missing": missing, "returned": returned}


def _completeness(session: Session, form_code: str, period: str, lists: Mapping[str, list]) -> list[dict]:
    """Per level below the node: the node's own lists (the due's), then the sum over the latest
    consolidation of each delivering department one level down, and so on."""
    out, nodes, current = [], list(lists["included"]), lists
    levels = sorted({level_of(session, p).value for p in [*current["included"], *current["missing"]]})
    out.append(_counts("/".join(levels) or "organization", current))
    for _ in range(3):  # region -> district -> organization at most
        merged: dict[str, list] = {"included": [], "late": [], "missing": [], "returned": []}
        found = False
        for node in nodes:
            c = session.exec(select(Consolidation).where(
                Consolidation.node_id == node, Consolidation.form_code == form_code, Consolidation.period == period)
                .order_by(col(Consolidation.version).desc())).first()
            if c is None:
                continue
            found = True
            for k, v in json.loads(c.lists).items():
                if k in merged:
                    merged[k] += v
        if not found:
            break
        levels = sorted({level_of(session, p).value for p in [*merged["included"], *merged["missing"]]})
        out.append(_counts("/".join(levels) or "organization", merged))
        nodes = merged["included"]
    return out


def _beneath(session: Session, form_code: str, period: str,
             chosen: Mapping[str, AcceptedSubmission]) -> list[AcceptedSubmission]:
    """Every current accepted submission the report rests on, at every level below the node: the
    chosen ones and, below each department's, its subordinates' current ones (one query per
    department, never per organization)."""
    out, todo = [], list(chosen.values())
    while todo:
        row = todo.pop()
        out.append(row)
        if row.level not in (None, Level.organization.value):
            todo.extend(queries.current_submissions(session, row.participant_id, form_code, period).values())
    return out


def _findings(rows: list[AcceptedSubmission]) -> list[dict]:
    """Validation's findings on the accepted data, by rule: how many submissions carry each and
    how many of those the submitter explained (clause 11's queries)."""
    by_rule: dict[tuple[str, str], dict] = {}
    for row in rows:
        for f in json.loads(row.findings or "[]"):
            entry = by_rule.setdefault((f["rule"], f["severity"]), {
                "rule": f["rule"], "severity": f["severity"], "message": f.get("message", ""),
                "submissions": 0, "explained": 0, "participants": []})
            entry["submissions"] += 1
            entry["explained"] += bool(f.get("explanation"))
            entry["participants"].append(row.participant_id)
    return [{**e, "participants": sorted(set(e["participants"]))} for _, e in sorted(by_rule.items())]


def _corrections(session: Session, form: FormDefinition, rows: list[AcceptedSubmission]) -> list[dict]:
    """Distorted data corrected (clause 11): each current submission that corrects one already
    accepted, with the cells it changed against the version it supersedes."""
    out = []
    for row in sorted((r for r in rows if r.corrects_accepted), key=lambda r: (r.accepted_at, r.submission_id)):
        earlier = session.get(AcceptedSubmission, row.supersedes) if row.supersedes else None
        before = _figures_of(form, queries.contribution_of(form, earlier)) if earlier else {}
        out.append({"participant_id": row.participant_id, "level": row.level or Level.organization.value,
                    "submission_id": row.submission_id, "supersedes": row.supersedes,
                    "accepted_at": row.accepted_at.isoformat(),
                    "changes": changes_between(before, _figures_of(form, queries.contribution_of(form, row)))})
    return out


def _form_list(session: Session, form: FormDefinition, period: str) -> dict | None:
    year = int(period[:4])
    latest = session.exec(select(KnownFormList).where(KnownFormList.year == year)
                          .order_by(col(KnownFormList.version).desc())).first()
    if latest is None:
        return None
    return {"year": latest.year, "version": latest.version, "order_no": latest.order_no,
            "order_date": latest.order_date}


def _previous(session: Session, report_id: str) -> ReportVersion | None:
    return session.exec(select(ReportVersion).where(ReportVersion.report_id == report_id)
                        .order_by(col(ReportVersion.version).desc())).first()


def is_final(level: Level, reason: str, lists: Mapping[str, list]) -> bool:
    """The national consolidation with every expected region in it: the due says `complete`, or
    something changed below afterwards (`update`, `correction`) and still none is missing or
    returned. Anything else (a node below, a deadline with regions missing, a build on demand)
    is preliminary."""
    return (level == Level.ministry and reason in ("complete", "update", "correction")
            and not lists.get("missing") and not lists.get("returned"))


def changes_between(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> list[dict]:
    return [{"cell": c, "before": before.get(c), "after": after.get(c)}
            for c in [*after, *(c for c in before if c not in after)] if before.get(c) != after.get(c)]


def build(session: Session, *, form: FormDefinition, node_id: str, period: str,
          chosen: Mapping[str, AcceptedSubmission], lists: Mapping[str, list], reason: str,
          level: Level | None, due_id: str | None, put: PutDocument, signer: DocumentSigner,
          built_at: datetime | None = None, link: Link | None = None) -> ReportPublished:
    """Build, store and sign the next version of the node's report; insert its row; answer the
    event to publish (the caller's transaction publishes it through the outbox, exactly once)."""
    report_id = report_id_of(node_id, form.code, period)
    level = level or level_of(session, node_id)
    previous = _previous(session, report_id)
    version = (previous.version if previous else 0) + 1
    status = "final" if is_final(level, reason, lists) else "preliminary"
    aggs = combine(queries.contribution_of(form, row) for row in chosen.values())
    rules = aggregated_cells(form)
    ordered = {c: aggs[c] for c in rules if c in aggs}
    totals = _figures_of(form, ordered)
    before = json.loads(previous.summary) if previous else {}
    changes = changes_between(before, totals) if previous else []
    built_at = built_at or utcnow()
    beneath = _beneath(session, form.code, period, chosen)
    content = report_documents.Content(
        report_id=report_id, node_id=node_id, level=level.value, form=form, period=period, version=version,
        status=status, reason=reason, built_at=built_at, form_list=_form_list(session, form, period),
        totals=totals, aggregates={c: a.contract().model_dump() for c, a in ordered.items()},
        breakdown=_breakdown(session, form, period, chosen),
        completeness=_completeness(session, form.code, period, lists),
        findings=_findings(beneath), corrections=_corrections(session, form, beneath),
        submissions=[{"participant_id": p, "submission_id": r.submission_id, "level": r.level}
                     for p, r in sorted(chosen.items())],
        changes=changes, previous_version=previous.version if previous else None)
    # Documents first (content-addressed: a retry rewrites the same kind of object), then the row.
    stored = {"json": put(report_documents.json_document(content), KIND, report_documents.JSON),
              "xlsx": put(report_documents.xlsx_document(content), KIND, report_documents.XLSX),
              "pdf": put(report_documents.pdf_document(content), KIND, report_documents.PDF)}
    manifest = report_manifest(report_id, version, {fmt: o.sha256 for fmt, o in stored.items()})
    signature = signer.signature(manifest)
    session.add(ReportVersion(
        id=f"{report_id}:{version}", report_id=report_id, node_id=node_id, form_code=form.code, period=period,
        version=version, level=level.value, status=status, trigger=due_id or f"build:{uuid.uuid4()}", due_id=due_id,
        documents=json.dumps({f: o.model_dump() for f, o in stored.items()}), summary=json.dumps(totals),
        changes=json.dumps(changes), signature=json.dumps(signature), built_from=len(chosen), built_at=built_at))
    try:
        session.flush()  # a replica racing for this version (or due) fails here and retries
    except IntegrityError as exc:
        raise VersionTaken(f"{report_id} v{version}: built concurrently; retrying") from exc
    docs = {}
    for fmt, obj in stored.items():
        url, expires_at = (link or _unsigned_link)(report_id, version, fmt)
        docs[fmt] = ReportDocument(media_type=obj.media_type, sha256=obj.sha256, size=obj.size, url=url,
                                   expires_at=expires_at)
    return ReportPublished(
        report_id=report_id, node_id=node_id, form_code=form.code, period=period, document=stored["json"],
        totals={c: _number(v) for c, v in totals.items()}, level=level, version=version, status=status,
        summary=totals, documents=docs, changes=[ReportChange(**c) for c in changes],
        signature=ReportSignature(**signature), built_from=len(chosen), published_at=built_at)


def _number(v: str | None) -> float | int | None:
    if v is None:
        return None
    n = domain.as_number(Decimal(v))
    return float(n) if not isinstance(n, int) else n


def build_on_demand(session: Session, node_id: str, form_code: str, period: str, put: PutDocument,
                    signer: DocumentSigner, link: Link | None = None) -> ReportPublished | None:
    """A preliminary version from the node's live figures (its subordinates' current accepted
    submissions); the expected are its active subordinates the form applies to. None: the form is
    not on an approved list of the period's year."""
    form = queries.form_for(session, form_code, period)
    if form is None:
        return None
    chosen = queries.current_submissions(session, node_id, form_code, period)
    levels = [lv.value for lv in form.deadline_days]
    expected = [p for p in session.exec(select(KnownParticipant).where(
        KnownParticipant.parent_id == node_id, col(KnownParticipant.active).is_(True)))
        if form_applies(p.kind, level_of(session, p.participant_id).value, form.respondent_kinds, levels)]
    late = set(session.exec(select(Violation.participant_id).where(
        Violation.form_code == form_code, Violation.period == period, Violation.kind == "late",
        col(Violation.participant_id).in_(list(chosen))))) if chosen else set()
    lists = {"included": sorted(chosen), "late": sorted(late),
             "missing": sorted(p.participant_id for p in expected if p.participant_id not in chosen), "returned": []}
    return build(session, form=form, node_id=node_id, period=period, chosen=chosen, lists=lists,
                 reason="on_demand", level=None, due_id=None, put=put, signer=signer, link=link)


# --- what the API shows (metadata only) -------------------------------------------------------


def metadata(r: ReportVersion) -> dict:
    return {"report_id": r.report_id, "node_id": r.node_id, "form_code": r.form_code, "period": r.period,
            "version": r.version, "level": r.level, "status": r.status, "built_at": r.built_at.isoformat(),
            "built_from": r.built_from, "summary": json.loads(r.summary), "changes": json.loads(r.changes),
            "documents": {f: {k: o[k] for k in ("media_type", "sha256", "size")}
                          for f, o in json.loads(r.documents).items()},
            "signature": json.loads(r.signature)}


def versions(session: Session, node_id: str | None = None, form_code: str | None = None,
             period: str | None = None) -> list[ReportVersion]:
    q = select(ReportVersion)
    if node_id:
        q = q.where(ReportVersion.node_id == node_id)
    if form_code:
        q = q.where(ReportVersion.form_code == form_code)
    if period:
        q = q.where(ReportVersion.period == period)
    return list(session.exec(q.order_by(ReportVersion.node_id, ReportVersion.form_code, ReportVersion.period,
                                        ReportVersion.version)))

"""What deadline answers about: the calendar of a year, effective deadlines, and a node's
completeness and timeliness, live (DHIS2's REPORTING_RATE and REPORTING_RATE_ON_TIME beside the
counts)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from uise_deadline import consolidation
from uise_deadline.adapters import (
    CalendarEntry,
    ConsolidationState,
    Deadline,
    KnownForm,
    KnownParticipant,
    Timeliness,
    Violation,
)
from uise_deadline.expectations import (
    BELOW,
    expected,
    form_of,
    period_last_day,
    subordinates,
    superior_on,
)
from uise_deadline.handlers import aware, calendar_of, deadline_for


def calendar_year(session: Session, year: int) -> dict:
    calendar = calendar_of(session)
    entries = session.exec(select(CalendarEntry).order_by(col(CalendarEntry.day), col(CalendarEntry.id))).all()
    return {
        "year": year,
        "days_off": [_jsonable(d) for d in calendar.days_off(year)],
        "transfers": [_jsonable(t) for t in calendar.transfers(year)],
        "operator_entries": [entry_view(e) for e in entries if e.day.year == year],
    }


def entry_view(e: CalendarEntry) -> dict:
    return {"id": e.id, "day": e.day.isoformat(), "kind": e.kind, "decree": e.decree, "note": e.note,
            "entered_by": e.entered_by, "entered_at": aware(e.entered_at).isoformat(),
            "withdrawn_by": e.withdrawn_by,
            "withdrawn_at": aware(e.withdrawn_at).isoformat() if e.withdrawn_at else None}


def _jsonable(item) -> dict:
    """A calendar day as the calendar module describes it (a dataclass or a tuple)."""
    if hasattr(item, "__dataclass_fields__"):
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in item.__dict__.items()}
    day, name = item
    return {"day": day.isoformat(), "name": name}


def deadlines(session: Session, form_code: str | None, period: str | None, level: str | None,
              year: int | None, limit: int) -> list[dict]:
    q = select(Deadline).order_by(col(Deadline.form_code), col(Deadline.period), col(Deadline.level)).limit(limit)
    for column, value in ((Deadline.form_code, form_code), (Deadline.period, period), (Deadline.level, level),
                          (Deadline.year, year)):
        if value is not None:
            q = q.where(column == value)
    return [{"form_code": d.form_code, "period": d.period, "level": d.level, "rule_date": d.rule_date.isoformat(),
             "deadline_at": aware(d.deadline_at).astimezone(_almaty()).isoformat(),
             "moved": d.rule_date != aware(d.deadline_at).astimezone(_almaty()).date(),
             "swept_at": aware(d.swept_at).isoformat() if d.swept_at else None} for d in session.exec(q)]


def _almaty():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Almaty")


def node_timeliness(session: Session, node_id: str, form_code: str, period: str) -> dict | None:
    """Per node: whom it expects this form from (its direct subordinates the form applies to),
    who delivered, on time or late (a chain by its first version), who is missing."""
    node = session.get(KnownParticipant, node_id)
    children = session.exec(select(KnownParticipant).where(KnownParticipant.parent_id == node_id)).all()
    if node is None or not children:
        return None
    level = children[0].level
    deadline = session.get(Deadline, (form_code, period, level))
    year = deadline.year if deadline else int(period[:4])
    form = session.get(KnownForm, (form_code, year))
    if form is None:
        return None
    end = period_last_day(period)  # by the hierarchy in force for the period
    expected_ids = {p.participant_id for p in expected(session, form, period, level) if superior_on(p, end) == node_id}
    firsts = {}
    for row in session.exec(select(Timeliness).where(Timeliness.form_code == form_code, Timeliness.period == period,
                                                     col(Timeliness.participant_id).in_(expected_ids))):
        if row.judged_by in (None, row.submission_id):
            firsts[row.participant_id] = row
    on_time = sum(1 for r in firsts.values() if r.on_time)
    late = sum(1 for r in firsts.values() if r.on_time is False)
    missing = session.exec(select(Violation.participant_id).where(
        Violation.form_code == form_code, Violation.period == period, Violation.kind == "missing",
        col(Violation.participant_id).in_(expected_ids))).all()
    n = len(expected_ids)
    return {
        "node_id": node_id, "form_code": form_code, "period": period, "level": level,
        "deadline_at": aware(deadline.deadline_at).astimezone(_almaty()).isoformat() if deadline else None,
        "expected": n, "delivered": len(firsts), "on_time": on_time, "late": late, "missing": len(missing),
        "not_yet_delivered": sorted(expected_ids - set(firsts)),
        "reporting_rate": round(len(firsts) / n, 4) if n else None,
        "reporting_rate_on_time": round(on_time / n, 4) if n else None,
    }


def node_consolidation(session: Session, node_id: str, form_code: str, period: str) -> dict | None:
    """Per node: what its consolidation counts now (by the hierarchy in force for the period) and
    the last `consolidation.due` it was sent."""
    node = session.get(KnownParticipant, node_id)
    form = form_of(session, form_code, period)
    below = BELOW.get(node.level) if node is not None else None
    if form is None or below is None:
        return None
    subs = subordinates(session, form, period, below, node_id)
    if not subs:
        return None
    state = consolidation.state_of(session, [p.participant_id for p in subs], form_code, period)
    row = session.get(ConsolidationState, (node_id, form_code, period))
    seq = row.seq if row is not None else 0
    deadline = deadline_for(session, form_code, period, node.level)
    return {
        "node_id": node_id, "form_code": form_code, "period": period, "level": node.level,
        "deadline_at": deadline.astimezone(_almaty()).isoformat() if deadline else None,
        "expected": state.expected, "included": sorted(state.included_submissions), "late": state.late,
        "missing": state.missing, "returned": state.returned,
        "included_submissions": dict(sorted(state.included_submissions.items())),
        "complete": state.complete, "seq": seq, "last_reason": row.last_reason if row is not None else None,
        "last_due_id": f"{node_id}:{form_code}:{period}:{seq}" if seq else None,
        "last_due_at": aware(row.last_due_at).isoformat() if row is not None and row.last_due_at else None,
        "own_submission_id": consolidation.own_submission(session, node_id, form_code, period),
    }

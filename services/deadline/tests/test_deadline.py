from __future__ import annotations

from datetime import date, datetime

import pytest

from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import FormListApproved, Level, ParticipantUpserted, SubmissionReceived
from uise_contracts.examples import EXAMPLES, SCHOOL_FORM
from uise_deadline.adapters import MIGRATIONS
from uise_deadline.calendar import WorkingCalendar
from uise_deadline.domain import ALMATY, PeriodError, effective_deadline, period_end
from uise_deadline.handlers import Schedule, make_on_formlist, on_participant, on_received


@pytest.mark.parametrize("period, end", [
    ("2026", date(2026, 12, 31)), ("2026-H1", date(2026, 6, 30)), ("2026-Q1", date(2026, 3, 31)),
    ("2024-02", date(2024, 2, 29)), ("2026-10-15", date(2026, 10, 15)),
])
def test_period_end(period, end):
    assert period_end(period) == end


@pytest.mark.parametrize("bad", ["26", "2026-13", "2026-Q5", "last year"])
def test_bad_periods(bad):
    with pytest.raises(PeriodError):
        period_end(bad)


def test_a_deadline_on_a_day_off_moves_to_the_end_of_the_next_working_day():
    # 2026 + 10 days = Sunday 2027-01-10 → Monday 2027-01-11 23:59:59 Almaty
    assert effective_deadline("2026", 10, WorkingCalendar()) == datetime(2027, 1, 11, 23, 59, 59, tzinfo=ALMATY)
    assert effective_deadline("2026-Q3", 10, WorkingCalendar()) == datetime(2026, 10, 12, 23, 59, 59, tzinfo=ALMATY)  # Sat → Mon
    assert effective_deadline("2026-Q3", 9, WorkingCalendar()) == datetime(2026, 10, 9, 23, 59, 59, tzinfo=ALMATY)  # a Friday


def test_timeliness_on_time_and_late(tmp_path):
    engine = migrated_sqlite(tmp_path, MIGRATIONS)
    run_handler(engine, make_on_formlist(Schedule([], None)), FormListApproved(year=2026, version=1, order_no="1",
                                                      order_date=date(2026, 1, 15), forms=[SCHOOL_FORM]))
    run_handler(engine, on_participant, ParticipantUpserted(
        participant_id="220440000019", bin="220440000019", level=Level.organization, kind="school",
        parent_id="210340000013", name_kk="x", name_ru="x"))
    base: SubmissionReceived = EXAMPLES[SubmissionReceived]
    on_time = base.model_copy(update={"submission_id": "a", "delivered_at": datetime(2027, 1, 11, 23, 59, tzinfo=ALMATY)})
    late = base.model_copy(update={"submission_id": "b", "delivered_at": datetime(2027, 1, 12, 0, 0, 1, tzinfo=ALMATY)})
    [rec] = run_handler(engine, on_received, on_time)
    assert rec.on_time is True
    rec, violation = run_handler(engine, on_received, late)
    assert rec.on_time is False and (violation.kind, violation.submission_id) == ("late", "b")
    assert run_handler(engine, on_received, late) == []

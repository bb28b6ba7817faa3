from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from uise_common import clock
from uise_common.clock import Clock
from uise_common.consumer import NotYetKnown
from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import (
    ConsolidationDue,
    ConsolidationReady,
    DeadlineViolation,
    Finding,
    FormListApproved,
    Level,
    ParentTerm,
    ParticipantUpserted,
    SignatureChecked,
    StoredObject,
    SubmissionValidated,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_routing import commands, views
from uise_routing.adapters import MIGRATIONS, Decision, InboxItem
from uise_routing.domain import (
    FormRule,
    Refusal,
    Refused,
    Submitter,
    active_on,
    applies_to,
    check_route,
    parent_on,
)
from uise_routing.handlers import (
    on_consolidation_due,
    on_consolidation_ready,
    on_formlist,
    on_participant,
    on_signature_checked,
    on_validated,
    on_violation,
)

MINISTRY, REGION, DISTRICT, DISTRICT2 = "100140000011", "200240000012", "210340000012", "210340000023"
SCHOOL, SCHOOL2, COLLEGE = "220440000013", "220440000024", "220440000099"
TODAY = date(2026, 6, 1)
FORM = FormRule(code="SCH-1", respondent_kinds=("school",), period_type="annual",
                deadline_days={"organization": 10, "district": 20, "region": 30})
DOC = StoredObject(key="k", sha256="0" * 64, size=1, media_type="application/json")


@pytest.fixture(autouse=True)
def business_day():
    clock.install(Clock(fixed=datetime(2026, 6, 1, 9, tzinfo=UTC)))
    yield
    clock.install(Clock())


@pytest.fixture
def engine(tmp_path):
    eng = migrated_sqlite(tmp_path, MIGRATIONS)
    run_handler(eng, on_formlist, FormListApproved(year=2026, version=1, order_no="1", order_date=date(2026, 1, 15),
                                                   forms=[SCHOOL_FORM]))
    return eng


def participant(pid=SCHOOL, kind="school", parent=DISTRICT, level=Level.organization, **kw):
    return ParticipantUpserted(participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent,
                               name_kk="x", name_ru="x", **kw)


def validated(sid, ok=True, pid=SCHOOL, supersedes=None, period="2026", **kw):
    return SubmissionValidated(submission_id=sid, participant_id=pid, form_code="SCH-1", period=period, ok=ok,
                               values={"pupils_total": 1}, supersedes=supersedes, **kw)


def school(**kw) -> Submitter:
    return Submitter(**{"participant_id": SCHOOL, "level": "organization", "kind": "school", "parent_id": DISTRICT,
                        **kw})


def code(result) -> str | None:
    return result.code if isinstance(result, Refusal) else None


# --- the rules -------------------------------------------------------------------------------


def test_a_school_submits_to_its_district():
    assert check_route(school(), FORM, "2026", TODAY) == DISTRICT
    assert check_route(school(), FORM, "2026", TODAY, addressed_to=DISTRICT) == DISTRICT


def test_each_refusal_has_its_code():
    assert code(check_route(school(), FORM, "2026", TODAY, addressed_to=REGION)) == "NOT_IMMEDIATE_SUPERIOR"
    assert code(check_route(school(kind="college"), FORM, "2026", TODAY)) == "FORM_NOT_APPLICABLE"
    assert code(check_route(school(parent_id=None), FORM, "2026", TODAY)) == "NO_RECIPIENT"
    ministry = Submitter(participant_id=MINISTRY, level="ministry", kind="ministry", parent_id=None)
    assert code(check_route(ministry, FORM, "2026", TODAY)) == "NO_RECIPIENT"
    assert code(check_route(school(active=False), FORM, "2026", TODAY)) == "PARTICIPANT_CLOSED"
    assert code(check_route(school(active_to=date(2026, 5, 31)), FORM, "2026", TODAY)) == "PARTICIPANT_CLOSED"
    assert code(check_route(school(), None, "2026", TODAY)) == "UNKNOWN_FORM"
    assert code(check_route(school(), FORM, "2026-Q3", TODAY)) == "PERIOD_TYPE_MISMATCH"
    assert code(check_route(school(), FORM, "2027", TODAY)) == "PERIOD_NOT_OPEN"
    # SCH-1 2024: its last deadline (the region's) 2025-01-30, plus a year of corrections
    assert code(check_route(school(), FORM, "2024", TODAY)) == "PERIOD_CLOSED"
    assert code(check_route(school(), FORM, "2026\n", TODAY)) == "PERIOD_INVALID"
    for refusal in (check_route(school(), FORM, "2027", TODAY), check_route(school(), None, "2026", TODAY)):
        assert refusal.message  # English, for the submitter's timeline


def test_a_participant_closed_with_a_future_date_is_active_until_then():
    assert active_on(False, None, date(2026, 6, 30), TODAY)  # the registry's flag already says closed
    assert check_route(school(active=False, active_to=date(2026, 6, 30)), FORM, "2026", TODAY) == DISTRICT
    assert not active_on(True, None, date(2026, 6, 1), date(2026, 6, 2))
    assert not active_on(True, date(2026, 7, 1), None, TODAY)  # not open yet


def test_a_department_answers_the_forms_with_a_deadline_for_its_level():
    assert applies_to(FORM, "district", "district") and applies_to(FORM, "region", "region")
    assert not applies_to(FormRule(code="X", respondent_kinds=("school",), deadline_days={"organization": 5}),
                          "district", "district")
    district = Submitter(participant_id=DISTRICT, level="district", kind="district", parent_id=REGION)
    assert check_route(district, FORM, "2026", TODAY) == REGION
    assert not applies_to(FORM, "ministry", "ministry")


def test_the_superior_in_force_for_a_period_is_the_term_on_its_last_day():
    moved = [{"parent_id": DISTRICT, "valid_from": "2020-01-01", "valid_to": "2026-08-31"},
             {"parent_id": DISTRICT2, "valid_from": "2026-09-01", "valid_to": None}]
    assert parent_on(moved, DISTRICT2, date(2026, 6, 30)) == DISTRICT
    assert parent_on(moved, DISTRICT2, date(2026, 12, 31)) == DISTRICT2
    assert parent_on([], DISTRICT, date(2026, 12, 31)) == DISTRICT
    # as ParticipantUpserted.parent_on says
    event = participant(parent=DISTRICT2, parents=[ParentTerm(**t) for t in moved])
    assert event.parent_on(date(2026, 6, 30)) == parent_on(moved, DISTRICT2, date(2026, 6, 30))
    s = school(parent_id=DISTRICT2, parents=moved)
    assert check_route(s, FORM, "2026", TODAY) == DISTRICT2  # the year ends under the new district
    assert code(check_route(s, FORM, "2026", TODAY, addressed_to=DISTRICT)) == "NOT_IMMEDIATE_SUPERIOR"


# --- handlers --------------------------------------------------------------------------------


def test_accepted_into_the_parents_inbox_exactly_once(engine):
    with pytest.raises(NotYetKnown):
        run_handler(engine, on_validated, validated("s1"))
    run_handler(engine, on_participant, participant())
    with pytest.raises(NotYetKnown):  # the 2027 list has not reached routing
        run_handler(engine, on_validated, validated("s0", period="2027"))
    warning = Finding(rule="W_RATIO", severity="warning", message="unusual", explanation="a small village school")
    [accepted] = run_handler(engine, on_validated, validated("s1", findings=[warning]))
    assert (accepted.recipient_id, accepted.level, accepted.supersedes, accepted.corrects_accepted) == (
        DISTRICT, Level.organization, None, False)
    assert accepted.findings == [warning]  # carried for the reports' findings (docs/reports.md)
    assert run_handler(engine, on_validated, validated("s1")) == []  # a replay decides nothing new


def test_refusals_are_final_and_single(engine):
    run_handler(engine, on_participant, participant())
    run_handler(engine, on_participant, participant(pid=COLLEGE, kind="college"))
    [wrong_kind] = run_handler(engine, on_validated, validated("s3", pid=COLLEGE))
    assert (wrong_kind.stage, wrong_kind.reason_code) == ("routing", "FORM_NOT_APPLICABLE")
    [past_district] = run_handler(engine, on_validated, validated("s6", addressed_to=REGION))
    assert past_district.reason_code == "NOT_IMMEDIATE_SUPERIOR"
    bad_sig = SignatureChecked(submission_id="s4", participant_id=SCHOOL, form_code="SCH-1", period="2026",
                               document=DOC, ok=False, reason_code="NOT_FIRST_HEAD", message="deputy")
    [rejected] = run_handler(engine, on_signature_checked, bad_sig)
    assert (rejected.stage, rejected.reason_code) == ("signature", "NOT_FIRST_HEAD")
    assert run_handler(engine, on_signature_checked, bad_sig) == []
    [invalid] = run_handler(engine, on_validated, validated("s5", ok=False))
    assert invalid.reason_code == "VALIDATION_FAILED"
    [unknown] = run_handler(engine, on_validated, SubmissionValidated(
        submission_id="s7", participant_id=SCHOOL, form_code="NOPE-1", period="2026", ok=True))
    assert unknown.reason_code == "UNKNOWN_FORM"


def items(engine) -> dict[str, tuple]:
    with Session(engine) as s:
        return {i.submission_id: (i.superseded_by, i.state) for i in s.exec(select(InboxItem))}


def test_a_correction_without_a_link_supersedes_the_current_filing(engine):
    run_handler(engine, on_participant, participant())
    run_handler(engine, on_validated, validated("s1"))
    [second] = run_handler(engine, on_validated, validated("s2"))
    assert items(engine) == {"s1": ("s2", "accepted"), "s2": (None, "accepted")}
    assert (second.supersedes, second.corrects_accepted) == ("s1", True)


def test_a_correction_supersedes_by_its_link_not_by_arrival(engine):
    run_handler(engine, on_participant, participant())
    [v2] = run_handler(engine, on_validated, validated("v2", supersedes="v1"))  # v1 is still on its way
    assert (v2.supersedes, v2.corrects_accepted) == ("v1", False)  # nothing accepted to correct yet
    [late_v1] = run_handler(engine, on_validated, validated("v1"))
    assert (late_v1.__class__.__name__, late_v1.reason_code) == ("SubmissionRejected", "SUPERSEDED")
    assert items(engine) == {"v2": (None, "accepted"), "v1": ("v2", "superseded")}
    # a correction of a correction arriving before it: v4 (of v3) first, then v3
    run_handler(engine, on_validated, validated("v4", supersedes="v3"))
    [v3] = run_handler(engine, on_validated, validated("v3", supersedes="v2"))
    assert v3.reason_code == "SUPERSEDED"
    assert items(engine)["v4"] == (None, "accepted") and items(engine)["v2"] == ("v4", "accepted")
    with Session(engine) as s:
        assert len(s.exec(select(Decision)).all()) == 4  # one decision each, history kept


def test_a_correction_after_acceptance_corrects_distorted_data_even_past_a_rejected_version(engine):
    run_handler(engine, on_participant, participant())
    run_handler(engine, on_validated, validated("a1"))
    run_handler(engine, on_validated, validated("a2", ok=False, supersedes="a1"))  # refused by validation
    [a3] = run_handler(engine, on_validated, validated("a3", supersedes="a2",
                                                       aggregates={"pupils_total": {"sum": "1", "count": 1}}))
    assert (a3.supersedes, a3.corrects_accepted) == ("a2", True)
    assert a3.aggregates["pupils_total"].sum == "1"
    assert items(engine)["a1"] == ("a3", "accepted")


def test_returns_and_reviews(engine):
    run_handler(engine, on_participant, participant())
    run_handler(engine, on_validated, validated("r1"))
    now = datetime(2026, 6, 1, 10, tzinfo=UTC)
    with Session(engine) as s:
        with pytest.raises(Refused) as exc:
            commands.return_submission(s, DISTRICT, "r1", "  ", "iin:1", now)
        assert exc.value.code == "COMMENT_REQUIRED"
        with pytest.raises(Refused) as exc:
            commands.return_submission(s, REGION, "r1", "fix", "iin:1", now)
        assert exc.value.code == "SUBMISSION_NOT_IN_INBOX"
        item, [returned] = commands.return_submission(s, DISTRICT, "r1", "row 3 is wrong", "iin:880315300048", now)
        assert (returned.recipient_id, returned.returned_by, returned.comment) == (
            DISTRICT, "iin:880315300048", "row 3 is wrong")
        s.commit()
    with Session(engine) as s:
        assert commands.return_submission(s, DISTRICT, "r1", "row 3 is wrong", "iin:1", now)[1] == []  # idempotent
        for act in (lambda: commands.return_submission(s, DISTRICT, "r1", "other", "iin:1", now),
                    lambda: commands.review(s, DISTRICT, "r1", "iin:1", now)):
            with pytest.raises(Refused) as exc:
                act()
            assert exc.value.code == "ALREADY_RETURNED"
    [fixed] = run_handler(engine, on_validated, validated("r2", supersedes="r1"))
    assert fixed.corrects_accepted
    with Session(engine) as s:
        with pytest.raises(Refused) as exc:
            commands.return_submission(s, DISTRICT, "r1", "again", "iin:1", now)
        assert exc.value.code == "NOT_CURRENT"
        item, events = commands.review(s, DISTRICT, "r2", "iin:1", now)
        assert (item.state, events) == ("reviewed", [])


def test_the_inbox_view_per_form_and_period(engine):
    moved = [ParentTerm(parent_id=DISTRICT2, valid_from=date(2020, 1, 1), valid_to=date(2025, 12, 31)),
             ParentTerm(parent_id=DISTRICT, valid_from=date(2026, 1, 1))]
    run_handler(engine, on_formlist, FormListApproved(year=2025, version=1, order_no="1",
                                                      order_date=date(2025, 1, 15), forms=[SCHOOL_FORM]))
    run_handler(engine, on_participant, participant())
    run_handler(engine, on_participant, participant(pid=SCHOOL2, parent=DISTRICT, parents=moved))
    run_handler(engine, on_participant, participant(pid=COLLEGE, kind="college"))  # the form is not its
    closed = "220440000035"
    run_handler(engine, on_participant, participant(pid=closed, active=False, active_to=date(2025, 6, 30)))
    run_handler(engine, on_validated, validated("x1"))
    run_handler(engine, on_signature_checked, SignatureChecked(
        submission_id="y1", participant_id=SCHOOL2, form_code="SCH-1", period="2026", document=DOC, ok=True))
    run_handler(engine, on_violation, DeadlineViolation(
        participant_id=SCHOOL2, form_code="SCH-1", period="2026", kind="missing",
        deadline_at=datetime(2027, 1, 11, 18, 59, 59, tzinfo=UTC), recipient_id=DISTRICT))
    due = ConsolidationDue(node_id=DISTRICT, form_code="SCH-1", period="2026", expected=2, received=1,
                           reason="deadline", due_id=f"{DISTRICT}:SCH-1:2026:2", missing=[SCHOOL2])
    run_handler(engine, on_consolidation_due, due)
    run_handler(engine, on_consolidation_due, due.model_copy(update={"reason": "complete",
                                                                     "due_id": f"{DISTRICT}:SCH-1:2026:1"}))
    ready = ConsolidationReady(consolidation_id=f"{DISTRICT}:SCH-1:2026:2", node_id=DISTRICT, form_code="SCH-1",
                               period="2026", version=2, reason="deadline", documents={"json": DOC}, totals={},
                               built_at=datetime(2027, 1, 12, tzinfo=UTC))
    for event in (ready, ready.model_copy(update={"version": 1, "consolidation_id": "old"}), ready):
        run_handler(engine, on_consolidation_ready, event)
    with Session(engine) as s:
        view = views.inbox_view(s, DISTRICT, "SCH-1", "2026")
        assert views.inbox_view(s, DISTRICT, "NOPE-1", "2026") is None
        in_2025 = views.inbox_view(s, DISTRICT, "SCH-1", "2025")
    rows = {r["participant_id"]: r for r in view["participants"]}
    assert set(rows) == {SCHOOL, SCHOOL2} and view["expected"] == 2
    assert (rows[SCHOOL]["status"], rows[SCHOOL]["current_submission_id"]) == ("accepted", "x1")
    assert (rows[SCHOOL2]["status"], rows[SCHOOL2]["missing"]) == ("delivered", True)
    assert view["counts"]["accepted"] == 1 and view["counts"]["delivered"] == 1 and view["counts"]["missing"] == 1
    assert view["consolidation"]["due_reason"] == "deadline"  # the older emission did not win
    assert (view["consolidation"]["ready_version"], view["consolidation"]["consolidation_id"]) == (
        2, f"{DISTRICT}:SCH-1:2026:2")
    # 2025: school 2 answered to the other district; the closed school still owed its half year
    assert {r["participant_id"] for r in in_2025["participants"]} == {SCHOOL, closed}

"""The participant pages' own reasoning (uise_portal.pages.participant_model): the periods of a
year, why a deadline moved, the rows of the forms page, queries grouped for one explanation each,
the explanations a page sends, and the history of versions; and that every text they use is in
the catalog. The pages themselves run in a browser in tests/e2e/test_portal_participant.py."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from uise_portal.app import create_app
from uise_portal.messages import MESSAGES
from uise_portal.pages import participant
from uise_portal.pages.participant_model import (
    DayOffReason,
    chain_view,
    explanations_from,
    form_rows,
    moved_because,
    open_queries,
    periods_of,
    queries_of,
)
from uise_portal.session import PortalSession
from uise_portal.settings import PortalSettings

TEMPLATES = Path(participant.__file__).parents[1] / "templates" / "participant"


def test_the_periods_of_a_year_follow_the_forms_periodicity():
    assert periods_of("annual", 2026) == ["2026"]
    assert periods_of("semiannual", 2026) == ["2026-H1", "2026-H2"]
    assert periods_of("quarterly", 2026)[-1] == "2026-Q4"
    assert len(periods_of("monthly", 2026)) == 12 and periods_of("monthly", 2026)[0] == "2026-01"
    assert periods_of("as_of_date", 2026) == periods_of("ad_hoc", 2026) == []


CALENDAR_2026 = {"days_off": [{"day": "2026-07-06", "name": "Capital Day"}],
                 "transfers": [{"day": "2026-03-09", "kind": "day_off", "decree": ""}],
                 "operator_entries": [
                     {"day": "2026-12-31", "kind": "day_off", "decree": "№ 870", "withdrawn_at": None},
                     {"day": "2026-12-30", "kind": "day_off", "decree": "№ 1", "withdrawn_at": "2026-12-01T10:00:00"}]}


def test_a_moved_deadline_says_which_days_off_moved_it():
    # Sunday 5 July, then Monday 6 July (Capital Day): to Tuesday 7 July
    assert moved_because(date(2026, 7, 5), date(2026, 7, 7), {2026: CALENDAR_2026}) == [
        DayOffReason(date(2026, 7, 5), "weekend"), DayOffReason(date(2026, 7, 6), "holiday", "Capital Day")]
    # an operator's decree counts; a withdrawn one does not; a transfer of days off is named as such
    assert moved_because(date(2026, 12, 31), date(2027, 1, 1), {2026: CALENDAR_2026}) == [
        DayOffReason(date(2026, 12, 31), "decree", "№ 870")]
    assert moved_because(date(2026, 12, 30), date(2026, 12, 31), {2026: CALENDAR_2026}) == [
        DayOffReason(date(2026, 12, 30), "day_off")]
    assert moved_because(date(2026, 3, 9), date(2026, 3, 10), {2026: CALENDAR_2026})[0].kind == "transfer"
    assert moved_because(date(2026, 7, 7), date(2026, 7, 7), {}) == []  # not moved


def test_the_forms_page_has_a_row_per_form_and_period_with_its_deadline_and_latest_status():
    forms = [{"code": "MON-Q", "period_type": "quarterly"}, {"code": "SCH-1", "period_type": "annual"},
             {"code": "OTH-HEAT", "period_type": "as_of_date"}]
    deadlines = [
        {"form_code": "SCH-1", "period": "2026", "level": "organization", "rule_date": "2027-01-10",
         "deadline_at": "2027-01-11T23:59:59+05:00", "moved": True},
        {"form_code": "SCH-1", "period": "2026", "level": "district", "rule_date": "2027-01-20",
         "deadline_at": "2027-01-20T23:59:59+05:00", "moved": False}]
    submissions = [{"submission_id": "new", "form_code": "SCH-1", "period": "2026", "status": "received"},
                   {"submission_id": "old", "form_code": "SCH-1", "period": "2026", "status": "rejected"}]
    rows = form_rows(forms, 2026, deadlines, submissions, "organization", {}, date(2026, 5, 1))
    assert [(r.form["code"], r.period) for r in rows] == [
        ("MON-Q", "2026-Q1"), ("MON-Q", "2026-Q2"), ("MON-Q", "2026-Q3"), ("MON-Q", "2026-Q4"),
        ("OTH-HEAT", None), ("SCH-1", "2026")]
    sch = rows[-1]
    assert sch.latest["submission_id"] == "new"  # intake lists newest first
    assert sch.deadline.at.isoformat() == "2027-01-11T23:59:59+05:00" and sch.deadline.moved
    assert sch.deadline.reasons == [DayOffReason(date(2027, 1, 10), "weekend")]
    assert rows[2].opens == date(2026, 7, 1) and rows[1].opens is None  # Q3 has not begun on 1 May


def finding(rule: str, severity: str = "warning", field: str | None = None, explanation: str | None = None) -> dict:
    return {"rule": rule, "severity": severity, "field": field, "explanation": explanation,
            "messages": {"kk": f"{rule} kk", "ru": f"{rule} ru", "en": f"{rule} en"}}


def test_queries_are_grouped_by_rule_for_one_explanation_each():
    found = [finding("VALUE_OUT_OF_RANGE", field="teachers"), finding("R1", "error"),
             finding("VALUE_OUT_OF_RANGE", field="classes"), finding("CLASS_SIZE", explanation="two shifts")]
    groups = queries_of(found)
    assert [(q.rule, len(q.findings), q.explanation) for q in groups] == [
        ("VALUE_OUT_OF_RANGE", 2, None), ("CLASS_SIZE", 1, "two shifts")]
    held = {"status": "queried", "timeline": [
        {"step": "queried", "detail": {"queries": [finding("OLD")]}},
        {"step": "queried", "detail": {"queries": [finding("CLASS_SIZE")]}}]}
    assert [q.rule for q in open_queries(held)] == ["CLASS_SIZE"]  # the latest step's
    assert open_queries({**held, "status": "accepted"}) == []
    # explained: validation is judging the explanations, nothing is open any more (the status stays
    # `queried` until it has)
    assert open_queries({**held, "timeline": held["timeline"] + [{"step": "explained", "detail": {}}]}) == []


def test_explanations_are_a_json_object_of_texts_within_intakes_limits():
    assert explanations_from(None) == explanations_from("") == {}
    assert explanations_from('{"CLASS_SIZE": "  two shifts ", "R2": "  "}') == {"CLASS_SIZE": "two shifts"}
    for bad in ("[]", "not json", '{"R": 5}', '{"R": "' + "x" * 2001 + '"}'):
        assert explanations_from(bad) is None, bad


def test_the_history_numbers_every_version_and_marks_this_one():
    sub = {"submission_id": "b", "chain": [{"submission_id": "a", "status": "rejected"},
                                           {"submission_id": "b", "status": "accepted"}]}
    assert [(v["number"], v["current"]) for v in chain_view(sub)] == [(1, False), (2, True)]


def test_every_text_the_participant_pages_name_is_in_the_catalog():
    keys: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        keys |= set(re.findall(r"""t\(\s*["'](p\.[a-z_.A-Z0-9]*[a-zA-Z0-9_]|signin\.[a-z_]+)["']""",
                               template.read_text()))  # a key built from a value ("p.status." ~ s) is below
    keys |= {f"p.status.{s}" for s in participant.model.STATUSES}
    keys |= {f"p.step.{s}" for s in participant.model.STEPS} | {f"p.service.{s}" for s in participant.model.SERVICES}
    keys |= {"p.channel.electronic", "p.channel.paper"} | {f"p.weekday.{n}" for n in range(7)} | {"p.submit.signers.first_head",
                                                     "p.submit.signers.first_head_or_right_to_sign"}
    missing = sorted(k for k in keys if k not in MESSAGES)
    assert not missing, missing
    assert all(k.startswith("p.") for k in participant.TEXTS)
    assert participant.reason_key("NOT_FIRST_HEAD") == "p.reason.NOT_FIRST_HEAD"
    assert participant.reason_key("PROCESSING_FAILED") == "p.reason.PROCESSING_FAILED"  # intake's own (issue 14)
    assert participant.reason_key("SOMETHING_NEW") == "p.reason.other"


# --- the pages' own refusals, and services out of reach: never a 500 ----------------------------------

def signed_in_client(tmp_path) -> TestClient:
    """A signed-in head of a school, with every service out of reach."""
    nowhere = {f"{s}_url": "http://127.0.0.1:9" for s in ("identity", "registry", "intake", "validation",
                                                          "routing", "deadline", "reporting")}
    app = create_app(PortalSettings(data_dir=tmp_path, **nowhere))
    claims = base64.urlsafe_b64encode(json.dumps({"exp": time.time() + 600}).encode()).decode().rstrip("=")
    session = PortalSession(access_token=f"e30.{claims}.sig", refresh_token="r", participant_id="220440000019",
                            role="head", subject="iin:800101300016", level="organization")
    client = TestClient(app)
    client.cookies.set("uise_session", app.state.sealer.seal(session))
    return client


def test_a_bad_period_or_id_is_the_pages_own_refusal_in_the_pages_language(tmp_path):
    client = signed_in_client(tmp_path)
    resp = client.get("/forms/SCH-1/2026-13/submit?lang=ru")
    assert resp.status_code == 422 and "«2026-13» — не период" in resp.text and "PERIOD_INVALID" in resp.text
    resp = client.get("/submissions/a$b?lang=kk")
    assert resp.status_code == 404 and "Мұндай бет жоқ." in resp.text
    resp = client.post("/forms/SCH-1/2026/submit?lang=en", headers={"Accept": "application/json"},
                       files={"document": ("r.json", b"{}")}, data={"signature": "not base64!",
                                                                    "idempotency_key": "abcdef0123456789"})
    assert (resp.status_code, resp.json()["code"]) == (422, "SIGNATURE_NOT_CMS")
    assert resp.json()["message"] == "The signature from NCALayer cannot be read; sign again."


def test_services_out_of_reach_are_a_clear_503_not_a_500(tmp_path):
    client = signed_in_client(tmp_path)
    for path in ("/forms", "/submissions", "/submissions/x1", "/forms/SCH-1/2026/submit",
                 "/forms/SCH-1/2026/template.xlsx", "/submissions/x1/files/document"):
        resp = client.get(f"{path}?lang=ru")
        assert resp.status_code == 503 and "сейчас недоступен" in resp.text, path
    resp = client.post("/forms/SCH-1/2026/check", headers={"Accept": "application/json"},
                       files={"document": ("r.json", b'{"pupils_total": 1}')})
    assert (resp.status_code, resp.json()["code"]) == (503, "SERVICE_UNREACHABLE")

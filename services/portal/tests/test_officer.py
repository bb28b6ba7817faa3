"""The departments' and the Ministry's pages: the board's arithmetic from routing's and reporting's
answers, whom to chase, the chart's geometry, the periods offered, and every text those pages
name is there in three languages."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from uise_common.periods import periods_of
from uise_portal.messages import MESSAGES
from uise_portal.pages import boards
from uise_portal.pages.office import safe_back
from uise_portal.pages.officer import parse_fields

TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "uise_portal" / "templates"
PAGES = Path(__file__).resolve().parents[1] / "src" / "uise_portal" / "pages"


def entry(pid: str, status: str, *, late=False, missing=False, expected=True, level="organization", history=()):
    return {"participant_id": pid, "level": level, "status": status, "late": late, "missing": missing,
            "expected": expected, "current_submission_id": f"s-{pid}" if status != "expected" else None,
            "history": list(history)}


# A district's inbox as routing answers it: one on time, one late, one missing, one returned with
# a comment, one still in validation, and a school that delivered though it is not expected.
INBOX = {"participants": [
    entry("1", "accepted"),
    entry("2", "accepted", late=True),
    entry("3", "expected", missing=True),
    entry("4", "returned", history=[{"submission_id": "s-4", "state": "returned", "return_comment": "fix row 5"}]),
    entry("5", "delivered"),
    entry("6", "accepted", expected=False),
]}


def test_the_boards_totals_count_the_expected_subordinates_own_submissions():
    t = boards.totals(INBOX)
    assert (t.expected, t.delivered, t.accepted, t.returned, t.late, t.missing, t.on_time) == (5, 4, 2, 1, 1, 1, 3)
    assert t.reporting_rate == Decimal("0.8000") and t.on_time_rate == Decimal("0.6000")
    assert boards.percent(t.reporting_rate) == "80" and boards.percent(Decimal("0.6667")) == "66.7"
    assert boards.percent(None) == "—" and boards.percent("0.3333") == "33.3"


def test_the_rows_put_the_missing_and_late_first_with_the_return_comment():
    rows = boards.board_rows(INBOX, None, {"1": "School 1", "3": "School 3"})
    assert [r.participant_id for r in rows][:3] == ["3", "2", "4"]
    by_id = {r.participant_id: r for r in rows}
    assert by_id["3"].name == "School 3" and by_id["2"].name == "2"  # a name the registry did not give: the id
    assert by_id["4"].returned_comment == "fix row 5"
    assert by_id["6"].counts.expected == 0 and by_id["6"].counts.delivered == 1  # not expected: counted apart
    assert by_id["2"].counts.on_time == 0 and by_id["1"].counts.on_time == 1


def test_a_departments_row_counts_the_schools_beneath_it():
    region_inbox = {"participants": [entry("d1", "accepted", level="district"), entry("d2", "expected", level="district")]}
    completeness = {"subordinates": [
        {"node_id": "d1", "expected": 10, "delivered": 9, "accepted": 8, "late": 2, "missing": 1, "on_time": 7},
        {"node_id": "d2", "expected": 4, "delivered": 1, "accepted": 1, "late": 0, "missing": 3, "on_time": 1}]}
    rows = {r.participant_id: r for r in boards.board_rows(region_inbox, completeness, {})}
    assert rows["d1"].is_department and rows["d1"].counts.reporting_rate == Decimal("0.9000")
    assert rows["d2"].counts.on_time_rate == Decimal("0.2500")
    # without reporting's completeness, a department counts as its own submission
    alone = {r.participant_id: r for r in boards.board_rows(region_inbox, None, {})}
    assert alone["d1"].counts.expected == 1


def test_whom_to_chase_and_why():
    chase = {c["participant_id"]: c["why"] for c in boards.to_chase(INBOX)}
    assert chase == {"3": ["missing"], "2": ["late"], "4": ["returned"]}


def test_bars_are_shares_of_the_largest_or_of_a_given_top():
    items = boards.bars([boards.Bar("a", Decimal(5), "5"), boards.Bar("b", Decimal(10), "10"),
                         boards.Bar("c", Decimal(0), "0")])
    assert [b.width for b in items] == [0.5, 1.0, 0.0]
    assert boards.bars([boards.Bar("a", Decimal("0.25"), "25%")], top=Decimal(1))[0].width == 0.25
    assert boards.bars([boards.Bar("a", Decimal(0), "0")], top=Decimal(0))[0].width == 0.0


def test_the_periods_offered_follow_the_forms_periodicity():
    assert periods_of("annual", 2029) == ["2029"]
    assert periods_of("quarterly", 2029)[-1] == "2029-Q4"
    assert len(periods_of("monthly", 2029)) == 12
    assert periods_of("as_of_date", 2029) == []
    assert boards.year_of("2029-Q3") == 2029 and boards.year_of("nonsense") is None


def test_a_form_post_goes_back_only_within_the_portal():
    assert safe_back("/inbox?form_code=A&period=2029", "/inbox") == "/inbox?form_code=A&period=2029"
    for bad in ("https://evil.example/", "//evil.example/x", "/\\evil", "", None):
        assert safe_back(bad, "/inbox") == "/inbox"


def test_a_requests_indicators_are_read_one_a_line():
    assert parse_fields("computers; Computers\n\n teachers \n") == [
        {"code": "computers", "title": "Computers"}, {"code": "teachers", "title": "teachers"}]


def test_every_text_the_officers_and_ministrys_pages_name_is_defined():
    used = set()
    for path in [*(TEMPLATES / "officer").glob("*.html"), *(TEMPLATES / "ministry").glob("*.html"),
                 PAGES / "officer.py", PAGES / "ministry.py"]:
        used |= set(re.findall(r"""\bt\(\s*["']((?:o|m)\.[a-z_.]+)["']\s*[,)]""", path.read_text()))
    assert used and not used - set(MESSAGES), sorted(used - set(MESSAGES))
    # keys built from a code: the codes the services use have their words
    for prefix, codes in {"o.status.": ("expected", "delivered", "accepted", "reviewed", "returned", "rejected",
                                        "missing", "late", "received", "signature_checked", "queried", "validated"),
                          "o.why.": ("missing", "late", "returned", "rejected", "expected"),
                          "o.inbox.done_": ("accepted", "returned"),
                          "m.rule.": ("sum", "mean", "min", "max"),
                          "m.rep.status_": ("final", "preliminary")}.items():
        assert all(prefix + c in MESSAGES for c in codes), prefix


def test_no_text_names_a_value_key_which_the_translator_takes_for_its_own():
    import string

    for k, texts in MESSAGES.items():
        if k.startswith(("o.", "m.")):
            for text in texts.values():
                assert "key" not in {f for _, f, _, _ in string.Formatter().parse(text) if f}, k


def test_times_are_shown_in_almaty_whichever_zone_a_service_answers_in():
    assert boards.when("2030-01-10T18:59:59+00:00") == "2030-01-10 23:59"
    assert boards.when("2030-01-10T18:59:59") == "2030-01-10 23:59"  # SQLite's naive UTC
    assert boards.when("2030-01-10T23:59:59+05:00", seconds=True) == "2030-01-10 23:59:59"
    assert boards.when(None) == "—" and boards.when("soon") == "soon"


def test_every_template_of_these_pages_compiles():
    import uise_portal.app  # noqa: F401  (the pages register their filters)
    from uise_portal import web

    for path in [*(TEMPLATES / "officer").glob("*.html"), *(TEMPLATES / "ministry").glob("*.html")]:
        web.TEMPLATES.env.get_template(str(path.relative_to(TEMPLATES)))


def test_garbage_in_an_officers_forms_is_a_clear_refusal_never_a_500(tmp_path):
    """Form fields the officers' pages take (ids, a comment, a signed consolidation): malformed,
    oversized or missing, each is refused with a reason, and a well-formed one whose service is out
    of reach is a 503; the services themselves judge the rest."""
    import base64
    import json
    import time

    from fastapi.testclient import TestClient

    from uise_portal.app import create_app
    from uise_portal.session import PortalSession
    from uise_portal.settings import SERVICES, PortalSettings

    app = create_app(PortalSettings(data_dir=tmp_path, **{f"{s}_url": "http://127.0.0.1:9" for s in SERVICES}))
    claims = base64.urlsafe_b64encode(json.dumps({"exp": time.time() + 600}).encode()).decode().rstrip("=")
    client = TestClient(app)
    client.cookies.set("uise_session", app.state.sealer.seal(PortalSession(
        access_token=f"e30.{claims}.sig", refresh_token="r", participant_id="210340000013", role="officer",
        subject="iin:800101300016", level="district")))
    json_ = {"Accept": "application/json"}
    garbage = [
        ("/inbox/submissions/s1/return", {"recipient_id": "not-a-bin", "participant_id": "220440000013",
                                          "comment": "x"}),
        ("/inbox/submissions/s1/return", {"recipient_id": "210340000013", "participant_id": "220440000013",
                                          "comment": "x" * 5000}),
        ("/inbox/submissions/s1/accept", {"participant_id": "220440000013"}),
    ]
    for path, form in garbage:
        resp = client.post(path, data=form, headers=json_)
        assert (resp.status_code, resp.json()["code"]) == (422, "INVALID_INPUT"), (path, resp.text)
    for body in ({"form_code": "OSH-1", "period": "2026-13", "version": 1, "signature": "A" * 20},
                 {"form_code": "OSH-1", "period": "2026", "version": 0, "signature": "A" * 20},
                 {"form_code": "OSH-1", "period": "2026", "version": 1, "signature": "short"}):
        resp = client.post("/consolidation/submit", json=body, headers=json_)
        assert (resp.status_code, resp.json()["code"]) == (422, "INVALID_INPUT"), (body, resp.text)
    # well-formed, but routing cannot be reached: a clear 503
    resp = client.post("/inbox/submissions/s1/return", headers=json_, data={
        "recipient_id": "210340000013", "participant_id": "220440000013", "comment": "classes: 15"})
    assert (resp.status_code, resp.json()["code"]) == (503, "SERVICE_UNREACHABLE")

"""The officers' and the Ministry's pages in a real browser (issue 12).

A district of three schools of its own (under the demo region) collects a form of its own for a
year of its own, so the other tests' data stay untouched. The business clock is moved past the
schools' deadline (as `uise-stack campaign` does; restored after): one school delivered on time,
one delivers a day late, one never does. The district's officer, named by its head and signing in
with an employee's key of the project's test CA through NCALayer (the stand-in), sees the board
with one school LATE and one MISSING, returns the on-time school's submission with a comment, and
the school sees the return. The district's head then signs the consolidated JSON document through
NCALayer (a detached CMS over its exact bytes) and submits it up; it is accepted. The Ministry's
head sees the approved list of forms (and its PDF), the reports (builds one, with progress, and
downloads its PDF), analytics with drill-down nation → region → district → school, and issues an
information request. Every page is looked at in kk, ru and en (`look`)."""

from __future__ import annotations

import base64

import httpx
import pytest

from uise_common.clock import Clock, clear_control
from uise_common.pki.oids import EKU_LEGAL_ENTITY
from uise_registry.demo import MINISTRY, REGION
from uise_registry.identifiers import make_valid
from uise_stack.campaign import CERT_DAYS, Campaign, Hierarchy, Unit, campaign_form, school_figures
from uise_stack.client import Signer, bearer, data_office_token, get_submission, sign_in, token_for
from uise_stack.demo import head_signer

pytestmark = pytest.mark.e2e
YEAR = 2029  # no other test's list: the clock jump below sweeps only deadlines that passed anyway
PERIOD = str(YEAR)
FORM = "OFC-1"
DISTRICT = make_valid("21034000061")
SCHOOLS = [make_valid(f"2204400061{n}") for n in range(3)]
HEADS = [make_valid(f"8103033006{n}") for n in range(3)]
DISTRICT_HEAD = make_valid("82030330061")
OFFICER = make_valid("86040440061")
COMMENT = "Число учащихся в строке 1 не сходится со списком контингента"


def inbox(stack) -> dict:
    resp = httpx.get(f"{stack.config.url('routing')}/v1/inboxes/{DISTRICT}", headers=bearer(data_office_token()),
                     params={"form_code": FORM, "period": PERIOD}, timeout=30)
    resp.raise_for_status()
    return {p["participant_id"]: p for p in resp.json()["participants"]}


def wait(probe, what: str, timeout: float = 120.0):
    return Campaign.wait(probe, what, timeout)


@pytest.fixture(scope="module")
def campaign(stack, ca):
    """The district, its schools and heads, the year's list; the officer named; then, on the
    business clock: school A on time, the deadline passes (B and C missing), B delivers late."""
    h = Hierarchy(MINISTRY)
    h.units[DISTRICT] = Unit(DISTRICT, "district", REGION, DISTRICT_HEAD, "Сынақ ауданы 61")
    for n, (school, head) in enumerate(zip(SCHOOLS, HEADS, strict=True)):
        h.units[school] = Unit(school, "organization", DISTRICT, head, f"Мектеп {'ABC'[n]}")
    c = Campaign(stack.config, ca, h, form=campaign_form(FORM), year=YEAR, log=lambda _line: None, workers=3)
    c.seed()
    # the officer: the district's head names her; she signs in with an employee's key (no head EKU)
    resp = httpx.put(f"{stack.config.url('registry')}/v1/participants/{DISTRICT}/staff/{OFFICER}",
                     headers=bearer(token_for(DISTRICT)), timeout=30,
                     json={"full_name": "Маман Әсел", "role": "officer"})
    assert resp.status_code == 200, resp.text
    key, cert = ca.issue(iin=OFFICER, name="Маман Әсел", bin_=DISTRICT, eku=(EKU_LEGAL_ENTITY,), valid_days=CERT_DAYS)
    officer = Signer(key, cert)
    assert sign_in(officer, staff_just_named=True).status_code == 200  # identity has heard of her
    on_time, late, missing = SCHOOLS
    try:
        c.clock(c.opening())
        assert c.submit_school(on_time, school_figures(1))["status"] == "accepted"
        c.close_collection("organization")
        wait(lambda: all(inbox(stack)[s]["missing"] for s in (late, missing)), "the sweep's missing flags")
        assert c.submit_school(late, school_figures(2))["status"] == "accepted"
        wait(lambda: inbox(stack)[late]["late"] and inbox(stack)[late]["status"] == "accepted", "the late flag")
        yield {"campaign": c, "officer": officer}
    finally:
        clear_control(stack.config.clock_file)


def signed_in(page, portal: str, ncalayer, signer: Signer) -> None:
    ncalayer.sign_in_key = signer
    page.goto(f"{portal}/sign-in")
    page.click("#sign-in-button")
    page.wait_for_url(f"{portal}/")


def rows(page, table: str) -> dict[str, dict]:
    return {tr.get_attribute("data-participant"): {k: tr.get_attribute(f"data-{k}") for k in ("status", "late", "missing")}
            for tr in page.locator(f"{table} tbody tr[data-participant]").all()}


def test_a_district_officer_sees_late_and_missing_returns_a_submission_and_the_head_submits_up(
        stack, portal, ncalayer, browser, page, look, campaign):
    c: Campaign = campaign["campaign"]
    on_time, late, missing = SCHOOLS
    signed_in(page, portal, ncalayer, campaign["officer"])
    assert "специалист" in page.inner_text("#who")  # the officer's role, in the browser's Russian

    # the board: pick the form and period
    page.goto(f"{portal}/board")
    look(page, "officer-board-choose")
    page.select_option("#pick-form", FORM)
    page.fill("#pick-period", PERIOD)
    page.click("#pick button[type=submit]")
    page.wait_for_selector("#board-table")
    board = rows(page, "#board-table")
    assert board[late] == {"status": "accepted", "late": "true", "missing": "false"}
    assert board[missing] == {"status": "expected", "late": "false", "missing": "true"}
    assert board[on_time] == {"status": "accepted", "late": "false", "missing": "false"}
    counts = {k: page.inner_text(f'#board-figures [data-count="{k}"]') for k in ("expected", "delivered", "late", "missing")}
    assert counts == {"expected": "3", "delivered": "2", "late": "1", "missing": "1"}
    assert page.inner_text("#reporting-rate") == "66.7%" and page.inner_text("#on-time-rate") == "33.3%"
    assert page.locator("#chart-status rect.bar").count() == 6  # the chart, drawn on the server
    assert page.locator('#chart-status [data-label="Тапсырмады"], #chart-status [data-label="Не представили"]').count() == 1
    look(page, "officer-board")
    # drill-down: the late school's submissions
    page.click(f'#board-table tr[data-participant="{late}"] td a')
    page.wait_for_selector("#participant-submissions")
    assert page.locator("#participant-submissions tr[data-submission]").count() == 1
    look(page, "officer-board-school")

    # the inbox: return the on-time school's submission with a comment
    page.goto(f"{portal}/inbox?form_code={FORM}&period={PERIOD}")
    look(page, "officer-inbox")
    row = page.locator(f'#inbox-table tr[data-participant="{on_time}"]')
    row.locator("details.return summary").click()
    row.locator("textarea").fill(COMMENT)
    row.locator("details.return button[type=submit]").click()
    page.wait_for_selector("#inbox-done")
    assert "Мектеп A" in page.inner_text("#inbox-done")
    assert rows(page, "#inbox-table")[on_time]["status"] == "returned"
    sid = c.submissions[on_time]
    page.goto(f"{portal}/inbox/submissions/{sid}")
    assert COMMENT in page.inner_text("#sub-returned")
    look(page, "officer-submission")
    page.goto(f"{portal}/inbox")
    assert page.locator(f'#inbox-recent tr[data-submission="{sid}"]').count() == 1
    look(page, "officer-inbox-recent")

    # the school sees the return: its head signs in in a browser of its own; its timeline holds it
    seen = wait(lambda: (b := get_submission(c.url("intake"), sid, token_for(on_time)).json())["status"] == "returned"
                and b, "the school's submission returned")
    assert [s["detail"]["comment"] for s in seen["timeline"] if s["step"] == "returned"] == [COMMENT]
    school = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900}).new_page()
    try:
        signed_in(school, portal, ncalayer, c.signers[on_time])
        assert school.inner_text("#participant-name") == "Мектеп A"
        school.goto(f"{portal}/submissions/{sid}")  # the school's own submission page
        assert school.get_attribute("#status", "data-status") == "returned"
        assert COMMENT in school.inner_text("#timeline")
        look(school, "participant-submission-returned")
    finally:
        school.context.close()

    # whom to chase: the missing school, the returned one, the late one; with the heads' names
    page.goto(f"{portal}/reminders?form_code={FORM}&period={PERIOD}")
    chase = {tr.get_attribute("data-participant"): tr.get_attribute("data-why")
             for tr in page.locator("#chase-table tr[data-participant]").all()}
    assert chase == {missing: "missing", on_time: "returned", late: "late"}
    assert "Head of Мектеп C" in page.inner_text(f'#chase-table tr[data-participant="{missing}"]')
    look(page, "officer-reminders")
    page.goto(f"{portal}/inforequests")
    look(page, "officer-inforequests")

    # the district's head signs the consolidated document (the one without the returned school)
    meta = c.consolidation(DISTRICT, lambda m: on_time in m["returned"] and late in m["included"])
    head = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900}).new_page()
    head.set_default_timeout(60_000)
    ncalayer.document_key = c.signers[DISTRICT]
    ncalayer.document_time = Clock(control_file=stack.config.clock_file).now  # the rehearsal's "now" on the PC
    try:
        signed_in(head, portal, ncalayer, c.signers[DISTRICT])
        head.goto(f"{portal}/consolidation?form_code={FORM}&period={PERIOD}")
        assert head.get_attribute("#cons-doc", "data-version") == str(meta["version"])
        total = head.inner_text('#cons-totals tr[data-cell="pupils_total"] td.num')
        assert total == str(school_figures(2)["pupils_total"])
        look(head, "officer-consolidation")
        head.click("#sign-submit")
        head.wait_for_selector('#own-submission[data-final="true"]', timeout=120_000)
        assert head.get_attribute("#own-submission", "data-status") == "accepted", head.inner_text("#own-submission")
        signed = ncalayer.requests[-1]["args"]
        assert signed["signingParams"]["encapsulate"] is False  # detached, over the document's exact bytes
        assert base64.b64decode(signed["data"]) == c.document(DISTRICT, "json", meta["version"])
        look(head, "officer-consolidation-submitted")
    finally:
        ncalayer.document_time = ncalayer.document_key = None  # the stand-in is the session's
        head.context.close()
    region = httpx.get(f"{c.url('routing')}/v1/inboxes/{REGION}", headers=bearer(data_office_token()),
                       params={"form_code": FORM, "period": PERIOD}, timeout=30).json()
    assert next(p for p in region["participants"] if p["participant_id"] == DISTRICT)["status"] == "accepted"


def test_the_ministry_sees_the_list_of_forms_the_reports_and_analytics(stack, ca, portal, ncalayer, page, look,
                                                                         campaign):
    signed_in(page, portal, ncalayer, head_signer(ca, MINISTRY))
    assert page.locator('nav.menu a[href="/formlists"]').count() == 1

    # the approved list of forms, printable, and its PDF
    page.goto(f"{portal}/formlists?year={YEAR}")
    assert page.locator(f'#fl-forms tr[data-form="{FORM}"]').count() == 1
    look(page, "ministry-formlists")
    pdf = page.request.get(f"{portal}{page.get_attribute('#fl-pdf', 'href')}")
    assert pdf.ok and pdf.body().startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"

    # the reports: the district's, built at its consolidations; one more built now, with progress
    page.goto(f"{portal}/reports?form_code={FORM}&period={PERIOD}")
    report_id = f"{DISTRICT}:{FORM}:{PERIOD}"
    def listed() -> bool:
        page.reload()
        return page.locator(f'#reports-table tr[data-report="{report_id}"]').count() == 1

    wait(listed, "the district's report", 60)
    look(page, "ministry-reports")
    page.click(f'#reports-table tr[data-report="{report_id}"] a')
    page.wait_for_selector("#report-title")
    before = page.locator("section[data-version]").count()
    page.click("#build-button")
    page.wait_for_url("**built=**", timeout=120_000)
    assert page.locator("section[data-version]").count() == before + 1
    look(page, "ministry-report")
    with page.expect_download() as got:
        page.locator("section[data-version] a[data-fmt=pdf]").first.click()
    assert got.value.path().read_bytes().startswith(b"%PDF")

    # analytics: the nation, then the demo region, then the district, then its schools
    page.goto(f"{portal}/analytics?form_code={FORM}&period={PERIOD}&cell=pupils_total")
    page.wait_for_selector(f'#an-table tr[data-node="{REGION}"]')
    look(page, "ministry-analytics")
    page.click(f'#an-table tr[data-node="{REGION}"] a')
    page.wait_for_selector(f'#an-table tr[data-node="{DISTRICT}"]')
    page.click(f'#an-table tr[data-node="{DISTRICT}"] a')
    page.wait_for_selector(f'#an-table tr[data-node="{SCHOOLS[1]}"]')
    # the district's figure: its schools' current submissions (the on-time one's stops counting
    # once the officer has returned it; the third never came)
    standing = [n for n, s in enumerate(SCHOOLS, start=1) if inbox(stack)[s]["status"] in ("accepted", "reviewed")]
    assert page.inner_text("#an-figure") == str(sum(school_figures(n)["pupils_total"] for n in standing))
    assert page.locator("#chart-indicator rect.bar").count() >= 1
    assert page.locator("#an-trail a").count() == 3  # ministry › region › district
    look(page, "ministry-analytics-district")

    # an information request to the district's schools, issued from the page
    page.goto(f"{portal}/inforequests/new")
    look(page, "ministry-inforequest-new")
    page.fill("#ir-title-input", "Компьютеры в школах")
    page.fill("#ir-code", "OFC-IR")
    page.fill("#ir-fields", "computers; Компьютеры\nteachers_trained; Обученные учителя")
    page.fill("#ir-within", DISTRICT)
    page.click("#ir-form button[type=submit]")
    page.wait_for_selector("#ir-members")
    members = {tr.get_attribute("data-participant") for tr in page.locator("#ir-members tr[data-participant]").all()}
    assert members == {*SCHOOLS, DISTRICT, REGION}
    look(page, "ministry-inforequest")
    page.goto(f"{portal}/inforequests")
    assert page.locator("#ir-table tr[data-request]").count() >= 1
    look(page, "ministry-inforequests")

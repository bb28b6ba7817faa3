"""A school's pages in a real browser (issue 12, docs/portal.md "Participants"): the director
signs in with the EDS through NCALayer (the stand-in, uise_stack.ncalayer), sees the forms due
this year with their deadlines, downloads a form's XLSX template, fills it in with a figure that
raises a query, uploads it, sees the query before signing, explains it, signs the very bytes
with NCALayer and sends them, then sees the receipt and the final state: accepted. A school
elsewhere cannot see that submission's page.

Sign-in uses NCA RK's test key legal_ceo_valid.p12 (through the pinned identity replica); the
document is signed with a key of the project's test CA issued to the same person: NCA's test
certificate expires on 2027-05-08 and the signature service judges a document at the trusted time
now (tests/e2e/test_sign_in.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from decimal import Decimal
from pathlib import Path

import httpx
import openpyxl
import pytest

from uise_common.docsign import verify_receipt
from uise_registry.catalog import example_values
from uise_registry.demo import DEMO_FORM, REGION, SCHOOLS
from uise_registry.identifiers import make_valid
from uise_stack.client import Signer, bearer, data_office_token, sign_in, submit, wait_final
from uise_stack.demo import DEMO_YEAR, figures, head_signer
from uise_stack.ncalayer import NCA_BIN, NCA_CEO, nca_key

pytestmark = pytest.mark.e2e
FORM, PERIOD = "OSH-1", str(DEMO_YEAR)
EXPLANATION = "В 2026 году школа работает в две смены в 12 классах-комплектах"


def with_a_query() -> dict[str, object]:
    """A plausible OSH-1 (every rule holds) but with one class per grade: 515 pupils in 12
    classes is more than 35 a class, CLASS_SIZE, a query (a warning that needs an explanation)."""
    values: dict[str, object] = {}
    for cell, v in example_values(FORM).items():
        if cell.startswith("classes."):
            v = Decimal(1)
        if v is not None:
            values[cell] = int(v) if isinstance(v, Decimal) and v == v.to_integral() else (
                float(v) if isinstance(v, Decimal) else v)
    return values


def fill(template: bytes, values: dict[str, object]) -> bytes:
    """Type the values into the input cells, found through the template's own map (as an
    accountant's Excel does: the workbook keeps its structure)."""
    wb = openpyxl.load_workbook(io.BytesIO(template))
    where = {row[0]: (row[1], row[2]) for row in wb["_uise"].iter_rows(values_only=True)
             if row and row[0] in values and len(row) >= 3}
    assert set(where) == set(values), f"cells not in the template: {set(values) - set(where)}"
    for code, (sheet, coord) in where.items():
        wb[sheet][coord] = values[code]
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def until(page, selector: str, tries: int = 30) -> None:
    """Reload the page until it shows `selector` (a step that arrives after the final state)."""
    for _ in range(tries):
        if page.locator(selector).count():
            return
        page.wait_for_timeout(1000)
        page.reload()
    raise AssertionError(f"{page.url} never showed {selector}")


def download(page, selector: str) -> bytes:
    with page.expect_download() as info:
        page.click(selector)
    return Path(info.value.path()).read_bytes()


def test_a_director_explains_a_query_signs_with_ncalayer_and_sees_the_submission_accepted(
        nca_portal, ncalayer, nca_school, pinned_identity, intake, ca, page, look, tmp_path):
    ncalayer.sign_in_key = nca_key("legal_ceo_valid.p12")
    ncalayer.document_key = Signer(*ca.issue(iin=NCA_CEO, name="Тестовый руководитель", bin_=NCA_BIN))
    page.goto(f"{nca_portal}/sign-in")
    page.click("#sign-in-button")
    page.wait_for_url(f"{nca_portal}/")

    # the forms due this year: each with its deadline (moved off a Sunday, and why) and status
    page.click("nav.menu a[href='/forms']")
    if page.inner_text("#year") != f"{DEMO_YEAR} год":
        page.goto(f"{nca_portal}/forms?year={DEMO_YEAR}")
    row = f"tr[data-form='{FORM}'][data-period='{PERIOD}']"
    assert page.get_attribute(f"{row} .status .badge", "data-status") == "none"
    deadline = page.inner_text(f"{row} .deadline")
    # the rule: the period's end plus 10 days, Sunday 2027-01-10; the deadline moves to Monday
    assert "2027-01-11, до 23:59" in deadline and "2027-01-10" in deadline, deadline
    assert page.get_attribute(f"{row} .moved-reasons li", "data-kind") == "weekend"
    assert "воскресенье" in page.inner_text(f"{row} .moved-reasons li")
    assert page.locator("tr[data-form='MON-Q']").count() == 4  # a quarterly form: its four quarters
    look(page, "participant-forms")

    # the template, streamed through the portal: the form's workbook with the BIN and period entered
    template = download(page, f"{row} a.template")
    wb = openpyxl.load_workbook(io.BytesIO(template))
    assert (wb["_uise"]["B1"].value, wb["Form"]["B6"].value, wb["Form"]["B7"].value) == (FORM, NCA_BIN, PERIOD)
    document = fill(template, with_a_query())
    path = tmp_path / "osh-1-2026.xlsx"
    path.write_bytes(document)

    # upload: the dry run's findings before anything is signed; the query needs an explanation
    page.click(f"{row} a.submit")
    page.wait_for_url(f"{nca_portal}/forms/{FORM}/{PERIOD}/submit")
    page.evaluate("""() => {
        const p = document.getElementById('upload-progress');
        window.seen = [];
        new MutationObserver(() => window.seen.push({hidden: p.hidden, value: p.value, max: p.max}))
            .observe(p, {attributes: true});
    }""")
    page.set_input_files("#document", str(path))
    page.wait_for_selector("#check-result")
    seen = page.evaluate("window.seen")
    assert any(not s["hidden"] and 0 < s["value"] == s["max"] for s in seen), seen  # the <progress> showed the upload
    assert page.get_attribute("#check-result", "data-would-be") == "queried"
    assert page.locator("#errors").count() == 0
    assert page.locator(".query[data-rule='CLASS_SIZE']").count() == 1
    assert "35" in page.inner_text(".query[data-rule='CLASS_SIZE'] .finding")  # validation's own message, in Russian
    assert page.is_disabled("#sign-button") and page.is_visible("#explain-missing")
    look(page, "participant-submit-findings", wait_for="#check-result")  # the file survives a language switch

    # explain, sign the exact bytes with NCALayer (detached), send
    for area in page.locator("#findings textarea[data-rule]").all():
        area.fill(EXPLANATION)
    assert page.is_enabled("#sign-button")
    asked_before = len(ncalayer.requests)
    page.click("#sign-button")
    page.wait_for_url(f"{nca_portal}/submissions/*")
    asked = ncalayer.requests[asked_before]
    assert (asked["module"], asked["method"]) == ("kz.gov.pki.knca.basics", "sign")
    assert asked["args"]["signingParams"]["encapsulate"] is False
    assert base64.b64decode(asked["args"]["data"]) == document  # the very bytes that were checked

    # the submission: held for nothing (explained at upload), it goes through to accepted
    sid = page.inner_text("#submission-id")
    page.wait_for_selector("#status[data-status='accepted']", timeout=120_000)  # the page refreshes itself
    until(page, "#timeline li[data-step='validated']")  # each outcome reaches intake on its own topic
    steps = page.locator("#timeline li[data-step]").evaluate_all("els => els.map(e => e.dataset.step)")
    assert {"received", "signature_checked", "validated", "accepted"} <= set(steps), steps
    assert EXPLANATION in page.inner_text("#timeline li[data-step='validated']")
    assert page.locator("#versions tbody tr").count() == 1

    # the receipt: downloadable, and it verifies offline against intake's published key
    receipt = json.loads(download(page, "#receipt-download"))
    key = json.loads(download(page, "#receipt-key"))
    assert receipt["submission_id"] == sid and receipt["participant_id"] == NCA_BIN
    assert receipt["document_sha256"] == hashlib.sha256(document).hexdigest()
    assert receipt["signers"][0]["iin"] == NCA_CEO
    assert verify_receipt(receipt, key["pem"])
    assert f"uise-receipt receipt-{sid}.json" in page.inner_text("#receipt-verify")
    assert download(page, "#document-link") == document
    look(page, "participant-submission")

    # a correction sent by the school's information system without explanations is held as
    # queried; the page asks for the explanation, and the correction then goes through
    token = sign_in(nca_key("legal_ceo_valid.p12"), identity_url=pinned_identity).json()["access_token"]
    sent = submit(intake, NCA_BIN, FORM, PERIOD, document, ncalayer.document_key, filename="osh-1.xlsx", token=token)
    assert sent.status_code == 202, sent.text
    second = sent.json()["submission_id"]
    page.goto(f"{nca_portal}/submissions/{second}")
    page.wait_for_selector("#status[data-status='queried']", timeout=120_000)
    assert page.locator("#open-queries .query[data-rule='CLASS_SIZE']").count() == 1
    look(page, "participant-submission-queried")
    page.fill("#open-queries textarea[data-rule='CLASS_SIZE']", EXPLANATION)
    page.click("#explain-button")
    page.wait_for_selector("#explained-notice")
    page.wait_for_selector("#status[data-status='accepted']", timeout=120_000)
    until(page, "#timeline li[data-step='explained']")
    assert page.locator("#versions tbody tr").count() == 2
    assert page.get_attribute("#versions tbody tr[aria-current]", "data-submission") == second
    page.goto(f"{nca_portal}/submissions/{sid}")
    assert page.is_visible("#superseded")

    # the list of submissions, and the forms page now shows the state
    page.goto(f"{nca_portal}/submissions")
    assert page.locator(f"#submissions tr[data-submission='{second}'] .badge").get_attribute("data-status") == "accepted"
    look(page, "participant-submissions")
    page.goto(f"{nca_portal}/forms?year={DEMO_YEAR}")
    assert page.get_attribute(f"{row} .status .badge", "data-status") == "accepted"


@pytest.fixture
def nca_submission(stack, ca, intake, pinned_identity, nca_school) -> str:
    """A submission of NCA's test school (the one the test above made, else one made here)."""
    token = sign_in(nca_key("legal_ceo_valid.p12"), identity_url=pinned_identity).json()["access_token"]
    items = httpx.get(f"{intake}/v1/submissions", params={"participant_id": NCA_BIN},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["items"]
    if items:
        return items[0]["submission_id"]
    signer = Signer(*ca.issue(iin=NCA_CEO, name="Тестовый руководитель", bin_=NCA_BIN))
    sent = submit(intake, NCA_BIN, DEMO_FORM.code, PERIOD, json.dumps(figures(30, 31)).encode(), signer, token=token)
    assert sent.status_code == 202, sent.text
    wait_final(intake, sent.json()["submission_id"], token=token)
    return sent.json()["submission_id"]


OTHER_DISTRICT, OTHER_SCHOOL = make_valid("21034000009"), make_valid("22044000099")
OTHER_DISTRICT_HEAD, OTHER_HEAD = make_valid("85010130008"), make_valid("85010130009")


@pytest.fixture(scope="module")
def school_of_another_district(stack) -> str:
    """A district beside the demo's, in the same region, and a school of it with its head."""
    office = bearer(data_office_token())
    for pid, level, kind, parent, head in ((OTHER_DISTRICT, "district", "district", REGION, OTHER_DISTRICT_HEAD),
                                           (OTHER_SCHOOL, "organization", "school", OTHER_DISTRICT, OTHER_HEAD)):
        resp = httpx.put(f"{stack.config.url('registry')}/v1/participants/{pid}", headers=office, timeout=30,
                         json={"bin": pid, "level": level, "kind": kind, "parent_id": parent,
                               "name_kk": f"{pid} ұйымы", "name_ru": f"Организация {pid}", "head_iin": head,
                               "head_name": f"Руководитель {pid}", "head_from": "2024-01-01"})
        assert resp.status_code == 200, resp.text
    return OTHER_SCHOOL


@pytest.mark.parametrize("who", ["a school of the same district", "a school of another district"])
def test_another_school_sees_the_services_refusal_and_nothing_of_the_submission(portal, ncalayer, ca, page, look,
                                                                                nca_submission, who, request):
    if who == "a school of the same district":
        other = list(SCHOOLS)[1]  # a demo school: not NCA's test school, nor above it
        ncalayer.sign_in_key = head_signer(ca, other)
    else:
        other = request.getfixturevalue("school_of_another_district")
        ncalayer.sign_in_key = Signer(*ca.issue(iin=OTHER_HEAD, name="Head of the other school", bin_=other))
        # the school is new: wait until identity has learned it from the registry's event
        assert sign_in(ncalayer.sign_in_key, wait=90).status_code == 200
    page.goto(f"{portal}/sign-in")
    page.click("#sign-in-button")
    page.wait_for_url(f"{portal}/")
    assert other in page.inner_text("#who")

    resp = page.goto(f"{portal}/submissions/{nca_submission}")
    assert resp.status == 404
    # intake answers a submission that is not the caller's exactly as one that does not exist
    assert page.inner_text("#error-message") == f"нет отправки {nca_submission}"
    assert page.locator("#receipt, #timeline, #history, #submission-id").count() == 0
    assert NCA_BIN not in page.content()
    if who == "a school of the same district":
        look(page, "participant-refused")
    page.goto(f"{portal}/submissions/{nca_submission}?lang=kk")
    assert page.inner_text("#error-message") == f"{nca_submission} жіберілімі жоқ"
    for part in ("receipt.json", "files/document", "files/signature"):
        got = page.request.get(f"{portal}/submissions/{nca_submission}/{part}")
        assert got.status == 404 and b"SUBMISSION_UNKNOWN" in got.body(), part
    page.goto(f"{portal}/submissions")
    assert page.locator(f"tr[data-submission='{nca_submission}']").count() == 0

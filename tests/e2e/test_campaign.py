"""A campaign up the whole hierarchy (issue 10; Rules clauses 9, 11, 12): schools submit, each
district consolidates, signs and submits, the region likewise, and the Ministry's consolidation
is the national figure, equal cell by cell to the schools' own data (a mean over the schools
included); a school that never delivers is missing and the chain goes on; a returned submission
is corrected and every level uses the correction; an information request reaches exactly its
targets and their answers reach the Ministry.

On a stack of its own, on PostgreSQL (its own database, dropped after): the consumers run beside
each other under READ COMMITTED, as in production. The hierarchy is the campaign's alone, so
the Ministry expects exactly its region."""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import create_engine, text

from uise_common.aggregates import plain
from uise_common.clock import Clock
from uise_common.pki.cms import sign
from uise_contracts.events import Category, FormDefinition, FormField
from uise_stack.campaign import (
    ALMATY,
    MINISTRY,
    Campaign,
    campaign_form,
    school_figures,
    small_hierarchy,
)
from uise_stack.client import another_stack, bearer, submit, token_for
from uise_stack.config import StackConfig
from uise_stack.stack import Stack

POSTGRES = os.environ.get("UISE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
YEAR = 2033


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    name = f"uise_campaign_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is required at {POSTGRES} (start it, or set UISE_TEST_POSTGRES_URL): {exc}")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory, database) -> Iterator[Stack]:
    config = StackConfig.ephemeral(tmp_path_factory.mktemp("campaign"), database_url=database, redis_url=None)
    stack = Stack(config)
    with another_stack():  # the session's stack keeps its own identity and tokens
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="module")
def hierarchy():
    return small_hierarchy(regions=1, districts=2, schools=6)


def campaign(stack: Stack, hierarchy, code: str) -> Campaign:
    c = Campaign(stack.config, stack.prepare_pki(), hierarchy, form=campaign_form(code), year=YEAR)
    c.seed()
    c.clock(c.opening())
    return c


def accepted(final: dict) -> None:
    why = [(t["step"], t["detail"]) for t in final.get("timeline", []) if t["step"] in ("rejected", "validated")]
    assert final["status"] == "accepted", (final["status"], final.get("reason_code"), why)


def schools(c: Campaign) -> list[str]:
    return [u.participant_id for u in c.hierarchy.at("organization")]


def test_a_campaign_reaches_the_ministry_with_the_sum_of_the_schools(own_stack, hierarchy):
    c = campaign(own_stack, hierarchy, "CMP-1")
    for n, school in enumerate(schools(c)):
        accepted(c.submit_school(school, school_figures(n)))
    district = c.hierarchy.at("district")[0]
    for unit in c.hierarchy.at("district") + c.hierarchy.at("region"):
        done = c.consolidate(unit.participant_id)
        assert done["submission"]["status"] == "accepted", done["submission"]
        assert sorted(done["consolidation"]["included"]) == sorted(
            u.participant_id for u in c.hierarchy.children(unit.participant_id))
        assert done["consolidation"]["missing"] == []
    national = c.national()
    assert c.differences(national) == {}
    # the mean is the schools' mean (exact as sum and count), not the mean of the districts' means
    agg = national["document"]["_consolidation"]["aggregates"]["avg_class_size"]
    assert agg["count"] == 6
    assert str(c.expected_totals()["avg_class_size"]) == str(national["document"]["avg_class_size"])
    table = c.level_table()
    assert table["organization"] == {"expected": 6, "delivered": 6, "accepted": 6, "returned": 0, "late": 0,
                                          "missing": 0}
    assert (table["district"]["accepted"], table["region"]["accepted"]) == (2, 1)
    # the district's consolidated workbook is the form's template, filled in
    assert c.document(district.participant_id, "xlsx")[:2] == b"PK"
    # the national report (docs/reports.md): a version per national consolidation, final once
    # every region is in, its summary the schools' own sum, exactly
    versions = httpx.get(f"{c.url('reporting')}/v1/reports/{MINISTRY}/{c.form.code}/{c.period}",
                         headers=c.office(), timeout=30).json()["versions"]
    latest = versions[-1]  # built with the national consolidation, in the same transaction
    assert latest["status"] == "final" and latest["level"] == "ministry", latest
    want = {k: None if v is None else plain(v) for k, v in c.expected_totals().items()}
    assert latest["summary"] == want
    # ... and so say its three documents, each fetched by a signed link and read back
    assert totals_in(c.report_documents(latest)) == {"json": want, "xlsx": want, "pdf": want}


def totals_in(documents: dict[str, bytes]) -> dict[str, dict[str, str | None]]:
    """The report's totals as each of its documents states them (exact text)."""
    doc = json.loads(documents["json"])
    wb = load_workbook(io.BytesIO(documents["xlsx"]))
    xlsx = {row[0]: row[3] for row in wb["totals"].iter_rows(min_row=2, values_only=True)}
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(documents["pdf"])).pages)
    totals = text[text.index("Итоги"):text.index("В разрезе")]  # the totals table: title, code, figure
    pdf = {}
    for cell in doc["totals"]:
        found = re.search(rf"(?m)\b{re.escape(cell)}\s+(-?\d+(?:\.\d+)?)?\s*$", totals)
        pdf[cell] = found.group(1) if found else "not in the PDF"
    return {"json": doc["totals"], "xlsx": xlsx, "pdf": pdf}


def test_a_correction_after_the_final_report_makes_a_new_version_listing_the_change(own_stack, hierarchy):
    c = campaign(own_stack, hierarchy, "CMP-6")
    for n, school in enumerate(schools(c)):
        accepted(c.submit_school(school, school_figures(n)))
    for unit in c.hierarchy.at("district") + c.hierarchy.at("region"):
        assert c.consolidate(unit.participant_id)["submission"]["status"] == "accepted"
    first = c.report(until=lambda m: m["status"] == "final")
    # a school finds its figures distorted after the national report: it submits a correction
    school = schools(c)[0]
    before = c.expected_totals()
    was = school_figures(0)
    classes = was["classes"] + 2
    average = (Decimal(was["pupils_total"]) / classes).quantize(Decimal("0.01"))
    final = c.submit_school(school, {**was, "classes": classes, "avg_class_size": str(average)})
    assert final["status"] == "accepted" and final["supersedes"] is not None
    district = c.hierarchy.units[school].parent_id
    for node in (district, c.hierarchy.units[district].parent_id):
        assert c.consolidate(node)["submission"]["status"] == "accepted"
    second = c.report(until=lambda m: m["version"] > first["version"] and m["status"] == "final")
    after = c.expected_totals()
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"classes", "avg_class_size"}
    assert {ch["cell"]: (ch["before"], ch["after"]) for ch in second["changes"]} == {
        k: (plain(before[k]), plain(after[k])) for k in changed}
    want = {k: None if v is None else plain(v) for k, v in after.items()}
    documents = c.report_documents(second)
    assert totals_in(documents) == {"json": want, "xlsx": want, "pdf": want}
    corrections = json.loads(documents["json"])["corrections"]
    assert [e["participant_id"] for e in corrections][0] == school  # the school's, then its departments'
    # the earlier version is still there as it was
    old = c.report_documents(first)
    assert json.loads(old["json"])["totals"] == first["summary"] == {
        k: None if v is None else plain(v) for k, v in before.items()}


def test_a_school_submits_to_its_district_never_straight_to_the_region(own_stack, hierarchy):
    c = campaign(own_stack, hierarchy, "CMP-1")
    school = schools(c)[0]
    region = c.hierarchy.at("region")[0].participant_id
    document = json.dumps(school_figures(0)).encode()
    resp = httpx.post(f"{c.url('intake')}/v1/submissions", headers=bearer(token_for(school)),
                      data={"form_code": "CMP-1", "period": c.period, "recipient_id": region},
                      files={"document": ("r.json", document),
                             "signature": ("r.p7s", sign(document, c.signers[school].key, c.signers[school].cert))})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "NOT_IMMEDIATE_SUPERIOR", resp.text


def test_a_returned_submission_is_corrected_and_every_level_uses_the_correction(own_stack, hierarchy):
    c = campaign(own_stack, hierarchy, "CMP-3")
    for n, school in enumerate(schools(c)):
        accepted(c.submit_school(school, school_figures(n)))
    first = schools(c)[0]
    district = c.hierarchy.units[first].parent_id
    returned = httpx.post(
        f"{c.url('routing')}/v1/inboxes/{district}/submissions/{c.submissions[first]}/return",
        json={"comment": "classes: the school's passport says 15"}, headers=bearer(token_for(district)), timeout=30)
    assert returned.status_code in (200, 202), returned.text
    timeline = c.wait(lambda: _steps_of(c, first, "returned"), "the return in the school's timeline")
    assert timeline["detail"]["comment"] == "classes: the school's passport says 15"
    corrected = {**school_figures(0), "classes": 15, "avg_class_size": "23.67"}
    final = c.submit_school(first, corrected)
    assert final["status"] == "accepted" and final["supersedes"] is not None
    for unit in c.hierarchy.at("district") + c.hierarchy.at("region"):
        assert c.consolidate(unit.participant_id)["submission"]["status"] == "accepted"
    national = c.national()
    assert c.differences(national) == {}
    assert national["document"]["classes"] == sum(v["classes"] for v in c.data.values())


def _steps_of(c: Campaign, school: str, step: str):
    body = httpx.get(f"{c.url('intake')}/v1/submissions/{c.submissions[school]}",
                     headers=bearer(token_for(school)), timeout=30).json()
    return next((t for t in body.get("timeline", []) if t["step"] == step), None)


def test_a_school_that_never_delivers_is_missing_and_the_chain_still_reaches_the_ministry(own_stack, hierarchy):
    c = campaign(own_stack, hierarchy, "CMP-2")
    silent, *others = schools(c)
    for n, school in enumerate(others, start=1):
        accepted(c.submit_school(school, school_figures(n)))
    district = c.hierarchy.units[silent].parent_id
    # the schools' deadline passes: the district consolidates what it has, the silent school missing
    c.clock(c.deadline("organization") + timedelta(minutes=1))
    meta = c.consolidation(district, lambda m: silent in m["missing"])
    assert silent not in meta["included"]
    for unit in c.hierarchy.at("district") + c.hierarchy.at("region"):
        assert c.consolidate(unit.participant_id)["submission"]["status"] == "accepted"
    national = c.national()
    assert c.differences(national, others) == {}
    assert national["document"]["pupils_total"] == sum(school_figures(n)["pupils_total"] for n in range(1, 6))
    assert c.level_table()["organization"]["missing"] == 1
    assert national["node_id"] == MINISTRY


def test_an_information_request_reaches_exactly_its_targets_and_their_answers_reach_the_ministry(
        own_stack, hierarchy):
    """Clause 12: the data office issues a request to the schools of one district; routing sends it
    to them and to the departments above them (relays), nobody else; the schools answer, the
    district consolidates and submits, the region likewise, and the Ministry's consolidation holds
    the sum of the answers. A school of the other district was never asked: intake refuses it."""
    base = campaign(own_stack, hierarchy, "CMP-1")  # the hierarchy and the heads' EDS
    # a request is about now: the business clock back on the real one (the test CA's root outlives it)
    base.clock(datetime.now(ALMATY))
    district = base.hierarchy.at("district")[0].participant_id
    region = base.hierarchy.units[district].parent_id
    asked = sorted(u.participant_id for u in base.hierarchy.children(district))
    never = next(s for s in schools(base) if s not in asked)
    form = FormDefinition(
        code="IR-CMP", title_kk="Ақпарат сұрауы", title_ru="Запрос информации", title_en="Information request",
        category=Category.other, period_type="as_of_date", respondent_kinds=["school"], deadline_days={},
        fields=[FormField(code="computers", title="Computers"),
                FormField(code="teachers_trained", title="Teachers trained in digital skills")])
    now = Clock(control_file=own_stack.config.clock_file).now()
    as_of = now.astimezone(ALMATY).date().isoformat()
    resp = httpx.post(f"{base.url('routing')}/v1/inforequests", headers=base.office(), timeout=30, json={
        "title": "Computers in the schools", "form": form.model_dump(mode="json"), "period": as_of,
        "target": {"kinds": ["school"], "within": district}, "due_at": (now + timedelta(days=10)).isoformat()})
    assert resp.status_code == 201, resp.text
    request_id = resp.json()["request_id"]
    assert {p["participant_id"]: p["role"] for p in resp.json()["participants"]} == {
        **dict.fromkeys(asked, "target"), district: "relay", region: "relay"}
    c = Campaign(own_stack.config, base.ca, base.hierarchy, form=form, year=YEAR, signers=base.signers, as_of=as_of)
    # the deadline service has planned the request (as the campaign waits for a list's deadlines)
    c.wait(lambda: httpx.get(f"{c.url('deadline')}/v1/deadlines", params={"form_code": form.code}).json(),
           "the request's deadlines")
    for n, school in enumerate(asked):
        # the request's events travel one per member (keyed by member): until intake has read this
        # school's, its answer is refused at the door (FORM_NOT_APPLICABLE, nothing stored): try again
        final = c.wait(lambda school=school, n=n: c.submit_school(
            school, {"computers": 12 + 5 * n, "teachers_trained": 3 + n}), f"intake to know {school} was asked", 60)
        assert final["status"] == "accepted", (final.get("reason_code"), final.get("timeline"))
    done = c.consolidate(district)
    assert done["submission"]["status"] == "accepted", done["submission"]
    assert sorted(done["consolidation"]["included"]) == asked and done["consolidation"]["missing"] == []
    done = c.consolidate(region)
    assert done["submission"]["status"] == "accepted", done["submission"]
    assert done["consolidation"]["included"] == [district]  # the region's other district was never asked
    national = c.national()
    assert c.differences(national) == {}
    assert national["document"]["computers"] == sum(12 + 5 * n for n in range(len(asked)))
    assert national["included"] == [region]
    # a school of the other district was never asked: its answer is refused at the door
    document = json.dumps({"computers": 99, "teachers_trained": 9}).encode()
    resp = submit(c.url("intake"), never, form.code, as_of, document, c.signers[never], wait_reference=0)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "FORM_NOT_APPLICABLE", resp.text
    # the chase view: the Ministry sees everyone asked, each accepted; the district its own schools
    view = httpx.get(f"{c.url('routing')}/v1/inforequests/{request_id}", headers=c.office(), timeout=30).json()
    assert {p["participant_id"]: p["status"] for p in view["participants"]} == dict.fromkeys(
        [*asked, district, region], "accepted")
    mine = httpx.get(f"{c.url('routing')}/v1/inforequests/{request_id}", headers=bearer(token_for(district)),
                     timeout=30).json()
    assert sorted(p["participant_id"] for p in mine["participants"]) == sorted([*asked, district])

"""Reporting's HTTP API: live figures, consolidation versions and their documents, for the
node's subtree only; the documents come from moto's real S3 server."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest
from fastapi.testclient import TestClient

from uise_common.db import migrate
from uise_common.service import ServiceRuntime, with_common
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer, moto_s3, run_handler
from uise_contracts.events import (
    ConsolidationDue,
    FormListApproved,
    Level,
    ParticipantUpserted,
    SubmissionAccepted,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_reporting import entrypoint, handlers
from uise_reporting.adapters import MIGRATIONS

ISSUER = TokenIssuer()
REGION, DISTRICT, OTHER = "200140000015", "210340000012", "210340000023"
SCHOOLS = ["220440000013", "220440000024"]


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture
def client(tmp_path, s3_endpoint):
    rt = ServiceRuntime(entrypoint.SPEC, Settings(service_name="reporting", data_dir=tmp_path, s3_endpoint=s3_endpoint,
                                                  s3_bucket="reportingtest", kafka_bootstrap="127.0.0.1:1"))
    rt.authenticator = ISSUER.authenticator()
    rt.store.ensure_bucket()
    migrate(rt.engine, with_common(MIGRATIONS))
    for pid, level, kind, parent in ((REGION, Level.region, "region", "100140000011"),
                                     (DISTRICT, Level.district, "district", REGION),
                                     (OTHER, Level.district, "district", REGION),
                                     *((s, Level.organization, "school", DISTRICT) for s in SCHOOLS)):
        run_handler(rt.engine, handlers.on_participant, ParticipantUpserted(
            participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent, name_kk="x", name_ru="x"))
    run_handler(rt.engine, handlers.on_formlist, FormListApproved(year=2026, version=1, order_no="1",
                                                                  order_date=date(2026, 1, 15), forms=[SCHOOL_FORM]))
    for i, (school, pupils) in enumerate(zip(SCHOOLS, (100, 51), strict=True)):
        run_handler(rt.engine, handlers.on_accepted, SubmissionAccepted(
            submission_id=f"s{i}", participant_id=school, recipient_id=DISTRICT, form_code="SCH-1", period="2026",
            values_exact={"pupils_total": str(pupils), "teachers": "7"}))
    return rt, TestClient(rt.app())


def officer(node=DISTRICT, level="district"):
    return ISSUER.headers("officer", node, level)


def test_live_figures_of_a_node_for_its_subtree_only(client):
    rt, c = client
    params = {"form_code": "SCH-1", "period": "2026"}
    body = c.get(f"/v1/nodes/{DISTRICT}/figures", params=params, headers=officer()).json()
    assert body["contributors"] == 2 and body["figures"]["pupils_total"] == "151"
    assert body["aggregates"]["teachers"] == {"sum": "14", "count": 2, "min": "7", "max": "7"}
    assert c.get(f"/v1/nodes/{DISTRICT}/figures", params=params, headers=officer(REGION, "region")).status_code == 200
    assert c.get(f"/v1/nodes/{DISTRICT}/figures", params=params, headers=officer(OTHER)).status_code == 403
    assert c.get(f"/v1/nodes/{DISTRICT}/figures", params=params).status_code == 401
    unknown = c.get(f"/v1/nodes/{DISTRICT}/figures", params={**params, "form_code": "NOPE-1"}, headers=officer())
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "FORM_NOT_FOUND")
    school = c.post(f"/v1/reports/{SCHOOLS[0]}/SCH-1/2026/build", headers=officer())
    assert (school.status_code, school.json()["error"]["code"]) == (409, "NOT_A_DEPARTMENT")
    bad = c.get(f"/v1/nodes/{DISTRICT}/figures", params={**params, "period": "2026-13"}, headers=officer())
    assert bad.status_code == 422


def test_consolidation_versions_and_their_documents(client):
    rt, c = client
    base = f"/v1/consolidations/{DISTRICT}/SCH-1/2026"
    missing = c.get(base, headers=officer())
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "CONSOLIDATION_NOT_FOUND")
    on_due = handlers.make_on_due(rt.store.put)
    for n in (1, 2):
        run_handler(rt.engine, on_due, ConsolidationDue(
            node_id=DISTRICT, form_code="SCH-1", period="2026", expected=2, received=2, due_id=f"d{n}",
            included=SCHOOLS, included_submissions={s: f"s{i}" for i, s in enumerate(SCHOOLS)}))
    latest = c.get(base, headers=officer()).json()
    assert latest["version"] == 2 and latest["totals"]["pupils_total"] == "151"
    assert [v["version"] for v in c.get("/v1/consolidations", params={"node_id": DISTRICT}, headers=officer()).json()] == [1, 2]
    assert c.get("/v1/consolidations", headers=officer(OTHER)).json() == []  # another district sees none
    doc = c.get(f"{base}/document.json", params={"version": 1}, headers=officer())
    assert doc.status_code == 200 and doc.headers["content-type"].startswith("application/json")
    assert 'filename="' + f"{DISTRICT}-SCH-1-2026-v1.json" in doc.headers["content-disposition"]
    assert json.loads(doc.content)["_consolidation"]["version"] == 1 and json.loads(doc.content)["pupils_total"] == 151
    xlsx = c.get(f"{base}/document.xlsx", headers=officer())
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    assert xlsx.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert c.get(f"{base}/document.xlsx", params={"version": 9}, headers=officer()).json()["error"]["code"] == \
        "CONSOLIDATION_NOT_FOUND"
    assert c.get(f"{base}/document.json", headers=officer(OTHER)).status_code == 403
    reports = c.get("/v1/reports", params={"node_id": DISTRICT}, headers=officer()).json()
    assert [(r["report_id"], r["version"]) for r in reports] == [(f"{DISTRICT}:SCH-1:2026", 1),
                                                                  (f"{DISTRICT}:SCH-1:2026", 2)]


@pytest.mark.parametrize("version", ["99999999999999999999", "9223372036854775808", "0", "١", "1.0"])
def test_a_version_out_of_range_or_not_in_ascii_digits_is_a_422_not_a_500(client, version):
    # 20 digits went to the database as they were: SQLite cannot bind them, PostgreSQL overflows.
    _rt, c = client
    base = f"/v1/consolidations/{DISTRICT}/SCH-1/2026"
    for path in (base, f"{base}/document.json", f"{base}/document.xlsx"):
        resp = c.get(path, params={"version": version}, headers=officer())
        assert (resp.status_code, resp.json()["error"]["code"]) == (422, "REQUEST_INVALID"), path


def test_report_versions_built_on_demand_listed_and_verifiable(client):
    from uise_common.docsign import verify_report

    rt, c = client
    base = f"/v1/reports/{DISTRICT}/SCH-1/2026"
    missing = c.get(base, headers=officer())
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "REPORT_NOT_FOUND")
    built = c.post(f"{base}/build", headers=officer())
    assert built.status_code == 201, built.text
    meta = built.json()
    assert meta["version"] == 1 and meta["status"] == "preliminary" and meta["summary"]["pupils_total"] == "151"
    assert set(meta["documents"]) == {"json", "xlsx", "pdf"} and meta["built_from"] == 2
    key = c.get("/v1/reports/public-key").json()  # public: integrators verify offline
    assert verify_report(meta, key["pem"])
    # stored in the object store before the row: the bytes match the signed checksums
    from uise_common.objectstore import content_key
    from uise_contracts.events import StoredObject

    stored = {f: rt.store.get(StoredObject(key=content_key("reports", d["sha256"]), **d))
              for f, d in meta["documents"].items()}
    assert verify_report(meta, key["pem"], stored)
    assert json.loads(stored["json"])["totals"]["pupils_total"] == "151"
    run_handler(rt.engine, handlers.on_accepted, SubmissionAccepted(
        submission_id="s0-fix", participant_id=SCHOOLS[0], recipient_id=DISTRICT, form_code="SCH-1", period="2026",
        values_exact={"pupils_total": "90", "teachers": "7"}, supersedes="s0"))
    assert c.post(f"{base}/build", headers=officer()).json()["version"] == 2
    body = c.get(base, headers=officer()).json()
    assert [v["version"] for v in body["versions"]] == [1, 2]
    assert body["versions"][1]["changes"] == [{"cell": "pupils_total", "before": "151", "after": "141"}]
    listed = c.get("/v1/reports", params={"node_id": DISTRICT, "form_code": "SCH-1", "period": "2026"},
                   headers=officer()).json()
    assert [r["version"] for r in listed] == [1, 2]
    assert c.get(base, headers=officer(OTHER)).status_code == 403
    assert c.post(f"{base}/build", headers=officer(OTHER)).status_code == 403
    assert c.post(f"{base}/build", headers=ISSUER.headers("integrator", None, None)).status_code == 403
    unknown = c.post(f"/v1/reports/{DISTRICT}/NOPE-1/2026/build", headers=officer())
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "FORM_NOT_FOUND")
    school = c.post(f"/v1/reports/{SCHOOLS[0]}/SCH-1/2026/build", headers=officer())
    assert (school.status_code, school.json()["error"]["code"]) == (409, "NOT_A_DEPARTMENT")


# --- every document read on record (uise_common.reads) -----------------------------------------

READER = "iin:870303400044"  # the officer who reads, as the token's subject


def consolidate(rt, times: int = 2) -> None:
    on_due = handlers.make_on_due(rt.store.put)
    for n in range(1, times + 1):
        run_handler(rt.engine, on_due, ConsolidationDue(
            node_id=DISTRICT, form_code="SCH-1", period="2026", expected=2, received=2, due_id=f"d{n}",
            included=SCHOOLS, included_submissions={s: f"s{i}" for i, s in enumerate(SCHOOLS)}))


def test_each_consolidated_document_read_is_recorded_and_a_refused_one_is_not(client):
    rt, c = client
    consolidate(rt)
    base = f"/v1/consolidations/{DISTRICT}/SCH-1/2026"
    district = ISSUER.headers("officer", DISTRICT, "district", subject=READER)
    region = ISSUER.headers("head", REGION, "region", subject="iin:750505300011")
    assert c.get(f"{base}/document.json", params={"version": 1}, headers=district).status_code == 200
    assert c.get(f"{base}/document.xlsx", headers=region).status_code == 200  # the latest: version 2
    for refused, headers, params in ((403, officer(OTHER), {}), (401, {}, {}),
                                     (404, district, {"version": 9}), (422, district, {"version": "0"})):
        for fmt in ("json", "xlsx"):
            assert c.get(f"{base}/document.{fmt}", params=params, headers=headers).status_code == refused
    got = c.get(f"{base}/reads", headers=district)
    assert got.status_code == 200, got.text
    assert [(r["version"], r["part"], r["how"], r["reader"], r["client"]) for r in got.json()] == [
        (1, "json", "file", f"{READER}@{DISTRICT}/officer", "testclient"),
        (2, "xlsx", "file", f"iin:750505300011@{REGION}/head", "testclient")]
    assert all(r["at"].endswith("+05:00") for r in got.json())  # when, in Almaty


def test_who_may_see_the_reads_of_a_consolidation(client):
    rt, c = client
    consolidate(rt, times=1)
    reads = f"/v1/consolidations/{DISTRICT}/SCH-1/2026/reads"
    for allowed in (officer(), ISSUER.headers("head", REGION, "region"), ISSUER.headers("data_office")):
        assert c.get(reads, headers=allowed).status_code == 200
    for refused, code in ((officer(OTHER), "OUT_OF_SUBTREE"),  # another district
                          (ISSUER.headers("head", SCHOOLS[0], "organization"), "OUT_OF_SUBTREE"),  # below the node
                          (ISSUER.headers("integrator"), "SCOPE_MISSING"),  # reads reports, not who read them
                          (ISSUER.headers("system", DISTRICT, "district"), "SCOPE_MISSING"),
                          (ISSUER.headers("ops"), "SCOPE_MISSING")):
        resp = c.get(reads, headers=refused)
        assert (resp.status_code, resp.json()["error"]["code"]) == (403, code)
    assert c.get(reads).status_code == 401
    missing = c.get(f"/v1/consolidations/{DISTRICT}/SCH-9/2026/reads", headers=officer())
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "CONSOLIDATION_NOT_FOUND")


def link_path(url: str) -> str:
    """A link as the test client follows it: the signed path and query, without the base URL."""
    parsed = httpx.URL(url)
    return f"{parsed.path}?{parsed.query.decode()}"


def test_links_issued_and_reads_by_link_are_recorded_as_the_links_holder(client):
    from datetime import UTC, datetime, timedelta

    from uise_reporting import published

    rt, c = client
    report = f"{DISTRICT}:SCH-1:2026"
    assert c.post(f"/v1/reports/{DISTRICT}/SCH-1/2026/build", headers=officer()).status_code == 201
    integrator = ISSUER.headers("integrator", subject="client:minfin")
    issued = c.post(f"/v1/reports/{report}/1/links", headers=integrator)
    assert issued.status_code == 200
    urls = {fmt: d["url"] for fmt, d in issued.json()["documents"].items()}
    grants = {httpx.URL(u).params["grant"] for u in urls.values()}
    assert len(grants) == 1  # one issuance, one grant
    [grant] = grants
    # refused issuances leave nothing: outside the caller's reach (404), unknown version, no token
    assert c.post(f"/v1/reports/{report}/1/links", headers=officer(OTHER)).status_code == 404
    assert c.post(f"/v1/reports/{report}/7/links", headers=integrator).status_code == 404
    assert c.post(f"/v1/reports/{report}/1/links").status_code == 401

    got = c.get(link_path(urls["json"]))  # no token: the link is the credential
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/json")
    # the grant is signed with the rest: taken off, swapped or forged, the link is refused and nothing recorded
    without = link_path(urls["xlsx"]).replace(f"&grant={grant}", "")
    swapped = link_path(urls["xlsx"]).replace(grant, "A" * len(grant))
    for tampered in (without, swapped):
        assert c.get(tampered).json()["error"]["code"] == "LINK_INVALID"
    linker = published.Linker.from_settings(rt.settings)
    expired, _ = linker(report, 1, "pdf", now=datetime.now(UTC) - timedelta(days=2), grant=grant)
    assert c.get(link_path(expired)).status_code == 410
    unknown, _ = linker(report, 1, "csv", grant=grant)
    assert c.get(link_path(unknown)).status_code == 404
    event_link, _ = linker(report, 1, "pdf")  # as report.published carries it: no grant
    assert c.get(f"{link_path(event_link)}&grant={grant}").json()["error"]["code"] == "LINK_INVALID"  # nor added
    assert c.get(link_path(event_link)).status_code == 200

    rows = c.get(f"/v1/reports/{DISTRICT}/SCH-1/2026/reads", headers=officer()).json()
    assert [(r["version"], r["part"], r["how"], r["reader"], r["link"], r["client"]) for r in rows] == [
        (1, "json", "link", "client:minfin@-/integrator", grant, "testclient"),
        (1, "pdf", "link", "client:minfin@-/integrator", grant, "testclient"),
        (1, "xlsx", "link", "client:minfin@-/integrator", grant, "testclient"),
        (1, "json", "by_link", "client:minfin@-/integrator", grant, "testclient"),
        (1, "pdf", "by_link", "report.published", None, "testclient")]
    # who may see them: as for a consolidation's reads
    for refused in (officer(OTHER), integrator):
        assert c.get(f"/v1/reports/{DISTRICT}/SCH-1/2026/reads", headers=refused).status_code == 403
    assert c.get(f"/v1/reports/{DISTRICT}/SCH-1/2026/reads", headers=ISSUER.headers("data_office")).status_code == 200
    missing = c.get(f"/v1/reports/{DISTRICT}/SCH-9/2026/reads", headers=officer())
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "REPORT_NOT_FOUND")

"""Reporting's HTTP API: live figures, consolidation versions and their documents, for the
node's subtree only; the documents come from moto's real S3 server."""

from __future__ import annotations

import json
from datetime import date

import pytest
from fastapi.testclient import TestClient

from uise_common.db import migrate
from uise_common.service import COMMON_MIGRATION, ServiceRuntime
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
    migrate(rt.engine, [COMMON_MIGRATION, *MIGRATIONS])
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

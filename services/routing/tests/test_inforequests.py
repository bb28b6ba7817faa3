"""Information requests at routing (clause 12): issuing through the API, the targets and relays a
request resolves to, its refusals, the hierarchy check for a request form (exactly its members),
and the chase view."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from uise_common import clock
from uise_common.clock import Clock
from uise_common.db import migrate
from uise_common.outbox import OutboxRow
from uise_common.service import COMMON_MIGRATION, ServiceRuntime
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer, run_handler
from uise_contracts.events import (
    Category,
    DeadlineViolation,
    FormDefinition,
    FormField,
    FormListApproved,
    Level,
    ParticipantUpserted,
    SignatureChecked,
    StoredObject,
    SubmissionValidated,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_routing import entrypoint, handlers
from uise_routing.adapters import MIGRATIONS
from uise_routing.domain import Refused, Submitter
from uise_routing.inforequests import Target, due_by_level, members_of, resolve

ISSUER = TokenIssuer()
MINISTRY = "100140000011"
R1, R2 = "200240000012", "200240000023"
D1, D2, D3 = "210340000013", "210340000024", "210340000035"
S1, S2, S3, S4 = "220440000019", "220440000028", "220440000037", "220440000046"
COLLEGE = "220440000055"
PARTICIPANTS = ((MINISTRY, Level.ministry, "ministry", None), (R1, Level.region, "region", MINISTRY),
                (R2, Level.region, "region", MINISTRY), (D1, Level.district, "district", R1),
                (D2, Level.district, "district", R1), (D3, Level.district, "district", R2),
                (S1, Level.organization, "school", D1), (S2, Level.organization, "school", D1),
                (S3, Level.organization, "school", D2), (S4, Level.organization, "school", D3),
                (COLLEGE, Level.organization, "college", D1))
NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)
DATA_OFFICE = ISSUER.headers("data_office", subject="iin:900101300011")


def request_form(code: str = "IR-1", **changes) -> dict:
    form = FormDefinition(code=code, title_kk="Сұрау", title_ru="Запрос", title_en="Request",
                          category=Category.other, period_type="as_of_date", respondent_kinds=["school"],
                          fields=[FormField(code="computers", title="Computers")], deadline_days={})
    return {**form.model_dump(mode="json"), **changes}


def body(**changes) -> dict:
    return {"title": "Computers in schools", "form": request_form(), "period": "2026-06-01",
            "target": {"kinds": ["school"], "within": R1}, "due_at": "2026-06-10T18:00:00+05:00", **changes}


@pytest.fixture
def rt(tmp_path):
    runtime = ServiceRuntime(entrypoint.SPEC, Settings(
        service_name="routing", data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", clock_fixed=NOW))
    runtime.authenticator = ISSUER.authenticator()
    migrate(runtime.engine, [COMMON_MIGRATION, *MIGRATIONS])
    run_handler(runtime.engine, handlers.on_formlist, FormListApproved(
        year=2026, version=1, order_no="1", order_date=date(2026, 1, 15), forms=[SCHOOL_FORM]))
    for pid, level, kind, parent in PARTICIPANTS:
        run_handler(runtime.engine, handlers.on_participant, ParticipantUpserted(
            participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent, name_kk="x", name_ru="x"))
    yield runtime
    clock.install(Clock())


@pytest.fixture
def client(rt):
    return TestClient(rt.app())


def issued(rt) -> list[dict]:
    with Session(rt.engine) as s:
        return [json.loads(r.body) for r in s.exec(select(OutboxRow)) if r.topic == "uise.inforequest.issued.v1"]


def test_all_schools_of_one_region_reach_exactly_those_schools_and_the_departments_above(rt, client):
    resp = client.post("/v1/inforequests", json=body(), headers=DATA_OFFICE)
    assert resp.status_code == 201, resp.text
    view = resp.json()
    roles = {p["participant_id"]: p["role"] for p in view["participants"]}
    assert roles == {S1: "target", S2: "target", S3: "target", D1: "relay", D2: "relay", R1: "relay"}
    events = {e["to_participant_id"]: e for e in issued(rt)}
    assert set(events) == set(roles)  # one event per member, nobody else (not R2, D3, S4, the college)
    assert {e["request_id"] for e in events.values()} == {view["request_id"]}
    assert events[S1]["parent_id"] == D1 and events[D1]["parent_id"] == R1 and events[R1]["parent_id"] == MINISTRY
    due = {p: datetime.fromisoformat(e["due_at"]) for p, e in events.items()}
    assert due[S1] == datetime(2026, 6, 10, 13, tzinfo=UTC)
    assert (due[D1] - due[S1]).days == 3 and (due[R1] - due[S1]).days == 6
    form = events[S1]["form"]
    assert form["deadline_days"] == {"organization": 9, "district": 12, "region": 15}
    assert events[S1]["period"] == "2026-06-01" and events[S1]["level"] == "organization"
    # the list and the detail: national sees all; a district officer its own subtree
    assert [r["request_id"] for r in client.get("/v1/inforequests", headers=DATA_OFFICE).json()] == [view["request_id"]]
    officer = ISSUER.headers("officer", D1, "district", subject="iin:880315300048")
    assert [r["request_id"] for r in client.get("/v1/inforequests", headers=officer).json()] == [view["request_id"]]
    mine = client.get(f"/v1/inforequests/{view['request_id']}", headers=officer).json()
    assert {p["participant_id"] for p in mine["participants"]} == {D1, S1, S2}
    far = ISSUER.headers("officer", D3, "district", subject="iin:880315300048")
    assert client.get("/v1/inforequests", headers=far).json() == []
    resp = client.get(f"/v1/inforequests/{view['request_id']}", headers=far)
    assert (resp.status_code, resp.json()["error"]["code"]) == (404, "REQUEST_UNKNOWN")


def _validated(sid: str, participant: str, form_code: str = "IR-1") -> SubmissionValidated:
    return SubmissionValidated(submission_id=sid, participant_id=participant, form_code=form_code,
                               period="2026-06-01", ok=True, values={"computers": 4})


def test_a_request_form_applies_exactly_to_its_members_and_the_chase_view_follows_them(rt, client):
    request_id = client.post("/v1/inforequests", json=body(), headers=DATA_OFFICE).json()["request_id"]
    accepted = run_handler(rt.engine, handlers.on_validated, _validated("a1", S1))
    assert accepted[0].recipient_id == D1
    refused = run_handler(rt.engine, handlers.on_validated, _validated("a2", S4))  # a school of the other region
    assert refused[0].reason_code == "FORM_NOT_APPLICABLE"
    refused = run_handler(rt.engine, handlers.on_validated, _validated("a3", COLLEGE))
    assert refused[0].reason_code == "FORM_NOT_APPLICABLE"
    run_handler(rt.engine, handlers.on_signature_checked, SignatureChecked(
        submission_id="a4", participant_id=S2, form_code="IR-1", period="2026-06-01", ok=True,
        document=StoredObject(key="k", sha256="0" * 64, size=1, media_type="application/json")))
    run_handler(rt.engine, handlers.on_violation, DeadlineViolation(
        participant_id=S3, form_code="IR-1", period="2026-06-01", kind="missing", recipient_id=D2,
        deadline_at=datetime(2026, 6, 10, 13, tzinfo=UTC)))
    view = client.get(f"/v1/inforequests/{request_id}", headers=DATA_OFFICE).json()
    status = {p["participant_id"]: p["status"] for p in view["participants"]}
    assert status == {S1: "accepted", S2: "delivered", S3: "missing", D1: "expected", D2: "expected",
                      R1: "expected"}
    assert view["counts"]["accepted"] == 1 and view["counts"]["missing"] == 1
    # the district's inbox for the request expects exactly its targets
    officer = ISSUER.headers("officer", D1, "district", subject="iin:880315300048")
    inbox = client.get(f"/v1/inboxes/{D1}", params={"form_code": "IR-1", "period": "2026-06-01"},
                       headers=officer).json()
    assert inbox["expected"] == 2 and {r["participant_id"] for r in inbox["participants"] if r["expected"]} == {S1, S2}


@pytest.mark.parametrize(("changes", "status", "code"), [
    ({"form": request_form(category="indicators")}, 422, "REQUEST_FORM_CATEGORY"),
    ({"form": request_form(period_type="annual")}, 422, "REQUEST_PERIOD_TYPE"),
    ({"period": "2026-13-01"}, 422, "PERIOD_INVALID"),
    ({"period": "2026"}, 422, "REQUEST_PERIOD_TYPE"),
    ({"form": request_form(code=SCHOOL_FORM.code)}, 409, "FORM_CODE_TAKEN"),
    ({"due_at": "2026-05-01T18:00:00+05:00"}, 422, "DUE_AT_PAST"),
    ({"due_at": "2026-06-10T18:00:00"}, 422, "DUE_AT_NAIVE"),
    ({"target": {"kinds": ["university"]}}, 422, "TARGET_EMPTY"),
    ({"target": {"kinds": ["school"], "within": "999999999999"}}, 422, "TARGET_UNKNOWN_NODE"),
    ({"target": {"participant_ids": ["999999999999"]}}, 422, "TARGET_UNKNOWN_PARTICIPANT"),
    ({"target": {"participant_ids": [MINISTRY]}}, 422, "TARGET_NOT_ACTIVE"),
])
def test_refusals_have_stable_codes_in_three_languages(rt, client, changes, status, code):
    resp = client.post("/v1/inforequests", json=body(**changes), headers=DATA_OFFICE)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == code
    assert issued(rt) == []


def test_only_the_ministry_issues_and_a_code_serves_one_request(rt, client):
    district_head = ISSUER.headers("head", D1, "district", subject="iin:880315300048")
    resp = client.post("/v1/inforequests", json=body(), headers=district_head)
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "NOT_THE_MINISTRY")
    ministry_head = ISSUER.headers("head", MINISTRY, "ministry", subject="iin:750305300013")
    assert client.post("/v1/inforequests", json=body(), headers=ministry_head).status_code == 201
    again = client.post("/v1/inforequests", json=body(), headers=ministry_head)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "FORM_CODE_TAKEN")
    accountant = ISSUER.headers("accountant", MINISTRY, "ministry", subject="iin:750305300013")
    assert client.post("/v1/inforequests", json=body(form=request_form("IR-2")), headers=accountant).status_code == 403


def test_resolving_by_level_and_by_ids_pure():
    everyone = {pid: Submitter(participant_id=pid, level=level.value, kind=kind, parent_id=parent)
                for pid, level, kind, parent in PARTICIPANTS}
    day = date(2026, 6, 1)
    assert resolve(Target(levels=("district",)), everyone, day) == [D1, D2, D3]
    assert resolve(Target(participant_ids=(S4,), kinds=("college",)), everyone, day) == sorted([COLLEGE, S4])
    members = members_of([D3, S1], everyone, day, NOW, 2)
    assert {(m.participant_id, m.role) for m in members} == {(D3, "target"), (S1, "target"), (D1, "relay"),
                                                           (R1, "relay"), (R2, "relay")}
    assert next(m for m in members if m.participant_id == D3).due_at == due_by_level(["organization"], NOW, 2)["district"]
    closed = {**everyone, S2: Submitter(participant_id=S2, level="organization", kind="school", parent_id=D1,
                                        active=False)}
    assert resolve(Target(kinds=("school",), within=D1), closed, day) == [S1]
    with pytest.raises(Refused) as exc:
        resolve(Target(participant_ids=(S2,)), closed, day)
    assert exc.value.code == "TARGET_NOT_ACTIVE"

"""The registry's HTTP API on a real (SQLite) database with tokens from a stand-in identity
provider: every route's policy, the subtree rules, the staff a head names, and the documents of
the approved list that everyone may fetch without signing in."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from uise_common import auth
from uise_common.auth import ACCOUNTANT, ANALYST, DATA_OFFICE, HEAD, OFFICER, OPS, SIGNER, SYSTEM
from uise_common.db import migrate
from uise_common.outbox import OutboxRow
from uise_common.service import COMMON_MIGRATION, ServiceRuntime
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer
from uise_contracts.events import ParticipantUpserted
from uise_contracts.examples import SCHOOL_FORM
from uise_registry import api
from uise_registry.adapters import MIGRATIONS
from uise_registry.demo import DISTRICT, MINISTRY, REGION, SCHOOLS, demo_participants
from uise_registry.domain import today
from uise_registry.entrypoint import SPEC
from uise_registry.identifiers import make_valid

SCHOOL, SIBLING = list(SCHOOLS)
OTHER_DISTRICT = "210340000023"  # a second district of the same region
FAR_SCHOOL = make_valid("22044000005")  # a school of the other district
OTHER_REGION, FAR_DISTRICT = make_valid("21024000002"), make_valid("21034000004")
AIGUL = make_valid("90020240002")
ERLAN = make_valid("88031530004")


class Registry:
    def __init__(self, client: TestClient, issuer: TokenIssuer, rt: ServiceRuntime) -> None:
        self.client, self.issuer, self.rt = client, issuer, rt

    def as_(self, role: str, participant_id: str | None = None, level: str | None = None, **kw) -> dict[str, str]:
        return self.issuer.headers(role, participant_id, level, **kw)

    @property
    def office(self) -> dict[str, str]:
        """The first data-office credential: no organization."""
        return self.issuer.headers(DATA_OFFICE, subject="iin:870101400015")

    def events(self, participant_id: str) -> list[ParticipantUpserted]:
        with Session(self.rt.engine) as s:
            rows = s.exec(select(OutboxRow).where(OutboxRow.key == participant_id).order_by(OutboxRow.id)).all()
        return [ParticipantUpserted.model_validate_json(r.body) for r in rows if "participant.upserted" in r.topic]


def participant_body(participant_id: str, level: str, kind: str, parent: str | None, **kw) -> dict:
    return dict(bin=participant_id, level=level, kind=kind, parent_id=parent, name_kk=f"kk {participant_id}",
                name_ru=f"ru {participant_id}", **kw)


@pytest.fixture
def reg(tmp_path) -> Registry:
    """The demo hierarchy, a second district with a school, a second region, and the 2026 list
    (v1 approved, v2 a draft), all made through the API by the data office."""
    rt = ServiceRuntime(SPEC, Settings(service_name="registry", data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1"))
    migrate(rt.engine, [COMMON_MIGRATION, *MIGRATIONS])
    issuer = TokenIssuer()
    rt.authenticator = issuer.authenticator()
    client = TestClient(rt.app())  # no lifespan: no broker, no relay; events stay in the outbox
    r = Registry(client, issuer, rt)
    bodies = [{k: v for k, v in p.items() if k != "participant_id"} for p in demo_participants()]
    bodies[3:3] = [participant_body(OTHER_DISTRICT, "district", "district", REGION),
                   participant_body(OTHER_REGION, "region", "region", MINISTRY),
                   participant_body(FAR_DISTRICT, "district", "district", OTHER_REGION)]
    bodies.append(participant_body(FAR_SCHOOL, "organization", "school", OTHER_DISTRICT))
    for body in bodies:
        resp = client.put(f"/v1/participants/{body['bin']}", json=body, headers=r.office)
        assert resp.status_code == 200, resp.text
    assert client.post("/v1/formlists", json={"year": 2026, "forms": [SCHOOL_FORM.model_dump(mode="json")]},
                       headers=r.office).status_code == 201
    assert client.post("/v1/formlists/2026/1/approve", json={"order_no": "№ 1", "order_date": "2026-01-15"},
                       headers=r.office).status_code == 200
    draft = SCHOOL_FORM.model_copy(update={"title_en": "School annual report (draft)"})
    assert client.post("/v1/formlists", json={"year": 2026, "forms": [draft.model_dump(mode="json")]},
                       headers=r.office).status_code == 201
    yield r
    rt.engine.dispose()


def error(resp) -> tuple[int, str]:
    return resp.status_code, resp.json()["error"]["code"]


# --- every route has a policy; without a token only the public ones answer --------------------

SAMPLE = {"participant_id": SCHOOL, "iin": AIGUL, "year": "2026", "version": "1", "fmt": "csv", "code": "SCH-1"}
PUBLIC = {"/v1/formlists/{year}", "/v1/formlists/{year}/{version}.pdf", "/v1/forms/{code}",
          "/v1/forms/{code}/template.xlsx"}


def routes(reg: Registry) -> list[tuple[str, str, auth.Policy]]:
    out = []
    for route in api.router(reg.rt).routes:
        assert isinstance(route, APIRoute)
        policy = auth.policy_of(route)
        assert policy is not None, f"{route.path} declares no policy"
        out.extend((method, route.path, policy) for method in route.methods)
    return out


def test_every_route_declares_a_policy_and_only_the_distributed_documents_are_public(reg):
    found = routes(reg)
    assert len(found) == 21
    assert {path for _, path, policy in found if policy.public_because} == PUBLIC
    by_route = {(m, p): policy for m, p, policy in found}
    assert by_route[("POST", "/v1/formlists/{year}/{version}/approve")].scope == auth.FORMLISTS_WRITE
    assert by_route[("GET", "/v1/audit")].scope == auth.AUDIT_READ
    assert by_route[("PUT", "/v1/participants/{participant_id}/staff/{iin}")].roles == {HEAD, DATA_OFFICE}
    assert by_route[("GET", "/v1/participants/{participant_id}/staff")].subtree == "participant_id"
    move = by_route[("POST", "/v1/participants/{participant_id}/move")]
    assert (move.scope, move.subtree) == (auth.REGISTRY_WRITE, "participant_id")


def test_without_a_token_every_other_route_answers_401_and_no_header_is_believed(reg):
    checked = 0
    for method, path, policy in routes(reg):
        if policy.public_because:
            continue
        url = path.format(**SAMPLE)
        for headers in ({}, {"X-UISE-Actor": MINISTRY, "X-UISE-User": "anyone"},
                        {"Authorization": "Bearer not-a-token"}):
            resp = reg.client.request(method, url, headers=headers, params={"year": 2026, "on": "2026-01-01"})
            assert resp.status_code == 401, (method, url, headers, resp.text)
            assert resp.json()["error"]["code"] in ("UNAUTHENTICATED", "TOKEN_INVALID")
            checked += 1
    assert checked == 17 * 3


def test_the_distributed_documents_answer_without_a_token_and_hide_drafts(reg):
    c = reg.client
    versions = c.get("/v1/formlists/2026").json()
    assert [(v["version"], v["status"]) for v in versions] == [(1, "approved")]  # v2 is a draft
    assert c.get("/v1/formlists/2026/1.pdf").content.startswith(b"%PDF")
    assert error(c.get("/v1/formlists/2026/2.pdf")) == (404, "FORMLIST_UNKNOWN")
    assert c.get("/v1/forms/SCH-1", params={"year": 2026}).json()["code"] == "SCH-1"
    template = c.get("/v1/forms/SCH-1/template.xlsx", params={"year": 2026})
    assert template.status_code == 200 and template.content[:2] == b"PK"
    # the draft is the data office's
    assert error(c.get("/v1/formlists/2026/with-drafts"))[0] == 401
    assert error(c.get("/v1/formlists/2026/with-drafts", headers=reg.as_(HEAD, MINISTRY, "ministry"))) == (
        403, "SCOPE_MISSING")
    drafts = c.get("/v1/formlists/2026/with-drafts", headers=reg.office).json()
    assert [(v["version"], v["status"]) for v in drafts] == [(1, "approved"), (2, "draft")]
    assert drafts[1]["diff"]["changed"] == [{"code": "SCH-1", "changed": ["title_en"]}]
    # out-of-range numbers are refused, not a 500
    assert error(c.get("/v1/formlists/99999999999999999999")) == (422, "REQUEST_INVALID")
    assert error(c.get("/v1/forms/SCH-1", params={"year": 10**20})) == (422, "REQUEST_INVALID")


# --- lists of forms: only the data office -----------------------------------------------------


def test_only_the_data_office_drafts_edits_and_approves_a_list(reg):
    c = reg.client
    approval = {"order_no": "№ 2", "order_date": "2026-02-01"}
    forms = {"year": 2026, "forms": [SCHOOL_FORM.model_dump(mode="json")]}
    for role, pid, level in ((HEAD, SCHOOL, "organization"), (HEAD, MINISTRY, "ministry"),
                             (OFFICER, MINISTRY, "ministry"), (ANALYST, MINISTRY, "ministry"), (OPS, None, None)):
        headers = reg.as_(role, pid, level)
        assert error(c.post("/v1/formlists/2026/2/approve", json=approval, headers=headers)) == (
            403, "SCOPE_MISSING"), role
        assert error(c.put("/v1/formlists/2026/2", json=forms, headers=headers)) == (403, "SCOPE_MISSING")
    assert c.put("/v1/formlists/2026/2", json=forms, headers=reg.office).status_code == 200
    resp = c.post("/v1/formlists/2026/2/approve", json=approval, headers=reg.office)
    assert resp.json() == {"year": 2026, "version": 2, "status": "approved", "supersedes_version": 1}
    assert [v["status"] for v in c.get("/v1/formlists/2026").json()] == ["superseded", "approved"]
    assert error(c.put("/v1/formlists/2026/2", json=forms, headers=reg.office)) == (409, "FORMLIST_IMMUTABLE")


# --- participants: reading within the subtree, managing strictly below --------------------------


def test_reading_one_participant_follows_the_subtree(reg):
    c = reg.client
    for role, pid, level in ((HEAD, SCHOOL, "organization"), (ACCOUNTANT, SCHOOL, "organization"),
                             (OFFICER, DISTRICT, "district"), (OFFICER, REGION, "region"), (ANALYST, MINISTRY, None),
                             (SYSTEM, SCHOOL, None), (OPS, None, None)):
        assert c.get(f"/v1/participants/{SCHOOL}", headers=reg.as_(role, pid, level)).status_code == 200, (role, pid)
    for role, pid, level in ((HEAD, SIBLING, "organization"), (OFFICER, OTHER_DISTRICT, "district"),
                             (OFFICER, OTHER_REGION, "region")):
        for path in ("", "/head?on=2026-01-01", "/forms?year=2026", "/staff"):
            resp = c.get(f"/v1/participants/{SCHOOL}{path}", headers=reg.as_(role, pid, level))
            assert error(resp) == (403, "OUT_OF_SUBTREE"), (pid, path)
    # another ministry's system reads no registry at all
    assert error(c.get(f"/v1/participants/{SCHOOL}", headers=reg.as_(auth.INTEGRATOR))) == (403, "SCOPE_MISSING")
    # an unknown id is no oracle: outside everyone's subtree but the national roles'
    assert error(c.get("/v1/participants/999999999999", headers=reg.as_(OFFICER, REGION, "region")))[0] == 403
    assert error(c.get("/v1/participants/999999999999", headers=reg.office)) == (404, "PARTICIPANT_UNKNOWN")
    mine = c.get(f"/v1/participants/{SCHOOL}/forms", params={"year": 2026}, headers=reg.as_(HEAD, SCHOOL))
    assert [f["code"] for f in mine.json()] == ["SCH-1"]


def test_a_region_officer_lists_and_exports_only_its_subtree(reg):
    c = reg.client
    region = c.get("/v1/participants", headers=reg.as_(OFFICER, REGION, "region")).json()
    assert {p["participant_id"] for p in region} == {REGION, DISTRICT, OTHER_DISTRICT, SCHOOL, SIBLING, FAR_SCHOOL}
    other = c.get("/v1/participants", headers=reg.as_(OFFICER, OTHER_REGION, "region")).json()
    assert {p["participant_id"] for p in other} == {OTHER_REGION, FAR_DISTRICT}
    everyone = c.get("/v1/participants", headers=reg.office).json()
    assert len(everyone) == 9
    schools = c.get("/v1/participants", params={"level": "organization", "limit": 2, "offset": 1},
                    headers=reg.as_(OFFICER, REGION, "region")).json()
    assert [p["participant_id"] for p in schools] == sorted([SCHOOL, SIBLING, FAR_SCHOOL])[1:3]
    assert [p["participant_id"] for p in c.get("/v1/participants", params={"parent_id": DISTRICT},
                                               headers=reg.as_(HEAD, SCHOOL)).json()] == [SCHOOL]
    exported = c.get("/v1/participants/export/csv", headers=reg.as_(OFFICER, DISTRICT, "district"))
    bins = {row["bin"] for row in csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")))}
    assert bins == {DISTRICT, SCHOOL, SIBLING}
    assert error(c.get("/v1/participants", params={"level": "village"}, headers=reg.office)) == (422, "REQUEST_INVALID")


def test_a_school_head_cannot_create_participants_and_officers_stay_below_their_department(reg):
    c = reg.client
    new_school = make_valid("22044000006")
    body = participant_body(new_school, "organization", "school", DISTRICT)
    assert error(c.put(f"/v1/participants/{new_school}", json=body,
                       headers=reg.as_(HEAD, SCHOOL, "organization"))) == (403, "FORBIDDEN")
    assert error(c.put(f"/v1/participants/{new_school}", json=body,
                       headers=reg.as_(ACCOUNTANT, DISTRICT, "district"))) == (403, "SCOPE_MISSING")
    # a district officer cannot change another district's school, nor move one of its own away
    far = participant_body(FAR_SCHOOL, "organization", "school", OTHER_DISTRICT, kato="711010000")
    assert error(c.put(f"/v1/participants/{FAR_SCHOOL}", json=far,
                       headers=reg.as_(OFFICER, DISTRICT, "district"))) == (403, "FORBIDDEN")
    assert error(c.post(f"/v1/participants/{FAR_SCHOOL}/close", json={"active_to": "2026-06-30"},
                        headers=reg.as_(OFFICER, DISTRICT, "district"))) == (403, "OUT_OF_SUBTREE")  # refused at the door
    mine = {k: v for k, v in demo_participants()[3].items() if k != "participant_id"}
    assert error(c.put(f"/v1/participants/{SCHOOL}", json={**mine, "parent_id": OTHER_DISTRICT},
                       headers=reg.as_(OFFICER, DISTRICT, "district"))) == (403, "FORBIDDEN")
    # nor its own department's record
    district = {k: v for k, v in demo_participants()[2].items() if k != "participant_id"}
    assert error(c.put(f"/v1/participants/{DISTRICT}", json=district,
                       headers=reg.as_(HEAD, DISTRICT, "district"))) == (403, "FORBIDDEN")
    # but a school of its own, yes; and the audit log names the caller from the token
    resp = c.put(f"/v1/participants/{new_school}", json=body,
                 headers=reg.as_(OFFICER, DISTRICT, "district", subject="iin:900101300011"))
    assert resp.status_code == 200, resp.text
    log = c.get("/v1/audit", params={"entity_id": new_school}, headers=reg.office).json()
    assert log[0]["actor"] == f"iin:900101300011@{DISTRICT}/officer" and log[0]["action"] == "create"
    assert reg.events(new_school)[-1].parent_id == DISTRICT
    # the data office registered the Ministry itself, with a credential that names no organization
    first = c.get("/v1/audit", params={"entity_id": MINISTRY}, headers=reg.office).json()
    assert first[-1]["actor"] == "iin:870101400015@-/data_office"


def test_an_import_refuses_a_file_that_reaches_outside_the_callers_subtree(reg):
    c = reg.client
    new_school = make_valid("22044000007")
    header = "bin,level,kind,parent_bin,name_kk,name_ru\n"
    own = header + f"{new_school},organization,school,{DISTRICT},Мектеп,Школа\n"
    foreign = own + f"{FAR_SCHOOL},organization,school,{OTHER_DISTRICT},Басқа,Другая\n"
    officer = reg.as_(OFFICER, DISTRICT, "district")
    resp = c.post("/v1/participants/import", files={"file": ("p.csv", foreign.encode())}, headers=officer)
    assert error(resp) == (403, "FORBIDDEN")
    resp = c.post("/v1/participants/import", params={"dry_run": "false"}, files={"file": ("p.csv", own.encode())},
                  headers=officer)
    assert resp.json()["summary"]["imported"] == 1
    assert reg.events(new_school)[-1].parent_id == DISTRICT
    assert error(c.post("/v1/participants/import", files={"file": ("p.csv", own.encode())},
                        headers=reg.as_(HEAD, SCHOOL, "organization"))) == (403, "FORBIDDEN")


def test_the_audit_log_needs_audit_read(reg):
    c = reg.client
    assert error(c.get("/v1/audit", headers=reg.as_(HEAD, MINISTRY, "ministry"))) == (403, "SCOPE_MISSING")
    assert c.get("/v1/audit", headers=reg.as_(OPS)).status_code == 200


# --- staff ----------------------------------------------------------------------------------------


def test_a_head_names_an_accountant_and_the_event_carries_her(reg):
    c = reg.client
    head = reg.as_(HEAD, SCHOOL, "organization", subject=f"iin:{SCHOOLS[SCHOOL]}")
    resp = c.put(f"/v1/participants/{SCHOOL}/staff/{AIGUL}", json={"full_name": "Ахметова Айгүл", "role": "accountant"},
                 headers=head)
    assert resp.status_code == 200, resp.text
    assert resp.json()["term"] == {"iin": AIGUL, "full_name": "Ахметова Айгүл", "role": "accountant",
                                   "valid_from": today().isoformat(), "valid_to": None}
    event = reg.events(SCHOOL)[-1]
    assert [(m.iin, m.role) for m in event.staff] == [(AIGUL, "accountant")] and event.staff[0].active_on(today())
    assert event.head_iin == SCHOOLS[SCHOOL]  # the rest of the participant travels with it
    listed = c.get(f"/v1/participants/{SCHOOL}/staff", headers=reg.as_(OFFICER, DISTRICT, "district")).json()
    assert [m["iin"] for m in listed["staff"]] == [AIGUL]
    assert c.get(f"/v1/participants/{SCHOOL}", headers=head).json()["staff"][0]["iin"] == AIGUL
    log = c.get("/v1/audit", params={"entity_id": SCHOOL}, headers=reg.office).json()[0]
    assert (log["entity"], log["action"], log["actor"]) == ("staff", "name", f"iin:{SCHOOLS[SCHOOL]}@{SCHOOL}/head")


def test_nobody_but_the_head_itself_or_the_data_office_names_staff(reg):
    c = reg.client
    body = {"full_name": "Омаров Ерлан", "role": "accountant"}
    url = f"/v1/participants/{SCHOOL}/staff/{ERLAN}"
    # the head of the other school: not its subtree
    assert error(c.put(url, json=body, headers=reg.as_(HEAD, SIBLING, "organization"))) == (403, "OUT_OF_SUBTREE")
    # the district's officer: not a role that names staff; the district's head: not this school's head
    assert error(c.put(url, json=body, headers=reg.as_(OFFICER, DISTRICT, "district"))) == (403, "SCOPE_MISSING")
    assert error(c.put(url, json=body, headers=reg.as_(HEAD, DISTRICT, "district"))) == (403, "OUT_OF_SUBTREE")  # a department head is not the school's head
    assert error(c.put(url, json=body, headers=reg.as_(HEAD, MINISTRY, "ministry"))) == (403, "FORBIDDEN")
    for role in (ACCOUNTANT, SIGNER, SYSTEM):  # the school's own people
        assert error(c.put(url, json=body, headers=reg.as_(role, SCHOOL, "organization")))[0] == 403, role
    assert error(c.delete(url, headers=reg.as_(OFFICER, DISTRICT, "district")))[0] == 403
    assert reg.events(SCHOOL)[-1].staff == []
    # the data office may, for anyone
    assert c.put(url, json=body, headers=reg.office).status_code == 200


def test_roles_per_level_iins_and_names_are_checked_with_reason_codes(reg):
    c = reg.client
    office = reg.office
    resp = c.put(f"/v1/participants/{SCHOOL}/staff/{AIGUL}", json={"full_name": "A", "role": "data_office"},
                 headers=office)
    assert error(resp) == (422, "STAFF_ROLE_NOT_AT_LEVEL")
    assert set(resp.json()["error"]["message"]) == {"kk", "ru", "en"}
    assert error(c.put(f"/v1/participants/{SCHOOL}/staff/{AIGUL}", json={"full_name": "A", "role": "officer"},
                       headers=reg.as_(HEAD, SCHOOL, "organization"))) == (422, "STAFF_ROLE_NOT_AT_LEVEL")
    assert error(c.put(f"/v1/participants/{SCHOOL}/staff/{AIGUL}", json={"full_name": "A", "role": "head"},
                       headers=office)) == (422, "STAFF_ROLE_UNKNOWN")
    assert error(c.put(f"/v1/participants/{SCHOOL}/staff/{AIGUL[:11]}{(int(AIGUL[11]) + 1) % 10}",
                       json={"full_name": "A", "role": "accountant"}, headers=office)) == (422, "IIN_CHECKSUM")
    short = c.put(f"/v1/participants/{SCHOOL}/staff/12345", json={"full_name": "A", "role": "accountant"},
                  headers=office)
    assert error(short) == (422, "REQUEST_INVALID") and short.json()["error"]["fields"][0]["field"] == "iin"
    assert error(c.put(f"/v1/participants/{SCHOOL}/staff/{AIGUL}", json={"full_name": "A" * 301, "role": "accountant"},
                       headers=office)) == (422, "REQUEST_INVALID")
    too_late = {"full_name": "A", "role": "accountant", "valid_from": "2026-09-01", "valid_to": "2026-08-01"}
    assert error(c.put(f"/v1/participants/{SCHOOL}/staff/{AIGUL}", json=too_late,
                       headers=office)) == (422, "STAFF_DATES_INVALID")
    for pid, role in ((DISTRICT, "officer"), (REGION, "analyst"), (MINISTRY, "data_office")):
        assert c.put(f"/v1/participants/{pid}/staff/{AIGUL}", json={"full_name": "A", "role": role},
                     headers=office).status_code == 200, role


def test_ending_a_term_keeps_it_as_history_and_takes_the_person_off_the_event(reg):
    c = reg.client
    head = reg.as_(HEAD, SCHOOL, "organization")
    url = f"/v1/participants/{SCHOOL}/staff/{AIGUL}"
    since = (today() - timedelta(days=30)).isoformat()
    assert c.put(url, json={"full_name": "Ахметова Айгүл", "role": "accountant", "valid_from": since},
                 headers=head).status_code == 200
    assert c.put(f"/v1/participants/{SCHOOL}/staff/{ERLAN}", json={"full_name": "Омаров Ерлан", "role": "accountant"},
                 headers=head).status_code == 200
    resp = c.delete(url, headers=head)
    assert resp.status_code == 200, resp.text
    yesterday = (today() - timedelta(days=1)).isoformat()
    assert resp.json()["term"]["valid_to"] == yesterday and resp.json()["withdrawn"] is False
    assert [m.iin for m in reg.events(SCHOOL)[-1].staff] == [ERLAN]
    now = c.get(f"/v1/participants/{SCHOOL}/staff", headers=head).json()["staff"]
    assert [m["iin"] for m in now] == [ERLAN]
    history = c.get(f"/v1/participants/{SCHOOL}/staff", params={"history": "true"}, headers=head).json()["staff"]
    assert [(m["iin"], m["valid_from"], m["valid_to"]) for m in history] == [
        (AIGUL, since, yesterday), (ERLAN, today().isoformat(), None)]
    assert error(c.delete(url, headers=head)) == (404, "STAFF_UNKNOWN")
    # named today and removed today: withdrawn, nothing in force to keep
    resp = c.delete(f"/v1/participants/{SCHOOL}/staff/{ERLAN}", headers=head)
    assert resp.json()["withdrawn"] is True and reg.events(SCHOOL)[-1].staff == []
    entries = c.get("/v1/audit", params={"entity_id": SCHOOL}, headers=reg.office).json()
    assert [e["action"] for e in entries if e["entity"] == "staff"] == ["end", "end", "name", "name"]
    assert json.loads(json.dumps(entries[0]["before"]))["terms"][0]["iin"] == ERLAN


def test_staff_of_a_closed_participant_cannot_be_named(reg):
    c = reg.client
    assert c.post(f"/v1/participants/{FAR_SCHOOL}/close", json={"active_to": date.today().isoformat()},
                  headers=reg.as_(OFFICER, OTHER_DISTRICT, "district")).status_code == 200
    resp = c.put(f"/v1/participants/{FAR_SCHOOL}/staff/{AIGUL}", json={"full_name": "A", "role": "accountant"},
                 headers=reg.office)
    assert error(resp) == (409, "PARTICIPANT_CLOSED")

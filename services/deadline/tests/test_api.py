"""Deadline's HTTP API: the calendar read by anyone and written by the data office alone, the
effective deadlines, and a district's live figures for its own officers only."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from uise_common.db import migrate
from uise_common.service import COMMON_MIGRATION, ServiceRuntime
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer, run_handler
from uise_contracts.events import FormListApproved, Level, ParticipantUpserted
from uise_contracts.examples import SCHOOL_FORM
from uise_deadline import entrypoint, handlers
from uise_deadline.adapters import MIGRATIONS

ISSUER = TokenIssuer()
DISTRICT, SCHOOL, OTHER = "210340000013", "220440000019", "210340000024"


@pytest.fixture
def client(tmp_path):
    rt = ServiceRuntime(entrypoint.SPEC, Settings(service_name="deadline", data_dir=tmp_path,
                                                  kafka_bootstrap="127.0.0.1:1"))
    rt.authenticator = ISSUER.authenticator()
    migrate(rt.engine, [COMMON_MIGRATION, *MIGRATIONS])
    for pid, level, kind, parent in ((DISTRICT, Level.district, "district", "210240000018"),
                                     (OTHER, Level.district, "district", "210240000018"),
                                     (SCHOOL, Level.organization, "school", DISTRICT)):
        run_handler(rt.engine, handlers.on_participant, ParticipantUpserted(
            participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent, name_kk="x", name_ru="x"))
    run_handler(rt.engine, handlers.make_on_formlist(entrypoint.schedule(rt)), FormListApproved(
        year=2031, version=1, order_no="1", order_date=date(2031, 1, 15), forms=[SCHOOL_FORM]))
    return TestClient(rt.app())


def test_the_calendar_is_public_and_names_the_days_off(client):
    body = client.get("/v1/calendar/2025").json()
    assert any(d["day"] == "2025-03-22" for d in body["days_off"])
    assert client.get("/v1/calendar/99999").status_code == 422


def test_only_the_data_office_enters_a_decree_and_a_shortening_one_is_refused(client):
    entry = {"day": "2032-01-09", "kind": "day_off", "decree": "Decree No. 7"}
    for role, pid, level in (("head", SCHOOL, "organization"), ("officer", DISTRICT, "district")):
        resp = client.post("/v1/calendar/entries", json=entry, headers=ISSUER.headers(role, pid, level))
        assert resp.status_code == 403, role
    assert client.post("/v1/calendar/entries", json=entry).status_code == 401
    office = ISSUER.headers("data_office")
    made = client.post("/v1/calendar/entries", json=entry, headers=office)
    assert made.status_code == 201 and made.json()["decree"] == "Decree No. 7"
    again = client.post("/v1/calendar/entries", json=entry, headers=office)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "CALENDAR_DAY_TAKEN")
    # Sat 2032-01-10 (SCH-1's rule day for 2031) made working would bring the deadline earlier
    shorter = client.post("/v1/calendar/entries", headers=office,
                          json={"day": "2032-01-10", "kind": "working_day", "decree": "Decree No. 8"})
    assert (shorter.status_code, shorter.json()["error"]["code"]) == (409, "DEADLINE_WOULD_SHORTEN")
    assert set(shorter.json()["error"]["message"]) == {"kk", "ru", "en"}
    assert client.delete("/v1/calendar/entries/999", headers=office).json()["error"]["code"] == "CALENDAR_ENTRY_UNKNOWN"


def test_deadlines_are_public_and_a_node_is_read_by_its_own_subtree(client):
    [row] = client.get("/v1/deadlines", params={"form_code": "SCH-1", "level": "organization"}).json()
    assert row["deadline_at"] == "2032-01-12T23:59:59+05:00" and row["moved"] is True
    params = {"form_code": "SCH-1", "period": "2031"}
    mine = client.get(f"/v1/nodes/{DISTRICT}/timeliness", params=params,
                      headers=ISSUER.headers("officer", DISTRICT, "district"))
    assert mine.status_code == 200 and mine.json()["expected"] == 1
    theirs = client.get(f"/v1/nodes/{DISTRICT}/timeliness", params=params,
                        headers=ISSUER.headers("officer", OTHER, "district"))
    assert (theirs.status_code, theirs.json()["error"]["code"]) == (403, "OUT_OF_SUBTREE")


def test_a_nodes_consolidation_is_read_by_its_own_subtree(client):
    params = {"form_code": "SCH-1", "period": "2031"}
    mine = client.get(f"/v1/nodes/{DISTRICT}/consolidation", params=params,
                      headers=ISSUER.headers("officer", DISTRICT, "district"))
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert (body["expected"], body["missing"], body["included"], body["seq"], body["last_reason"]) == (
        [SCHOOL], [SCHOOL], [], 0, None)
    theirs = client.get(f"/v1/nodes/{DISTRICT}/consolidation", params=params,
                        headers=ISSUER.headers("officer", OTHER, "district"))
    assert (theirs.status_code, theirs.json()["error"]["code"]) == (403, "OUT_OF_SUBTREE")
    none = client.get(f"/v1/nodes/{OTHER}/consolidation", params=params,
                      headers=ISSUER.headers("officer", OTHER, "district"))
    assert (none.status_code, none.json()["error"]["code"]) == (404, "NODE_UNKNOWN")
    bad = client.get(f"/v1/nodes/{DISTRICT}/consolidation", params={**params, "period": "last year"},
                     headers=ISSUER.headers("officer", DISTRICT, "district"))
    assert bad.status_code == 422

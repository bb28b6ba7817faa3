"""Routing's HTTP API: the inbox per form and period, and a recipient's accept and return, with
real tokens and the outbox; the chain of versions and a return on PostgreSQL too."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from uise_common import clock
from uise_common.clock import Clock
from uise_common.db import make_engine, migrate
from uise_common.outbox import OutboxRow
from uise_common.service import COMMON_MIGRATION, ServiceRuntime
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer, run_handler
from uise_contracts.events import FormListApproved, Level, ParticipantUpserted, SubmissionValidated
from uise_contracts.examples import SCHOOL_FORM
from uise_routing import commands, entrypoint, handlers
from uise_routing.adapters import MIGRATIONS, InboxItem

ISSUER = TokenIssuer()
MINISTRY, REGION, DISTRICT, OTHER = "100140000011", "200240000012", "210340000013", "210340000024"
SCHOOL, SCHOOL2 = "220440000019", "220440000028"
OFFICER = "880315300048"
PARTICIPANTS = ((MINISTRY, Level.ministry, "ministry", None), (REGION, Level.region, "region", MINISTRY),
                (DISTRICT, Level.district, "district", REGION), (OTHER, Level.district, "district", REGION),
                (SCHOOL, Level.organization, "school", DISTRICT), (SCHOOL2, Level.organization, "school", DISTRICT))


def seed(engine) -> None:
    run_handler(engine, handlers.on_formlist, FormListApproved(
        year=2026, version=1, order_no="1", order_date=date(2026, 1, 15), forms=[SCHOOL_FORM]))
    for pid, level, kind, parent in PARTICIPANTS:
        run_handler(engine, handlers.on_participant, ParticipantUpserted(
            participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent, name_kk="x", name_ru="x"))


def validated(sid: str, supersedes: str | None = None) -> SubmissionValidated:
    return SubmissionValidated(submission_id=sid, participant_id=SCHOOL, form_code="SCH-1", period="2026", ok=True,
                               values={"pupils_total": 5}, supersedes=supersedes)


@pytest.fixture
def rt(tmp_path):
    runtime = ServiceRuntime(entrypoint.SPEC, Settings(
        service_name="routing", data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1",
        clock_fixed=datetime(2026, 6, 1, 9, tzinfo=UTC)))
    runtime.authenticator = ISSUER.authenticator()
    migrate(runtime.engine, [COMMON_MIGRATION, *MIGRATIONS])
    seed(runtime.engine)
    yield runtime
    clock.install(Clock())


@pytest.fixture
def client(rt):
    return TestClient(rt.app())


def outbox(rt) -> list[dict]:
    with Session(rt.engine) as s:
        return [{"topic": r.topic, **json.loads(r.body)} for r in s.exec(select(OutboxRow))]


def test_the_inbox_shows_who_is_expected_and_where_each_stands(rt, client):
    run_handler(rt.engine, handlers.on_validated, validated("s1"))
    officer = ISSUER.headers("officer", DISTRICT, "district", subject=f"iin:{OFFICER}")
    view = client.get(f"/v1/inboxes/{DISTRICT}", params={"form_code": "SCH-1", "period": "2026"}, headers=officer)
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["expected"] == 2 and body["counts"]["accepted"] == 1 and body["counts"]["expected"] == 1
    assert {r["participant_id"]: r["status"] for r in body["participants"]} == {SCHOOL: "accepted",
                                                                                 SCHOOL2: "expected"}
    listed = client.get(f"/v1/inboxes/{DISTRICT}", headers=officer).json()
    assert [i["submission_id"] for i in listed] == ["s1"]
    unknown = client.get(f"/v1/inboxes/{DISTRICT}", params={"form_code": "NOPE-1", "period": "2026"},
                         headers=officer)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "FORM_UNKNOWN")
    region = client.get(f"/v1/inboxes/{DISTRICT}", headers=ISSUER.headers("head", REGION, "region"))
    assert region.status_code == 200  # a department above reads it
    other = client.get(f"/v1/inboxes/{DISTRICT}", headers=ISSUER.headers("officer", OTHER, "district"))
    assert (other.status_code, other.json()["error"]["code"]) == (403, "OUT_OF_SUBTREE")


def test_a_recipient_returns_and_accepts_and_a_school_cannot(rt, client):
    run_handler(rt.engine, handlers.on_validated, validated("s1"))
    url = f"/v1/inboxes/{DISTRICT}/submissions/s1"
    officer = ISSUER.headers("officer", DISTRICT, "district", subject=f"iin:{OFFICER}")
    # a school: neither for its district's inbox (not its subtree) nor "its own" (it receives nothing)
    for recipient in (DISTRICT, SCHOOL):
        resp = client.post(f"/v1/inboxes/{recipient}/submissions/s1/return", json={"comment": "x"},
                           headers=ISSUER.headers("head", SCHOOL, "organization"))
        assert resp.status_code == 403, resp.text
    assert client.post(f"{url}/return", json={"comment": "x"},
                       headers=ISSUER.headers("officer", OTHER, "district")).status_code == 403
    assert client.post(f"{url}/return", json={"comment": "x"},
                       headers=ISSUER.headers("data_office")).status_code == 403  # reads, does not review
    blank = client.post(f"{url}/return", json={"comment": "   "}, headers=officer)
    assert (blank.status_code, blank.json()["error"]["code"]) == (422, "COMMENT_REQUIRED")
    assert client.post(f"{url}/return", headers=officer).json()["error"]["code"] == "COMMENT_REQUIRED"
    too_long = client.post(f"{url}/return", json={"comment": "x" * 2001}, headers=officer)
    assert too_long.status_code == 422
    missing = client.post(f"/v1/inboxes/{DISTRICT}/submissions/nope/return", json={"comment": "x"}, headers=officer)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "SUBMISSION_NOT_IN_INBOX")
    assert set(missing.json()["error"]["message"]) == {"kk", "ru", "en"}

    done = client.post(f"{url}/return", json={"comment": "Row 3: pupils do not add up"}, headers=officer)
    assert done.status_code == 200 and done.json()["state"] == "returned"
    again = client.post(f"{url}/return", json={"comment": "Row 3: pupils do not add up"}, headers=officer)
    assert again.status_code == 200  # idempotent: no second event
    [returned] = [e for e in outbox(rt) if e["topic"] == "uise.submission.returned.v1"]
    assert (returned["returned_by"], returned["recipient_id"], returned["participant_id"]) == (
        f"iin:{OFFICER}", DISTRICT, SCHOOL)
    other_comment = client.post(f"{url}/return", json={"comment": "something else"}, headers=officer)
    assert (other_comment.status_code, other_comment.json()["error"]["code"]) == (409, "ALREADY_RETURNED")
    assert client.post(f"{url}/accept", headers=officer).json()["error"]["code"] == "ALREADY_RETURNED"

    [fixed] = run_handler(rt.engine, handlers.on_validated, validated("s2", supersedes="s1"))
    assert fixed.corrects_accepted
    stale = client.post(f"{url}/return", json={"comment": "again"}, headers=officer)
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "NOT_CURRENT")
    accepted = client.post(f"/v1/inboxes/{DISTRICT}/submissions/s2/accept",
                           headers=ISSUER.headers("head", REGION, "region"))  # a department above may
    assert accepted.status_code == 200 and accepted.json()["state"] == "reviewed"
    view = client.get(f"/v1/inboxes/{DISTRICT}", params={"form_code": "SCH-1", "period": "2026"},
                      headers=officer).json()
    [row] = [r for r in view["participants"] if r["participant_id"] == SCHOOL]
    assert (row["status"], row["current_submission_id"]) == ("reviewed", "s2")
    assert [(h["submission_id"], h["state"], h["superseded_by"]) for h in row["history"]] == [
        ("s1", "returned", "s2"), ("s2", "reviewed", None)]


@pytest.fixture
def pg_engine():
    """Routing's tables in a schema of their own on the test PostgreSQL, starting from the v1
    shape (an installation upgraded by migration 2)."""
    import os

    url = os.environ.get("UISE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    service = f"routing_t{uuid.uuid4().hex[:8]}"
    engine = make_engine(url, service)
    with engine.begin() as conn:  # the v1 tables as migration 1 made them before v2's columns
        conn.execute(text("CREATE TABLE routing_participant (participant_id VARCHAR PRIMARY KEY, kind VARCHAR NOT "
                          "NULL, parent_id VARCHAR, active BOOLEAN NOT NULL)"))
        conn.execute(text("CREATE TABLE routing_form (code VARCHAR, year INTEGER, respondent_kinds VARCHAR NOT NULL, "
                          "PRIMARY KEY (code, year))"))
        conn.execute(text("CREATE TABLE routing_decision (submission_id VARCHAR PRIMARY KEY, outcome VARCHAR NOT "
                          "NULL, reason_code VARCHAR, decided_at TIMESTAMP NOT NULL)"))
        conn.execute(text("CREATE TABLE routing_inbox (submission_id VARCHAR PRIMARY KEY, recipient_id VARCHAR NOT "
                          "NULL, participant_id VARCHAR NOT NULL, form_code VARCHAR NOT NULL, period VARCHAR NOT NULL,"
                          " filed_at TIMESTAMP NOT NULL, superseded_by VARCHAR)"))
        conn.execute(text("CREATE TABLE uise_schema_migration (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                          "applied_at TIMESTAMP NOT NULL)"))
        conn.execute(text("INSERT INTO uise_schema_migration VALUES (1, 'v1', now())"))
        conn.execute(text("INSERT INTO routing_inbox VALUES ('old', :d, :s, 'SCH-1', '2026', now(), NULL)"),
                     {"d": DISTRICT, "s": SCHOOL})
        conn.execute(text("INSERT INTO routing_decision VALUES ('old', 'accepted', NULL, now())"))
    try:
        assert migrate(engine, [COMMON_MIGRATION, *MIGRATIONS]) == [0, 2, 3]
        yield engine
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "uise_{service}" CASCADE'))
        engine.dispose()


def test_on_postgresql_a_v1_inbox_upgrades_and_its_chain_goes_on(pg_engine):
    clock.install(Clock(fixed=datetime(2026, 6, 1, 9, tzinfo=UTC)))
    try:
        seed(pg_engine)
        [v2] = run_handler(pg_engine, handlers.on_validated, validated("new", supersedes="old"))
        assert (v2.supersedes, v2.corrects_accepted) == ("old", True)
        [stale] = run_handler(pg_engine, handlers.on_validated, validated("older"))  # a root after linked ones
        assert stale.reason_code == "SUPERSEDED"
        with Session(pg_engine) as s:
            _, [returned] = commands.return_submission(s, DISTRICT, "new", "fix it", "iin:1",
                                                       datetime(2026, 6, 1, tzinfo=UTC))
            s.commit()
            states = {i.submission_id: (i.state, i.superseded_by) for i in s.exec(select(InboxItem))}
        assert states == {"old": ("accepted", "new"), "new": ("returned", None), "older": ("superseded", "new")}
        assert returned.comment == "fix it"
    finally:
        clock.install(Clock())

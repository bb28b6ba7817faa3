"""Rebuild (every node's figures from the kept submissions equal the live ones; a corrupted row
is reported), the analytics questions (indicator with drill-down, completeness, corrections) and
their API (tokens as in test_api.py), on real SQLite files."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from uise_common.db import make_engine, migrate
from uise_common.service import COMMON_MIGRATION, ServiceRuntime
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer, migrated_sqlite, run_handler, scratch_postgres
from uise_contracts.events import (
    CellAggregate,
    DeadlineViolation,
    FormListApproved,
    Level,
    ParticipantUpserted,
    SubmissionAccepted,
    SubmissionReturned,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_reporting import analytics, analytics_api, cli, entrypoint, handlers, rebuild, views
from uise_reporting.adapters import MIGRATIONS

MINISTRY, REGION, OTHER_REGION = "100140000011", "200140000015", "200140000026"
D1, D2 = "210340000012", "210340000023"
S1, S2, S3, S4, S5 = "220440000013", "220440000024", "220440000035", "220440000046", "220440000057"
AT = datetime(2027, 1, 8, 10, 0, tzinfo=UTC)
ISSUER = TokenIssuer()


def tree():
    return [(MINISTRY, Level.ministry, "ministry", None), (REGION, Level.region, "oblast", MINISTRY),
            (OTHER_REGION, Level.region, "oblast", MINISTRY),
            (D1, Level.district, "district", REGION), (D2, Level.district, "district", REGION),
            (S1, Level.organization, "school", D1), (S2, Level.organization, "school", D1),
            (S3, Level.organization, "school", D1), (S4, Level.organization, "school", D2),
            (S5, Level.organization, "school", D2)]


def accepted(sid, school, node, pupils, *, supersedes=None, corrects=False, aggregates=None, level=None):
    return SubmissionAccepted(submission_id=sid, participant_id=school, recipient_id=node, form_code="SCH-1",
                              period="2026", values_exact={"pupils_total": str(pupils), "teachers": "7"},
                              supersedes=supersedes, corrects_accepted=corrects, aggregates=aggregates or {},
                              level=level)


def returned(sid, school, node):
    return SubmissionReturned(submission_id=sid, participant_id=school, recipient_id=node, form_code="SCH-1",
                              period="2026", comment="check pupils", returned_by="iin:870303400044", returned_at=AT)


def seed(engine) -> None:
    for pid, level, kind, parent in tree():
        run_handler(engine, handlers.on_participant, ParticipantUpserted(
            participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent, name_kk="x", name_ru="x"))
    run_handler(engine, handlers.on_formlist, FormListApproved(year=2026, version=1, order_no="1",
                                                               order_date=date(2026, 1, 15), forms=[SCHOOL_FORM]))
    events = [
        accepted("a1", S1, D1, 100),
        accepted("a3", S1, D1, 130, supersedes="a2", corrects=True),  # the correction before its predecessor
        accepted("a2", S1, D1, 120, supersedes="a1", corrects=True),
        returned("b1", S2, D1),  # a return before the acceptance it returns
        accepted("b1", S2, D1, 51),
        accepted("b2", S2, D1, 55, supersedes="b1"),
        accepted("c1", S3, D1, 40),
        returned("c1", S3, D1),  # returned, never corrected: out of the figures
        accepted("e1", S4, D2, 70),
        # the district's consolidation at the region: its exact aggregates count, not its value
        accepted("d1", D1, REGION, 185, level=Level.district, aggregates={
            "pupils_total": CellAggregate(sum="185", count=2, min="55", max="130"),
            "teachers": CellAggregate(sum="14", count=2, min="7", max="7")}),
    ]
    for e in events:
        handler = handlers.on_returned if isinstance(e, SubmissionReturned) else handlers.on_accepted
        run_handler(engine, handler, e)
    for school, kind in ((S4, "late"), (S5, "missing")):
        run_handler(engine, handlers.on_violation, DeadlineViolation(
            participant_id=school, form_code="SCH-1", period="2026", kind=kind, deadline_at=AT))


@pytest.fixture
def engine(tmp_path):
    engine = migrated_sqlite(tmp_path, MIGRATIONS)
    seed(engine)
    return engine


# --- rebuild --------------------------------------------------------------------------------------


def test_the_rebuild_equals_the_live_figures_after_corrections_out_of_order_and_returns(engine):
    with Session(engine) as s:
        outcome = rebuild.check(s)
        assert outcome.ok, [p.line() for p in outcome.problems]
        assert outcome.submissions == 8
        assert set(outcome.nodes) == {(D1, "SCH-1", "2026"), (D2, "SCH-1", "2026"), (REGION, "SCH-1", "2026")}
        d1 = outcome.nodes[(D1, "SCH-1", "2026")]
        assert {p: k.submission_id for p, k in d1.current.items()} == {S1: "a3", S2: "b2"}
        assert str(d1.figures["pupils_total"]) == "185"
        assert views.live_figures(s, D1, "SCH-1", "2026")["figures"]["pupils_total"] == "185"
        region = outcome.nodes[(REGION, "SCH-1", "2026")]
        assert region.aggregates["pupils_total"].count == 2  # over the schools, from D1's aggregates


def test_a_corrupted_row_is_reported_and_the_command_fails(engine, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("UISE_DATABASE_URL", f"sqlite:///{tmp_path / 'unit.db'}")
    assert cli.main(["rebuild", "--form", "SCH-1", "--period", "2026"]) == 0
    assert "agree" in capsys.readouterr().out
    with Session(engine) as s:  # the district's aggregate contradicts itself; a school's value is not a number
        bad = json.dumps({"pupils_total": {"sum": "999", "count": 2, "min": "55", "max": "130"}})
        s.exec(text("UPDATE reporting_accepted SET aggregates = :a WHERE submission_id = 'd1'").bindparams(a=bad))
        s.exec(text("UPDATE reporting_accepted SET \"values\" = :v WHERE submission_id = 'e1'").bindparams(
            v=json.dumps({"pupils_total": "7O", "teachers": "7"})))
        s.commit()
        outcome = rebuild.check(s, "SCH-1", "2026")
    lines = [p.line() for p in outcome.problems]
    assert any(p.kind == "corrupt_row" and "d1" in p.detail for p in outcome.problems), lines
    assert any(p.kind == "corrupt_row" and "e1" in p.detail and "pupils_total" in p.detail
               for p in outcome.problems), lines
    assert any(p.kind == "figure" and p.node_id == REGION and "live 999" in p.detail for p in outcome.problems), lines
    assert cli.main(["rebuild"]) == 1
    out = capsys.readouterr().out
    assert "corrupt_row" in out and "difference(s)" in out
    with pytest.raises(SystemExit) as exit_:
        cli.main(["rebuild", "--period", "2026-13"])
    assert exit_.value.code == 2


def test_the_rebuild_reports_a_live_path_that_drifts(engine, monkeypatch):
    """Should the live path lose a rule (here: returns), the independent rebuild says so."""
    from uise_reporting import queries

    real = queries.current_submissions

    def forgets_returns(session, node_id, form_code, period):
        out = real(session, node_id, form_code, period)
        if node_id == D1:
            out[S3] = session.get(queries.AcceptedSubmission, "c1")
        return out

    monkeypatch.setattr(queries, "current_submissions", forgets_returns)
    with Session(engine) as s:
        kinds = {p.kind for p in rebuild.check(s).problems}
    assert {"contributors", "submissions", "figure", "aggregate"} <= kinds


@pytest.fixture
def pg_engine():
    """A fresh PostgreSQL database (READ COMMITTED), as test_postgres.py makes one."""
    with scratch_postgres("reporting") as url:
        eng = make_engine(url, "reporting")
        migrate(eng, [COMMON_MIGRATION, *MIGRATIONS])
        yield eng
        eng.dispose()


def test_rebuild_and_analytics_on_postgres(pg_engine):
    """The rebuild's and the analytics' queries as PostgreSQL runs them (IN lists, booleans)."""
    seed(pg_engine)
    with Session(pg_engine) as s:
        outcome = rebuild.check(s)
        assert outcome.ok and len(outcome.nodes) == 3, [p.line() for p in outcome.problems]
        assert analytics.indicator(s, "SCH-1", "2026", "pupils_total", REGION)["figure"] == "185"
        assert analytics.completeness(s, "SCH-1", "2026", MINISTRY)["on_time_rate"] == "0.6"
        assert analytics.findings(s, "SCH-1", "2026", D1)["total"] == 2


# --- analytics questions ----------------------------------------------------------------------------


def test_an_indicator_with_drill_down(engine):
    with Session(engine) as s:
        region = analytics.indicator(s, "SCH-1", "2026", "pupils_total", REGION)
        assert (region["figure"], region["contributors"], region["total"]) == ("185", 1, 2)
        d1, d2 = region["subordinates"]
        assert (d1["node_id"], d1["figure"], d1["submitted"], d1["contributors"]) == (D1, "185", "185", 2)
        assert (d2["node_id"], d2["figure"], d2["submitted"]) == (D2, "70", None)  # D2 has not submitted up
        district = analytics.indicator(s, "SCH-1", "2026", "pupils_total", D1, limit=2, offset=1)
        assert district["total"] == 3 and [x["node_id"] for x in district["subordinates"]] == [S2, S3]
        assert [x["figure"] for x in district["subordinates"]] == ["55", None]  # S3 was returned
        mean = analytics.indicator(s, "SCH-1", "2026", "teachers", D1)
        assert mean["aggregate"] == {"sum": "14", "count": 2, "min": "7", "max": "7"}
        for bad, code in ((("NOPE-1", "pupils_total", D1), "FORM_NOT_FOUND"),
                          (("SCH-1", "comment", D1), "CELL_NOT_FOUND"),
                          (("SCH-1", "pupils_total", "999999999999"), "NODE_NOT_FOUND")):
            with pytest.raises(Exception) as err:
                analytics.indicator(s, bad[0], "2026", bad[1], bad[2])
            assert err.value.code == code


def test_completeness_per_subordinate(engine):
    with Session(engine) as s:
        body = analytics.completeness(s, "SCH-1", "2026", REGION)
    assert {k: body[k] for k in analytics.COUNTS} == {
        "expected": 5, "delivered": 4, "accepted": 3, "on_time": 3, "late": 1, "missing": 1}
    assert body["on_time_rate"] == "0.6"
    d1, d2 = body["subordinates"]
    assert (d1["expected"], d1["delivered"], d1["accepted"], d1["late"], d1["missing"]) == (3, 3, 2, 0, 0)
    assert (d2["expected"], d2["delivered"], d2["late"], d2["missing"], d2["on_time_rate"]) == (2, 1, 1, 1, "0")


def test_corrections_of_distorted_data_under_a_node(engine):
    with Session(engine) as s:
        body = analytics.findings(s, "SCH-1", "2026", REGION)
        assert body["source"] == "corrections" and body["total"] == 2
        by_id = {x["submission_id"]: x for x in body["items"]}
        assert by_id["a3"]["changes"] == {"pupils_total": {"before": "120", "after": "130"}}
        assert by_id["a2"]["supersedes"] == "a1"
        assert analytics.findings(s, "SCH-1", "2026", D2)["total"] == 0
        assert analytics.findings(s, "SCH-1", "2026", MINISTRY, limit=1, offset=1)["items"][0]["submission_id"] in by_id


def test_the_cache_keeps_an_answer_for_its_ttl_only():
    now = [0.0]
    cache = analytics.TtlCache(ttl=30, size=2, clock=lambda: now[0])
    calls = []
    assert cache.get_or_compute("k", lambda: calls.append(1) or 1) == 1
    assert cache.get_or_compute("k", lambda: calls.append(2) or 2) == 1
    now[0] = 31
    assert cache.get_or_compute("k", lambda: calls.append(3) or 3) == 3
    cache.get_or_compute("a", lambda: 0)
    cache.get_or_compute("b", lambda: 0)
    assert "k" not in cache._items and len(cache._items) == 2


# --- the API ---------------------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path):
    rt = ServiceRuntime(entrypoint.SPEC, Settings(service_name="reporting", data_dir=tmp_path,
                                                  kafka_bootstrap="127.0.0.1:1"))
    rt.authenticator = ISSUER.authenticator()
    migrate(rt.engine, [COMMON_MIGRATION, *MIGRATIONS])
    seed(rt.engine)
    return rt, TestClient(rt.app())


def who(role="officer", node=D1, level="district"):
    return ISSUER.headers(role, node, level)


def test_the_analytics_api_for_the_subtree(api):
    rt, c = api
    base = "/v1/analytics/SCH-1/2026"
    r = c.get(f"{base}/indicators/pupils_total", params={"node_id": D1, "limit": 2}, headers=who())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["figure"] == "185" and len(body["subordinates"]) == 2
    assert body["next"] == f"{base}/indicators/pupils_total?node_id={D1}&limit=2&offset=2"
    assert c.get(body["next"], headers=who()).json()["next"] is None
    assert c.get(f"{base}/indicators/pupils_total", params={"node_id": D2}, headers=who()).status_code == 403
    assert c.get(f"{base}/indicators/pupils_total", params={"node_id": D1}).status_code == 401
    ministry = who("analyst", MINISTRY, "ministry")
    for path in ("indicators/pupils_total", "completeness", "findings"):
        assert c.get(f"{base}/{path}", params={"node_id": REGION}, headers=ministry).status_code == 200
        assert c.get(f"{base}/{path}", params={"node_id": REGION}, headers=who("integrator", None, None)
                     ).status_code == 200
        assert c.get(f"{base}/{path}", params={"node_id": REGION}, headers=who("officer", OTHER_REGION, "region")
                     ).status_code == 403
    for params in ({"node_id": D1, "limit": 0}, {"node_id": "12"}, {}, {"node_id": D1, "format": "pdf"},
                   {"node_id": D1, "offset": -1}):
        assert c.get(f"{base}/completeness", params=params, headers=ministry).status_code == 422
    unknown = c.get("/v1/analytics/SCH-1/2026/indicators/nope", params={"node_id": D1}, headers=who())
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "CELL_NOT_FOUND")
    gone = c.get("/v1/analytics/NOPE-1/2026/findings", params={"node_id": D1}, headers=who())
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "FORM_NOT_FOUND")


def test_csv_exports_are_formula_safe(api):
    rt, c = api
    with Session(rt.engine) as s:  # a participant's kind is text from outside: never a formula
        s.exec(text("UPDATE reporting_participant SET kind = '=HYPERLINK(\"x\")' WHERE participant_id = :p"
                    ).bindparams(p=S2))
        s.commit()
    r = c.get("/v1/analytics/SCH-1/2026/indicators/pupils_total", params={"node_id": D1, "format": "csv"},
              headers=who())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["node_id", "kind", "relation", "figure"]
    assert rows[1][3] == "185" and rows[3][1] == "'=HYPERLINK(\"x\")"
    for path, lines in (("completeness", 4), ("findings", 3)):  # the header, then the node and its 2 districts / 2 corrections
        r = c.get(f"/v1/analytics/SCH-1/2026/{path}", params={"node_id": REGION, "format": "csv"},
                  headers=who("officer", REGION, "region"))
        assert r.status_code == 200 and len(list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))) == lines


def test_national_answers_are_cached_briefly(api, monkeypatch):
    rt, c = api
    calls = []
    real = analytics.completeness
    monkeypatch.setattr(analytics, "completeness", lambda *a: calls.append(a) or real(*a))
    ministry = who("analyst", MINISTRY, "ministry")
    for _ in range(3):
        assert c.get("/v1/analytics/SCH-1/2026/completeness", params={"node_id": MINISTRY},
                     headers=ministry).json()["expected"] == 5
    for _ in range(2):
        c.get("/v1/analytics/SCH-1/2026/completeness", params={"node_id": REGION}, headers=ministry)
    assert len(calls) == 3  # once for the nation (then cached), every time for a region
    assert analytics_api.NATIONAL_TTL == 30.0

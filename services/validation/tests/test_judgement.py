"""What validation decides beyond reading: the form version in force for the period, queries held
until explained (at upload or afterwards), outliers against a school's own history, a district's
consolidation against its schools' accepted data, the dry run and the finding report."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest
from fastapi.testclient import TestClient

from uise_common.db import migrate
from uise_common.objectstore import sha256_hex
from uise_common.service import ServiceRuntime, with_common
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer, migrated_sqlite, run_handler
from uise_contracts.events import (
    FormListApproved,
    FormRule,
    Level,
    ParticipantUpserted,
    SignatureChecked,
    StoredObject,
    SubmissionAccepted,
    SubmissionExplained,
    SubmissionQueried,
    SubmissionValidated,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_validation import entrypoint, handlers
from uise_validation.adapters import MIGRATIONS
from uise_validation.outliers import OutlierPolicy, outlying

SCHOOL, SIBLING, DISTRICT = "220440000019", "220440000029", "210340000013"
GOOD = {"pupils_total": 20, "pupils_girls": 10, "pupils_boys": 10, "classes": 2, "teachers": 3}
# A query: more than three teachers a class is unusual but possible (a school for the arts).
QUERY = FormRule(code="Q-TEACHERS", severity="warning", expr="teachers <= 3 * classes",
                 message="unusually many teachers for the classes", message_ru="необычно много учителей",
                 message_kk="сыныптарға қарағанда мұғалімдер тым көп")
FORM = SCHOOL_FORM.model_copy(update={"rules": [*SCHOOL_FORM.rules, QUERY]})


class World:
    def __init__(self, tmp_path) -> None:
        self.engine = migrated_sqlite(tmp_path, MIGRATIONS)
        self.stored: dict[str, bytes] = {}
        self.handler = handlers.make_on_signature_checked(lambda o: self.stored[o.key], OutlierPolicy(), min_peers=5)
        self.n = 0
        for pid, level, parent in ((DISTRICT, Level.district, "210240000018"), (SCHOOL, Level.organization, DISTRICT),
                                   (SIBLING, Level.organization, DISTRICT)):
            run_handler(self.engine, handlers.on_participant, ParticipantUpserted(
                participant_id=pid, bin=pid, level=level, kind="school" if level == Level.organization else "district",
                parent_id=parent, name_kk="x", name_ru="x"))

    def approve(self, year: int, version: int, order_date: date, form=FORM) -> None:
        run_handler(self.engine, handlers.on_formlist, FormListApproved(
            year=year, version=version, order_no=str(version), order_date=order_date, forms=[form]))

    def submit(self, values: dict, participant: str = SCHOOL, period: str = "2026", **kw) -> list:
        self.n += 1
        data = json.dumps(values).encode()
        self.stored[f"k{self.n}"] = data
        obj = StoredObject(key=f"k{self.n}", sha256=sha256_hex(data), size=len(data), media_type="application/json")
        return run_handler(self.engine, self.handler, SignatureChecked(
            submission_id=f"s{self.n}", participant_id=participant, form_code=FORM.code, period=period, document=obj,
            ok=True, **kw))

    def accept(self, values: dict, participant: str, period: str) -> None:
        run_handler(self.engine, handlers.on_accepted, SubmissionAccepted(
            submission_id=f"acc-{participant}-{period}", participant_id=participant, recipient_id=DISTRICT,
            form_code=FORM.code, period=period, values_exact={k: str(v) for k, v in values.items()}))


@pytest.fixture
def world(tmp_path) -> World:
    w = World(tmp_path)
    w.approve(2026, 1, date(2026, 1, 15))
    return w


def test_a_query_holds_the_submission_until_it_is_explained_afterwards(world):
    [held] = world.submit({**GOOD, "teachers": 9})
    assert isinstance(held, SubmissionQueried) and [f.rule for f in held.findings] == ["Q-TEACHERS"]
    assert held.findings[0].observed == {"teachers": "9", "classes": "2"}
    explained = SubmissionExplained(submission_id="s1", participant_id=SCHOOL, form_code=FORM.code, period="2026",
                                    explanations={"Q-TEACHERS": "an arts school: one teacher per instrument"},
                                    explained_by="accountant", explained_at=datetime.now(UTC))
    [validated] = run_handler(world.engine, handlers.on_explained, explained)
    assert isinstance(validated, SubmissionValidated) and validated.ok
    assert validated.findings[0].explanation == "an arts school: one teacher per instrument"
    assert validated.values_exact["teachers"] == "9"
    assert run_handler(world.engine, handlers.on_explained, explained) == []  # decided: a replay is nothing


def test_a_query_explained_at_upload_passes_at_once_and_errors_reject_whatever_is_explained(world):
    [ok] = world.submit({**GOOD, "teachers": 9}, explanations={"Q-TEACHERS": "an arts school"})
    assert isinstance(ok, SubmissionValidated) and ok.ok and ok.findings[0].explanation == "an arts school"
    [bad] = world.submit({**GOOD, "teachers": 9, "pupils_total": 21})  # R1 broken, the query left open
    assert isinstance(bad, SubmissionValidated) and not bad.ok
    assert [f.rule for f in bad.findings] == ["R1", "Q-TEACHERS", "EXPLANATION_REQUIRED"]


def test_the_version_in_force_for_the_period_judges_it(world):
    # an amendment of 2026 ordered on 1 March 2027 drops the query: it judges 2027's periods, not 2026's
    amended = FORM.model_copy(update={"version": 2, "rules": list(SCHOOL_FORM.rules)})
    world.approve(2026, 2, date(2027, 3, 1), amended)
    [held] = world.submit({**GOOD, "teachers": 9})
    assert isinstance(held, SubmissionQueried) and held.form_version == 1
    world.approve(2027, 1, date(2026, 12, 20), amended)
    [fine] = world.submit({**GOOD, "teachers": 9}, period="2027")
    assert isinstance(fine, SubmissionValidated) and fine.ok and (fine.form_version, fine.list_year) == (2, 2027)


def test_a_figure_far_from_the_schools_own_previous_year_is_a_query(world):
    world.approve(2025, 1, date(2025, 1, 15))
    world.accept({**GOOD, "pupils_total": 410, "pupils_girls": 200, "pupils_boys": 210}, SCHOOL, "2025")
    [same] = world.submit({**GOOD, "pupils_total": 420, "pupils_girls": 205, "pupils_boys": 215})
    assert isinstance(same, SubmissionValidated) and same.ok
    [held] = world.submit({**GOOD, "pupils_total": 4200, "pupils_girls": 2050, "pupils_boys": 2150})
    assert isinstance(held, SubmissionQueried)
    outlier = next(f for f in held.findings if f.rule == "OUTLIER_HISTORY" and f.field == "pupils_total")
    assert outlier.observed["history:2025"] == "410" and set(outlier.messages) == {"kk", "ru", "en"}
    # one explanation per cell (rule:cell), or one for the rule
    explained = SubmissionExplained(submission_id=f"s{world.n}", participant_id=SCHOOL, form_code=FORM.code,
                                    period="2026", explanations={"OUTLIER_HISTORY": "two schools merged in September"},
                                    explained_by="head", explained_at=datetime.now(UTC))
    [validated] = run_handler(world.engine, handlers.on_explained, explained)
    assert validated.ok


def test_outlier_methods():
    policy = OutlierPolicy()
    assert outlying(Decimal(4200), [Decimal(410)], policy)[0] is True  # one earlier year: min-max band
    assert outlying(Decimal(500), [Decimal(410)], policy)[0] is False
    history = [Decimal(v) for v in (400, 410, 405, 398, 412)]
    assert outlying(Decimal(409), history, policy)[0] is False  # modified z from three values up
    assert outlying(Decimal(900), history, policy)[0] is True
    assert outlying(Decimal(900), history, OutlierPolicy(method="z"))[0] is True
    assert outlying(Decimal(1), [], policy) is None


def test_a_districts_consolidation_must_add_up_to_its_schools_accepted_data(world):
    world.accept(GOOD, SCHOOL, "2026")
    world.accept({**GOOD, "pupils_total": 30, "pupils_girls": 14, "pupils_boys": 16}, SIBLING, "2026")
    right = {"pupils_total": 50, "pupils_girls": 24, "pupils_boys": 26, "classes": 4, "teachers": 6}
    [ok] = world.submit(right, participant=DISTRICT)
    assert isinstance(ok, SubmissionValidated) and ok.ok, ok.findings
    [bad] = world.submit({**right, "pupils_total": 51, "pupils_boys": 27}, participant=DISTRICT)
    mismatch = [f for f in bad.findings if f.rule == "CONSOLIDATION_MISMATCH"]
    assert not bad.ok and {f.field for f in mismatch} == {"pupils_total", "pupils_boys"}
    total = next(f for f in mismatch if f.field == "pupils_total")
    assert total.observed == {"pupils_total": "51", f"{SCHOOL}:pupils_total": "20", f"{SIBLING}:pupils_total": "30"}


ISSUER = TokenIssuer()


@pytest.fixture
def api(tmp_path):
    rt = ServiceRuntime(entrypoint.SPEC, Settings(service_name="validation", data_dir=tmp_path,
                                                  kafka_bootstrap="127.0.0.1:1"))
    rt.authenticator = ISSUER.authenticator()
    migrate(rt.engine, with_common(MIGRATIONS))
    stored: dict[str, bytes] = {}

    class Store:
        def get(self, obj):
            return stored[obj.key]

    rt.store = Store()
    world = World.__new__(World)
    world.engine, world.stored, world.n = rt.engine, stored, 0
    world.handler = handlers.make_on_signature_checked(lambda o: stored[o.key])
    for pid, level, parent in ((DISTRICT, Level.district, "210240000018"), (SCHOOL, Level.organization, DISTRICT),
                               (SIBLING, Level.organization, DISTRICT)):
        run_handler(rt.engine, handlers.on_participant, ParticipantUpserted(
            participant_id=pid, bin=pid, level=level, kind="school", parent_id=parent, name_kk="x", name_ru="x"))
    world.approve(2026, 1, date(2026, 1, 15))
    return TestClient(rt.app()), world


def test_a_dry_run_gives_the_findings_and_records_nothing(api):
    client, world = api
    head = ISSUER.headers("head", SCHOOL, "organization")
    files = {"document": ("r.json", json.dumps({**GOOD, "teachers": 9}).encode())}
    resp = client.post("/v1/dry-run", data={"form_code": FORM.code, "period": "2026"}, files=files, headers=head)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["would_be"], [q["rule"] for q in body["open_queries"]]) == ("queried", ["Q-TEACHERS"])
    bad = client.post("/v1/dry-run", data={"form_code": FORM.code, "period": "2026"},
                      files={"document": ("r.csv", b"field,value\nteachers,Infinity\n")}, headers=head).json()
    assert bad["would_be"] == "rejected" and "NUMBER_INVALID" in [f["rule"] for f in bad["findings"]]
    assert client.post("/v1/dry-run", data={"form_code": FORM.code, "period": "2026"}, files=files).status_code == 401
    assert client.get("/v1/results/s1", headers=head).status_code == 404  # nothing was recorded


def test_the_finding_report_as_json_and_as_a_highlighted_workbook(api):
    client, world = api
    world.submit({**GOOD, "pupils_total": 21})
    head = ISSUER.headers("head", SCHOOL, "organization")
    result = client.get("/v1/results/s1", headers=head).json()
    assert result["status"] == "invalid" and result["findings"][0]["rule"] == "R1" and result["form_version"] == 1
    assert client.get("/v1/results/s1", headers=ISSUER.headers("head", SIBLING, "organization")).status_code == 404
    assert client.get("/v1/results/s1", headers=ISSUER.headers("officer", DISTRICT, "district")).status_code == 200
    resp = client.get("/v1/results/s1/report.xlsx", headers=head)
    assert resp.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(resp.content))
    assert "Findings" in wb.sheetnames and wb["Findings"]["A2"].value == "R1"
    commented = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.comment]
    assert commented and all("R1" in c.comment.text for c in commented)
    assert any("kk:" in c.comment.text and "ru:" in c.comment.text for c in commented)


def test_each_read_of_the_finding_workbook_is_recorded_and_a_refused_one_is_not(api):
    client, world = api
    world.submit({**GOOD, "pupils_total": 21})
    head = ISSUER.headers("head", SCHOOL, "organization", subject="iin:870303400044")
    district = ISSUER.headers("officer", DISTRICT, "district", subject="iin:750505300011")
    assert client.get("/v1/results/s1/report.xlsx", headers=head).status_code == 200
    assert client.get("/v1/results/s1/report.xlsx", headers=district).status_code == 200
    for refused, headers, sid in ((404, ISSUER.headers("head", SIBLING, "organization"), "s1"),  # not theirs
                                  (404, head, "s9"),  # no such result
                                  (403, ISSUER.headers("integrator"), "s1"),  # no submissions:read
                                  (401, {}, "s1")):
        assert client.get(f"/v1/results/{sid}/report.xlsx", headers=headers).status_code == refused
    got = client.get("/v1/results/s1/reads", headers=head)
    assert got.status_code == 200, got.text
    assert [(r["part"], r["how"], r["reader"], r["client"]) for r in got.json()] == [
        ("xlsx", "file", f"iin:870303400044@{SCHOOL}/head", "testclient"),
        ("xlsx", "file", f"iin:750505300011@{DISTRICT}/officer", "testclient")]
    assert all(r["at"].endswith("+05:00") for r in got.json())


def test_who_may_see_the_reads_of_a_finding_workbook(api):
    client, world = api
    world.submit(GOOD)
    for allowed in (ISSUER.headers("head", SCHOOL, "organization"), ISSUER.headers("officer", DISTRICT, "district"),
                    ISSUER.headers("data_office")):
        assert client.get("/v1/results/s1/reads", headers=allowed).json() == []
    sibling = client.get("/v1/results/s1/reads", headers=ISSUER.headers("head", SIBLING, "organization"))
    assert (sibling.status_code, sibling.json()["error"]["code"]) == (404, "RESULT_UNKNOWN")  # as an unknown one
    for refused in ("integrator", "ops", "analyst"):  # none reads submissions
        resp = client.get("/v1/results/s1/reads", headers=ISSUER.headers(refused))
        assert (resp.status_code, resp.json()["error"]["code"]) == (403, "SCOPE_MISSING")
    assert client.get("/v1/results/s1/reads").status_code == 401


def test_the_local_check_prints_the_findings_in_the_chosen_language(tmp_path, capsys):
    from uise_validation.cli import main

    definition = tmp_path / "sch-1.json"
    definition.write_text(FORM.model_dump_json())
    good, bad = tmp_path / "good.json", tmp_path / "bad.csv"
    good.write_text(json.dumps(GOOD))
    bad.write_text("field,value\npupils_total,21\npupils_girls,10\npupils_boys,10\nclasses,2\nteachers,9\n")
    assert main([FORM.code, "2026", str(good), "--form", str(definition)]) == 0
    assert "no errors, no queries" in capsys.readouterr().out
    assert main([FORM.code, "2026", str(bad), "--form", str(definition), "--lang", "ru"]) == 1
    out = capsys.readouterr().out
    assert "ERROR R1" in out and "QUERY Q-TEACHERS" in out and "необычно много учителей" in out
    assert main(["OSH-1", "2026", str(good), "--form", str(definition)]) == 2


MEAN_FORM = SCHOOL_FORM.model_copy(update={"fields": [
    *SCHOOL_FORM.fields,
    SCHOOL_FORM.fields[0].model_copy(update={"code": "avg_class", "title": "Pupils a class", "type": "decimal",
                                             "aggregate": "mean", "required": False})]})
REGION, OTHER_DISTRICT, FAR_SCHOOL = "210240000018", "210340000023", "220440000039"


def test_a_regions_mean_is_checked_over_its_schools_and_carried_exactly(world):
    world.approve(2026, 2, date(2026, 1, 10), form=MEAN_FORM)
    for pid, level, parent in ((REGION, Level.region, "100140011059"), (OTHER_DISTRICT, Level.district, REGION),
                               (FAR_SCHOOL, Level.organization, OTHER_DISTRICT)):
        run_handler(world.engine, handlers.on_participant, ParticipantUpserted(
            participant_id=pid, bin=pid, level=level, kind="school" if level == Level.organization else level.value,
            parent_id=parent, name_kk="x", name_ru="x"))

    def accept(pid, to, values, aggregates=None):
        run_handler(world.engine, handlers.on_accepted, SubmissionAccepted(
            submission_id=f"acc-{pid}", participant_id=pid, recipient_id=to, form_code=FORM.code, period="2026",
            values_exact={k: str(v) for k, v in values.items()}, aggregates=aggregates or {}))

    accept(SCHOOL, DISTRICT, {**GOOD, "avg_class": "20"})
    accept(SIBLING, DISTRICT, {**GOOD, "avg_class": "30"})
    accept(FAR_SCHOOL, OTHER_DISTRICT, {**GOOD, "avg_class": "10"})
    district = {k: 2 * v for k, v in GOOD.items()} | {"avg_class": "25"}
    [d] = world.submit(district, participant=DISTRICT)
    assert d.ok, d.findings
    assert d.aggregates["avg_class"].model_dump() == {"sum": "50", "count": 2, "min": "20", "max": "30"}
    accept(DISTRICT, REGION, district, d.aggregates)
    [o] = world.submit({**GOOD, "avg_class": "10"}, participant=OTHER_DISTRICT)
    accept(OTHER_DISTRICT, REGION, {**GOOD, "avg_class": "10"}, o.aggregates)
    region = {k: 3 * v for k, v in GOOD.items()}
    # the mean of the three schools is 20; the mean of the districts' means (25, 10) would be 17.5
    [wrong] = world.submit({**region, "avg_class": "17.5"}, participant=REGION)
    assert not wrong.ok and [f.field for f in wrong.findings if f.rule == "CONSOLIDATION_MISMATCH"] == ["avg_class"]
    [right] = world.submit({**region, "avg_class": "20"}, participant=REGION)
    assert right.ok, right.findings
    assert right.aggregates["avg_class"].model_dump() == {"sum": "60", "count": 3, "min": "10", "max": "30"}
    assert right.aggregates["pupils_total"].count == 3


def test_stated_aggregates_must_be_the_subordinates_and_a_returned_one_stops_counting(world):
    world.accept(GOOD, SCHOOL, "2026")
    world.accept({**GOOD, "pupils_total": 30, "pupils_girls": 14, "pupils_boys": 16}, SIBLING, "2026")
    right = {"pupils_total": 50, "pupils_girls": 24, "pupils_boys": 26, "classes": 4, "teachers": 6}
    honest = {"pupils_total": {"sum": "50", "count": 2, "min": "20", "max": "30"}}
    [ok] = world.submit({**right, "_consolidation": {"aggregates": honest, "included": [SCHOOL, SIBLING]}},
                        participant=DISTRICT)
    assert ok.ok, ok.findings
    padded = {"pupils_total": {"sum": "50", "count": 3, "min": "0", "max": "30"}}
    [bad] = world.submit({**right, "_consolidation": {"aggregates": padded}}, participant=DISTRICT)
    assert [f.rule for f in bad.findings] == ["AGGREGATES_MISMATCH"] and not bad.ok
    [broken] = world.submit({**right, "_consolidation": {"aggregates": {"pupils_total": {"sum": "x", "count": 1}}}},
                            participant=DISTRICT)
    assert [f.rule for f in broken.findings] == ["CONSOLIDATION_SECTION_INVALID"]
    # the district returns the sibling's: the consolidation now adds up to the school alone
    from uise_contracts.events import SubmissionReturned
    run_handler(world.engine, handlers.on_returned, SubmissionReturned(
        submission_id=f"acc-{SIBLING}-2026", participant_id=SIBLING, recipient_id=DISTRICT, form_code=FORM.code,
        period="2026", comment="check girls", returned_by="iin:870303400044", returned_at=datetime.now(UTC)))
    [alone] = world.submit(GOOD, participant=DISTRICT)
    assert alone.ok, alone.findings

"""Validation on the running stack (issue 9): a figure far from the school's own previous
quarter is a query; the school explains it after upload and the submission then proceeds; the
dry run says the same beforehand and records nothing; the finding report names the cells."""

from __future__ import annotations

import io
import json
import time
from decimal import Decimal

import httpx
import openpyxl
import pytest

from uise_registry.catalog import example_values
from uise_registry.demo import DISTRICT
from uise_registry.identifiers import make_valid
from uise_stack.client import (
    Signer,
    bearer,
    data_office_token,
    remember_signer,
    submit,
    token_for,
    wait_final,
    wait_for_steps,
)

pytestmark = pytest.mark.e2e
SCHOOL = make_valid("22044000005")
HEAD = make_valid("83030330006")
COUNTS = ("enrolled", "meals", "missed", "illness", "excused", "unexcused")


def mon_q(scale: int = 1) -> bytes:
    """A plausible MON-Q (every rule holds); `scale` multiplies the head counts, keeping the rates."""
    values = {}
    for cell, v in example_values("MON-Q").items():
        if isinstance(v, Decimal) and cell.rsplit(".", 1)[-1] in COUNTS:
            v = v * scale
        values[cell] = None if v is None else (int(v) if isinstance(v, Decimal) and v == v.to_integral() else
                                               float(v) if isinstance(v, Decimal) else v)
    return json.dumps(values, ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def school(stack, ca) -> str:
    resp = httpx.put(f"{stack.config.url('registry')}/v1/participants/{SCHOOL}", headers=bearer(data_office_token()),
                     json={"bin": SCHOOL, "level": "organization", "kind": "school", "parent_id": DISTRICT,
                           "name_kk": "№5 мектеп", "name_ru": "Школа №5", "head_iin": HEAD, "head_name": "Басшы",
                           "head_from": "2020-09-01"}, timeout=30)
    assert resp.status_code == 200, resp.text
    key, cert = ca.issue(iin=HEAD, name="Head of school 5", bin_=SCHOOL)
    remember_signer(SCHOOL, Signer(key, cert))
    return SCHOOL


def test_an_outlier_against_the_previous_quarter_is_a_query_explained_after_upload(stack, ca, intake, school):
    signer = Signer(*ca.issue(iin=HEAD, name="Head of school 5", bin_=SCHOOL))
    first = submit(intake, school, "MON-Q", "2026-Q1", mon_q(), signer)
    assert first.status_code == 202, first.text
    assert wait_final(intake, first.json()["submission_id"])["status"] == "accepted"

    # the dry run warns before anything is sent, and keeps nothing. Validation learns the accepted
    # Q1 from submission.accepted through its own consumer, which may trail intake's by a moment.
    validation = stack.config.url("validation")
    deadline = time.monotonic() + 60
    while True:
        dry = httpx.post(f"{validation}/v1/dry-run", data={"form_code": "MON-Q", "period": "2026-Q2"},
                         files={"document": ("q2.json", mon_q(10))}, headers=bearer(token_for(school)), timeout=60)
        assert dry.status_code == 200, dry.text
        if dry.json()["would_be"] == "queried" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert dry.json()["would_be"] == "queried"
    assert {q["rule"] for q in dry.json()["open_queries"]} == {"OUTLIER_HISTORY"}

    # ten times the pupils of the previous quarter: held as a query, neither accepted nor rejected
    second = submit(intake, school, "MON-Q", "2026-Q2", mon_q(10), signer)
    sid = second.json()["submission_id"]
    held = wait_for_steps(intake, sid, {"queried"})
    assert held["status"] == "queried" and not held["final"]
    queries = next(t for t in held["timeline"] if t["step"] == "queried")["detail"]["queries"]
    enrolled = next(q for q in queries if q["field"] == "att.g01_04.enrolled")
    assert enrolled["observed"]["history:2026-Q1"] == "200" and set(enrolled["messages"]) == {"kk", "ru", "en"}

    # the school explains after upload; the submission proceeds and its recipient reads why
    resp = httpx.post(f"{intake}/v1/submissions/{sid}/explanations", headers=bearer(token_for(school)), timeout=30,
                      json={"explanations": {"OUTLIER_HISTORY": "two schools merged into ours on 1 April"}})
    assert resp.status_code == 202, resp.text
    final = wait_final(intake, sid)
    assert final["status"] == "accepted", final["timeline"]
    steps = [t["step"] for t in final["timeline"]]
    assert steps.index("queried") < steps.index("explained") < steps.index("accepted")
    result = httpx.get(f"{validation}/v1/results/{sid}", headers=bearer(token_for(DISTRICT))).json()
    assert result["status"] == "valid" and result["form_version"] == 1
    assert all(f["explanation"] == "two schools merged into ours on 1 April"
               for f in result["findings"] if f["rule"] == "OUTLIER_HISTORY")


def test_the_finding_report_highlights_the_broken_cells(stack, ca, intake, school):
    signer = Signer(*ca.issue(iin=HEAD, name="Head of school 5", bin_=SCHOOL))
    broken = json.loads(mon_q())
    broken["att.g05_09.meals"] = broken["att.g05_09.enrolled"] + 1  # more meals than pupils
    resp = submit(intake, school, "MON-Q", "2026-Q3", json.dumps(broken).encode(), signer)
    final = wait_final(intake, resp.json()["submission_id"])
    assert (final["status"], final["reason_code"]) == ("rejected", "VALIDATION_FAILED")
    report = httpx.get(f"{stack.config.url('validation')}/v1/results/{resp.json()['submission_id']}/report.xlsx",
                       headers=bearer(token_for(school)))
    assert report.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(report.content))
    rules = [row[0].value for row in wb["Findings"].iter_rows(min_row=2)]
    assert "MEALS_LE_ENROLLED_G05_09" in rules
    assert any(c.comment and "MEALS_LE_ENROLLED_G05_09" in c.comment.text
               for ws in wb.worksheets for row in ws.iter_rows() for c in row)

"""The registry's lists of forms reach the other services, and a school's XLSX template, filled
in as an accountant would, travels the whole path (issue 3)."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

import httpx
import openpyxl
import pytest

from uise_registry.demo import DISTRICT, SCHOOLS
from uise_stack.client import bearer, data_office_token, submit, token_for, wait_for_steps
from uise_stack.demo import head_signer

pytestmark = pytest.mark.e2e
SCHOOL1 = next(iter(SCHOOLS))


def data_office() -> dict[str, str]:
    return bearer(data_office_token())


def fill(template: bytes, values: dict[str, object]) -> bytes:
    """Type values into the input cells, found through the template's own map."""
    wb = openpyxl.load_workbook(io.BytesIO(template))
    where = {}
    for row in wb["_uise"].iter_rows(values_only=True):
        if row and row[0] in values and len(row) >= 3:
            where[row[0]] = (row[1], row[2])
    assert set(where) == set(values), f"cells not in the template: {set(values) - set(where)}"
    for code, (sheet, coord) in where.items():
        wb[sheet][coord] = values[code]
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_a_filled_xlsx_template_is_accepted_with_its_values(stack, ca):
    registry, intake = stack.config.url("registry"), stack.config.url("intake")
    form = httpx.get(f"{registry}/v1/forms/OSH-1", params={"year": 2026}).json()
    template = httpx.get(f"{registry}/v1/forms/OSH-1/template.xlsx",
                         params={"year": 2026, "participant_bin": SCHOOL1, "period": "2026"})
    assert template.status_code == 200 and template.content[:2] == b"PK"
    from uise_registry.catalog import example_values

    # a plausible OSH-1 that keeps every one of its rules, typed as numbers, dates and text
    values = {c: (int(v) if isinstance(v, Decimal) and v == v.to_integral() else float(v) if isinstance(v, Decimal)
                  else v) for c, v in example_values("OSH-1").items() if v is not None}
    assert set(values) <= {f"{sec['code']}.{row['code']}.{col['code']}" for sec in form["sections"]
                           for row in sec["rows"] for col in sec["columns"]} | {f["code"] for f in form["fields"]}
    doc = fill(template.content, values)
    resp = submit(intake, SCHOOL1, "OSH-1", "2026", doc, head_signer(ca, SCHOOL1), filename="osh-1.xlsx")
    assert resp.status_code == 202, resp.text
    # each outcome reaches intake on its own topic: the final state may be filed before the
    # validation step, so wait for both
    final = wait_for_steps(intake, resp.json()["submission_id"], {"validated", "accepted"})
    validated = next(t for t in final["timeline"] if t["step"] == "validated")["detail"]
    assert final["status"] == "accepted", validated


def test_a_template_for_another_school_is_rejected(stack, ca):
    registry, intake = stack.config.url("registry"), stack.config.url("intake")
    other = [s for s in SCHOOLS if s != SCHOOL1][0]
    template = httpx.get(f"{registry}/v1/forms/OTH-HEAT/template.xlsx",
                         params={"year": 2026, "participant_bin": other, "period": "2026"}).content
    doc = fill(template, {"heating_type": "central", "ready_date": date(2026, 9, 1)})
    resp = submit(intake, SCHOOL1, "OTH-HEAT", "2026", doc, head_signer(ca, SCHOOL1), filename="heat.xlsx")
    final = wait_for_steps(intake, resp.json()["submission_id"], {"validated", "rejected"})
    findings = next(t for t in final["timeline"] if t["step"] == "validated")["detail"]["findings"]
    assert final["status"] == "rejected" and "BIN_MISMATCH" in [f["rule"] for f in findings]


def test_an_approved_list_reaches_intake_and_cannot_be_edited(stack, ca):
    registry, intake = stack.config.url("registry"), stack.config.url("intake")
    forms = httpx.get(f"{registry}/v1/forms/MON-Q", params={"year": 2026}).json()
    with httpx.Client(base_url=registry, headers=data_office()) as http:
        # only the data office approves the list: not a district's head, not the Ministry's own head
        for who in (DISTRICT, SCHOOL1):
            refused = http.post("/v1/formlists", json={"year": 2025, "forms": [forms]}, headers=bearer(token_for(who)))
            assert (refused.status_code, refused.json()["error"]["code"]) == (403, "SCOPE_MISSING")
        assert http.post("/v1/formlists", json={"year": 2025, "forms": [forms]},
                         headers={"Authorization": ""}).status_code == 401
        draft = http.post("/v1/formlists", json={"year": 2025, "forms": [forms]})
        assert draft.status_code == 201, draft.text
        version = draft.json()["version"]
        # before approval no other service knows the 2025 form
        early = submit(intake, SCHOOL1, "MON-Q", "2025-Q4", json.dumps({}).encode(), head_signer(ca, SCHOOL1),
                       wait_reference=0)
        assert early.json()["error"]["code"] == "UNKNOWN_FORM"
        ok = http.post(f"/v1/formlists/2025/{version}/approve",
                       json={"order_no": "№ 77", "order_date": "2024-12-20", "signatory": "Министр"})
        assert ok.status_code == 200, ok.text
        edit = http.put(f"/v1/formlists/2025/{version}", json={"year": 2025, "forms": [forms]})
        assert (edit.status_code, edit.json()["error"]["code"]) == (409, "FORMLIST_IMMUTABLE")
        assert set(edit.json()["error"]["message"]) == {"kk", "ru", "en"}
        pdf = http.get(f"/v1/formlists/2025/{version}.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # intake's read model, fed by formlist.approved on the broker, now knows the form
    later = submit(intake, SCHOOL1, "MON-Q", "2025-Q4", json.dumps({"pupils.g01_04.enrolled": 1}).encode(),
                   head_signer(ca, SCHOOL1), wait_reference=60)
    assert later.status_code == 202, later.text


def test_import_dry_run_reports_each_bad_row_and_changes_nothing(stack):
    registry = stack.config.url("registry")
    csv_text = (
        "bin,level,kind,parent_bin,name_kk,name_ru\n"
        f"220440000039,organization,school,{DISTRICT},Жаңа мектеп,Новая школа\n"   # good
        f"220440000038,organization,school,{DISTRICT},Қате,Ошибка\n"               # bad control digit
        "220440000049,organization,school,210340000099,Белгісіз,Неизвестный\n"     # unknown parent
        f"220440000059,district,district,{DISTRICT},Деңгей,Уровень\n"              # wrong level
    )
    with httpx.Client(base_url=registry, headers=data_office()) as http:
        before = http.get("/v1/participants", params={"parent_id": DISTRICT}).json()
        resp = http.post("/v1/participants/import", files={"file": ("schools.csv", csv_text.encode())})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["dry_run"] is True and body["summary"]["imported"] == 1 and body["summary"]["rejected"] == 3
        assert {(r["row_no"], r["code"]) for r in body["rejected"]} == {
            (3, "BIN_CHECKSUM"), (4, "PARENT_UNKNOWN"), (5, "PARENT_WRONG_LEVEL")}
        assert http.get("/v1/participants", params={"parent_id": DISTRICT}).json() == before
        # a school reads its own record, not its neighbour's
        school = bearer(token_for(SCHOOL1))
        mine = http.get(f"/v1/participants/{SCHOOL1}", headers=school)
        assert mine.status_code == 200 and mine.json()["heads"]
        other = [s for s in SCHOOLS if s != SCHOOL1][0]
        theirs = http.get(f"/v1/participants/{other}", headers=school)
        assert (theirs.status_code, theirs.json()["error"]["code"]) == (403, "OUT_OF_SUBTREE")

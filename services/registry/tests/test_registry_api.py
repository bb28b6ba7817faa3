"""The registry's HTTP API on a real (SQLite) database: canonical inputs only (a hostile value is a
422 with a reason code, never a 500), and exports and templates that never carry a formula
(issue 7). The caller is the data office, with a token from a stand-in identity provider."""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from uise_common.db import migrate
from uise_common.service import COMMON_MIGRATION, ServiceRuntime
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer
from uise_common.workbook import BIN_CODE, FORM_SHEET, MAP_SHEET, PERIOD_CODE, read_workbook
from uise_contracts.examples import SCHOOL_FORM
from uise_registry.adapters import MIGRATIONS, Participant
from uise_registry.catalog import CATALOG
from uise_registry.demo import DISTRICT, SCHOOLS, demo_participants
from uise_registry.entrypoint import SPEC
from uise_registry.identifiers import make_valid

SCHOOL = next(iter(SCHOOLS))
ISSUER = TokenIssuer()
AS_MINISTRY = ISSUER.headers("data_office")
HOSTILE_NAMES = ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)"]
BIG = "x" * 10_240


@pytest.fixture
def client(tmp_path):
    settings = Settings(service_name="registry", data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1")
    rt = ServiceRuntime(SPEC, settings)
    rt.authenticator = ISSUER.authenticator()
    migrate(rt.engine, [COMMON_MIGRATION, *MIGRATIONS])
    c = TestClient(rt.app(), raise_server_exceptions=False)  # no lifespan: no broker, no relay
    for p in demo_participants():
        r = c.put(f"/v1/participants/{p['participant_id']}", json=p, headers=AS_MINISTRY)
        assert r.status_code == 200, r.text
    assert c.post("/v1/formlists", json={"year": 2026, "forms": [f.model_dump(mode="json") for f in
                                                                 [SCHOOL_FORM, *CATALOG]]},
                  headers=AS_MINISTRY).status_code == 201
    assert c.post("/v1/formlists/2026/1/approve", json={"order_no": "412", "order_date": "2026-01-15"},
                  headers=AS_MINISTRY).status_code == 200
    c.engine = rt.engine
    yield c
    rt.engine.dispose()


def school(n: int, **kw) -> dict:
    b = make_valid(f"2204400{n:04d}")
    return {"bin": b, "level": "organization", "kind": "school", "parent_id": DISTRICT,
            "name_kk": f"№{n} мектеп", "name_ru": f"Школа №{n}", **kw}


def invalid(r) -> str:
    assert r.status_code == 422, (r.status_code, r.text)
    return r.json()["error"]["code"]


# --- out-of-range and lookalike values --------------------------------------------------------


@pytest.mark.parametrize("year", ["99999999999999999999", "9999", "1999", "%D9%A2%D9%A0%D9%A2%D9%A6",
                                  "%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96", "2026.0", "-2026"])
def test_a_year_out_of_range_or_not_in_ascii_digits_is_a_422_not_a_500(client, year):
    assert invalid(client.get(f"/v1/formlists/{year}")) == "REQUEST_INVALID"
    assert invalid(client.get(f"/v1/forms/OSH-1?year={year}")) == "REQUEST_INVALID"
    assert invalid(client.get(f"/v1/formlists/{year}/1.pdf")) == "REQUEST_INVALID"


def test_a_version_out_of_range_is_a_422(client):
    assert invalid(client.get("/v1/formlists/2026/99999999999999999999.pdf")) == "REQUEST_INVALID"
    assert invalid(client.post("/v1/formlists/2026/99999999999999999999/approve",
                               json={"order_no": "1", "order_date": "2026-01-15"}, headers=AS_MINISTRY)
                   ) == "REQUEST_INVALID"


def test_good_values_still_answer(client):
    assert [v["version"] for v in client.get("/v1/formlists/2026").json()] == [1]
    assert client.get("/v1/forms/OSH-1", params={"year": "2026"}).json()["code"] == "OSH-1"
    assert client.get("/v1/formlists/2026/1.pdf").content.startswith(b"%PDF")


@pytest.mark.parametrize("path", ["/v1/participants/12345678901%0A", "/v1/participants/" + "%D9%A1" * 12,
                                  f"/v1/participants/{SCHOOL}%E2%80%8D", "/v1/participants/" + "1" * 10_240])
def test_a_participant_id_that_is_not_12_ascii_digits_is_a_422(client, path):
    assert invalid(client.get(path, headers=AS_MINISTRY)) == "REQUEST_INVALID"


@pytest.mark.parametrize("field, value", [
    ("bin", "٢٢٠٤٤٠٠٠٠٠٣٩"), ("bin", "22044000003\n"), ("name_ru", "a\x00b"), ("name_kk", BIG),
    ("name_ru", "Школа\u202e1"), ("name_kk", "   "), ("kato", "71121000\n"), ("kind", "school\n"),
    ("kind", BIG), ("head_iin", "８００１０１３０００１６"), ("head_name", "Ә\u200dлия"), ("head_from", "1700000000"),
    ("active_from", "0001-01-01"), ("parent_id", DISTRICT + "\n"),
])
def test_a_participant_body_with_a_hostile_field_is_a_422_naming_it(client, field, value):
    body = school(39, head_iin="800101300016", head_name="Директор")
    url = f"/v1/participants/{body['bin']}"
    assert client.put(url, json=body, headers=AS_MINISTRY).status_code == 200  # as it is, it is good
    body[field] = value
    r = client.put(url, json=body, headers=AS_MINISTRY)
    assert invalid(r) == "REQUEST_INVALID"
    assert field in {f["field"] for f in r.json()["error"]["fields"]}


def test_approval_and_closing_fields_are_capped(client):
    assert client.post("/v1/formlists", json={"year": 2027, "forms": [SCHOOL_FORM.model_dump(mode="json")]},
                       headers=AS_MINISTRY).status_code == 201
    for body in ({"order_no": "1\x00", "order_date": "2027-01-15"}, {"order_no": BIG, "order_date": "2027-01-15"},
                 {"order_no": "1", "order_date": "2027-01-15", "signatory": BIG},
                 {"order_no": "1", "order_date": "9999-01-15"}):
        assert invalid(client.post("/v1/formlists/2027/1/approve", json=body, headers=AS_MINISTRY)) == "REQUEST_INVALID"
    assert invalid(client.post(f"/v1/participants/{SCHOOL}/close", json={"active_to": "0001-01-01"},
                               headers=AS_MINISTRY)) == "REQUEST_INVALID"


def test_a_form_code_the_form_routes_could_not_take_is_refused_in_a_list(client):
    for code in ("=cmd", "osh-1", "OSH-1\n", "A" * 33):
        bad = SCHOOL_FORM.model_copy(update={"code": code}).model_dump(mode="json")
        r = client.post("/v1/formlists", json={"year": 2028, "forms": [bad]}, headers=AS_MINISTRY)
        assert invalid(r) == "FORM_CODE_INVALID", code
    assert client.post("/v1/formlists", json={"year": 2028, "forms": [SCHOOL_FORM.model_dump(mode="json")]},
                       headers=AS_MINISTRY).status_code == 201
    # editing a draft checks the same
    twice = [SCHOOL_FORM.model_dump(mode="json")] * 2
    assert invalid(client.put("/v1/formlists/2028/1", json={"year": 2028, "forms": twice},
                              headers=AS_MINISTRY)) == "FORM_CODE_REPEATED"


def test_a_title_longer_than_a_page_still_prints(client):
    long = SCHOOL_FORM.model_copy(update={"code": "LONG-1", "title_ru": "y" * 5000})
    assert client.post("/v1/formlists", json={"year": 2029, "forms": [long.model_dump(mode="json")]},
                       headers=AS_MINISTRY).status_code == 201
    assert client.post("/v1/formlists/2029/1/approve", json={"order_no": "1", "order_date": "2029-01-15"},
                       headers=AS_MINISTRY).status_code == 200
    r = client.get("/v1/formlists/2029/1.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")


# --- exports ------------------------------------------------------------------------------------


def with_hostile_names(client) -> dict[str, str]:
    """BIN → name: four through the API, and a fifth with a leading tab written straight to the
    database, as data stored before the API refused control characters would be."""
    names = {}
    for n, name in enumerate(HOSTILE_NAMES, start=40):
        body = school(n, name_kk=name, name_ru=name, head_iin="800101300016", head_name=name)
        r = client.put(f"/v1/participants/{body['bin']}", json=body, headers=AS_MINISTRY)
        assert r.status_code == 200, r.text
        assert r.json()["name_kk"] == name  # a name is stored as given: exports neutralise it
        names[body["bin"]] = name
    body = school(49)
    assert client.put(f"/v1/participants/{body['bin']}", json=body, headers=AS_MINISTRY).status_code == 200
    with Session(client.engine) as s:
        row = s.get(Participant, body["bin"])
        row.name_kk = row.name_ru = "\t=1+1"
        s.add(row)
        s.commit()
    names[body["bin"]] = "\t=1+1"
    return names


def test_the_csv_export_neutralises_every_formula_like_name(client):
    names = with_hostile_names(client)
    r = client.get("/v1/participants/export/csv", headers=AS_MINISTRY)
    assert r.status_code == 200
    rows = {row["bin"]: row for row in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"), newline=""))}
    for bin_, name in names.items():
        for column in ("name_kk", "name_ru"):
            assert rows[bin_][column] == "'" + name, (bin_, column)
    for bin_ in list(names)[:4]:
        assert rows[bin_]["head_name"].startswith("'")


def test_the_xlsx_export_holds_them_as_neutralised_strings_never_formulas(client):
    names = with_hostile_names(client)
    r = client.get("/v1/participants/export/xlsx", headers=AS_MINISTRY)
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["participants"]
    header = [c.value for c in sheet[1]]
    found = {}
    for row in sheet.iter_rows(min_row=2):
        assert all(c.data_type != "f" for c in row), [c.value for c in row]
        cells = dict(zip(header, row, strict=True))
        found[cells["bin"].value] = cells
    for bin_, name in names.items():
        cell = found[bin_]["name_kk"]
        assert (cell.value, cell.data_type) == ("'" + name, "s"), bin_
        assert found[bin_]["bin"].data_type == "s"  # identifiers stay text


# --- the public template ------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {"participant_bin": "=cmd|' /C calc'!A0"}, {"participant_bin": "+1"}, {"participant_bin": "@SUM(A1)"},
    {"participant_bin": SCHOOL + "\n"}, {"participant_bin": "٢٢٠٤٤٠٠٠٠٠١٩"}, {"period": "=1+1"},
    {"period": "-2+3"}, {"period": "2026\n"}, {"period": "٢٠٢٦"}, {"period": "\t2026"}, {"period": "9999"},
    {"period": BIG}, {"year": "99999999999999999999"},
])
def test_a_template_with_hostile_parameters_is_refused(client, params):
    r = client.get("/v1/forms/OSH-1/template.xlsx", params={"year": 2026, **params})
    assert invalid(r) == "REQUEST_INVALID"
    field = next(iter(params))
    assert field in {f["field"] for f in r.json()["error"]["fields"]}


@pytest.mark.parametrize("code", ["osh-1", "OSH-1%0A", "%3Dcmd"])
def test_a_template_of_a_non_canonical_form_code_is_refused(client, code):
    assert invalid(client.get(f"/v1/forms/{code}/template.xlsx", params={"year": 2026})) == "REQUEST_INVALID"


def test_a_template_with_good_parameters_holds_them_as_strings(client):
    r = client.get("/v1/forms/OSH-1/template.xlsx",
                   params={"year": 2026, "participant_bin": SCHOOL, "period": "2026"})
    assert r.status_code == 200, r.text
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    where = {row[0]: row[2] for row in wb[MAP_SHEET].iter_rows(min_row=5, max_col=3, values_only=True)}
    for code, expected in ((BIN_CODE, SCHOOL), (PERIOD_CODE, "2026")):
        cell = wb[FORM_SHEET][where[code]]
        assert (cell.value, cell.data_type) == (expected, "s")
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    back = read_workbook(r.content)
    assert (back.form_code, back.participant_bin, back.period) == ("OSH-1", SCHOOL, "2026")


def test_the_export_date_cells_are_real_dates(client):
    r = client.get("/v1/participants/export/xlsx", headers=AS_MINISTRY)
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["participants"]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == SCHOOL)
    head_from = dict(zip(header, row, strict=True))["head_from"]
    assert head_from.value.date() == date(2020, 9, 1) and head_from.number_format == "yyyy-mm-dd"

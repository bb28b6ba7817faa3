"""Canonical input types: each accepts its one ASCII form and refuses lookalikes, oversize and
out-of-range values, as a Pydantic field and as a FastAPI path, query and form parameter (where
the refusal is a 422 REQUEST_INVALID, never a 500)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import pytest
from fastapi import FastAPI, Form
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter, ValidationError

from uise_common import http
from uise_common.inputs import (
    Bin,
    Comment,
    Day,
    FormCode,
    Iin,
    Kato,
    Label,
    Name,
    ParticipantId,
    PeriodText,
    PersonName,
    Ref,
    Version,
    Year,
    capped_text,
    is_participant_id,
    is_ref,
)

BIG = "9" * 10_240
# Lookalikes of 12 digits that str.isdigit(), int() or a Unicode \d would let through.
DIGITS_HOSTILE = [
    "12345678901\n", "123456789012\n", "\n123456789012", " 123456789012", "123456789012 ",
    "١٢٣٤٥٦٧٨٩٠١٢",  # Arabic-Indic
    "１２３４５６７８９０１２",  # fullwidth
    "12345678901２", "123456\u200d789012", "12345678901\u200d", "\ufeff123456789012",
    "123456789012\x00", "\x00" * 12, "12345678901", "1234567890123", "+12345678901", "-12345678901",
    "12345678901a", "", BIG, "99999999999999999999",
]


def refuses(tp, value) -> bool:
    try:
        TypeAdapter(tp).validate_python(value)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("tp", [Bin, Iin, ParticipantId], ids=["Bin", "Iin", "ParticipantId"])
def test_twelve_digit_identifiers(tp):
    assert TypeAdapter(tp).validate_python("020440000013") == "020440000013"
    for bad in [*DIGITS_HOSTILE, 123456789012, None]:
        assert refuses(tp, bad), repr(bad)


def test_refs_are_the_ids_the_system_gives_out_and_nothing_with_a_control_character():
    for ok in ("0b9d6c1e-5f7a-4c1e-9a3e-2f4d8b6a7c10", "cl_3f9a00aa11bb22cc", "client:cl_3f9a00aa11bb22cc",
               "iin:800101300016", "210340000012:SCH-1:2026-Q3", "2026/1"):
        assert TypeAdapter(Ref).validate_python(ok) == ok and is_ref(ok), ok
    for bad in ("a\x00b", "\x00", "abc\n", "a b", "", "-abc", "ab\u200dc", "абв", "٠١", "x" * 81, BIG, None, 7):
        assert refuses(Ref, bad) and not is_ref(bad), repr(bad)


def test_participant_ids_outside_a_parameter_are_checked_the_same_way():
    assert is_participant_id("020440000013")
    for bad in [*DIGITS_HOSTILE, 123456789012, None]:
        assert not is_participant_id(bad), repr(bad)


def test_kato_is_nine_ascii_digits():
    assert TypeAdapter(Kato).validate_python("711210000") == "711210000"
    for bad in ("71121000", "7112100000", "٧١١٢١٠٠٠٠", "711210000\n", "71121000x", BIG):
        assert refuses(Kato, bad), repr(bad)


def test_form_codes_of_the_catalogue_and_the_demo_are_accepted_and_lookalikes_are_not():
    from uise_contracts.examples import SCHOOL_FORM
    from uise_registry.catalog import CATALOG

    for form in [*CATALOG, SCHOOL_FORM]:
        assert TypeAdapter(FormCode).validate_python(form.code) == form.code
    for ok in ("Q1", "OTH-HEAT", "A" * 32, "1-OSH"):
        assert TypeAdapter(FormCode).validate_python(ok) == ok
    for bad in ("OSH-1\n", "osh-1", "-OSH", "OSH_1", "OSH 1", "ОШ-1", "OSH-１", "OSH\u200d-1", "A" * 33, "",
                "=cmd|' /C calc'!A0", "OSH-1\x00", BIG):
        assert refuses(FormCode, bad), repr(bad)


def test_years_are_whole_ascii_numbers_in_range():
    ta = TypeAdapter(Year)
    assert ta.validate_python(2026) == 2026 and ta.validate_python("2026") == 2026
    assert ta.validate_python(2000) == 2000 and ta.validate_python(2100) == 2100
    for bad in (1999, 2101, 9999, "99999999999999999999", 99999999999999999999, -2026, "٢٠٢٦", "２０２６",
                "2026\n", " 2026", "+2026", "2_026", "2026.0", 2026.0, True, "", None, BIG):
        assert refuses(Year, bad), repr(bad)


def test_versions_start_at_one_and_are_capped():
    assert TypeAdapter(Version).validate_python("3") == 3
    for bad in (0, -1, "0", "99999999999999999999", "1.0", True, "١"):
        assert refuses(Version, bad), repr(bad)


def test_period_text_is_a_canonical_period():
    for ok in ("2026", "2026-H1", "2026-Q3", "2026-10", "2026-10-15"):
        assert TypeAdapter(PeriodText).validate_python(ok) == ok
    for bad in ("2026\n", "٢٠٢٦", "２０２６", "20\u200d26", "9999", "99999999999999999999", "2026\x00",
                "2026-02-30", "", BIG):
        assert refuses(PeriodText, bad), repr(bad)


def test_days_are_iso_dates_in_range():
    ta = TypeAdapter(Day)
    assert ta.validate_python("2026-09-01") == date(2026, 9, 1)
    assert ta.validate_python(date(1950, 1, 1)) == date(1950, 1, 1)
    for bad in ("2026-9-1", "01.09.2026", "2026-09-01T00:00", "2026-02-30", "0001-01-01", "9999-12-31",
                "٢٠٢٦-09-01", "2026-09-01\n", 1700000000, "1700000000", BIG):
        assert refuses(Day, bad), repr(bad)


@pytest.mark.parametrize("tp, cap", [(Name, 500), (PersonName, 200), (Label, 200), (Comment, 2000)],
                         ids=["Name", "PersonName", "Label", "Comment"])
def test_free_text_is_trimmed_capped_and_free_of_control_and_invisible_characters(tp, cap):
    ta = TypeAdapter(tp)
    assert ta.validate_python("  №1 мектеп-лицей «Білім»  ") == "№1 мектеп-лицей «Білім»"
    assert ta.validate_python("x" * cap) == "x" * cap
    # NFC: "й" as one character or as "и" with a combining breve is stored the same way
    assert ta.validate_python("Сарыарқа и\u0306") == "Сарыарқа й"
    # what a spreadsheet would read as a formula is still a name: exports neutralise it
    assert ta.validate_python("=cmd|' /C calc'!A0") == "=cmd|' /C calc'!A0"
    for bad in ("x" * (cap + 1), "", "   ", "a\x00b", "a\x07b", "a\x1bb", "a\x7fb", "a\x85b", "a\tb",
                "a\u200db", "a\u200bb", "a\u202eb", "a\u2066b", "a\ufeffb", "a\u2028b", "a\ue000b",
                "a\U000e0001b", BIG * 2):
        assert refuses(tp, bad), repr(bad)


def test_only_multiline_text_takes_line_breaks():
    assert TypeAdapter(Comment).validate_python("one\r\ntwo\nthree") == "one\ntwo\nthree"
    assert refuses(Comment, "one\rtwo")  # a bare CR hides text in some viewers
    for tp in (Name, Label):
        assert refuses(tp, "one\ntwo")


def test_capped_text_makes_other_caps():
    Short = capped_text(3, min_length=0)
    assert TypeAdapter(Short).validate_python("") == ""
    assert refuses(Short, "abcd")


class Body(BaseModel):
    bin: Bin
    name: Name
    year: Year


def test_in_a_model_every_field_is_checked():
    assert Body(bin="020440000013", name="Школа", year=2026).year == 2026
    with pytest.raises(ValidationError) as exc:
        Body(bin="٠٢٠٤٤٠٠٠٠٠١٣", name="a\x00", year=99999999999999999999)
    assert {e["loc"][0] for e in exc.value.errors()} == {"bin", "name", "year"}


@pytest.fixture
def client():
    app = FastAPI()
    http.install(app, "test")

    @app.get("/forms/{code}/{year}")
    def get(code: FormCode, year: Year, participant_bin: Bin | None = None,
            period: PeriodText | None = None) -> dict:
        return {"code": code, "year": year, "bin": participant_bin, "period": period}

    @app.post("/submit")
    def submit(participant_id: Annotated[ParticipantId, Form()], period: Annotated[PeriodText, Form()],
               comment: Annotated[Comment | None, Form()] = None) -> dict:
        return {"participant_id": participant_id, "period": period, "comment": comment}

    return TestClient(app, raise_server_exceptions=False)


def test_as_fastapi_parameters_good_values_pass(client):
    r = client.get("/forms/OSH-1/2026", params={"participant_bin": "020440000013", "period": "2026-Q3"})
    assert r.json() == {"code": "OSH-1", "year": 2026, "bin": "020440000013", "period": "2026-Q3"}
    r = client.post("/submit", data={"participant_id": "020440000013", "period": "2026", "comment": "ok\nfine"})
    assert r.json() == {"participant_id": "020440000013", "period": "2026", "comment": "ok\nfine"}


@pytest.mark.parametrize("path, params", [
    ("/forms/OSH-1/99999999999999999999", {}),
    ("/forms/OSH-1/9999", {}),
    ("/forms/OSH-1/%D9%A2%D9%A0%D9%A2%D9%A6", {}),  # ٢٠٢٦
    ("/forms/osh-1/2026", {}),
    ("/forms/OSH-1%0A/2026", {}),
    ("/forms/OSH-1/2026", {"participant_bin": "=cmd|' /C calc'!A0"}),
    ("/forms/OSH-1/2026", {"participant_bin": "12345678901\n"}),
    ("/forms/OSH-1/2026", {"period": "2026\n"}),
    ("/forms/OSH-1/2026", {"period": "=1+1"}),
    ("/forms/OSH-1/2026", {"period": "9999"}),
    ("/forms/OSH-1/2026", {"period": BIG}),
])
def test_as_fastapi_parameters_hostile_values_are_a_422_with_the_field_named(client, path, params):
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    body = r.json()["error"]
    assert body["code"] == "REQUEST_INVALID" and body["fields"]


@pytest.mark.parametrize("data", [
    {"participant_id": "١٢٣٤٥٦٧٨٩٠١٢", "period": "2026"},
    {"participant_id": "020440000013", "period": "٢٠٢٦"},
    {"participant_id": "020440000013", "period": "2026\n"},
    {"participant_id": "020440000013", "period": "2026", "comment": "a\x00b"},
    {"participant_id": "020440000013", "period": "2026", "comment": "x" * 2001},
])
def test_as_form_fields_hostile_values_are_a_422(client, data):
    r = client.post("/submit", data=data)
    assert r.status_code == 422 and r.json()["error"]["code"] == "REQUEST_INVALID", r.text

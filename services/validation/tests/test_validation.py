from __future__ import annotations

import json

import pytest

from uise_common.consumer import NotYetKnown
from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import FormListApproved, SignatureChecked, StoredObject
from uise_contracts.examples import SCHOOL_FORM as DEMO_FORM
from uise_validation.adapters import MIGRATIONS
from uise_validation.domain import check
from uise_validation.handlers import make_on_signature_checked, on_formlist
from uise_validation.reading import read

GOOD = {"pupils_total": 20, "pupils_girls": 12, "pupils_boys": 8, "classes": 2, "teachers": 3}


def findings(raw):
    return [(f.rule, f.field) for f in check(DEMO_FORM, raw)[1]]


def test_a_correct_document_has_no_findings_and_typed_values():
    values, found = check(DEMO_FORM, {**GOOD, "pupils_total": "20"})
    assert found == [] and values["pupils_total"] == 20 and values["comment"] is None


def test_each_kind_of_error_is_named_with_its_field():
    assert findings({**GOOD, "pupils_total": 21}) == [("R1", "pupils_total")]
    assert findings({k: v for k, v in GOOD.items() if k != "classes"}) == [("REQUIRED", "classes")]
    assert findings({**GOOD, "teachers": "three"}) == [("NUMBER_INVALID", "teachers")]
    assert findings({**GOOD, "teachers": "2.5"}) == [("NOT_AN_INTEGER", "teachers")]
    assert findings({**GOOD, "teachers": -1}) == [("VALUE_OUT_OF_RANGE", "teachers")]
    assert findings({**GOOD, "pupils": 5}) == [("UNKNOWN_FIELD", "pupils")]


def test_csv_and_json_read_to_the_same_values():
    csv_doc = "field,value\n" + "\n".join(f"{k},{v}" for k, v in GOOD.items())
    from_csv = read(csv_doc.encode(), "text/csv", DEMO_FORM)
    from_json = read(json.dumps(GOOD).encode(), "application/json", DEMO_FORM)
    assert from_csv.findings == from_json.findings == []
    assert from_csv.values == from_json.values == {**GOOD, "comment": None}


@pytest.mark.parametrize("data, media, code", [
    (b"[1, 2]", "application/json", "DOCUMENT_UNREADABLE"),
    (b"{oops", "application/json", "DOCUMENT_UNREADABLE"),
    (b"a\nb", "text/csv", "CSV_ROW_INVALID"),
    (b"\xff\xfe", "text/csv", "DOCUMENT_ENCODING"),
])
def test_unreadable_documents_have_a_reason(data, media, code):
    assert read(data, media, DEMO_FORM).findings[0].rule == code


def test_handler_validates_against_the_form_of_the_period(tmp_path):
    from datetime import date

    from uise_common.objectstore import sha256_hex

    engine = migrated_sqlite(tmp_path, MIGRATIONS)
    doc = json.dumps({**GOOD, "pupils_total": 99}).encode()
    obj = StoredObject(key="k", sha256=sha256_hex(doc), size=len(doc), media_type="application/json")
    handler = make_on_signature_checked(lambda _o: doc)
    event = SignatureChecked(submission_id="s1", participant_id="p", form_code="SCH-1", period="2026",
                             document=obj, ok=True)
    with pytest.raises(NotYetKnown):
        run_handler(engine, handler, event)
    run_handler(engine, on_formlist, FormListApproved(year=2026, version=1, order_no="1",
                                                      order_date=date(2026, 1, 15), forms=[DEMO_FORM]))
    [validated] = run_handler(engine, handler, event)
    assert not validated.ok and [f.rule for f in validated.findings] == ["R1"]
    assert run_handler(engine, handler, event) == []
    refused = event.model_copy(update={"submission_id": "s2", "ok": False})
    assert run_handler(engine, handler, refused) == []  # refused signatures are not validated


def test_a_query_passes_only_with_its_written_explanation():
    from uise_contracts.events import FormRule
    from uise_validation.domain import explain

    form = DEMO_FORM.model_copy(update={"rules": [FormRule(
        code="Q1", severity="warning", left="teachers", right=["classes"],
        message="teachers usually equal classes")]})
    _, found = check(form, GOOD)  # 3 teachers, 2 classes: a query
    assert [(f.rule, f.severity) for f in found] == [("Q1", "warning")]
    findings, still_open = explain(found, {})
    assert [f.rule for f in still_open] == ["Q1"] and findings[0].explanation is None
    explained, still_open = explain(found, {"Q1": "a part-time teacher of music"})
    assert still_open == [] and [(f.rule, f.severity) for f in explained] == [("Q1", "warning")]
    assert explained[0].explanation == "a part-time teacher of music"

"""A list of forms whose rule does not parse or type-check is refused when it is drafted or
edited (issue 9): 422 under the rule's reason code, with the form, the rule, the line and column,
and kk/ru/en messages, through the registry's API as the data office calls it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from uise_common.db import migrate
from uise_common.service import COMMON_MIGRATION, ServiceRuntime
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer
from uise_contracts.events import FormRule
from uise_contracts.examples import SCHOOL_FORM
from uise_registry.adapters import MIGRATIONS
from uise_registry.catalog import CATALOG, MON_Q, OSH_1
from uise_registry.entrypoint import SPEC

ISSUER = TokenIssuer()
AS_DATA_OFFICE = ISSUER.headers("data_office")


@pytest.fixture
def client(tmp_path):
    settings = Settings(service_name="registry", data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1")
    rt = ServiceRuntime(SPEC, settings)
    rt.authenticator = ISSUER.authenticator()
    migrate(rt.engine, [COMMON_MIGRATION, *MIGRATIONS])
    yield TestClient(rt.app(), raise_server_exceptions=False)
    rt.engine.dispose()


def with_rule(form, expr: str, **kw):
    rule = FormRule(code="NEW_RULE", expr=expr, message="new rule", message_ru="новое правило",
                    message_kk="жаңа ереже", **kw)
    return form.model_copy(update={"rules": [*form.rules, rule]})


def draft(client, forms, year=2027):
    return client.post("/v1/formlists", json={"year": year, "forms": [f.model_dump(mode="json") for f in forms]},
                       headers=AS_DATA_OFFICE)


def refused(resp) -> dict:
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert set(error["message"]) == {"kk", "ru", "en"}
    return error


def test_the_catalogue_and_the_demo_form_are_accepted_with_their_rules(client):
    resp = draft(client, [SCHOOL_FORM, *CATALOG])
    assert resp.status_code == 201, resp.text


def test_an_unknown_cell_is_refused_naming_the_form_rule_position_and_a_close_match(client):
    error = refused(draft(client, [with_rule(OSH_1, "teachers >= pupils.g01.totl")]))
    assert error["code"] == "RULE_UNKNOWN_CELL"
    (problem,) = error["rules"]
    assert (problem["form"], problem["rule"], problem["line"], problem["column"]) == ("OSH-1", "NEW_RULE", 1, 13)
    assert "did you mean pupils.g01.total?" in error["message"]["en"]
    assert error["message"]["en"].startswith("OSH-1 rule NEW_RULE, line 1, column 13:")
    assert "pupils.g01.total" in error["message"]["ru"] and "pupils.g01.total" in error["message"]["kk"]
    # nothing was drafted
    assert client.get("/v1/formlists/2027/with-drafts", headers=AS_DATA_OFFICE).json() == []


def test_a_syntax_error_is_refused_at_its_line_and_column(client):
    error = refused(draft(client, [with_rule(MON_Q, "att.g01_04.meals <=\n  att.g01_04.enrolled +* 2")]))
    assert error["code"] == "RULE_SYNTAX"
    assert (error["rules"][0]["line"], error["rules"][0]["column"]) == (2, 24)
    assert "«*»" in error["message"]["en"] and "строка 2, позиция 24" in error["message"]["ru"]


def test_text_compared_with_a_number_is_a_type_error(client):
    error = refused(draft(client, [with_rule(MON_Q, "meals_provider > 3")]))
    assert error["code"] == "RULE_TYPE"
    assert error["rules"][0]["column"] == 16
    assert "cannot compare text with a number" in error["message"]["en"]
    assert "нельзя сравнивать текст с числом" in error["message"]["ru"]


def test_every_refused_rule_is_listed_and_the_first_gives_the_code(client):
    bad_osh = with_rule(OSH_1, "sum(pupils.*.girls)")  # not a comparison
    bad_mon = with_rule(MON_Q, 'meals_provider == "canteens"')  # not an option
    error = refused(draft(client, [bad_osh, bad_mon]))
    assert error["code"] == "RULE_NOT_COMPARISON"
    assert [(p["form"], p["code"]) for p in error["rules"]] == [("OSH-1", "RULE_NOT_COMPARISON"),
                                                              ("MON-Q", "RULE_UNKNOWN_OPTION")]
    assert error["message"]["en"].endswith("(and 1 more)")
    assert 'did you mean "canteen"?' in error["rules"][1]["message"]["en"]


def test_a_rule_in_the_language_needs_its_kazakh_and_russian_messages(client):
    rule = FormRule(code="NEW_RULE", expr="teachers >= 0", message="English only")
    error = refused(draft(client, [OSH_1.model_copy(update={"rules": [rule]})]))
    assert error["code"] == "RULE_MESSAGE_MISSING"


def test_a_v1_rule_on_an_unknown_cell_is_refused_naming_its_part(client):
    rule = FormRule(code="R2", left="pupils_total", right=["pupils_girls", "pupils_boyz"], message="total")
    error = refused(draft(client, [SCHOOL_FORM.model_copy(update={"rules": [rule]})]))
    assert error["code"] == "RULE_UNKNOWN_CELL"
    assert error["rules"][0]["where"] == "right[1]" and error["rules"][0]["line"] is None
    assert "did you mean pupils_boys?" in error["message"]["en"]


def test_editing_a_draft_with_a_bad_rule_is_refused_and_the_draft_keeps_its_forms(client):
    assert draft(client, [MON_Q]).status_code == 201
    bad = with_rule(MON_Q, "sum(att.*.attendance) + ready_date >= 1")
    resp = client.put("/v1/formlists/2027/1", json={"year": 2027, "forms": [bad.model_dump(mode="json")]},
                      headers=AS_DATA_OFFICE)
    assert refused(resp)["code"] == "RULE_UNKNOWN_CELL"
    (kept,) = client.get("/v1/formlists/2027/with-drafts", headers=AS_DATA_OFFICE).json()
    assert [r["code"] for r in kept["forms"][0]["rules"]] == [r.code for r in MON_Q.rules]
    # a wildcard outside an aggregate, and arithmetic on text, are refused the same way
    for expr, code in (("att.*.meals <= 5", "RULE_WILDCARD_OUTSIDE_AGGREGATE"),
                       ("reporting_contact + 1 == 2", "RULE_TYPE")):
        resp = client.put("/v1/formlists/2027/1", json={"year": 2027,
                                                        "forms": [with_rule(MON_Q, expr).model_dump(mode="json")]},
                          headers=AS_DATA_OFFICE)
        assert refused(resp)["code"] == code

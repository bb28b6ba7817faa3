"""The catalogue forms' rule sets (issue 9): every rule stays silent on a good document and fires,
alone, on a document crafted to break it. Where the rules are tied together (the total row is
the sum of the grades, and each row splits by language), the other rules that would necessarily
fire too are kept quiet the way a real document would: by leaving their cells empty, which the
missing-value strategies skip."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from uise_common.rules import check_form, compile_form
from uise_registry.catalog import CATALOG, MON_Q, OSH_1, OTH_HEAT, example_values

D = Decimal
GRADES = [f"g{n:02d}" for n in range(12)]
OSH_COLUMNS = ("total", "girls", "kazakh", "russian", "other")


def fired(form, values) -> list[str]:
    return [f.rule for f in compile_form(form).evaluate(values)]


def changed(form_code: str, **cells) -> dict:
    """The good document with some cells replaced (`__` in a keyword stands for `.`)."""
    values = example_values(form_code)
    for key, v in cells.items():
        code = key.replace("__", ".")
        assert code in values, code
        values[code] = v
    return values


def bump(values: dict, code: str, by: int) -> dict:
    values[code] += by
    return values


def small_school() -> dict:
    """60 pupils, one class per grade: under 100 pupils GIRLS_SHARE does not apply."""
    values = example_values("OSH-1")
    totals = [4, 6, 5, 6, 5, 5, 6, 5, 5, 5, 4, 4]
    sums = dict.fromkeys(OSH_COLUMNS, 0)
    for g, t in zip(GRADES, totals, strict=True):
        parts = {"total": t, "girls": t // 2, "kazakh": t - 1, "russian": 1, "other": 0}
        for col, n in parts.items():
            values[f"pupils.{g}.{col}"] = D(n)
            sums[col] += n
        values[f"classes.{g}.count"] = D(1)
    values |= {f"pupils.total.{c}": D(n) for c, n in sums.items()}
    return values


def test_every_catalogue_form_has_at_least_ten_rules_each_with_kk_ru_en_messages():
    for form in CATALOG:
        compiled = check_form(form, require_translations=True)
        assert len(compiled.rules) >= 10, form.code
        assert all(set(r.messages) == {"kk", "ru", "en"} for r in compiled.rules)


@pytest.mark.parametrize("form", CATALOG, ids=lambda f: f.code)
def test_a_good_document_fires_no_rule(form):
    values = example_values(form.code)
    assert set(values) == {c.code for c in form.cells()}
    assert fired(form, values) == []


@pytest.mark.parametrize("form", CATALOG, ids=lambda f: f.code)
def test_the_good_document_is_within_every_plausible_range(form):
    values = example_values(form.code)
    for cell in form.cells():
        v = values[cell.code]
        if v is not None and cell.min is not None:
            assert cell.min <= v <= cell.max, cell.code


def test_every_numeric_cell_of_the_catalogue_has_a_plausible_range():
    for form in CATALOG:
        for cell in form.cells():
            if cell.type in ("integer", "decimal"):
                assert cell.min is not None and cell.max is not None and cell.min < cell.max, cell.code


# --- OSH-1 -----------------------------------------------------------------------------------


def osh_cases() -> dict[str, dict]:
    cases: dict[str, dict] = {}
    for g in GRADES:
        # one grade's split by language off by one; the total row's `other` left empty, which
        # skips the checks that would otherwise carry the difference to the total row
        v = bump(example_values("OSH-1"), f"pupils.{g}.other", 1)
        v["pupils.total.other"] = None
        cases[f"PUPILS_LANG_{g.upper()}"] = v
        # girls above the row's pupils, carried into the total row so the column still sums
        v = example_values("OSH-1")
        extra = v[f"pupils.{g}.total"] + 1 - v[f"pupils.{g}.girls"]
        v[f"pupils.{g}.girls"] += extra
        v["pupils.total.girls"] += extra
        cases[f"PUPILS_GIRLS_{g.upper()}"] = v
        cases[f"CLASSES_NEEDED_{g.upper()}"] = changed("OSH-1", **{f"classes__{g}__count": D(0)})
    v = example_values("OSH-1")
    for g in GRADES:
        v[f"pupils.{g}.kazakh"] = None  # no grade split given: only the total row's split is checked
    cases["PUPILS_LANG_TOTAL"] = bump(v, "pupils.total.kazakh", 1)
    cases["PUPILS_GIRLS_TOTAL"] = small = small_school()
    for g in GRADES:
        small[f"pupils.{g}.girls"] = None
    small["pupils.total.girls"] = small["pupils.total.total"] + 1
    for col in OSH_COLUMNS:
        v = bump(example_values("OSH-1"), f"pupils.total.{col}", 1)
        if col != "girls":  # the total row's language split would break too: leave one part empty
            v["pupils.total." + ("other" if col != "other" else "russian")] = None
        cases[f"PUPILS_SUM_{col.upper()}"] = v
    cases["CLASS_SIZE"] = changed("OSH-1", **{f"classes__{g}__count": D(1) for g in GRADES})
    cases["TEACHERS_BY_CATEGORY"] = changed("OSH-1", teachers=D(37))
    cases["STAFF_WOMEN"] = changed("OSH-1", staff__teacher__women=D(17))
    cases["STAFF_HIGHER"] = changed("OSH-1", staff__teacher__higher=D(14))
    v = changed("OSH-1", teachers=D(0))
    for row in ("master", "researcher", "expert", "moderator", "teacher"):
        v |= {f"staff.{row}.{c}": None for c in ("total", "women", "higher")}
    cases["TEACHERS_PRESENT"] = v
    cases["BOARDERS_NONE"] = changed("OSH-1", boarders=D(5))
    cases["BOARDERS_GIVEN"] = changed("OSH-1", boarding="yes")
    cases["BOARDERS_LE_PUPILS"] = changed("OSH-1", boarding="yes", boarders=D(600))
    cases["CAPACITY_USE"] = changed("OSH-1", capacity=D(500))
    v = changed("OSH-1", teachers=D(20))
    for row, (t, w, h) in {"master": (2, 2, 2), "researcher": (4, 3, 4), "expert": (4, 3, 4),
                           "moderator": (5, 4, 5), "teacher": (5, 4, 5)}.items():
        v |= {f"staff.{row}.total": D(t), f"staff.{row}.women": D(w), f"staff.{row}.higher": D(h)}
    cases["PUPILS_PER_TEACHER"] = v
    v = example_values("OSH-1")
    for g in GRADES:
        v[f"pupils.{g}.girls"] = v[f"pupils.{g}.total"] // 4
    v["pupils.total.girls"] = sum(v[f"pupils.{g}.girls"] for g in GRADES)
    cases["GIRLS_SHARE"] = v
    return cases


def mon_cases() -> dict[str, dict]:
    cases: dict[str, dict] = {}
    for g in ("g01_04", "g05_09", "g10_11"):
        v = example_values("MON-Q")
        cases[f"MEALS_LE_ENROLLED_{g.upper()}"] = bump(v, f"att.{g}.meals", int(v[f"att.{g}.enrolled"] - v[f"att.{g}.meals"]) + 1)
        cases[f"ATTENDANCE_GIVEN_{g.upper()}"] = changed("MON-Q", **{f"att__{g}__attendance": None})
        cases[f"MISSED_BY_REASON_{g.upper()}"] = bump(example_values("MON-Q"), f"att.{g}.missed", 1)
        cases[f"ATTENDANCE_VS_MISSED_{g.upper()}"] = changed("MON-Q", **{f"att__{g}__attendance": D("80.0")})
    cases["MEALS_PRIMARY_ALL"] = changed("MON-Q", att__g01_04__meals=D(199))
    cases["MEALS_NONE"] = changed("MON-Q", meals_provider="none")
    cases["ENROLLED_ANY"] = changed("MON-Q", **{f"att__{g}__{c}": D(0) for g in ("g01_04", "g05_09", "g10_11")
                                                for c in ("enrolled", "meals")})
    # every group below 75 %, the days missed agreeing; no breakdown by reason given
    v = changed("MON-Q", att__g01_04__attendance=D("76"), att__g01_04__missed=D(2160),
                att__g05_09__attendance=D("76"), att__g05_09__missed=D(2484),
                att__g10_11__attendance=D("74"), att__g10_11__missed=D(702))
    cases["ATTENDANCE_LOW"] = v | {f"reasons.{g}.{c}": None for g in ("g01_04", "g05_09", "g10_11")
                                   for c in ("illness", "excused", "unexcused")}
    cases["ATTENDANCE_SPREAD"] = changed("MON-Q", att__g10_11__attendance=D("78"), att__g10_11__missed=D(594),
                                         reasons__g10_11__illness=None, reasons__g10_11__excused=None,
                                         reasons__g10_11__unexcused=None)
    cases["UNEXCUSED_SHARE"] = changed("MON-Q", reasons__g05_09__illness=D(400), reasons__g05_09__excused=D(0),
                                       reasons__g05_09__unexcused=D(428))
    return cases


def heat_cases() -> dict[str, dict]:
    no_fuel = {f"fuel__{r}__{c}": None for r in ("coal", "fuel_oil", "firewood") for c in ("need", "stock")}
    return {
        "PRESSURE_TEST_GIVEN": changed("OTH-HEAT", pressure_test_date=None),
        "PRESSURE_BEFORE_READY": changed("OTH-HEAT", pressure_test_date=date(2026, 9, 2)),
        "READY_DATE_PLAUSIBLE": changed("OTH-HEAT", ready_date=date(2019, 9, 1), pressure_test_date=date(2019, 8, 20)),
        "PASSPORT_FOR_READY": changed("OTH-HEAT", passport_date=None),
        "ISSUES_NAMED": changed("OTH-HEAT", readiness="partly"),
        "BOILER_CAPACITY_GIVEN": changed("OTH-HEAT", boiler_capacity_kw=None),
        "BOILER_ONLY_OWN": changed("OTH-HEAT", heating_type="central", **no_fuel),
        "BOILER_CAPACITY_FOR_AREA": changed("OTH-HEAT", boiler_capacity_kw=D(50)),
        "FUEL_NONE_WITHOUT_FIRE": changed("OTH-HEAT", heating_type="central", boiler_capacity_kw=None),
        "FUEL_FOR_STOVES": changed("OTH-HEAT", heating_type="stove", boiler_capacity_kw=None, **no_fuel),
        "FUEL_NEED_FOR_AREA": changed("OTH-HEAT", fuel__coal__need=D(200), fuel__coal__stock=D(210)),
        "FUEL_STOCK_COAL": changed("OTH-HEAT", fuel__coal__stock=D(100)),
        "FUEL_STOCK_FUEL_OIL": changed("OTH-HEAT", fuel__fuel_oil__need=D(10)),
        "FUEL_STOCK_FIREWOOD": changed("OTH-HEAT", fuel__firewood__need=D(5), fuel__firewood__stock=D("2.5")),
    }


CASES = {OSH_1.code: osh_cases(), MON_Q.code: mon_cases(), OTH_HEAT.code: heat_cases()}


@pytest.mark.parametrize("form", CATALOG, ids=lambda f: f.code)
def test_every_rule_of_the_form_has_a_crafted_bad_document(form):
    assert set(CASES[form.code]) == {r.code for r in form.rules}


@pytest.mark.parametrize(("form", "rule"), [(f, code) for f in CATALOG for code in CASES[f.code]],
                         ids=lambda x: getattr(x, "code", x))
def test_a_document_crafted_to_break_a_rule_fires_exactly_that_rule(form, rule):
    findings = compile_form(form).evaluate(CASES[form.code][rule])
    assert [f.rule for f in findings] == [rule]
    (finding,) = findings
    assert finding.severity == next(r.severity for r in form.rules if r.code == rule)
    assert set(finding.messages) == {"kk", "ru", "en"} and finding.cells and finding.expected
    assert all(c in finding.observed for c in finding.cells)


def test_the_catalogue_rules_cover_every_construct_and_both_severities():
    exprs = [r.expr or "" for f in CATALOG for r in f.rules]
    rules = [r for f in CATALOG for r in f.rules]
    assert any(r.left and not r.expr for r in rules)  # v1 rules, judged by the same engine
    assert any("sum(pupils.g*." in e for e in exprs)  # a sum over rows
    assert any(".*)" in e and "sum(reasons.g" in e for e in exprs)  # a sum over a row's columns
    assert any(e.startswith("if ") for e in exprs) and any("if(" in e for e in exprs)
    assert any(" and " in e or " or " in e for e in exprs) and any("not (" in e for e in exprs)
    assert any("<=" in e and e.count(".") >= 4 and "(" not in e for e in exprs)  # a range between cells
    assert any("sum(staff.*.total)" in e and e.startswith("teachers") for e in exprs)  # cross-section
    for fn in ("min(", "max(", "abs(", "round(", "count(", "date("):
        assert any(fn in e for e in exprs), fn
    for strategy in ("skip_if_any_missing", "skip_if_all_missing", "never_skip"):
        assert any(strategy in (r.missing_left, r.missing_right) for r in rules), strategy
    assert {r.severity for r in rules} == {"error", "warning"}


def test_a_finding_shows_the_two_sides_with_their_values():
    (finding,) = compile_form(OSH_1).evaluate(CASES["OSH-1"]["PUPILS_LANG_G05"])
    assert finding.message.endswith(": 47 ≠ 35 + 11 + 2")
    assert finding.messages["ru"].startswith("5 класс: всего учащихся равно сумме")
    assert finding.observed["pupils.g05.other"] == "2" and finding.field == "pupils.g05.total"
    (finding,) = compile_form(MON_Q).evaluate(CASES["MON-Q"]["MISSED_BY_REASON_G01_04"])
    assert finding.messages["en"].endswith(": 541 ≠ 540")
    assert finding.expected == "att.g01_04.missed == sum(reasons.g01_04.*)"
    assert finding.cells == ["att.g01_04.missed", "reasons.g01_04.illness", "reasons.g01_04.excused",
                             "reasons.g01_04.unexcused"]
    (finding,) = compile_form(OTH_HEAT).evaluate(CASES["OTH-HEAT"]["PRESSURE_BEFORE_READY"])
    assert finding.messages["kk"].endswith(": 2026-09-02 > 2026-09-01")

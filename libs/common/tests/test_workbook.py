"""The XLSX template of a form: what the registry writes, validation reads back exactly."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta

import openpyxl
import pytest

from uise_common.spreadsheets import set_value
from uise_common.workbook import (
    BIN_CODE,
    FORM_SHEET,
    MAP_SHEET,
    PERIOD_CODE,
    WorkbookError,
    build_template,
    read_workbook,
)
from uise_contracts.events import FieldType, FormDefinition, FormField
from uise_contracts.examples import SCHOOL_FORM


def all_forms() -> list[FormDefinition]:
    # The catalog lives in the registry; importing it inside the test keeps these tests honest
    # about the real forms without making uise_common depend on a service.
    from uise_registry.catalog import CATALOG

    return [*CATALOG, SCHOOL_FORM]


FORMS = all_forms()
IDS = [f.code for f in FORMS]


def input_cells(wb) -> dict[str, tuple[str, str, str]]:
    """code -> (sheet, coordinate, type), as a user's tool would find them: from the map."""
    rows = list(wb[MAP_SHEET].iter_rows(min_row=5, max_col=4, values_only=True))
    return {code: (sheet, coord, f_type) for code, sheet, coord, f_type in rows if code}


def sample(cell: FormField, i: int):
    """A distinct, exactly representable value of the cell's type."""
    if cell.type == FieldType.integer:
        return i * 7 + 1
    if cell.type == FieldType.decimal:
        return float(f"{i + 90}.35")
    if cell.type == FieldType.enumeration:
        return cell.options[i % len(cell.options)]
    if cell.type == FieldType.date:
        return date(2026, 9, 1) + timedelta(days=i)
    return f"Қазақша мәтін №{i} — текст по-русски"


def fill(template: bytes, values: dict[str, object]) -> bytes:
    """Type values into the inputs, as Excel stores them: text as text, even text starting
    with '=' when picked from a list (openpyxl alone would store that as a formula)."""
    wb = openpyxl.load_workbook(io.BytesIO(template))
    cells = input_cells(wb)
    for code, value in values.items():
        sheet, coord, _ = cells[code]
        set_value(wb[sheet][coord], value, neutralised=False)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def refused(data: bytes, **kw) -> str:
    with pytest.raises(WorkbookError) as exc:
        read_workbook(data, **kw)
    return exc.value.code


@pytest.mark.parametrize("form", FORMS, ids=IDS)
def test_every_input_round_trips_exactly(form):
    entered = {c.code: sample(c, i) for i, c in enumerate(form.cells())}
    data = fill(build_template(form), {**entered, BIN_CODE: "220440000013", PERIOD_CODE: "2026-Q3"})
    back = read_workbook(data)
    assert (back.form_code, back.form_version) == (form.code, form.version)
    assert (back.participant_bin, back.period) == ("220440000013", "2026-Q3")
    assert back.values == entered
    for c in form.cells():  # equal is not enough: 5 == 5.0, and validation cares about the type
        assert type(back.values[c.code]) is type(entered[c.code]), c.code


@pytest.mark.parametrize("form", FORMS, ids=IDS)
def test_an_empty_template_reads_back_all_none(form):
    back = read_workbook(build_template(form))
    assert back.values == {c.code: None for c in form.cells()}
    assert back.participant_bin is None and back.period is None


def test_prefilled_header_round_trips():
    back = read_workbook(build_template(SCHOOL_FORM, participant_bin="020440000013", period="2026"))
    assert (back.participant_bin, back.period) == ("020440000013", "2026")


@pytest.mark.parametrize("form", FORMS, ids=IDS)
def test_structure_is_protected_and_inputs_are_open_and_validated(form):
    wb = openpyxl.load_workbook(io.BytesIO(build_template(form)))
    ws = wb[FORM_SHEET]
    assert wb.sheetnames == [FORM_SHEET, MAP_SHEET]
    assert wb[MAP_SHEET].sheet_state == "veryHidden"
    assert ws.protection.sheet and not ws.protection.password
    cells = input_cells(wb)
    assert set(cells) == {c.code for c in form.cells()} | {BIN_CODE, PERIOD_CODE}
    inputs = {coord for sheet, coord, _ in cells.values() if sheet == FORM_SHEET}
    for row in ws.iter_rows():
        for cell in row:
            assert cell.protection.locked is (cell.coordinate not in inputs), cell.coordinate
    kinds = {"integer": "whole", "decimal": "decimal", "enumeration": "list", "date": "date", "text": "textLength"}
    validations = ws.data_validations.dataValidation
    for code, (_, coord, f_type) in cells.items():
        covering = [dv for dv in validations if coord in dv.sqref]
        assert len(covering) == 1, code
        assert covering[0].type == kinds[f_type] and covering[0].showErrorMessage, code
        assert covering[0].error and covering[0].errorTitle, code


def test_enumeration_lists_offer_the_options():
    from uise_registry.catalog import OTH_HEAT

    wb = openpyxl.load_workbook(io.BytesIO(build_template(OTH_HEAT)))
    coord = input_cells(wb)["heating_type"][1]
    dv = next(dv for dv in wb[FORM_SHEET].data_validations.dataValidation if coord in dv.sqref)
    assert dv.formula1 == '"central,own boiler,electric,stove"'


def test_long_or_comma_options_are_listed_on_the_map_sheet():
    form = SCHOOL_FORM.model_copy(update={"fields": [FormField(
        code="kind", title="Kind", type=FieldType.enumeration, aggregate="none",
        options=["общеобразовательная, с пришкольным интернатом", "малокомплектная"])]})
    data = build_template(form)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    dv = next(dv for dv in wb[FORM_SHEET].data_validations.dataValidation if dv.type == "list")
    assert dv.formula1.startswith(f"'{MAP_SHEET}'!")
    filled = fill(data, {"kind": "малокомплектная"})
    assert read_workbook(filled).values == {"kind": "малокомплектная"}


def test_what_users_type_is_normalised_but_never_invented():
    from uise_registry.catalog import OTH_HEAT

    data = fill(build_template(SCHOOL_FORM), {
        "pupils_total": 810.0,        # Excel stores every number as a float
        "pupils_girls": 412.5,        # not a whole number: passed on for validation to reject
        "pupils_boys": "много",       # text pasted over the validation: passed on as text
        "classes": None,
        "teachers": "  ",
        "comment": "  Мектеп жөнделуде  ",
        BIN_CODE: 20440000013,        # a BIN pasted as a number loses its leading zero
    })
    back = read_workbook(data)
    assert back.values == {"pupils_total": 810, "pupils_girls": 412.5, "pupils_boys": "много",
                           "classes": None, "teachers": None, "comment": "Мектеп жөнделуде"}
    assert type(back.values["pupils_total"]) is int
    assert back.participant_bin == "020440000013"

    template = build_template(OTH_HEAT)
    wb = openpyxl.load_workbook(io.BytesIO(template))
    coords = {code: coord for code, (_, coord, _) in input_cells(wb).items()}
    ws = wb[FORM_SHEET]
    ws[coords["ready_date"]] = 46266  # a date whose cell format was reset to General
    ws[coords["ready_date"]].number_format = "General"
    ws[coords["boiler_capacity_kw"]] = 250
    out = io.BytesIO()
    wb.save(out)
    back = read_workbook(out.getvalue())
    assert back.values["ready_date"] == date(2026, 9, 1)
    assert back.values["boiler_capacity_kw"] == 250.0 and type(back.values["boiler_capacity_kw"]) is float


def test_a_non_zip_is_refused():
    assert refused(b"field,value\npupils_total,1\n") == "XLSX_NOT_A_ZIP"
    assert refused(b"PK\x03\x04 truncated") == "XLSX_NOT_A_ZIP"


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("xl/worksheets/sheet1.xml", "w") as fh:
        block = b"\0" * (1024 * 1024)
        for _ in range(60):
            fh.write(block)
    assert len(buf.getvalue()) < 1024 * 1024
    assert refused(buf.getvalue()) in {"XLSX_RATIO", "XLSX_TOO_LARGE"}


def test_a_small_bomb_is_caught_by_its_ratio():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/sharedStrings.xml", b"a" * (8 * 1024 * 1024))
    assert refused(buf.getvalue()) == "XLSX_RATIO"
    assert refused(build_template(SCHOOL_FORM), max_uncompressed=1000) == "XLSX_TOO_LARGE"


def test_a_workbook_not_made_from_a_template_is_refused():
    wb = openpyxl.Workbook()
    wb.active["A1"] = "pupils_total"
    wb.active["B1"] = 810
    out = io.BytesIO()
    wb.save(out)
    assert refused(out.getvalue()) == "XLSX_NO_MAP"


def test_a_damaged_map_is_refused():
    for damage in (lambda wb: wb[MAP_SHEET].__setitem__("B3", 99),
                   lambda wb: setattr(wb[FORM_SHEET], "title", "Лист1"),
                   lambda wb: wb[MAP_SHEET].__setitem__("C6", "not a cell")):
        wb = openpyxl.load_workbook(io.BytesIO(build_template(SCHOOL_FORM)))
        damage(wb)
        out = io.BytesIO()
        wb.save(out)
        assert refused(out.getvalue()) == "XLSX_MAP_INVALID"


def rewrite_part(data: bytes, name: str, change) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            dst.writestr(info.filename, change(body) if info.filename == name else body)
    return out.getvalue()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_xml_with_entity_declarations_is_refused(encoding):
    def add_doctype(body: bytes) -> bytes:
        text = body.decode("utf-8")
        if text.startswith("<?xml"):
            text = text[text.index("?>") + 2:]
        text = text.replace("<sheetData>", "<sheetData><row r='99'><c r='A99' t='inlineStr'><is><t>&x;</t></is></c></row>", 1)
        decl = f'<?xml version="1.0" encoding="{encoding}"?>'
        return (decl + '<!DOCTYPE worksheet [<!ENTITY x "boom">]>' + text).encode(encoding)

    data = rewrite_part(build_template(SCHOOL_FORM), "xl/worksheets/sheet1.xml", add_doctype)
    assert refused(data) == "XLSX_XML_ENTITIES"


# --- nothing written is a formula (issue 7) ---------------------------------------------------

HOSTILE = ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "\tTAB", "=HYPERLINK(\"http://x\",\"y\")"]


def cells_of(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    yield ws.title, cell


def test_hostile_titles_units_and_options_are_text_and_options_come_back_exactly():
    options = [*HOSTILE, "общеобразовательная, с интернатом"]  # the comma puts the list on the map sheet
    form = SCHOOL_FORM.model_copy(update={
        "title_kk": HOSTILE[0], "title_ru": HOSTILE[1],
        "fields": [FormField(code="kind", title=HOSTILE[3], unit=HOSTILE[2], type=FieldType.enumeration,
                             aggregate="none", options=options),
                   FormField(code="pupils", title=HOSTILE[5], unit="@", type=FieldType.integer)]})
    data = build_template(form)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    seen = 0
    for sheet, cell in cells_of(wb):
        assert cell.data_type != "f", (sheet, cell.coordinate, cell.value)
        if isinstance(cell.value, str):
            assert cell.data_type == "s", (sheet, cell.coordinate)
            if sheet == FORM_SHEET:  # what people read is neutralised
                assert not cell.value.startswith(("=", "+", "-", "@", "\t")), (cell.coordinate, cell.value)
            seen += any(h in cell.value for h in HOSTILE)
    assert seen >= len(HOSTILE)  # the hostile texts are there, as text
    # the option lists on the map sheet are exact: what a user picks reads back as it was offered
    listed = [c.value for s, c in cells_of(wb) if s == MAP_SHEET and c.column == 7]
    assert listed == options
    for option in options:
        assert read_workbook(fill(data, {"kind": option, "pupils": 5})).values["kind"] == option.strip()


@pytest.mark.parametrize("bad", [dict(participant_bin="=cmd|' /C calc'!A0"), dict(participant_bin="12345678901\n"),
                                 dict(participant_bin="١٢٣٤٥٦٧٨٩٠١٢"), dict(period="=1+1"), dict(period="2026\n"),
                                 dict(period="٢٠٢٦"), dict(period="9999")])
def test_header_values_entered_in_advance_must_be_canonical(bad):
    with pytest.raises(ValueError):
        build_template(SCHOOL_FORM, **bad)


def test_header_values_entered_in_advance_are_string_cells():
    wb = openpyxl.load_workbook(io.BytesIO(build_template(SCHOOL_FORM, participant_bin="020440000013",
                                                           period="2026-Q3")))
    where = input_cells(wb)
    for code, expected in ((BIN_CODE, "020440000013"), (PERIOD_CODE, "2026-Q3")):
        cell = wb[FORM_SHEET][where[code][1]]
        assert (cell.value, cell.data_type) == (expected, "s")

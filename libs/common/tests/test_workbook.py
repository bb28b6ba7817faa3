"""The XLSX template of a form: what the registry writes, validation reads back exactly, from
where the form's layout puts each cell and nowhere else, at a cost bounded by the form."""

from __future__ import annotations

import io
import re
import time
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
    RawCell,
    WorkbookError,
    build_template,
    layout,
    read_workbook,
)
from uise_contracts.events import FieldType, FormDefinition, FormField
from uise_contracts.examples import SCHOOL_FORM

FORM_PART, MAP_PART = "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"


def all_forms() -> list[FormDefinition]:
    # The catalog lives in the registry; importing it inside the test keeps these tests honest
    # about the real forms without making uise_common depend on a service.
    from uise_registry.catalog import CATALOG

    return [*CATALOG, SCHOOL_FORM]


FORMS = all_forms()
IDS = [f.code for f in FORMS]


def map_of(wb) -> dict[str, tuple[str, str, str]]:
    """code -> (sheet, coordinate, type), as a user's tool would find them: from the map."""
    rows = list(wb[MAP_SHEET].iter_rows(min_row=5, max_col=4, values_only=True))
    return {code: (sheet, coord, f_type) for code, sheet, coord, f_type in rows if code}


def sample(cell: FormField, i: int):
    """A distinct value of the cell's type, as Excel would store it."""
    if cell.type == FieldType.integer:
        return i * 7 + 1
    if cell.type == FieldType.decimal:
        return float(f"{i + 90}.35")
    if cell.type == FieldType.enumeration:
        return cell.options[i % len(cell.options)]
    if cell.type == FieldType.date:
        return date(2026, 9, 1) + timedelta(days=i)
    return f"Қазақша мәтін №{i} — текст по-русски"


def fill(template: bytes, form: FormDefinition, values: dict[str, object]) -> bytes:
    """Type values into the inputs where the layout puts them, as Excel stores them: text as
    text, even text starting with '=' when picked from a list."""
    wb = openpyxl.load_workbook(io.BytesIO(template))
    place = layout(form)
    for code, value in values.items():
        p = place.placement(code)
        set_value(wb[p.sheet][p.coordinate], value, neutralised=False)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def refused(data: bytes, form: FormDefinition | None = SCHOOL_FORM, **kw) -> WorkbookError:
    with pytest.raises(WorkbookError) as exc:
        read_workbook(data, form, **kw)
    return exc.value


def rewrite_part(data: bytes, name: str, change, extra: dict[str, bytes] | None = None) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            dst.writestr(info.filename, change(body) if info.filename == name else body)
        for n, body in (extra or {}).items():
            dst.writestr(n, body)
    return out.getvalue()


def set_cell_xml(data: bytes, part: str, ref: str, xml: str) -> bytes:
    """Replace the <c> of `ref` in `part` by `xml` (as a hostile tool would write it)."""
    def change(body: bytes) -> bytes:
        text = body.decode()
        pattern = re.compile(rf'<c r="{ref}"(?:[^>]*/>|[^>]*>.*?</c>)')
        assert pattern.search(text), ref
        return pattern.sub(lambda _m: xml, text, count=1).encode()
    return rewrite_part(data, part, change)


def add_rows(data: bytes, part: str, rows_xml: str) -> bytes:
    return rewrite_part(data, part, lambda b: b.replace(b"</sheetData>", rows_xml.encode() + b"</sheetData>", 1))


# --- the layout: one source of truth for the builder and the reader --------------------------


@pytest.mark.parametrize("form", FORMS, ids=IDS)
def test_the_builder_writes_every_cell_where_the_layout_says(form):
    place = layout(form)
    wb = openpyxl.load_workbook(io.BytesIO(build_template(form)))
    # the map the template carries is the layout, row for row
    rows = [tuple(r) for r in wb[MAP_SHEET].iter_rows(max_col=4, values_only=True)]
    assert [r[:len(e)] for r, e in zip(rows, place.map_rows(), strict=False)] == place.map_rows()
    # each input is an unlocked, formatted cell at the layout's place
    ws = wb[FORM_SHEET]
    formats = {"integer": "0", "decimal": "General", "date": "DD.MM.YYYY", "text": "@", "enumeration": "@"}
    for p in place.inputs:
        cell = ws[p.coordinate]
        assert cell.protection.locked is False, p.code
        assert cell.number_format == formats[p.type.value], p.code
    # the used range of every sheet is what the reader will allow, exactly
    for name, (rows_, cols) in place.bounds().items():
        assert wb[name].max_row == rows_ and wb[name].max_column == cols, name


@pytest.mark.parametrize("form", FORMS, ids=IDS)
def test_every_input_round_trips_as_stored(form):
    entered = {c.code: sample(c, i) for i, c in enumerate(form.cells())}
    data = fill(build_template(form), form, {**entered, BIN_CODE: "220440000013", PERIOD_CODE: "2026-Q3"})
    back = read_workbook(data, form)
    assert (back.form_code, back.form_version, back.matches_form) == (form.code, form.version, True)
    assert (back.participant_bin, back.period) == ("220440000013", "2026-Q3")
    assert back.formulas == []
    epoch = date(1899, 12, 30)
    for c in form.cells():
        v, got = entered[c.code], back.values[c.code]
        if isinstance(v, date):
            assert got == RawCell("number", str((v - epoch).days)), c.code
        elif isinstance(v, str):
            assert got == RawCell("text", v), c.code
        else:  # the <v> text a spreadsheet wrote, not a float: validation reads it exactly
            assert got.kind == "number" and float(got.text) == v, c.code
    assert back.where == {p.code: p.ref for p in layout(form).inputs}
    assert back.cells_scanned <= sum(r * c for r, c in layout(form).bounds().values())


@pytest.mark.parametrize("form", FORMS, ids=IDS)
def test_an_empty_template_reads_back_all_none(form):
    back = read_workbook(build_template(form), form)
    assert back.values == {c.code: None for c in form.cells()}
    assert back.participant_bin is None and back.period is None


def test_without_a_form_only_the_header_is_read():
    back = read_workbook(build_template(SCHOOL_FORM, participant_bin="020440000013", period="2026"))
    assert (back.form_code, back.form_version, back.participant_bin, back.period) == ("SCH-1", 1, "020440000013", "2026")
    assert back.values == {}


def test_another_forms_workbook_is_named_not_read():
    from uise_registry.catalog import OTH_HEAT

    back = read_workbook(build_template(OTH_HEAT, period="2026"), SCHOOL_FORM)
    assert (back.form_code, back.matches_form, back.values, back.period) == ("OTH-HEAT", False, {}, "2026")


def test_a_template_of_another_version_reads_when_its_layout_is_the_same_and_is_refused_otherwise():
    old = SCHOOL_FORM.model_copy(update={"version": 1})
    same_layout = SCHOOL_FORM.model_copy(update={"version": 2})
    back = read_workbook(fill(build_template(old), old, {"teachers": 3}), same_layout)
    assert back.form_version == 1 and back.values["teachers"] == RawCell("number", "3")
    grown = SCHOOL_FORM.model_copy(update={"version": 2, "fields": [
        FormField(code="school_name", title="Name", type=FieldType.text), *SCHOOL_FORM.fields]})
    assert refused(build_template(old), grown).code == "XLSX_TEMPLATE_MISMATCH"


def test_a_number_comes_back_as_the_text_the_cell_stores():
    data = build_template(SCHOOL_FORM)
    where = layout(SCHOOL_FORM).placement
    for text in ("0.1", "1E999", "9" * 4000, "-0", "1.5E-5"):
        hostile = set_cell_xml(data, FORM_PART, where("teachers").coordinate,
                               f'<c r="{where("teachers").coordinate}"><v>{text}</v></c>')
        assert read_workbook(hostile, SCHOOL_FORM).values["teachers"] == RawCell("number", text)


def test_strings_inline_and_shared_booleans_errors_and_iso_dates_are_told_apart():
    data = build_template(SCHOOL_FORM)
    c = {code: layout(SCHOOL_FORM).placement(code).coordinate for code in ("comment", "classes", "teachers", "pupils_boys")}
    data = set_cell_xml(data, FORM_PART, c["comment"],
                        f'<c r="{c["comment"]}" t="inlineStr"><is><r><t>Мек</t></r><r><t>теп</t></r>'
                        f'<rPh sb="0" eb="1"><t>ignored</t></rPh></is></c>')
    data = set_cell_xml(data, FORM_PART, c["classes"], f'<c r="{c["classes"]}" t="b"><v>1</v></c>')
    data = set_cell_xml(data, FORM_PART, c["teachers"], f'<c r="{c["teachers"]}" t="e"><v>#N/A</v></c>')
    data = set_cell_xml(data, FORM_PART, c["pupils_boys"], f'<c r="{c["pupils_boys"]}" t="d"><v>2026-09-01T00:00:00</v></c>')
    back = read_workbook(data, SCHOOL_FORM).values
    assert back["comment"] == RawCell("text", "Мектеп")
    assert back["classes"] == RawCell("bool", "1")
    assert back["teachers"] == RawCell("error", "#N/A")
    assert back["pupils_boys"] == RawCell("date", "2026-09-01T00:00:00")
    # shared strings (what Excel and openpyxl write on save) resolve to their text
    shared = fill(build_template(SCHOOL_FORM), SCHOOL_FORM, {"comment": "  Мектеп жөнделуде  "})
    assert read_workbook(shared, SCHOOL_FORM).values["comment"] == RawCell("text", "  Мектеп жөнделуде  ")


def test_a_bin_pasted_as_a_number_keeps_its_leading_zero():
    data = fill(build_template(SCHOOL_FORM), SCHOOL_FORM, {BIN_CODE: 20440000013, PERIOD_CODE: 2026})
    back = read_workbook(data, SCHOOL_FORM)
    assert (back.participant_bin, back.period) == ("020440000013", "2026")


# --- never where the upload's map points; a cost bounded by the form ---------------------------


def point_map_at(data: bytes, code: str, coordinate: str) -> bytes:
    """Rewrite the map row of `code` to point at `coordinate` (the 7 KB attack of issue 9)."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    for row in wb[MAP_SHEET].iter_rows(min_row=5, max_col=3):
        if row[0].value == code:
            row[2].value = coordinate
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.mark.parametrize("far", ["XFD20000", "XFD1048576"])
def test_a_map_pointing_far_away_is_refused_in_milliseconds(far):
    data = point_map_at(fill(build_template(SCHOOL_FORM), SCHOOL_FORM, {"teachers": 3}), "teachers", far)
    # an empty row element that far down made the old reader pad every row to column XFD
    data = add_rows(data, FORM_PART, f'<row r="{far[3:]}"/>')
    assert len(data) < 12_000
    started = time.perf_counter()
    err = refused(data)
    elapsed = time.perf_counter() - started
    assert err.code == "XLSX_MAP_INVALID" and err.cell.startswith(f"{MAP_SHEET}!A")
    assert elapsed < 0.5, elapsed  # the old reader: 54 s for XFD20000 on this machine, linear in the row


def test_a_map_swapping_two_cells_is_refused_not_followed():
    place = layout(SCHOOL_FORM)
    data = fill(build_template(SCHOOL_FORM), SCHOOL_FORM, {"teachers": 3, "classes": 40})
    data = point_map_at(data, "teachers", place.placement("classes").coordinate)
    data = point_map_at(data, "classes", place.placement("teachers").coordinate)
    assert refused(data).code == "XLSX_MAP_INVALID"


@pytest.mark.parametrize("far", ["XFD20000", "XFD1048576", "D17", "C18"])
def test_a_cell_beyond_the_templates_used_range_is_refused_by_its_address(far):
    row = re.sub(r"[A-Z]+", "", far)
    data = add_rows(build_template(SCHOOL_FORM), FORM_PART, f'<row r="{row}"><c r="{far}"><v>1</v></c></row>')
    started = time.perf_counter()
    err = refused(data)
    assert (err.code, err.cell) == ("XLSX_RANGE_EXCEEDED", f"{FORM_SHEET}!{far}")
    assert time.perf_counter() - started < 0.5


def test_a_declared_used_range_beyond_the_template_is_refused():
    data = rewrite_part(build_template(SCHOOL_FORM), FORM_PART,
                        lambda b: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD20000"', b))
    assert refused(data).code == "XLSX_RANGE_EXCEEDED"


def test_an_added_sheet_may_hold_nothing():
    wb = openpyxl.load_workbook(io.BytesIO(build_template(SCHOOL_FORM)))
    wb.security = None
    extra = wb.create_sheet("Лист1")
    out = io.BytesIO()
    wb.save(out)
    assert read_workbook(out.getvalue(), SCHOOL_FORM).values["teachers"] is None
    extra["A1"] = 5
    out = io.BytesIO()
    wb.save(out)
    err = refused(out.getvalue())
    assert (err.code, err.cell) == ("XLSX_RANGE_EXCEEDED", "Лист1!A1")


def test_a_sheet_padded_with_elements_is_refused_by_its_budget():
    padding = "<row r=\"17\"/>" * 50_000  # all inside the used range, none a cell
    data = add_rows(build_template(SCHOOL_FORM), FORM_PART, padding)
    started = time.perf_counter()
    assert refused(data).code == "XLSX_RANGE_EXCEEDED"
    assert time.perf_counter() - started < 2


def test_a_cell_given_twice_is_refused():
    coord = layout(SCHOOL_FORM).placement("teachers").coordinate
    row = coord[1:]
    data = add_rows(build_template(SCHOOL_FORM), FORM_PART, f'<row r="{row}"><c r="{coord}"><v>9</v></c></row>')
    assert refused(data).code == "XLSX_UNREADABLE"


# --- formulas, links, network ---------------------------------------------------------------


def test_a_formula_in_an_input_is_listed_whatever_its_cached_value_says():
    place = layout(SCHOOL_FORM)
    coord = place.placement("teachers").coordinate
    # a cached value that lies: the formula computes 2, the file says 55
    data = set_cell_xml(build_template(SCHOOL_FORM), FORM_PART, coord, f'<c r="{coord}"><f>1+1</f><v>55</v></c>')
    back = read_workbook(data, SCHOOL_FORM)
    assert back.formulas == ["teachers"] and "teachers" not in back.values
    # a shared formula's dependent has no text of its own and is a formula all the same
    data = set_cell_xml(build_template(SCHOOL_FORM), FORM_PART, coord,
                        f'<c r="{coord}"><f t="shared" si="0"/><v>55</v></c>')
    assert read_workbook(data, SCHOOL_FORM).formulas == ["teachers"]


@pytest.mark.parametrize("formula", ['_xlfn.WEBSERVICE("http://10.0.0.1/x")', 'FILTERXML(A1,"//a")',
                                     'HYPERLINK("\\\\server\\share\\x","x")', "_xlfn.IMAGE(\"https://x/y.png\")",
                                     'RTD("srv",,"x")'])
def test_a_network_function_anywhere_is_refused(formula):
    # in a label cell, not an input: "anywhere in the workbook"
    data = set_cell_xml(build_template(SCHOOL_FORM), FORM_PART, "A4",
                        f'<c r="A4" t="str"><f>{formula.replace("&", "&amp;").replace("<", "&lt;")}</f><v>x</v></c>')
    assert refused(data).code == "XLSX_NETWORK_FUNCTION"


@pytest.mark.parametrize("formula", ["[1]Sheet1!A1", "'\\\\nas\\share\\[book.xlsx]S'!A1", "cmd|' /C calc'!A0"])
def test_a_formula_referring_to_another_file_is_refused(formula):
    data = set_cell_xml(build_template(SCHOOL_FORM), FORM_PART, "A4",
                        f'<c r="A4"><f>{formula.replace("&", "&amp;")}</f><v>1</v></c>')
    assert refused(data).code == "XLSX_EXTERNAL_LINK"


def test_a_defined_name_calling_the_network_is_refused():
    def add_name(body: bytes) -> bytes:
        name = b'<definedNames><definedName name="x">WEBSERVICE("http://evil/")</definedName></definedNames>'
        if b"<definedNames>" in body:
            return body.replace(b"<definedNames>", name[:-len(b"</definedNames>")], 1)
        return body.replace(b"</sheets>", b"</sheets>" + name, 1)
    assert refused(rewrite_part(build_template(SCHOOL_FORM), "xl/workbook.xml", add_name)).code == "XLSX_NETWORK_FUNCTION"


def test_an_external_link_to_a_network_share_is_refused():
    rels = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            b'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            b'officeDocument/2006/relationships/externalLinkPath" Target="file:///\\\\nas\\share\\book.xlsx" '
            b'TargetMode="External"/></Relationships>')
    link = b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
    data = rewrite_part(build_template(SCHOOL_FORM), "", lambda b: b,
                        {"xl/externalLinks/externalLink1.xml": link,
                         "xl/externalLinks/_rels/externalLink1.xml.rels": rels})
    assert refused(data).code == "XLSX_EXTERNAL_LINK"
    # the same relationship elsewhere (here, the sheet's) is refused too
    data = rewrite_part(build_template(SCHOOL_FORM), "", lambda b: b,
                        {"xl/worksheets/_rels/sheet1.xml.rels": rels.replace(b"externalLinkPath", b"oleObject")})
    assert refused(data).code == "XLSX_EXTERNAL_LINK"


def test_a_hyperlink_excel_made_from_a_typed_email_is_not_a_reason_to_refuse():
    rels = (b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            b'hyperlink" Target="mailto:school@mail.kz" TargetMode="External"/></Relationships>')
    data = rewrite_part(build_template(SCHOOL_FORM), "", lambda b: b, {"xl/worksheets/_rels/sheet1.xml.rels": rels})
    assert read_workbook(data, SCHOOL_FORM).matches_form


def test_macros_and_embedded_objects_are_refused():
    data = rewrite_part(build_template(SCHOOL_FORM), "", lambda b: b, {"xl/vbaProject.bin": b"\0" * 64})
    assert refused(data).code == "XLSX_ACTIVE_CONTENT"


# --- the archive itself ---------------------------------------------------------------------


def test_a_non_zip_is_refused():
    assert refused(b"field,value\npupils_total,1\n").code == "XLSX_NOT_A_ZIP"
    assert refused(b"PK\x03\x04 truncated").code == "XLSX_NOT_A_ZIP"


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(FORM_PART, "w") as fh:
        block = b"\0" * (1024 * 1024)
        for _ in range(60):
            fh.write(block)
    assert len(buf.getvalue()) < 1024 * 1024
    assert refused(buf.getvalue()).code in {"XLSX_RATIO", "XLSX_TOO_LARGE"}


def test_a_small_bomb_is_caught_by_its_ratio():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/sharedStrings.xml", b"a" * (8 * 1024 * 1024))
    assert refused(buf.getvalue()).code == "XLSX_RATIO"
    assert refused(build_template(SCHOOL_FORM), max_uncompressed=1000).code == "XLSX_TOO_LARGE"


def test_a_workbook_not_made_from_a_template_is_refused():
    wb = openpyxl.Workbook()
    wb.active["A1"] = "pupils_total"
    wb.active["B1"] = 810
    out = io.BytesIO()
    wb.save(out)
    assert refused(out.getvalue()).code == "XLSX_NO_MAP"


def test_a_damaged_map_is_refused():
    for damage in (lambda wb: wb[MAP_SHEET].__setitem__("B3", 99),
                   lambda wb: setattr(wb[FORM_SHEET], "title", "Лист1"),
                   lambda wb: wb[MAP_SHEET].__setitem__("C6", "not a cell"),
                   lambda wb: wb[MAP_SHEET].__setitem__("A1", "=1+1")):
        wb = openpyxl.load_workbook(io.BytesIO(build_template(SCHOOL_FORM)))
        damage(wb)
        out = io.BytesIO()
        wb.save(out)
        assert refused(out.getvalue()).code == "XLSX_MAP_INVALID"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_xml_with_entity_declarations_is_refused(encoding):
    def add_doctype(body: bytes) -> bytes:
        text = body.decode("utf-8")
        if text.startswith("<?xml"):
            text = text[text.index("?>") + 2:]
        text = text.replace("<sheetData>", "<sheetData><row r='99'><c r='A99' t='inlineStr'><is><t>&x;</t></is></c></row>", 1)
        decl = f'<?xml version="1.0" encoding="{encoding}"?>'
        return (decl + '<!DOCTYPE worksheet [<!ENTITY x "boom">]>' + text).encode(encoding)

    data = rewrite_part(build_template(SCHOOL_FORM), FORM_PART, add_doctype)
    assert refused(data).code == "XLSX_XML_ENTITIES"


# --- what the template offers the accountant ----------------------------------------------------


@pytest.mark.parametrize("form", FORMS, ids=IDS)
def test_structure_is_protected_and_inputs_are_open_and_validated(form):
    wb = openpyxl.load_workbook(io.BytesIO(build_template(form)))
    ws = wb[FORM_SHEET]
    assert wb.sheetnames == [FORM_SHEET, MAP_SHEET]
    assert wb[MAP_SHEET].sheet_state == "veryHidden"
    assert ws.protection.sheet and not ws.protection.password
    cells = map_of(wb)
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


def test_numbers_are_validated_against_their_plausible_range_in_excel_too():
    from decimal import Decimal

    form = SCHOOL_FORM.model_copy(update={"fields": [
        FormField(code="teachers", title="Teachers", min=Decimal(1), max=Decimal(10000), range_severity="warning"),
        FormField(code="classes", title="Classes")]})
    wb = openpyxl.load_workbook(io.BytesIO(build_template(form)))
    place = layout(form)
    dvs = wb[FORM_SHEET].data_validations.dataValidation
    teachers = next(dv for dv in dvs if place.placement("teachers").coordinate in dv.sqref)
    classes = next(dv for dv in dvs if place.placement("classes").coordinate in dv.sqref)
    assert (teachers.operator, teachers.formula1, teachers.formula2, teachers.errorStyle) == ("between", "1", "10000", "warning")
    assert (classes.formula1, classes.formula2, classes.errorStyle) == ("0", "1000000000000", "stop")


def test_enumeration_lists_offer_the_options():
    from uise_registry.catalog import OTH_HEAT

    wb = openpyxl.load_workbook(io.BytesIO(build_template(OTH_HEAT)))
    coord = map_of(wb)["heating_type"][1]
    dv = next(dv for dv in wb[FORM_SHEET].data_validations.dataValidation if coord in dv.sqref)
    assert dv.formula1 == '"central,own boiler,electric,stove"'


def test_long_or_comma_options_are_listed_on_the_map_sheet_and_the_reader_allows_them():
    form = SCHOOL_FORM.model_copy(update={"fields": [FormField(
        code="kind", title="Kind", type=FieldType.enumeration, aggregate="none",
        options=["общеобразовательная, с пришкольным интернатом", "малокомплектная", "a", "b", "c", "d",
                 "e", "f", "g", "h", "i", "j", "k", "l"])]})  # a list longer than the map
    data = build_template(form)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    dv = next(dv for dv in wb[FORM_SHEET].data_validations.dataValidation if dv.type == "list")
    assert dv.formula1.startswith(f"'{MAP_SHEET}'!")
    filled = fill(data, form, {"kind": "малокомплектная"})
    assert read_workbook(filled, form).values == {"kind": RawCell("text", "малокомплектная")}


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
        assert read_workbook(fill(data, form, {"kind": option, "pupils": 5}), form).values["kind"] == RawCell("text", option)


@pytest.mark.parametrize("bad", [dict(participant_bin="=cmd|' /C calc'!A0"), dict(participant_bin="12345678901\n"),
                                 dict(participant_bin="١٢٣٤٥٦٧٨٩٠١٢"), dict(period="=1+1"), dict(period="2026\n"),
                                 dict(period="٢٠٢٦"), dict(period="9999")])
def test_header_values_entered_in_advance_must_be_canonical(bad):
    with pytest.raises(ValueError):
        build_template(SCHOOL_FORM, **bad)


def test_header_values_entered_in_advance_are_string_cells():
    wb = openpyxl.load_workbook(io.BytesIO(build_template(SCHOOL_FORM, participant_bin="020440000013",
                                                           period="2026-Q3")))
    where = map_of(wb)
    for code, expected in ((BIN_CODE, "020440000013"), (PERIOD_CODE, "2026-Q3")):
        cell = wb[FORM_SHEET][where[code][1]]
        assert (cell.value, cell.data_type) == (expected, "s")


def test_a_consolidated_documents_sheet_is_read_within_its_own_bounds():
    from uise_common.workbook import CONSOLIDATION_SHEET

    def with_sheet(rows: int, cols: int) -> bytes:
        wb = openpyxl.load_workbook(io.BytesIO(build_template(SCHOOL_FORM)))
        sheet = wb.create_sheet(CONSOLIDATION_SHEET)
        for r in range(1, rows + 1):
            for c in range(1, cols + 1):
                sheet.cell(r, c).value = f"{r}.{c}"
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    rows, cols = layout(SCHOOL_FORM).consolidation_bounds()
    assert read_workbook(with_sheet(rows, cols), SCHOOL_FORM).matches_form
    assert refused(with_sheet(rows + 1, 1)).code == "XLSX_RANGE_EXCEEDED"
    assert refused(with_sheet(1, cols + 1)).code == "XLSX_RANGE_EXCEEDED"

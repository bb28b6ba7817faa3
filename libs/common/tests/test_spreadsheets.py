"""The one rule for cells UISE writes: text a spreadsheet would read as a formula is neutralised
with an apostrophe in CSV and XLSX, XLSX text is always a string cell, numbers stay numbers,
and `restore` undoes `neutralise` exactly."""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pytest

from uise_common.spreadsheets import (
    csv_bytes,
    needs_neutralising,
    neutralise,
    put,
    restore,
    set_value,
    xlsx_bytes,
)

FORMULAS = ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "\t=1+1", "\tTAB", "\r=1", "\n=1", "\x00x",
            "\x1b[31m", "\x85x", " =1+1", "\u00a0=1+1", "=HYPERLINK(\"http://evil\",\"x\")", "=", "-", "@"]
PLAIN = ["Школа-лицей №1", "№1 мектеп", "a=b", "1+1", "2026-Q3", "020440000013", "x-", "", " ", "email@x"]


@pytest.mark.parametrize("text", FORMULAS, ids=repr)
def test_formula_like_text_is_prefixed_with_an_apostrophe(text):
    assert needs_neutralising(text)
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", PLAIN, ids=repr)
def test_plain_text_is_left_alone(text):
    assert neutralise(text) == text


def test_numbers_dates_and_none_are_not_text():
    for value in (-2, -2.5, 0, 3, date(2026, 1, 1), None):
        assert neutralise(value) == value


@pytest.mark.parametrize("text", [*FORMULAS, *PLAIN, "'", "'x", "'=x", "''=x", "'''"], ids=repr)
def test_restore_undoes_neutralise_exactly(text):
    assert restore(neutralise(text)) == text


def test_text_that_starts_with_an_apostrophe_gets_another_so_the_round_trip_is_exact():
    assert neutralise("'=x") == "''=x"
    assert restore("'hand typed") == "'hand typed"  # not something neutralise made


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_cells_are_neutralised_and_numbers_stay_numbers():
    rows = read_csv(csv_bytes(["name", "count", "day"], [[t, -2, date(2026, 9, 1)] for t in FORMULAS]))
    assert rows[0] == ["name", "count", "day"]
    for text, row in zip(FORMULAS, rows[1:], strict=True):
        assert row == ["'" + text, "-2", "2026-09-01"]


def test_xlsx_text_is_a_neutralised_string_cell_and_numbers_are_numbers():
    data = xlsx_bytes("t", ["name", "count", "day"], [[t, -2, date(2026, 9, 1)] for t in FORMULAS])
    ws = openpyxl.load_workbook(io.BytesIO(data))["t"]
    for text, row in zip(FORMULAS, ws.iter_rows(min_row=2), strict=True):
        name, count, day = row
        assert name.data_type == "s", text
        # XML cannot hold most C0 controls: they become U+FFFD; an XML reader reads CR as LF
        written = text.replace("\x00", "\ufffd").replace("\x1b", "\ufffd").replace("\r", "\n")
        assert name.value == "'" + written, text
        assert (count.value, count.data_type) == (-2, "n")
        assert day.value.date() == date(2026, 9, 1) and day.number_format == "yyyy-mm-dd"


def test_an_unwritable_character_does_not_break_the_export():
    data = xlsx_bytes("t", ["name"], [["a\x00b\x01c\ud800d\uffff"]])
    assert openpyxl.load_workbook(io.BytesIO(data))["t"]["A2"].value == "a\ufffdb\ufffdc\ufffdd\ufffd"


def test_openpyxl_alone_would_write_a_formula_and_put_does_not():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "=cmd|' /C calc'!A0"
    assert ws["A1"].data_type == "f"  # why this module exists
    put(ws, 1, 2, "=cmd|' /C calc'!A0")
    put(ws, 1, 3, "=exact", neutralised=False)  # machine-read text: exact, still a string
    set_value(ws["D1"], -7)
    out = io.BytesIO()
    wb.save(out)
    back = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    assert (back["B1"].value, back["B1"].data_type) == ("'=cmd|' /C calc'!A0", "s")
    assert (back["C1"].value, back["C1"].data_type) == ("=exact", "s")
    assert (back["D1"].value, back["D1"].data_type) == (-7, "n")

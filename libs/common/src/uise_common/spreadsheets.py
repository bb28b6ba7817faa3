"""Cells UISE writes into CSV and XLSX files that people open in Excel or LibreOffice: text that
came from anyone (a participant's name, a form's title, a query parameter) never becomes a
formula there.

The one rule (OWASP "CSV Injection"; ASVS 5.0 requirement 1.2.10): a text cell whose first
character is `=`, `+`, `-` or `@`, or a control character (tab, CR, LF, NUL…), is prefixed with
an apostrophe, which spreadsheets read as "this is text". A cell whose first non-blank character
is one of those is treated alike, a cheap precaution against a reader that trims cells. A
text that already starts with an apostrophe gets one more, so `restore` can undo exactly what
`neutralise` did and an export imported back is the same data (the registry's import does so).

Numbers stay numbers: -2 as an int is a figure, not text, and is written as one. In XLSX, text
is written as an explicit string cell: openpyxl would store a str starting with `=` as a formula.
Characters XML 1.0 cannot hold (most C0 controls, lone surrogates, U+FFFE/U+FFFF) are replaced
by U+FFFD in XLSX, so a stray byte in one name cannot make the whole export fail.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime

TRIGGERS = frozenset("=+-@")
QUOTE = "'"
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

Cell = str | int | float | date | datetime | None


def _dangerous(text: str) -> bool:
    if not text:
        return False
    if text[0] in TRIGGERS or _is_control(text[0]):
        return True
    stripped = text.lstrip()
    return stripped != text and bool(stripped) and stripped[0] in TRIGGERS


def _is_control(ch: str) -> bool:
    return ch < " " or "\x7f" <= ch <= "\x9f"


def needs_neutralising(text: str) -> bool:
    """Would a spreadsheet read `text` as a formula (or is it already neutralised)?"""
    return _dangerous(text) or text.startswith(QUOTE)


def neutralise(value: Cell) -> Cell:
    """`value` as a cell may safely hold it: text prefixed with an apostrophe when it needs it,
    anything else unchanged."""
    if isinstance(value, str) and needs_neutralising(value):
        return QUOTE + value
    return value


def restore(text: str) -> str:
    """The text `neutralise` was given, from what it returned (an import reading an export)."""
    if text.startswith(QUOTE) and needs_neutralising(text[1:]):
        return text[1:]
    return text


def xml_safe(text: str) -> str:
    return _XML_ILLEGAL.sub("\ufffd", text)


# --- CSV ----------------------------------------------------------------------------------


def _csv_value(value: Cell) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return "" if value is None else neutralise(value)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """A CSV file (UTF-8 with a BOM, so Excel reads it as UTF-8) with every cell neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([_csv_value(h) for h in header])
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


# --- XLSX (openpyxl) ----------------------------------------------------------------------


def set_value(cell, value: Cell, *, neutralised: bool = True, number_format: str | None = None):
    """Put `value` into an openpyxl cell (a worksheet's or a WriteOnlyCell): text as a string
    cell, neutralised unless `neutralised=False` (for machine-read text that must come back
    exactly, such as a template's hidden map; still never a formula). Returns the cell."""
    if isinstance(value, str):
        text = xml_safe(neutralise(value) if neutralised else value)
        cell.value = text
        cell.data_type = "s"  # set after the value: openpyxl infers 'f' from a leading '='
    else:
        cell.value = value
    if number_format is not None:
        cell.number_format = number_format
    return cell


def write_only_cell(sheet, value: Cell, *, number_format: str | None = None, neutralised: bool = True):
    """A WriteOnlyCell for `sheet.append` in a write-only workbook, as `set_value` fills it."""
    from openpyxl.cell import WriteOnlyCell

    return set_value(WriteOnlyCell(sheet), value, neutralised=neutralised, number_format=number_format)


def put(ws, row: int, column: int, value: Cell, *, neutralised: bool = True):
    """`ws.cell(row, column, value)` for a regular worksheet, as `set_value` fills it."""
    return set_value(ws.cell(row, column), value, neutralised=neutralised)


def xlsx_bytes(sheet_name: str, header: Sequence[str], rows: Iterable[Sequence[Cell]],
               *, date_format: str = "yyyy-mm-dd") -> bytes:
    """A one-sheet workbook (write-only: thousands of rows in little memory), every text cell
    neutralised, dates as real date cells shown in `date_format`."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
    sheet.append([write_only_cell(sheet, h) for h in header])
    for row in rows:
        sheet.append([write_only_cell(sheet, v, number_format=date_format if isinstance(v, date) else None)
                      for v in row])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()

"""The XLSX template of a form: the registry writes it, the validation service (and intake's
upload checks) read it back (DESIGN.md clause 7, §3 step 4). Shared logic, not an event contract:
it lives in uise_common so every service reads a workbook the same way.

Where every cell of a form goes is decided once, by `layout(form)`, from the form definition
alone; the template builder writes there and the reader reads there. A template has a visible,
protected sheet "Form" that a school accountant fills in Excel, and a very hidden sheet `_uise`
holding a copy of the layout (the map), so a person or tool can see which cell is which:

    A1 form_code      B1 <code>
    A2 form_version   B2 <version>
    A3 format_version B3 1
    A4 cell  B4 sheet  C4 coordinate  D4 type        (header of the table below)
    A5… one row per cell: `<code>`, `Form`, `C12`, `integer|decimal|text|enumeration|date`

The header inputs (BIN and period) are in the map under the reserved codes `@participant_bin`
and `@period`; form cell codes never start with "@". They sit at fixed places (Form!B6, B7) in
every template, as do the form code (B1 of the map) and version (B2).

Nothing written is ever a formula (uise_common.spreadsheets): every text is an explicit string
cell, and the text people read (titles, units, hints) is neutralised besides. The map and the
option lists are machine-read and must come back exactly, so they are string cells but keep their
text as is; the sheet holding them is very hidden. The BIN and period entered in advance must be
canonical (12 ASCII digits; a period uise_common.periods accepts), or ValueError.

Reading an upload (`read_workbook`) never follows the upload's own map: the map is only compared
with the layout (a map that disagrees is a damaged or other-version template). Before any XML is
parsed the zip is inspected for size, compression ratio (zip bombs) and DTDs (entity expansion);
then links to other files, data connections, macros and network-reaching formulas anywhere are
refused, and so is any cell (or declared used range) beyond the template's own. The walk over the
XML (uise_common.sheetml) has a budget derived from the template's size, so the cost of reading
is bounded by the form's cells whatever the upload says. Values come back as stored (the `<v>`
text of a number): turning them into exact values and findings is the validation service's job.

openpyxl (for writing) is imported inside the functions because most services import
uise_common and never touch a workbook.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from uise_common.periods import PeriodInvalid, parse_period
from uise_common.sheetml import (
    Found,
    Kind,
    SheetError,
    coordinate,
    open_book,
    resolve_strings,
    scan_sheet,
)
from uise_common.spreadsheets import put
from uise_contracts.events import FieldType, FormDefinition, FormField

FORMAT_VERSION = 1
FORM_SHEET = "Form"
MAP_SHEET = "_uise"
# A consolidated document (reporting, docs/consolidation.md) is the form's template filled with a
# node's figures plus this sheet: the exact aggregates (cell, sum, count, min, max: one row per
# cell), an empty row, then (subordinate, status) rows. The reader lets it through within these
# bounds; what it says is the consolidation's business, not the form's cells.
CONSOLIDATION_SHEET = "_consolidation"
CONSOLIDATION_COLUMNS = 5
MAX_SUBORDINATES = 5000  # of one node for one form: a city district's organizations stay far below
BIN_CODE = "@participant_bin"
PERIOD_CODE = "@period"
_MAP_HEADER = ("cell", "sheet", "coordinate", "type")
_MAP_FIRST_ROW = 5
_FIRST_LIST_COLUMN = 7  # option lists too long to inline live on the map sheet, from column G on

# Fixed rows of the header block of every template.
TITLE_KK_ROW, TITLE_RU_ROW, CODE_ROW, VERSION_ROW, BIN_ROW, PERIOD_ROW, HINT_ROW = 1, 2, 4, 5, 6, 7, 8
_FIRST_BLOCK_ROW = 10
_VALUE_COLUMN, _HINT_COLUMN = 2, 3

# The default plausible range of a number whose form gives none (docs/validation.md): no count
# or amount in a school's report is negative or reaches a trillion, and 10^24 teachers must not
# pass. A bound the form gives replaces its default.
DEFAULT_MIN = Decimal(0)
DEFAULT_MAX = Decimal(10) ** 12
# Dates a template accepts (its data validation) and the reader holds plausible.
DATE_MIN, DATE_MAX = date(1990, 1, 1), date(2099, 12, 31)

# Limits on what is opened at all. Entries this small cannot hurt whatever their ratio, and tiny
# XML parts compress unpredictably well, so the ratio is only judged above this size.
_RATIO_FLOOR = 1024 * 1024
_MAX_ENTRIES = 10_000
_CHUNK = 1024 * 1024
# A DTD is the only way to declare entities; neither belongs in an XLSX part. Searched for in
# ASCII/UTF-8 and both UTF-16 byte orders, case-insensitively (bytes.lower() only touches A-Z).
_DTD_MARKERS = tuple(m.encode(enc) for m in ("<!doctype", "<!entity")
                     for enc in ("ascii", "utf-16-le", "utf-16-be"))
_OVERLAP = max(len(m) for m in _DTD_MARKERS)

# XML elements a part may hold, per cell of the template's used range, plus a fixed allowance
# for what every sheet has (views, columns, page setup, data validations, extensions). Excel
# writes a cell in 1–3 elements and a rich-text string in a few more; 20 leaves room to spare.
_ELEMENTS_PER_CELL, _ELEMENTS_FIXED = 20, 10_000
# Reading only the header (no form given, or the workbook names another form): the walk stops at
# row 7, and the shared strings it needs are among the first of the table.
_HEADER_BUDGET, _HEADER_STRINGS = 100_000, 20_000

_BIN = re.compile(r"[0-9]{12}", re.ASCII)
_HEADER_NUMBER = re.compile(r"([0-9]{1,12})(?:\.0+)?", re.ASCII)


class WorkbookError(Exception):
    """A workbook that cannot be read; `code` is stable for clients and rejection events, `cell`
    (`sheet!A1`) names the cell to blame when there is one."""

    def __init__(self, code: str, message: str, cell: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.cell = cell


# --- the layout ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where one input of the form is: its sheet, row and column."""

    code: str
    sheet: str
    row: int
    column: int
    type: FieldType
    field: FormField | None = None  # None for the header inputs (BIN, period)

    @property
    def coordinate(self) -> str:
        return coordinate(self.row, self.column)

    @property
    def ref(self) -> str:
        return f"{self.sheet}!{self.coordinate}"


@dataclass(frozen=True)
class Block:
    """A table of the Form sheet: a section of the form, or its flat fields (`section` None)."""

    banner_row: int
    head_row: int
    first_row: int
    section: object | None  # FormSection


def _inline_options(options: list[str]) -> bool:
    """Can a list validation hold the options inline? At most 255 characters, no commas or quotes."""
    return len(",".join(options)) <= 250 and not any("," in o or '"' in o for o in options)


@dataclass(frozen=True)
class Layout:
    form_code: str
    form_version: int
    width: int  # columns of the Form sheet
    last_row: int  # its last used row
    blocks: tuple[Block, ...]
    inputs: tuple[Placement, ...]  # map order: BIN, period, the sections' cells, the flat fields
    option_columns: dict[tuple[str, ...], int] = field(default_factory=dict)  # lists kept on the map sheet

    def placement(self, code: str) -> Placement:
        return next(p for p in self.inputs if p.code == code)

    def map_rows(self) -> list[tuple]:
        """The map sheet's rows, as the template writes them."""
        return [("form_code", self.form_code), ("form_version", self.form_version),
                ("format_version", FORMAT_VERSION), _MAP_HEADER,
                *((p.code, p.sheet, p.coordinate, p.type.value) for p in self.inputs)]

    def bounds(self) -> dict[str, tuple[int, int]]:
        """The used range of each sheet of the template: (last row, last column)."""
        listed = [len(opts) for opts in self.option_columns]
        map_rows = max([len(self.inputs) + _MAP_FIRST_ROW - 1, *listed])
        map_cols = max([len(_MAP_HEADER), *self.option_columns.values()])
        return {FORM_SHEET: (self.last_row, self.width), MAP_SHEET: (map_rows, map_cols)}

    def consolidation_bounds(self) -> tuple[int, int]:
        """The most a consolidated document's `_consolidation` sheet may use: a header, a row per
        cell, an empty row, a header and a row per subordinate."""
        cells = len(self.inputs) - 2  # without the header inputs (BIN, period)
        return (1 + cells + 1 + 1 + MAX_SUBORDINATES, CONSOLIDATION_COLUMNS)


def layout(form: FormDefinition) -> Layout:
    """Where everything of `form`'s template is, from the form definition alone."""
    cells = {c.code: c for c in form.cells()}
    inputs = [Placement(BIN_CODE, FORM_SHEET, BIN_ROW, _VALUE_COLUMN, FieldType.text),
              Placement(PERIOD_CODE, FORM_SHEET, PERIOD_ROW, _VALUE_COLUMN, FieldType.text)]
    blocks: list[Block] = []
    row, last = _FIRST_BLOCK_ROW, HINT_ROW
    for sec in form.sections:
        blocks.append(Block(row, row + 1, row + 2, sec))
        for i, r in enumerate(sec.rows):
            for j, col in enumerate(sec.columns, start=2):
                code = f"{sec.code}.{r.code}.{col.code}"
                inputs.append(Placement(code, FORM_SHEET, row + 2 + i, j, col.type, cells[code]))
        last = row + 1 + len(sec.rows)
        row = last + 2
    if form.fields:
        blocks.append(Block(row, row + 1, row + 2, None))
        for i, f in enumerate(form.fields):
            inputs.append(Placement(f.code, FORM_SHEET, row + 2 + i, _VALUE_COLUMN, f.type, f))
        last = row + 1 + len(form.fields)
    option_columns: dict[tuple[str, ...], int] = {}
    for p in inputs:
        if p.field is not None and p.type == FieldType.enumeration and not _inline_options(p.field.options):
            option_columns.setdefault(tuple(p.field.options), _FIRST_LIST_COLUMN + len(option_columns))
    width = max([len(s.columns) + 1 for s in form.sections] + [_HINT_COLUMN])
    return Layout(form_code=form.code, form_version=form.version, width=width, last_row=last,
                  blocks=tuple(blocks), inputs=tuple(inputs), option_columns=option_columns)


def number_bounds(f: FormField) -> tuple[Decimal, Decimal]:
    """The plausible range of a numeric cell: the form's bounds, each defaulting when not given."""
    return (DEFAULT_MIN if f.min is None else f.min, DEFAULT_MAX if f.max is None else f.max)


# --- writing ------------------------------------------------------------------------------

_INPUT_FILL = "FFF2CC"  # pale yellow: the convention for "type here" in Kazakh statistical forms
_HEADER_FILL = "D9E1F2"
_ERROR_TITLE = "Қате мән / Неверное значение"  # Excel allows at most 32 characters
_MESSAGES = {
    FieldType.integer: "Бүтін сан енгізіңіз: {low}–{high}. / Введите целое число: {low}–{high}.",
    FieldType.decimal: "Сан енгізіңіз: {low}–{high}. / Введите число: {low}–{high}.",
    FieldType.enumeration: "Тізімнен мән таңдаңыз. / Выберите значение из списка.",
    FieldType.date: "Күнді КК.АА.ЖЖЖЖ түрінде енгізіңіз. / Введите дату в формате ДД.ММ.ГГГГ.",
    FieldType.text: "Мәтін 1000 таңбадан аспауы тиіс. / Текст не длиннее 1000 символов.",
}
_NUMBER_FORMATS = {
    FieldType.integer: "0",
    FieldType.decimal: "General",
    FieldType.date: "DD.MM.YYYY",
    # Text format keeps Excel from turning "001" into 1 or "2026-10" into a date.
    FieldType.text: "@",
    FieldType.enumeration: "@",
}
_TITLE_WIDTH = 50
_VALUE_WIDTH = 20


def _lines(text: str, width: int) -> int:
    """Rough line count of wrapped text; Excel does not grow rows for wrapped text by itself."""
    return max(1, math.ceil(len(text) / max(width - 2, 1)))


def _plain(d: Decimal) -> str:
    return format(d, "f")


class _Writer:
    def __init__(self, form: FormDefinition, place: Layout) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side

        self.form = form
        self.layout = place
        self.wb = Workbook()
        self.ws = self.wb.active
        self.ws.title = FORM_SHEET
        self.width = place.width
        thin = Side(style="thin", color="808080")
        self.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        self.bold = Font(bold=True)
        self.hint_font = Font(italic=True, color="595959", size=9)
        self.wrap = Alignment(wrap_text=True, vertical="center")
        self.header_fill = PatternFill("solid", fgColor=_HEADER_FILL)
        self.input_fill = PatternFill("solid", fgColor=_INPUT_FILL)
        self.unlocked = Protection(locked=False)

    # layout helpers

    def banner(self, row: int, text: str, size: int = 11) -> None:
        from openpyxl.styles import Font

        cell = put(self.ws, row, 1, text)
        cell.font = Font(bold=True, size=size)
        cell.alignment = self.wrap
        self.ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=self.width)
        total_width = _TITLE_WIDTH + _VALUE_WIDTH * (self.width - 1)
        self.ws.row_dimensions[row].height = 16 * _lines(text, total_width) + 2

    def label(self, row: int, col: int, text: str, *, header: bool = False):
        cell = put(self.ws, row, col, text)
        cell.alignment = self.wrap
        cell.border = self.border
        if header:
            cell.font = self.bold
            cell.fill = self.header_fill
        return cell

    def input(self, code: str, value: str | None = None) -> None:
        """The input cell of `code`, where the layout puts it."""
        p = self.layout.placement(code)
        cell = put(self.ws, p.row, p.column, value)
        cell.protection = self.unlocked
        cell.fill = self.input_fill
        cell.border = self.border
        cell.number_format = _NUMBER_FORMATS[p.type]

    # parts of the sheet

    def header(self, participant_bin: str | None, period: str | None) -> None:
        form = self.form
        self.banner(TITLE_KK_ROW, form.title_kk, size=13)
        self.banner(TITLE_RU_ROW, form.title_ru, size=12)
        for row, title, value in ((CODE_ROW, "Нысан коды / Код формы", form.code),
                                  (VERSION_ROW, "Нысан нұсқасы / Версия формы", form.version)):
            self.label(row, 1, title, header=True)
            self.label(row, _VALUE_COLUMN, value)
        self.label(BIN_ROW, 1, "Ұйымның БСН / БИН организации", header=True)
        self.input(BIN_CODE, participant_bin)
        put(self.ws, BIN_ROW, _HINT_COLUMN, "12 сан / 12 цифр").font = self.hint_font
        self.label(PERIOD_ROW, 1, "Есепті кезең / Отчётный период", header=True)
        self.input(PERIOD_CODE, period)
        put(self.ws, PERIOD_ROW, _HINT_COLUMN, "мысалы / например: 2026, 2026-Q3, 2026-10").font = self.hint_font
        put(self.ws, HINT_ROW, 1, "Сары ұяшықтарды толтырыңыз. / Заполните жёлтые ячейки.").font = self.hint_font

    def section(self, block: Block) -> None:
        sec = block.section
        self.banner(block.banner_row, f"{sec.title_kk} / {sec.title_ru}")
        self.label(block.head_row, 1, "Көрсеткіш / Показатель", header=True)
        tallest = 1
        for j, col in enumerate(sec.columns, start=2):
            text = f"{col.title_kk} / {col.title_ru}" + (f", {col.unit}" if col.unit else "")
            self.label(block.head_row, j, text, header=True)
            tallest = max(tallest, _lines(text, _VALUE_WIDTH))
        self.ws.row_dimensions[block.head_row].height = 15 * tallest + 2
        for i, r in enumerate(sec.rows):
            row = block.first_row + i
            text = f"{r.title_kk} / {r.title_ru}"
            self.label(row, 1, text)
            self.ws.row_dimensions[row].height = 15 * _lines(text, _TITLE_WIDTH) + 2
            for col in sec.columns:
                self.input(f"{sec.code}.{r.code}.{col.code}")

    def flat_fields(self, block: Block) -> None:
        self.banner(block.banner_row, "Көрсеткіштер / Показатели")
        self.label(block.head_row, 1, "Көрсеткіш / Показатель", header=True)
        self.label(block.head_row, _VALUE_COLUMN, "Мәні / Значение", header=True)
        for i, f in enumerate(self.form.fields):
            row = block.first_row + i
            text = f.title + (f", {f.unit}" if f.unit else "")
            self.label(row, 1, text)
            self.ws.row_dimensions[row].height = 15 * _lines(text, _TITLE_WIDTH) + 2
            self.input(f.code)
            hint = None
            if f.type == FieldType.enumeration:
                hint = "Мәндер / Значения: " + " | ".join(f.options)
            elif f.type == FieldType.date:
                hint = "КК.АА.ЖЖЖЖ / ДД.ММ.ГГГГ"
            if hint:
                put(self.ws, row, _HINT_COLUMN, hint).font = self.hint_font

    # validation, map, protection

    def validations(self, map_ws) -> None:
        """One data validation per kind of input, made when its first cell needs it. Numbers get
        their plausible range; a range whose severity is a warning only warns in Excel too."""
        from openpyxl.utils import get_column_letter
        from openpyxl.worksheet.datavalidation import DataValidation

        def make(message: str, style: str = "stop", **kw) -> DataValidation:
            v = DataValidation(allow_blank=True, showErrorMessage=True, errorStyle=style,
                               errorTitle=_ERROR_TITLE, error=message, **kw)
            self.ws.add_data_validation(v)
            return v

        made: dict[object, DataValidation] = {}
        for column in self.layout.option_columns.items():
            options, col = column
            for i, option in enumerate(options, start=1):
                # the list's values are what a cell may hold: exact, never a formula
                put(map_ws, i, col, option, neutralised=False)
        for p in self.layout.inputs:
            f, f_type = p.field, p.type
            if f is None:
                key: object = p.code
            elif f_type in (FieldType.integer, FieldType.decimal):
                key = (f_type, *number_bounds(f), f.range_severity)
            else:
                key = (f_type, tuple(f.options))
            if key not in made:
                if p.code == BIN_CODE:
                    made[key] = make("БСН 12 цифрдан тұрады. / БИН состоит из 12 цифр.",
                                     type="textLength", operator="equal", formula1="12")
                elif p.code == PERIOD_CODE:
                    made[key] = make("Кезең: 2026, 2026-Q3, 2026-10. / Период: 2026, 2026-Q3, 2026-10.",
                                     type="textLength", operator="lessThanOrEqual", formula1="20")
                elif f_type == FieldType.enumeration:
                    if _inline_options(f.options):
                        formula = '"' + ",".join(f.options) + '"'
                    else:
                        letter = get_column_letter(self.layout.option_columns[tuple(f.options)])
                        formula = f"'{MAP_SHEET}'!${letter}$1:${letter}${max(len(f.options), 1)}"
                    made[key] = make(_MESSAGES[f_type], type="list", formula1=formula)
                elif f_type in (FieldType.integer, FieldType.decimal):
                    low, high = number_bounds(f)
                    made[key] = make(_MESSAGES[f_type].format(low=_plain(low), high=_plain(high)),
                                     style="stop" if f.range_severity == "error" else "warning",
                                     type="whole" if f_type == FieldType.integer else "decimal",
                                     operator="between", formula1=_plain(low), formula2=_plain(high))
                elif f_type == FieldType.date:
                    made[key] = make(_MESSAGES[f_type], type="date", operator="between",
                                     formula1=f"DATE({DATE_MIN.year},{DATE_MIN.month},{DATE_MIN.day})",
                                     formula2=f"DATE({DATE_MAX.year},{DATE_MAX.month},{DATE_MAX.day})")
                else:
                    made[key] = make(_MESSAGES[f_type], type="textLength", operator="lessThanOrEqual",
                                     formula1="1000")
            made[key].add(p.coordinate)

    def write_map(self, map_ws) -> None:
        for r, values in enumerate(self.layout.map_rows(), start=1):
            for c, value in enumerate(values, start=1):
                put(map_ws, r, c, value, neutralised=False)  # compared exactly by the reader

    def finish(self) -> bytes:
        from openpyxl.utils import get_column_letter
        from openpyxl.workbook.protection import WorkbookProtection

        ws = self.ws
        ws.column_dimensions["A"].width = _TITLE_WIDTH
        for j in range(2, self.width + 1):
            ws.column_dimensions[get_column_letter(j)].width = _VALUE_WIDTH
        # Landscape, one page wide: the paper copy signed by the head (clause 8) must be legible.
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        # No password: protection guards the structure against slips, it is not a security control.
        # Resizing rows and columns stays allowed; everything else needs "Unprotect sheet".
        ws.protection.sheet = True
        ws.protection.formatColumns = False
        ws.protection.formatRows = False
        map_ws = self.wb.create_sheet(MAP_SHEET)
        self.write_map(map_ws)
        self.validations(map_ws)
        map_ws.sheet_state = "veryHidden"  # not even listed by Excel's "Unhide…"
        map_ws.protection.sheet = True
        # Renaming or deleting the sheet would break the map: lock the workbook structure too.
        self.wb.security = WorkbookProtection(lockStructure=True)
        self.wb.properties.title = f"{self.form.code} v{self.form.version}"
        self.wb.properties.creator = "UISE"
        out = io.BytesIO()
        self.wb.save(out)
        return out.getvalue()


def build_template(form: FormDefinition, *, participant_bin: str | None = None,
                   period: str | None = None) -> bytes:
    """An XLSX to fill in for `form`, optionally with the BIN and period already entered; they
    must be canonical (ValueError otherwise: the caller's API refuses them first)."""
    if participant_bin is not None and not _BIN.fullmatch(participant_bin):
        raise ValueError("participant_bin must be 12 ASCII digits")
    if period is not None:
        try:
            parse_period(period)
        except PeriodInvalid as exc:
            raise ValueError(f"period: {exc}") from None
    place = layout(form)
    w = _Writer(form, place)
    w.header(participant_bin, period)
    for block in place.blocks:
        if block.section is None:
            w.flat_fields(block)
        else:
            w.section(block)
    return w.finish()


# --- reading ------------------------------------------------------------------------------


def inspect_zip(data: bytes, max_uncompressed: int, max_ratio: int) -> None:
    """Refuse what must not reach an XML parser: non-zips, bombs and DTDs."""
    # An XLSX starts with a local file header; zipfile alone would also accept junk in front.
    if not data.startswith(b"PK\x03\x04"):
        raise WorkbookError("XLSX_NOT_A_ZIP", "the document is not an XLSX (zip) file")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise WorkbookError("XLSX_NOT_A_ZIP", f"the document is not a readable zip: {exc}") from exc
    with zf:
        if len(infos) > _MAX_ENTRIES:
            raise WorkbookError("XLSX_TOO_LARGE", f"the archive has {len(infos)} entries")
        # Declared sizes can be trusted as upper bounds: zipfile never inflates an entry past its
        # declared size, and the scan below reads every entry in full (checking its CRC).
        total = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos)
        for i in infos:
            if i.file_size > _RATIO_FLOOR and i.file_size > max_ratio * max(i.compress_size, 1):
                raise WorkbookError("XLSX_RATIO", f"{i.filename} inflates {i.file_size // max(i.compress_size, 1)}"
                                                  f" times (limit {max_ratio}): a zip bomb")
        if total > _RATIO_FLOOR and total > max_ratio * max(packed, 1):
            raise WorkbookError("XLSX_RATIO", f"the archive inflates {total // max(packed, 1)} times "
                                              f"(limit {max_ratio}): a zip bomb")
        if total > max_uncompressed:
            raise WorkbookError("XLSX_TOO_LARGE", f"the archive inflates to {total} bytes "
                                                  f"(limit {max_uncompressed})")
        for i in infos:
            try:
                with zf.open(i) as fh:
                    tail = b""
                    while chunk := fh.read(_CHUNK):
                        window = tail + chunk.lower()
                        if any(m in window for m in _DTD_MARKERS):
                            raise WorkbookError("XLSX_XML_ENTITIES",
                                                f"{i.filename} declares a DOCTYPE or ENTITY")
                        tail = window[-_OVERLAP:]
            except WorkbookError:
                raise
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError,
                    zlib.error) as exc:
                raise WorkbookError("XLSX_NOT_A_ZIP", f"{i.filename} cannot be read: {exc}") from exc


@dataclass(frozen=True)
class RawCell:
    """A cell as the workbook stores it. `number`: the `<v>` text of a numeric cell (a double
    as written, e.g. `810`, `0.1`, `1E-4`); `text`: a string; `bool`: `0`/`1`; `error`: `#N/A`…;
    `date`: an ISO 8601 date cell."""

    kind: Kind
    text: str


@dataclass
class FilledWorkbook:
    form_code: str
    form_version: int
    participant_bin: str | None
    period: str | None
    values: dict[str, RawCell | None] = field(default_factory=dict)  # every cell of the form
    where: dict[str, str] = field(default_factory=dict)  # cell code -> sheet!A1, header inputs too
    formulas: list[str] = field(default_factory=list)  # codes of inputs holding a formula
    date1904: bool = False  # the workbook counts date serials from 1904 (old Mac Excel)
    matches_form: bool = True  # False: the workbook is another form's; nothing past the header read
    cells_scanned: int = 0  # <c> elements walked, all sheets: bounded by the template's size


def _text(found: Found | None) -> str | None:
    return None if found is None else found.text


def _header_text(found: Found | None, *, digits: int | None = None) -> str | None:
    if found is None:
        return None
    text = found.text.strip()
    if found.kind == "number" and (m := _HEADER_NUMBER.fullmatch(text)):
        text = m.group(1)
        # Excel drops leading zeros when a BIN was pasted as a number into the text cell.
        if digits and len(text) < digits:
            text = text.zfill(digits)
    return text or None


def _as_int(found: Found | None) -> int | None:
    text = (_text(found) or "").strip()
    m = _HEADER_NUMBER.fullmatch(text)
    return int(m.group(1)) if m else None


def _header(zf, book, budget: int, strings: int) -> tuple[str, int, int | None]:
    """(form code, form version, format version) from the map's first rows."""
    wanted = {(r, c): f"{r}.{c}" for r in (1, 2, 3) for c in (1, 2)}
    found = scan_sheet(zf, book.sheets[MAP_SHEET], bounds=None, wanted=wanted, budget=budget,
                       stop_after_row=3).found
    resolve_strings(zf, book, [f for f in found.values() if f is not None], limit=strings, budget=budget)

    def bad(why: str) -> WorkbookError:
        return WorkbookError("XLSX_MAP_INVALID", f"the template's map is damaged: {why}")

    if [_text(found.get(f"{r}.1")) for r in (1, 2, 3)] != ["form_code", "form_version", "format_version"]:
        raise bad("unexpected header rows")
    form_code = (_text(found.get("1.2")) or "").strip()
    version = _as_int(found.get("2.2"))
    if not form_code or version is None:
        raise bad("no form code or version")
    return form_code, version, _as_int(found.get("3.2"))


def _map_value(found: Found | None) -> object:
    if found is None:
        return None
    if found.kind == "number":
        return _as_int(found)
    return found.text


def read_workbook(data: bytes, form: FormDefinition | None = None, *,
                  max_uncompressed: int = 50 * 1024 * 1024, max_ratio: int = 100) -> FilledWorkbook:
    """The cells of a workbook filled from `form`'s template, read where `layout(form)` puts
    them. Without a form only the header is read (form code and version, BIN, period). A workbook
    naming another form comes back with `matches_form` False and no values. Raises WorkbookError
    for what makes the whole workbook unacceptable; a formula in an input is listed in
    `formulas` for the caller to report by cell."""
    inspect_zip(data, max_uncompressed, max_ratio)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return _read(zf, form)
    except SheetError as exc:
        raise WorkbookError(exc.code, exc.message, exc.cell) from exc


def _read(zf: zipfile.ZipFile, form: FormDefinition | None) -> FilledWorkbook:
    place = layout(form) if form is not None else None
    bounds = place.bounds() if place is not None else {}
    area = sum(rows * cols for rows, cols in bounds.values())
    # No genuine workbook has more distinct strings than its template has cells.
    strings = area + 1 if place is not None else _HEADER_STRINGS
    budget = _ELEMENTS_PER_CELL * area + _ELEMENTS_FIXED if place is not None else _HEADER_BUDGET
    book = open_book(zf, budget)
    if MAP_SHEET not in book.sheets:
        raise WorkbookError("XLSX_NO_MAP", "the workbook was not made from a UISE template "
                                           "(download the form's template and fill that in)")
    if FORM_SHEET not in book.sheets:
        raise WorkbookError("XLSX_MAP_INVALID", f"the template's sheet {FORM_SHEET!r} is missing or renamed")
    # The header may be another form's (a larger template): walk it with the header's allowance.
    head_budget, head_strings = max(budget, _HEADER_BUDGET), max(strings, _HEADER_STRINGS)
    form_code, form_version, format_version = _header(zf, book, head_budget, head_strings)
    if format_version != FORMAT_VERSION:
        raise WorkbookError("XLSX_MAP_INVALID", f"the template's map is damaged: format version "
                                                f"{format_version} is not supported (expected {FORMAT_VERSION})")
    if place is None or form_code != form.code:
        wanted = {(BIN_ROW, _VALUE_COLUMN): BIN_CODE, (PERIOD_ROW, _VALUE_COLUMN): PERIOD_CODE}
        scan = scan_sheet(zf, book.sheets[FORM_SHEET], bounds=None, wanted=wanted, budget=head_budget,
                          stop_after_row=PERIOD_ROW)
        resolve_strings(zf, book, [f for f in scan.found.values() if f is not None], limit=head_strings,
                        budget=head_budget)
        return FilledWorkbook(form_code=form_code, form_version=form_version,
                              participant_bin=_header_text(scan.found.get(BIN_CODE), digits=12),
                              period=_header_text(scan.found.get(PERIOD_CODE)), matches_form=place is None,
                              date1904=book.date1904, cells_scanned=scan.cells)
    try:
        return _read_cells(zf, book, place, form_version, bounds, budget, strings)
    except (SheetError, WorkbookError) as exc:
        if form_version != place.form_version and exc.code in ("XLSX_RANGE_EXCEEDED", "XLSX_MAP_INVALID"):
            # Most likely a template of an earlier or later version of the form: say so.
            raise WorkbookError("XLSX_TEMPLATE_MISMATCH",
                                f"the workbook was made from the template of version {form_version} of "
                                f"{form_code}; version {place.form_version} is in force: download its "
                                f"template ({exc.message})") from exc
        raise


def _read_cells(zf, book, place: Layout, form_version: int, bounds: dict[str, tuple[int, int]],
                budget: int, strings: int) -> FilledWorkbook:
    map_rows = place.map_rows()
    wanted_by_sheet: dict[str, dict[tuple[int, int], str]] = {FORM_SHEET: {}, MAP_SHEET: {}}
    for p in place.inputs:
        wanted_by_sheet[p.sheet][(p.row, p.column)] = p.code
    for r in range(1, len(map_rows) + 1):
        for c in range(1, len(_MAP_HEADER) + 1):
            wanted_by_sheet[MAP_SHEET][(r, c)] = f"map {r}.{c}"
    found: dict[str, Found | None] = {}
    formulas: dict[str, str] = {}
    scanned = 0
    # Every sheet is walked, hidden or added ones too: formulas reaching out are refused
    # anywhere, and a sheet the template does not have may hold nothing at all.
    # A consolidated document's `_consolidation` sheet is let through within its own bounds and
    # budget, so the template's sheets keep theirs (what it says is read by its consumers).
    extra = {CONSOLIDATION_SHEET: place.consolidation_bounds()}
    string_budget = budget
    for name, sheet in book.sheets.items():
        sheet_bounds = bounds.get(name) or extra.get(name) or (0, 0)
        sheet_budget = budget
        if name not in bounds and name in extra:
            sheet_budget = _ELEMENTS_PER_CELL * sheet_bounds[0] * sheet_bounds[1] + _ELEMENTS_FIXED
            strings += sheet_bounds[0] * sheet_bounds[1]
            string_budget += sheet_budget
        scan = scan_sheet(zf, sheet, bounds=sheet_bounds, wanted=wanted_by_sheet.get(name, {}),
                          budget=sheet_budget)
        found.update(scan.found)
        scanned += scan.cells
        if name == FORM_SHEET:
            formulas.update(scan.formulas)
        elif scan.formulas:  # the map is machine-read: a formula there is tampering
            raise WorkbookError("XLSX_MAP_INVALID", "the template's map holds a formula",
                                next(iter(scan.formulas.values())))
    resolve_strings(zf, book, [f for f in found.values() if f is not None], limit=strings, budget=string_budget)
    for r, expected in enumerate(map_rows, start=1):
        if r == 2:
            continue  # the version: a template of another version with the same layout reads alike
        width = len(_MAP_HEADER) if r >= len(_MAP_HEADER) else 2
        got = tuple(_map_value(found.get(f"map {r}.{c}")) for c in range(1, width + 1))
        if got != tuple(expected):
            raise WorkbookError("XLSX_MAP_INVALID",
                                f"the template's map is damaged: row {r} reads {got!r}, the form's layout "
                                f"says {tuple(expected)!r}", f"{MAP_SHEET}!A{r}")
    values: dict[str, RawCell | None] = {}
    for p in place.inputs:
        if p.field is None or p.code in formulas:
            continue
        cell = found.get(p.code)
        values[p.code] = None if cell is None else RawCell(cell.kind, cell.text)
    return FilledWorkbook(
        form_code=place.form_code, form_version=form_version,
        participant_bin=None if BIN_CODE in formulas else _header_text(found.get(BIN_CODE), digits=12),
        period=None if PERIOD_CODE in formulas else _header_text(found.get(PERIOD_CODE)),
        values=values, where={p.code: p.ref for p in place.inputs},
        formulas=[p.code for p in place.inputs if p.code in formulas],
        date1904=book.date1904, cells_scanned=scanned)

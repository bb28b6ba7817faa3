"""The XLSX template of a form: the registry writes it, the validation service (and intake's
upload checks) read it back (DESIGN.md clause 7, §3 step 4). Shared logic, not an event contract:
it lives in uise_common so every service reads a workbook the same way.

A template has a visible, protected sheet "Form" that a school accountant fills in Excel, and a
very hidden sheet `_uise` holding the map from every cell code to its sheet and coordinate, so a
filled workbook parses back without guessing from layout or titles:

    A1 form_code      B1 <code>
    A2 form_version   B2 <version>
    A3 format_version B3 1
    A4 cell  B4 sheet  C4 coordinate  D4 type        (header of the table below)
    A5… one row per cell: `<code>`, `Form`, `C12`, `integer|decimal|text|enumeration|date`

The header inputs (BIN and period) are in the map under the reserved codes `@participant_bin`
and `@period`; form cell codes never start with "@".

Nothing written is ever a formula (uise_common.spreadsheets): every text is an explicit string
cell, and the text people read (titles, units, hints) is neutralised besides. The map and the
option lists are machine-read and must come back exactly, so they are string cells but keep their
text as is; the sheet holding them is very hidden. The BIN and period entered in advance must be
canonical (12 ASCII digits; a period uise_common.periods accepts), or ValueError.

Reading refuses anything that is not a workbook made from a template before openpyxl sees it:
the zip is inspected for size, compression ratio (zip bombs) and XML DTDs (entity expansion).
Business rules are not checked here: that is the validation service's job.

openpyxl is imported inside the functions because most services import uise_common and never
touch a workbook.
"""

from __future__ import annotations

import io
import math
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime

from uise_common.periods import PeriodInvalid, parse_period
from uise_common.spreadsheets import put
from uise_contracts.events import FieldType, FormDefinition, FormField

FORMAT_VERSION = 1
FORM_SHEET = "Form"
MAP_SHEET = "_uise"
BIN_CODE = "@participant_bin"
PERIOD_CODE = "@period"
_MAP_HEADER = ("cell", "sheet", "coordinate", "type")
_MAP_FIRST_ROW = 5

# Limits on what is opened at all. Entries this small cannot hurt whatever their ratio, and tiny
# XML parts compress unpredictably well, so the ratio is only judged above this size.
_RATIO_FLOOR = 1024 * 1024
_MAX_ENTRIES = 10_000
_MAX_MAP_ROWS = 200_000
_CHUNK = 1024 * 1024
# A DTD is the only way to declare entities; neither belongs in an XLSX part. Searched for in
# ASCII/UTF-8 and both UTF-16 byte orders, case-insensitively (bytes.lower() only touches A-Z).
_DTD_MARKERS = tuple(m.encode(enc) for m in ("<!doctype", "<!entity")
                     for enc in ("ascii", "utf-16-le", "utf-16-be"))
_OVERLAP = max(len(m) for m in _DTD_MARKERS)

Value = int | float | str | date | None
_BIN = re.compile(r"[0-9]{12}", re.ASCII)


class WorkbookError(Exception):
    """A workbook that cannot be read; `code` is stable for clients and rejection events."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class FilledWorkbook:
    form_code: str
    form_version: int
    participant_bin: str | None
    period: str | None
    values: dict[str, Value] = field(default_factory=dict)


# --- writing ------------------------------------------------------------------------------

_INPUT_FILL = "FFF2CC"  # pale yellow: the convention for "type here" in Kazakh statistical forms
_HEADER_FILL = "D9E1F2"
_ERROR_TITLE = "Қате мән / Неверное значение"  # Excel allows at most 32 characters
_MESSAGES = {
    FieldType.integer: "Бүтін теріс емес сан енгізіңіз. / Введите целое неотрицательное число.",
    FieldType.decimal: "Теріс емес сан енгізіңіз. / Введите неотрицательное число.",
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


class _Writer:
    def __init__(self, form: FormDefinition) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side

        self.form = form
        self.wb = Workbook()
        self.ws = self.wb.active
        self.ws.title = FORM_SHEET
        self.row = 1
        # (code, coordinate, type, options) of every input cell, in map order
        self.inputs: list[tuple[str, str, FieldType, list[str]]] = []
        self.width = max([len(s.columns) + 1 for s in form.sections] + [3])
        thin = Side(style="thin", color="808080")
        self.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        self.bold = Font(bold=True)
        self.hint_font = Font(italic=True, color="595959", size=9)
        self.wrap = Alignment(wrap_text=True, vertical="center")
        self.header_fill = PatternFill("solid", fgColor=_HEADER_FILL)
        self.input_fill = PatternFill("solid", fgColor=_INPUT_FILL)
        self.unlocked = Protection(locked=False)

    # layout helpers

    def banner(self, text: str, size: int = 11) -> None:
        from openpyxl.styles import Font

        cell = put(self.ws, self.row, 1, text)
        cell.font = Font(bold=True, size=size)
        cell.alignment = self.wrap
        self.ws.merge_cells(start_row=self.row, start_column=1, end_row=self.row, end_column=self.width)
        total_width = _TITLE_WIDTH + _VALUE_WIDTH * (self.width - 1)
        self.ws.row_dimensions[self.row].height = 16 * _lines(text, total_width) + 2
        self.row += 1

    def label(self, row: int, col: int, text: str, *, header: bool = False):
        cell = put(self.ws, row, col, text)
        cell.alignment = self.wrap
        cell.border = self.border
        if header:
            cell.font = self.bold
            cell.fill = self.header_fill
        return cell

    def input(self, row: int, col: int, code: str, f_type: FieldType, options: list[str] | None = None,
              value: str | None = None) -> None:
        cell = put(self.ws, row, col, value)
        cell.protection = self.unlocked
        cell.fill = self.input_fill
        cell.border = self.border
        cell.number_format = _NUMBER_FORMATS[f_type]
        self.inputs.append((code, cell.coordinate, f_type, list(options or [])))

    # parts of the sheet

    def header(self, participant_bin: str | None, period: str | None) -> None:
        form = self.form
        self.banner(form.title_kk, size=13)
        self.banner(form.title_ru, size=12)
        self.row += 1
        for title, value in (("Нысан коды / Код формы", form.code),
                             ("Нысан нұсқасы / Версия формы", form.version)):
            self.label(self.row, 1, title, header=True)
            self.label(self.row, 2, value)
            self.row += 1
        self.label(self.row, 1, "Ұйымның БСН / БИН организации", header=True)
        self.input(self.row, 2, BIN_CODE, FieldType.text, value=participant_bin)
        put(self.ws, self.row, 3, "12 сан / 12 цифр").font = self.hint_font
        self.row += 1
        self.label(self.row, 1, "Есепті кезең / Отчётный период", header=True)
        self.input(self.row, 2, PERIOD_CODE, FieldType.text, value=period)
        put(self.ws, self.row, 3, "мысалы / например: 2026, 2026-Q3, 2026-10").font = self.hint_font
        self.row += 1
        put(self.ws, self.row, 1, "Сары ұяшықтарды толтырыңыз. / Заполните жёлтые ячейки.").font = self.hint_font
        self.row += 2

    def section(self, sec) -> None:
        self.banner(f"{sec.title_kk} / {sec.title_ru}")
        head = self.row
        self.label(head, 1, "Көрсеткіш / Показатель", header=True)
        tallest = 1
        for j, col in enumerate(sec.columns, start=2):
            text = f"{col.title_kk} / {col.title_ru}" + (f", {col.unit}" if col.unit else "")
            self.label(head, j, text, header=True)
            tallest = max(tallest, _lines(text, _VALUE_WIDTH))
        self.ws.row_dimensions[head].height = 15 * tallest + 2
        self.row += 1
        for r in sec.rows:
            text = f"{r.title_kk} / {r.title_ru}"
            self.label(self.row, 1, text)
            self.ws.row_dimensions[self.row].height = 15 * _lines(text, _TITLE_WIDTH) + 2
            for j, col in enumerate(sec.columns, start=2):
                self.input(self.row, j, f"{sec.code}.{r.code}.{col.code}", col.type, col.options)
            self.row += 1
        self.row += 1

    def flat_fields(self, fields: list[FormField]) -> None:
        self.banner("Көрсеткіштер / Показатели")
        self.label(self.row, 1, "Көрсеткіш / Показатель", header=True)
        self.label(self.row, 2, "Мәні / Значение", header=True)
        self.row += 1
        for f in fields:
            text = f.title + (f", {f.unit}" if f.unit else "")
            self.label(self.row, 1, text)
            self.ws.row_dimensions[self.row].height = 15 * _lines(text, _TITLE_WIDTH) + 2
            self.input(self.row, 2, f.code, f.type, f.options)
            hint = None
            if f.type == FieldType.enumeration:
                hint = "Мәндер / Значения: " + " | ".join(f.options)
            elif f.type == FieldType.date:
                hint = "КК.АА.ЖЖЖЖ / ДД.ММ.ГГГГ"
            if hint:
                put(self.ws, self.row, 3, hint).font = self.hint_font
            self.row += 1
        self.row += 1

    # validation, map, protection

    def validations(self, map_ws) -> None:
        """One data validation per kind of input, made when its first cell needs it."""
        from openpyxl.utils import get_column_letter
        from openpyxl.worksheet.datavalidation import DataValidation

        def make(message: str, **kw) -> DataValidation:
            v = DataValidation(allow_blank=True, showErrorMessage=True, errorStyle="stop",
                               errorTitle=_ERROR_TITLE, error=message, **kw)
            self.ws.add_data_validation(v)
            return v

        made: dict[object, DataValidation] = {}
        list_col = 7  # option lists too long to inline live on the map sheet, from column G on
        for code, coord, f_type, options in self.inputs:
            key: object = code if code.startswith("@") else (f_type, tuple(options))
            if key not in made:
                if code == BIN_CODE:
                    made[key] = make("БСН 12 цифрдан тұрады. / БИН состоит из 12 цифр.",
                                     type="textLength", operator="equal", formula1="12")
                elif code == PERIOD_CODE:
                    made[key] = make("Кезең: 2026, 2026-Q3, 2026-10. / Период: 2026, 2026-Q3, 2026-10.",
                                     type="textLength", operator="lessThanOrEqual", formula1="20")
                elif f_type == FieldType.enumeration:
                    inline = ",".join(options)
                    # An inline list holds at most 255 characters and no commas or quotes.
                    if len(inline) <= 250 and not any("," in o or '"' in o for o in options):
                        formula = f'"{inline}"'
                    else:
                        letter = get_column_letter(list_col)
                        for i, option in enumerate(options, start=1):
                            # the list's values are what a cell may hold: exact, never a formula
                            put(map_ws, i, list_col, option, neutralised=False)
                        formula = f"'{MAP_SHEET}'!${letter}$1:${letter}${max(len(options), 1)}"
                        list_col += 1
                    made[key] = make(_MESSAGES[f_type], type="list", formula1=formula)
                elif f_type == FieldType.integer:
                    made[key] = make(_MESSAGES[f_type], type="whole", operator="greaterThanOrEqual",
                                     formula1="0")
                elif f_type == FieldType.decimal:
                    made[key] = make(_MESSAGES[f_type], type="decimal", operator="greaterThanOrEqual",
                                     formula1="0")
                elif f_type == FieldType.date:
                    made[key] = make(_MESSAGES[f_type], type="date", operator="between",
                                     formula1="DATE(1990,1,1)", formula2="DATE(2099,12,31)")
                else:
                    made[key] = make(_MESSAGES[f_type], type="textLength", operator="lessThanOrEqual",
                                     formula1="1000")
            made[key].add(coord)

    def write_map(self, map_ws) -> None:
        rows = [["form_code", self.form.code], ["form_version", self.form.version],
                ["format_version", FORMAT_VERSION], list(_MAP_HEADER)]
        rows += [[code, FORM_SHEET, coord, f_type.value] for code, coord, f_type, _ in self.inputs]
        for r, values in enumerate(rows, start=1):
            for c, value in enumerate(values, start=1):
                put(map_ws, r, c, value, neutralised=False)  # read back exactly by _read_map

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
    w = _Writer(form)
    w.header(participant_bin, period)
    for sec in form.sections:
        w.section(sec)
    if form.fields:
        w.flat_fields(form.fields)
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


def _read_map(wb) -> tuple[str, int, list[tuple[str, str, str, FieldType]]]:
    from openpyxl.utils.cell import coordinate_to_tuple

    if MAP_SHEET not in wb.sheetnames:
        raise WorkbookError("XLSX_NO_MAP", "the workbook was not made from a UISE template "
                                           "(download the form's template and fill that in)")

    def bad(why: str) -> WorkbookError:
        return WorkbookError("XLSX_MAP_INVALID", f"the template's map is damaged: {why}")

    rows = []
    for n, row in enumerate(wb[MAP_SHEET].iter_rows(min_col=1, max_col=4, values_only=True), start=1):
        if n > _MAX_MAP_ROWS:
            raise bad("too many rows")
        rows.append(tuple(row) + (None,) * (4 - len(row)))
    if len(rows) < _MAP_FIRST_ROW - 1:
        raise bad("the header rows are missing")
    keys = [r[0] for r in rows[:3]]
    if keys != ["form_code", "form_version", "format_version"] or rows[3] != _MAP_HEADER:
        raise bad("unexpected header rows")
    form_code, form_version, format_version = (r[1] for r in rows[:3])
    if not isinstance(form_code, str) or not form_code.strip():
        raise bad("no form code")
    try:
        form_version = int(form_version)
        format_version = int(format_version)
    except (TypeError, ValueError):
        raise bad("the form or format version is not a number") from None
    if format_version != FORMAT_VERSION:
        raise bad(f"format version {format_version} is not supported (expected {FORMAT_VERSION})")
    cells: list[tuple[str, str, str, FieldType]] = []
    seen: set[str] = set()
    for n, (code, sheet, coord, f_type) in enumerate(rows[4:], start=_MAP_FIRST_ROW):
        if code is None and sheet is None and coord is None and f_type is None:
            continue
        if not isinstance(code, str) or not code or code in seen:
            raise bad(f"row {n}: missing or repeated cell code {code!r}")
        if sheet not in wb.sheetnames or sheet == MAP_SHEET:
            raise bad(f"row {n}: sheet {sheet!r} is not in the workbook")
        try:
            coordinate_to_tuple(str(coord))
            f_type = FieldType(f_type)
        except (ValueError, TypeError, AttributeError):
            raise bad(f"row {n}: bad coordinate {coord!r} or type {f_type!r}") from None
        seen.add(code)
        cells.append((code, sheet, str(coord).upper(), f_type))
    if not cells:
        raise bad("no cells")
    return form_code.strip(), form_version, cells


def _grid(ws, coords: list[str]) -> dict[str, object]:
    """The values at `coords`, read in one pass over their bounding box (read-only mode has no
    cheap random access)."""
    from openpyxl.utils.cell import coordinate_to_tuple

    wanted = {coordinate_to_tuple(c): c for c in coords}
    rows = [r for r, _ in wanted]
    cols = [c for _, c in wanted]
    out: dict[str, object] = {}
    min_row, min_col = min(rows), min(cols)
    for i, row in enumerate(ws.iter_rows(min_row=min_row, max_row=max(rows), min_col=min_col,
                                         max_col=max(cols), values_only=True)):
        for j, value in enumerate(row):
            coord = wanted.get((min_row + i, min_col + j))
            if coord is not None:
                out[coord] = value
    return out


def _number_text(v: int | float) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _convert(value: object, f_type: FieldType, epoch: datetime) -> Value:
    """A cell's value as the map's type says; what does not fit is passed on as text for
    validation to report, never dropped or coerced into something else."""
    from openpyxl.utils.datetime import from_excel

    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):  # a bool is an int to Python, not a figure to UISE
        return str(value).upper()
    if isinstance(value, datetime):
        value = value.date()
    if f_type == FieldType.date:
        if isinstance(value, date):
            return value
        if isinstance(value, int | float):
            # A date typed into a cell whose format was changed to General arrives as a serial.
            try:
                return from_excel(value, epoch).date()
            except (ValueError, OverflowError, TypeError):
                return _number_text(value)
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        if f_type == FieldType.integer:
            return int(value) if float(value).is_integer() else float(value)
        if f_type == FieldType.decimal:
            return float(value)
        return _number_text(value)
    return str(value)


def _header_text(value: object, *, digits: int | None = None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = _number_text(value)
        # Excel drops leading zeros when a BIN was pasted as a number into the text cell.
        if digits and text.isdigit() and len(text) < digits:
            text = text.zfill(digits)
        return text
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip() or None


def read_workbook(data: bytes, *, max_uncompressed: int = 50 * 1024 * 1024,
                  max_ratio: int = 100) -> FilledWorkbook:
    """The values of a workbook filled from a template, by cell code. Raises WorkbookError."""
    inspect_zip(data, max_uncompressed, max_ratio)
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about extensions it does not keep
            # data_only: a formula typed into an input cell counts by the value Excel computed.
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # any parser failure on untrusted input is the sender's problem
        raise WorkbookError("XLSX_UNREADABLE", f"the workbook cannot be opened: {exc}") from exc
    try:
        form_code, form_version, cells = _read_map(wb)
        by_sheet: dict[str, list[str]] = {}
        for _, sheet, coord, _ in cells:
            by_sheet.setdefault(sheet, []).append(coord)
        try:
            raw = {sheet: _grid(wb[sheet], coords) for sheet, coords in by_sheet.items()}
        except Exception as exc:
            raise WorkbookError("XLSX_UNREADABLE", f"the workbook cannot be read: {exc}") from exc
        values: dict[str, Value] = {}
        header: dict[str, object] = {}
        for code, sheet, coord, f_type in cells:
            value = raw[sheet].get(coord)
            if code.startswith("@"):
                header[code] = value
            else:
                values[code] = _convert(value, f_type, wb.epoch)
        return FilledWorkbook(form_code=form_code, form_version=form_version,
                              participant_bin=_header_text(header.get(BIN_CODE), digits=12),
                              period=_header_text(header.get(PERIOD_CODE)), values=values)
    finally:
        wb.close()

"""A narrow, bounded reader of the SpreadsheetML inside an uploaded XLSX (ECMA-376 part 1, §18):
just enough to take the raw text of chosen cells, and to refuse what a filled-in template never
holds. uise_common.workbook decides which cells and which bounds; this module walks the XML.

Why not openpyxl for reading: openpyxl turns a numeric cell's `<v>` into a float or an int before
the caller sees it (`<v>1E999</v>` becomes inf, 4,000 digits an int past Python's conversion
limit, 0.1 a binary fraction), and its read-only mode pads every row out to the column asked
for. Exact values need the stored text, and a bounded cost needs a walk that stops at the first
cell outside the template. The XML is parsed by the standard library's expat through iterparse,
after `inspect_zip` has refused any DOCTYPE/ENTITY, so no entity is ever expanded.

Every walk has a budget of XML elements, derived by the caller from the template's own size:
Python-level work is bounded by the form's cells, and the bytes expat reads by the zip limits.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from xml.etree import ElementTree as ET

MAX_ROW, MAX_COLUMN = 1_048_576, 16_384  # Excel's grid

_OFFICE_DOCUMENT = "/officeDocument"
_WORKSHEET = "/worksheet"
_SHARED_STRINGS = "/sharedStrings"
_HYPERLINK = "/hyperlink"

# Parts that reach outside the workbook (links to other files, data connections, web queries)
# or carry code; none is in a template. Compared in lower case: part names are case-insensitive.
_LINK_PARTS = ("xl/externallinks/", "xl/connections.xml", "xl/querytables/")
_ACTIVE_PARTS = ("xl/vbaproject.bin", "xl/activex/", "xl/embeddings/", "xl/ctrlprops/")

# Functions that fetch from the network, open links, or call out of Excel (DDE, RTD, XLM CALL).
# Excel stores newer functions with an `_xlfn.` prefix, which the word boundary still matches.
_NETWORK_FUNCTIONS = re.compile(
    r"\b(?:_xlfn\.|_xlws\.)?(WEBSERVICE|FILTERXML|ENCODEURL|HYPERLINK|IMAGE|RTD|STOCKHISTORY|"
    r"IMPORT(?:XML|DATA|HTML|FEED|RANGE)|CUBE[A-Z]*|CALL|REGISTER(?:\.ID)?|EXEC|SQL\.REQUEST)\s*\(",
    re.IGNORECASE | re.ASCII)
# References to another workbook: `[1]Sheet!A1` (an externalLinks index), a path or URL in a
# quoted sheet name ('\\server\share\[x.xlsx]S'!A1, 'https://…'), or DDE (`cmd|' /C calc'!A0`).
_EXTERNAL_REFERENCE = re.compile(r"\[[0-9]+\]|\\\\|[A-Za-z][A-Za-z0-9+.-]*://|[A-Za-z0-9_.]\|", re.ASCII)

_REF = re.compile(r"([A-Za-z]{1,3})([1-9][0-9]{0,6})", re.ASCII)


class SheetError(Exception):
    """What makes a workbook unreadable or unacceptable; `code` is stable, `cell` is `sheet!A1`
    when one cell is to blame."""

    def __init__(self, code: str, message: str, cell: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.cell = cell


def shown(text: str | None, limit: int = 60) -> str:
    """Untrusted text cut short for a message."""
    text = "" if text is None else text
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def column_letter(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def coordinate(row: int, column: int) -> str:
    return f"{column_letter(column)}{row}"


def parse_ref(ref: str) -> tuple[int, int] | None:
    """(row, column) of an A1 reference, or None when it is not one inside Excel's grid."""
    m = _REF.fullmatch(ref)
    if not m:
        return None
    column = 0
    for ch in m.group(1).upper():
        column = column * 26 + ord(ch) - 64
    row = int(m.group(2))
    return (row, column) if row <= MAX_ROW and column <= MAX_COLUMN else None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def check_formula(text: str | None, where: str) -> None:
    """Refuse a formula that reaches outside the workbook. Used on every formula found anywhere
    (cells, defined names, data validations, conditional formats)."""
    if not text:
        return
    if m := _NETWORK_FUNCTIONS.search(text):
        raise SheetError("XLSX_NETWORK_FUNCTION",
                         f"{where}: the formula calls {m.group(1).upper()}, which reaches outside the "
                         f"workbook: {shown(text)}", where if "!" in where else None)
    if _EXTERNAL_REFERENCE.search(text):
        raise SheetError("XLSX_EXTERNAL_LINK",
                         f"{where}: the formula refers to another file or address: {shown(text)}",
                         where if "!" in where else None)


def events(zf: zipfile.ZipFile, name: str, budget: int) -> Iterator[tuple[str, ET.Element]]:
    """("start"|"end", element) of one part, refusing a part with more than `budget` elements."""
    try:
        with zf.open(name) as fh:
            count = 0
            for event, elem in ET.iterparse(fh, events=("start", "end")):
                if event == "start":
                    count += 1
                    if count > budget:
                        raise SheetError("XLSX_RANGE_EXCEEDED",
                                         f"{name} holds more than the form's template ({budget} XML elements)")
                yield event, elem
    except SheetError:
        raise
    except (ET.ParseError, zipfile.BadZipFile, zlib.error, KeyError, OSError, EOFError, ValueError,
            LookupError, RuntimeError, NotImplementedError) as exc:
        raise SheetError("XLSX_UNREADABLE", f"{name} cannot be read: {shown(str(exc), 200)}") from exc


# --- the package: parts, relationships, sheets ------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    name: str
    part: str  # the zip entry of its XML


@dataclass(frozen=True)
class Book:
    sheets: dict[str, Sheet]
    shared_strings: str | None
    date1904: bool


def _rels_name(part: str) -> str:
    folder, base = posixpath.split(part)
    return posixpath.join(folder, "_rels", base + ".rels")


def _target(source: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


def _relationships(zf: zipfile.ZipFile, name: str, budget: int) -> list[dict[str, str]]:
    out = []
    for event, elem in events(zf, name, budget):
        if event == "end" and _local(elem.tag) == "Relationship":
            out.append(dict(elem.attrib))
    return out


def _refuse_links_and_code(zf: zipfile.ZipFile, budget: int) -> None:
    for info in zf.infolist():
        low = info.filename.lower()
        if low.startswith(_LINK_PARTS):
            raise SheetError("XLSX_EXTERNAL_LINK", f"the workbook links to other files or data sources ({info.filename})")
        if low.startswith(_ACTIVE_PARTS):
            raise SheetError("XLSX_ACTIVE_CONTENT", f"the workbook carries macros or embedded objects ({info.filename})")
    for info in zf.infolist():
        if not info.filename.lower().endswith(".rels"):
            continue
        for rel in _relationships(zf, info.filename, budget):
            # A hyperlink is followed only when clicked, and Excel makes one by itself when an
            # e-mail address is typed into a text cell: it is not a reason to refuse a document.
            if rel.get("TargetMode") == "External" and not rel.get("Type", "").endswith(_HYPERLINK):
                raise SheetError("XLSX_EXTERNAL_LINK",
                                 f"the workbook links to {shown(rel.get('Target'))} outside itself")


def open_book(zf: zipfile.ZipFile, budget: int) -> Book:
    """The sheets of a workbook, after refusing external links, data connections, macros and
    network-reaching formulas in defined names."""
    _refuse_links_and_code(zf, budget)
    names = set(zf.namelist())
    workbook = "xl/workbook.xml"
    if "_rels/.rels" in names:
        for rel in _relationships(zf, "_rels/.rels", budget):
            if rel.get("Type", "").endswith(_OFFICE_DOCUMENT):
                workbook = _target("", rel.get("Target", ""))
    if workbook not in names:
        raise SheetError("XLSX_UNREADABLE", "the archive has no workbook part")
    rels = {}
    if _rels_name(workbook) in names:
        rels = {r.get("Id"): r for r in _relationships(zf, _rels_name(workbook), budget)}
    declared: list[tuple[str, str | None]] = []
    date1904 = False
    for event, elem in events(zf, workbook, budget):
        if event != "end":
            continue
        tag = _local(elem.tag)
        if tag == "sheet":
            rid = next((v for k, v in elem.attrib.items() if _local(k) == "id" and k.startswith("{")), None)
            declared.append((elem.get("name", ""), rid))
        elif tag == "workbookPr":
            date1904 = elem.get("date1904", "").lower() in ("1", "true")
        elif tag == "definedName":
            check_formula(elem.text, f"the defined name {shown(elem.get('name'), 40)}")
        elif tag == "externalReference":
            raise SheetError("XLSX_EXTERNAL_LINK", "the workbook refers to another workbook")
    sheets: dict[str, Sheet] = {}
    for name, rid in declared:
        rel = rels.get(rid)
        if rel is None or name in sheets:
            raise SheetError("XLSX_UNREADABLE", f"the sheet {shown(name, 40)!r} has no part or is listed twice")
        part = _target(workbook, rel.get("Target", ""))
        if part not in names:
            raise SheetError("XLSX_UNREADABLE", f"the sheet {shown(name, 40)!r} is missing from the archive")
        sheets[name] = Sheet(name, part)
    strings = next((_target(workbook, r.get("Target", "")) for r in rels.values()
                    if r.get("Type", "").endswith(_SHARED_STRINGS)), None)
    return Book(sheets=sheets, shared_strings=strings if strings in names else None, date1904=date1904)


# --- cells --------------------------------------------------------------------------------

Kind = Literal["number", "text", "bool", "error", "date"]


@dataclass
class Found:
    """A wanted cell as stored: `text` is `<v>` (or the inline string), unresolved for a shared
    string (`shared` holds its index until `resolve_strings`)."""

    kind: Kind
    text: str
    formula: bool = False
    shared: int | None = None


@dataclass
class Scan:
    found: dict[str, Found | None]  # by the caller's key; None: the cell is there but empty
    formulas: dict[str, str]  # key -> sheet!A1 of every wanted cell holding a formula
    cells: int  # <c> elements walked


def _check_dimension(ref: str | None, sheet: str, bounds: tuple[int, int] | None) -> None:
    if not ref or bounds is None:
        return
    last = ref.split(":")[-1]
    pos = parse_ref(last)
    if pos is None:
        raise SheetError("XLSX_UNREADABLE", f"sheet {sheet}: the used range {shown(ref, 40)} is not a range")
    # An empty sheet declares A1 (Excel and openpyxl alike): allowed even where no cell is.
    if pos[0] > max(bounds[0], 1) or pos[1] > max(bounds[1], 1):
        raise SheetError("XLSX_RANGE_EXCEEDED",
                         f"sheet {sheet}: the used range {shown(ref, 40)} is larger than the template's "
                         f"A1:{coordinate(*bounds)}", f"{sheet}!{coordinate(*pos)}")


def _finish(cell: dict) -> Found | None:
    t, v = cell["t"], cell["v"]
    if t == "s":
        if v is None or not (v.isascii() and v.strip().isdigit()) or len(v.strip()) > 9:
            raise SheetError("XLSX_UNREADABLE", f"{cell['ref']}: a shared string index that is not one")
        return Found("text", "", cell["f"], shared=int(v))
    if t == "inlineStr":
        return Found("text", "".join(cell["is"]), cell["f"])
    if v is None:
        return Found("text", "", True) if cell["f"] else None
    kind: Kind
    if t == "str":
        kind = "text"
    elif t == "b":
        kind = "bool"
    elif t == "e":
        kind = "error"
    elif t == "d":
        kind = "date"
    elif t == "n":
        kind = "number"
    else:
        raise SheetError("XLSX_UNREADABLE", f"{cell['ref']}: unknown cell type {shown(t, 20)!r}")
    return Found(kind, v, cell["f"])


def scan_sheet(zf: zipfile.ZipFile, sheet: Sheet, *, bounds: tuple[int, int] | None,
               wanted: dict[tuple[int, int], str], budget: int, stop_after_row: int | None = None) -> Scan:
    """One walk over a worksheet: the wanted cells (by the caller's key), refusing any cell or
    declared used range beyond `bounds` (rows, columns), a cell given twice, and any formula
    that reaches outside the workbook. With `stop_after_row` the walk ends at that row."""
    found: dict[str, Found | None] = {}
    formulas: dict[str, str] = {}
    stack: list[str] = []
    seen: set[tuple[int, int]] = set()
    row = col = cells = 0
    cell: dict | None = None
    for event, elem in events(zf, sheet.part, budget):
        tag = _local(elem.tag)
        if event == "start":
            stack.append(tag)
            if tag == "row":
                r = elem.get("r")
                if r is None:
                    row += 1
                elif r.isascii() and r.isdigit() and 0 < int(r) <= MAX_ROW:
                    row = int(r)
                else:
                    raise SheetError("XLSX_UNREADABLE", f"sheet {sheet.name}: a row numbered {shown(r, 20)!r}")
                if stop_after_row is not None and row > stop_after_row:
                    break
                col = 0
            elif tag == "c":
                r = elem.get("r")
                pos = (row, col + 1) if r is None else parse_ref(r)
                if pos is None or pos[0] == 0:
                    raise SheetError("XLSX_UNREADABLE", f"sheet {sheet.name}: a cell at {shown(r, 20)!r}")
                ref = f"{sheet.name}!{coordinate(*pos)}"
                cells += 1
                if bounds is not None and (pos[0] > bounds[0] or pos[1] > bounds[1]):
                    raise SheetError("XLSX_RANGE_EXCEEDED",
                                     f"{ref} is outside the template's cells (A1:{coordinate(*bounds)})", ref)
                if pos in seen:
                    raise SheetError("XLSX_UNREADABLE", f"{ref} is given twice", ref)
                seen.add(pos)
                col = pos[1]
                cell = {"pos": pos, "ref": ref, "t": elem.get("t", "n"), "v": None, "f": False, "is": []}
            elif tag == "dimension":
                _check_dimension(elem.get("ref"), sheet.name, bounds)
            continue
        stack.pop()
        if cell is not None and tag == "f":
            cell["f"] = True
            check_formula(elem.text, cell["ref"])
        elif cell is not None and tag == "v":
            cell["v"] = elem.text or ""
        elif cell is not None and tag == "t" and "is" in stack and "rPh" not in stack:
            cell["is"].append(elem.text or "")
        elif tag in ("formula", "formula1", "formula2"):  # data validations, conditional formats
            check_formula(elem.text, f"sheet {sheet.name}")
        elif tag == "c" and cell is not None:
            key = wanted.get(cell["pos"])
            if key is not None:
                found[key] = _finish(cell)
                if cell["f"]:
                    formulas[key] = cell["ref"]
            cell = None
            elem.clear()
        elif tag == "row":
            elem.clear()
    return Scan(found=found, formulas=formulas, cells=cells)


def resolve_strings(zf: zipfile.ZipFile, book: Book, cells: list[Found], *, limit: int, budget: int) -> None:
    """Fill in the text of the shared strings `cells` use, walking the table only as far as the
    highest index needed; an index above `limit` (more strings than the template has cells) or
    past the table's end is refused."""
    wanted = {c.shared for c in cells if c.shared is not None}
    if not wanted:
        return
    top = max(wanted)
    if top >= limit or book.shared_strings is None:
        raise SheetError("XLSX_UNREADABLE", f"a cell refers to shared string {top}, which is not there")
    texts: dict[int, str] = {}
    index = -1
    parts: list[str] = []
    stack: list[str] = []
    for event, elem in events(zf, book.shared_strings, budget):
        tag = _local(elem.tag)
        if event == "start":
            stack.append(tag)
            if tag == "si":
                index += 1
                if index > top:
                    break
                parts = []
            continue
        stack.pop()
        if tag == "t" and index in wanted and "rPh" not in stack:  # phonetic runs are not the text
            parts.append(elem.text or "")
        elif tag == "si":
            if index in wanted:
                texts[index] = "".join(parts)
            elem.clear()
    missing = wanted - set(texts)
    if missing:
        raise SheetError("XLSX_UNREADABLE", f"a cell refers to shared string {min(missing)}, which is not there")
    for c in cells:
        if c.shared is not None:
            c.text = texts[c.shared]
            c.shared = None

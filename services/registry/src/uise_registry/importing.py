"""Bulk import and export of participants (CSV or XLSX), as pure planning: `plan` says what a file
would create, update, leave alone and refuse — row by row, with a stable code — and touches no
database. The caller stores `created + updated` (handlers.store_participant) in one transaction.

Columns (header row, any order, any case): bin, level, kind, parent_bin, name_kk, name_ru, kato,
head_iin, head_name, head_from, active_from, active_to. Dates are ISO YYYY-MM-DD (or XLSX date
cells). An optional column left out of the file, or a blank kato / active_from / head_* cell,
keeps what the registry has; a blank active_to (in a file that has the column) means "open".

Codes of a refused row: BIN_FORMAT, BIN_CHECKSUM, DUPLICATE_BIN, LEVEL_UNKNOWN,
KIND_NOT_ALLOWED_AT_LEVEL, LEVEL_CHANGE, MINISTRY_PARENT, PARENT_REQUIRED, NAME_REQUIRED, TEXT_INVALID,
KATO_FORMAT, DATE_INVALID, IIN_FORMAT, IIN_CHECKSUM, HEAD_DATE_INVALID, PARTICIPANT_CLOSED, PARENT_HISTORY (per row); CYCLE,
PARENT_UNKNOWN, PARENT_REJECTED (the parent exists only through a refused row, transitively),
PARENT_WRONG_LEVEL, PARENT_CLOSED, HAS_ACTIVE_CHILDREN (rows together, against the registry).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from uise_common.inputs import FIRST_DAY, LAST_DAY, NAME_MAX, PERSON_NAME_MAX, refused_character
from uise_common.spreadsheets import csv_bytes, restore, xlsx_bytes
from uise_contracts.events import HeadTerm, Level, ParticipantUpserted
from uise_registry import identifiers
from uise_registry.domain import KINDS_BY_LEVEL, PARENT_LEVEL

COLUMNS = ("bin", "level", "kind", "parent_bin", "name_kk", "name_ru", "kato", "head_iin", "head_name",
           "head_from", "active_from", "active_to")
REQUIRED = COLUMNS[:6]
MAX_ROWS = 100_000
# numeric XLSX cells lose leading zeros (a BIN of 2005 starts with 0): pad them back to width
_WIDTH = {"bin": 12, "parent_bin": 12, "head_iin": 12, "kato": 9}
_DATES = ("head_from", "active_from", "active_to")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TEXTS = {"name_kk": NAME_MAX, "name_ru": NAME_MAX, "head_name": PERSON_NAME_MAX}  # as the API's Name, PersonName
_RANK = {level: i for i, level in enumerate(PARENT_LEVEL)}  # ministry 0 … organization 3


class ImportFileError(Exception):
    """The file as a whole cannot be read; `code` is stable (FILE_TYPE, FILE_UNREADABLE,
    COLUMNS_MISSING, TOO_MANY_ROWS)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class RawRow:
    row_no: int  # as in the file: the header is row 1
    values: dict[str, str]  # only the columns the file has


@dataclass
class Rejection:
    row_no: int
    bin: str
    code: str
    message: str


@dataclass
class ImportPlan:
    created: list[ParticipantUpserted] = field(default_factory=list)
    updated: list[ParticipantUpserted] = field(default_factory=list)  # the new state
    ignored: list[int] = field(default_factory=list)  # row numbers identical to the registry
    rejected: list[Rejection] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {"imported": len(self.created), "updated": len(self.updated), "ignored": len(self.ignored),
                "rejected": len(self.rejected)}


# --- reading ------------------------------------------------------------------------------


def read_rows(data: bytes, filename: str) -> list[RawRow]:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext == "csv":
        table = _csv_table(data)
    elif ext == "xlsx":
        table = _xlsx_table(data)
    else:
        raise ImportFileError("FILE_TYPE", f"'{filename}': upload a .csv or .xlsx file")
    try:
        header = [str(h or "").strip().lower() for h in next(table, [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ImportFileError("COLUMNS_MISSING", f"missing column(s): {', '.join(missing)}")
        where = {c: header.index(c) for c in COLUMNS if c in header}  # the first of repeated headers
        rows: list[RawRow] = []
        for row_no, cells in enumerate(table, start=2):
            values = {c: _text(cells[i] if i < len(cells) else None, c) for c, i in where.items()}
            if not any(values.values()):
                continue  # blank lines (XLSX keeps formatted empty rows) are not rows
            if len(rows) == MAX_ROWS:
                raise ImportFileError("TOO_MANY_ROWS", f"more than {MAX_ROWS:,} rows: split the file")
            rows.append(RawRow(row_no, values))
        return rows
    except ImportFileError:
        raise
    except Exception as exc:  # csv.Error, a broken zip, a corrupt sheet: all the same to the user
        raise ImportFileError("FILE_UNREADABLE", f"'{filename}' cannot be read: {exc}") from exc


def _csv_table(data: bytes) -> Iterator[list]:
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as exc:
        # no cp1251 fallback: it has no ә, ғ, қ, ң, ө, ұ, ү, і and would garble Kazakh names
        raise ImportFileError("FILE_UNREADABLE", "the CSV is not UTF-8: save it as 'CSV UTF-8'") from exc
    first = text.split("\n", 1)[0]
    # Excel in a Russian or Kazakh locale writes ';' between fields
    delimiter = max([",", ";", "\t"], key=first.count)
    return iter(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _xlsx_table(data: bytes) -> Iterator[tuple]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ImportFileError("FILE_UNREADABLE", f"not a readable XLSX workbook: {exc}") from exc

    def rows() -> Iterator[tuple]:
        try:
            yield from book.worksheets[0].iter_rows(values_only=True)
        finally:
            book.close()

    return rows()


def _text(value: object, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and column in _WIDTH:
        return str(value).zfill(_WIDTH[column])
    if isinstance(value, str):
        # an export neutralised text a spreadsheet would take for a formula: read it back as it was
        return restore(value.strip()).strip()
    return str(value).strip()


# --- planning -----------------------------------------------------------------------------


class _Reject(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def plan(rows: Iterable[RawRow], existing: Mapping[str, ParticipantUpserted], test_mode: bool = False,
         *, today: date) -> ImportPlan:
    """What importing `rows` into a registry holding `existing` would do. `today` dates a new head
    without head_from and decides `active`; it is a parameter so a plan is reproducible."""
    out = ImportPlan()
    first_row: dict[str, RawRow] = {}  # BIN → its first row in the file
    good: dict[str, tuple[RawRow, ParticipantUpserted]] = {}  # BIN → row and new state, still standing
    rejected_bins: set[str] = set()

    def reject(row: RawRow, code: str, message: str) -> None:
        out.rejected.append(Rejection(row.row_no, row.values.get("bin", ""), code, message))

    # 1. each row on its own
    for row in rows:
        bin_ = row.values.get("bin", "")
        earlier = first_row.setdefault(bin_, row)
        try:
            if code := identifiers.check(bin_, "BIN", test_mode):
                raise _Reject(code, f"'{bin_}' is not a valid BIN (12 digits, the last a control digit)")
            if earlier is not row:
                raise _Reject("DUPLICATE_BIN", f"BIN {bin_} is already on row {earlier.row_no}")
            good[bin_] = (row, _state(row, existing.get(bin_), test_mode, today))
        except _Reject as exc:
            reject(row, exc.code, str(exc))
            if earlier is row:  # its new children will be PARENT_REJECTED, not PARENT_UNKNOWN
                rejected_bins.add(bin_)

    # 2. the rows together: parents, levels, loops. A rejection can orphan other rows, so repeat
    # until nothing changes (the four levels keep this to a handful of rounds).
    while True:
        state = {**existing, **{b: event for b, (_, event) in good.items()}}
        loops = _on_cycles({b: p.parent_id for b, p in state.items()})
        open_children: dict[str, list[date | None]] = {}  # parent → its children's last days (None: open)
        for p in state.values():
            if p.parent_id:
                open_children.setdefault(p.parent_id, []).append(p.active_to)
        fresh = {}
        for b, (row, event) in good.items():
            try:
                _check_place(event, state, loops, rejected_bins, first_row, open_children, existing.get(b))
            except _Reject as exc:
                fresh[b] = (row, exc)
        if not fresh:
            break
        for b, (row, exc) in fresh.items():
            reject(row, exc.code, str(exc))
            rejected_bins.add(b)
            del good[b]

    # 3. sort what stands: parents before children, then file order
    for b, (row, event) in sorted(good.items(), key=lambda kv: (_RANK[kv[1][1].level], kv[1][0].row_no)):
        old = existing.get(b)
        if old is None:
            out.created.append(event)
        elif _same(event, old):
            out.ignored.append(row.row_no)
        else:
            out.updated.append(event)
    out.ignored.sort()
    out.rejected.sort(key=lambda r: r.row_no)
    return out


def _state(row: RawRow, old: ParticipantUpserted | None, test_mode: bool, today: date) -> ParticipantUpserted:
    """The participant as this row would leave it; raises _Reject for what the row alone shows."""
    v = row.values
    try:
        level = Level(v.get("level", "").lower())
    except ValueError:
        raise _Reject("LEVEL_UNKNOWN", f"level '{v.get('level', '')}' is not one of "
                      f"{', '.join(lv.value for lv in Level)}") from None
    kind = v.get("kind", "").lower()
    if kind not in KINDS_BY_LEVEL[level]:
        raise _Reject("KIND_NOT_ALLOWED_AT_LEVEL", f"kind '{kind}' is not allowed at level {level.value} "
                      f"(allowed: {', '.join(sorted(KINDS_BY_LEVEL[level]))})")
    if old is not None and old.level != level:
        raise _Reject("LEVEL_CHANGE", f"{old.bin} is a {old.level.value}; a level cannot change — "
                      "close it and register a new participant")
    parent = v.get("parent_bin") or None
    if level == Level.ministry and parent:
        raise _Reject("MINISTRY_PARENT", "the ministry has no parent")
    if level != Level.ministry and not parent:
        raise _Reject("PARENT_REQUIRED", f"a {level.value} needs a parent_bin")
    if old is not None and old.parents and parent != old.parent_id:
        # as handlers.upsert_participant: a history of parents changes only by a dated move
        raise _Reject("PARENT_HISTORY", f"{old.bin} has moved before; change its parent by a move with its date")
    if not v.get("name_kk") or not v.get("name_ru"):
        raise _Reject("NAME_REQUIRED", "name_kk and name_ru are both required")
    names = {c: _free_text(v, c) for c in _TEXTS}
    kato = v.get("kato") or (old.kato if old else None)
    if kato is not None and not re.fullmatch(r"[0-9]{9}", kato):
        raise _Reject("KATO_FORMAT", f"KATO '{kato}' must be 9 digits")
    head_from, active_from, active_to = (_date(v, c) for c in _DATES)
    active_from = active_from or (old.active_from if old else None)
    if "active_to" not in v:
        active_to = old.active_to if old else None
    if active_from and active_to and active_to < active_from:
        raise _Reject("DATE_INVALID", f"active_to {active_to} is before active_from {active_from}")
    heads = list(old.heads) if old else []
    if iin := v.get("head_iin"):
        if code := identifiers.check(iin, "IIN", test_mode):
            raise _Reject(code, f"head_iin '{iin}' is not a valid IIN")
        heads = _with_head(heads, iin, names["head_name"], head_from or today)
    current = next((h for h in reversed(heads) if h.valid_to is None), None)
    event = ParticipantUpserted(
        participant_id=row.values["bin"], bin=row.values["bin"], level=level, kind=kind, parent_id=parent,
        name_kk=names["name_kk"], name_ru=names["name_ru"], head_iin=current.iin if current else None,
        head_name=current.full_name if current else None, active=active_to is None or active_to >= today,
        kato=kato, active_from=active_from, active_to=active_to, heads=heads,
        staff=old.staff if old else [],  # a file has no staff columns: the head's staff stay
        parents=old.parents if old else [])  # nor a parent history: it stays
    if old is not None and old.active_to is not None and not _same(event, old):
        # as handlers.upsert_participant: a closed participant's record is history
        raise _Reject("PARTICIPANT_CLOSED", f"{old.bin} was closed on {old.active_to}; its record is kept as is")
    return event


def _free_text(values: Mapping[str, str], column: str) -> str:
    """A name as the API takes it (uise_common.inputs.Name, PersonName): NFC, capped, without
    control or invisible characters."""
    text = unicodedata.normalize("NFC", values.get(column, ""))
    if len(text) > _TEXTS[column]:
        raise _Reject("TEXT_INVALID", f"{column} is longer than {_TEXTS[column]} characters")
    if (ch := refused_character(text)) is not None:
        raise _Reject("TEXT_INVALID", f"{column} holds the control or invisible character U+{ord(ch):04X}")
    return text


def _date(values: Mapping[str, str], column: str) -> date | None:
    text = values.get(column, "")
    if not text:
        return None
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise _Reject("DATE_INVALID", f"{column} '{text[:40]}' is not a date YYYY-MM-DD") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _Reject("DATE_INVALID", f"{column} {text} is not between {FIRST_DAY} and {LAST_DAY}")
    return day


def _with_head(heads: list[HeadTerm], iin: str, name: str, since: date) -> list[HeadTerm]:
    """A new head closes the current term the day before `since` (history is kept); the same head
    only has the name corrected — as handlers._set_head does for one participant."""
    at = next((i for i in range(len(heads) - 1, -1, -1) if heads[i].valid_to is None), None)
    current = heads[at] if at is not None else None
    if current is not None and current.iin == iin:
        if name and name != current.full_name:
            heads[at] = current.model_copy(update={"full_name": name})
        return heads
    if current is not None:
        if since <= current.valid_from:
            raise _Reject("HEAD_DATE_INVALID", f"the new head must take office after {current.valid_from}, "
                          f"when the current one did (head_from {since})")
        heads[at] = current.model_copy(update={"valid_to": since - timedelta(days=1)})
    return [*heads, HeadTerm(iin=iin, full_name=name, valid_from=since)]


def _check_place(event: ParticipantUpserted, state: Mapping[str, ParticipantUpserted], loops: set[str],
                 rejected_bins: set[str], first_row: Mapping[str, RawRow],
                 open_children: Mapping[str, list[date | None]],
                 old: ParticipantUpserted | None) -> None:
    parent = event.parent_id
    if event.bin in loops:
        raise _Reject("CYCLE", f"{event.bin} is its own ancestor through parent_bin {parent}")
    if parent is not None:
        # a parent the registry holds stays as it is when its row is refused, and the child is
        # checked against that; a parent that only the refused row would create is missing
        if parent in rejected_bins and parent not in state:
            raise _Reject("PARENT_REJECTED", f"the row of its parent {parent} "
                          f"(row {first_row[parent].row_no}) was rejected")
        if parent not in state:
            raise _Reject("PARENT_UNKNOWN", f"parent {parent} is neither in the registry nor in the file")
        up = state[parent]
        if up.level != PARENT_LEVEL[event.level]:
            raise _Reject("PARENT_WRONG_LEVEL", f"a {event.level.value} needs a parent at level "
                          f"{PARENT_LEVEL[event.level].value}; {parent} is a {up.level.value}")
        if up.active_to is not None and event.active_to is None:
            raise _Reject("PARENT_CLOSED", f"parent {parent} was closed on {up.active_to}")
    closing = event.active_to is not None and (old is None or old.active_to is None)
    still_open = [d for d in open_children.get(event.bin, []) if d is None or (closing and d > event.active_to)]
    if closing and still_open:
        # as handlers.close_participant: subordinates are closed (by the same day) or moved first
        raise _Reject("HAS_ACTIVE_CHILDREN", f"{event.bin} still has {len(still_open)} subordinate(s) open "
                      f"after {event.active_to}")


def _on_cycles(parent_of: Mapping[str, str | None]) -> set[str]:
    """The nodes that are their own ancestors. Each node has at most one parent, so one walk per
    start with a shared 'done' mark finds every loop in linear time."""
    done: set[str] = set()
    out: set[str] = set()
    for start in parent_of:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node in parent_of and node not in done and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = parent_of[node]
        if node in on_path:
            out.update(path[path.index(node):])
        done.update(path)
    return out


def _same(a: ParticipantUpserted, b: ParticipantUpserted) -> bool:
    # `active` is derived from active_to and the day it is computed on: not a change of record
    return a.model_dump(exclude={"active"}) == b.model_dump(exclude={"active"})


# --- export -------------------------------------------------------------------------------


def _row_of(p: ParticipantUpserted) -> dict[str, str]:
    current = next((h for h in reversed(p.heads) if h.valid_to is None), None)
    return {"bin": p.bin, "level": p.level.value, "kind": p.kind, "parent_bin": p.parent_id or "",
            "name_kk": p.name_kk, "name_ru": p.name_ru, "kato": p.kato or "", "head_iin": p.head_iin or "",
            "head_name": p.head_name or "",
            "head_from": current.valid_from.isoformat() if current and current.iin == p.head_iin else "",
            "active_from": p.active_from.isoformat() if p.active_from else "",
            "active_to": p.active_to.isoformat() if p.active_to else ""}


def _ordered(participants: Iterable[ParticipantUpserted]) -> list[ParticipantUpserted]:
    return sorted(participants, key=lambda p: _RANK[p.level])  # stable: a file reads top-down


def rows_from_participants(participants: Iterable[ParticipantUpserted]) -> list[RawRow]:
    """The rows an export would hold, without the file (the seed imports through `plan`)."""
    return [RawRow(n, _row_of(p)) for n, p in enumerate(_ordered(participants), start=2)]


def export_csv(participants: Iterable[ParticipantUpserted]) -> bytes:
    """UTF-8 with a BOM (so Excel reads it as UTF-8); a text that a spreadsheet would take for a
    formula is neutralised (uise_common.spreadsheets), and `read_rows` undoes that on import."""
    return csv_bytes(COLUMNS, [list(_row_of(p).values()) for p in _ordered(participants)])


def export_xlsx(participants: Iterable[ParticipantUpserted]) -> bytes:
    """Identifiers as text cells (Excel keeps a BIN's leading zero), dates as real date cells
    shown the way the import reads them, every text neutralised and never a formula."""
    rows = ([date.fromisoformat(text) if column in _DATES and text else (text or None)
             for column, text in _row_of(p).items()] for p in _ordered(participants))
    return xlsx_bytes("participants", COLUMNS, rows)

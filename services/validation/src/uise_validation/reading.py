"""Reading a submitted document into exact cell values (clause 11; docs/validation.md, "Reading
documents"). A document is the form's XLSX template filled in, JSON (`{"cell code": value}`) or
CSV (`code,value` rows). `read` turns its bytes into one value per cell of the form —
`Decimal` for numbers (never a float), `date`, `str`, or None when empty or unreadable — and a
finding for everything wrong with it, each with a stable code, the cell (`sheet!A1` in a
workbook, else the field code), the value seen and a message in kk, ru and en.

`read` is pure and does not raise for anything a document can contain: a hostile document gets
findings, never an exception that would fail the validation consumer.

Numbers are read from their text only, in one canonical form: ASCII digits, an optional leading
minus, a point before any fraction (`-?(0|[1-9][0-9]*)(\\.[0-9]+)?`). A numeric XLSX cell is the
one exception: its `<v>` holds a binary double written by the spreadsheet, which may use an
exponent (`1E-4`, what Excel and openpyxl write for small and large values) and up to 17
significant digits (`0.10000000000000001`); it is read as the value Excel shows and holds, the
double rounded to 15 significant digits. Every number is capped at 40 characters and 30 digits
written out in full, so `1E999` or 4,000 digits cost nothing and are refused.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from uise_common.aggregates import Agg
from uise_common.workbook import DATE_MAX, DATE_MIN, WorkbookError, number_bounds, read_workbook
from uise_contracts.events import FieldType, Finding, FormDefinition, FormField

Exact = Decimal | str | date | None

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON = "application/json"
CSV = "text/csv"

MAX_NUMBER_CHARS = 40  # characters of a number's text, checked before anything else
MAX_DIGITS = 30  # digits of a number written out in full (integer and fraction parts)
SPREADSHEET_DIGITS = 15  # what Excel holds and shows of a double
MAX_TEXT = 1000  # characters of a text cell, as the template's data validation says
MAX_LISTED = 20  # findings about rows or keys that are not the form's cells, listed one by one
_SHOWN = 60  # characters of a value shown in a finding

# Local contexts: the default one rounds at 28 digits, and a number may have 30.
_EXACT = Context(prec=MAX_DIGITS + 10, traps=[InvalidOperation])
_SPREADSHEET = Context(prec=SPREADSHEET_DIGITS, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation])

_CANONICAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?", re.ASCII)
_DOUBLE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_ISO_DATETIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T00:00(?::00(?:\.0+)?)?Z?)?", re.ASCII)
_DOTTED_DATE = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{4})", re.ASCII)
_LAST_SERIAL = 2_958_465  # 9999-12-31 in the 1900 date system

# --- messages -----------------------------------------------------------------------------

L = tuple[str, str, str]  # (en, ru, kk)

_TEXTS: dict[str, L] = {
    "REQUIRED": (
        "{cell} is required",
        "{cell}: обязательная ячейка не заполнена",
        "{cell}: міндетті ұяшық толтырылмаған"),
    "CONSOLIDATION_SECTION_INVALID": (
        "the \"_consolidation\" section is not what the reporting service writes: {detail}",
        "раздел \"_consolidation\" не соответствует тому, что формирует сервис отчётности: {detail}",
        "\"_consolidation\" бөлімі есеп беру қызметі жасайтын пішінге сәйкес емес: {detail}"),
    "AGGREGATES_MISMATCH": (
        "{cell}: the aggregate given ({found}) differs from the subordinates' accepted data ({wanted})",
        "{cell}: указанный агрегат ({found}) расходится с принятыми данными подведомственных ({wanted})",
        "{cell}: көрсетілген агрегат ({found}) бағыныстылардың қабылданған деректерінен ({wanted}) өзгеше"),
    "UNKNOWN_FIELD": (
        "{cell} is not a cell of form {form}",
        "{cell}: в форме {form} нет такой ячейки",
        "{cell}: {form} нысанында мұндай ұяшық жоқ"),
    "ENUM": (
        "{cell}: must be one of {options}, got «{value}»",
        "{cell}: допустимые значения — {options}; указано «{value}»",
        "{cell}: рұқсат етілген мәндер — {options}; көрсетілгені «{value}»"),
    "NUMBER_INVALID": (
        "{cell}: «{value}» is not a number: {hint}",
        "{cell}: «{value}» — не число: {hint}",
        "{cell}: «{value}» — сан емес: {hint}"),
    "NUMBER_TOO_LONG": (
        "{cell}: the number «{value}» is longer than {limit} digits",
        "{cell}: в числе «{value}» больше {limit} цифр",
        "{cell}: «{value}» санында {limit} цифрдан артық"),
    "NOT_AN_INTEGER": (
        "{cell}: must be a whole number, got {value}",
        "{cell}: должно быть целое число, указано {value}",
        "{cell}: бүтін сан болуы тиіс, көрсетілгені {value}"),
    "VALUE_OUT_OF_RANGE": (
        "{cell}: {value} is outside the plausible range {low} … {high}",
        "{cell}: значение {value} вне допустимого диапазона {low} … {high}",
        "{cell}: {value} мәні рұқсат етілген {low} … {high} аралығынан тыс"),
    "DATE_INVALID": (
        "{cell}: «{value}» is not a date (write YYYY-MM-DD or DD.MM.YYYY)",
        "{cell}: «{value}» — не дата (пишите ГГГГ-ММ-ДД или ДД.ММ.ГГГГ)",
        "{cell}: «{value}» — күн емес (ЖЖЖЖ-АА-КК немесе КК.АА.ЖЖЖЖ түрінде жазыңыз)"),
    "TEXT_TOO_LONG": (
        "{cell}: the text is longer than {limit} characters",
        "{cell}: текст длиннее {limit} символов",
        "{cell}: мәтін {limit} таңбадан ұзын"),
    "VALUE_INVALID": (
        "{cell}: «{value}» is not a value this cell can hold",
        "{cell}: «{value}» — недопустимое значение для этой ячейки",
        "{cell}: «{value}» — бұл ұяшыққа жарамсыз мән"),
    "FORMULA_NOT_ALLOWED": (
        "{cell}: type the value, not a formula",
        "{cell}: введите значение, а не формулу",
        "{cell}: формуланы емес, мәнді енгізіңіз"),
    "DUPLICATE_KEY": (
        "{cell} is given more than once ({where}); give each cell once",
        "{cell} указана более одного раза ({where}); укажите каждую ячейку один раз",
        "{cell} бірнеше рет көрсетілген ({where}); әр ұяшықты бір рет көрсетіңіз"),
    "CSV_ROW_INVALID": (
        "line {line}: each row must be field,value (quote a value holding a comma): «{value}»",
        "строка {line}: каждая строка должна быть вида поле,значение (значение с запятой — в кавычках): «{value}»",
        "{line}-жол: әр жол өріс,мән түрінде болуы тиіс (үтірі бар мәнді тырнақшаға алыңыз): «{value}»"),
    "DOCUMENT_TOO_MANY_FIELDS": (
        "the document holds more than {limit} entries; form {form} has {size} cells",
        "в документе больше {limit} записей; в форме {form} всего {size} ячеек",
        "құжатта {limit} жазбадан артық; {form} нысанында барлығы {size} ұяшық"),
    "DOCUMENT_ENCODING": (
        "the document is not UTF-8 text; save it as UTF-8",
        "документ не в кодировке UTF-8; сохраните его в UTF-8",
        "құжат UTF-8 кодтауында емес; оны UTF-8 түрінде сақтаңыз"),
    "EXPLANATION_REQUIRED": (
        "query {detail} needs a written explanation",
        "вопрос {detail} требует письменного пояснения",
        "{detail} сұрағы жазбаша түсініктемені қажет етеді"),
    "DOCUMENT_UNREADABLE": (
        "the document cannot be read: {detail}",
        "документ не удаётся прочитать: {detail}",
        "құжатты оқу мүмкін емес: {detail}"),
    "JSON_TOO_DEEP": (
        "the JSON document is nested too deeply; it must be one object of field: value",
        "JSON-документ слишком глубоко вложен; это должен быть один объект поле: значение",
        "JSON құжаты тым терең салынған; ол өріс: мән түріндегі бір объект болуы тиіс"),
    "DOCUMENT_TYPE_UNSUPPORTED": (
        "documents of type {detail} cannot be read; send XLSX, CSV or JSON",
        "документы типа {detail} не читаются; отправьте XLSX, CSV или JSON",
        "{detail} түріндегі құжаттар оқылмайды; XLSX, CSV немесе JSON жіберіңіз"),
    "MORE_NOT_LISTED": (
        "{count} more like this are not listed",
        "ещё {count} таких же не перечислены",
        "тағы {count} осындай тізімделмеген"),
    # the workbook as a whole (uise_common.workbook)
    "XLSX_NOT_A_ZIP": (
        "the XLSX is damaged: {detail}", "XLSX повреждён: {detail}", "XLSX бүлінген: {detail}"),
    "XLSX_RATIO": (
        "the XLSX inflates far beyond its size (a zip bomb): {detail}",
        "XLSX распаковывается в непомерный объём (zip-бомба): {detail}",
        "XLSX шамадан тыс көлемге ашылады (zip-бомба): {detail}"),
    "XLSX_TOO_LARGE": (
        "the XLSX is too large once unpacked: {detail}",
        "XLSX слишком велик после распаковки: {detail}",
        "XLSX ашылғаннан кейін тым үлкен: {detail}"),
    "XLSX_XML_ENTITIES": (
        "the XLSX declares an XML DOCTYPE or ENTITY, which a workbook never needs: {detail}",
        "XLSX объявляет XML DOCTYPE или ENTITY, которые в книге Excel не нужны: {detail}",
        "XLSX ішінде XML DOCTYPE немесе ENTITY бар, кітапқа олар қажет емес: {detail}"),
    "XLSX_UNREADABLE": (
        "the workbook cannot be read: {detail}",
        "книгу Excel не удаётся прочитать: {detail}",
        "Excel кітабын оқу мүмкін емес: {detail}"),
    "XLSX_NO_MAP": (
        "the workbook was not made from the form's template; download the template and fill that in",
        "книга сделана не из шаблона формы; скачайте шаблон и заполните его",
        "кітап нысан үлгісінен жасалмаған; үлгіні жүктеп алып, соны толтырыңыз"),
    "XLSX_MAP_INVALID": (
        "the template's structure is damaged; download the template again: {detail}",
        "структура шаблона повреждена; скачайте шаблон заново: {detail}",
        "үлгінің құрылымы бүлінген; үлгіні қайта жүктеп алыңыз: {detail}"),
    "XLSX_TEMPLATE_MISMATCH": (
        "the workbook was made from another version of the form's template; download the current one: {detail}",
        "книга сделана из шаблона другой версии формы; скачайте действующий шаблон: {detail}",
        "кітап нысанның басқа нұсқасының үлгісінен жасалған; қолданыстағы үлгіні жүктеп алыңыз: {detail}"),
    "XLSX_RANGE_EXCEEDED": (
        "the workbook holds cells beyond the form's template; fill in the template's cells only: {detail}",
        "в книге есть ячейки за пределами шаблона формы; заполняйте только ячейки шаблона: {detail}",
        "кітапта нысан үлгісінен тыс ұяшықтар бар; тек үлгі ұяшықтарын толтырыңыз: {detail}"),
    "XLSX_EXTERNAL_LINK": (
        "the workbook links to another file or address; remove the link and type the values: {detail}",
        "книга ссылается на другой файл или адрес; удалите ссылку и введите значения: {detail}",
        "кітап басқа файлға немесе мекенжайға сілтейді; сілтемені алып тастап, мәндерді енгізіңіз: {detail}"),
    "XLSX_NETWORK_FUNCTION": (
        "the workbook calls a function that reaches the network; type the values instead: {detail}",
        "книга вызывает функцию, обращающуюся к сети; введите значения вместо неё: {detail}",
        "кітап желіге жүгінетін функцияны шақырады; оның орнына мәндерді енгізіңіз: {detail}"),
    "XLSX_ACTIVE_CONTENT": (
        "the workbook carries macros or embedded objects; save it as a plain .xlsx: {detail}",
        "книга содержит макросы или внедрённые объекты; сохраните её как обычный .xlsx: {detail}",
        "кітапта макростар немесе ендірілген нысандар бар; оны қарапайым .xlsx ретінде сақтаңыз: {detail}"),
    # the template's identity (domain.check_identity)
    "FORM_MISMATCH": (
        "the workbook is form {found}, submitted as {submitted}",
        "книга — форма {found}, а отправлена как {submitted}",
        "кітап — {found} нысаны, ал {submitted} ретінде жіберілген"),
    "PERIOD_MISMATCH": (
        "the workbook is for period {found}, submitted for {submitted}",
        "книга за период {found}, а отправлена за {submitted}",
        "кітап {found} кезеңіне арналған, ал {submitted} кезеңіне жіберілген"),
    "BIN_MISMATCH": (
        "the workbook names BIN {found}, submitted by {submitted}",
        "в книге указан БИН {found}, а отправитель — {submitted}",
        "кітапта {found} БСН көрсетілген, ал жіберуші — {submitted}"),
}

_HINTS: dict[str, L] = {
    "comma": ("write decimals with a point, e.g. 12.5", "дробную часть пишите через точку, например 12.5",
              "бөлшек бөлігін нүктемен жазыңыз, мысалы 12.5"),
    "digits": ("use the digits 0–9 only", "используйте только цифры 0–9", "тек 0–9 цифрларын қолданыңыз"),
    "space": ("no spaces inside a number", "без пробелов внутри числа", "сан ішінде бос орын болмауы тиіс"),
    "plus": ("no plus sign", "без знака плюс", "қосу белгісінсіз"),
    "exponent": ("write the number in full, without an exponent", "запишите число полностью, без экспоненты",
                 "санды экспонентасыз толық жазыңыз"),
    "finite": ("NaN and infinity are not numbers", "NaN и бесконечность — не числа",
               "NaN және шексіздік сан емес"),
    "zeros": ("no leading zeros", "без ведущих нулей", "алдыңғы нөлдерсіз"),
    "other": ("write digits only, with a point for decimals, e.g. 12 or 12.5",
              "пишите только цифры, дробную часть через точку, например 12 или 12.5",
              "тек цифрлар жазыңыз, бөлшек бөлігін нүктемен, мысалы 12 немесе 12.5"),
}


def shown(text: str | None) -> str:
    """A value as a finding shows it: untrusted, so cut short."""
    if text is None:
        return ""
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}… ({len(text)} characters)"


def finding(code: str, *, severity: str = "error", field: str | None = None, cells: list[str] | None = None,
            observed: dict[str, str | None] | None = None, expected: str | None = None,
            **params: str | L) -> Finding:
    """A finding whose messages come from the catalogue above; a parameter given as (en, ru, kk)
    is put in each language's message in its own language."""
    texts = _TEXTS[code]
    messages = {}
    for i, lang in enumerate(("en", "ru", "kk")):
        values = {k: (v[i] if isinstance(v, tuple) else v) for k, v in params.items()}
        messages[lang] = texts[i].format(**values)
    return Finding(rule=code, severity=severity, message=messages["en"], field=field, cells=cells or [],
                   observed=observed or {}, expected=expected, messages=messages)


# --- numbers and dates --------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, code: str, **params: str | L) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def _hint(text: str) -> L:
    if text.lower().lstrip("+-") in ("nan", "snan", "qnan", "inf", "infinity"):
        return _HINTS["finite"]
    if not text.isascii() or "_" in text:  # Arabic-Indic or other digits, 1_000
        return _HINTS["digits"]
    if any(ch.isspace() for ch in text):
        return _HINTS["space"]
    if "," in text:
        return _HINTS["comma"]
    if text.startswith("+"):
        return _HINTS["plus"]
    if _DOUBLE.fullmatch(text):
        return _HINTS["exponent"]
    if re.fullmatch(r"-?0[0-9]+(\.[0-9]+)?", text):
        return _HINTS["zeros"]
    return _HINTS["other"]


def tidy(d: Decimal) -> Decimal:
    """One spelling per value: no exponent, no trailing fraction zeros, no negative zero."""
    if d == 0:
        return Decimal(0)
    d = d.normalize(_EXACT)
    if d.as_tuple().exponent > 0:
        d = d.quantize(Decimal(1), context=_EXACT)
    return d


def plain(d: Decimal) -> str:
    """A Decimal as its decimal string, never with an exponent."""
    return format(d, "f")


def parse_number(text: str, *, spreadsheet: bool = False) -> Decimal:
    """The exact value of a number's text in its canonical form (or, with `spreadsheet`, of a
    numeric XLSX cell's `<v>`); raises _Refused with NUMBER_INVALID or NUMBER_TOO_LONG."""
    t = text.strip()
    if len(t) > MAX_NUMBER_CHARS:
        raise _Refused("NUMBER_TOO_LONG", limit=str(MAX_DIGITS))
    if not (_DOUBLE if spreadsheet else _CANONICAL).fullmatch(t):
        raise _Refused("NUMBER_INVALID", hint=_hint(t))
    d = Decimal(t)  # the pattern admits only finite ASCII numbers
    exponent = d.as_tuple().exponent
    if max(d.adjusted() + 1, 1) + max(-exponent, 0) > MAX_DIGITS:
        raise _Refused("NUMBER_TOO_LONG", limit=str(MAX_DIGITS))
    if spreadsheet:
        d = _SPREADSHEET.plus(d)
    return tidy(d)


def _serial_date(d: Decimal, date1904: bool) -> date:
    """An Excel date serial (whole days) as a date; 1900 system with its phantom 29 Feb 1900."""
    if d != d.to_integral_value() or not (1 <= d <= _LAST_SERIAL):
        raise ValueError("not a whole day serial")
    n = int(d)
    if date1904:
        return date(1904, 1, 1) + timedelta(days=n)
    if n == 60:
        raise ValueError("29 February 1900 did not exist")
    return date(1899, 12, 31 if n < 60 else 30) + timedelta(days=n)


def _text_date(text: str, *, iso_datetime: bool = False) -> date:
    if m := (_ISO_DATETIME if iso_datetime else _ISO_DATE).fullmatch(text):
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _DOTTED_DATE.fullmatch(text):
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    raise ValueError("not a date")


# --- one value ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One value as a document gives it. `kind`: text (CSV, JSON strings, XLSX strings), number
    (a JSON number literal or an XLSX numeric cell), bool, error (an XLSX error value), date (an
    XLSX ISO date cell), nested (a JSON object or array)."""

    text: str | None
    kind: str = "text"
    spreadsheet: bool = False  # from an XLSX cell: numbers are doubles (see parse_number)


def _cell(f: FormField, e: Entry, date1904: bool) -> Exact:
    """The exact value of `e` in cell `f`, or _Refused."""
    if e.kind == "nested":
        raise _Refused("VALUE_INVALID")
    text = (e.text or "").strip()
    if not text and e.kind == "text":
        return None
    if f.type in (FieldType.text, FieldType.enumeration):
        if e.kind in ("error", "date") or (e.kind == "bool" and f.type == FieldType.enumeration):
            raise _Refused("VALUE_INVALID")
        if e.kind == "number" and e.spreadsheet:
            text = plain(parse_number(text, spreadsheet=True))
        elif e.kind == "bool" and e.spreadsheet:
            text = "TRUE" if text == "1" else "FALSE"
        if f.type == FieldType.text:
            if len(text) > MAX_TEXT:
                raise _Refused("TEXT_TOO_LONG", limit=str(MAX_TEXT))
            return text
        if text in f.options:
            return text
        loose = [o for o in f.options if o.strip() == text]
        if loose:
            return loose[0]
        raise _Refused("ENUM", options=" | ".join(shown(o) for o in f.options[:20]))
    if f.type == FieldType.date:
        try:
            if e.kind == "number" and e.spreadsheet:
                return _serial_date(parse_number(text, spreadsheet=True), date1904)
            if e.kind in ("text", "date"):
                return _text_date(text, iso_datetime=e.kind == "date")
        except (_Refused, ValueError, OverflowError):
            pass
        raise _Refused("DATE_INVALID")
    # integer or decimal
    if e.kind in ("bool", "error", "date"):
        raise _Refused("VALUE_INVALID")
    number = parse_number(text, spreadsheet=e.spreadsheet and e.kind == "number")
    if f.type == FieldType.integer and number != number.to_integral_value():
        raise _Refused("NOT_AN_INTEGER")
    return number


def _range(f: FormField, value: Exact) -> tuple[str, Decimal | date, Decimal | date, str] | None:
    """(severity, low, high, shown) when `value` is outside its cell's plausible range."""
    if isinstance(value, Decimal):
        low, high = number_bounds(f)
        if not (low <= value <= high):
            # a bound the form gives has the form's severity; a default bound is always an error
            outside_form_bound = (f.min is not None and value < f.min) or (f.max is not None and value > f.max)
            severity = f.range_severity if outside_form_bound else "error"
            return severity, low, high, plain(value)
    elif isinstance(value, date) and not (DATE_MIN <= value <= DATE_MAX):
        return "error", DATE_MIN, DATE_MAX, value.isoformat()
    return None


def _bound(b: Decimal | date) -> str:
    return b.isoformat() if isinstance(b, date) else plain(b)


def convert(form: FormDefinition, entries: Mapping[str, Entry | None], *, where: Mapping[str, str] | None = None,
            skip: set[str] | frozenset[str] = frozenset(), date1904: bool = False,
            ) -> tuple[dict[str, Exact], list[Finding]]:
    """One exact value per cell of the form (None when empty or refused) and the findings.
    `where`: how to name each cell (sheet!A1 in a workbook); `skip`: cells already reported
    (a formula, a duplicated key) that get no further finding."""
    where = where or {}
    values: dict[str, Exact] = {}
    findings: list[Finding] = []
    for f in form.cells():
        ref = where.get(f.code, f.code)
        label = ref if ref == f.code else f"{ref} ({f.code})"
        values[f.code] = None
        if f.code in skip:
            continue
        e = entries.get(f.code)
        seen = None if e is None else (e.text if e.kind != "nested" else "{…}")
        try:
            value = None if e is None else _cell(f, e, date1904)
        except _Refused as exc:
            findings.append(finding(exc.code, field=f.code, cells=[ref], observed={f.code: shown(seen)},
                                    expected=_expected(f), cell=label, value=shown(seen), **exc.params))
            continue
        if value is None:
            if f.required:
                findings.append(finding("REQUIRED", field=f.code, cells=[ref], observed={f.code: None},
                                        expected="a value", cell=label))
            continue
        values[f.code] = value
        if (outside := _range(f, value)) is not None:
            severity, low, high, text = outside
            findings.append(finding("VALUE_OUT_OF_RANGE", severity=severity, field=f.code, cells=[ref],
                                    observed={f.code: text}, expected=f"{_bound(low)} ≤ {f.code} ≤ {_bound(high)}",
                                    cell=label, value=text, low=_bound(low), high=_bound(high)))
    return values, findings


def _expected(f: FormField) -> str:
    if f.type in (FieldType.integer, FieldType.decimal):
        low, high = number_bounds(f)
        kind = "a whole number" if f.type == FieldType.integer else "a number"
        return f"{kind}, {plain(low)} ≤ {f.code} ≤ {plain(high)}"
    if f.type == FieldType.date:
        return f"a date, {DATE_MIN.isoformat()} ≤ {f.code} ≤ {DATE_MAX.isoformat()}"
    if f.type == FieldType.enumeration:
        return "one of: " + " | ".join(shown(o) for o in f.options[:20])
    return f"text of at most {MAX_TEXT} characters"


# --- documents ----------------------------------------------------------------------------


@dataclass
class Reading:
    """What a document holds: one exact value per cell of the form, and the findings."""

    values: dict[str, Exact] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)  # cell code -> sheet!A1 (XLSX only)
    # what an XLSX template says of itself, for the identity checks (None for CSV and JSON)
    form_code: str | None = None
    form_version: int | None = None
    participant_bin: str | None = None
    period: str | None = None
    # a department's JSON consolidation (reporting writes it): the exact aggregates it claims
    claimed_aggregates: dict[str, Agg] | None = None

    def cell(self, code: str) -> str:
        """How findings name a cell: sheet!A1 in a workbook, else its code."""
        return self.where.get(code, code)


def read(data: bytes, media_type: str, form: FormDefinition) -> Reading:
    """The exact values of `form`'s cells in a document and the findings about it."""
    if media_type == XLSX:
        return _read_xlsx(data, form)
    if media_type not in (JSON, CSV):
        return Reading(findings=[finding("DOCUMENT_TYPE_UNSUPPORTED", detail=shown(media_type))])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Reading(findings=[finding("DOCUMENT_ENCODING")])
    claimed = None
    if media_type == JSON:
        entries, findings, skip, claimed = _read_json(text, form)
    else:
        entries, findings, skip = _read_csv(text, form)
    if entries is None:  # unreadable as a whole: no cell is judged
        return Reading(findings=findings)
    reading = _finish(form, entries, findings, skip)
    reading.claimed_aggregates = claimed
    return reading


def read_mapping(form: FormDefinition, raw: Mapping[str, object]) -> Reading:
    """Values already split by cell code (Python scalars, e.g. a parsed JSON body), read as a
    JSON document's would be."""
    entries: dict[str, Entry | None] = {}
    for key, value in raw.items():
        entries[str(key)] = _json_entry(value)
    return _finish(form, entries, [], set())


def _finish(form: FormDefinition, entries: dict[str, Entry | None], findings: list[Finding],
            skip: set[str]) -> Reading:
    known = {f.code for f in form.cells()}
    limit = max(10 * len(known), 1000)
    if len(entries) > limit:
        return Reading(findings=[*findings, finding("DOCUMENT_TOO_MANY_FIELDS", limit=str(limit), form=form.code,
                                                    size=str(len(known)))])
    unknown = [k for k in entries if k not in known]
    for key in unknown[:MAX_LISTED]:
        findings.append(finding("UNKNOWN_FIELD", field=shown(key), cells=[shown(key)], cell=shown(key), form=form.code))
    if len(unknown) > MAX_LISTED:
        findings.append(finding("MORE_NOT_LISTED", count=str(len(unknown) - MAX_LISTED)))
    values, cell_findings = convert(form, entries, skip=skip)
    return Reading(values=values, findings=findings + cell_findings)


def _json_entry(value: object) -> Entry | None:
    if value is None:
        return None
    if isinstance(value, _JsonNumber):
        return Entry(str(value), "number")
    if isinstance(value, bool):
        return Entry("true" if value else "false", "bool")
    if isinstance(value, str):
        return Entry(value)
    if isinstance(value, int | Decimal):
        return Entry(str(value), "number")
    if isinstance(value, float):
        return Entry(repr(value), "number")  # inf and nan come out as text that is refused
    if isinstance(value, date):
        return Entry(value.isoformat())
    return Entry(None, "nested")


class _JsonNumber(str):
    """A JSON number literal, kept as its text: never a float."""


class _JsonObject(dict):
    duplicates: list[str]  # keys given more than once, in order
    seen: dict[str, list[object]]  # every value of a duplicated key


def _pairs(items: list[tuple[str, object]]) -> _JsonObject:
    obj = _JsonObject()
    obj.duplicates, obj.seen = [], {}
    for k, v in items:
        if k in obj:
            if k not in obj.seen:
                obj.duplicates.append(k)
                obj.seen[k] = [obj[k]]
            obj.seen[k].append(v)
        obj[k] = v
    return obj


def _json_text(value: object) -> str:
    e = _json_entry(value)
    return "null" if e is None else "{…}" if e.kind == "nested" else e.text or ""


_Split = tuple[dict[str, "Entry | None"] | None, list[Finding], set[str]]  # entries (None: unreadable), findings, cells reported


CONSOLIDATION_KEY = "_consolidation"  # the one key of a JSON document that is not a cell


def _claimed_aggregates(section: object) -> tuple[dict[str, Agg] | None, list[Finding]]:
    """The exact aggregates a consolidation's `_consolidation` section claims (the lists of
    subordinates it also holds are for people: the deadline service keeps the real ones)."""
    def bad(detail: str) -> tuple[None, list[Finding]]:
        return None, [finding("CONSOLIDATION_SECTION_INVALID", field=CONSOLIDATION_KEY, cells=[CONSOLIDATION_KEY],
                              detail=shown(detail))]

    if not isinstance(section, dict):
        return bad("it must be an object")
    raw = section.get("aggregates", {})
    if not isinstance(raw, dict) or len(raw) > 100_000:
        return bad('"aggregates" must be an object of cell -> {"sum", "count", "min", "max"}')
    out = {}
    for cell, agg in raw.items():
        if not isinstance(agg, dict):
            return bad(f"{cell}: not an object")
        try:
            count = agg.get("count")
            if not isinstance(count, _JsonNumber | int) or not _CANONICAL.fullmatch(str(count)) or "." in str(count):
                return bad(f"{cell}: count must be a whole number")
            out[str(cell)] = Agg.from_contract({k: (None if v is None else str(v)) if k != "count" else int(str(v))
                                                for k, v in agg.items() if k in ("sum", "count", "min", "max")})
        except (ValueError, TypeError) as exc:
            return bad(f"{cell}: {exc}")
    return out, []


def _read_json(text: str, form: FormDefinition) -> tuple[dict[str, Entry | None] | None, list[Finding], set[str],
                                                         dict[str, Agg] | None]:
    try:
        obj = json.loads(text, object_pairs_hook=_pairs, parse_float=_JsonNumber, parse_int=_JsonNumber,
                         parse_constant=_JsonNumber)
    except RecursionError:  # the C scanner stops at the interpreter's recursion limit
        return None, [finding("JSON_TOO_DEEP")], set(), None
    except ValueError as exc:
        return None, [finding("DOCUMENT_UNREADABLE", detail=f"invalid JSON: {shown(str(exc))}")], set(), None
    if not isinstance(obj, _JsonObject):
        return (None, [finding("DOCUMENT_UNREADABLE", detail='the JSON document must be an object {"field": value}')],
                set(), None)
    claimed, findings = (None, [])
    if CONSOLIDATION_KEY in obj and CONSOLIDATION_KEY not in obj.duplicates:
        claimed, findings = _claimed_aggregates(obj.pop(CONSOLIDATION_KEY))
    for key in obj.duplicates[:MAX_LISTED]:
        seen = " | ".join(shown(_json_text(v)) for v in obj.seen[key][:5])
        findings.append(finding("DUPLICATE_KEY", field=shown(key), cells=[shown(key)], cell=shown(key),
                                observed={shown(key): seen},
                                where=("the key appears more than once", "ключ встречается несколько раз",
                                       "кілт бірнеше рет кездеседі")))
    if len(obj.duplicates) > MAX_LISTED:
        findings.append(finding("MORE_NOT_LISTED", count=str(len(obj.duplicates) - MAX_LISTED)))
    # A duplicated key has no one value: neither the first nor the last is taken.
    entries = {k: _json_entry(v) for k, v in obj.items() if k not in obj.duplicates}
    return entries, findings, set(obj.duplicates), claimed


_FIRST_LINE = re.compile(r"\s*([^\r\n]*)")


def _read_csv(text: str, form: FormDefinition) -> _Split:
    first = _FIRST_LINE.match(text).group(1)
    # Excel in a Russian or Kazakh locale separates fields with ";" (the comma is its decimal mark).
    delimiter = ";" if ";" in first and "," not in first else ","
    # newline="" hands every line ending (LF, CRLF, and a classic Mac's lone CR) to the csv module.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    entries: dict[str, Entry | None] = {}
    lines: dict[str, list[int]] = {}
    seen: dict[str, list[str]] = {}
    findings: list[Finding] = []
    reported: set[str] = set()  # keys of malformed rows: their cell gets no further finding
    bad = 0
    limit = max(10 * len(form.cells()), 1000)
    started = False
    try:
        for row in reader:
            line = reader.line_num
            cells = [c.strip() for c in row]
            if not any(cells):
                continue
            if not started:
                started = True
                if [c.lower() for c in cells[:2]] == ["field", "value"] and not any(cells[2:]):
                    continue
            if len(cells) < 2 or not cells[0] or any(cells[2:]):
                reported.add(cells[0])
                bad += 1
                if bad <= MAX_LISTED:
                    findings.append(finding("CSV_ROW_INVALID", line=str(line), value=shown(delimiter.join(row)),
                                            observed={f"line {line}": shown(delimiter.join(row))}))
                continue
            key = cells[0]
            if key in lines:
                lines[key].append(line)
                seen[key].append(row[1])
                continue
            lines[key], seen[key] = [line], [row[1]]
            entries[key] = Entry(row[1])
            if len(entries) > limit:
                break  # _finish refuses the document as a whole
    except csv.Error as exc:
        findings.append(finding("DOCUMENT_UNREADABLE", detail=f"line {reader.line_num}: {shown(str(exc))}"))
        return None, findings, set()
    if bad > MAX_LISTED:
        findings.append(finding("MORE_NOT_LISTED", count=str(bad - MAX_LISTED)))
    duplicated = [k for k, at in lines.items() if len(at) > 1]
    for key in duplicated[:MAX_LISTED]:
        at = ", ".join(str(n) for n in lines[key][:10])
        findings.append(finding("DUPLICATE_KEY", field=shown(key), cells=[shown(key)], cell=shown(key),
                                observed={shown(key): " | ".join(shown(v) for v in seen[key][:5])},
                                where=(f"lines {at}", f"строки {at}", f"{at} жолдар")))
    if len(duplicated) > MAX_LISTED:
        findings.append(finding("MORE_NOT_LISTED", count=str(len(duplicated) - MAX_LISTED)))
    for key in duplicated:
        del entries[key]
    return entries, findings, set(duplicated) | reported


def _read_xlsx(data: bytes, form: FormDefinition) -> Reading:
    try:
        wb = read_workbook(data, form)
    except WorkbookError as exc:
        return Reading(findings=[finding(exc.code, cells=[exc.cell] if exc.cell else [], detail=shown_detail(exc.message))])
    out = Reading(form_code=wb.form_code, form_version=wb.form_version, participant_bin=wb.participant_bin,
                  period=wb.period, where={k: v for k, v in wb.where.items() if not k.startswith("@")})
    if not wb.matches_form:
        return out  # another form's workbook: the identity check says so, nothing else is judged
    for code in wb.formulas:
        ref = wb.where[code]
        label = f"{ref} ({code})" if not code.startswith("@") else ref
        out.findings.append(finding("FORMULA_NOT_ALLOWED", field=code, cells=[ref], observed={code: None},
                                    expected="a typed value", cell=label))
    entries = {code: None if raw is None else Entry(raw.text, raw.kind, spreadsheet=True)
               for code, raw in wb.values.items()}
    values, findings = convert(form, entries, where=wb.where, skip=set(wb.formulas), date1904=wb.date1904)
    out.values = values
    out.findings += findings
    return out


def shown_detail(text: str) -> str:
    return text if len(text) <= 300 else text[:300] + "…"


# --- what the event carries ---------------------------------------------------------------


def legacy_values(form: FormDefinition, values: Mapping[str, Exact]) -> dict[str, int | float | str | None]:
    """`SubmissionValidated.values` as before v1.2: int for integer cells, float for decimal
    cells, ISO dates, text. Lossy for decimals: `values_exact` is the exact one."""
    types = {f.code: f.type for f in form.cells()}
    out: dict[str, int | float | str | None] = {}
    for code, v in values.items():
        if isinstance(v, Decimal):
            out[code] = int(v) if types.get(code) == FieldType.integer else float(v)
        elif isinstance(v, date):
            out[code] = v.isoformat()
        else:
            out[code] = v
    return out


def exact_strings(values: Mapping[str, Exact]) -> dict[str, str | None]:
    """`SubmissionValidated.values_exact`: every cell, numbers as plain decimal strings (never an
    exponent), dates as ISO, text as is."""
    out: dict[str, str | None] = {}
    for code, v in values.items():
        if isinstance(v, Decimal):
            out[code] = plain(v)
        elif isinstance(v, date):
            out[code] = v.isoformat()
        else:
            out[code] = v
    return out

"""Pure parsing and rule checking. A document is JSON (`{"field": value}`) or CSV (rows of
`field,value`); XLSX from the form's template arrives with issue 3."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal, InvalidOperation

from uise_contracts.events import FieldType, Finding, FormDefinition

Values = dict[str, int | float | str | None]


class ParseError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_document(data: bytes, media_type: str) -> dict[str, str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError("DOCUMENT_ENCODING", "the document is not UTF-8 text") from exc
    if media_type == "application/json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError("DOCUMENT_UNREADABLE", f"invalid JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise ParseError("DOCUMENT_UNREADABLE", "the JSON document must be an object of field: value")
        return {str(k): v for k, v in obj.items()}
    if media_type == "text/csv":
        rows = [r for r in csv.reader(io.StringIO(text)) if r]
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["field", "value"]:
            rows = rows[1:]
        if any(len(r) < 2 for r in rows):
            raise ParseError("DOCUMENT_UNREADABLE", "each CSV row must be field,value")
        return {r[0].strip(): r[1].strip() for r in rows}
    raise ParseError("DOCUMENT_TYPE_UNSUPPORTED", f"cannot read {media_type} yet")


def check(form: FormDefinition, raw: dict) -> tuple[Values, list[Finding]]:
    values: Values = {}
    findings: list[Finding] = []
    cells = form.cells()
    known = {f.code for f in cells}
    for name in raw:
        if name not in known:
            findings.append(Finding(rule="UNKNOWN_FIELD", severity="error", field=name,
                                    message=f"{name} is not a field of {form.code}"))
    for f in cells:
        v = raw.get(f.code)
        if v is None or v == "":
            values[f.code] = None
            if f.required:
                findings.append(Finding(rule="REQUIRED", severity="error", field=f.code,
                                        message=f"{f.code} is required"))
            continue
        if f.type == FieldType.text:
            values[f.code] = str(v)
            continue
        if f.type == FieldType.enumeration:
            if str(v) not in f.options:
                findings.append(Finding(rule="ENUM", severity="error", field=f.code,
                                        message=f"{f.code} must be one of {', '.join(f.options)}, got {v!r}"))
            else:
                values[f.code] = str(v)
            continue
        if f.type == FieldType.date:
            try:
                values[f.code] = (v if isinstance(v, date) else date.fromisoformat(str(v)[:10])).isoformat()[:10]
            except ValueError:
                findings.append(Finding(rule="TYPE", severity="error", field=f.code,
                                        message=f"{f.code} must be a date (YYYY-MM-DD), got {v!r}"))
            continue
        try:
            number = Decimal(str(v))
        except InvalidOperation:
            findings.append(Finding(rule="TYPE", severity="error", field=f.code,
                                    message=f"{f.code} must be a number, got {v!r}"))
            continue
        if f.type == FieldType.integer and number != number.to_integral_value():
            findings.append(Finding(rule="TYPE", severity="error", field=f.code,
                                    message=f"{f.code} must be a whole number, got {v!r}"))
            continue
        if number < 0:
            findings.append(Finding(rule="NON_NEGATIVE", severity="error", field=f.code,
                                    message=f"{f.code} must not be negative"))
        values[f.code] = int(number) if f.type == FieldType.integer else float(number)
    for rule in form.rules:
        left = values.get(rule.left)
        parts = [values.get(r) for r in rule.right]
        if isinstance(left, int | float) and all(isinstance(p, int | float) for p in parts) and left != sum(parts):
            findings.append(Finding(rule=rule.code, severity=rule.severity, field=rule.left,
                                    message=f"{rule.message} ({left} ≠ {sum(parts)})"))
    return values, findings

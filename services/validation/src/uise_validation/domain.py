"""Pure parsing and rule checking. A document is the form's XLSX template filled in (read
through the map the template carries), JSON (`{"cell code": value}`) or CSV (`code,value` rows)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from uise_contracts.events import FieldType, Finding, FormDefinition

Values = dict[str, int | float | str | None]


class ParseError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Document:
    values: dict
    form_code: str | None = None  # what an XLSX template says it is
    participant_bin: str | None = None
    period: str | None = None


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def read_document(data: bytes, media_type: str) -> Document:
    if media_type == XLSX:
        from uise_common.workbook import WorkbookError, read_workbook

        try:
            filled = read_workbook(data)
        except WorkbookError as exc:
            raise ParseError(exc.code, str(exc)) from exc
        return Document(filled.values, filled.form_code, filled.participant_bin, filled.period)
    return Document(parse_document(data, media_type))


def check_identity(doc: Document, form_code: str, period: str, participant_bin: str) -> list[Finding]:
    """A template filled in for another form, period or organization is an error, not a guess."""
    out = []
    if doc.form_code is not None and doc.form_code != form_code:
        out.append(Finding(rule="FORM_MISMATCH", severity="error",
                           message=f"the workbook is form {doc.form_code}, submitted as {form_code}"))
    if doc.period and doc.period != period:
        out.append(Finding(rule="PERIOD_MISMATCH", severity="error",
                           message=f"the workbook is for period {doc.period}, submitted for {period}"))
    if doc.participant_bin and doc.participant_bin != participant_bin:
        out.append(Finding(rule="BIN_MISMATCH", severity="error",
                           message=f"the workbook names BIN {doc.participant_bin}, submitted by {participant_bin}"))
    return out


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


def apply_explanations(findings: list[Finding], explanations: dict[str, str]) -> list[Finding]:
    """A warning is a query (DESIGN §3, step 4): it passes only with the submitter's written
    explanation, keyed by the rule's code; without one it becomes an EXPLANATION_REQUIRED error."""
    out: list[Finding] = []
    for f in findings:
        if f.severity != "warning":
            out.append(f)
        elif text := explanations.get(f.rule):
            out.append(f.model_copy(update={"message": f"{f.message} — explained: {text}"}))
        else:
            out += [f, Finding(rule="EXPLANATION_REQUIRED", severity="error", field=f.field,
                               message=f"query {f.rule} needs a written explanation: {f.message}")]
    return out


"""Pure checks of a document against its form. Reading the document into exact values (XLSX
template, JSON, CSV) is reading.py's; here: the template's identity and the form's rules."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext

from uise_common.workbook import BIN_CODE, BIN_ROW, CODE_ROW, FORM_SHEET, PERIOD_CODE, PERIOD_ROW
from uise_contracts.events import Finding, FormDefinition
from uise_validation.reading import XLSX, Exact, Reading, finding, plain, read, read_mapping, shown

__all__ = ["XLSX", "apply_explanations", "check", "check_identity", "check_rules", "read_document"]


def read_document(data: bytes, media_type: str, form: FormDefinition) -> Reading:
    """Exact values and reading findings; never raises for what a document contains."""
    return read(data, media_type, form)


def check_identity(doc: Reading, form_code: str, period: str, participant_bin: str) -> list[Finding]:
    """A template filled in for another form, period or organization is an error, not a guess."""
    out = []
    for code, cell, found, submitted, row in (
            ("FORM_MISMATCH", "@form_code", doc.form_code, form_code, CODE_ROW),
            ("PERIOD_MISMATCH", PERIOD_CODE, doc.period, period, PERIOD_ROW),
            ("BIN_MISMATCH", BIN_CODE, doc.participant_bin, participant_bin, BIN_ROW)):
        if found and found != submitted:
            found = shown(found)  # the workbook's text: untrusted
            out.append(finding(code, cells=[f"{FORM_SHEET}!B{row}"], observed={cell: found}, expected=submitted,
                               found=found, submitted=submitted))
    return out


def check(form: FormDefinition, raw: Mapping[str, object]) -> tuple[dict[str, Exact], list[Finding]]:
    """Values already split by cell code, read as a JSON document's, then the form's rules."""
    reading = read_mapping(form, raw)
    return reading.values, reading.findings + check_rules(form, reading.values)


def check_rules(form: FormDefinition, values: Mapping[str, Exact], where: Mapping[str, str] | None = None,
                ) -> list[Finding]:
    """v1 rules (`left` equals the sum of `right`), in exact decimal arithmetic: 0.1 + 0.2 is 0.3.
    Rules in the rule language (`expr`) are not evaluated here."""
    where = where or {}
    out = []
    for rule in form.rules:
        if rule.left is None:
            continue
        left = values.get(rule.left)
        parts = [values.get(r) for r in rule.right]
        if not (isinstance(left, Decimal) and all(isinstance(p, Decimal) for p in parts)):
            continue
        with localcontext() as ctx:
            ctx.prec = 80  # read numbers have at most 30 digits: a sum of them is exact
            total = sum(parts, Decimal(0))
        if left != total:
            codes = [rule.left, *rule.right]
            relation = f"{rule.left} = {' + '.join(rule.right)}"
            message = f"{rule.message} ({plain(left)} ≠ {plain(total)})"
            out.append(Finding(
                rule=rule.code, severity=rule.severity, field=rule.left, message=message,
                cells=[where.get(c, c) for c in codes], expected=relation,
                observed={c: plain(v) if isinstance(v, Decimal) else None for c, v in zip(codes, [left, *parts], strict=True)},
                messages={"en": message, "ru": f"{rule.message_ru or rule.message} ({plain(left)} ≠ {plain(total)})",
                          "kk": f"{rule.message_kk or rule.message} ({plain(left)} ≠ {plain(total)})"}))
    return out


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


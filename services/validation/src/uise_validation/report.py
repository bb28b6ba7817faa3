"""The finding report for people: the submitted workbook (or, for JSON and CSV, the form's
template filled with the values read) with every problem cell highlighted and commented in
kk/ru/en, and a sheet listing every finding. Nothing from the document becomes a formula."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

from uise_common.spreadsheets import put
from uise_common.workbook import FORM_SHEET, build_template, layout
from uise_contracts.events import Finding, FormDefinition

ERROR = PatternFill("solid", start_color="FFF4B6B6")
QUERY = PatternFill("solid", start_color="FFFFE699")
EXPLAINED = PatternFill("solid", start_color="FFD9EAD3")
HEADERS = ("rule", "severity", "cells", "kk", "ru", "en", "observed", "expected", "explanation")


def report(form: FormDefinition, findings: list[Finding], values: dict[str, Decimal | str | date | None],
           submitted: bytes | None, participant_bin: str, period: str) -> bytes:
    """`submitted`: the workbook as delivered (None for JSON/CSV: the template is filled instead)."""
    wb = None
    if submitted is not None:
        try:
            wb = openpyxl.load_workbook(io.BytesIO(submitted))
        except Exception:  # a workbook validation refused may not even open: the template then
            wb = None
    if wb is None:
        wb = openpyxl.load_workbook(io.BytesIO(build_template(form, participant_bin=participant_bin, period=period)))
        place = layout(form)
        for p in place.inputs:
            v = values.get(p.code)
            if v is not None and p.field is not None:
                put(wb[p.sheet], p.row, p.column, v if not isinstance(v, Decimal) else float(v))
    where = {p.code: f"{p.sheet}!{p.coordinate}" for p in layout(form).inputs}
    for f in findings:
        fill = ERROR if f.severity == "error" else (EXPLAINED if f.explanation else QUERY)
        text = "\n".join(f"{lang}: {f.messages.get(lang, f.message)}" for lang in ("kk", "ru", "en"))
        if f.explanation:
            text += f"\n— {f.explanation}"
        for cell in f.cells:
            ref = where.get(cell, cell)
            if "!" not in ref:
                continue
            sheet, coord = ref.split("!", 1)
            if sheet not in wb.sheetnames:
                continue
            target = wb[sheet][coord]
            target.fill = fill
            target.comment = Comment(f"{f.rule}\n{text}"[:30000], "UISE")
    ws = wb.create_sheet("Findings", 0 if FORM_SHEET not in wb.sheetnames else 1)
    for column, header in enumerate(HEADERS, start=1):
        put(ws, 1, column, header)
    for n, f in enumerate(findings, start=2):
        row = [f.rule, f.severity, ", ".join(f.cells), f.messages.get("kk", ""), f.messages.get("ru", ""),
               f.messages.get("en", f.message), "; ".join(f"{k} = {v}" for k, v in f.observed.items()),
               f.expected or "", f.explanation or ""]
        for column, value in enumerate(row, start=1):
            put(ws, n, column, value)  # the document's text never becomes a formula
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

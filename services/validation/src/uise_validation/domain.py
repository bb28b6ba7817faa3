"""Pure checks of a document against its form. Reading the document into exact values (XLSX
template, JSON, CSV) is reading.py's; here: the template's identity and the form's rules."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from uise_common.aggregates import Agg, plain
from uise_common.rules import RuleErrors, compile_form
from uise_common.workbook import BIN_CODE, BIN_ROW, CODE_ROW, FORM_SHEET, PERIOD_CODE, PERIOD_ROW
from uise_contracts.events import Finding, FormDefinition
from uise_validation.consistency import consolidated, consolidation_findings
from uise_validation.outliers import OutlierPolicy, outlier_findings
from uise_validation.reading import XLSX, Exact, Reading, finding, read, read_mapping, shown

log = logging.getLogger(__name__)

__all__ = ["XLSX", "Context", "Judgement", "check", "check_identity", "check_rules", "explain", "judge",
           "read_document"]


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
    """Every rule of the form (v1 sums and the rule language alike, through uise_common.rules),
    on exact values; the cells named as the document names them (sheet!A1 in a workbook). A form
    whose rules do not compile (the registry refuses such a list) loses its rules, not the
    school's submission: it is logged for the operators."""
    where = where or {}
    try:
        compiled = compile_form(form)
    except RuleErrors as exc:
        log.error("a form's rules do not compile; its documents are judged without them",
                  extra={"form_code": form.code, "version": form.version, "error": str(exc)})
        return []
    findings = compiled.evaluate({c: v for c, v in values.items() if not isinstance(v, float)})
    return [f.model_copy(update={"cells": [where.get(c, c) for c in f.cells]}) for f in findings]


def query_key(f: Finding) -> str:
    """How a submitter names a query in an explanation: its rule code, and for a query about one
    cell (a range, an outlier) the rule and the cell: `VALUE_OUT_OF_RANGE:teachers`."""
    return f"{f.rule}:{f.field}" if f.field and f.rule in PER_CELL_QUERIES else f.rule


PER_CELL_QUERIES = {"VALUE_OUT_OF_RANGE", "OUTLIER_HISTORY", "OUTLIER_PEERS"}


def explain(findings: list[Finding], explanations: Mapping[str, str]) -> tuple[list[Finding], list[Finding]]:
    """Queries (warnings: unusual but possible) need the submitter's written explanation (DESIGN
    §3, step 4; the UK census's queries). Returns every finding, each explained query carrying its
    explanation, and the queries still open. A per-cell query may be explained by its rule code
    alone (one explanation for all its cells) or by `rule:cell`."""
    out, open_ = [], []
    for f in findings:
        if f.severity != "warning":
            out.append(f)
            continue
        text = explanations.get(query_key(f)) or explanations.get(f.rule)
        if text:
            out.append(f.model_copy(update={"explanation": text}))
        else:
            out.append(f)
            open_.append(f)
    return out, open_


@dataclass
class Judgement:
    values: dict[str, Exact]
    findings: list[Finding]  # every finding, explained queries with their explanations
    open_queries: list[Finding]
    aggregates: dict[str, Agg] = field(default_factory=dict)  # a department's, carried on exactly

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def queried(self) -> bool:
        """No error, but queries wait for an explanation: neither accepted nor rejected yet."""
        return self.ok and bool(self.open_queries)


@dataclass
class Context:
    """What is known beyond the document: the participant's own history, its peers', and for a
    department the accepted figures of its subordinates."""

    history: dict[str, list[tuple[str, Decimal]]] = field(default_factory=dict)
    peers: dict[str, list[tuple[str, Decimal]]] = field(default_factory=dict)
    subordinates: dict[str, dict[str, Agg]] | None = None  # what each stands for, by cell
    outliers: OutlierPolicy = field(default_factory=OutlierPolicy)


def judge(form: FormDefinition, doc: Reading, identity: list[Finding], context: Context,
          explanations: Mapping[str, str]) -> Judgement:
    """Every check of one document, in the order a person reads them: what the document is, what
    it holds, the form's rules, the figures far from what is known, the consolidation's sums."""
    findings = identity + doc.findings + check_rules(form, doc.values, doc.where)
    if not any(f.severity == "error" for f in findings):  # outliers of a broken document say nothing
        findings += outlier_findings(doc.values, context.history, "history", context.outliers)
        findings += outlier_findings(doc.values, context.peers, "peers", context.outliers)
    aggregates: dict[str, Agg] = {}
    if context.subordinates is not None:
        findings += consolidation_findings(form, doc.values, context.subordinates)
        aggregates = consolidated(form, context.subordinates)
        findings += aggregate_findings(doc.claimed_aggregates, aggregates)
    findings = [f.model_copy(update={"cells": [doc.where.get(c, c) for c in f.cells]}) for f in findings]
    all_findings, open_ = explain(findings, explanations)
    return Judgement(doc.values, all_findings, open_, aggregates)


def _shown(a: Agg | None) -> str:
    return "none" if a is None else f"sum {plain(a.sum)}, count {a.count}"


def aggregate_findings(claimed: Mapping[str, Agg] | None, computed: Mapping[str, Agg]) -> list[Finding]:
    """A consolidation that states aggregates (reporting's JSON does) must state the ones its
    subordinates' accepted data give; what it does not state is given those."""
    if claimed is None:
        return []
    out = []
    for code in sorted(claimed):  # a cell it states nothing for is given the computed one
        have, want = claimed.get(code), computed.get(code)
        if have == want:
            continue
        out.append(finding("AGGREGATES_MISMATCH", field=code, cells=[code], observed={code: _shown(have)},
                           expected=_shown(want), cell=code, found=_shown(have), wanted=_shown(want)))
    return out


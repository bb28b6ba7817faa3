"""The consolidated document of a node, in the form's own shapes (docs/consolidation.md): the
JSON a school would submit plus the reserved `_consolidation` key, and the form's XLSX template
(uise_common.workbook builds it; it is not rebuilt here) filled with the figures plus a
`_consolidation` worksheet of the exact aggregates and the subordinates' statuses."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from uise_common.aggregates import Agg
from uise_common.spreadsheets import put
from uise_common.workbook import CONSOLIDATION_SHEET, FORM_SHEET, build_template, layout
from uise_contracts.events import FieldType, FormDefinition
from uise_reporting import domain

JSON = "application/json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RESERVED_KEY = "_consolidation"
_BIN = re.compile(r"[0-9]{12}", re.ASCII)


@dataclass(frozen=True)
class Built:
    """What a consolidation stands on: who is in it and the exact aggregates by cell."""

    consolidation_id: str
    node_id: str
    form_code: str
    period: str
    version: int
    reason: str
    aggregates: Mapping[str, Agg]
    figures: Mapping[str, Decimal | None]
    included: list[str]
    late: list[str]
    missing: list[str]
    returned: list[str]
    included_submissions: Mapping[str, str]

    def statuses(self) -> list[tuple[str, str]]:
        """Each subordinate once: late (not also included), included, missing, returned."""
        late = set(self.late)
        out = [(p, "late" if p in late else "included") for p in sorted(set(self.included) | late)]
        seen = {p for p, _ in out}
        for status, who in (("missing", self.missing), ("returned", self.returned)):
            out += [(p, status) for p in sorted(set(who) - seen)]
            seen |= set(who)
        return out


def json_document(b: Built) -> bytes:
    """A flat object like a school's JSON submission (cell -> number; empty cells omitted) plus
    the reserved key `_consolidation`; sorted keys, numbers in plain notation."""
    doc: dict[str, object] = {code: domain.as_number(v) for code, v in b.figures.items() if v is not None}
    doc[RESERVED_KEY] = {
        "consolidation_id": b.consolidation_id, "node_id": b.node_id, "form_code": b.form_code,
        "period": b.period, "version": b.version, "reason": b.reason,
        "aggregates": {code: a.contract().model_dump() for code, a in b.aggregates.items()},
        "included": sorted(b.included), "late": sorted(b.late), "missing": sorted(b.missing),
        "returned": sorted(b.returned), "included_submissions": dict(b.included_submissions),
    }
    return domain.dumps(doc).encode()


def _cell_number(value: Decimal, kind: FieldType) -> int | float:
    # A workbook holds doubles: the Form sheet shows the figure, the exact one is on
    # `_consolidation` as text. Integers are written as integers.
    n = domain.as_number(value)
    return n if isinstance(n, int) else float(n)


def xlsx_document(form: FormDefinition, b: Built) -> bytes:
    from openpyxl import load_workbook

    node_bin = b.node_id if _BIN.fullmatch(b.node_id) else None
    template = build_template(form, participant_bin=node_bin, period=b.period)
    wb = load_workbook(io.BytesIO(template))
    ws = wb[FORM_SHEET]
    place = layout(form)
    for code, value in b.figures.items():
        if value is not None:
            p = place.placement(code)
            ws.cell(p.row, p.column).value = _cell_number(value, p.type)
    sheet = wb.create_sheet(CONSOLIDATION_SHEET)
    for c, head in enumerate(("cell", "sum", "count", "min", "max"), start=1):
        put(sheet, 1, c, head)
    row = 2
    for code, a in b.aggregates.items():
        exact = a.contract()
        for c, value in enumerate((code, exact.sum, exact.count, exact.min, exact.max), start=1):
            put(sheet, row, c, value, neutralised=False)  # machine-read, exactly; never a formula
        row += 1
    row += 1  # one empty row between the tables
    put(sheet, row, 1, "subordinate")
    put(sheet, row, 2, "status")
    for participant, status in b.statuses():
        row += 1
        put(sheet, row, 1, participant)
        put(sheet, row, 2, status)
    sheet.protection.sheet = True
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

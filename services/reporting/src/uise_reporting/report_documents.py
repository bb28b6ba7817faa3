"""A report version's three documents (docs/reports.md): JSON (machine-read, exact strings), XLSX
(totals, breakdown, completeness; no formulas, text neutralised) and PDF (kk/ru, DejaVu Sans
from uise_common.pdffonts). Pure: the content in, bytes out."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from uise_common.spreadsheets import put
from uise_contracts.events import FormDefinition
from uise_reporting import domain

JSON = "application/json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"

STATUS_TEXT = {"preliminary": "предварительный / алдын ала", "final": "окончательный / қорытынды"}
LEVEL_TEXT = {"ministry": "министерство / министрлік", "region": "область / облыс",
              "district": "район (город) / аудан (қала)", "organization": "организация / ұйым"}


@dataclass(frozen=True)
class Content:
    report_id: str
    node_id: str
    level: str
    form: FormDefinition
    period: str
    version: int
    status: str
    reason: str
    built_at: datetime
    form_list: dict | None
    totals: dict[str, str | None]  # cell -> exact string
    aggregates: dict[str, dict]  # cell -> {sum, count, min, max}
    breakdown: list[dict]  # {participant_id, level, submission_id, figures, subordinates: [...]}
    completeness: list[dict]  # {level, expected, delivered, on_time, late, missing, returned}
    submissions: list[dict]
    changes: list[dict] = field(default_factory=list)
    previous_version: int | None = None
    findings: list[dict] = field(default_factory=list)  # {rule, severity, message, submissions, explained, participants}
    corrections: list[dict] = field(default_factory=list)  # {participant_id, level, submission_id, supersedes, changes}

    def titles(self) -> dict[str, str]:
        return {c.code: c.title for c in self.form.cells()}

    def title_ru(self) -> str:
        return f"Отчёт по форме {self.form.code} за {self.period}"

    def title_kk(self) -> str:
        return f"{self.form.code} нысаны бойынша {self.period} кезеңіндегі есеп"


def as_dict(c: Content) -> dict:
    return {
        "report_id": c.report_id, "node_id": c.node_id, "level": c.level, "form_code": c.form.code,
        "form_version": c.form.version, "form_title": {"ru": c.form.title_ru, "kk": c.form.title_kk},
        "form_list": c.form_list, "period": c.period, "version": c.version, "status": c.status,
        "reason": c.reason, "built_at": c.built_at.isoformat(), "totals": c.totals, "aggregates": c.aggregates,
        "breakdown": c.breakdown, "completeness": c.completeness, "submissions": c.submissions,
        "previous_version": c.previous_version, "changes": c.changes,
        "findings": c.findings, "corrections": c.corrections,
    }


def json_document(c: Content) -> bytes:
    """Sorted keys; every figure an exact decimal string (a consumer never reads a float)."""
    return domain.dumps(as_dict(c)).encode()


def _number(text: str | None) -> int | float | None:
    n = domain.as_number(Decimal(text)) if text is not None else None
    return n if n is None or isinstance(n, int) else float(n)


def _flat(breakdown: list[dict], parent: str | None = None):
    for entry in breakdown:
        yield parent, entry
        yield from _flat(entry.get("subordinates", []), entry["participant_id"])


def xlsx_document(c: Content) -> bytes:
    """Sheets `totals` (cell, title, figure, exact figure, sum, count, min, max), `breakdown` (one
    row per subordinate and, below a department, per its subordinate: exact figures by cell) and
    `completeness` (per level). Figures are numbers with their exact text beside; nothing is a
    formula; text from outside (titles, ids) is neutralised."""
    from openpyxl import Workbook

    wb = Workbook()
    totals = wb.active
    totals.title = "totals"
    titles = c.titles()
    for col, head in enumerate(("cell", "title", "figure", "exact", "sum", "count", "min", "max"), start=1):
        put(totals, 1, col, head)
    for row, (code, value) in enumerate(c.totals.items(), start=2):
        agg = c.aggregates.get(code, {})
        put(totals, row, 1, code)
        put(totals, row, 2, titles.get(code, code))
        put(totals, row, 3, _number(value))
        # exact decimal text: machine-read back exactly, never a formula
        for col, v in enumerate((value, agg.get("sum"), agg.get("count"), agg.get("min"), agg.get("max")), start=4):
            put(totals, row, col, v, neutralised=False)
    cells = list(c.totals)
    breakdown = wb.create_sheet("breakdown")
    for col, head in enumerate(("participant", "level", "parent", "submission", *cells), start=1):
        put(breakdown, 1, col, head)
    for row, (parent, entry) in enumerate(_flat(c.breakdown), start=2):
        for col, v in enumerate((entry["participant_id"], entry["level"], parent, entry["submission_id"]), start=1):
            put(breakdown, row, col, v)
        for col, code in enumerate(cells, start=5):
            put(breakdown, row, col, entry["figures"].get(code), neutralised=False)
    completeness = wb.create_sheet("completeness")
    heads = ("level", "expected", "delivered", "on_time", "late", "missing", "returned")
    for col, head in enumerate(heads, start=1):
        put(completeness, 1, col, head)
    for row, entry in enumerate(c.completeness, start=2):
        for col, head in enumerate(heads, start=1):
            put(completeness, row, col, entry[head])
    findings = wb.create_sheet("findings")
    heads = ("rule", "severity", "submissions", "explained", "message", "participants")
    for col, head in enumerate(heads, start=1):
        put(findings, 1, col, head)
    for row, entry in enumerate(c.findings, start=2):
        for col, head in enumerate(heads[:-1], start=1):
            put(findings, row, col, entry[head])
        put(findings, row, len(heads), ", ".join(entry["participants"]))
    corrections = wb.create_sheet("corrections")
    heads = ("participant", "level", "submission", "supersedes", "accepted_at", "cell", "before", "after")
    for col, head in enumerate(heads, start=1):
        put(corrections, 1, col, head)
    row = 2
    for entry in c.corrections:
        for ch in entry["changes"] or [{"cell": None, "before": None, "after": None}]:
            for col, v in enumerate((entry["participant_id"], entry["level"], entry["submission_id"],
                                     entry["supersedes"], entry["accepted_at"]), start=1):
                put(corrections, row, col, v)
            for col, v in enumerate((ch["cell"], ch["before"], ch["after"]), start=6):
                put(corrections, row, col, v, neutralised=False)
            row += 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_PDF_COLUMNS = 8  # breakdown cells per table, so a wide form stays readable on A4 landscape


def pdf_document(c: Content) -> bytes:
    """A4 landscape, kk/ru: the title, identity and status, totals, the breakdown by subordinate,
    completeness and timeliness, and the changes since the previous version."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from uise_common.pdffonts import FONT, FONT_BOLD, register_fonts

    register_fonts()
    title = ParagraphStyle("title", fontName=FONT_BOLD, fontSize=13, leading=17, alignment=1, spaceAfter=2 * mm)
    h2 = ParagraphStyle("h2", fontName=FONT_BOLD, fontSize=11, leading=14, spaceBefore=4 * mm, spaceAfter=2 * mm)
    text = ParagraphStyle("text", fontName=FONT, fontSize=9, leading=12)
    cell = ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=10)
    head = ParagraphStyle("head", parent=cell, fontName=FONT_BOLD)

    def table(rows: list[list[str]], widths: list[float] | None = None) -> Table:
        t = Table([[Paragraph(escape(str("" if v is None else v)), head if i == 0 else cell) for v in r]
                   for i, r in enumerate(rows)], colWidths=widths, repeatRows=1, splitInRow=1)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#D9E1F2")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    lst = c.form_list
    basis = (f"Перечень {lst['year']} г., версия {lst['version']}, приказ № {lst['order_no']} от {lst['order_date']} / "
             f"{lst['year']} жылғы тізбе, {lst['version']}-нұсқа" if lst else "—")
    story = [
        Paragraph(escape(c.title_ru()), title), Paragraph(escape(c.title_kk()), title),
        Paragraph(escape(f"{c.form.title_ru} / {c.form.title_kk}"), text),
        Paragraph(escape(f"Узел / Түйін: {c.node_id} · {LEVEL_TEXT.get(c.level, c.level)}"), text),
        Paragraph(escape(f"Версия отчёта / Есеп нұсқасы: {c.version} · Статус / Мәртебесі: "
                         f"{STATUS_TEXT.get(c.status, c.status)}"), text),
        Paragraph(escape(f"Версия формы / Нысан нұсқасы: {c.form.version} · {basis}"), text),
        Paragraph(escape(f"Сформирован / Жасалды: {c.built_at:%Y-%m-%d %H:%M} UTC · {c.report_id}"), text),
        Paragraph("Итоги / Қорытынды көрсеткіштер", h2),
    ]
    titles = c.titles()
    story.append(table([["Показатель / Көрсеткіш", "Код", "Значение / Мәні"],
                        *[[titles.get(k, k), k, v] for k, v in c.totals.items()]],
                       widths=[150 * mm, 60 * mm, 57 * mm]))
    story.append(Paragraph("В разрезе подчинённых / Бағынысты ұйымдар бойынша", h2))
    cells = list(c.totals)
    rows = list(_flat(c.breakdown))
    for start in range(0, max(len(cells), 1), _PDF_COLUMNS):
        part = cells[start:start + _PDF_COLUMNS]
        story.append(table([["Участник / Қатысушы", *part],
                            *[[("  └ " if parent else "") + e["participant_id"], *[e["figures"].get(k) for k in part]]
                              for parent, e in rows]]))
        story.append(Spacer(1, 2 * mm))
    story.append(Paragraph("Полнота и своевременность / Толықтығы және уақтылығы", h2))
    story.append(table([["Уровень / Деңгей", "Ожидалось / Күтілді", "Сдано / Тапсырылды", "В срок / Мерзімінде",
                         "С опозданием / Кешігіп", "Не сдано / Тапсырылмады", "Возвращено / Қайтарылды"],
                        *[[LEVEL_TEXT.get(e["level"], e["level"]), e["expected"], e["delivered"], e["on_time"],
                           e["late"], e["missing"], e["returned"]] for e in c.completeness]]))
    story.append(Paragraph("Замечания проверки / Тексеру ескертулері", h2))
    story.append(table([["Правило / Ереже", "Вид / Түрі", "Представлений / Тапсырылым", "С пояснением / Түсіндірмемен",
                         "Сообщение / Хабарлама"],
                        *[[f["rule"], f["severity"], f["submissions"], f["explained"], f["message"]]
                          for f in c.findings]] if c.findings else [["—"]]))
    story.append(Paragraph("Исправления искажённых данных / Бұрмаланған деректерді түзету", h2))
    story.append(table([["Участник / Қатысушы", "Представление / Тапсырылым", "Код", "Было / Болды",
                         "Стало / Болды"],
                        *[[e["participant_id"], e["submission_id"], ch["cell"], ch["before"], ch["after"]]
                          for e in c.corrections for ch in e["changes"]]] if c.corrections else [["—"]]))
    if c.changes:
        story.append(Paragraph(f"Изменения с версии {c.previous_version} / {c.previous_version}-нұсқадан "
                               "бергі өзгерістер", h2))
        story.append(table([["Код", "Было / Болды", "Стало / Болды"],
                            *[[ch["cell"], ch["before"], ch["after"]] for ch in c.changes]]))

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawRightString(doc.pagesize[0] - 15 * mm, 8 * mm,
                               f"{c.report_id} v{c.version} · {doc.page}-бет / стр. {doc.page}")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm, author="UISE",
                            title=f"{c.title_ru()}, версия {c.version}")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()

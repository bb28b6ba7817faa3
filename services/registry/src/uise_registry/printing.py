"""The approved list of forms as a printable PDF: the paper channel of clause 7 (the embedded
font with Cyrillic and Kazakh letters comes from uise_common.pdffonts)."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from uise_common.pdffonts import FONT, FONT_BOLD, FontNotFound, find_font, register_fonts
from uise_contracts.events import FormDefinition, FormListApproved, Level

__all__ = ["FONT", "FONT_BOLD", "FontNotFound", "find_font", "formlist_pdf"]


_CATEGORY = {
    "indicators": "Учётные данные по показателям / Көрсеткіштер бойынша есепке алу деректері",
    "monitoring": "Данные мониторинга / Мониторинг деректері",
    "other": "Прочие данные / Өзге деректер",
}
_PERIOD = {
    "annual": "годовая / жылдық",
    "semiannual": "полугодовая / жартыжылдық",
    "quarterly": "квартальная / тоқсандық",
    "monthly": "месячная / айлық",
    "as_of_date": "на дату / күнгі жағдай бойынша",
    "ad_hoc": "по запросу / сұрау бойынша",
}
_KINDS = {
    "school": "школы / мектептер",
    "college": "колледжи / колледждер",
    "university": "вузы / ЖОО",
    "preschool": "дошкольные организации / мектепке дейінгі ұйымдар",
}
_LEVELS = {
    Level.organization: "организация / ұйым",
    Level.district: "район (город) / аудан (қала)",
    Level.region: "область / облыс",
    Level.ministry: "министерство / министрлік",
}
_LEVEL_ORDER = [Level.organization, Level.district, Level.region, Level.ministry]


def _order_no(no: str) -> str:
    no = no.strip()
    return no if no.startswith("№") else f"№ {no}"


def _deadlines(form: FormDefinition) -> str:
    return "<br/>".join(f"{escape(_LEVELS[lv])}: {form.deadline_days[lv]}"
                        for lv in _LEVEL_ORDER if lv in form.deadline_days)


def formlist_pdf(approved: FormListApproved) -> bytes:
    """The approved list (clause 6) as an A4 landscape PDF to print, sign and send on paper."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    register_fonts()
    title_style = ParagraphStyle("title", fontName=FONT_BOLD, fontSize=13, leading=17, alignment=1,
                                 spaceAfter=2 * mm)
    text = ParagraphStyle("text", fontName=FONT, fontSize=10, leading=13)
    cell = ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=10)
    head = ParagraphStyle("head", parent=cell, fontName=FONT_BOLD)

    year = approved.year
    order_date = approved.order_date.strftime("%d.%m.%Y")
    order = escape(_order_no(approved.order_no))
    story = [
        Paragraph(f"Перечень форм единой информационной системы образования на {year} год", title_style),
        Paragraph(f"Білім берудің бірыңғай ақпараттық жүйесі нысандарының {year} жылға арналған тізбесі",
                  title_style),
        Spacer(1, 2 * mm),
        Paragraph(f"Утверждён приказом {order} от {order_date} / {order_date} {order} бұйрықпен бекітілген",
                  text),
    ]
    if approved.signatory:
        story.append(Paragraph(f"Подписал / Қол қойған: {escape(approved.signatory)}", text))
    version = f"Версия перечня / Тізбе нұсқасы: {approved.version}"
    if approved.supersedes_version is not None:
        version += (f" (заменяет версию {approved.supersedes_version} / "
                    f"{approved.supersedes_version}-нұсқаның орнына)")
    story += [Paragraph(version, text), Spacer(1, 4 * mm)]

    headers = ["№", "Код формы / Нысан коды", "Наименование / Атауы", "Вид данных / Деректер түрі",
               "Периодичность / Кезеңділігі", "Респонденты / Респонденттер",
               "Срок, дней после окончания периода / Мерзімі, кезең аяқталғаннан кейінгі күндер"]
    rows = [[Paragraph(h, head) for h in headers]]
    for n, form in enumerate(approved.forms, start=1):
        kinds = ", ".join(_KINDS.get(k, k) for k in form.respondent_kinds)
        rows.append([
            Paragraph(str(n), cell),
            Paragraph(f"{escape(form.code)}<br/>v{form.version}", cell),
            Paragraph(f"{escape(form.title_ru)}<br/><br/>{escape(form.title_kk)}", cell),
            Paragraph(escape(_CATEGORY.get(form.category, form.category)), cell),
            Paragraph(escape(_PERIOD.get(form.period_type, form.period_type)), cell),
            Paragraph(escape(kinds), cell),
            Paragraph(_deadlines(form), cell),
        ])
    # Widths in mm add up to the 267 mm between A4 landscape margins; the title column takes the
    # rest so long titles wrap there instead of squeezing the codes.
    widths = [9, 24, 90, 38, 30, 36, 40]
    # splitInRow: a row taller than a page (a very long title) continues on the next one
    table = Table(rows, colWidths=[w * mm for w in widths], repeatRows=1, splitInRow=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#D9E1F2")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story.append(table)

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawRightString(doc.pagesize[0] - 15 * mm, 8 * mm,
                               f"{year} v{approved.version} · {doc.page}-бет / стр. {doc.page}")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm, author="UISE",
                            title=f"Перечень форм на {year} год, версия {approved.version}")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()

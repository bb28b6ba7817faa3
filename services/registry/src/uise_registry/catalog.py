"""Three realistic forms of Kazakhstan's education statistics, one per data category of clause 2
(indicators, monitoring, other), for the demo, the seed and the tests.

Codes of sections, rows and columns are short lowercase ASCII because they become the cell codes
`<section>.<row>.<column>` that travel in events, CSV/JSON submissions and the XLSX map; the titles
carry the three languages.
"""

from __future__ import annotations

from uise_contracts.events import (
    Category,
    FieldType,
    FormColumn,
    FormDefinition,
    FormField,
    FormRow,
    FormRule,
    FormSection,
    Level,
)

# --- OSH-1: the school's annual report on its network and pupils (indicators) -------------


def _grade_rows() -> list[FormRow]:
    """Pre-school class (grade 0) and grades 1..11, coded g00..g11 so they sort as written."""
    rows = [FormRow(code="g00", title_kk="Мектепалды даярлық сыныбы (0 сынып)",
                    title_ru="Предшкольный класс (0 класс)", title_en="Pre-school class (grade 0)")]
    rows += [FormRow(code=f"g{n:02d}", title_kk=f"{n}-сынып", title_ru=f"{n} класс", title_en=f"Grade {n}")
             for n in range(1, 12)]
    return rows


_PUPILS = FormSection(
    code="pupils",
    title_kk="Оқушылар контингенті сыныптар бойынша",
    title_ru="Контингент учащихся по классам",
    title_en="Pupils by grade",
    rows=_grade_rows(),
    columns=[
        FormColumn(code="total", title_kk="Оқушылар, барлығы", title_ru="Учащихся, всего",
                   title_en="Pupils, total"),
        FormColumn(code="girls", title_kk="оның ішінде қыздар", title_ru="из них девочки",
                   title_en="of them girls"),
        FormColumn(code="kazakh", title_kk="қазақ тілінде оқитындар", title_ru="обучаются на казахском языке",
                   title_en="taught in Kazakh"),
        FormColumn(code="russian", title_kk="орыс тілінде оқитындар", title_ru="обучаются на русском языке",
                   title_en="taught in Russian"),
        FormColumn(code="other", title_kk="басқа тілдерде оқитындар", title_ru="обучаются на других языках",
                   title_en="taught in other languages"),
    ],
)

_CLASSES = FormSection(
    code="classes",
    title_kk="Сынып-жинақтар саны сыныптар бойынша",
    title_ru="Число классов-комплектов по классам",
    title_en="Classes by grade",
    rows=_grade_rows(),
    columns=[FormColumn(code="count", title_kk="Сынып-жинақтар саны", title_ru="Число классов-комплектов",
                        title_en="Number of classes")],
)

# The categories of the current teacher-qualification system ("педагог-мастер … педагог").
_STAFF = FormSection(
    code="staff",
    title_kk="Педагогтер біліктілік санаттары бойынша",
    title_ru="Педагогические работники по квалификационным категориям",
    title_en="Teaching staff by qualification category",
    rows=[
        FormRow(code="master", title_kk="Педагог-шебер", title_ru="Педагог-мастер", title_en="Teacher-master"),
        FormRow(code="researcher", title_kk="Педагог-зерттеуші", title_ru="Педагог-исследователь",
                title_en="Teacher-researcher"),
        FormRow(code="expert", title_kk="Педагог-сарапшы", title_ru="Педагог-эксперт", title_en="Teacher-expert"),
        FormRow(code="moderator", title_kk="Педагог-модератор", title_ru="Педагог-модератор",
                title_en="Teacher-moderator"),
        FormRow(code="teacher", title_kk="Педагог (санатсыз)", title_ru="Педагог (без категории)",
                title_en="Teacher (no category)"),
    ],
    columns=[
        FormColumn(code="total", title_kk="Барлығы", title_ru="Всего", title_en="Total"),
        FormColumn(code="women", title_kk="оның ішінде әйелдер", title_ru="из них женщины",
                   title_en="of them women"),
        FormColumn(code="higher", title_kk="жоғары білімі барлар", title_ru="с высшим образованием",
                   title_en="with higher education"),
    ],
)

# "girls ≤ total" is not expressible as a v1 rule (left = sum of right), so only the language
# split is checked: every pupil is taught in exactly one language of instruction.
_LANGUAGE_RULES = [
    FormRule(code=f"PUPILS_LANG_{row.code.upper()}", severity="error", left=f"pupils.{row.code}.total",
             right=[f"pupils.{row.code}.kazakh", f"pupils.{row.code}.russian", f"pupils.{row.code}.other"],
             message=f"{row.title_ru}: всего учащихся должно равняться сумме по языкам обучения / "
                     f"{row.title_kk}: оқушылар саны оқыту тілдері бойынша қосындыға тең болуы тиіс")
    for row in _PUPILS.rows
]

OSH_1 = FormDefinition(
    code="OSH-1",
    title_kk="Жалпы білім беретін мектептің желісі мен контингенті туралы жылдық есебі",
    title_ru="Годовой отчёт общеобразовательной школы о сети и контингенте учащихся",
    title_en="Annual report of a general-education school on its network and pupils",
    category=Category.indicators,
    period_type="annual",
    respondent_kinds=["school"],
    sections=[_PUPILS, _CLASSES, _STAFF],
    rules=_LANGUAGE_RULES,
    deadline_days={Level.organization: 10, Level.district: 20, Level.region: 30},
)

# --- MON-Q: quarterly monitoring of attendance and free meals (monitoring) ------------------

MON_Q = FormDefinition(
    code="MON-Q",
    title_kk="Сабаққа қатысу және тегін ыстық тамақтандыру мониторингі (тоқсандық)",
    title_ru="Мониторинг посещаемости и бесплатного горячего питания (ежеквартальный)",
    title_en="Quarterly monitoring of attendance and free meals",
    category=Category.monitoring,
    period_type="quarterly",
    respondent_kinds=["school", "college"],
    sections=[FormSection(
        code="att",
        title_kk="Сынып топтары бойынша қатысу және тамақтандыру",
        title_ru="Посещаемость и питание по группам классов",
        title_en="Attendance and meals by grade group",
        rows=[
            FormRow(code="g01_04", title_kk="1–4 сыныптар", title_ru="1–4 классы", title_en="Grades 1–4"),
            FormRow(code="g05_09", title_kk="5–9 сыныптар", title_ru="5–9 классы", title_en="Grades 5–9"),
            FormRow(code="g10_11", title_kk="10–11 сыныптар", title_ru="10–11 классы", title_en="Grades 10–11"),
        ],
        columns=[
            FormColumn(code="enrolled", title_kk="Оқушылар контингенті", title_ru="Контингент учащихся",
                       title_en="Pupils enrolled"),
            # A rate: summing it up the hierarchy would be meaningless, the mean is what is reported.
            FormColumn(code="attendance", title_kk="Орташа күндік қатысу", title_ru="Средняя ежедневная посещаемость",
                       title_en="Average daily attendance", type=FieldType.decimal, aggregate="mean", unit="%"),
            FormColumn(code="meals", title_kk="Тегін ыстық тамақ алатын оқушылар",
                       title_ru="Учащиеся, получающие бесплатное горячее питание",
                       title_en="Pupils receiving free hot meals"),
        ],
    )],
    fields=[FormField(code="reporting_contact", title="Жауапты тұлға, телефон / Ответственное лицо, телефон",
                      type=FieldType.text, required=False, aggregate="none")],
    deadline_days={Level.organization: 5, Level.district: 10, Level.region: 15},
)

# --- OTH-HEAT: readiness for the heating season, requested ad hoc (other) -----------------

OTH_HEAT = FormDefinition(
    code="OTH-HEAT",
    title_kk="Білім беру ұйымының жылыту маусымына дайындығы туралы мәліметтер",
    title_ru="Сведения о готовности организации образования к отопительному сезону",
    title_en="Readiness of the education organization for the heating season",
    category=Category.other,
    period_type="ad_hoc",
    respondent_kinds=["school", "preschool", "college"],
    fields=[
        FormField(code="heating_type", title="Жылыту түрі / Тип отопления", type=FieldType.enumeration,
                  aggregate="none", options=["central", "own boiler", "electric", "stove"]),
        FormField(code="ready_date", title="Дайындық күні / Дата готовности", type=FieldType.date,
                  aggregate="none"),
        FormField(code="boiler_capacity_kw", title="Қазандық қуаты / Мощность котельной",
                  type=FieldType.decimal, required=False, aggregate="sum", unit="kW"),
        FormField(code="issues", title="Мәселелер / Проблемы", type=FieldType.text, required=False,
                  aggregate="none"),
    ],
    deadline_days={Level.organization: 7, Level.district: 10, Level.region: 14},
)

CATALOG: list[FormDefinition] = [OSH_1, MON_Q, OTH_HEAT]

"""Three realistic forms of Kazakhstan's education statistics, one per data category of clause 2
(indicators, monitoring, other), for the demo, the seed and the tests, each with its validation
rules in the rule language (uise_common.rules, docs/validation.md "Rules") and plausible ranges
on its numeric cells; `example_values` gives a document of each that every rule accepts.

Codes of sections, rows and columns are short lowercase ASCII because they become the cell codes
`<section>.<row>.<column>` that travel in events, CSV/JSON submissions and the XLSX map; the titles
carry the three languages.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

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
    MissingStrategy,
)

ANY: MissingStrategy = "skip_if_any_missing"
ALL: MissingStrategy = "skip_if_all_missing"
NEVER: MissingStrategy = "never_skip"


def _rule(code: str, expr: str, en: str, ru: str, kk: str, severity: str = "error",
          left: MissingStrategy = ANY, right: MissingStrategy = ANY) -> FormRule:
    return FormRule(code=code, expr=expr, severity=severity, message=en, message_ru=ru, message_kk=kk,  # type: ignore[arg-type]
                    missing_left=left, missing_right=right)


# --- OSH-1: the school's annual report on its network and pupils (indicators) -------------


def _grade_rows() -> list[FormRow]:
    """Pre-school class (grade 0) and grades 1..11, coded g00..g11 so they sort as written."""
    rows = [FormRow(code="g00", title_kk="Мектепалды даярлық сыныбы (0 сынып)",
                    title_ru="Предшкольный класс (0 класс)", title_en="Pre-school class (grade 0)")]
    rows += [FormRow(code=f"g{n:02d}", title_kk=f"{n}-сынып", title_ru=f"{n} класс", title_en=f"Grade {n}")
             for n in range(1, 12)]
    return rows


_TOTAL_ROW = FormRow(code="total", title_kk="Барлығы", title_ru="Всего", title_en="Total")
_PUPILS_MAX = Decimal(10_000)  # the largest schools of Astana and Almaty teach about 6,000

_PUPILS = FormSection(
    code="pupils",
    title_kk="Оқушылар контингенті сыныптар бойынша",
    title_ru="Контингент учащихся по классам",
    title_en="Pupils by grade",
    rows=[*_grade_rows(), _TOTAL_ROW],
    columns=[
        FormColumn(code="total", title_kk="Оқушылар, барлығы", title_ru="Учащихся, всего",
                   title_en="Pupils, total", min=Decimal(0), max=_PUPILS_MAX),
        FormColumn(code="girls", title_kk="оның ішінде қыздар", title_ru="из них девочки",
                   title_en="of them girls", min=Decimal(0), max=_PUPILS_MAX),
        FormColumn(code="kazakh", title_kk="қазақ тілінде оқитындар", title_ru="обучаются на казахском языке",
                   title_en="taught in Kazakh", min=Decimal(0), max=_PUPILS_MAX),
        FormColumn(code="russian", title_kk="орыс тілінде оқитындар", title_ru="обучаются на русском языке",
                   title_en="taught in Russian", min=Decimal(0), max=_PUPILS_MAX),
        FormColumn(code="other", title_kk="басқа тілдерде оқитындар", title_ru="обучаются на других языках",
                   title_en="taught in other languages", min=Decimal(0), max=_PUPILS_MAX),
    ],
)

_CLASSES = FormSection(
    code="classes",
    title_kk="Сынып-жинақтар саны сыныптар бойынша",
    title_ru="Число классов-комплектов по классам",
    title_en="Classes by grade",
    rows=_grade_rows(),
    columns=[FormColumn(code="count", title_kk="Сынып-жинақтар саны", title_ru="Число классов-комплектов",
                        title_en="Number of classes", min=Decimal(0), max=Decimal(60))],
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
        FormColumn(code="total", title_kk="Барлығы", title_ru="Всего", title_en="Total",
                   min=Decimal(0), max=Decimal(500)),
        FormColumn(code="women", title_kk="оның ішінде әйелдер", title_ru="из них женщины",
                   title_en="of them women", min=Decimal(0), max=Decimal(500)),
        FormColumn(code="higher", title_kk="жоғары білімі барлар", title_ru="с высшим образованием",
                   title_en="with higher education", min=Decimal(0), max=Decimal(500)),
    ],
)

_OSH_FIELDS = [
    FormField(code="boarding", title="Мектеп жанындағы интернат / Пришкольный интернат",
              type=FieldType.enumeration, options=["yes", "no"], aggregate="none"),
    FormField(code="boarders", title="Интернатта тұратын оқушылар / Проживают в интернате", required=False,
              min=Decimal(0), max=Decimal(3000)),
    FormField(code="teachers", title="Педагогтер, барлығы / Педагогов, всего", min=Decimal(0), max=Decimal(1000)),
    FormField(code="capacity", title="Жобалық қуаты, орын / Проектная мощность, мест",
              min=Decimal(5), max=_PUPILS_MAX),
    FormField(code="shifts", title="Оқу ауысымдарының саны / Число учебных смен", aggregate="max",
              min=Decimal(1), max=Decimal(3)),
]

_PUPIL_ROWS = _PUPILS.rows
_GRADES = _grade_rows()


def _osh_rules() -> list[FormRule]:
    rules: list[FormRule] = []
    # v1 rules (`left` = the sum of `right`) stay valid: the language split, row by row, is kept
    # in that form to show both kinds judged by one engine
    for row in _PUPIL_ROWS:
        rules.append(FormRule(
            code=f"PUPILS_LANG_{row.code.upper()}", left=f"pupils.{row.code}.total",
            right=[f"pupils.{row.code}.kazakh", f"pupils.{row.code}.russian", f"pupils.{row.code}.other"],
            message=f"{row.title_en}: pupils, total, equal those taught in Kazakh, Russian and other languages",
            message_ru=f"{row.title_ru}: всего учащихся равно сумме обучающихся на казахском, русском и других языках",
            message_kk=f"{row.title_kk}: оқушылар саны қазақ, орыс және басқа тілдерде оқитындардың "
                       f"қосындысына тең"))
    # the total row is the sum of the grade rows; a grade the school does not teach may be left
    # empty, so only a column left wholly empty skips the check
    for col in _PUPILS.columns:
        rules.append(_rule(
            f"PUPILS_SUM_{col.code.upper()}", f"pupils.total.{col.code} == sum(pupils.g*.{col.code})",
            f"Total row, {col.title_en}: equals the sum of grades 0–11",
            f"Строка «Всего», графа «{col.title_ru}»: равна сумме по 0–11 классам",
            f"«Барлығы» жолы, «{col.title_kk}» бағаны: 0–11 сыныптар бойынша қосындыға тең", right=ALL))
    for row in _PUPIL_ROWS:
        rules.append(_rule(
            f"PUPILS_GIRLS_{row.code.upper()}", f"pupils.{row.code}.girls <= pupils.{row.code}.total",
            f"{row.title_en}: girls are at most all pupils",
            f"{row.title_ru}: девочек не больше, чем всех учащихся",
            f"{row.title_kk}: қыздар саны барлық оқушылар санынан аспайды"))
    for row in _GRADES:
        rules.append(_rule(
            f"CLASSES_NEEDED_{row.code.upper()}",
            f"if pupils.{row.code}.total > 0 then classes.{row.code}.count >= 1",
            f"{row.title_en}: a grade with pupils has at least one class",
            f"{row.title_ru}: при наличии учащихся есть хотя бы один класс-комплект",
            f"{row.title_kk}: оқушылар болса, кемінде бір сынып-жинақ болады", left=NEVER))
    rules += [
        _rule("CLASS_SIZE", "pupils.total.total <= 35 * sum(classes.*.count)",
              "More than 35 pupils per class on average: check the number of classes",
              "В среднем больше 35 учащихся на класс: проверьте число классов-комплектов",
              "Бір сыныпқа орта есеппен 35-тен астам оқушы: сынып-жинақтар санын тексеріңіз",
              severity="warning", right=NEVER),
        _rule("TEACHERS_BY_CATEGORY", "teachers == sum(staff.*.total)",
              "Teaching staff equals the sum over qualification categories",
              "Число педагогов равно сумме по квалификационным категориям",
              "Педагогтер саны біліктілік санаттары бойынша қосындыға тең", right=ALL),
        _rule("STAFF_WOMEN", "sum(staff.*.women) <= teachers",
              "Women among teaching staff are at most all teaching staff",
              "Женщин среди педагогов не больше, чем всех педагогов",
              "Педагог әйелдер саны барлық педагогтер санынан аспайды", left=ALL),
        _rule("STAFF_HIGHER", "sum(staff.*.higher) <= teachers",
              "Teachers with higher education are at most all teaching staff",
              "Педагогов с высшим образованием не больше, чем всех педагогов",
              "Жоғары білімді педагогтер саны барлық педагогтер санынан аспайды", left=ALL),
        _rule("TEACHERS_PRESENT", "if pupils.total.total > 0 then teachers >= 1",
              "A school with pupils has teaching staff",
              "В школе с учащимися есть педагоги",
              "Оқушылары бар мектепте педагогтер болады", left=NEVER),
        # an empty `boarders` counts as 0 here: a school without boarding may leave it blank
        _rule("BOARDERS_NONE", 'if boarding == "no" then boarders == 0',
              "A school without a boarding facility has no boarders",
              "В школе без интерната нет проживающих в интернате",
              "Интернаты жоқ мектепте интернатта тұратын оқушылар болмайды", left=NEVER),
        _rule("BOARDERS_GIVEN", 'if boarding == "yes" then boarders >= 1',
              "A school with a boarding facility gives the number of its boarders",
              "Школа с интернатом указывает число проживающих в нём",
              "Интернаты бар мектеп онда тұратындар санын көрсетеді", left=NEVER),
        _rule("BOARDERS_LE_PUPILS", "boarders <= pupils.total.total",
              "Boarders are at most all pupils",
              "Проживающих в интернате не больше, чем всех учащихся",
              "Интернатта тұратындар барлық оқушылар санынан аспайды"),
        _rule("CAPACITY_USE", "pupils.total.total <= capacity * shifts",
              "More pupils than the design capacity times the shifts: check capacity and shifts",
              "Учащихся больше, чем проектная мощность, умноженная на число смен: проверьте мощность и сменность",
              "Оқушылар саны жобалық қуат пен ауысымдар санының көбейтіндісінен көп: қуат пен ауысымды тексеріңіз",
              severity="warning"),
        _rule("PUPILS_PER_TEACHER", "if teachers > 0 then round(pupils.total.total / teachers, 1) <= 25",
              "More than 25 pupils per teacher: check the pupils and the teaching staff",
              "Больше 25 учащихся на одного педагога: проверьте контингент и число педагогов",
              "Бір педагогке 25-тен астам оқушы: контингент пен педагогтер санын тексеріңіз",
              severity="warning"),
        # girls between 35 % and 65 % of pupils: |2·girls − pupils| ≤ 0.3·pupils
        _rule("GIRLS_SHARE",
              "if pupils.total.total >= 100 then "
              "abs(2 * pupils.total.girls - pupils.total.total) <= 0.3 * pupils.total.total",
              "Girls are not between 35% and 65% of pupils: check the girls column",
              "Доля девочек вне 35–65% учащихся: проверьте графу «из них девочки»",
              "Қыздар үлесі оқушылардың 35–65% аралығынан тыс: «оның ішінде қыздар» бағанын тексеріңіз",
              severity="warning"),
    ]
    return rules


OSH_1 = FormDefinition(
    code="OSH-1",
    title_kk="Жалпы білім беретін мектептің желісі мен контингенті туралы жылдық есебі",
    title_ru="Годовой отчёт общеобразовательной школы о сети и контингенте учащихся",
    title_en="Annual report of a general-education school on its network and pupils",
    category=Category.indicators,
    period_type="annual",
    respondent_kinds=["school"],
    fields=_OSH_FIELDS,
    sections=[_PUPILS, _CLASSES, _STAFF],
    rules=_osh_rules(),
    deadline_days={Level.organization: 10, Level.district: 20, Level.region: 30},
)

# --- MON-Q: quarterly monitoring of attendance and free meals (monitoring) ------------------

_GROUPS = [
    FormRow(code="g01_04", title_kk="1–4 сыныптар", title_ru="1–4 классы", title_en="Grades 1–4"),
    FormRow(code="g05_09", title_kk="5–9 сыныптар", title_ru="5–9 классы", title_en="Grades 5–9"),
    FormRow(code="g10_11", title_kk="10–11 сыныптар", title_ru="10–11 классы", title_en="Grades 10–11"),
]
_DAYS_MAX = Decimal(500_000)  # pupil-days: 5,000 pupils × 70 school days, rounded up

_ATT = FormSection(
    code="att",
    title_kk="Сынып топтары бойынша қатысу және тамақтандыру",
    title_ru="Посещаемость и питание по группам классов",
    title_en="Attendance and meals by grade group",
    rows=_GROUPS,
    columns=[
        FormColumn(code="enrolled", title_kk="Оқушылар контингенті", title_ru="Контингент учащихся",
                   title_en="Pupils enrolled", min=Decimal(0), max=Decimal(5000)),
        # A rate: summing it up the hierarchy would be meaningless, the mean is what is reported.
        # Left empty for a group the school does not teach.
        FormColumn(code="attendance", title_kk="Орташа күндік қатысу", title_ru="Средняя ежедневная посещаемость",
                   title_en="Average daily attendance", type=FieldType.decimal, aggregate="mean", unit="%",
                   required=False, min=Decimal(0), max=Decimal(100)),
        FormColumn(code="meals", title_kk="Тегін ыстық тамақ алатын оқушылар",
                   title_ru="Учащиеся, получающие бесплатное горячее питание",
                   title_en="Pupils receiving free hot meals", min=Decimal(0), max=Decimal(5000)),
        FormColumn(code="missed", title_kk="Жіберілген оқушы-күндер", title_ru="Пропущено учеником-дней",
                   title_en="Pupil-days missed", min=Decimal(0), max=_DAYS_MAX),
    ],
)

# Optional: a school that does not keep absences by reason leaves the table empty.
_REASONS = FormSection(
    code="reasons",
    title_kk="Жіберілген оқушы-күндер себептері бойынша",
    title_ru="Пропущенные ученико-дни по причинам",
    title_en="Pupil-days missed by reason",
    rows=_GROUPS,
    columns=[
        FormColumn(code="illness", title_kk="ауруына байланысты", title_ru="по болезни", title_en="illness",
                   required=False, min=Decimal(0), max=_DAYS_MAX),
        FormColumn(code="excused", title_kk="басқа дәлелді себептер", title_ru="по другим уважительным причинам",
                   title_en="other excused", required=False, min=Decimal(0), max=_DAYS_MAX),
        FormColumn(code="unexcused", title_kk="дәлелсіз себептер", title_ru="без уважительной причины",
                   title_en="unexcused", required=False, min=Decimal(0), max=_DAYS_MAX),
    ],
)


def _mon_rules() -> list[FormRule]:
    rules: list[FormRule] = []
    for g in _GROUPS:
        r = g.code
        rules += [
            _rule(f"MEALS_LE_ENROLLED_{r.upper()}", f"att.{r}.meals <= att.{r}.enrolled",
                  f"{g.title_en}: pupils with free meals are at most those enrolled",
                  f"{g.title_ru}: получающих бесплатное питание не больше контингента",
                  f"{g.title_kk}: тегін тамақ алатындар контингенттен аспайды"),
            _rule(f"ATTENDANCE_GIVEN_{r.upper()}", f"if att.{r}.enrolled > 0 then count(att.{r}.attendance) == 1",
                  f"{g.title_en}: a group with pupils gives its attendance",
                  f"{g.title_ru}: для группы с учащимися указывается посещаемость",
                  f"{g.title_kk}: оқушылары бар топ үшін қатысу көрсетіледі", left=NEVER),
            # the reasons table is optional: left wholly empty, the row is not checked
            _rule(f"MISSED_BY_REASON_{r.upper()}", f"att.{r}.missed == sum(reasons.{r}.*)",
                  f"{g.title_en}: pupil-days missed equal the sum by reason",
                  f"{g.title_ru}: пропущенные ученико-дни равны сумме по причинам",
                  f"{g.title_kk}: жіберілген оқушы-күндер себептер бойынша қосындыға тең", right=ALL),
            # attendance is 100 × (1 − missed ÷ (enrolled × school days)), to within 2 points
            _rule(f"ATTENDANCE_VS_MISSED_{r.upper()}",
                  f"if att.{r}.enrolled > 0 then "
                  f"abs(att.{r}.attendance - 100 * (1 - att.{r}.missed / (att.{r}.enrolled * school_days))) <= 2",
                  f"{g.title_en}: attendance disagrees by more than 2 points with the pupil-days missed",
                  f"{g.title_ru}: посещаемость расходится с пропущенными днями более чем на 2 пункта",
                  f"{g.title_kk}: қатысу жіберілген күндермен 2 пункттан артық сәйкес келмейді",
                  severity="warning"),
        ]
    rules += [
        # fewer is a query (a pupil fed at home on a doctor's advice is possible); more is
        # MEALS_LE_ENROLLED's error
        _rule("MEALS_PRIMARY_ALL", "att.g01_04.meals >= att.g01_04.enrolled",
              "Grades 1–4: every pupil receives free hot meals; explain why some do not",
              "1–4 классы: бесплатное горячее питание получают все учащиеся; объясните, почему не все",
              "1–4 сыныптар: тегін ыстық тамақты барлық оқушылар алады; неге бәрі емес екенін түсіндіріңіз",
              severity="warning"),
        _rule("MEALS_NONE", 'if meals_provider == "none" then sum(att.*.meals) == 0',
              "Without a meals provider no pupil receives free meals",
              "Без организатора питания никто не получает бесплатное питание",
              "Тамақтандыруды ұйымдастырушы болмаса, ешкім тегін тамақ алмайды", left=NEVER),
        _rule("ENROLLED_ANY", "sum(att.*.enrolled) >= 1",
              "The report counts at least one pupil",
              "В отчёте учтён хотя бы один учащийся",
              "Есепте кемінде бір оқушы ескерілген", left=NEVER),
        _rule("ATTENDANCE_LOW", "min(att.*.attendance) >= 75",
              "Attendance below 75% in a grade group: explain",
              "Посещаемость в группе классов ниже 75%: дайте объяснение",
              "Сынып тобындағы қатысу 75%-дан төмен: түсіндіріңіз", severity="warning", left=ALL),
        _rule("ATTENDANCE_SPREAD", "max(att.*.attendance) - min(att.*.attendance) <= 15",
              "Attendance differs between grade groups by more than 15 points",
              "Посещаемость по группам классов различается более чем на 15 пунктов",
              "Сынып топтары бойынша қатысу 15 пункттан артық ерекшеленеді", severity="warning", left=ALL),
        _rule("UNEXCUSED_SHARE", "sum(reasons.*.unexcused) <= 0.2 * sum(att.*.missed)",
              "Unexcused absences above 20% of the pupil-days missed",
              "Пропуски без уважительной причины превышают 20% пропущенных дней",
              "Себепсіз жіберілген күндер барлық жіберілген күндердің 20%-ынан асады",
              severity="warning", left=ALL, right=ALL),
    ]
    return rules


MON_Q = FormDefinition(
    code="MON-Q",
    title_kk="Сабаққа қатысу және тегін ыстық тамақтандыру мониторингі (тоқсандық)",
    title_ru="Мониторинг посещаемости и бесплатного горячего питания (ежеквартальный)",
    title_en="Quarterly monitoring of attendance and free meals",
    category=Category.monitoring,
    period_type="quarterly",
    respondent_kinds=["school", "college"],
    sections=[_ATT, _REASONS],
    fields=[
        FormField(code="school_days", title="Тоқсандағы оқу күндері / Учебных дней в четверти", aggregate="max",
                  min=Decimal(1), max=Decimal(70)),
        FormField(code="meals_provider", title="Тамақтандыруды ұйымдастырушы / Организатор питания",
                  type=FieldType.enumeration, options=["canteen", "caterer", "none"], aggregate="none"),
        FormField(code="reporting_contact", title="Жауапты тұлға, телефон / Ответственное лицо, телефон",
                  type=FieldType.text, required=False, aggregate="none"),
    ],
    rules=_mon_rules(),
    deadline_days={Level.organization: 5, Level.district: 10, Level.region: 15},
)

# --- OTH-HEAT: readiness for the heating season, requested ad hoc (other) -----------------

_FUEL = FormSection(
    code="fuel",
    title_kk="Отын: маусымдық қажеттілік және қор",
    title_ru="Топливо: потребность на сезон и запас",
    title_en="Fuel: the season's need and the stock",
    rows=[
        FormRow(code="coal", title_kk="Көмір", title_ru="Уголь", title_en="Coal"),
        FormRow(code="fuel_oil", title_kk="Мазут", title_ru="Мазут", title_en="Fuel oil"),
        FormRow(code="firewood", title_kk="Отындық ағаш", title_ru="Дрова", title_en="Firewood"),
    ],
    # optional: an organization on central or electric heating keeps no fuel
    columns=[
        FormColumn(code="need", title_kk="Маусымға қажеттілік", title_ru="Потребность на сезон",
                   title_en="Need for the season", type=FieldType.decimal, unit="t", required=False,
                   min=Decimal(0), max=Decimal(100_000)),
        FormColumn(code="stock", title_kk="Қолдағы қор", title_ru="Запас в наличии", title_en="In stock",
                   type=FieldType.decimal, unit="t", required=False, min=Decimal(0), max=Decimal(100_000)),
    ],
)

_WATER_HEATING = 'heating_type == "central" or heating_type == "own boiler"'


def _heat_rules() -> list[FormRule]:
    rules = [
        _rule("PRESSURE_TEST_GIVEN", f"if {_WATER_HEATING} then count(pressure_test_date) == 1",
              "Water heating (central or an own boiler) gives the date of its pressure test",
              "Для водяного отопления (центрального или собственной котельной) указывается дата опрессовки",
              "Сумен жылыту (орталық немесе өз қазандығы) үшін жүйені қысыммен сынау күні көрсетіледі",
              left=NEVER),
        _rule("PRESSURE_BEFORE_READY", "pressure_test_date <= ready_date",
              "The pressure test is on or before the readiness date",
              "Опрессовка проведена не позднее даты готовности",
              "Қысыммен сынау дайындық күнінен кешіктірілмей жүргізіледі"),
        _rule("READY_DATE_PLAUSIBLE", 'ready_date >= date("2020-01-01")',
              "A readiness date before 2020: check the year",
              "Дата готовности раньше 2020 года: проверьте год",
              "Дайындық күні 2020 жылдан бұрын: жылды тексеріңіз", severity="warning"),
        _rule("PASSPORT_FOR_READY", 'if readiness == "ready" then count(passport_date) == 1',
              "An organization ready for the season gives the date of its readiness passport",
              "Готовая к сезону организация указывает дату паспорта готовности",
              "Маусымға дайын ұйым дайындық паспортының күнін көрсетеді", left=NEVER),
        _rule("ISSUES_NAMED", 'if readiness != "ready" then count(issues) == 1',
              "An organization not fully ready names its problems",
              "Не полностью готовая организация указывает проблемы",
              "Толық дайын емес ұйым мәселелерін көрсетеді", left=NEVER),
        _rule("BOILER_CAPACITY_GIVEN", 'if heating_type == "own boiler" then boiler_capacity_kw > 0',
              "An organization with its own boiler gives the boiler's capacity",
              "При собственной котельной указывается её мощность",
              "Өз қазандығы болса, оның қуаты көрсетіледі", left=NEVER),
        _rule("BOILER_ONLY_OWN", 'if not (heating_type == "own boiler") then boiler_capacity_kw == 0',
              "A boiler capacity is given only with an own boiler",
              "Мощность котельной указывается только при собственной котельной",
              "Қазандық қуаты тек өз қазандығы болғанда көрсетіледі", left=NEVER),
        # 50..200 W of boiler per m² heated: outside it, likely kW typed as W or the area wrong
        _rule("BOILER_CAPACITY_FOR_AREA",
              'if heating_type == "own boiler" then abs(boiler_capacity_kw * 1000 / heated_area_m2 - 125) <= 75',
              "Boiler capacity outside 50–200 W per m² of heated area: check the capacity and the area",
              "Мощность котельной вне 50–200 Вт на м² отапливаемой площади: проверьте мощность и площадь",
              "Қазандық қуаты жылытылатын аудандың 1 м²-іне 50–200 Вт аралығынан тыс: қуат пен ауданды тексеріңіз",
              severity="warning"),
        _rule("FUEL_NONE_WITHOUT_FIRE",
              'if heating_type == "central" or heating_type == "electric" then sum(fuel.*.need) == 0',
              "Central or electric heating needs no fuel of its own",
              "При центральном или электрическом отоплении собственное топливо не требуется",
              "Орталық немесе электр жылыту кезінде өз отыны қажет емес", left=NEVER),
        _rule("FUEL_FOR_STOVES", 'if heating_type == "stove" then sum(fuel.*.need) > 0',
              "Stove heating gives its fuel need",
              "При печном отоплении указывается потребность в топливе",
              "Пешпен жылыту кезінде отын қажеттілігі көрсетіледі", left=NEVER),
        # stoves burn about twice the fuel per m² of a boiler house
        _rule("FUEL_NEED_FOR_AREA",
              'sum(fuel.*.need) <= heated_area_m2 * if(heating_type == "stove", 0.15, 0.08)',
              "Fuel need above 0.08 t per m² heated (0.15 t with stoves): check the units",
              "Потребность в топливе выше 0,08 т на м² (0,15 т при печах): проверьте единицы",
              "Отын қажеттілігі 1 м²-ге 0,08 т-дан (пештерде 0,15 т-дан) жоғары: өлшем бірліктерін тексеріңіз",
              severity="warning", left=ALL),
    ]
    for row in _FUEL.rows:
        r = row.code
        rules.append(_rule(
            f"FUEL_STOCK_{r.upper()}", f"fuel.{r}.stock >= fuel.{r}.need",
            f"{row.title_en}: the stock is below the season's need",
            f"{row.title_ru}: запас меньше потребности на сезон",
            f"{row.title_kk}: қор маусымдық қажеттіліктен аз", severity="warning", left=NEVER))
    return rules


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
                  type=FieldType.decimal, required=False, aggregate="sum", unit="kW",
                  min=Decimal(0), max=Decimal(50_000)),
        FormField(code="issues", title="Мәселелер / Проблемы", type=FieldType.text, required=False,
                  aggregate="none"),
        FormField(code="heated_area_m2", title="Жылытылатын аудан / Отапливаемая площадь",
                  type=FieldType.decimal, unit="m²", min=Decimal(10), max=Decimal(200_000)),
        FormField(code="readiness", title="Маусымға дайындық / Готовность к сезону", type=FieldType.enumeration,
                  aggregate="none", options=["ready", "partly", "not ready"]),
        FormField(code="pressure_test_date", title="Жүйені қысыммен сынау күні / Дата опрессовки системы",
                  type=FieldType.date, required=False, aggregate="none"),
        FormField(code="passport_date", title="Дайындық паспортының күні / Дата паспорта готовности",
                  type=FieldType.date, required=False, aggregate="none"),
    ],
    sections=[_FUEL],
    rules=_heat_rules(),
    deadline_days={Level.organization: 7, Level.district: 10, Level.region: 14},
)

CATALOG: list[FormDefinition] = [OSH_1, MON_Q, OTH_HEAT]

# --- a document of each form that every rule accepts ---------------------------------------


def _osh_values() -> dict[str, Decimal | str | date | None]:
    totals = [25, 52, 50, 48, 51, 47, 49, 46, 45, 44, 30, 28]
    v: dict[str, Decimal | str | date | None] = {}
    sums = dict.fromkeys(("total", "girls", "kazakh", "russian", "other"), 0)
    for row, total in zip(_GRADES, totals, strict=True):
        parts = {"total": total, "girls": total // 2, "kazakh": total - total // 4 - 1,
                 "russian": total // 4, "other": 1}
        for col, n in parts.items():
            v[f"pupils.{row.code}.{col}"] = Decimal(n)
            sums[col] += n
        v[f"classes.{row.code}.count"] = Decimal(2 if total >= 40 else 1)
    v |= {f"pupils.total.{col}": Decimal(n) for col, n in sums.items()}
    staff = {"master": (2, 2, 2), "researcher": (4, 3, 4), "expert": (8, 7, 8), "moderator": (10, 8, 9),
             "teacher": (12, 10, 9)}
    for row, (total, women, higher) in staff.items():
        v |= {f"staff.{row}.total": Decimal(total), f"staff.{row}.women": Decimal(women),
              f"staff.{row}.higher": Decimal(higher)}
    v |= {"boarding": "no", "boarders": None, "teachers": Decimal(36), "capacity": Decimal(600),
          "shifts": Decimal(1)}
    return v


def _mon_values() -> dict[str, Decimal | str | date | None]:
    # 45 school days; missed = enrolled × 45 × (1 − attendance / 100), exactly
    rows = {"g01_04": (200, "94.0", 200, 540, (400, 100, 40)),
            "g05_09": (230, "92.0", 40, 828, (600, 150, 78)),
            "g10_11": (60, "90.0", 10, 270, (200, 40, 30))}
    v: dict[str, Decimal | str | date | None] = {"school_days": Decimal(45), "meals_provider": "canteen",
                                                 "reporting_contact": "Асанова А. Б., +7 701 000 00 00"}
    for r, (enrolled, attendance, meals, missed, (ill, exc, unexc)) in rows.items():
        v |= {f"att.{r}.enrolled": Decimal(enrolled), f"att.{r}.attendance": Decimal(attendance),
              f"att.{r}.meals": Decimal(meals), f"att.{r}.missed": Decimal(missed),
              f"reasons.{r}.illness": Decimal(ill), f"reasons.{r}.excused": Decimal(exc),
              f"reasons.{r}.unexcused": Decimal(unexc)}
    return v


def _heat_values() -> dict[str, Decimal | str | date | None]:
    return {"heating_type": "own boiler", "ready_date": date(2026, 9, 1), "boiler_capacity_kw": Decimal("250"),
            "issues": None, "heated_area_m2": Decimal("2000.5"), "readiness": "ready",
            "pressure_test_date": date(2026, 8, 20), "passport_date": date(2026, 9, 5),
            "fuel.coal.need": Decimal("120.5"), "fuel.coal.stock": Decimal("130"),
            "fuel.fuel_oil.need": None, "fuel.fuel_oil.stock": None,
            "fuel.firewood.need": None, "fuel.firewood.stock": None}


def example_values(form_code: str) -> dict[str, Decimal | str | date | None]:
    """A plausible document of a catalogue form, every cell present (None where empty) and every
    rule satisfied: the good case of the rule tests, the demo and the benchmark."""
    return {"OSH-1": _osh_values, "MON-Q": _mon_values, "OTH-HEAT": _heat_values}[form_code]()

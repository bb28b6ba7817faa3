"""A deterministic, realistic national hierarchy for load tests and demos (DESIGN.md §9).

Ministry → 20 regions (17 oblasts, 3 republic cities) → ~223 district and city education
departments (the real post-2022 list, regional centre first) → ~7,700 schools (exactly the 2022
count per region from data/kz-schools-by-region-2022.csv), ~710 colleges, ~116 universities,
~11,300 preschools. Everything comes from one `random.Random(seed)`: the same seed gives the
same participants byte for byte. District names are the real ones, written from public
administrative lists; the organizations and their heads are invented.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.resources import files
from random import Random

from uise_contracts.events import HeadTerm, Level, ParticipantUpserted
from uise_registry.identifiers import make_valid

CSV_NAME = "kz-schools-by-region-2022.csv"
NATIONAL = {"college": 710, "university": 116, "preschool": 11_300}
# universities cluster in the two big cities; the rest follow the schools
UNIVERSITIES_FIXED = {"Almaty city": 40, "Astana city": 20}


@dataclass(frozen=True)
class Region:
    csv_name: str
    kato: str  # the real 2-digit KATO prefix
    kind: str
    kk: str  # "Абай облысы" (the genitive adds "-ның")
    ru: str  # Russian genitive: "области Абай"
    units: str  # "kk=ru genitive; …"; "X қ." is a city department, the first is the regional centre


REGIONS = [
    Region("Abai Region", "10", "region", "Абай облысы", "области Абай",
           "Семей қ.=города Семей; Курчатов қ.=города Курчатова; Абай=Абайского района; "
           "Ақсуат=Аксуатского района; Аягөз=Аягозского района; Бесқарағай=Бескарагайского района; "
           "Бородулиха=Бородулихинского района; Жарма=Жарминского района; Жаңасемей=Жанасемейского района; "
           "Көкпекті=Кокпектинского района; Мақаншы=Маканчинского района; Үржар=Урджарского района"),
    Region("Akmola Region", "11", "region", "Ақмола облысы", "Акмолинской области",
           "Көкшетау қ.=города Кокшетау; Степногорск қ.=города Степногорска; Қосшы қ.=города Косшы; "
           "Ақкөл=Аккольского района; Аршалы=Аршалынского района; Астрахан=Астраханского района; "
           "Атбасар=Атбасарского района; Біржан сал=района Биржан сал; Бұланды=Буландынского района; "
           "Бурабай=Бурабайского района; Егіндікөл=Егиндыкольского района; Ерейментау=Ерейментауского района; "
           "Есіл=Есильского района; Жақсы=Жаксынского района; Жарқайың=Жаркаинского района; "
           "Зеренді=Зерендинского района; Қорғалжын=Коргалжынского района; Сандықтау=Сандыктауского района; "
           "Целиноград=Целиноградского района; Шортанды=Шортандинского района"),
    Region("Aktobe Region", "15", "region", "Ақтөбе облысы", "Актюбинской области",
           "Ақтөбе қ.=города Актобе; Әйтеке би=Айтекебийского района; Алға=Алгинского района; "
           "Байғанин=Байганинского района; Қарғалы=Каргалинского района; Қобда=Хобдинского района; "
           "Мәртөк=Мартукского района; Мұғалжар=Мугалжарского района; Ойыл=Уилского района; "
           "Темір=Темирского района; Хромтау=Хромтауского района; Шалқар=Шалкарского района; "
           "Ырғыз=Иргизского района"),
    Region("Almaty Region", "19", "region", "Алматы облысы", "Алматинской области",
           "Қонаев қ.=города Конаев; Балқаш=Балхашского района; Еңбекшіқазақ=Енбекшиказахского района; "
           "Жамбыл=Жамбылского района; Іле=Илийского района; Қарасай=Карасайского района; "
           "Кеген=Кегенского района; Райымбек=Райымбекского района; Талғар=Талгарского района; "
           "Ұйғыр=Уйгурского района"),
    Region("Atyrau Region", "23", "region", "Атырау облысы", "Атырауской области",
           "Атырау қ.=города Атырау; Жылыой=Жылыойского района; Индер=Индерского района; "
           "Исатай=Исатайского района; Қызылқоға=Кызылкогинского района; "
           "Құрманғазы=Курмангазинского района; Мақат=Макатского района; Махамбет=Махамбетского района"),
    Region("West Kazakhstan Region", "27", "region", "Батыс Қазақстан облысы",
           "Западно-Казахстанской области",
           "Орал қ.=города Уральска; Ақжайық=Акжаикского района; Бәйтерек=Байтерекского района; "
           "Бөкей ордасы=Бокейординского района; Бөрлі=Бурлинского района; Жаңақала=Жангалинского района; "
           "Жәнібек=Жанибекского района; Казталов=Казталовского района; Қаратөбе=Каратобинского района; "
           "Сырым=Сырымского района; Тасқала=Таскалинского района; Теректі=Теректинского района; "
           "Шыңғырлау=Чингирлауского района"),
    Region("Jambyl Region", "31", "region", "Жамбыл облысы", "Жамбылской области",
           "Тараз қ.=города Тараз; Байзақ=Байзакского района; Жамбыл=Жамбылского района; "
           "Жуалы=Жуалынского района; Қордай=Кордайского района; Мерке=Меркенского района; "
           "Мойынқұм=Мойынкумского района; Сарысу=Сарысуского района; Талас=Таласского района; "
           "Тұрар Рысқұлов=района Турара Рыскулова; Шу=Шуского района"),
    Region("Jetisu Region", "33", "region", "Жетісу облысы", "области Жетісу",
           "Талдықорған қ.=города Талдыкорган; Текелі қ.=города Текели; Ақсу=Аксуского района; "
           "Алакөл=Алакольского района; Ескелді=Ескельдинского района; Кербұлақ=Кербулакского района; "
           "Көксу=Коксуского района; Панфилов=Панфиловского района; Сарқан=Сарканского района"),
    Region("Karaganda Region", "35", "region", "Қарағанды облысы", "Карагандинской области",
           "Қарағанды қ.=города Караганды; Балқаш қ.=города Балхаш; Приозерск қ.=города Приозерск; "
           "Саран қ.=города Сарань; Теміртау қ.=города Темиртау; Шахтинск қ.=города Шахтинск; "
           "Абай=Абайского района; Ақтоғай=Актогайского района; Бұқар жырау=Бухар-Жырауского района; "
           "Қарқаралы=Каркаралинского района; Нұра=Нуринского района; Осакаров=Осакаровского района; "
           "Шет=Шетского района"),
    Region("Kostanay Region", "39", "region", "Қостанай облысы", "Костанайской области",
           "Қостанай қ.=города Костаная; Рудный қ.=города Рудного; Лисаков қ.=города Лисаковска; "
           "Арқалық қ.=города Аркалыка; Алтынсарин=Алтынсаринского района; Амангелді=Амангельдинского района; "
           "Әулиекөл=Аулиекольского района; Беимбет Майлин=района Беимбета Майлина; "
           "Денисов=Денисовского района; Жангелдин=Джангельдинского района; Жітіқара=Житикаринского района; "
           "Қамысты=Камыстинского района; Қарабалық=Карабалыкского района; Қарасу=Карасуского района; "
           "Қостанай=Костанайского района; Меңдіқара=Мендыкаринского района; Науырзым=Наурзумского района; "
           "Сарыкөл=Сарыкольского района; Ұзынкөл=Узункольского района; Федоров=Федоровского района"),
    Region("Kyzylorda Region", "43", "region", "Қызылорда облысы", "Кызылординской области",
           "Қызылорда қ.=города Кызылорды; Арал=Аральского района; Жалағаш=Жалагашского района; "
           "Жаңақорған=Жанакорганского района; Қазалы=Казалинского района; Қармақшы=Кармакшинского района; "
           "Сырдария=Сырдарьинского района; Шиелі=Шиелийского района"),
    Region("Mangystau Region", "47", "region", "Маңғыстау облысы", "Мангистауской области",
           "Ақтау қ.=города Актау; Жаңаөзен қ.=города Жанаозен; Бейнеу=Бейнеуского района; "
           "Қарақия=Каракиянского района; Маңғыстау=Мангистауского района; Мұнайлы=Мунайлинского района; "
           "Түпқараған=Тупкараганского района"),
    Region("Pavlodar Region", "55", "region", "Павлодар облысы", "Павлодарской области",
           "Павлодар қ.=города Павлодара; Ақсу қ.=города Аксу; Екібастұз қ.=города Экибастуза; "
           "Ақтоғай=Актогайского района; Аққулы=Аккулинского района; Баянауыл=Баянаульского района; "
           "Ертіс=Иртышского района; Железин=Железинского района; Май=Майского района; "
           "Павлодар=Павлодарского района; Тереңкөл=Теренкольского района; Успен=Успенского района; "
           "Шарбақты=Щербактинского района"),
    Region("North Kazakhstan Region", "59", "region", "Солтүстік Қазақстан облысы",
           "Северо-Казахстанской области",
           "Петропавл қ.=города Петропавловска; Айыртау=Айыртауского района; Ақжар=Акжарского района; "
           "Аққайың=Аккайынского района; Есіл=Есильского района; Жамбыл=Жамбылского района; "
           "Мағжан Жұмабаев=района Магжана Жумабаева; Қызылжар=Кызылжарского района; "
           "Мамлют=Мамлютского района; Ғабит Мүсірепов=района имени Габита Мусрепова; "
           "Тайынша=Тайыншинского района; Тимирязев=Тимирязевского района; "
           "Уәлиханов=Уалихановского района; Шал ақын=района Шал акына"),
    Region("Turkistan Region", "61", "region", "Түркістан облысы", "Туркестанской области",
           "Түркістан қ.=города Туркестан; Кентау қ.=города Кентау; Арыс қ.=города Арыс; "
           "Бәйдібек=Байдибекского района; Жетісай=Жетысайского района; Қазығұрт=Казыгуртского района; "
           "Келес=Келесского района; Мақтаарал=Мактааральского района; Ордабасы=Ордабасинского района; "
           "Отырар=Отырарского района; Сайрам=Сайрамского района; Сарыағаш=Сарыагашского района; "
           "Сауран=Сауранского района; Созақ=Сузакского района; Төлеби=Толебийского района; "
           "Түлкібас=Тюлькубасского района; Шардара=Шардаринского района"),
    Region("Ulytau Region", "62", "region", "Ұлытау облысы", "области Ұлытау",
           "Жезқазған қ.=города Жезказгана; Сәтбаев қ.=города Сатпаева; Қаражал қ.=города Каражала; "
           "Жаңаарқа=Жанааркинского района; Ұлытау=Улытауского района"),
    Region("East Kazakhstan Region", "63", "region", "Шығыс Қазақстан облысы",
           "Восточно-Казахстанской области",
           "Өскемен қ.=города Усть-Каменогорска; Риддер қ.=города Риддера; Алтай қ.=города Алтай; "
           "Глубокое=Глубоковского района; Зайсан=Зайсанского района; Катонқарағай=Катон-Карагайского района; "
           "Күршім=Курчумского района; Марқакөл=Маркакольского района; Самар=Самарского района; "
           "Тарбағатай=Тарбагатайского района; Ұлан=Уланского района; Шемонаиха=Шемонаихинского района"),
    Region("Astana city", "71", "republic_city", "Астана қаласы", "города Астаны",
           "Алматы=района Алматы; Байқоңыр=района Байконур; Есіл=района Есиль; Сарыарқа=района Сарыарка; "
           "Нұра=района Нура"),
    Region("Almaty city", "75", "republic_city", "Алматы қаласы", "города Алматы",
           "Алатау=Алатауского района; Алмалы=Алмалинского района; Әуезов=Ауэзовского района; "
           "Бостандық=Бостандыкского района; Жетісу=Жетысуского района; Медеу=Медеуского района; "
           "Наурызбай=Наурызбайского района; Түрксіб=Турксибского района"),
    Region("Shymkent city", "79", "republic_city", "Шымкент қаласы", "города Шымкента",
           "Абай=Абайского района; Әл-Фараби=Аль-Фарабийского района; Еңбекші=Енбекшинского района; "
           "Қаратау=Каратауского района; Тұран=Туранского района"),
]
NEW_REGIONS = {"Abai Region", "Jetisu Region", "Ulytau Region"}  # formed 8 June 2022

SCHOOL_TYPES = [  # (weight, kk, ru); {n} is the school's number in its district
    (70, "№{n} жалпы білім беретін мектеп", "Общеобразовательная школа №{n}"),
    (12, "№{n} негізгі орта мектеп", "Основная средняя школа №{n}"),
    (10, "№{n} мектеп-гимназия", "Школа-гимназия №{n}"),
    (8, "№{n} мектеп-лицей", "Школа-лицей №{n}"),
]
COLLEGE_TYPES = [("политехникалық", "Политехнический"), ("медициналық", "Медицинский"),
                 ("педагогикалық", "Педагогический"), ("аграрлық-техникалық", "Аграрно-технический"),
                 ("көпсалалы", "Многопрофильный"), ("индустриялық-технологиялық", "Индустриально-технологический"),
                 ("құрылыс-техникалық", "Строительно-технический"), ("гуманитарлық-техникалық", "Гуманитарно-технический")]
UNIVERSITY_TYPES = [("университет", "Университет"), ("мемлекеттік университет", "Государственный университет"),
                    ("педагогикалық университет", "Педагогический университет"),
                    ("техникалық университет", "Технический университет"),
                    ("медициналық университет", "Медицинский университет"),
                    ("инженерлік-экономикалық университет", "Инженерно-экономический университет")]
NAMESAKES = [("Абай", "Абая"), ("әл-Фараби", "аль-Фараби"), ("Шоқан Уәлиханов", "Чокана Валиханова"),
             ("Ахмет Байтұрсынұлы", "Ахмета Байтурсынулы"), ("Мұхтар Әуезов", "Мухтара Ауэзова"),
             ("Ыбырай Алтынсарин", "Ибрая Алтынсарина"), ("Сәкен Сейфуллин", "Сакена Сейфуллина"),
             ("Қорқыт Ата", "Коркыт Ата"), ("Құдайберген Жұбанов", "Кудайбергена Жубанова"),
             ("Әлкей Марғұлан", "Алькея Маргулана"), ("Қаныш Сәтбаев", "Каныша Сатпаева"),
             ("Махамбет Өтемісұлы", "Махамбета Утемисова")]
PRESCHOOL_NAMES = ["Балапан", "Айгөлек", "Қарлығаш", "Ақбота", "Күншуақ", "Шұғыла", "Еркетай", "Бөбек",
                   "Балдырған", "Самал", "Ақниет", "Нұрсәт", "Гүлдер", "Болашақ", "Жұлдыз", "Арман"]
# heads: surnames are given in the male form; the female form adds "а" (Ахметов → Ахметова)
SURNAMES = ["Ахметов", "Әбдірахманов", "Байжанов", "Жұмабаев", "Қасымов", "Омаров", "Сейітов", "Тоқтаров",
            "Нұрланов", "Бекмұханов", "Исқақов", "Серікбаев", "Мұқанов", "Сағынтаев", "Есенов", "Құрманов",
            "Ермеков", "Жақсылықов", "Төлеубаев", "Ибраев", "Сұлтанов", "Оспанов", "Қалиев", "Мамыров"]
MALE_NAMES = ["Асхат", "Ерлан", "Дәурен", "Нұрлан", "Серік", "Бауыржан", "Қайрат", "Марат", "Ержан", "Талғат",
              "Ғалым", "Арман", "Ақылбек", "Думан"]
FEMALE_NAMES = ["Айгүл", "Гүлнар", "Жанар", "Сәуле", "Динара", "Әсем", "Мәдина", "Ләззат", "Гүлмира",
                "Айжан", "Назым", "Ботагөз", "Салтанат", "Мейрамгүл"]
FATHERS = ["Серік", "Болат", "Жұмабек", "Қанат", "Ерболат", "Мұрат", "Бақыт", "Әлібек", "Нұрлан", "Ғабит",
           "Сапар", "Төлеген"]
LAST_DAY = date(2025, 12, 31)  # nothing in the seed starts later: the output must not depend on today


def schools_by_region() -> dict[str, int]:
    """The packaged CSV: region name → number of schools, in file order."""
    text = (files("uise_registry") / "data" / CSV_NAME).read_text(encoding="utf-8")
    return {row["Region"]: int(row["Value"]) for row in csv.DictReader(io.StringIO(text))}


def national(seed: int = 2026) -> list[ParticipantUpserted]:
    return generate(seed)


def generate(seed: int = 2026, regions: int | None = None, districts_per_region: int | None = None,
             schools_per_district: int | None = None,
             with_other_organizations: bool = True) -> list[ParticipantUpserted]:
    """The hierarchy, parents before children. None means the national figure; a number scales it
    down (the first `regions` regions in CSV order, the first `districts_per_region` departments
    of each — regional centre first — and exactly `schools_per_district` schools in each)."""
    counts = schools_by_region()
    chosen = REGIONS[:regions] if regions is not None else REGIONS
    if {r.csv_name for r in REGIONS} != set(counts) or not 1 <= len(chosen) <= len(REGIONS):
        raise ValueError("regions must be 1..20 and the CSV must name the 20 regions")
    maker = _Maker(Random(seed))
    targets = _national_targets(counts)
    ministry = maker.participant(
        level=Level.ministry, kind="ministry", parent=None, kato="710000000", opened=date(2022, 6, 11),
        name_kk="Қазақстан Республикасы Оқу-ағарту министрлігі",
        name_ru="Министерство просвещения Республики Казахстан")
    out = [ministry]
    for region in chosen:
        out += _region(maker, ministry, region, counts[region.csv_name], targets[region.csv_name],
                       districts_per_region, schools_per_district, with_other_organizations)
    return out


def counts_by_region(participants: Iterable[ParticipantUpserted]) -> dict[str, dict[str, int]]:
    """Region name as in the CSV → kind → count, the region's own participant included."""
    people = {p.participant_id: p for p in participants}
    by_prefix = {r.kato: r.csv_name for r in REGIONS}
    out: dict[str, Counter] = {}
    for p in people.values():
        node = p
        while node.level not in (Level.region, Level.ministry) and node.parent_id in people:
            node = people[node.parent_id]
        if node.level == Level.region:
            out.setdefault(by_prefix[(node.kato or "")[:2]], Counter())[p.kind] += 1
    return {name: dict(c) for name, c in out.items()}


# --- how many of what, where --------------------------------------------------------------


def apportion(total: int, weights: list[float]) -> list[int]:
    """Split `total` in proportion to `weights` by largest remainder: the parts sum to `total`
    exactly, and ties go to the earlier item, so the split is deterministic."""
    if total <= 0 or not weights:
        return [0] * len(weights)
    if not any(weights):
        weights = [1.0] * len(weights)
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    parts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (parts[i] - exact[i], i))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _national_targets(counts: dict[str, int]) -> dict[str, dict[str, int]]:
    names = list(counts)
    weights = [float(counts[n]) for n in names]
    out = {n: {} for n in names}
    for kind in ("college", "preschool"):
        for n, k in zip(names, apportion(NATIONAL[kind], weights), strict=True):
            out[n][kind] = k
    rest = [n for n in names if n not in UNIVERSITIES_FIXED]
    spread = apportion(NATIONAL["university"] - sum(UNIVERSITIES_FIXED.values()), [counts[n] for n in rest])
    for n, k in [*UNIVERSITIES_FIXED.items(), *zip(rest, spread, strict=True)]:
        out[n]["university"] = k
    return out


def _units(region: Region, wanted: int | None) -> list[tuple[str, str, bool]]:
    """(kk stem, ru genitive, is_city) for the region's departments; synthetic extras only when a
    scaled-down run asks for more than the real list."""
    real = []
    for item in region.units.split(";"):
        kk, ru = (s.strip() for s in item.split("="))
        real.append((kk.removesuffix(" қ."), ru, kk.endswith(" қ.")))
    wanted = len(real) if wanted is None else wanted
    if not 1 <= wanted <= 89:  # the district part of a KATO code has two digits
        raise ValueError("districts_per_region must be 1..89")
    extra = [(f"№{n} шартты", f"условного района №{n}", False) for n in range(len(real) + 1, wanted + 1)]
    return (real + extra)[:wanted]


def _region(maker: _Maker, ministry: ParticipantUpserted, region: Region, csv_schools: int,
            targets: dict[str, int], districts: int | None, schools_per_district: int | None,
            others: bool) -> list[ParticipantUpserted]:
    rng = maker.rng
    opened = date(2022, 6, 8) if region.csv_name in NEW_REGIONS else maker.day(1996, 2010)
    head = maker.participant(
        level=Level.region, kind=region.kind, parent=ministry, kato=f"{region.kato}0000000", opened=opened,
        name_kk=f"{region.kk}ның білім басқармасы", name_ru=f"Управление образования {region.ru}")
    out = [head]
    units = _units(region, districts)
    # the regional centre is the biggest; other towns next; the noise keeps districts unequal
    weights = [(3.0 if i == 0 and city else 1.5 if city else 1.0) * rng.uniform(0.7, 1.3)
               for i, (_, _, city) in enumerate(units)]
    if schools_per_district is not None:
        schools = [schools_per_district] * len(units)
    else:
        floor = 1 if csv_schools >= len(units) else 0  # every department has a school when it can
        schools = [floor + k for k in apportion(csv_schools - floor * len(units), weights)]
    factor = sum(schools) / csv_schools
    # universities sit in towns (any district of a republic city)
    town = [w if city or region.kind == "republic_city" else 0.0 for w, (_, _, city) in zip(weights, units, strict=True)]
    plan = {"school": schools}
    if others:
        at_least = 1 if sum(schools) else 0  # a scaled-down run still gets a college and a preschool
        plan["college"] = apportion(max(at_least, round(targets["college"] * factor)),
                                    [w * 2 if i == 0 else w for i, w in enumerate(weights)])
        plan["university"] = apportion(round(targets["university"] * factor), town)
        plan["preschool"] = apportion(max(at_least, round(targets["preschool"] * factor)),
                                      [float(s) for s in schools])
    for i, (kk, ru, city) in enumerate(units):
        is_district_of_city = region.kind == "republic_city"
        department = maker.participant(
            level=Level.district, kind="city" if city and not is_district_of_city else "district",
            parent=head, kato=f"{region.kato}{10 + i:02d}00000", opened=max(opened, maker.day(1997, 2015)),
            name_kk=f"{kk} {'қаласының' if city else 'ауданының'} білім бөлімі",
            name_ru=f"Отдел образования {ru}")
        out.append(department)
        for kind, per_unit in plan.items():
            for n in range(1, per_unit[i] + 1):
                out.append(maker.organization(kind, n, department))
    return out


class _Maker:
    """Builds participants, handing out unique BINs and heads' IINs from the one random stream."""

    def __init__(self, rng: Random) -> None:
        self.rng = rng
        self.bins: set[str] = set()
        self.iins: set[str] = set()

    def day(self, first_year: int, last_year: int) -> date:
        start = date(first_year, 1, 1)
        end = min(date(last_year, 12, 31), LAST_DAY)
        return start + timedelta(days=self.rng.randrange((end - start).days + 1))

    def _unique(self, used: set[str], first11) -> str:
        while True:
            number = make_valid(first11())
            if number not in used:
                used.add(number)
                return number

    def bin_for(self, opened: date) -> str:
        # YYMM of registration, 4 = resident legal entity, 0 = head office, 5-digit serial
        return self._unique(self.bins, lambda: f"{opened:%y%m}40{self.rng.randrange(100_000):05d}")

    def head(self, opened: date) -> HeadTerm:
        rng = self.rng
        female = rng.random() < 0.6  # most heads of schools and preschools are women
        born = self.day(1960, 1996)
        century = 3 if born.year < 2000 else 5  # 7th digit: 3/4 for the 1900s, 5/6 for the 2000s
        iin = self._unique(self.iins, lambda: f"{born:%y%m%d}{century + female}{rng.randrange(10_000):04d}")
        surname = rng.choice(SURNAMES) + ("а" if female else "")
        first = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
        patronymic = rng.choice(FATHERS) + ("қызы" if female else "ұлы")
        since_earliest = max(opened, date(born.year + 28, 1, 1))
        since = since_earliest + timedelta(days=rng.randrange((LAST_DAY - since_earliest).days + 1))
        return HeadTerm(iin=iin, full_name=f"{surname} {first} {patronymic}", valid_from=since)

    def participant(self, *, level: Level, kind: str, parent: ParticipantUpserted | None, kato: str,
                    opened: date, name_kk: str, name_ru: str) -> ParticipantUpserted:
        bin_ = self.bin_for(opened)
        head = self.head(opened)
        return ParticipantUpserted(
            participant_id=bin_, bin=bin_, level=level, kind=kind,
            parent_id=parent.participant_id if parent else None, name_kk=name_kk, name_ru=name_ru,
            head_iin=head.iin, head_name=head.full_name, kato=kato, active_from=opened, heads=[head])

    def organization(self, kind: str, n: int, department: ParticipantUpserted) -> ParticipantUpserted:
        rng = self.rng
        if kind == "school":
            _, kk, ru = rng.choices(SCHOOL_TYPES, weights=[t[0] for t in SCHOOL_TYPES])[0]
            name_kk, name_ru, opened = kk.format(n=n), ru.format(n=n), self.day(1995, 2023)
        elif kind == "college":
            kk, ru = rng.choice(COLLEGE_TYPES)
            name_kk, name_ru, opened = f"№{n} {kk} колледж", f"{ru} колледж №{n}", self.day(1995, 2020)
        elif kind == "university":
            (kk, ru), (who_kk, who_ru) = rng.choice(UNIVERSITY_TYPES), rng.choice(NAMESAKES)
            name_kk, name_ru, opened = f"{who_kk} атындағы {kk}", f"{ru} имени {who_ru}", self.day(1995, 2015)
        else:
            nick = rng.choice(PRESCHOOL_NAMES)
            name_kk, name_ru = f"№{n} «{nick}» балабақшасы", f"Детский сад №{n} «{nick}»"
            opened = self.day(2000, 2024)
        # a settlement within the district: KATO = region(2) district(2) rural okrug(2) settlement(3)
        kato = f"{department.kato[:4]}{rng.randrange(30, 70, 3):02d}{rng.randrange(100, 1000, 100):03d}"
        return self.participant(level=Level.organization, kind=kind, parent=department, kato=kato,
                                opened=opened, name_kk=name_kk, name_ru=name_ru)

from __future__ import annotations

from collections import Counter
from datetime import date
from importlib.resources import files

import pytest

from uise_common.testing import shared_dir
from uise_contracts.events import Level
from uise_registry import identifiers, seed
from uise_registry.domain import KINDS_BY_LEVEL, PARENT_LEVEL

SHARED_CSV = shared_dir() / "data" / seed.CSV_NAME
# the region's Russian name (genitive) and its real KATO prefix, written out independently of seed.py
REAL = {"Abai Region": ("области Абай", "10"), "Akmola Region": ("Акмолинской области", "11"),
        "Aktobe Region": ("Актюбинской области", "15"), "Almaty Region": ("Алматинской области", "19"),
        "Atyrau Region": ("Атырауской области", "23"), "West Kazakhstan Region": ("Западно-Казахстанской области", "27"),
        "Jambyl Region": ("Жамбылской области", "31"), "Jetisu Region": ("области Жетісу", "33"),
        "Karaganda Region": ("Карагандинской области", "35"), "Kostanay Region": ("Костанайской области", "39"),
        "Kyzylorda Region": ("Кызылординской области", "43"), "Mangystau Region": ("Мангистауской области", "47"),
        "Pavlodar Region": ("Павлодарской области", "55"),
        "North Kazakhstan Region": ("Северо-Казахстанской области", "59"),
        "Turkistan Region": ("Туркестанской области", "61"), "Ulytau Region": ("области Ұлытау", "62"),
        "East Kazakhstan Region": ("Восточно-Казахстанской области", "63"), "Astana city": ("города Астаны", "71"),
        "Almaty city": ("города Алматы", "75"), "Shymkent city": ("города Шымкента", "79")}


@pytest.fixture(scope="module")
def everyone():
    return seed.national()  # its speed is a benchmark's business, not a test's (a loaded machine is slow)


def assert_hierarchy(people) -> None:
    """The registry's invariants, for every participant."""
    seen: dict[str, object] = {}
    iins = set()
    for p in people:
        assert p.participant_id == p.bin and identifiers.is_valid(p.bin), p.bin
        assert p.bin not in seen, f"BIN {p.bin} twice"
        assert p.kind in KINDS_BY_LEVEL[p.level], (p.bin, p.kind, p.level)
        if p.parent_id is None:
            assert PARENT_LEVEL[p.level] is None
        else:  # parents come first, one level up — which also rules out cycles
            assert p.parent_id in seen, f"{p.bin} before its parent {p.parent_id}"
            assert seen[p.parent_id].level == PARENT_LEVEL[p.level]
            assert p.kato[:2] == seen[p.parent_id].kato[:2] or p.level == Level.region
        seen[p.bin] = p
        assert p.kato is not None and len(p.kato) == 9 and p.kato.isdigit()
        assert p.name_kk and p.name_ru and p.active and p.active_from is not None
        assert f"{p.active_from:%y%m}" == p.bin[:4]  # a BIN starts with its registration YYMM
        assert len(p.heads) == 1 and p.heads[0].valid_to is None
        head = p.heads[0]
        assert (p.head_iin, p.head_name) == (head.iin, head.full_name)
        assert identifiers.is_valid(head.iin) and head.iin not in iins
        iins.add(head.iin)
        century = {"3": 1900, "4": 1900, "5": 2000, "6": 2000}[head.iin[6]]
        born = date(century + int(head.iin[:2]), int(head.iin[2:4]), int(head.iin[4:6]))
        assert 25 <= (head.valid_from - born).days // 365 <= 70, (head.iin, head.valid_from)
        assert p.active_from <= head.valid_from <= date(2025, 12, 31)
        female = head.iin[6] in "46"
        surname, _, patronymic = head.full_name.split(" ")
        assert surname.endswith("а") == female and patronymic.endswith("қызы" if female else "ұлы")
    # a single tree under the one Ministry
    assert [p.level for p in people].count(Level.ministry) == 1


def test_national_figures(everyone):
    assert 19_000 <= len(everyone) <= 21_000
    kinds = Counter(p.kind for p in everyone)
    levels = Counter(p.level for p in everyone)
    assert (kinds["ministry"], kinds["region"], kinds["republic_city"]) == (1, 17, 3)
    assert 200 <= levels[Level.district] <= 250
    for kind, figure in seed.NATIONAL.items():
        assert abs(kinds[kind] - figure) <= figure * 0.10, (kind, kinds[kind])
    by_region = seed.counts_by_region(everyone)
    csv_counts = seed.schools_by_region()
    assert len(csv_counts) == 20 and sum(csv_counts.values()) == 7_687
    assert {name: c["school"] for name, c in by_region.items()} == csv_counts
    for name, c in by_region.items():
        assert c.get("district", 0) + c.get("city", 0) >= 2, name
    assert (by_region["Astana city"]["district"], by_region["Almaty city"]["district"],
            by_region["Shymkent city"]["district"]) == (5, 8, 5)
    assert 36 <= by_region["Almaty city"]["university"] <= 44 and 18 <= by_region["Astana city"]["university"] <= 22
    # the biggest school system has the most preschools and colleges
    assert max(by_region, key=lambda n: by_region[n]["preschool"]) == "Turkistan Region"


def test_invariants_hold_for_every_participant(everyone):
    assert_hierarchy(everyone)


def test_regions_have_real_names_and_kato(everyone):
    regions = [p for p in everyone if p.level == Level.region]
    by_name = {p.name_ru: p for p in regions}
    assert by_name["Управление образования Акмолинской области"].name_kk == "Ақмола облысының білім басқармасы"
    assert by_name["Управление образования города Астаны"].kind == "republic_city"
    assert by_name["Управление образования области Ұлытау"].kato == "620000000"
    assert set(REAL) == set(seed.schools_by_region())
    for name, (ru, kato) in REAL.items():
        p = by_name[f"Управление образования {ru}"]
        assert p.kato == kato + "0000000", name
        assert (p.kind == "republic_city") == name.endswith("city")
        assert list(seed.counts_by_region([p])) == [name]
    schools = [p for p in everyone if p.kind == "school"]
    assert any(p.name_kk.endswith("жалпы білім беретін мектеп") and p.name_ru.startswith("Общеобразовательная школа №")
               for p in schools)


def test_same_seed_same_bytes_other_seed_differs(everyone):
    dump = [p.model_dump_json() for p in everyone]
    assert [p.model_dump_json() for p in seed.national(2026)] == dump
    other = seed.national(7)
    assert [p.model_dump_json() for p in other] != dump
    assert seed.counts_by_region(other) == seed.counts_by_region(everyone)  # the shape is the data's


def test_scaled_down():
    small = seed.generate(regions=1, districts_per_region=2, schools_per_district=5)
    assert_hierarchy(small)
    kinds = Counter(p.kind for p in small)
    assert (kinds["ministry"], kinds["region"], kinds["city"] + kinds["district"], kinds["school"]) == (1, 1, 2, 10)
    assert 1 <= kinds["college"] <= 3 and 1 <= kinds["preschool"] <= 30
    bare = seed.generate(regions=1, districts_per_region=2, schools_per_district=5, with_other_organizations=False)
    assert Counter(p.kind for p in bare) == {"ministry": 1, "region": 1, "city": 2, "school": 10}
    assert seed.generate(3, regions=2, districts_per_region=1, schools_per_district=0,
                         with_other_organizations=False)[-1].level == Level.district
    # more departments than the real list gets clearly synthetic ones, still valid
    wide = seed.generate(regions=1, districts_per_region=15, schools_per_district=1, with_other_organizations=False)
    assert_hierarchy(wide)
    assert any("условного района" in p.name_ru for p in wide)


def test_bad_scale_is_refused():
    with pytest.raises(ValueError):
        seed.generate(regions=0)
    with pytest.raises(ValueError):
        seed.generate(regions=1, districts_per_region=0)


def test_apportion_is_exact_and_proportional():
    assert seed.apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert seed.apportion(7, [0, 0]) == [4, 3]
    assert seed.apportion(0, [1, 2]) == [0, 0]
    parts = seed.apportion(11_300, [318, 559, 1004])
    assert sum(parts) == 11_300 and parts[2] > parts[1] > parts[0]


def test_packaged_csv_is_the_shared_one():
    assert SHARED_CSV.exists(), (
        f"{SHARED_CSV} is missing: the repository expects shared/ beside it (../shared), "
        "holding data/kz-schools-by-region-2022.csv")
    packaged = (files("uise_registry") / "data" / seed.CSV_NAME).read_bytes()
    assert packaged == SHARED_CSV.read_bytes(), "the packaged CSV differs from ../shared/data: copy it again"

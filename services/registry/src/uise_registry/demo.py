"""A small demo hierarchy (Ministry → Astana → one district → two schools) and one approved
form, used by `make run` and the end-to-end tests. Issue 3 adds the national seed."""

from __future__ import annotations

from uise_contracts.examples import SCHOOL_FORM

MINISTRY = "100140011059"
REGION = "210240000018"
DISTRICT = "210340000013"
SCHOOLS = {"220440000019": "800101300016", "220440000029": "800202400021"}  # school → its head's IIN
# Every demo organization has a head in office who can sign in (departments' heads included).
HEADS = {MINISTRY: "750305300013", REGION: "780612400024", DISTRICT: "820915300035", **SCHOOLS}
ACCOUNTANT = ("220440000019", "900202400022")  # school 1's accountant, named by its head

DEMO_FORM = SCHOOL_FORM


def demo_participants() -> list[dict]:
    heads = {pid: dict(head_iin=iin, head_name=f"Басшы {pid}", head_from="2020-09-01")
             for pid, iin in HEADS.items() if pid not in SCHOOLS}
    rows = [
        dict(participant_id=MINISTRY, bin=MINISTRY, level="ministry", kind="ministry", parent_id=None,
             name_kk="Оқу-ағарту министрлігі", name_ru="Министерство просвещения", **heads[MINISTRY]),
        dict(participant_id=REGION, bin=REGION, level="region", kind="republic_city", parent_id=MINISTRY,
             name_kk="Астана қаласының білім басқармасы", name_ru="Управление образования города Астаны",
             **heads[REGION]),
        dict(participant_id=DISTRICT, bin=DISTRICT, level="district", kind="district", parent_id=REGION,
             name_kk="Есіл ауданының білім бөлімі", name_ru="Отдел образования района Есиль", **heads[DISTRICT]),
    ]
    for n, (bin_, iin) in enumerate(SCHOOLS.items(), start=1):
        rows.append(dict(participant_id=bin_, bin=bin_, level="organization", kind="school",
                         parent_id=DISTRICT, name_kk=f"№{n} мектеп-лицей", name_ru=f"Школа-лицей №{n}",
                         head_iin=iin, head_name=f"Директор {n}", head_from="2020-09-01"))
    return rows

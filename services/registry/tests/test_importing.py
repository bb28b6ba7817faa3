from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import Workbook

from uise_contracts.events import HeadTerm, Level, ParticipantUpserted
from uise_registry import importing, seed
from uise_registry.identifiers import make_valid
from uise_registry.importing import COLUMNS, ImportFileError, RawRow, plan, read_rows

TODAY = date(2026, 4, 1)


def bin_(n: int) -> str:
    """A valid BIN registered January 2005 (so it starts with 0: XLSX number cells lose that)."""
    return make_valid(f"05014{n:06d}")


def iin(n: int, female: bool = True) -> str:
    return make_valid(f"850312{4 if female else 3}{n:04d}")


def participant(b: str, level: str, kind: str, parent: str | None, head: str | None = None,
                since: date = date(2020, 9, 1), **kw) -> ParticipantUpserted:
    heads = [HeadTerm(iin=head, full_name=f"Head {head}", valid_from=since)] if head else []
    return ParticipantUpserted(participant_id=b, bin=b, level=Level(level), kind=kind, parent_id=parent,
                               name_kk=f"kk {b}", name_ru=f"ru {b}", head_iin=head,
                               head_name=heads[0].full_name if heads else None, kato="711010000",
                               active_from=date(2005, 1, 10), heads=heads, **kw)


M, R, D, S1, S3 = bin_(1), bin_(2), bin_(3), bin_(4), bin_(5)
EXISTING = {p.bin: p for p in [
    participant(M, "ministry", "ministry", None),
    participant(R, "region", "republic_city", M),
    participant(D, "district", "district", R),
    participant(S1, "organization", "school", D, head=iin(1)),
    participant(S3, "organization", "school", D, head=iin(3)),
]}


def row(b: str, level: str, kind: str, parent: str, **kw) -> dict[str, str]:
    values = {c: "" for c in COLUMNS}
    values.update(bin=b, level=level, kind=kind, parent_bin=parent, name_kk=f"kk {b}", name_ru=f"ru {b}")
    values.update(kw)
    return values


def bad_checksum(b: str) -> str:
    return b[:11] + str((int(b[11]) + 1) % 10)


D2, S2, A, B = bin_(10), bin_(11), bin_(12), bin_(13)
RX, DX, SX = bin_(20), bin_(21), bin_(22)
MIXED = [  # (values, expected code or None); row numbers follow from the order, header = row 1
    (row(S2, "organization", "school", D2, head_iin=iin(20), head_name="Ахметова Айгүл Серікқызы",
         head_from="2024-09-01", kato="711030100"), None),  # 2: child before its parent: fine
    (row(D2, "district", "district", R, active_from="2019-01-15"), None),  # 3
    (row(bad_checksum(bin_(30)), "district", "district", R), "BIN_CHECKSUM"),  # 4
    (row(bin_(31), "organization", "school", bin_(99)), "PARENT_UNKNOWN"),  # 5: nowhere
    (row(A, "district", "district", B), "CYCLE"),  # 6
    (row(B, "district", "district", A), "CYCLE"),  # 7
    (row(bin_(32), "organization", "school", R), "PARENT_WRONG_LEVEL"),  # 8: a school under a region
    (row(D2, "district", "district", R), "DUPLICATE_BIN"),  # 9: row 3 again
    (row(bin_(33), "organization", "school", D, head_iin=iin(33), head_from="2026-13-01"), "DATE_INVALID"),  # 10
    (row(bin_(34), "organization", "school", bad_checksum(bin_(30))), "PARENT_REJECTED"),  # 11: row 4's child
    (row(D, "organization", "school", D2), "LEVEL_CHANGE"),  # 12: an existing district (it stays as it
    # is, so rows 21 and 22 below, its schools, still stand)
    (row(RX, "region", "school", M), "KIND_NOT_ALLOWED_AT_LEVEL"),  # 13
    (row(DX, "district", "district", RX), "PARENT_REJECTED"),  # 14
    (row(SX, "organization", "school", DX), "PARENT_REJECTED"),  # 15: transitively
    (row(bin_(35), "village", "school", D), "LEVEL_UNKNOWN"),  # 16
    (row(bin_(36), "ministry", "ministry", M), "MINISTRY_PARENT"),  # 17
    (row(bin_(37), "organization", "school", D, head_iin=bad_checksum(iin(37))), "IIN_CHECKSUM"),  # 18
    (row(bin_(38), "organization", "school", D, head_iin="12345"), "IIN_FORMAT"),  # 19
    (row(bin_(39), "organization", "preschool", A), "PARENT_REJECTED"),  # 20: under the cycle
    (importing.rows_from_participants([EXISTING[S1]])[0].values, None),  # 21: unchanged → ignored
    (row(S3, "organization", "school", D, head_iin=iin(40, female=False), head_name="Омаров Ерлан Болатұлы",
         head_from="2026-02-01", kato="711010000", active_from="2005-01-10"), None),  # 22: a new head
    (row("12345678901", "organization", "school", D), "BIN_FORMAT"),  # 23
]
EXPECTED = {n: code for n, (_, code) in enumerate(MIXED, start=2) if code}


def as_csv(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def as_xlsx(rows: list[dict[str, str]]) -> bytes:
    """As a person would type it in Excel: BINs as numbers, dates as date cells, columns shuffled."""
    book = Workbook()
    sheet = book.active
    order = list(reversed(COLUMNS))
    sheet.append([c.upper() for c in order])
    for values in rows:
        cells = []
        for c in order:
            v = values[c]
            if c in ("bin", "parent_bin") and v.isdigit() and len(v) == 12:
                cells.append(int(v))
            elif c.endswith(("_from", "_to")) and v and v != "2026-13-01":
                cells.append(date.fromisoformat(v))
            else:
                cells.append(v or None)
        sheet.append(cells)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def codes(p: importing.ImportPlan) -> dict[int, str]:
    return {r.row_no: r.code for r in p.rejected}


def test_a_mixed_file_reports_every_bad_row_with_its_number_and_code():
    rows = read_rows(as_csv([v for v, _ in MIXED]), "participants.csv")
    p = plan(rows, EXISTING, today=TODAY)
    assert codes(p) == EXPECTED
    assert [e.bin for e in p.created] == [D2, S2]  # parents first, whatever the file order
    assert [e.bin for e in p.updated] == [S3]
    assert p.ignored == [21]
    assert p.summary() == {"imported": 2, "updated": 1, "ignored": 1, "rejected": len(EXPECTED)}
    assert all(r.message for r in p.rejected)
    assert next(r for r in p.rejected if r.row_no == 4).bin == bad_checksum(bin_(30))
    school = p.created[1]
    assert (school.parent_id, school.kato, school.head_iin, school.active) == (D2, "711030100", iin(20), True)
    assert school.heads == [HeadTerm(iin=iin(20), full_name="Ахметова Айгүл Серікқызы", valid_from=date(2024, 9, 1))]


def test_xlsx_gives_the_same_plan_as_csv():
    values = [v for v, _ in MIXED]
    from_csv = plan(read_rows(as_csv(values), "a.csv"), EXISTING, today=TODAY)
    from_xlsx = plan(read_rows(as_xlsx(values), "A.XLSX"), EXISTING, today=TODAY)
    assert from_xlsx == from_csv


def test_a_head_change_keeps_the_history():
    change = row(S1, "organization", "school", D, head_iin=iin(50), head_name="Сейітова Сәуле Қанатқызы",
                 head_from="2026-02-01")
    p = plan([RawRow(2, change)], EXISTING, today=TODAY)
    (school,) = p.updated
    old, new = school.heads
    assert (old.iin, old.valid_from, old.valid_to) == (iin(1), date(2020, 9, 1), date(2026, 1, 31))
    assert (new.iin, new.valid_from, new.valid_to) == (iin(50), date(2026, 2, 1), None)
    assert (school.head_iin, school.head_name) == (iin(50), "Сейітова Сәуле Қанатқызы")
    assert school.head_on(date(2025, 12, 1)).iin == iin(1) and school.head_on(TODAY).iin == iin(50)
    assert (school.kato, school.active_from) == ("711010000", date(2005, 1, 10))  # blank cells keep
    # no head_from: the new head starts today
    del change["head_from"]
    (school,) = plan([RawRow(2, change)], EXISTING, today=TODAY).updated
    assert school.heads[0].valid_to == date(2026, 3, 31) and school.heads[1].valid_from == TODAY
    # the same head again only corrects the name
    same = row(S1, "organization", "school", D, head_iin=iin(1), head_name="Fixed Name")
    (school,) = plan([RawRow(2, same)], EXISTING, today=TODAY).updated
    assert [(h.iin, h.full_name, h.valid_to) for h in school.heads] == [(iin(1), "Fixed Name", None)]
    # a successor cannot start before the current head did
    early = {**change, "head_from": "2020-09-01"}
    assert codes(plan([RawRow(2, early)], EXISTING, today=TODAY)) == {2: "HEAD_DATE_INVALID"}


def test_closing_keeps_history_and_a_closed_record_stays_as_it_is():
    close = row(S1, "organization", "school", D, active_to="2026-03-01")
    (closed,) = plan([RawRow(2, close)], EXISTING, today=TODAY).updated
    assert closed.active is False and closed.active_to == date(2026, 3, 1)
    assert closed.heads == EXISTING[S1].heads
    after = {**EXISTING, S1: closed}
    assert plan(importing.rows_from_participants([closed]), after, today=TODAY).ignored == [2]
    reopen = row(S1, "organization", "school", D, active_to="")
    assert codes(plan([RawRow(2, reopen)], after, today=TODAY)) == {2: "PARTICIPANT_CLOSED"}
    # an open child under a closed parent, or closing a parent with open children
    closed_district = {**EXISTING, D: EXISTING[D].model_copy(update={"active_to": date(2026, 1, 1)})}
    assert codes(plan([RawRow(2, row(bin_(61), "organization", "school", D))], closed_district,
                      today=TODAY)) == {2: "PARENT_CLOSED"}
    close_d = row(D, "district", "district", R, active_to="2026-03-01")
    assert codes(plan([RawRow(2, close_d)], EXISTING, today=TODAY)) == {2: "HAS_ACTIVE_CHILDREN"}
    # …which is fine when the file closes them too
    closing_all = [RawRow(2, close_d), RawRow(3, close), RawRow(4, row(S3, "organization", "school", D,
                                                                          active_to="2026-02-01"))]
    assert plan(closing_all, EXISTING, today=TODAY).summary()["updated"] == 3


def test_dates_out_of_order_and_misc_row_rules():
    cases = {
        2: (row(bin_(70), "organization", "school", D, active_from="2020-01-01", active_to="2019-01-01"),
            "DATE_INVALID"),
        3: (row(bin_(71), "organization", "school", D, active_from="01.09.2020"), "DATE_INVALID"),
        4: (row(bin_(72), "organization", "school", ""), "PARENT_REQUIRED"),
        5: (row(bin_(73), "organization", "school", D, name_ru=""), "NAME_REQUIRED"),
        6: (row(bin_(74), "organization", "school", D, kato="7110"), "KATO_FORMAT"),
        7: (row(bin_(75), "organization", "school", bin_(75)), "CYCLE"),
        8: (row(bin_(76), "Organization", "School", D), None),  # case does not matter
    }
    p = plan([RawRow(n, v) for n, (v, _) in cases.items()], EXISTING, today=TODAY)
    assert codes(p) == {n: c for n, (_, c) in cases.items() if c}
    assert p.created[0].level == Level.organization and p.created[0].kind == "school"


def test_test_mode_admits_the_nca_test_bin_only_then():
    values = row("123456789021", "organization", "school", D, head_iin="123456789011", head_name="ТЕСТ")
    assert codes(plan([RawRow(2, values)], EXISTING, today=TODAY)) == {2: "BIN_CHECKSUM"}
    p = plan([RawRow(2, values)], EXISTING, test_mode=True, today=TODAY)
    assert [e.bin for e in p.created] == ["123456789021"] and p.created[0].head_iin == "123456789011"
    assert codes(plan([RawRow(2, {**values, "bin": bin_(80)})], EXISTING, today=TODAY)) == {2: "IIN_CHECKSUM"}


@pytest.fixture(scope="module")
def registry():
    """A realistic registry: two regions of the seed, plus a closed school and a changed head."""
    people = {p.bin: p for p in seed.generate(regions=2)}
    school = next(p for p in people.values() if p.kind == "school")
    term = school.heads[0]
    people[school.bin] = school.model_copy(update={
        "active_to": date(2025, 12, 31), "active": False, "head_iin": iin(90), "head_name": "Жаңа Басшы",
        "heads": [term.model_copy(update={"valid_to": date(2025, 5, 31)}),
                  HeadTerm(iin=iin(90), full_name="Жаңа Басшы", valid_from=date(2025, 6, 1))]})
    return people


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(registry, fmt):
    data = importing.export_csv(registry.values()) if fmt == "csv" else importing.export_xlsx(registry.values())
    rows = read_rows(data, f"export.{fmt}")
    assert list(rows[0].values) == list(COLUMNS)
    p = plan(rows, registry, today=TODAY)
    assert p.summary() == {"imported": 0, "updated": 0, "ignored": len(registry), "rejected": 0}
    # into an empty registry the same file creates everything but the two-term head history
    fresh = plan(rows, {}, today=TODAY)
    assert fresh.summary() == {"imported": len(registry), "updated": 0, "ignored": 0, "rejected": 0}


def test_the_national_seed_imports_cleanly_into_an_empty_registry():
    people = seed.national()
    p = plan(importing.rows_from_participants(people), {}, today=TODAY)
    assert p.summary() == {"imported": len(people), "updated": 0, "ignored": 0, "rejected": 0}
    assert {e.bin: e.model_dump() for e in p.created} == {e.bin: e.model_dump() for e in people}
    levels = [e.level for e in p.created]
    assert levels == sorted(levels, key=list(Level).index)  # parents first


# --- reading files ------------------------------------------------------------------------


def file_error(data: bytes, name: str) -> str:
    with pytest.raises(ImportFileError) as exc:
        read_rows(data, name)
    return exc.value.code


def test_unreadable_files():
    assert file_error(b"bin,level", "list.pdf") == "FILE_TYPE"
    assert file_error(b"bin,level", "noextension") == "FILE_TYPE"
    assert file_error(b"not a zip", "list.xlsx") == "FILE_UNREADABLE"
    assert file_error("bin,level\n".encode("cp1251") + "Қ".encode("utf-16"), "list.csv") == "FILE_UNREADABLE"
    assert file_error(b"bin,level,kind,name_kk,name_ru\n1,2,3,4,5\n", "list.csv") == "COLUMNS_MISSING"
    assert file_error(b"", "list.csv") == "COLUMNS_MISSING"
    many = b"bin,level,kind,parent_bin,name_kk,name_ru\n" + b"1,a,b,c,d,e\n" * 100_001
    assert file_error(many, "list.csv") == "TOO_MANY_ROWS"
    assert len(read_rows(many[: many.index(b"\n") + 1] + b"1,a,b,c,d,e\n" * 100_000, "x.csv")) == 100_000


def test_excel_flavoured_csv():
    """Semicolons, a BOM, upper-case headers in another order, blank lines, extra columns."""
    text = ("\ufeffNAME_RU;Name_KK;BIN;Level;Kind;Parent_BIN;comment\n"
            f"Школа;Мектеп;{bin_(5)};organization;school;{D};x\n"
            ";;;;;;\n"
            f"Школа 2;Мектеп 2; {bin_(6)} ;organization;school;{D};\n")
    rows = read_rows(text.encode("utf-8"), "export.CSV")
    assert [r.row_no for r in rows] == [2, 4]  # row numbers as in the file
    assert rows[0].values == {"bin": bin_(5), "level": "organization", "kind": "school", "parent_bin": D,
                              "name_kk": "Мектеп", "name_ru": "Школа"}
    assert rows[1].values["bin"] == bin_(6)  # cells are trimmed


# --- exports never carry formulas (issue 7) ---------------------------------------------------

HOSTILE_NAMES = ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "=HYPERLINK(\"http://x\",\"y\")",
                 "'quoted", "'=already"]


def hostile_registry() -> dict[str, ParticipantUpserted]:
    people = dict(EXISTING)
    for n, name in enumerate(HOSTILE_NAMES, start=50):
        b = bin_(n)
        school = participant(b, "organization", "school", D, head=iin(n))
        people[b] = school.model_copy(update={
            "name_kk": name, "name_ru": f"Школа {name}", "head_name": name,
            "heads": [school.heads[0].model_copy(update={"full_name": name})]})
    return people


def test_a_csv_export_neutralises_formula_like_names():
    people = hostile_registry()
    text = importing.export_csv(people.values()).decode("utf-8-sig")
    by_bin = {r["bin"]: r for r in csv.DictReader(io.StringIO(text, newline=""))}
    for n, name in enumerate(HOSTILE_NAMES, start=50):
        r = by_bin[bin_(n)]
        assert r["name_kk"] == "'" + name and r["head_name"] == "'" + name
        assert r["name_ru"] == f"Школа {name}"  # a formula only when it starts the cell
    assert "\n=cmd" not in text and ",=cmd" not in text and ",+1" not in text and ",@SUM" not in text


def test_an_xlsx_export_holds_formula_like_names_as_neutralised_text():
    from openpyxl import load_workbook

    people = hostile_registry()
    sheet = load_workbook(io.BytesIO(importing.export_xlsx(people.values())))["participants"]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
            if isinstance(cell.value, str):
                assert cell.data_type == "s"
                assert not cell.value.startswith(("=", "+", "-", "@")), (cell.coordinate, cell.value)
        values = dict(zip(header, (c.value for c in row), strict=True))
        if values["name_kk"].lstrip("'") in HOSTILE_NAMES:
            assert values["name_kk"].startswith("'")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_neutralised_export_imports_back_as_the_same_names(fmt):
    people = hostile_registry()
    data = importing.export_csv(people.values()) if fmt == "csv" else importing.export_xlsx(people.values())
    p = plan(read_rows(data, f"export.{fmt}"), people, today=TODAY)
    assert p.summary() == {"imported": 0, "updated": 0, "ignored": len(people), "rejected": 0}


def test_names_with_control_or_invisible_characters_or_too_long_are_refused_on_import():
    cases = {
        2: row(bin_(81), "organization", "school", D, name_kk="a\x00b"),
        3: row(bin_(82), "organization", "school", D, name_ru="Школа\u202e1"),
        4: row(bin_(83), "organization", "school", D, name_ru="x" * 501),
        5: row(bin_(84), "organization", "school", D, head_iin=iin(84), head_name="Ә\u200dлия"),
        6: row(bin_(85), "organization", "school", D, head_from="0001-01-01", head_iin=iin(85)),
        7: row(bin_(86), "organization", "school", D, name_ru="Школа и\u0306"),  # NFC: stored as "й"
    }
    p = plan([RawRow(n, v) for n, v in cases.items()], EXISTING, today=TODAY)
    assert codes(p) == {2: "TEXT_INVALID", 3: "TEXT_INVALID", 4: "TEXT_INVALID", 5: "TEXT_INVALID",
                        6: "DATE_INVALID"}
    assert p.created[0].name_ru == "Школа й"

"""The registry's writes and reads on its tables: each write takes a session and the actor's
label (for the audit log) and returns the event it emits; every change is written to the audit
log in the same transaction. Who may call them is decided before, in `commands` (the API) or by
the operator's command line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import update
from sqlmodel import Session, col, select

from uise_common.db import utcnow
from uise_common.inputs import (
    FORM_CODE_PATTERN,
    Bin,
    Day,
    Iin,
    Kato,
    Name,
    ParticipantId,
    PersonName,
)
from uise_common.rules import RuleError, RuleErrors, check_form
from uise_contracts.events import (
    FormDefinition,
    FormListApproved,
    HeadTerm,
    Level,
    ParentTerm,
    ParticipantUpserted,
    StaffMember,
)
from uise_registry import access, domain, identifiers, staff
from uise_registry.adapters import AuditEntry, FormList, HeadTermRow, ParentTermRow, Participant
from uise_registry.domain import (
    PARENT_LEVEL,
    RegistryError,
    check_placement,
    check_staff_role,
    forms_diff,
)

Kind = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z][a-z_]{0,31}$"),
                 Field(description="The kind of participant at its level (school, district, …)")]


class ParticipantCommand(BaseModel):
    """Create or update a participant (the API body). Every field is canonical and capped
    (uise_common.inputs): a BIN in Arabic-Indic digits or a name with a NUL is a 422."""

    bin: Bin
    level: Level
    kind: Kind
    parent_id: ParticipantId | None = None
    name_kk: Name
    name_ru: Name
    kato: Kato | None = None
    active_from: Day | None = None
    head_iin: Iin | None = None
    head_name: PersonName | None = None
    head_from: Day | None = Field(default=None, description="When the new head took office (default today)")


def audit(session: Session, actor: str, action: str, entity: str, entity_id: str,
          before: dict | None, after: dict | None) -> None:
    session.add(AuditEntry(actor=actor, action=action, entity=entity, entity_id=entity_id,
                           before=json.dumps(before, default=str, ensure_ascii=False) if before else None,
                           after=json.dumps(after, default=str, ensure_ascii=False) if after else None))


def heads_of(session: Session, participant_id: str) -> list[HeadTerm]:
    rows = session.exec(select(HeadTermRow).where(HeadTermRow.participant_id == participant_id)
                        .order_by(col(HeadTermRow.valid_from), col(HeadTermRow.id))).all()
    return [HeadTerm(iin=r.iin, full_name=r.full_name, valid_from=r.valid_from, valid_to=r.valid_to) for r in rows]


def parents_of(session: Session, participant_id: str) -> list[ParentTerm]:
    """The participant's parent history, oldest first; empty when it never moved."""
    rows = session.exec(select(ParentTermRow).where(ParentTermRow.participant_id == participant_id)
                        .order_by(col(ParentTermRow.valid_from))).all()
    return [ParentTerm(parent_id=r.parent_id, valid_from=r.valid_from, valid_to=r.valid_to) for r in rows]


def parents_by_participant(session: Session, ids: list[str] | None = None) -> dict[str, list[ParentTerm]]:
    """The parent histories of many participants (all of them when `ids` is None) in few queries."""
    out: dict[str, list[ParentTerm]] = {}
    chunks = [None] if ids is None else [ids[i:i + 500] for i in range(0, len(ids), 500)]
    for chunk in chunks:
        q = select(ParentTermRow)
        if chunk is not None:
            q = q.where(col(ParentTermRow.participant_id).in_(chunk))
        for r in session.exec(q.order_by(col(ParentTermRow.valid_from))):
            out.setdefault(r.participant_id, []).append(
                ParentTerm(parent_id=r.parent_id, valid_from=r.valid_from, valid_to=r.valid_to))
    return out


def participant_row(session: Session, participant_id: str) -> Participant:
    row = session.get(Participant, participant_id)
    if row is None:
        raise RegistryError("PARTICIPANT_UNKNOWN", f"no participant {participant_id}",
                            f"нет участника {participant_id}", f"{participant_id} қатысушысы жоқ")
    return row


def to_event(p: Participant, heads: list[HeadTerm], today: date,
             staff_terms: Iterable[StaffMember] = (), parents: list[ParentTerm] | None = None) -> ParticipantUpserted:
    """A participant row, its heads' terms, its staff and its parent history as the event the
    other services read, as of `today`: `active` until the close date has passed, `parent_id` the
    parent in force today (the row's, which a move with a later date changes on the day)."""
    current = next((h for h in reversed(heads) if h.valid_to is None), None)
    parents = parents or []
    return ParticipantUpserted(
        participant_id=p.participant_id, bin=p.bin, level=Level(p.level), kind=p.kind,
        parent_id=domain.parent_today(parents, p.parent_id, today), parents=parents,
        name_kk=p.name_kk, name_ru=p.name_ru, head_iin=current.iin if current else None,
        head_name=current.full_name if current else None, active=p.active_to is None or p.active_to >= today,
        kato=p.kato, active_from=p.active_from, active_to=p.active_to, heads=heads,
        staff=staff.current(staff_terms, today))


def participant_event(session: Session, p: Participant, today: date | None = None) -> ParticipantUpserted:
    return to_event(p, heads_of(session, p.participant_id), today or domain.today(),
                    staff.terms_of(session, p.participant_id), parents_of(session, p.participant_id))


def events_of(session: Session, rows: list[Participant], today: date | None = None) -> list[ParticipantUpserted]:
    """Many participants as events, their heads and staff loaded in a few queries, not two per row."""
    ids = [p.participant_id for p in rows]
    heads: dict[str, list[HeadTerm]] = {}
    for i in range(0, len(ids), 500):
        q = select(HeadTermRow).where(col(HeadTermRow.participant_id).in_(ids[i:i + 500]))
        for r in session.exec(q.order_by(col(HeadTermRow.valid_from), col(HeadTermRow.id))):
            heads.setdefault(r.participant_id, []).append(
                HeadTerm(iin=r.iin, full_name=r.full_name, valid_from=r.valid_from, valid_to=r.valid_to))
    terms = staff.terms_by_participant(session, ids)
    parents = parents_by_participant(session, ids)
    today = today or domain.today()
    return [to_event(p, heads.get(p.participant_id, []), today, terms.get(p.participant_id, []),
                     parents.get(p.participant_id)) for p in rows]


def _snapshot(session: Session, p: Participant) -> dict:
    return participant_event(session, p).model_dump(mode="json")


def upsert_participant(session: Session, participant_id: str, cmd: ParticipantCommand, actor: str,
                       today: date | None = None, test_mode: bool = False) -> ParticipantUpserted:
    today = today or domain.today()
    for number, what in ((cmd.bin, "BIN"), (cmd.head_iin, "IIN")):
        if number is not None and (code := identifiers.check(number, what, test_mode)):
            raise RegistryError(code, f"{what} {number} has a wrong control digit",
                                f"{what} {number}: неверный контрольный разряд",
                                f"{what} {number}: бақылау разряды қате")
    if cmd.bin != participant_id:
        raise RegistryError("ID_MISMATCH", "the participant id is its BIN", "идентификатор участника — его БИН",
                            "қатысушының идентификаторы — оның БСН")
    existing = session.get(Participant, participant_id)
    if existing is not None and existing.level != cmd.level.value:
        raise RegistryError("LEVEL_CHANGE", "a participant's level cannot change; close it and register anew",
                            "уровень участника изменить нельзя", "қатысушының деңгейін өзгертуге болмайды")
    if existing is not None and existing.active_to is not None:
        raise RegistryError("PARTICIPANT_CLOSED", f"{participant_id} is closed; its record is kept as history",
                            f"{participant_id} закрыт; запись хранится как история",
                            f"{participant_id} жабылған; жазба тарих ретінде сақталады")
    if existing is not None and cmd.parent_id != existing.parent_id and parents_of(session, participant_id):
        raise parent_has_history(participant_id)
    parent_level = None
    if cmd.parent_id is not None:
        parent = session.get(Participant, cmd.parent_id)
        if parent is None or parent.active_to is not None:
            raise RegistryError("PARENT_UNKNOWN", f"unknown or closed parent {cmd.parent_id}",
                                f"неизвестный или закрытый вышестоящий участник {cmd.parent_id}",
                                f"белгісіз немесе жабылған жоғары тұрған қатысушы {cmd.parent_id}")
        parent_level = Level(parent.level)
    elif PARENT_LEVEL[cmd.level] is not None:
        raise RegistryError("PARENT_REQUIRED", f"a {cmd.level} participant needs a parent",
                            f"участнику уровня {cmd.level} нужен вышестоящий",
                            f"{cmd.level} деңгейіндегі қатысушыға жоғары тұрған қажет")
    check_placement(cmd.level, cmd.kind, parent_level)
    clash = session.exec(select(Participant).where(Participant.bin == cmd.bin,
                                                   Participant.participant_id != participant_id)).first()
    if clash is not None:
        raise RegistryError("BIN_TAKEN", f"BIN {cmd.bin} belongs to {clash.participant_id}",
                            f"БИН {cmd.bin} уже принадлежит {clash.participant_id}",
                            f"{cmd.bin} БСН {clash.participant_id} қатысушысына тиесілі")

    before = _snapshot(session, existing) if existing else None
    row = existing or Participant(participant_id=participant_id, bin=cmd.bin, level=cmd.level.value, kind=cmd.kind,
                                  name_kk=cmd.name_kk, name_ru=cmd.name_ru)
    row.kind, row.parent_id, row.name_kk, row.name_ru = cmd.kind, cmd.parent_id, cmd.name_kk, cmd.name_ru
    row.kato = cmd.kato
    row.active_from = cmd.active_from or row.active_from
    row.updated_at = utcnow()
    session.add(row)
    if cmd.head_iin:
        _set_head(session, participant_id, cmd.head_iin, cmd.head_name or "", cmd.head_from or today)
    session.flush()
    event = participant_event(session, row, today)
    audit(session, actor, "update" if existing else "create", "participant", participant_id,
          before, event.model_dump(mode="json"))
    return event


def _set_head(session: Session, participant_id: str, iin: str, name: str, since: date) -> None:
    """A new head closes the current term the day before; the same head only updates the name."""
    current = session.exec(select(HeadTermRow).where(HeadTermRow.participant_id == participant_id,
                                                     col(HeadTermRow.valid_to).is_(None))).first()
    if current is not None and current.iin == iin:
        current.full_name = name or current.full_name
        session.add(current)
        return
    if current is not None:
        if since <= current.valid_from:
            raise RegistryError("HEAD_DATE_INVALID", "a new head must take office after the current one",
                                "новый руководитель должен вступить в должность после текущего",
                                "жаңа басшы қазіргі басшыдан кейін тағайындалуы керек")
        current.valid_to = since - timedelta(days=1)
        session.add(current)
    session.add(HeadTermRow(participant_id=participant_id, iin=iin, full_name=name, valid_from=since))


def close_participant(session: Session, participant_id: str, active_to: date, actor: str,
                      today: date | None = None) -> ParticipantUpserted:
    """Close a participant: `active_to` is its last day. A later date leaves it active until that
    day has passed; the registry publishes it again, inactive, the day after (`take_effect`)."""
    today = today or domain.today()
    row = participant_row(session, participant_id)
    if row.active_to is not None:
        raise RegistryError("ALREADY_CLOSED", f"{participant_id} is already closed (last day {row.active_to})",
                            f"{participant_id} уже закрыт (последний день {row.active_to})",
                            f"{participant_id} жабылып қойған (соңғы күні {row.active_to})")
    if _answering_after(session, participant_id, active_to):
        raise RegistryError("HAS_ACTIVE_CHILDREN", f"{participant_id} still has active subordinates after {active_to}",
                            f"у {participant_id} есть действующие подведомственные после {active_to}",
                            f"{participant_id} қарамағында {active_to} кейін жұмыс істейтіндер бар")
    before = _snapshot(session, row)
    row.active_to = active_to
    row.due_on = domain.next_change(active_to, parents_of(session, participant_id), today)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    event = participant_event(session, row, today)
    audit(session, actor, "close", "participant", participant_id, before, event.model_dump(mode="json"))
    return event


def _answering_after(session: Session, participant_id: str, closing_on: date) -> bool:
    """Does any subordinate still answer to the participant, and stay open, after `closing_on`?
    Those under it today and those a dated move brings in or takes away are all weighed by their
    history: a school moved away from the day after the close date lets its district close."""
    ids = set(session.exec(select(Participant.participant_id).where(Participant.parent_id == participant_id)).all())
    ids |= set(session.exec(select(ParentTermRow.participant_id)
                            .where(ParentTermRow.parent_id == participant_id)).all())
    rows = {r.participant_id: r for r in session.exec(select(Participant).where(col(Participant.participant_id)
                                                                                .in_(sorted(ids))))}
    history = parents_by_participant(session, sorted(ids))
    return any(domain.answers_after(r.active_to, history.get(pid, []), r.parent_id, participant_id, closing_on)
               for pid, r in rows.items())


def parent_has_history(participant_id: str) -> RegistryError:
    return RegistryError("PARENT_HISTORY",
                         f"{participant_id} has moved before; its parent changes only by a move with its date",
                         f"{participant_id} уже переводился; вышестоящий меняется только переводом с датой",
                         f"{participant_id} бұрын ауыстырылған; жоғары тұрған тек күні көрсетілген ауыстырумен өзгереді")


def move_participant(session: Session, participant_id: str, new_parent_id: str, on: date, actor: str,
                     today: date | None = None) -> ParticipantUpserted:
    """A school moved to another district, a district merged into another: from `on` the
    participant answers to `new_parent_id`. The current term ends the day before; the event's
    `parent_id` is the parent in force today, and a move with a later date is published again on
    its day (`take_effect`)."""
    today = today or domain.today()
    row = participant_row(session, participant_id)
    if row.active_to is not None:
        raise RegistryError("PARTICIPANT_CLOSED", f"{participant_id} is closed (last day {row.active_to}); it moves nowhere",
                            f"{participant_id} закрыт (последний день {row.active_to}); перевод невозможен",
                            f"{participant_id} жабылған (соңғы күні {row.active_to}); ауыстыру мүмкін емес")
    parent = session.get(Participant, new_parent_id)
    if parent is None or parent.active_to is not None or (parent.active_from is not None and parent.active_from > on):
        raise RegistryError("PARENT_UNKNOWN", f"unknown or closed parent {new_parent_id} (or not yet open on {on})",
                            f"неизвестный или закрытый вышестоящий участник {new_parent_id} (или не открыт на {on})",
                            f"белгісіз немесе жабылған жоғары тұрған қатысушы {new_parent_id} ({on} ашылмаған)")
    if participant_id in access.chain(session, new_parent_id):
        raise RegistryError("MOVE_CYCLE", f"{new_parent_id} is {participant_id} or one of its subordinates",
                            f"{new_parent_id} — это {participant_id} или его подведомственный",
                            f"{new_parent_id} — {participant_id} өзі немесе оның қарамағындағы")
    check_placement(Level(row.level), row.kind, Level(parent.level))
    before = _snapshot(session, row)
    history = domain.moved(parents_of(session, participant_id), row.parent_id or "", row.active_from,
                           new_parent_id, on)
    for old in session.exec(select(ParentTermRow).where(ParentTermRow.participant_id == participant_id)):
        session.delete(old)
    for term in history:
        session.add(ParentTermRow(participant_id=participant_id, parent_id=term.parent_id,
                                  valid_from=term.valid_from, valid_to=term.valid_to))
    row.parent_id = domain.parent_today(history, row.parent_id, today)
    row.due_on = domain.next_change(row.active_to, history, today)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    event = participant_event(session, row, today)
    audit(session, actor, "move", "participant", participant_id, before, event.model_dump(mode="json"))
    return event


def due_participants(session: Session, today: date, limit: int = 200) -> list[str]:
    """Participants whose event changes by the calendar on or before `today` (a close date passed,
    a move took effect) and that were not published since."""
    q = select(Participant.participant_id).where(col(Participant.due_on).is_not(None), col(Participant.due_on) <= today)
    return list(session.exec(q.order_by(col(Participant.due_on)).limit(limit)).all())


def take_effect(session: Session, participant_id: str, today: date, actor: str) -> ParticipantUpserted | None:
    """Bring one due participant in line with `today` (its parent in force) and return the event
    to publish again, or None when another replica (or an earlier run) already did. The claim is
    one conditional UPDATE on the `due_on` read: under READ COMMITTED the second writer waits,
    re-reads the row, finds `due_on` moved on and updates nothing."""
    row = session.get(Participant, participant_id)
    if row is None or row.due_on is None or row.due_on > today:
        return None
    history = parents_of(session, participant_id)
    before = _snapshot_on(session, row, row.due_on - timedelta(days=1))
    claimed = session.exec(update(Participant).where(
        col(Participant.participant_id) == participant_id, col(Participant.due_on) == row.due_on,
    ).values(due_on=domain.next_change(row.active_to, history, today),
             parent_id=domain.parent_today(history, row.parent_id, today), updated_at=utcnow()))
    if claimed.rowcount != 1:
        return None
    session.refresh(row)
    event = participant_event(session, row, today)
    audit(session, actor, "in-force", "participant", participant_id, before, event.model_dump(mode="json"))
    return event


def _snapshot_on(session: Session, p: Participant, day: date) -> dict:
    return participant_event(session, p, day).model_dump(mode="json")


def head_on(session: Session, participant_id: str, day: date) -> HeadTerm | None:
    row = participant_row(session, participant_id)
    return participant_event(session, row).head_on(day)


# --- staff --------------------------------------------------------------------------------


def name_staff(session: Session, participant_id: str, iin: str, cmd: staff.StaffCommand, actor: str,
               day: date | None = None, test_mode: bool = False) -> tuple[StaffMember, ParticipantUpserted]:
    """The head names a person to a role (or corrects or changes the role): their term as it now
    stands and the participant's event."""
    day = day or domain.today()
    _check_iin(iin, test_mode)
    row = participant_row(session, participant_id)
    if row.active_to is not None:
        raise RegistryError("PARTICIPANT_CLOSED", f"{participant_id} is closed; it names no staff",
                            f"{participant_id} закрыт; штат не назначается",
                            f"{participant_id} жабылған; штат тағайындалмайды")
    check_staff_role(cmd.role, Level(row.level))
    before = staff.terms_of(session, participant_id, iin)
    after = staff.with_term(before, iin, cmd, day)
    others = {t.iin for t in staff.current(staff.terms_of(session, participant_id), day) if t.iin != iin}
    if len(others) + 1 > staff.STAFF_LIMIT:
        raise RegistryError("STAFF_LIMIT", f"{participant_id} already has {len(others)} people on staff",
                            f"в штате {participant_id} уже {len(others)} человек",
                            f"{participant_id} штатында {len(others)} адам бар")
    return after[-1], _store_staff(session, row, iin, before, after, "name", actor, day)


def end_staff(session: Session, participant_id: str, iin: str, actor: str, day: date | None = None,
              test_mode: bool = False) -> tuple[StaffMember, StaffMember | None, ParticipantUpserted]:
    """The head ends a person's role: the term as it was, as it now stands (None when withdrawn
    before it was ever in force), and the participant's event."""
    day = day or domain.today()
    _check_iin(iin, test_mode)
    row = participant_row(session, participant_id)
    before = staff.terms_of(session, participant_id, iin)
    after = staff.without_term(before, participant_id, iin, day)
    ended = after[-1] if len(after) == len(before) else None
    return before[-1], ended, _store_staff(session, row, iin, before, after, "end", actor, day)


def _store_staff(session: Session, row: Participant, iin: str, before: list[StaffMember],
                 after: list[StaffMember], action: str, actor: str, day: date) -> ParticipantUpserted:
    staff.replace_terms(session, row.participant_id, iin, after)
    session.flush()
    audit(session, actor, action, "staff", row.participant_id,
          {"iin": iin, "terms": [t.model_dump(mode="json") for t in before]},
          {"iin": iin, "terms": [t.model_dump(mode="json") for t in after]})
    return participant_event(session, row, day)


def _check_iin(iin: str, test_mode: bool) -> None:
    if code := identifiers.check(iin, "IIN", test_mode):
        raise RegistryError(code, f"IIN {iin} is not 12 digits with a valid control digit",
                            f"ИИН {iin}: нужно 12 цифр с верным контрольным разрядом",
                            f"ЖСН {iin}: бақылау разряды дұрыс 12 цифр қажет")


# --- lists of forms -----------------------------------------------------------------------


def create_formlist(session: Session, year: int, forms: list[FormDefinition], actor: str = "system") -> FormList:
    """A new draft version of the year's list (amending an approved list starts here too)."""
    last = session.exec(select(FormList).where(FormList.year == year)
                        .order_by(col(FormList.version).desc())).first()
    if last is not None and last.status == "draft":
        raise RegistryError("DRAFT_EXISTS", f"version {last.version} of {year} is still a draft",
                            f"версия {last.version} на {year} год ещё черновик",
                            f"{year} жылғы {last.version} нұсқасы әлі жоба")
    codes = check_forms(forms)
    row = FormList(year=year, version=(last.version + 1) if last else 1, forms_json=forms_json(forms))
    session.add(row)
    audit(session, actor, "create", "formlist", f"{year}/{row.version}", None, {"forms": codes})
    return row


def formlist_row(session: Session, year: int, version: int) -> FormList:
    row = session.get(FormList, (year, version))
    if row is None:
        raise RegistryError("FORMLIST_UNKNOWN", f"no list of forms {year} v{version}",
                            f"нет перечня форм {year} v{version}", f"{year} v{version} нысандар тізбесі жоқ")
    return row


def edit_formlist(session: Session, year: int, version: int, forms: list[FormDefinition], actor: str) -> FormList:
    """Replace a draft's forms; an approved list refuses (FORMLIST_IMMUTABLE)."""
    row = formlist_row(session, year, version)
    if row.status != "draft":
        raise RegistryError("FORMLIST_IMMUTABLE", f"list {year} v{version} is {row.status} and cannot change",
                            f"перечень {year} v{version} утверждён и не изменяется",
                            f"{year} v{version} тізбесі бекітілген, өзгермейді")
    codes = check_forms(forms)
    row.forms_json = forms_json(forms)
    session.add(row)
    audit(session, actor, "edit", "formlist", f"{year}/{version}", None, {"forms": codes})
    return row



_FORM_CODE = re.compile(FORM_CODE_PATTERN.removeprefix("^").removesuffix("$"), re.ASCII)


def check_forms(forms: list[FormDefinition]) -> list[str]:
    """The codes of a list's forms, each canonical (the form routes accept no other) and once."""
    codes = [f.code for f in forms]
    for code in codes:
        if not _FORM_CODE.fullmatch(code):
            shown = code[:40]
            raise RegistryError("FORM_CODE_INVALID",
                                f"form code {shown!r}: capital Latin letters, digits and hyphens, up to 32",
                                f"код формы {shown!r}: заглавные латинские буквы, цифры и дефис, до 32 знаков",
                                f"{shown!r} нысан коды: бас латын әріптері, сандар және дефис, 32 таңбаға дейін")
    if len(codes) != len(set(codes)):
        raise RegistryError("FORM_CODE_REPEATED", "each form code appears once in a list",
                            "код формы должен встречаться в перечне один раз",
                            "нысан коды тізбеде бір рет кездесуі тиіс")
    check_rules(forms)
    return codes


def check_rules(forms: list[FormDefinition]) -> None:
    """Every rule of every form parses and type-checks against its form's cells (and a rule in the
    language carries its kk and ru messages), so a bad rule never reaches a submission. Refused:
    422 under the first problem's code (RULE_SYNTAX, RULE_UNKNOWN_CELL, RULE_TYPE, …), its form,
    rule, line and column in the messages, and every problem listed in `rules`."""
    problems: list[RuleError] = []
    for form in forms:
        try:
            check_form(form, require_translations=True)
        except RuleErrors as exc:
            problems += exc.errors
    if problems:
        first = problems[0]
        more = len(problems) - 1
        tails = ((f" (and {more} more)", f" (и ещё {more})", f" (тағы {more})") if more else ("", "", ""))
        raise RegistryError(first.code, first.describe("en") + tails[0], first.describe("ru") + tails[1],
                            first.describe("kk") + tails[2], rules=[p.as_dict() for p in problems])


def forms_json(forms: list[FormDefinition]) -> str:
    return json.dumps([f.model_dump(mode="json") for f in forms], ensure_ascii=False)


def approve_formlist(session: Session, year: int, version: int, order_no: str, order_date: date,
                     signatory: str | None = None, actor: str = "system") -> FormListApproved:
    row = formlist_row(session, year, version)
    if row.status != "draft":
        raise RegistryError("FORMLIST_IMMUTABLE",
                            f"list {year} v{version} is {row.status}; amend it by a new version under a new order",
                            f"перечень {year} v{version} уже утверждён; изменения — новой версией по новому приказу",
                            f"{year} v{version} тізбесі бекітілген; өзгерту тек жаңа бұйрықпен жаңа нұсқа арқылы")
    superseded = None
    for older in session.exec(select(FormList).where(FormList.year == year, FormList.status == "approved")):
        older.status = "superseded"
        superseded = older.version
        session.add(older)
    row.status, row.order_no, row.order_date, row.signatory = "approved", order_no, order_date, signatory
    row.approved_at, row.approved_by, row.supersedes_version = utcnow(), actor, superseded
    session.add(row)
    forms = [FormDefinition.model_validate(f) for f in json.loads(row.forms_json)]
    audit(session, actor, "approve", "formlist", f"{year}/{version}", {"status": "draft"},
          {"status": "approved", "order_no": order_no, "order_date": order_date, "supersedes": superseded})
    return FormListApproved(year=year, version=version, order_no=order_no, order_date=order_date, forms=forms,
                            signatory=signatory, supersedes_version=superseded)


def formlist_view(row: FormList, previous: FormList | None = None) -> dict:
    forms = json.loads(row.forms_json)
    out = {"year": row.year, "version": row.version, "status": row.status, "order_no": row.order_no,
           "order_date": row.order_date, "signatory": row.signatory, "supersedes_version": row.supersedes_version,
           "approved_at": row.approved_at, "forms": forms}
    if previous is not None:
        out["diff"] = forms_diff(json.loads(previous.forms_json), forms)
    return out


def current_forms(session: Session, year: int) -> list[FormDefinition]:
    row = session.exec(select(FormList).where(FormList.year == year, FormList.status == "approved")).first()
    return [FormDefinition.model_validate(f) for f in json.loads(row.forms_json)] if row else []


def formlist_versions(session: Session, year: int, drafts: bool) -> list[dict]:
    """The year's versions, each with its diff against the one before; drafts only when asked
    (a draft is always the newest version, so leaving it out leaves no gap in the diffs)."""
    q = select(FormList).where(FormList.year == year)
    if not drafts:
        q = q.where(FormList.status != "draft")
    rows = session.exec(q.order_by(col(FormList.version))).all()
    return [formlist_view(r, rows[i - 1] if i else None) for i, r in enumerate(rows)]


def approved_formlist(session: Session, year: int, version: int) -> FormListApproved:
    """An approved (or since superseded) version, as distributed; a draft is not distributed."""
    row = session.get(FormList, (year, version))
    if row is None or row.status == "draft":
        raise RegistryError("FORMLIST_UNKNOWN", f"no approved list {year} v{version}",
                            f"нет утверждённого перечня {year} v{version}", f"{year} v{version} бекітілген тізбе жоқ")
    return FormListApproved(year=row.year, version=row.version, order_no=row.order_no or "",
                            order_date=row.order_date, signatory=row.signatory,
                            supersedes_version=row.supersedes_version,
                            forms=[FormDefinition.model_validate(f) for f in json.loads(row.forms_json)])


def form_on_list(session: Session, code: str, year: int) -> FormDefinition:
    for form in current_forms(session, year):
        if form.code == code:
            return form
    raise RegistryError("FORM_UNKNOWN", f"form {code} is not on the approved list of {year}",
                        f"формы {code} нет в утверждённом перечне на {year}", f"{code} нысаны {year} тізбесінде жоқ")


# --- bulk ---------------------------------------------------------------------------------


def all_participants(session: Session) -> dict[str, ParticipantUpserted]:
    """Every participant as its event, heads and staff loaded in one query each (20,000 rows in
    seconds)."""
    heads: dict[str, list[HeadTerm]] = {}
    for r in session.exec(select(HeadTermRow).order_by(col(HeadTermRow.valid_from), col(HeadTermRow.id))):
        heads.setdefault(r.participant_id, []).append(
            HeadTerm(iin=r.iin, full_name=r.full_name, valid_from=r.valid_from, valid_to=r.valid_to))
    terms = staff.terms_by_participant(session)
    parents = parents_by_participant(session)
    today = domain.today()
    return {p.participant_id: to_event(p, heads.get(p.participant_id, []), today,
                                       terms.get(p.participant_id, []), parents.get(p.participant_id))
            for p in session.exec(select(Participant))}


def store_participant(session: Session, event: ParticipantUpserted, before: ParticipantUpserted | None,
                      actor: str) -> None:
    """Write a participant whose invariants were already checked as a whole (an import plan)."""
    row = session.get(Participant, event.participant_id) if before else None
    row = row or Participant(participant_id=event.participant_id, bin=event.bin, level=event.level.value,
                             kind=event.kind, name_kk=event.name_kk, name_ru=event.name_ru)
    row.kind, row.parent_id, row.name_kk, row.name_ru = event.kind, event.parent_id, event.name_kk, event.name_ru
    row.kato, row.active_from, row.active_to, row.updated_at = event.kato, event.active_from, event.active_to, utcnow()
    row.due_on = domain.next_change(event.active_to, list(event.parents), domain.today())
    session.add(row)
    if before is None or before.heads != event.heads:
        if before is not None:  # a new participant has no terms to replace: skip the query (and its autoflush)
            for old in session.exec(select(HeadTermRow).where(HeadTermRow.participant_id == event.participant_id)):
                session.delete(old)
        for h in event.heads:
            session.add(HeadTermRow(participant_id=event.participant_id, iin=h.iin, full_name=h.full_name,
                                    valid_from=h.valid_from, valid_to=h.valid_to))
    audit(session, actor, "import-update" if before else "import-create", "participant", event.participant_id,
          before.model_dump(mode="json") if before else None, event.model_dump(mode="json"))

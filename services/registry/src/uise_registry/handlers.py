"""Registry commands: each takes a session and returns the events it emits."""

from __future__ import annotations

import json
from datetime import date

from sqlmodel import Session, select
from uise_common.db import utcnow
from uise_contracts.events import FormDefinition, FormListApproved, Level, ParticipantUpserted

from uise_registry.adapters import FormList, Participant
from uise_registry.domain import RegistryError, check_placement


def upsert_participant(session: Session, data: ParticipantUpserted) -> ParticipantUpserted:
    parent_level = None
    if data.parent_id is not None:
        parent = session.get(Participant, data.parent_id)
        if parent is None:
            raise RegistryError("PARENT_UNKNOWN", f"unknown parent {data.parent_id}",
                                f"неизвестный вышестоящий участник {data.parent_id}",
                                f"белгісіз жоғары тұрған қатысушы {data.parent_id}")
        parent_level = Level(parent.level)
    check_placement(data.level, data.kind, parent_level)
    row = session.get(Participant, data.participant_id) or Participant(
        participant_id=data.participant_id, bin=data.bin, level=data.level, kind=data.kind,
        name_kk=data.name_kk, name_ru=data.name_ru)
    for k, v in data.model_dump().items():
        if k in Participant.model_fields:
            setattr(row, k, v.value if isinstance(v, Level) else v)
    row.updated_at = utcnow()
    session.add(row)
    return data


def create_formlist(session: Session, year: int, forms: list[FormDefinition]) -> FormList:
    """A new draft version of the year's list (amending an approved list starts here too)."""
    last = session.exec(select(FormList).where(FormList.year == year)
                        .order_by(FormList.version.desc())).first()
    if last is not None and last.status == "draft":
        raise RegistryError("DRAFT_EXISTS", f"version {last.version} of {year} is still a draft",
                            f"версия {last.version} на {year} год ещё черновик",
                            f"{year} жылғы {last.version} нұсқасы әлі жоба")
    row = FormList(year=year, version=(last.version + 1) if last else 1,
                   forms_json=json.dumps([f.model_dump(mode="json") for f in forms]))
    session.add(row)
    return row


def approve_formlist(session: Session, year: int, version: int, order_no: str, order_date: date) -> FormListApproved:
    row = session.get(FormList, (year, version))
    if row is None:
        raise RegistryError("FORMLIST_UNKNOWN", f"no list of forms {year} v{version}",
                            f"нет перечня форм {year} v{version}", f"{year} v{version} нысандар тізбесі жоқ")
    if row.status != "draft":
        raise RegistryError("FORMLIST_IMMUTABLE",
                            f"list {year} v{version} is {row.status}; amend it by a new version",
                            f"перечень {year} v{version} уже утверждён; изменения — новой версией по приказу",
                            f"{year} v{version} тізбесі бекітілген; өзгерту тек жаңа нұсқамен")
    for older in session.exec(select(FormList).where(FormList.year == year, FormList.status == "approved")):
        older.status = "superseded"
        session.add(older)
    row.status, row.order_no, row.order_date, row.approved_at = "approved", order_no, order_date, utcnow()
    session.add(row)
    forms = [FormDefinition.model_validate(f) for f in json.loads(row.forms_json)]
    return FormListApproved(year=year, version=version, order_no=order_no, order_date=order_date, forms=forms)

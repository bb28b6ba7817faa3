"""A registry name of 2 MB (issue 14): the participant's PUT, the staff PUT and the import refuse
it with a 422 and its reason code (an import's name over NAME_MAX but small enough to read is its
row's TEXT_INVALID), and a list of forms whose event
would pass the broker's limit is refused at approval (EVENT_TOO_LARGE); nothing of it reaches
the outbox, and the registry's relay, with a real producer on the tansu broker, goes on
publishing the changes made after."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from sqlmodel import Session, select

from uise_common.auth import DATA_OFFICE
from uise_common.broker import ensure_topics
from uise_common.db import migrate
from uise_common.inputs import NAME_MAX
from uise_common.outbox import OutboxRow
from uise_common.service import ServiceRuntime, with_common
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer, tansu_in_memory
from uise_contracts.events import FormListApproved, ParticipantUpserted
from uise_contracts.examples import SCHOOL_FORM
from uise_contracts.topics import topic_for
from uise_registry.adapters import MIGRATIONS
from uise_registry.demo import DISTRICT, SCHOOLS, demo_participants
from uise_registry.entrypoint import SPEC
from uise_registry.identifiers import make_valid

pytestmark = pytest.mark.integration
TWO_MB = "Ә" * (1024 * 1024)  # two bytes a character in UTF-8
SCHOOL = next(iter(SCHOOLS))
NEW_SCHOOL = make_valid("22044000009")
AIGUL = make_valid("90020240002")


@pytest.fixture(scope="module")
def kafka() -> Iterator[str]:
    with tansu_in_memory() as bootstrap:
        yield bootstrap


def school(bin_: str, name_ru: str) -> dict:
    return {"bin": bin_, "level": "organization", "kind": "school", "parent_id": DISTRICT,
            "name_kk": "Мектеп", "name_ru": name_ru}


def outbox(rt: ServiceRuntime) -> list[OutboxRow]:
    with Session(rt.engine) as s:
        return list(s.exec(select(OutboxRow).order_by(OutboxRow.id)))


async def published(bootstrap: str, topic: str, key: str, timeout: float = 30) -> list[ParticipantUpserted]:
    c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await c.start()
    out: list[ParticipantUpserted] = []
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not out and loop.time() < end:
            for records in (await c.getmany(timeout_ms=500)).values():
                out += [ParticipantUpserted.model_validate_json(r.value) for r in records if r.key.decode() == key]
    finally:
        await c.stop()
    return out


async def test_a_2_mb_name_is_refused_with_a_reason_code_and_the_registry_outbox_goes_on(tmp_path, kafka):
    rt = ServiceRuntime(SPEC, Settings(service_name="registry", data_dir=tmp_path, kafka_bootstrap=kafka))
    migrate(rt.engine, with_common(MIGRATIONS))
    issuer = TokenIssuer()
    rt.authenticator = issuer.authenticator()
    office = issuer.headers(DATA_OFFICE, subject="iin:870101400015")
    await ensure_topics(kafka, (topic_for(ParticipantUpserted), topic_for(FormListApproved)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rt.app()), base_url="http://registry",
                                 timeout=60) as c:  # no lifespan: the test runs the relay itself
        for p in demo_participants():
            body = {k: v for k, v in p.items() if k != "participant_id"}
            assert (await c.put(f"/v1/participants/{p['participant_id']}", json=body, headers=office)).status_code == 200
        before = len(outbox(rt))

        refused = await c.put(f"/v1/participants/{NEW_SCHOOL}", json=school(NEW_SCHOOL, TWO_MB), headers=office)
        assert refused.status_code == 422, refused.text[:300]
        assert refused.json()["error"]["code"] == "REQUEST_INVALID"
        assert [f["field"] for f in refused.json()["error"]["fields"]] == ["name_ru"]

        staff = await c.put(f"/v1/participants/{SCHOOL}/staff/{AIGUL}", headers=office,
                            json={"full_name": TWO_MB, "role": "accountant"})
        assert staff.status_code == 422 and staff.json()["error"]["code"] == "REQUEST_INVALID"

        def csv(name: str) -> bytes:
            return f"bin,level,kind,parent_bin,name_kk,name_ru\n{NEW_SCHOOL},organization,school,{DISTRICT},М,{name}\n".encode()

        imported = await c.post("/v1/participants/import", params={"dry_run": "false"}, headers=office,
                                files={"file": ("p.csv", csv(TWO_MB))})
        assert imported.status_code == 422 and imported.json()["error"]["code"] == "FILE_UNREADABLE"  # a field over 128 KiB
        imported = await c.post("/v1/participants/import", params={"dry_run": "false"}, headers=office,
                                files={"file": ("p.csv", csv("Ә" * (NAME_MAX + 1)))})
        assert [r["code"] for r in imported.json()["rejected"]] == ["TEXT_INVALID"]
        assert imported.json()["summary"]["imported"] == 0

        # a form's title is the data office's text, with no cap of its own: its list's event would
        # be larger than the broker takes, so the approval is refused and nothing is approved
        huge = SCHOOL_FORM.model_copy(update={"title_ru": TWO_MB})
        assert (await c.post("/v1/formlists", json={"year": 2026, "forms": [huge.model_dump(mode="json")]},
                             headers=office)).status_code == 201
        approval = await c.post("/v1/formlists/2026/1/approve", json={"order_no": "1", "order_date": "2026-01-15"},
                                headers=office)
        assert approval.status_code == 422 and approval.json()["error"]["code"] == "EVENT_TOO_LARGE"
        assert approval.json()["error"]["limit"] < 1024 * 1024

        assert len(outbox(rt)) == before  # none of it reached the outbox
        good = await c.put(f"/v1/participants/{NEW_SCHOOL}", json=school(NEW_SCHOOL, "Школа №9"), headers=office)
        assert good.status_code == 200

    await rt.broker.start()
    try:
        assert await rt.relay.flush() == before + 1
    finally:
        await rt.broker.stop()
    rows = outbox(rt)
    assert all(r.sent_at is not None and r.set_aside_at is None for r in rows)
    assert max(len(r.body.encode()) for r in rows) < 64 * 1024
    events = await published(kafka, topic_for(ParticipantUpserted).name, NEW_SCHOOL)
    assert [e.name_ru for e in events] == ["Школа №9"]
    assert json.loads(rows[-1].body)["participant_id"] == NEW_SCHOOL

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from uise_common.consumer import NotYetKnown
from uise_common.objectstore import sha256_hex
from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import Level, ParticipantUpserted, StoredObject, SubmissionReceived
from uise_signature.adapters import MIGRATIONS
from uise_signature.cms import TrustStore, sign
from uise_signature.handlers import make_on_received, on_participant
from uise_signature.testca import TestCA

BIN, IIN = "220440000013", "800101300011"


def stored(data: bytes, kind: str) -> StoredObject:
    return StoredObject(key=f"{kind}/{sha256_hex(data)}", sha256=sha256_hex(data), size=len(data), media_type="application/json")


def test_received_is_checked_once_and_needs_the_participant(tmp_path):
    engine = migrated_sqlite(tmp_path, MIGRATIONS)
    ca = TestCA.create()
    key, cert = ca.issue(iin=IIN, name="Head", bin_=BIN)
    doc = b'{"pupils_total": 1}'
    sig = sign(doc, key, cert)
    d, s = stored(doc, "documents"), stored(sig, "signatures")
    blobs = {d.key: doc, s.key: sig}
    handler = make_on_received(lambda o: blobs[o.key], lambda: TrustStore([ca.cert]))
    event = SubmissionReceived(submission_id="sub-1", participant_id=BIN, form_code="SCH-1", period="2026",
                               document=d, signature=s, delivered_at=datetime.now(UTC))
    with pytest.raises(NotYetKnown):
        run_handler(engine, handler, event)
    run_handler(engine, on_participant, ParticipantUpserted(
        participant_id=BIN, bin=BIN, level=Level.organization, kind="school", parent_id="210340000012",
        name_kk="m", name_ru="ш", head_iin=IIN))
    [checked] = run_handler(engine, handler, event)
    assert checked.ok and checked.signer.iin == IIN
    assert run_handler(engine, handler, event) == []  # decided already


def test_head_changed_in_registry_means_head_mismatch(tmp_path):
    engine = migrated_sqlite(tmp_path, MIGRATIONS)
    ca = TestCA.create()
    key, cert = ca.issue(iin=IIN, name="Old head", bin_=BIN)
    doc = b'{"pupils_total": 1}'
    sig = sign(doc, key, cert)
    blobs = {stored(doc, "d").key: doc, stored(sig, "s").key: sig}
    run_handler(engine, on_participant, ParticipantUpserted(
        participant_id=BIN, bin=BIN, level=Level.organization, kind="school", parent_id="210340000012",
        name_kk="m", name_ru="ш", head_iin="900101300044"))
    handler = make_on_received(lambda o: blobs[o.key], lambda: TrustStore([ca.cert]))
    [checked] = run_handler(engine, handler, SubmissionReceived(
        submission_id="sub-2", participant_id=BIN, form_code="SCH-1", period="2026",
        document=stored(doc, "d"), signature=stored(sig, "s"), delivered_at=datetime.now(UTC)))
    assert (checked.ok, checked.reason_code) == (False, "HEAD_MISMATCH")

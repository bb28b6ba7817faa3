from __future__ import annotations

from datetime import UTC, datetime

import pytest

from uise_common.consumer import NotYetKnown
from uise_common.objectstore import sha256_hex
from uise_common.pki.cms import TrustStore, sign
from uise_common.pki.testca import TestCA
from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import Level, ParticipantUpserted, StoredObject, SubmissionReceived
from uise_signature.adapters import MIGRATIONS
from uise_signature.handlers import make_on_received, on_participant

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


def test_the_head_is_the_one_in_office_on_the_delivery_date_not_the_claimed_signing_day(tmp_path):
    """The head changed between the signingTime the signer wrote and the delivery: the delivery
    date decides (in Almaty: 19:30 UTC on the 26th is already the 27th there)."""
    from datetime import date

    from uise_contracts.events import HeadTerm

    engine = migrated_sqlite(tmp_path, MIGRATIONS)
    ca = TestCA.create(valid_from=datetime(2020, 1, 1, tzinfo=UTC), valid_days=30 * 365)
    issued = datetime(2026, 1, 1, tzinfo=UTC)
    old_key, old_cert = ca.issue(iin=IIN, name="Former head", bin_=BIN, valid_from=issued)
    new_iin = "900101300044"
    new_key, new_cert = ca.issue(iin=new_iin, name="New head", bin_=BIN, valid_from=issued)
    run_handler(engine, on_participant, ParticipantUpserted(
        participant_id=BIN, bin=BIN, level=Level.organization, kind="school", parent_id="210340000012",
        name_kk="m", name_ru="ш", head_iin=new_iin, heads=[
            HeadTerm(iin=IIN, full_name="Former head", valid_from=date(2015, 9, 1), valid_to=date(2026, 11, 26)),
            HeadTerm(iin=new_iin, full_name="New head", valid_from=date(2026, 11, 27)),
        ]))
    doc = b'{"pupils_total": 1}'
    blobs: dict[str, bytes] = {}
    signed_at = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)  # the old head's term, as the signer claims
    on_26th = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # 17:00 in Almaty, the old head's last day
    on_27th_in_almaty = datetime(2026, 11, 26, 19, 30, tzinfo=UTC)  # 00:30 on the 27th in Almaty

    def received(sid: str, key, cert, delivered: datetime) -> SubmissionReceived:
        sig = sign(doc, key, cert, signing_time=signed_at)
        d, s = stored(doc, "d"), stored(sig, f"s{sid}")
        blobs.update({d.key: doc, s.key: sig})
        return SubmissionReceived(submission_id=sid, participant_id=BIN, form_code="SCH-1", period="2026",
                                  document=d, signature=s, delivered_at=delivered)

    handler = make_on_received(lambda o: blobs[o.key], lambda: TrustStore([ca.cert]))
    outcomes = {
        "old head, delivered in his term": run_handler(engine, handler, received("a", old_key, old_cert, on_26th))[0],
        "old head, delivered after it": run_handler(engine, handler, received("b", old_key, old_cert, on_27th_in_almaty))[0],
        "new head, delivered in his term": run_handler(engine, handler, received("c", new_key, new_cert, on_27th_in_almaty))[0],
        "new head, delivered before it": run_handler(engine, handler, received("d", new_key, new_cert, on_26th))[0],
    }
    assert {k: (v.ok, v.reason_code) for k, v in outcomes.items()} == {
        "old head, delivered in his term": (True, None),
        "old head, delivered after it": (False, "HEAD_MISMATCH"),
        "new head, delivered in his term": (True, None),
        "new head, delivered before it": (False, "HEAD_MISMATCH"),
    }
    assert outcomes["old head, delivered in his term"].trusted_time == on_26th
    assert outcomes["old head, delivered in his term"].time_source == "delivery"


def test_a_paper_submission_is_accepted_as_registered_not_verified(tmp_path):
    engine = migrated_sqlite(tmp_path, MIGRATIONS)
    run_handler(engine, on_participant, ParticipantUpserted(
        participant_id=BIN, bin=BIN, level=Level.organization, kind="school", parent_id="210340000012",
        name_kk="m", name_ru="ш", head_iin=IIN))
    scan = b"%PDF-1.7 scan of the signed title page"
    doc = b'{"pupils_total": 1}'

    def never(_obj):
        raise AssertionError("a paper submission's scan is not a CMS to verify")

    handler = make_on_received(never, lambda: TrustStore([]))
    [checked] = run_handler(engine, handler, SubmissionReceived(
        submission_id="paper-1", participant_id=BIN, form_code="SCH-1", period="2026",
        document=stored(doc, "d"), signature=stored(scan, "scans"), signature_detached=False,
        delivered_at=datetime.now(UTC), channel="paper", registered_by="officer@210340000012"))
    assert checked.ok and checked.signer.algorithm == "paper" and "officer@210340000012" in checked.message


def test_a_signer_with_the_right_to_sign_passes_only_where_the_form_allows_it(tmp_path):
    from datetime import date

    from uise_common.pki.oids import EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN
    from uise_contracts.events import FormListApproved
    from uise_contracts.examples import SCHOOL_FORM
    from uise_signature.handlers import on_formlist

    engine = migrated_sqlite(tmp_path, MIGRATIONS)
    ca = TestCA.create()
    run_handler(engine, on_participant, ParticipantUpserted(
        participant_id=BIN, bin=BIN, level=Level.organization, kind="school", parent_id="210340000013",
        name_kk="m", name_ru="ш", head_iin=IIN))
    key, cert = ca.issue(iin="850505400033", name="Deputy", bin_=BIN, eku=(EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN))
    doc = b'{"pupils_total": 1}'
    sig = sign(doc, key, cert)
    blobs = {stored(doc, "d").key: doc, stored(sig, "s").key: sig}
    handler = make_on_received(lambda o: blobs[o.key], lambda: TrustStore([ca.cert]))

    def received(sid: str, form: str) -> SubmissionReceived:
        return SubmissionReceived(submission_id=sid, participant_id=BIN, form_code=form, period="2026",
                                  document=stored(doc, "d"), signature=stored(sig, "s"),
                                  delivered_at=datetime.now(UTC), explanations={"R1": "a class merged in May"})

    with pytest.raises(NotYetKnown):  # the form's policy has not arrived yet
        run_handler(engine, handler, received("a", "SCH-1"))
    lenient = SCHOOL_FORM.model_copy(update={"code": "SCH-L", "signers": "first_head_or_right_to_sign"})
    run_handler(engine, on_formlist, FormListApproved(year=2026, version=1, order_no="1", order_date=date(2026, 1, 15),
                                                      forms=[SCHOOL_FORM, lenient]))
    [strict] = run_handler(engine, handler, received("a", "SCH-1"))
    [allowed] = run_handler(engine, handler, received("b", "SCH-L"))
    assert (strict.ok, strict.reason_code) == (False, "NOT_FIRST_HEAD")
    assert (allowed.ok, allowed.signer.iin) == (True, "850505400033")
    assert allowed.explanations == {"R1": "a class merged in May"}  # carried on to validation

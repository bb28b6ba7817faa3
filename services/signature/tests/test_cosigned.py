"""The signature service on co-signed CMS and the trusted time: every signer verified and listed,
the policy met by one of them, certificates judged at delivery or at a timestamp's genTime."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from asn1crypto import cms as acms
from sqlmodel import Session

from uise_common.objectstore import sha256_hex
from uise_common.pki.cms import TrustStore, cosign, sign
from uise_common.pki.oids import EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN
from uise_common.pki.testca import TestCA
from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import (
    FormListApproved,
    Level,
    ParticipantUpserted,
    StoredObject,
    SubmissionReceived,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_signature.adapters import MIGRATIONS, Verdict
from uise_signature.handlers import make_on_received, on_formlist, on_participant

BIN, HEAD = "220440000013", "800101300011"
DELIVERED = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
DOC = b'{"pupils_total": 810}'


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.create(valid_from=datetime(2020, 1, 1, tzinfo=UTC), valid_days=30 * 365)


@pytest.fixture(scope="module")
def people(ca):
    since = DELIVERED - timedelta(days=200)
    return {
        "director": ca.issue(iin=HEAD, name="Director", bin_=BIN, valid_from=since),
        "accountant": ca.issue(iin="850505400033", name="Chief accountant", bin_=BIN, eku=(EKU_LEGAL_ENTITY,),
                               valid_from=since),
        "deputy": ca.issue(iin="870707400055", name="Deputy", bin_=BIN, eku=(EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN),
                           valid_from=since),
        "former head": ca.issue(iin="700101300099", name="Former head", bin_=BIN, valid_from=since),
    }


class Service:
    """The handler over a SQLite database, with the participant and the forms known."""

    def __init__(self, tmp_path, ca: TestCA, **options) -> None:
        self.engine = migrated_sqlite(tmp_path, MIGRATIONS)
        self.blobs: dict[str, bytes] = {}
        self.handler = make_on_received(lambda o: self.blobs[o.key], lambda: TrustStore([ca.cert]), **options)
        run_handler(self.engine, on_participant, ParticipantUpserted(
            participant_id=BIN, bin=BIN, level=Level.organization, kind="school", parent_id="210340000012",
            name_kk="м", name_ru="ш", head_iin=HEAD))
        run_handler(self.engine, on_formlist, FormListApproved(year=2026, version=1, order_no="1",
                                                               order_date=date(2026, 1, 15), forms=[SCHOOL_FORM]))

    def check(self, signature: bytes, delivered: datetime = DELIVERED, sid: str | None = None):
        sid = sid or sha256_hex(signature)[:12]
        d = StoredObject(key=f"documents/{sha256_hex(DOC)}", sha256=sha256_hex(DOC), size=len(DOC),
                         media_type="application/json")
        s = StoredObject(key=f"signatures/{sha256_hex(signature)}", sha256=sha256_hex(signature), size=len(signature),
                         media_type="application/pkcs7-signature")
        self.blobs.update({d.key: DOC, s.key: signature})
        [checked] = run_handler(self.engine, self.handler, SubmissionReceived(
            submission_id=sid, participant_id=BIN, form_code=SCHOOL_FORM.code, period="2026", document=d,
            signature=s, delivered_at=delivered))
        return checked


def signed(people, *names: str, at: datetime = DELIVERED - timedelta(hours=1)) -> bytes:
    cms = sign(DOC, *people[names[0]], signing_time=at)
    for name in names[1:]:
        cms = cosign(cms, DOC, *people[name], signing_time=at)
    return cms


def test_the_head_among_two_signers_is_accepted_and_both_are_listed(tmp_path, ca, people):
    service = Service(tmp_path, ca)
    checked = service.check(signed(people, "accountant", "director"), sid="co-1")
    assert (checked.ok, checked.reason_code) == (True, None)
    assert (checked.signer.iin, checked.signer.satisfies_policy) == (HEAD, True)
    assert sorted((s.name, s.iin, s.satisfies_policy) for s in checked.signers) == [
        ("Chief accountant", "850505400033", False), ("Director", HEAD, True)]
    assert (checked.trusted_time, checked.time_source) == (DELIVERED, "delivery")
    with Session(service.engine) as session:
        assert session.get(Verdict, "co-1").signer_iin == HEAD


def test_two_signers_neither_of_them_head_is_not_first_head(tmp_path, ca, people):
    checked = Service(tmp_path, ca).check(signed(people, "accountant", "deputy"))
    assert (checked.ok, checked.reason_code) == (False, "NOT_FIRST_HEAD")
    assert "none of the 2 signers" in checked.message
    assert [s.satisfies_policy for s in checked.signers] == [False, False]
    assert checked.signer == checked.signers[0]  # no one satisfied it: the first


def test_the_most_specific_refusal_names_the_closest_signer(tmp_path, ca, people):
    # A first head who is not the registry's head says more than an accountant who is no head.
    checked = Service(tmp_path, ca).check(signed(people, "accountant", "former head"))
    assert (checked.ok, checked.reason_code) == (False, "HEAD_MISMATCH")


def test_a_deputy_cosigning_satisfies_a_form_that_admits_the_right_to_sign(tmp_path, ca, people):
    service = Service(tmp_path, ca)
    lenient = SCHOOL_FORM.model_copy(update={"signers": "first_head_or_right_to_sign"})
    run_handler(service.engine, on_formlist, FormListApproved(year=2026, version=2, order_no="2",
                                                              order_date=date(2026, 2, 1), forms=[lenient]))
    checked = service.check(signed(people, "accountant", "deputy"))
    assert (checked.ok, checked.signer.iin) == (True, "870707400055")


def test_one_broken_signature_of_two_refuses_the_submission(tmp_path, ca, people):
    info = acms.ContentInfo.load(signed(people, "director", "accountant"))
    si = info["content"]["signer_infos"][0]
    value = bytearray(si["signature"].native)
    value[3] ^= 0x80
    si["signature"] = bytes(value)
    checked = Service(tmp_path, ca).check(info.dump(force=True))
    assert (checked.ok, checked.reason_code, checked.signer, checked.signers) == (False, "SIGNATURE_INVALID", None, [])
    assert checked.message.startswith("signer 1 of 2")


def test_signing_times_outside_the_window_are_refused_with_their_own_codes(tmp_path, ca, people):
    service = Service(tmp_path, ca)
    ahead = service.check(signed(people, "director", at=DELIVERED + timedelta(hours=1)))
    assert (ahead.ok, ahead.reason_code) == (False, "SIGNING_TIME_AFTER_DELIVERY")
    old = signed(people, "director", at=DELIVERED - timedelta(days=2))
    assert service.check(old, sid="old-default").ok  # within the default 14 days
    (tmp_path / "strict").mkdir()
    strict = Service(tmp_path / "strict", ca, max_age=timedelta(days=1), clock_skew=timedelta(0))
    assert strict.check(old, sid="old-strict").reason_code == "SIGNING_TIME_TOO_OLD"
    drifted = signed(people, "director", at=DELIVERED + timedelta(minutes=2))
    assert service.check(drifted, sid="drift-default").ok
    assert strict.check(drifted, sid="drift-strict").reason_code == "SIGNING_TIME_AFTER_DELIVERY"


def test_a_timestamp_token_gives_the_trusted_time(tmp_path, ca, people):
    # The director's certificate expired a day before delivery; the TSA saw his signature before.
    key, cert = ca.issue(iin=HEAD, name="Director", bin_=BIN, valid_from=DELIVERED - timedelta(days=60), valid_days=59)
    signature = sign(DOC, key, cert, signing_time=DELIVERED - timedelta(days=3))
    service = Service(tmp_path, ca)
    assert service.check(signature, sid="bare").reason_code == "CERT_EXPIRED"
    tsa = ca.tsa(valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    stamped = service.check(tsa.stamp(signature, DELIVERED - timedelta(days=3) + timedelta(seconds=1)), sid="stamped")
    assert (stamped.ok, stamped.time_source, stamped.trusted_time) == (
        True, "timestamp", DELIVERED - timedelta(days=3) + timedelta(seconds=1))
    forged = service.check(tsa.stamp(signature, DELIVERED - timedelta(days=3), imprint=bytes(32)), sid="forged")
    assert (forged.ok, forged.reason_code) == (False, "TIMESTAMP_INVALID")

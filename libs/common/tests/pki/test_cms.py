"""CMS signing and verification with the project's test CA, and the signer's authority."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms as acms

from uise_common.pki.cms import SignatureError, TrustStore, sign, verify
from uise_common.pki.oids import EKU_INDIVIDUAL, EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN
from uise_common.pki.testca import TestCA
from uise_signature.domain import check_authority

BIN, IIN = "220440000013", "800101300011"
DOC = b'{"pupils_total": 810, "pupils_girls": 412, "pupils_boys": 398}'


@pytest.fixture(scope="module")
def ca() -> TestCA:
    # Valid over every time a test here pins, as well as now.
    return TestCA.create(valid_from=datetime(2020, 1, 1, tzinfo=UTC), valid_days=30 * 365)


@pytest.fixture(scope="module")
def head(ca):
    return ca.issue(iin=IIN, name="Head", bin_=BIN)


@pytest.fixture(scope="module")
def trust(ca) -> TrustStore:
    return TrustStore(anchors=[ca.cert])


def code_of(fn) -> str:
    with pytest.raises(SignatureError) as exc:
        fn()
    return exc.value.code


def test_detached_signature_verifies_and_names_the_signer(head, trust):
    key, cert = head
    info = verify(sign(DOC, key, cert), DOC, trust)
    assert (info.bin, info.iin, info.algorithm) == (BIN, IIN, "sha256WithRSA")
    check_authority(info, BIN, IIN)


def test_attached_signature_verifies_and_must_carry_the_same_bytes(head, trust):
    key, cert = head
    attached = sign(DOC, key, cert, detached=False)
    assert acms.ContentInfo.load(attached)["content"]["encap_content_info"]["content"].native == DOC
    assert verify(attached, DOC, trust).iin == IIN
    assert code_of(lambda: verify(attached, DOC + b" ", trust)) == "CONTENT_MISMATCH"


def test_one_flipped_byte_is_a_content_mismatch(head, trust):
    key, cert = head
    flipped = bytes([DOC[0] ^ 1]) + DOC[1:]
    assert code_of(lambda: verify(sign(DOC, key, cert), flipped, trust)) == "CONTENT_MISMATCH"


def test_a_forged_signature_value_is_invalid(head, trust):
    key, cert = head
    info = acms.ContentInfo.load(sign(DOC, key, cert))
    si = info["content"]["signer_infos"][0]
    sig = bytearray(si["signature"].native)
    sig[10] ^= 0xFF
    si["signature"] = bytes(sig)
    assert code_of(lambda: verify(info.dump(force=True), DOC, trust)) == "SIGNATURE_INVALID"


def test_an_unknown_ca_is_untrusted(head):
    key, cert = head
    assert code_of(lambda: verify(sign(DOC, key, cert), DOC, TrustStore([TestCA.create().cert]))) == "CHAIN_UNTRUSTED"


def test_a_certificate_that_expired_before_delivery_is_refused_though_signed_inside_its_validity(ca, trust):
    delivered = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    key, cert = ca.issue(iin=IIN, name="Head", bin_=BIN, valid_from=delivered - timedelta(days=10), valid_days=5)
    # The signer writes a signingTime inside the validity (8 days before delivery, within the
    # window): the certificate is still judged at the delivery, when it had expired.
    backdated = sign(DOC, key, cert, signing_time=delivered - timedelta(days=8))
    assert code_of(lambda: verify(backdated, DOC, trust, at=delivered)) == "CERT_EXPIRED"
    # Delivered while the certificate was still valid, the same signature passes.
    assert verify(backdated, DOC, trust, at=delivered - timedelta(days=7)).trusted_time == delivered - timedelta(days=7)


def test_a_certificate_valid_only_from_next_year_is_refused_today(ca, trust):
    today = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    next_year = today + timedelta(days=365)
    key, cert = ca.issue(iin=IIN, name="Head", bin_=BIN, valid_from=next_year, valid_days=365)
    # Claiming to sign next year is a signingTime after the delivery ...
    forward = sign(DOC, key, cert, signing_time=next_year + timedelta(days=1))
    assert code_of(lambda: verify(forward, DOC, trust, at=today)) == "SIGNING_TIME_AFTER_DELIVERY"
    # ... and an honest signingTime today meets a certificate that is not valid yet.
    honest = sign(DOC, key, cert, signing_time=today)
    assert code_of(lambda: verify(honest, DOC, trust, at=today)) == "CERT_NOT_YET_VALID"


def test_a_cms_without_the_signers_certificate_is_refused(head, trust):
    key, cert = head
    info = acms.ContentInfo.load(sign(DOC, key, cert))
    info["content"]["certificates"] = []
    assert code_of(lambda: verify(info.dump(force=True), DOC, trust)) == "SIGNER_CERT_MISSING"


def test_garbage_is_malformed(trust):
    assert code_of(lambda: verify(b"\x30\x03\x02\x01\x00", DOC, trust)) == "SIGNATURE_MALFORMED"
    assert code_of(lambda: verify(b"not der at all", DOC, trust)) == "SIGNATURE_MALFORMED"


def test_authority(ca, trust):
    def signer(**kw):
        key, cert = ca.issue(**kw)
        return verify(sign(DOC, key, cert), DOC, trust)

    deputy = signer(iin="850505400033", name="Deputy", bin_=BIN, eku=(EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN))
    person = signer(iin=IIN, name="Person", bin_=None, eku=(EKU_INDIVIDUAL,))
    other_org = signer(iin=IIN, name="Head", bin_="220440000024")
    former_head = signer(iin="700101300099", name="Former head", bin_=BIN)
    assert code_of(lambda: check_authority(deputy, BIN, IIN)) == "NOT_FIRST_HEAD"
    assert code_of(lambda: check_authority(person, BIN, IIN)) == "NOT_ORGANIZATION"
    assert code_of(lambda: check_authority(other_org, BIN, IIN)) == "WRONG_ORGANIZATION"
    assert code_of(lambda: check_authority(former_head, BIN, IIN)) == "HEAD_MISMATCH"


def test_trust_store_reads_pem_and_der_and_counts_a_ca_once(tmp_path, ca):
    from cryptography.hazmat.primitives.serialization import Encoding

    (tmp_path / "ca.pem").write_bytes(ca.cert.public_bytes(Encoding.PEM))
    (tmp_path / "ca.cer").write_bytes(ca.cert.public_bytes(Encoding.DER))
    (tmp_path / "README.md").write_text("not a certificate, and not named like one")
    store = TrustStore.from_dir(tmp_path)
    assert (store.anchors, store.problems) == ([ca.cert], [])

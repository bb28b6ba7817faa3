"""Certificates judged at the trusted time (the delivery, or a valid RFC 3161 timestamp's genTime),
never at the signingTime the signer writes; that signingTime kept within a window of the delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms as acms
from cryptography.hazmat.primitives.serialization import Encoding

from uise_common.pki import oids, pkcs12
from uise_common.pki.cms import (
    SignatureError,
    TrustStore,
    attach_timestamp,
    sign,
    verify,
    verify_all,
)
from uise_common.pki.testca import GostTestCA, TestCA
from uise_common.testing import nca_test_pki

BIN, IIN = "220440000013", "800101300011"
DOC = b'{"pupils_total": 810}'
DELIVERED = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # 14:00 in Almaty
PKI = nca_test_pki()
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


@pytest.fixture(scope="module")
def tsa(ca):
    return ca.tsa(valid_from=datetime(2020, 1, 1, tzinfo=UTC), valid_days=20 * 365)


def code_of(fn) -> str:
    with pytest.raises(SignatureError) as exc:
        fn()
    return exc.value.code


def head(ca, **kw):
    return ca.issue(iin=IIN, name="Head", bin_=BIN, **{"valid_from": DELIVERED - timedelta(days=100), **kw})


# --- signingTime against the delivery ----------------------------------------------------------

def test_a_signing_time_after_delivery_is_refused_beyond_the_clock_skew(ca, trust):
    key, cert = head(ca)
    ahead = sign(DOC, key, cert, signing_time=DELIVERED + timedelta(minutes=6))
    assert code_of(lambda: verify(ahead, DOC, trust, at=DELIVERED)) == "SIGNING_TIME_AFTER_DELIVERY"
    drifted = sign(DOC, key, cert, signing_time=DELIVERED + timedelta(minutes=4))  # a school PC 4 minutes fast
    info = verify(drifted, DOC, trust, at=DELIVERED)
    assert (info.trusted_time, info.time_source) == (DELIVERED, "delivery")
    # The skew is configurable: none at all refuses the drifted clock too.
    assert code_of(lambda: verify(drifted, DOC, trust, at=DELIVERED, clock_skew=timedelta(0))) == \
        "SIGNING_TIME_AFTER_DELIVERY"


def test_a_signing_time_older_than_the_window_is_refused(ca, trust):
    key, cert = head(ca)
    old = sign(DOC, key, cert, signing_time=DELIVERED - timedelta(days=15))
    assert code_of(lambda: verify(old, DOC, trust, at=DELIVERED)) == "SIGNING_TIME_TOO_OLD"
    assert verify(old, DOC, trust, at=DELIVERED, max_age=timedelta(days=20)).signing_time == DELIVERED - timedelta(days=15)
    recent = sign(DOC, key, cert, signing_time=DELIVERED - timedelta(days=13))
    assert verify(recent, DOC, trust, at=DELIVERED).iin == IIN


def test_a_revocation_between_the_claimed_signing_time_and_delivery_refuses(ca, tsa, tmp_path):
    key, cert = head(ca)
    signed_at = DELIVERED - timedelta(days=3)
    signature = sign(DOC, key, cert, signing_time=signed_at)
    revoking = TestCA(ca.key, ca.cert)  # the same CA, with its own revocation list
    revoking.revoke(cert, DELIVERED - timedelta(days=1))
    revoking.publish_crl(tmp_path)
    store = TrustStore.from_dir(tmp_path)
    store.anchors.append(ca.cert)
    # Without proof of the time, "signed before the revocation" is only the signer's word.
    assert code_of(lambda: verify(signature, DOC, store, at=DELIVERED)) == "CERT_REVOKED"
    # A TSA's token from before the revocation is that proof.
    stamped = tsa.stamp(signature, signed_at + timedelta(minutes=1))
    info = verify(stamped, DOC, store, at=DELIVERED)
    assert (info.trusted_time, info.time_source) == (signed_at + timedelta(minutes=1), "timestamp")


def test_a_naive_verification_time_is_refused(ca, trust):
    key, cert = head(ca)
    with pytest.raises(ValueError, match="UTC offset"):
        verify(sign(DOC, key, cert), DOC, trust, at=datetime(2026, 11, 26, 9, 0))


# --- RFC 3161 timestamps -----------------------------------------------------------------------

def test_a_valid_token_gives_the_trusted_time(ca, trust, tsa):
    # The certificate expired after the token's time but before the delivery: accepted, judged
    # at the genTime the TSA vouches for.
    key, cert = head(ca, valid_from=DELIVERED - timedelta(days=30), valid_days=28)
    signed_at = DELIVERED - timedelta(days=5)
    signature = sign(DOC, key, cert, signing_time=signed_at)
    assert code_of(lambda: verify(signature, DOC, trust, at=DELIVERED)) == "CERT_EXPIRED"
    stamped = tsa.stamp(signature, signed_at + timedelta(seconds=2))
    info = verify(stamped, DOC, trust, at=DELIVERED)
    assert (info.iin, info.trusted_time, info.time_source) == (IIN, signed_at + timedelta(seconds=2), "timestamp")
    # A token from after the certificate expired proves nothing useful: judged then, expired.
    late = tsa.stamp(signature, DELIVERED - timedelta(hours=1))
    assert code_of(lambda: verify(late, DOC, trust, at=DELIVERED)) == "CERT_EXPIRED"


def test_a_token_with_a_wrong_imprint_is_invalid_not_ignored(ca, trust, tsa):
    key, cert = head(ca)
    signature = sign(DOC, key, cert, signing_time=DELIVERED - timedelta(hours=1))
    wrong = tsa.stamp(signature, DELIVERED - timedelta(minutes=59), imprint=bytes(32))
    with pytest.raises(SignatureError, match="messageImprint") as exc:
        verify(wrong, DOC, trust, at=DELIVERED)
    assert exc.value.code == "TIMESTAMP_INVALID"
    # A token over another signature (a replayed one) is the same: its imprint does not match.
    other = sign(b"another document", key, cert, signing_time=DELIVERED - timedelta(hours=2))
    other_value = acms.ContentInfo.load(other)["content"]["signer_infos"][0]["signature"].native
    replayed = attach_timestamp(signature, tsa.token(other_value, DELIVERED - timedelta(hours=2)))
    assert code_of(lambda: verify(replayed, DOC, trust, at=DELIVERED)) == "TIMESTAMP_INVALID"


def test_a_token_from_an_untrusted_tsa_is_invalid(ca, trust):
    stranger = TestCA.create(valid_from=datetime(2020, 1, 1, tzinfo=UTC), valid_days=30 * 365)
    rogue = stranger.tsa(valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    key, cert = head(ca)
    signature = sign(DOC, key, cert, signing_time=DELIVERED - timedelta(hours=1))
    stamped = rogue.stamp(signature, DELIVERED - timedelta(minutes=59))
    with pytest.raises(SignatureError, match="CHAIN_UNTRUSTED") as exc:
        verify(stamped, DOC, trust, at=DELIVERED)
    assert exc.value.code == "TIMESTAMP_INVALID"


def test_a_tsa_without_the_timestamping_eku_or_out_of_validity_is_invalid(ca, trust):
    key, cert = head(ca)
    signature = sign(DOC, key, cert, signing_time=DELIVERED - timedelta(hours=1))
    plain = ca.tsa(name="not a TSA", eku=(), valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    with pytest.raises(SignatureError, match=oids.EKU_TIME_STAMPING) as exc:
        verify(plain.stamp(signature, DELIVERED - timedelta(minutes=59)), DOC, trust, at=DELIVERED)
    assert exc.value.code == "TIMESTAMP_INVALID"
    expired = ca.tsa(valid_from=datetime(2020, 1, 1, tzinfo=UTC), valid_days=365)
    assert code_of(lambda: verify(expired.stamp(signature, DELIVERED - timedelta(minutes=59)), DOC, trust,
                                  at=DELIVERED)) == "TIMESTAMP_INVALID"


def test_a_token_made_after_delivery_or_tampered_with_is_invalid(ca, trust, tsa):
    key, cert = head(ca)
    signature = sign(DOC, key, cert, signing_time=DELIVERED - timedelta(hours=1))
    future = tsa.stamp(signature, DELIVERED + timedelta(minutes=10))
    with pytest.raises(SignatureError, match="after delivery") as exc:
        verify(future, DOC, trust, at=DELIVERED)
    assert exc.value.code == "TIMESTAMP_INVALID"
    # Move the genTime of a genuine token back by a year, leaving the TSA's signature as it was.
    token = acms.ContentInfo.load(tsa.token(
        acms.ContentInfo.load(signature)["content"]["signer_infos"][0]["signature"].native,
        DELIVERED - timedelta(minutes=30)))
    encap = token["content"]["encap_content_info"]
    tst = encap["content"].parsed
    tst["gen_time"] = DELIVERED - timedelta(days=365)
    encap["content"] = tst
    forged = attach_timestamp(signature, token.dump(force=True))
    with pytest.raises(SignatureError, match="CONTENT_MISMATCH") as exc:
        verify(forged, DOC, trust, at=DELIVERED)
    assert exc.value.code == "TIMESTAMP_INVALID"


def test_a_gost_tsa_stamps_an_nca_signature_after_which_the_key_expired():
    """NCA's TSP signs with GOST and Streebog imprints: here the project's GOST test TSA, trusted
    beside the NCA test CAs, stamps a signature by the NCA test head inside its key's validity;
    delivered after the key expired (2027-05-08), the token keeps it valid."""
    if not (PKI / "legal_ceo_valid.p12").is_file():
        pytest.fail(f"the NCA RK test PKI is missing at {PKI}")
    gost_ca = GostTestCA.create(valid_from=datetime(2026, 1, 1, tzinfo=UTC))
    tsa = gost_ca.tsa(valid_from=datetime(2026, 1, 1, tzinfo=UTC))
    trust = TrustStore.from_dir(PKI / "ca")
    trust.anchors.append(gost_ca.cert)
    ceo = pkcs12.load(PKI / "legal_ceo_valid.p12", "Qwerty12")
    signed_at = datetime(2027, 5, 7, 10, 0, tzinfo=UTC)
    delivered = datetime(2027, 5, 9, 10, 0, tzinfo=UTC)
    signature = sign(DOC, ceo, signing_time=signed_at)
    assert code_of(lambda: verify(signature, DOC, trust, at=delivered)) == "CERT_EXPIRED"
    stamped = tsa.stamp(signature, signed_at + timedelta(seconds=5))
    token = acms.ContentInfo.load(acms.ContentInfo.load(stamped)["content"]["signer_infos"][0]["unsigned_attrs"][0]
                                  ["values"][0].dump())
    imprint = token["content"]["encap_content_info"]["content"].parsed["message_imprint"]
    assert imprint["hash_algorithm"]["algorithm"].dotted == oids.STREEBOG_512_KZ
    info = verify(stamped, DOC, trust, at=delivered)
    assert (info.iin, info.time_source, info.trusted_time) == ("123456789011", "timestamp", signed_at + timedelta(seconds=5))


def test_the_tsa_certificate_may_come_from_the_trust_store(ca, tsa, tmp_path):
    """A TSA that leaves its certificate out of the token (certReq false) is found in the trust
    directory, where an operator can put NCA's TSA certificate."""
    (tmp_path / "ca.pem").write_bytes(ca.cert.public_bytes(Encoding.PEM))
    (tmp_path / "tsa.cer").write_bytes(tsa.cert.public_bytes(Encoding.DER))
    store = TrustStore.from_dir(tmp_path)
    key, cert = head(ca)
    signature = sign(DOC, key, cert, signing_time=DELIVERED - timedelta(hours=1))
    token = acms.ContentInfo.load(tsa.token(
        acms.ContentInfo.load(signature)["content"]["signer_infos"][0]["signature"].native,
        DELIVERED - timedelta(minutes=59)))
    token["content"]["certificates"] = []
    stamped = attach_timestamp(signature, token.dump(force=True))
    assert code_of(lambda: verify(stamped, DOC, TrustStore(anchors=[ca.cert]), at=DELIVERED)) == "TIMESTAMP_INVALID"
    assert verify_all(stamped, DOC, store, at=DELIVERED)[0].time_source == "timestamp"


def test_a_token_whose_signing_certificate_names_another_certificate_is_invalid(ca, trust, tsa):
    key, cert = head(ca)
    signature = sign(DOC, key, cert, signing_time=DELIVERED - timedelta(hours=1))
    value = acms.ContentInfo.load(signature)["content"]["signer_infos"][0]["signature"].native
    misattributed = attach_timestamp(signature, tsa.token(value, DELIVERED - timedelta(minutes=59), names=ca.cert))
    with pytest.raises(SignatureError, match="signingCertificate is not the TSA's certificate") as exc:
        verify(misattributed, DOC, trust, at=DELIVERED)
    assert exc.value.code == "TIMESTAMP_INVALID"

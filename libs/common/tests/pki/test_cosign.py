"""Co-signed CMS (Kalkan co-signing: the director and the chief accountant): every SignerInfo
verifies or the whole CMS is refused; `claimed_signers` lists them without verifying."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms as acms

from uise_common.pki import pkcs12
from uise_common.pki.cms import (
    MAX_SIGNERS,
    ClaimedSigner,
    SignatureError,
    TrustStore,
    claimed_signers,
    cosign,
    sign,
    verify,
    verify_all,
)
from uise_common.pki.oids import EKU_LEGAL_ENTITY
from uise_common.pki.testca import TestCA
from uise_common.testing import nca_test_pki

BIN = "220440000013"
DOC = b'{"pupils_total": 810}'
AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
PKI = nca_test_pki()
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


@pytest.fixture(scope="module")
def director(ca):
    return ca.issue(iin="800101300011", name="Director", bin_=BIN, valid_from=AT - timedelta(days=30))


@pytest.fixture(scope="module")
def accountant(ca):
    return ca.issue(iin="850505400033", name="Chief accountant", bin_=BIN, eku=(EKU_LEGAL_ENTITY,),
                    valid_from=AT - timedelta(days=30))


def code_of(fn) -> str:
    with pytest.raises(SignatureError) as exc:
        fn()
    return exc.value.code


def _signer_infos(der: bytes) -> list[acms.SignerInfo]:
    return list(acms.ContentInfo.load(der)["content"]["signer_infos"])


def test_cosigning_adds_a_signer_and_keeps_the_first_byte_for_byte(director, accountant, trust):
    first = sign(DOC, *director, signing_time=AT - timedelta(hours=2))
    both = cosign(first, DOC, *accountant, signing_time=AT - timedelta(hours=1))
    # The first SignerInfo is kept as it was (DER orders a SET OF by encoding, so maybe not first).
    assert _signer_infos(first)[0].dump() in [si.dump() for si in _signer_infos(both)]
    signers = verify_all(both, DOC, trust, at=AT)
    assert sorted((s.iin, s.name) for s in signers) == [("800101300011", "Director"),
                                                         ("850505400033", "Chief accountant")]
    assert all(s.trusted_time == AT and s.time_source == "delivery" for s in signers)
    # verify() is for one signer (a sign-in challenge): a co-signed CMS is not that.
    assert code_of(lambda: verify(both, DOC, trust, at=AT)) == "SIGNATURE_MALFORMED"
    # The accountant's certificate is carried once even if he co-signs twice.
    thrice = cosign(both, DOC, *accountant, signing_time=AT - timedelta(minutes=30))
    assert len(acms.ContentInfo.load(thrice)["content"]["certificates"]) == 2
    assert len(verify_all(thrice, DOC, trust, at=AT)) == 3


def test_an_attached_cms_is_cosigned_with_its_content(director, accountant, trust):
    attached = cosign(sign(DOC, *director, detached=False, signing_time=AT), DOC, *accountant, signing_time=AT)
    assert acms.ContentInfo.load(attached)["content"]["encap_content_info"]["content"].native == DOC
    assert len(verify_all(attached, DOC, trust, at=AT)) == 2
    assert code_of(lambda: cosign(attached, DOC + b" ", *accountant)) == "CONTENT_MISMATCH"


def test_cosigning_another_document_is_refused(director, accountant):
    first = sign(DOC, *director, signing_time=AT)
    assert code_of(lambda: cosign(first, b'{"pupils_total": 811}', *accountant)) == "CONTENT_MISMATCH"
    assert code_of(lambda: cosign(b"not a cms", DOC, *accountant)) == "SIGNATURE_MALFORMED"


def test_one_broken_signature_of_two_refuses_the_whole_cms(director, accountant, trust):
    both = cosign(sign(DOC, *director, signing_time=AT), DOC, *accountant, signing_time=AT)
    info = acms.ContentInfo.load(both)
    second = info["content"]["signer_infos"][1]
    value = bytearray(second["signature"].native)
    value[7] ^= 0x01
    second["signature"] = bytes(value)
    serial = format(second["sid"].chosen["serial_number"].native, "x")
    with pytest.raises(SignatureError, match=f"signer 2 of 2 \\(serial {serial}\\)") as exc:
        verify_all(info.dump(force=True), DOC, trust, at=AT)
    assert exc.value.code == "SIGNATURE_INVALID"


def test_a_cosigner_from_an_untrusted_ca_refuses_the_whole_cms(director, trust):
    stranger = TestCA.create(valid_from=datetime(2020, 1, 1, tzinfo=UTC), valid_days=30 * 365)
    key, cert = stranger.issue(iin="850505400033", name="Stranger", bin_=BIN, valid_from=AT - timedelta(days=1))
    both = cosign(sign(DOC, *director, signing_time=AT), DOC, key, cert, signing_time=AT)
    with pytest.raises(SignatureError, match=f"signer [12] of 2 \\(serial {cert.serial_number:x}\\)") as exc:
        verify_all(both, DOC, trust, at=AT)
    assert exc.value.code == "CHAIN_UNTRUSTED"


def test_the_number_of_signers_is_bounded(director, accountant, trust):
    cms = sign(DOC, *director, signing_time=AT)
    for _ in range(MAX_SIGNERS - 1):
        cms = cosign(cms, DOC, *accountant, signing_time=AT)
    assert len(verify_all(cms, DOC, trust, at=AT)) == MAX_SIGNERS
    assert code_of(lambda: cosign(cms, DOC, *accountant, signing_time=AT)) == "TOO_MANY_SIGNERS"
    # A CMS made elsewhere with one SignerInfo too many is refused before any is checked.
    info = acms.ContentInfo.load(cms)
    sd = info["content"]
    over = acms.ContentInfo({"content_type": "signed_data", "content": acms.SignedData({
        "version": sd["version"], "digest_algorithms": sd["digest_algorithms"],
        "encap_content_info": sd["encap_content_info"], "certificates": sd["certificates"],
        "signer_infos": [*sd["signer_infos"], sd["signer_infos"][0]],
    })}).dump()
    assert code_of(lambda: verify_all(over, DOC, trust, at=AT)) == "TOO_MANY_SIGNERS"
    assert code_of(lambda: claimed_signers(over)) == "TOO_MANY_SIGNERS"


def test_the_nca_test_head_and_signer_cosign_a_gost_cms():
    if not (PKI / "legal_ceo_valid.p12").is_file():
        pytest.fail(f"the NCA RK test PKI is missing at {PKI}")
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    ceo = pkcs12.load(PKI / "legal_ceo_valid.p12", "Qwerty12")
    signer = pkcs12.load(PKI / "legal_signer_valid.p12", "Qwerty12")
    both = cosign(sign(DOC, ceo, signing_time=at), DOC, signer, signing_time=at)
    trust = TrustStore.from_dir(PKI / "ca")
    assert sorted((s.iin, s.bin) for s in verify_all(both, DOC, trust, at=at)) == [
        ("123456789011", "123456789021"), ("123456789012", "123456789021")]
    assert sorted(c.iin for c in claimed_signers(both)) == ["123456789011", "123456789012"]


def test_claimed_signers_lists_who_the_certificates_name_without_verifying(director, accountant, ca):
    both = cosign(sign(DOC, *director, signing_time=AT), DOC, *accountant, signing_time=AT)
    # Not verified: the wrong document, an unknown CA, a broken signature would not matter here.
    assert sorted(claimed_signers(both), key=lambda c: c.iin) == [
        ClaimedSigner(iin="800101300011", bin=BIN, name="Director", serial=format(director[1].serial_number, "x")),
        ClaimedSigner(iin="850505400033", bin=BIN, name="Chief accountant",
                      serial=format(accountant[1].serial_number, "x")),
    ]
    info = acms.ContentInfo.load(both)
    info["content"]["certificates"] = []
    assert sorted(claimed_signers(info.dump(force=True)), key=lambda c: c.serial) == sorted([
        ClaimedSigner(iin=None, bin=None, name=None, serial=format(director[1].serial_number, "x")),
        ClaimedSigner(iin=None, bin=None, name=None, serial=format(accountant[1].serial_number, "x")),
    ], key=lambda c: c.serial)
    assert code_of(lambda: claimed_signers(b"%PDF-1.7")) == "SIGNATURE_MALFORMED"


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")  # flipped serials
def test_a_mutated_cosigned_timestamped_cms_is_refused_with_a_reason_code_never_a_crash(director, accountant, ca,
                                                                                        trust):
    """Random byte flips and truncations of a two-signer CMS with a timestamp token: verify_all
    and claimed_signers answer or raise SignatureError, nothing else (a crash would retry the
    submission into the dead-letter topic instead of refusing it)."""
    import random

    tsa = ca.tsa(valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    cms = tsa.stamp(cosign(sign(DOC, *director, signing_time=AT), DOC, *accountant, signing_time=AT), AT)
    assert len(verify_all(cms, DOC, trust, at=AT)) == 2
    rnd = random.Random(20261126)
    codes: set[str] = set()
    for _ in range(400):
        mutated = bytearray(cms)
        for _ in range(rnd.choice([1, 2, 4])):
            mutated[rnd.randrange(len(mutated))] = rnd.randrange(256)
        if rnd.random() < 0.1:
            mutated = mutated[:rnd.randrange(len(mutated))]
        for check in (lambda m=bytes(mutated): verify_all(m, DOC, trust, at=AT),
                      lambda m=bytes(mutated): claimed_signers(m)):
            try:
                check()
            except SignatureError as exc:
                codes.add(exc.code)
    # The flips reached the structure, the signatures, the certificates and the token.
    assert {"SIGNATURE_MALFORMED", "SIGNATURE_INVALID", "TIMESTAMP_INVALID"} <= codes

"""GOST 34.10-2015 signatures, NCA RK key containers and CMS with the NCA RK public test PKI.

The NCA test keys are valid 2026-05-08 to 2027-05-08, so every CMS test pins the time."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import RC2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat
from gostcrypto.gosthash import new as gostcrypto_hash
from gostcrypto.gostsignature import CURVES_R_1323565_1_024_2019, MODE_256, MODE_512
from gostcrypto.gostsignature import new as gostcrypto_signature

from uise_common.pki import gost, oids, pkcs12
from uise_common.pki.cms import GOST_256, GOST_512, SignatureError, TrustStore, sign, verify
from uise_common.pki.testca import gost_certificate
from uise_common.testing import nca_test_pki
from uise_signature.domain import check_authority

PKI = nca_test_pki()
PASSWORD = "Qwerty12"
# NCA common names exceed X.520's 64 characters; cryptography warns about it on every access.
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
AFTER_EXPIRY = datetime(2027, 5, 9, 12, 0, tzinfo=UTC)
BIN, HEAD_IIN = "123456789021", "123456789011"
DOC = "Форма 1-ОШ, 2026: учащихся 810, из них девочек 412".encode()


@pytest.fixture(scope="module")
def pki() -> Path:
    if not (PKI / "legal_ceo_valid.p12").is_file() or not (PKI / "ca").is_dir():
        pytest.fail(f"the NCA RK test PKI is missing: expected it at {PKI} (shared/testdata/nca-test-pki)")
    return PKI


@pytest.fixture(scope="module")
def trust(pki) -> TrustStore:
    return TrustStore.from_dir(pki / "ca")


@pytest.fixture(scope="module")
def ceo(pki) -> pkcs12.KeyContainer:
    return pkcs12.load(pki / "legal_ceo_valid.p12", PASSWORD)


def _rebuilt(info: acms.ContentInfo, signer: acms.SignerInfo) -> bytes:
    """The CMS with its signer info replaced. Not `dump(force=True)`: that would re-encode the
    certificates too, and asn1crypto cannot re-encode a GOST public key."""
    sd = info["content"]
    return acms.ContentInfo({"content_type": "signed_data", "content": acms.SignedData({
        "version": sd["version"], "digest_algorithms": sd["digest_algorithms"],
        "encap_content_info": sd["encap_content_info"], "certificates": sd["certificates"],
        "signer_infos": [signer],
    })}).dump()


def code_of(fn) -> str:
    with pytest.raises(SignatureError) as exc:
        fn()
    return exc.value.code


# --- Streebog and the curves -----------------------------------------------------------------

@pytest.mark.parametrize("length", [0, 1, 55, 63, 64, 65, 127, 128, 129, 1000])
def test_streebog_matches_gostcrypto(length):
    data = os.urandom(length)
    assert gost.streebog(data, 64) == bytes(gostcrypto_hash("streebog512", data=data).digest())
    assert gost.streebog(data, 32) == bytes(gostcrypto_hash("streebog256", data=data).digest())


@pytest.mark.parametrize("curve", sorted(set(gost.CURVES.values()), key=lambda c: c.name), ids=lambda c: c.name)
def test_curve_parameters_are_consistent(curve):
    assert curve.is_on_curve((curve.x, curve.y))
    # q*G is the point at infinity, (q-1)*G = -G: the table, NAF and chain agree with the order.
    assert not gost._shamir(curve, curve.q, curve.base_table(), gost.W_BASE, 0, None, gost.W_POINT)[2]
    assert gost.scalar_base_mult(curve, curve.q - 1) == (curve.x, curve.p - curve.y)


@pytest.mark.parametrize("w", [2, 5, 10])
def test_wnaf_digits_rebuild_the_scalar(w):
    for k in (1, 2, 3, 2**512 - 1, *(secrets.randbits(512) for _ in range(20))):
        digits = gost._wnaf(k, w)
        assert sum(d << i for i, d in digits) == k
        assert all(d % 2 and abs(d) < 1 << (w - 1) for _, d in digits)
        assert all(b[0] - a[0] >= w for a, b in zip(digits, digits[1:], strict=False))


def test_curve_oids_cover_both_arcs():
    assert gost.curve_by_oid(oids.CURVE_KZ_512_A) is gost.curve_by_oid("1.2.643.7.1.2.1.2.1") is gost.TC26_512_A
    assert gost.curve_by_oid("1.2.643.7.1.2.1.1.1") is gost.TC26_256_A
    assert gost.curve_by_oid("1.2.643.2.2.35.1") is gost.CRYPTOPRO_A
    with pytest.raises(ValueError):
        gost.curve_by_oid("1.2.3")


# --- gost.verify / gost.sign against gostcrypto ------------------------------------------------
# gostcrypto reads everything big-endian: key x || y, the digest as an integer, signature r || s.
# The Kazakh layout is x || y little-endian, the digest read little-endian, r || s little-endian.

CROSS = [
    (gost.TC26_512_A, MODE_512, "id-tc26-gost-3410-12-512-paramSetA"),
    (gost.TC26_256_A, MODE_256, "id-tc26-gost-3410-2012-256-paramSetA"),
    (gost.CRYPTOPRO_A, MODE_256, "id-tc26-gost-3410-2012-256-paramSetB"),
]


def _to_gostcrypto(curve, point, digest, signature):
    n = curve.size
    r, s = gost.kz_signature_decode(signature, curve)
    key = point[0].to_bytes(n, "big") + point[1].to_bytes(n, "big")
    # Reversing the digest makes gostcrypto's big-endian reading yield our little-endian integer.
    return bytearray(key), bytearray(digest[::-1]), bytearray(r.to_bytes(n, "big") + s.to_bytes(n, "big"))


@pytest.mark.parametrize(("curve", "mode", "name"), CROSS, ids=[c[2] for c in CROSS])
def test_gost_cross_checks_with_gostcrypto(curve, mode, name):
    reference = gostcrypto_signature(mode, CURVES_R_1323565_1_024_2019[name])
    n = curve.size
    for _ in range(2):
        d = secrets.randbelow(curve.q - 1) + 1
        point = gost.public_key(curve, d)
        assert bytes(reference.public_key_generate(bytearray(d.to_bytes(n, "big")))) == \
            point[0].to_bytes(n, "big") + point[1].to_bytes(n, "big")
        digest = os.urandom(n)

        # ours -> gostcrypto
        ours = gost.sign(curve, d, digest)
        assert gost.verify(curve, point, digest, ours)
        assert reference.verify(*_to_gostcrypto(curve, point, digest, ours))

        # gostcrypto -> ours
        theirs = bytes(reference.sign(bytearray(d.to_bytes(n, "big")), bytearray(digest[::-1])))
        r, s = int.from_bytes(theirs[:n], "big"), int.from_bytes(theirs[n:], "big")
        assert gost.verify(curve, point, digest, gost.kz_signature_encode(r, s, curve))
        assert gost.verify(curve, gost.kz_public_key_encode(point, curve), digest,
                           gost.kz_signature_encode(r, s, curve))

        # with the same k both produce the same signature
        k = secrets.randbelow(curve.q - 1) + 1
        fixed = bytes(reference.sign(bytearray(d.to_bytes(n, "big")), bytearray(digest[::-1]),
                                     bytearray(k.to_bytes(n, "big"))))
        assert gost.sign(curve, d, digest, k=k) == gost.kz_signature_encode(
            int.from_bytes(fixed[:n], "big"), int.from_bytes(fixed[n:], "big"), curve)

        # and wrong inputs fail
        bad = bytearray(ours)
        bad[5] ^= 1
        assert not gost.verify(curve, point, digest, bytes(bad))
        assert not gost.verify(curve, point, bytes([digest[0] ^ 1]) + digest[1:], ours)
        assert not gost.verify(curve, (point[0], point[1] ^ 1), digest, ours)
        assert not gost.verify(curve, point, digest, ours[:-1])
        assert not gost.verify(curve, point, digest, bytes(2 * n))


def test_the_nca_test_ca_certificates_verify_with_gost_verify(pki):
    root = ax509.Certificate.load((pki / "ca" / "root_test_gost_2022.cer").read_bytes())
    intermediate = ax509.Certificate.load((pki / "ca" / "nca_gost2022_test.cer").read_bytes())
    curve, point = gost.public_key_from_spki(root["tbs_certificate"]["subject_public_key_info"].dump())
    assert curve is gost.TC26_512_A
    for cert in (root, intermediate):  # both are signed by the root's key, by NCA's own software
        digest = gost.streebog(cert["tbs_certificate"].dump())
        signature = cert["signature_value"].native
        assert gost.verify(curve, point, digest, signature)
        # The byte-order traps: r and s swapped, or the RFC 4491 big-endian reading, both fail.
        assert not gost.verify(curve, point, digest, signature[64:] + signature[:64])
        assert not gost.verify(curve, point, digest, signature[::-1])
        assert not gost.verify(curve, point, digest[::-1], signature)


# --- PKCS#12 -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["legal_ceo_valid", "legal_signer_valid", "legal_infosystem_valid",
                                  "individual_valid", "individual_revoked"])
def test_every_nca_container_opens_and_its_key_matches_its_certificate(pki, name):
    container = pkcs12.load(pki / f"{name}.p12", PASSWORD)
    assert isinstance(container.key, gost.PrivateKey)
    assert container.key.curve is gost.TC26_512_A
    tbs = ax509.Certificate.load(container.certificate.public_bytes(Encoding.DER))["tbs_certificate"]
    spki = tbs["subject_public_key_info"].dump()
    assert gost.public_key_from_spki(spki) == (gost.TC26_512_A, container.key.public_point())


def test_a_wrong_password_is_a_clear_error(pki):
    with pytest.raises(pkcs12.WrongPassword, match="wrong password"):
        pkcs12.load(pki / "legal_ceo_valid.p12", "qwerty12")
    with pytest.raises(pkcs12.PKCS12Error):
        pkcs12.load(b"not a container", PASSWORD)


def test_a_legacy_3des_rsa_container_written_by_openssl_opens():
    """An RSA .p12 written by cryptography (OpenSSL) with the legacy SHA-1/3DES scheme opens."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12 as cpkcs12

    from uise_common.pki.testca import TestCA

    ca = TestCA.create()
    key, cert = ca.issue(iin="800101300011", name="Head", bin_="220440000013")
    encryption = (PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048)
                  .key_cert_algorithm(cpkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
                  .hmac_hash(hashes.SHA1()).build(b"secret"))
    blob = cpkcs12.serialize_key_and_certificates(b"head", key, cert, [ca.cert], encryption)
    container = pkcs12.load(blob, "secret")
    assert isinstance(container.key, rsa.RSAPrivateKey)
    assert container.certificate == cert and len(container.certificates) == 2
    with pytest.raises(pkcs12.WrongPassword):
        pkcs12.load(blob, "Secret")


def test_a_modern_pbes2_container_opens_through_cryptography():
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption
    from cryptography.hazmat.primitives.serialization import pkcs12 as cpkcs12

    from uise_common.pki.testca import TestCA

    ca = TestCA.create()
    key, cert = ca.issue(iin="800101300011", name="Head", bin_="220440000013")
    blob = cpkcs12.serialize_key_and_certificates(b"head", key, cert, None, BestAvailableEncryption(b"secret"))
    assert pkcs12.load(blob, "secret").certificate == cert
    with pytest.raises(pkcs12.PKCS12Error):
        pkcs12.load(blob, "wrong")


def test_rc2_decrypts_the_rfc_2268_vectors_and_cryptography_rc2_128():
    # RFC 2268 section 5: (key, effective bits, plaintext, ciphertext)
    vectors = [
        ("0000000000000000", 63, "0000000000000000", "ebb773f993278eff"),
        ("ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"),
        ("3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"),
        ("88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"),
    ]
    for key, bits, plain, cipher in vectors:
        assert pkcs12.rc2_cbc_decrypt(bytes.fromhex(key), bytes(8), bytes.fromhex(cipher), bits).hex() == plain
    key, iv, data = os.urandom(16), os.urandom(8), os.urandom(64)
    encryptor = Cipher(RC2(key), modes.CBC(iv)).encryptor()
    assert pkcs12.rc2_cbc_decrypt(key, iv, encryptor.update(data) + encryptor.finalize(), 128) == data


# --- CMS with the NCA test keys ----------------------------------------------------------------

def _signed(pki, name: str, *, detached: bool = True, when: datetime = AT, document: bytes = DOC) -> bytes:
    container = pkcs12.load(pki / f"{name}.p12", PASSWORD)
    return sign(document, container.key, container.certificate, detached=detached, signing_time=when)


def test_the_trust_store_sorts_anchors_and_intermediates(trust):
    assert [c.subject == c.issuer for c in trust.anchors] == [True]
    assert [c.subject == c.issuer for c in trust.intermediates] == [False]


def test_the_first_head_signs_detached_and_it_verifies_against_the_nca_test_cas(pki, trust, ceo):
    signature = sign(DOC, ceo.key, ceo.certificate, signing_time=AT)
    info = verify(signature, DOC, trust, at=AT)
    assert (info.iin, info.bin, info.algorithm) == (HEAD_IIN, BIN, GOST_512)
    assert info.signing_time == AT
    check_authority(info, BIN, HEAD_IIN)
    # NCALayer's algorithm identifiers, in the Kazakh arc
    signer = acms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    assert signer["digest_algorithm"]["algorithm"].dotted == oids.STREEBOG_512_KZ
    assert signer["signature_algorithm"]["algorithm"].dotted == oids.GOST_KZ_SIG_512
    assert info.algorithm == "GOST34.10-2015-512"


def test_the_first_head_signs_attached_and_it_verifies(pki, trust):
    attached = _signed(pki, "legal_ceo_valid", detached=False)
    assert acms.ContentInfo.load(attached)["content"]["encap_content_info"]["content"].native == DOC
    info = verify(attached, DOC, trust, at=AT)
    check_authority(info, BIN, HEAD_IIN)
    assert code_of(lambda: verify(attached, DOC + b" ", trust, at=AT)) == "CONTENT_MISMATCH"


def test_the_verified_chain_is_cached_by_fingerprint(pki, ceo):
    store = TrustStore.from_dir(pki / "ca")
    signature = sign(DOC, ceo.key, ceo.certificate, signing_time=AT)
    verify(signature, DOC, store, at=AT)
    cached = dict(store._verified)
    assert len(cached) == 3 and all(cached.values())  # root (self-signed), intermediate, signer
    verify(signature, DOC, store, at=AT)
    assert store._verified == cached


def test_a_signer_with_only_the_right_to_sign_is_not_the_first_head(pki, trust):
    info = verify(_signed(pki, "legal_signer_valid"), DOC, trust, at=AT)
    assert info.bin == BIN
    assert code_of(lambda: check_authority(info, BIN, HEAD_IIN)) == "NOT_FIRST_HEAD"


def test_an_information_system_is_not_the_first_head(pki, trust):
    info = verify(_signed(pki, "legal_infosystem_valid"), DOC, trust, at=AT)
    assert code_of(lambda: check_authority(info, BIN, HEAD_IIN)) == "NOT_FIRST_HEAD"


def test_an_individual_is_not_an_organization(pki, trust):
    info = verify(_signed(pki, "individual_valid"), DOC, trust, at=AT)
    assert info.iin == HEAD_IIN and info.bin is None
    assert code_of(lambda: check_authority(info, BIN, HEAD_IIN)) == "NOT_ORGANIZATION"


def test_one_flipped_byte_of_the_document_is_a_content_mismatch(pki, trust):
    signature = _signed(pki, "legal_ceo_valid")
    flipped = bytes([DOC[0] ^ 1]) + DOC[1:]
    assert code_of(lambda: verify(signature, flipped, trust, at=AT)) == "CONTENT_MISMATCH"


def test_a_forged_gost_signature_value_is_invalid(pki, trust):
    info = acms.ContentInfo.load(_signed(pki, "legal_ceo_valid"))
    si = info["content"]["signer_infos"][0]
    value = bytearray(si["signature"].native)
    value[10] ^= 0xFF
    si["signature"] = bytes(value)
    assert code_of(lambda: verify(_rebuilt(info, si), DOC, trust, at=AT)) == "SIGNATURE_INVALID"


def test_after_the_test_keys_expire_the_certificate_is_expired(pki, trust):
    late = _signed(pki, "legal_ceo_valid", when=AFTER_EXPIRY)
    assert code_of(lambda: verify(late, DOC, trust, at=AFTER_EXPIRY)) == "CERT_EXPIRED"


def test_before_the_test_keys_are_issued_the_certificate_is_not_yet_valid(pki, trust):
    before = datetime(2026, 5, 1, tzinfo=UTC)
    early = _signed(pki, "legal_ceo_valid", when=before)
    assert code_of(lambda: verify(early, DOC, trust, at=before + timedelta(hours=1))) == "CERT_NOT_YET_VALID"


def test_without_the_intermediate_the_chain_is_untrusted(pki):
    roots_only = TrustStore.from_dir(pki / "ca")
    roots_only.intermediates.clear()
    assert code_of(lambda: verify(_signed(pki, "legal_ceo_valid"), DOC, roots_only, at=AT)) == "CHAIN_UNTRUSTED"


def test_an_intermediate_carried_in_the_cms_completes_the_chain(pki, ceo):
    roots_only = TrustStore.from_dir(pki / "ca")
    intermediate = roots_only.intermediates.pop()
    signature = sign(DOC, ceo, signing_time=AT, extra_certs=[intermediate])
    assert verify(signature, DOC, roots_only, at=AT).iin == HEAD_IIN


# --- A self-made GOST CA (asn1crypto certificates signed with gost.sign) ------------------------

def _name(**fields) -> ax509.Name:
    return ax509.Name.build(fields)


def _gost_certificate(subject: ax509.Name, issuer: ax509.Name, issuer_key: gost.PrivateKey, curve: gost.Curve,
                      point: tuple[int, int], *, ca: bool, not_before: datetime, not_after: datetime,
                      key_usage: set[str], eku: tuple[str, ...] = (), kazakh: bool = True) -> x509.Certificate:
    return gost_certificate(subject, issuer, issuer_key, (curve, point), ca=ca, not_before=not_before,
                            not_after=not_after, key_usage=key_usage, eku=eku, kazakh=kazakh)


class GostCA:
    def __init__(self, curve: gost.Curve = gost.TC26_512_A, name: str = "UISE GOST TEST CA", *,
                 kazakh: bool = True, not_after: datetime = AT + timedelta(days=3650)) -> None:
        self.curve, self.kazakh = curve, kazakh
        self.key = gost.PrivateKey(curve, secrets.randbelow(curve.q - 1) + 1)
        self.name = _name(common_name=name, country_name="KZ")
        self.cert = _gost_certificate(self.name, self.name, self.key, curve, self.key.public_point(), ca=True,
                                      not_before=AT - timedelta(days=365), not_after=not_after,
                                      key_usage={"key_cert_sign", "crl_sign"}, kazakh=kazakh)

    def issue(self, *, iin: str = HEAD_IIN, bin_: str | None = BIN,
              eku=(oids.EKU_LEGAL_ENTITY, oids.EKU_FIRST_HEAD), key_usage=frozenset({"digital_signature", "non_repudiation"}),
              issuer: ax509.Name | None = None) -> tuple[gost.PrivateKey, x509.Certificate]:
        key = gost.PrivateKey(self.curve, secrets.randbelow(self.curve.q - 1) + 1)
        fields = {"common_name": "ТЕСТОВ ТЕСТ", "serial_number": f"IIN{iin}", "country_name": "KZ"}
        if bin_:
            fields["organizational_unit_name"] = f"BIN{bin_}"
        cert = _gost_certificate(_name(**fields), issuer or self.name, self.key, self.curve, key.public_point(),
                                 ca=False, not_before=AT - timedelta(days=30), not_after=AT + timedelta(days=335),
                                 key_usage=set(key_usage), eku=tuple(eku), kazakh=self.kazakh)
        return key, cert


def test_a_cms_from_a_gost_ca_outside_the_trust_store_is_untrusted(trust):
    own = GostCA()
    key, cert = own.issue()
    signature = sign(DOC, key, cert, signing_time=AT)
    assert verify(signature, DOC, TrustStore([own.cert]), at=AT).algorithm == GOST_512  # the CMS itself is fine
    assert code_of(lambda: verify(signature, DOC, trust, at=AT)) == "CHAIN_UNTRUSTED"


def test_a_certificate_that_names_the_nca_ca_as_issuer_but_is_not_signed_by_it_is_untrusted(trust):
    impostor = GostCA()
    nca_name = ax509.Certificate.load(trust.intermediates[0].public_bytes(Encoding.DER)).subject
    key, cert = impostor.issue(issuer=nca_name)
    assert cert.issuer == trust.intermediates[0].subject
    assert code_of(lambda: verify(sign(DOC, key, cert, signing_time=AT), DOC, trust, at=AT)) == "CHAIN_UNTRUSTED"


def test_a_ca_certificate_expired_at_verification_time_is_refused():
    own = GostCA(not_after=AT - timedelta(days=1))
    key, cert = own.issue()
    signature = sign(DOC, key, cert, signing_time=AT - timedelta(days=10))
    assert verify(signature, DOC, TrustStore([own.cert]), at=AT - timedelta(days=5)).iin == HEAD_IIN
    assert code_of(lambda: verify(signature, DOC, TrustStore([own.cert]), at=AT)) == "CERT_EXPIRED"


def test_a_signer_whose_key_usage_forbids_signing_is_refused():
    own = GostCA()
    key, cert = own.issue(key_usage={"key_agreement"})
    assert code_of(lambda: verify(sign(DOC, key, cert, signing_time=AT), DOC, TrustStore([own.cert]), at=AT)) == "KEY_USAGE"


@pytest.mark.parametrize("kazakh", [True, False], ids=["kazakh-arc", "tc26-arc"])
@pytest.mark.parametrize("curve", [gost.TC26_256_A, gost.CRYPTOPRO_A, gost.TC26_512_A], ids=lambda c: c.name)
def test_gost_cms_on_every_supported_curve_and_arc(curve, kazakh):
    own = GostCA(curve, kazakh=kazakh)
    key, cert = own.issue()
    signature = sign(DOC, key, cert, signing_time=AT, detached=False)
    info = verify(signature, DOC, TrustStore([own.cert]), at=AT)
    assert info.algorithm == (GOST_512 if curve.size == 64 else GOST_256)
    signer = acms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    expected = {(True, 64): oids.STREEBOG_512_KZ, (True, 32): oids.STREEBOG_256_KZ,
                (False, 64): oids.STREEBOG_512, (False, 32): oids.STREEBOG_256}[(kazakh, curve.size)]
    assert signer["digest_algorithm"]["algorithm"].dotted == expected
    check_authority(info, BIN, HEAD_IIN)


def test_a_gost_signature_with_a_mismatched_digest_is_unsupported():
    own = GostCA(gost.TC26_256_A)
    key, cert = own.issue()
    info = acms.ContentInfo.load(sign(DOC, key, cert, signing_time=AT))
    si = info["content"]["signer_infos"][0]
    si["digest_algorithm"] = {"algorithm": oids.STREEBOG_512_KZ}
    # Claim Streebog-512 of the document too, so that only the key/digest mismatch is left.
    si["signed_attrs"] = acms.CMSAttributes([
        acms.CMSAttribute({"type": "message_digest", "values": [gost.streebog(DOC, 64)]})
        if a["type"].native == "message_digest" else a for a in si["signed_attrs"]])
    assert code_of(lambda: verify(_rebuilt(info, si), DOC, TrustStore([own.cert]), at=AT)) == "ALGORITHM_UNSUPPORTED"


def test_the_signing_time_falls_back_to_at_when_the_cms_has_none(pki, trust, ceo):
    info = acms.ContentInfo.load(sign(DOC, ceo, signing_time=AT))
    si = info["content"]["signer_infos"][0]
    attrs = acms.CMSAttributes([a for a in si["signed_attrs"] if a["type"].native != "signing_time"])
    si["signed_attrs"] = attrs
    si["signature"] = ceo.key.sign_digest(gost.streebog(attrs.dump()))
    stripped = _rebuilt(info, si)
    assert verify(stripped, DOC, trust, at=AT).signing_time is None
    assert code_of(lambda: verify(stripped, DOC, trust, at=AFTER_EXPIRY)) == "CERT_EXPIRED"


@pytest.mark.parametrize("length", [0, 1, 63, 64, 65, 200, 4096 + 3])
def test_streebog_is_compiled_and_agrees_with_the_pure_python_fallback(length):
    """Installed from the workspace, gost.streebog is the C extension; the fallback agrees."""
    assert gost._compiled_streebog is not None
    data = os.urandom(length)
    for size in (64, 32):
        assert gost.streebog(data, size) == gost.streebog_python(data, size)


def test_without_the_extension_streebog_falls_back_to_pure_python(monkeypatch):
    data = os.urandom(130)
    expected = gost.streebog(data, 64), gost.streebog(data, 32)
    monkeypatch.setattr(gost, "_compiled_streebog", None)
    assert (gost.streebog(data, 64), gost.streebog(data, 32)) == expected
    with pytest.raises(ValueError):
        gost.streebog(data, 48)

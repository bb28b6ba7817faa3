"""The project's own test CAs: NCA-shaped certificates (subject serialNumber=IIN…, OU=BIN…,
extended key usage naming the role) for the demo hierarchy and the tests, CRLs so revocation is
testable end to end, and a timestamp authority (`TestTSA`, from `ca.tsa()`) that makes RFC 3161
tokens as NCA's TSP service does. `GostTestCA` issues GOST 34.10-2015 512 as NCA RK does;
`TestCA` RSA."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import cms as acms
from asn1crypto import crl as acrl
from asn1crypto import keys as akeys
from asn1crypto import tsp as atsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from uise_common.pki import gost, oids
from uise_common.pki.algorithms import DIGESTS
from uise_common.pki.cms import attach_timestamp
from uise_common.pki.oids import EKU_FIRST_HEAD, EKU_LEGAL_ENTITY, EKU_TIME_STAMPING
from uise_common.pki.signed_data import asn1_certificate, load_signed_data, make_signer

# A policy OID in the X.660 example arc: the test TSA is nobody's production service.
TEST_TSA_POLICY = "2.999.3161.1"


class TestCA:
    __test__ = False  # not a pytest class

    def __init__(self, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert
        self.revoked: dict[int, datetime] = {}

    @classmethod
    def create(cls, name: str = "UISE TEST ROOT CA", *, valid_from: datetime | None = None,
               valid_days: int = 3650) -> TestCA:
        """A root valid from yesterday (or `valid_from`, for tests that pin past times)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                             x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")])
        start = valid_from or datetime.now(UTC) - timedelta(days=1)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(start + timedelta(days=valid_days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    @classmethod
    def load_or_create(cls, directory: Path) -> TestCA:
        key_path, cert_path = directory / "test-ca.key", directory / "test-ca.pem"
        if key_path.exists() and cert_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            return cls(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
        ca = cls.create()
        directory.mkdir(parents=True, exist_ok=True)
        key_path.write_bytes(ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
        cert_path.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
        return ca

    def issue(self, *, iin: str, name: str, bin_: str | None, org: str | None = None,
              eku: tuple[str, ...] = (EKU_LEGAL_ENTITY, EKU_FIRST_HEAD),
              valid_days: int = 365, valid_from: datetime | None = None) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, name),
                 x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{iin}"),
                 x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")]
        if bin_ is not None:
            attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org or f"Organization {bin_}"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"BIN{bin_}")]
        start = valid_from or datetime.now(UTC) - timedelta(days=1)
        cert = (x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(start + timedelta(days=valid_days))
                .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in eku]), critical=False)
                .sign(self.key, hashes.SHA256()))
        return key, cert

    def tsa(self, *, name: str = "UISE TEST TSA", eku: tuple[str, ...] = (EKU_TIME_STAMPING,),
            valid_days: int = 3650, valid_from: datetime | None = None) -> TestTSA:
        """A timestamp authority certified by this CA (the timeStamping EKU, critical, as RFC 3161
        requires; `eku=()` makes one that lacks it)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        start = valid_from or datetime.now(UTC) - timedelta(days=1)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                                            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")]))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(start + timedelta(days=valid_days))
                   .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                                  critical=True))
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in eku]),
                                            critical=True)
        return TestTSA(key, builder.sign(self.key, hashes.SHA256()))

    def revoke(self, cert: x509.Certificate, when: datetime | None = None) -> None:
        self.revoked[cert.serial_number] = when or datetime.now(UTC)

    def crl(self, next_update_days: int = 7) -> bytes:
        """A CRL (DER) listing what this CA revoked, signed by it."""
        now = datetime.now(UTC)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(now - timedelta(minutes=1)).next_update(now + timedelta(days=next_update_days)))
        for serial, when in self.revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def publish_crl(self, directory: Path) -> Path:
        """Write the CRL where the signature service reads its revocation lists."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "uise-test-ca.crl"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(self.crl())
        tmp.replace(path)  # atomic: a reader never sees half a CRL
        return path



# --- GOST 34.10-2015 512, as NCA RK issues today ---------------------------------------------
# cryptography cannot sign with GOST keys, so certificates and CRLs are assembled with
# asn1crypto and signed with uise_common.pki.gost over their Streebog-512 digest.


def _gost_sig_oid(curve: gost.Curve, kazakh: bool = True) -> str:
    if kazakh:
        return oids.GOST_KZ_SIG_512 if curve.size == 64 else oids.GOST_KZ_SIG_256
    return oids.GOST_TC26_SIG_512 if curve.size == 64 else oids.GOST_TC26_SIG_256


def gost_certificate(subject: ax509.Name, issuer: ax509.Name, issuer_key: gost.PrivateKey,
                     public: tuple[gost.Curve, tuple[int, int]], *, ca: bool, not_before: datetime,
                     not_after: datetime, key_usage: set[str], eku: tuple[str, ...] = (),
                     kazakh: bool = True, eku_critical: bool = False) -> x509.Certificate:
    """An X.509 certificate signed with GOST, in the Kazakh OID arc (or tc26 with kazakh=False)."""
    sig_oid = _gost_sig_oid(issuer_key.curve, kazakh)
    extensions = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
        {"extn_id": "key_usage", "critical": True, "extn_value": key_usage},
    ]
    if eku:
        extensions.append({"extn_id": "extended_key_usage", "critical": eku_critical, "extn_value": list(eku)})
    tbs = ax509.TbsCertificate({
        "version": "v3",
        "serial_number": secrets.randbits(63),
        "signature": {"algorithm": sig_oid},
        "issuer": issuer,
        "validity": {"not_before": ax509.Time({"utc_time": not_before}),
                     "not_after": ax509.Time({"utc_time": not_after})},
        "subject": subject,
        "subject_public_key_info": akeys.PublicKeyInfo.load(gost.spki_der(public[0], public[1], kazakh=kazakh)),
        "extensions": extensions,
    })
    value = issuer_key.sign_digest(gost.streebog(tbs.dump(), issuer_key.curve.size))
    cert = ax509.Certificate({"tbs_certificate": tbs, "signature_algorithm": {"algorithm": sig_oid},
                              "signature_value": value})
    return x509.load_der_x509_certificate(cert.dump())


class GostTestCA:
    """The project's own NCA-shaped test CA on GOST 34.10-2015 512 (tc26 paramSetA): issues heads'
    certificates with IIN/BIN subjects and role EKUs, and signs CRLs. Same interface as TestCA."""

    __test__ = False

    def __init__(self, key: gost.PrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert
        self.revoked: dict[int, datetime] = {}

    @property
    def _name(self) -> ax509.Name:
        return ax509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER)).subject

    @classmethod
    def create(cls, name: str = "UISE GOST TEST ROOT CA", curve: gost.Curve = gost.TC26_512_A, *,
               valid_from: datetime | None = None, valid_days: int = 3650) -> GostTestCA:
        key = gost.PrivateKey(curve, secrets.randbelow(curve.q - 1) + 1)
        subject = ax509.Name.build({"common_name": name, "country_name": "KZ"})
        start = valid_from or datetime.now(UTC) - timedelta(days=1)
        cert = gost_certificate(subject, subject, key, (curve, key.public_point()), ca=True,
                                 not_before=start, not_after=start + timedelta(days=valid_days),
                                 key_usage={"key_cert_sign", "crl_sign"})
        return cls(key, cert)

    @classmethod
    def load_or_create(cls, directory: Path) -> GostTestCA:
        key_path, cert_path = directory / "test-ca-gost.key", directory / "test-ca-gost.pem"
        if key_path.exists() and cert_path.exists():
            d = int(key_path.read_text().strip(), 16)
            return cls(gost.PrivateKey(gost.TC26_512_A, d), x509.load_pem_x509_certificate(cert_path.read_bytes()))
        ca = cls.create()
        directory.mkdir(parents=True, exist_ok=True)
        key_path.write_text(format(ca.key.d, "x"))
        key_path.chmod(0o600)
        cert_path.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
        return ca

    def issue(self, *, iin: str, name: str, bin_: str | None, org: str | None = None,
              eku: tuple[str, ...] = (EKU_LEGAL_ENTITY, EKU_FIRST_HEAD), valid_days: int = 365,
              valid_from: datetime | None = None) -> tuple[gost.PrivateKey, x509.Certificate]:
        curve = self.key.curve
        key = gost.PrivateKey(curve, secrets.randbelow(curve.q - 1) + 1)
        fields = {"common_name": name, "serial_number": f"IIN{iin}", "country_name": "KZ"}
        if bin_ is not None:
            fields.update({"organization_name": org or f"Organization {bin_}", "organizational_unit_name": f"BIN{bin_}"})
        start = valid_from or datetime.now(UTC) - timedelta(days=1)
        cert = gost_certificate(ax509.Name.build(fields), self._name, self.key, (curve, key.public_point()),
                                 ca=False, not_before=start, not_after=start + timedelta(days=valid_days),
                                 key_usage={"digital_signature", "non_repudiation"}, eku=eku)
        return key, cert

    def tsa(self, *, name: str = "UISE GOST TEST TSA", eku: tuple[str, ...] = (EKU_TIME_STAMPING,),
            valid_days: int = 3650, valid_from: datetime | None = None) -> TestTSA:
        """A GOST timestamp authority certified by this CA, as NCA's TSP service is."""
        curve = self.key.curve
        key = gost.PrivateKey(curve, secrets.randbelow(curve.q - 1) + 1)
        start = valid_from or datetime.now(UTC) - timedelta(days=1)
        cert = gost_certificate(ax509.Name.build({"common_name": name, "country_name": "KZ"}), self._name, self.key,
                                (curve, key.public_point()), ca=False, not_before=start,
                                not_after=start + timedelta(days=valid_days),
                                key_usage={"digital_signature", "non_repudiation"}, eku=eku, eku_critical=True)
        return TestTSA(key, cert)

    def revoke(self, cert: x509.Certificate, when: datetime | None = None) -> None:
        self.revoked[cert.serial_number] = when or datetime.now(UTC)

    def crl(self, next_update_days: int = 7) -> bytes:
        now = datetime.now(UTC)
        sig_oid = _gost_sig_oid(self.key.curve)
        tbs = acrl.TbsCertList({
            "version": "v2",
            "signature": {"algorithm": sig_oid},
            "issuer": self._name,
            "this_update": ax509.Time({"utc_time": now - timedelta(minutes=1)}),
            "next_update": ax509.Time({"utc_time": now + timedelta(days=next_update_days)}),
            "revoked_certificates": [
                {"user_certificate": serial, "revocation_date": ax509.Time({"utc_time": when})}
                for serial, when in self.revoked.items()] or None,
        })
        value = self.key.sign_digest(gost.streebog(tbs.dump(), self.key.curve.size))
        return acrl.CertificateList({"tbs_cert_list": tbs, "signature_algorithm": {"algorithm": sig_oid},
                                     "signature": value}).dump()

    publish_crl = TestCA.publish_crl


# --- RFC 3161 timestamps -----------------------------------------------------------------------

@dataclass
class TestTSA:
    """A timestamp authority: answers with a token (a SignedData over a TSTInfo) whose
    messageImprint is the digest of a signature value, as NCA's TSP service does for Kalkan."""

    __test__ = False

    key: rsa.RSAPrivateKey | gost.PrivateKey
    cert: x509.Certificate

    def token(self, signature_value: bytes, gen_time: datetime, *, digest_oid: str | None = None,
              imprint: bytes | None = None, names: x509.Certificate | None = None) -> bytes:
        """A token (ContentInfo DER) over `signature_value` at `gen_time`. The imprint uses
        Streebog-512 for a GOST TSA and SHA-256 for an RSA one unless `digest_oid` says otherwise;
        `imprint` overrides the digest (to make a token over something else) and `names` the
        certificate its signingCertificateV2 attribute names (to make a misattributed one)."""
        if digest_oid is None:
            digest_oid = oids.STREEBOG_512_KZ if isinstance(self.key, gost.PrivateKey) else oids.SHA256
        tst = atsp.TSTInfo({
            "version": "v1",
            "policy": TEST_TSA_POLICY,
            "message_imprint": {"hash_algorithm": {"algorithm": digest_oid},
                                "hashed_message": imprint if imprint is not None else DIGESTS[digest_oid][1](signature_value)},
            "serial_number": secrets.randbits(63),
            "gen_time": gen_time,
            "nonce": secrets.randbits(63),
        })
        tst_der = tst.dump()
        cert_der = (names or self.cert).public_bytes(serialization.Encoding.DER)
        # RFC 5816: the TSA names its certificate by hash, signed.
        ess = acms.CMSAttribute({"type": "signing_certificate_v2", "values": [
            {"certs": [{"hash_algorithm": {"algorithm": "sha256"}, "cert_hash": hashlib.sha256(cert_der).digest()}]}]})
        signer, _ = make_signer(tst_der, self.key, self.cert, content_type="tst_info", signing_time=gen_time,
                                extra_attrs=[ess])
        signed = acms.SignedData({
            "version": "v3",
            "digest_algorithms": [signer["digest_algorithm"]],
            "encap_content_info": {"content_type": "tst_info", "content": tst},
            "certificates": [asn1_certificate(self.cert)],
            "signer_infos": [signer],
        })
        return acms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()

    def stamp(self, signature: bytes, gen_time: datetime, *, index: int = 0, **token_options) -> bytes:
        """`signature` (a CMS) with a token over signer `index`'s signature value attached."""
        value = load_signed_data(signature)["signer_infos"][index]["signature"].native
        return attach_timestamp(signature, self.token(value, gen_time, **token_options), index)

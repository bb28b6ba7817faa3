"""CMS SignedData (RFC 5652), attached and detached: signing as NCALayer does it, and verification
of the signed attributes, the content digest, the signature and the chain to a trust anchor.

Algorithms (DESIGN.md §7): GOST 34.10-2015 512-bit and 256-bit with Streebog (GOST 34.11-2015),
in the Kazakh arc (1.2.398.3.10...) as NCA RK issues them or the tc26 arc (1.2.643.7...), and RSA
with SHA-256. For GOST, `messageDigest` is the plain Streebog digest of the content and the
signature is over the Streebog digest of the DER signed attributes (as a SET OF); the byte order
of keys and signatures is handled in `gost.py`.

Time: the signer's certificate is checked at the signing time (the CMS `signingTime` attribute,
or `at` when the CMS has none) and the CA certificates at `at`, the verification time (default
now). Tests pin `at` and the signing time, since the NCA test keys expire on 2027-05-08.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import cms, core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from uise_common.pki import gost, oids
from uise_common.pki.crl import RevocationLists, cryptography_check
from uise_common.pki.pkcs12 import KeyContainer

# NCA certificates have common names longer than X.520's 64-character upper bound (the CA names
# alone are ~70 characters); cryptography warns on every access to such a name. Not a defect here.
warnings.filterwarnings("ignore", message="Attribute's length must be", category=UserWarning)


class SignatureError(Exception):
    """A verification failure with a stable reason code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SignerInfo:
    iin: str | None
    bin: str | None
    name: str | None
    serial: str
    algorithm: str
    extended_key_usage: tuple[str, ...]
    signing_time: datetime | None


# --- Algorithms ------------------------------------------------------------------------------

GOST_512 = "GOST34.10-2015-512"
GOST_256 = "GOST34.10-2015-256"
RSA_SHA256 = "sha256WithRSA"

DIGESTS: dict[str, tuple[int, Callable[[bytes], bytes]]] = {
    # digest OID -> (size in bytes, function)
    oids.SHA256: (32, lambda data: hashlib.sha256(data).digest()),
    oids.STREEBOG_512_KZ: (64, lambda data: gost.streebog(data, 64)),
    oids.STREEBOG_512: (64, lambda data: gost.streebog(data, 64)),
    oids.STREEBOG_256_KZ: (32, lambda data: gost.streebog(data, 32)),
    oids.STREEBOG_256: (32, lambda data: gost.streebog(data, 32)),
}
STREEBOG_OIDS = frozenset({oids.STREEBOG_512_KZ, oids.STREEBOG_512, oids.STREEBOG_256_KZ, oids.STREEBOG_256})

# GOST signature algorithm OIDs -> digest size. In CMS, Kalkan sometimes names the key algorithm
# instead of the signature algorithm; both are accepted (the key decides the curve anyway).
GOST_SIGNATURES: dict[str, int] = {
    oids.GOST_KZ_SIG_512: 64, oids.GOST_TC26_SIG_512: 64, oids.GOST_KZ_KEY_512: 64, oids.GOST_TC26_KEY_512: 64,
    oids.GOST_KZ_SIG_256: 32, oids.GOST_TC26_SIG_256: 32, oids.GOST_KZ_KEY_256: 32, oids.GOST_TC26_KEY_256: 32,
}


def _spki_der(cert: x509.Certificate) -> bytes:
    # cryptography cannot hand out a GOST public key, so read the raw SubjectPublicKeyInfo.
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))[
        "tbs_certificate"]["subject_public_key_info"].dump()


def _gost_key(cert: x509.Certificate) -> tuple[gost.Curve, tuple[int, int]] | None:
    """The certificate's GOST key, None if it is not a GOST key; SignatureError if unusable."""
    if cert.public_key_algorithm_oid.dotted_string not in gost.GOST_KEY_ALGORITHMS:
        return None
    try:
        return gost.public_key_from_spki(_spki_der(cert))
    except (ValueError, TypeError, KeyError) as exc:  # unknown curve, or an unparseable key
        raise SignatureError("ALGORITHM_UNSUPPORTED", f"unsupported GOST key: {exc}") from exc


def _gost_signed_by(algorithm: str, tbs: bytes, signature: bytes, issuer: x509.Certificate) -> bool:
    """A GOST signature by `issuer` over the to-be-signed bytes of a certificate or a CRL."""
    try:
        key = _gost_key(issuer)
    except SignatureError:
        return False
    size = GOST_SIGNATURES[algorithm]
    if key is None or key[0].size != size:
        return False
    return gost.verify(key[0], key[1], gost.streebog(tbs, size), signature)


def _certificate_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Does `issuer`'s key verify `cert`'s signature? GOST with gost.verify (cryptography cannot),
    everything else with cryptography."""
    algorithm = cert.signature_algorithm_oid.dotted_string
    if algorithm in GOST_SIGNATURES:
        return _gost_signed_by(algorithm, cert.tbs_certificate_bytes, cert.signature, issuer)
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


def _fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


# --- Trust store and chain building ----------------------------------------------------------

MAX_CHAIN = 8  # certificates in a path
MAX_EXTRA_CERTS = 16  # certificates taken from a CMS for path building
MAX_SIGNATURE_CHECKS = 64  # certificate signature checks per path search
_CACHE_LIMIT = 10_000


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _can_issue(cert: x509.Certificate) -> bool:
    bc = _basic_constraints(cert)
    ku = _key_usage(cert)
    return bc is not None and bc.ca and (ku is None or ku.key_cert_sign)


@dataclass
class TrustStore:
    """Trust anchors (self-signed roots, or any certificate the operator trusts outright) and
    intermediates to build paths through. Signature checks of certificates are cached by the
    SHA-256 fingerprints of the certificate and its issuer."""

    anchors: list[x509.Certificate] = field(default_factory=list)
    intermediates: list[x509.Certificate] = field(default_factory=list)
    revocations: RevocationLists | None = None
    _verified: dict[tuple[bytes, bytes], bool] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_dir(cls, path: Path | None, *, crl_urls: Sequence[str] = (), crl_cache: Path | None = None,
                 crl_refresh_seconds: float = 3600.0) -> TrustStore:
        """Every certificate in the directory (PEM, possibly several per file, or DER): the
        self-signed ones become anchors, the others intermediates. Other files are skipped."""
        store = cls(revocations=RevocationLists(path, check_signature=_crl_signed_by, urls=list(crl_urls),
                                                cache_dir=crl_cache, refresh_seconds=crl_refresh_seconds))
        if path is None or not path.exists():
            return store
        certs: list[x509.Certificate] = []
        for f in sorted(path.iterdir()):
            if not f.is_file():
                continue
            data = f.read_bytes()
            if f.suffix in (".pem", ".crt") or data.startswith(b"-----BEGIN"):
                try:
                    certs.extend(x509.load_pem_x509_certificates(data))
                except ValueError:
                    continue  # a PEM file without certificates (a key, a CRL)
            elif f.suffix in (".cer", ".der"):
                certs.append(x509.load_der_x509_certificate(data))
        for cert in certs:
            if cert.subject == cert.issuer and store.signed_by(cert, cert):
                store.anchors.append(cert)
            else:
                store.intermediates.append(cert)
        return store

    def signed_by(self, cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        key = (_fingerprint(cert), _fingerprint(issuer))
        cached = self._verified.get(key)
        if cached is not None:
            return cached
        ok = _certificate_signed_by(cert, issuer)
        with self._lock:
            if len(self._verified) >= _CACHE_LIMIT:
                self._verified.clear()
            self._verified[key] = ok
        return ok

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        """The certificate among anchors and intermediates that issued `cert`, if any."""
        for ca in (*self.anchors, *self.intermediates):
            if ca.subject == cert.issuer and self.signed_by(cert, ca):
                return ca
        return None

    def paths(self, cert: x509.Certificate, extra: Sequence[x509.Certificate] = ()) -> Iterator[list[x509.Certificate]]:
        """Every path from `cert` up to an anchor, leaf first, through the store's intermediates
        and `extra` (the certificates a CMS carries; never anchors themselves). The search is
        bounded: a CMS could carry many same-named, cross-signed certificates to make it explode."""
        anchors = {_fingerprint(a) for a in self.anchors}
        pool = [*self.anchors, *self.intermediates, *extra[:MAX_EXTRA_CERTS]]
        budget = [MAX_SIGNATURE_CHECKS]

        def walk(c: x509.Certificate, seen: frozenset[bytes]) -> Iterator[list[x509.Certificate]]:
            fp = _fingerprint(c)
            if fp in anchors:
                yield [c]
                return
            if len(seen) >= MAX_CHAIN:
                return
            tried: set[bytes] = set()
            for ca in pool:
                ca_fp = _fingerprint(ca)
                if ca_fp in seen or ca_fp in tried or ca.subject != c.issuer:
                    continue
                tried.add(ca_fp)
                if not (ca_fp in anchors or _can_issue(ca)):
                    continue
                if budget[0] <= 0:
                    return
                budget[0] -= 1
                if not self.signed_by(c, ca):
                    continue
                for rest in walk(ca, seen | {fp}):
                    yield [c, *rest]

        yield from walk(cert, frozenset())

    def validate(self, cert: x509.Certificate, signed_at: datetime, extra: Sequence[x509.Certificate] = (),
                 *, checked_at: datetime | None = None) -> list[x509.Certificate]:
        """The first path to an anchor along which the signer's certificate is valid at
        `signed_at`, every CA certificate is valid at `checked_at` (the verification time, default
        `signed_at`), and the signer's key usage allows signing. Raises SignatureError with the
        first path's problem: CHAIN_UNTRUSTED, CERT_NOT_YET_VALID, CERT_EXPIRED or KEY_USAGE."""
        first_error: SignatureError | None = None
        for path in self.paths(cert, extra):
            error = _path_problem(path, signed_at, checked_at or signed_at) or self._revoked(path, checked_at or signed_at)
            if error is None:
                return path
            first_error = first_error or error
        if first_error is not None:
            raise first_error
        raise SignatureError("CHAIN_UNTRUSTED", "the signer's certificate does not chain to a trusted CA")


    def _revoked(self, path: list[x509.Certificate], at: datetime) -> SignatureError | None:
        """CERT_REVOKED when a CRL of an issuer on the path lists a certificate by `at`, the
        verification time: without a trusted timestamp the signer's own signingTime cannot be
        believed over a revocation."""
        if self.revocations is None:
            return None
        for cert, issuer in zip(path, path[1:], strict=False):
            when = self.revocations.revoked_at(cert, issuer, at)
            if when is not None:
                return SignatureError("CERT_REVOKED", f"certificate {format(cert.serial_number, 'x')} was revoked "
                                                      f"at {when.isoformat()}")
        return None


def _crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """A CRL's signature, GOST through gost.verify, the rest through cryptography."""
    algorithm = crl.signature_algorithm_oid.dotted_string
    if algorithm in GOST_SIGNATURES:
        return _gost_signed_by(algorithm, crl.tbs_certlist_bytes, crl.signature, issuer)
    return cryptography_check(crl, issuer)


def _path_problem(path: list[x509.Certificate], signed_at: datetime, checked_at: datetime) -> SignatureError | None:
    for i, c in enumerate(path):
        whose = "the signer's certificate" if i == 0 else f"CA certificate {c.subject.rfc4514_string()}"
        when = signed_at if i == 0 else checked_at
        if when < c.not_valid_before_utc:
            return SignatureError("CERT_NOT_YET_VALID", f"{whose} is not valid yet at {when.isoformat()}")
        if when > c.not_valid_after_utc:
            return SignatureError("CERT_EXPIRED", f"{whose} had expired at {when.isoformat()}")
    for i, ca in enumerate(path[1:-1], start=1):
        bc = _basic_constraints(ca)
        if bc is not None and bc.path_length is not None and i - 1 > bc.path_length:
            return SignatureError("CHAIN_UNTRUSTED", "the chain is longer than a CA's path length constraint")
    ku = _key_usage(path[0])
    if ku is not None and not (ku.digital_signature or ku.content_commitment):
        return SignatureError("KEY_USAGE", "the signer's key usage does not allow digital signatures")
    return None


# --- Verification ----------------------------------------------------------------------------

def _attr(signed_attrs: cms.CMSAttributes, name: str):
    for a in signed_attrs:
        if a["type"].native == name:
            return a["values"][0].native
    return None


def _subject_field(cert: x509.Certificate, oid: x509.ObjectIdentifier, prefix: str) -> str | None:
    for attr in cert.subject.get_attributes_for_oid(oid):
        value = str(attr.value)
        if value.startswith(prefix):
            return value[len(prefix):]
    return None


def describe(cert: x509.Certificate, algorithm: str, signing_time: datetime | None) -> SignerInfo:
    try:
        eku = tuple(o.dotted_string for o in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        eku = ()
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return SignerInfo(
        iin=_subject_field(cert, x509.NameOID.SERIAL_NUMBER, "IIN"),
        bin=_subject_field(cert, x509.NameOID.ORGANIZATIONAL_UNIT_NAME, "BIN"),
        name=str(cn[0].value) if cn else None,
        serial=format(cert.serial_number, "x"),
        algorithm=algorithm,
        extended_key_usage=eku,
        signing_time=signing_time,
    )


def _signer_certificate(sid, certs: list[ax509.Certificate]) -> ax509.Certificate | None:
    sid = sid.chosen
    for c in certs:
        if isinstance(sid, cms.IssuerAndSerialNumber):
            if c.serial_number == sid["serial_number"].native and c.issuer == sid["issuer"]:
                return c
        elif c.key_identifier == sid.native:  # subjectKeyIdentifier
            return c
    return None


def _verify_signature_value(cert: x509.Certificate, digest_oid: str, signature_oid: str,
                            to_verify: bytes, signature: bytes) -> str:
    """Check the signature over the DER signed attributes; returns the algorithm's name."""
    size, digest = DIGESTS[digest_oid]
    gost_key = _gost_key(cert)
    if gost_key is not None:
        curve, point = gost_key
        if digest_oid not in STREEBOG_OIDS or curve.size != size or GOST_SIGNATURES.get(signature_oid) != size:
            raise SignatureError("ALGORITHM_UNSUPPORTED",
                                 f"a {curve.bits}-bit GOST key with digest {digest_oid} and signature {signature_oid}")
        if not gost.verify(curve, point, digest(to_verify), signature):
            raise SignatureError("SIGNATURE_INVALID", "the signature does not verify")
        return GOST_512 if size == 64 else GOST_256
    try:
        public_key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:
        raise SignatureError("ALGORITHM_UNSUPPORTED", f"unsupported signer key: {exc}") from exc
    if not isinstance(public_key, rsa.RSAPublicKey) or digest_oid != oids.SHA256:
        raise SignatureError("ALGORITHM_UNSUPPORTED", "only GOST 34.10-2015 and RSA with SHA-256 are supported")
    if signature_oid not in (oids.SHA256_WITH_RSA, oids.RSA_ENCRYPTION):
        raise SignatureError("ALGORITHM_UNSUPPORTED", f"signature algorithm {signature_oid} with an RSA key")
    try:
        public_key.verify(signature, to_verify, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise SignatureError("SIGNATURE_INVALID", "the signature does not verify") from exc
    return RSA_SHA256


def verify(signature: bytes, document: bytes, trust: TrustStore, at: datetime | None = None) -> SignerInfo:
    """Verify `signature` (CMS, attached or detached) over `document`. Raises SignatureError.

    `at` is the verification time (default now). The signer's certificate must be valid at the
    signing time: the CMS signingTime attribute, or `at` when the CMS has none. The CA
    certificates of the chain must be valid at `at`."""
    try:
        info = cms.ContentInfo.load(signature)
        if info["content_type"].native != "signed_data":
            raise SignatureError("SIGNATURE_MALFORMED", "CMS content is not SignedData")
        sd = info["content"]
        signers = sd["signer_infos"]
        if len(signers) != 1:
            raise SignatureError("SIGNATURE_MALFORMED", f"expected one signer, found {len(signers)}")
        signer = signers[0]
        encap = sd["encap_content_info"]
        attached = encap["content"].native
        # Not `.native`: asn1crypto cannot render a GOST public key natively.
        certs = ([] if isinstance(sd["certificates"], core.Void)
                 else [c.chosen for c in sd["certificates"] if c.name == "certificate"])
        digest_oid = signer["digest_algorithm"]["algorithm"].dotted
        signature_oid = signer["signature_algorithm"]["algorithm"].dotted
        signed_attrs = signer["signed_attrs"]
        has_attrs = bool(signed_attrs.native)
        signature_value = signer["signature"].native
        cert_asn1 = _signer_certificate(signer["sid"], certs)
    except SignatureError:
        raise
    except Exception as exc:
        raise SignatureError("SIGNATURE_MALFORMED", f"not a CMS SignedData: {exc}") from exc
    if attached is not None and attached != document:
        raise SignatureError("CONTENT_MISMATCH", "attached content differs from the stored document")
    if cert_asn1 is None:
        raise SignatureError("SIGNER_CERT_MISSING", "the signer's certificate is not in the CMS")
    try:
        cert = x509.load_der_x509_certificate(cert_asn1.dump())
        extra = [x509.load_der_x509_certificate(c.dump()) for c in certs if c is not cert_asn1]
    except ValueError as exc:
        raise SignatureError("SIGNATURE_MALFORMED", f"a certificate in the CMS is unreadable: {exc}") from exc

    if digest_oid not in DIGESTS:
        raise SignatureError("ALGORITHM_UNSUPPORTED", f"digest algorithm {digest_oid} is not supported")
    if not has_attrs:
        raise SignatureError("SIGNATURE_MALFORMED", "signed attributes are required")
    content_type = _attr(signed_attrs, "content_type")
    if content_type is not None and content_type != encap["content_type"].native:
        raise SignatureError("SIGNATURE_MALFORMED", "the contentType attribute differs from the content's type")
    if _attr(signed_attrs, "message_digest") != DIGESTS[digest_oid][1](document):
        raise SignatureError("CONTENT_MISMATCH", "the signed digest is not the digest of the document")
    signing_time = _attr(signed_attrs, "signing_time")

    # The signature covers the DER of the attributes as a SET OF (tag 0x31), not the [0] in place.
    to_verify = b"\x31" + signed_attrs.dump()[1:]
    algorithm = _verify_signature_value(cert, digest_oid, signature_oid, to_verify, signature_value)

    now = at or datetime.now(UTC)
    trust.validate(cert, signing_time or now, extra, checked_at=now)
    return describe(cert, algorithm, signing_time)


# --- Signing ---------------------------------------------------------------------------------

def sign(document: bytes, key: rsa.RSAPrivateKey | gost.PrivateKey | KeyContainer,
         cert: x509.Certificate | None = None, *, detached: bool = True,
         signing_time: datetime | None = None, extra_certs: Sequence[x509.Certificate] = ()) -> bytes:
    """CMS SignedData over `document` as NCALayer makes it: signed attributes contentType,
    signingTime and messageDigest, the signer's certificate included. `key` is an RSA key, a GOST
    key from `pkcs12.load`, or the whole KeyContainer (then `cert` defaults to its certificate)."""
    if isinstance(key, KeyContainer):
        cert = cert or key.certificate
        key = key.key
    if cert is None:
        raise ValueError("the signer's certificate is required")
    cert_asn1 = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    if isinstance(key, gost.PrivateKey):
        # Name the algorithms in the arc the certificate uses: Kazakh for NCA certificates.
        kazakh = cert.public_key_algorithm_oid.dotted_string.startswith("1.2.398.")
        big = key.curve.size == 64
        digest_oid = {(True, True): oids.STREEBOG_512_KZ, (True, False): oids.STREEBOG_256_KZ,
                      (False, True): oids.STREEBOG_512, (False, False): oids.STREEBOG_256}[(kazakh, big)]
        signature_oid = {(True, True): oids.GOST_KZ_SIG_512, (True, False): oids.GOST_KZ_SIG_256,
                         (False, True): oids.GOST_TC26_SIG_512, (False, False): oids.GOST_TC26_SIG_256}[(kazakh, big)]
    elif isinstance(key, rsa.RSAPrivateKey):
        digest_oid, signature_oid = oids.SHA256, oids.SHA256_WITH_RSA
    else:
        raise TypeError(f"cannot sign with {type(key).__name__}")
    digest = DIGESTS[digest_oid][1]

    attrs = [
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": signing_time or datetime.now(UTC)})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [digest(document)]}),
    ]
    # DER orders a SET OF by the encodings of its elements; verifiers that re-encode (Kalkan,
    # BouncyCastle) hash that order, so produce it.
    signed_attrs = cms.CMSAttributes(sorted(attrs, key=lambda a: a.dump()))
    to_sign = signed_attrs.dump()
    if isinstance(key, gost.PrivateKey):
        signature = key.sign_digest(digest(to_sign))
    else:
        signature = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())

    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
            {"issuer": cert_asn1.issuer, "serial_number": cert_asn1.serial_number})}),
        "digest_algorithm": {"algorithm": digest_oid},
        "signed_attrs": signed_attrs,
        "signature_algorithm": {"algorithm": signature_oid},
        "signature": signature,
    })
    signed_data = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [{"algorithm": digest_oid}],
        "encap_content_info": {"content_type": "data", "content": None if detached else document},
        "certificates": [cert_asn1, *(ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                                      for c in extra_certs)],
        "signer_infos": [signer],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


# --- Reading without verifying -----------------------------------------------------------------

def claimed_signers(signature: bytes, limit: int = 8) -> list[dict[str, str | None]]:
    """Who a CMS says signed it (IIN, BIN, name, certificate serial of each SignerInfo), read
    without any verification: for a receipt to list them at once. The signature service decides
    whether they really did. An unreadable CMS names nobody."""
    try:
        sd = cms.ContentInfo.load(signature)["content"]
        certs = ([] if isinstance(sd["certificates"], core.Void)
                 else [c.chosen for c in sd["certificates"] if c.name == "certificate"])
        out = []
        for signer in list(sd["signer_infos"])[:limit]:
            cert_asn1 = _signer_certificate(signer["sid"], certs)
            if cert_asn1 is None:
                out.append({"iin": None, "bin": None, "name": None, "serial": None})
                continue
            info = describe(x509.load_der_x509_certificate(cert_asn1.dump()), "", None)
            out.append({"iin": info.iin, "bin": info.bin, "name": info.name, "serial": info.serial})
        return out
    except Exception:  # a receipt never fails for this: the verdict comes later
        return []

"""CMS SignedData (RFC 5652), attached and detached: signing as NCALayer does it, and
verification of signed attributes, content digest, signature and the chain to a trust anchor.

This first version handles RSA with SHA-256; GOST 34.10-2015 follows in issue 4 behind the same
`verify` function."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import cms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


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


@dataclass
class TrustStore:
    anchors: list[x509.Certificate] = field(default_factory=list)

    @classmethod
    def from_dir(cls, path: Path | None) -> TrustStore:
        store = cls()
        if path is None or not path.exists():
            return store
        for f in sorted(path.iterdir()):
            data = f.read_bytes()
            if f.suffix in (".pem", ".crt") or data.startswith(b"-----BEGIN"):
                store.anchors.extend(x509.load_pem_x509_certificates(data))
            elif f.suffix in (".cer", ".der"):
                store.anchors.append(x509.load_der_x509_certificate(data))
        return store

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        for ca in self.anchors:
            if ca.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(ca)
                return ca
            except (ValueError, TypeError, InvalidSignature):
                continue
        return None


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


def verify(signature: bytes, document: bytes, trust: TrustStore, at: datetime | None = None) -> SignerInfo:
    """Verify `signature` (CMS, attached or detached) over `document`. Raises SignatureError."""
    try:
        info = cms.ContentInfo.load(signature)
        if info["content_type"].native != "signed_data":
            raise SignatureError("SIGNATURE_MALFORMED", "CMS content is not SignedData")
        sd = info["content"]
        signer = sd["signer_infos"][0]
        attached = sd["encap_content_info"]["content"].native
        certs = [c.chosen for c in sd["certificates"]] if sd["certificates"].native else []
    except SignatureError:
        raise
    except Exception as exc:
        raise SignatureError("SIGNATURE_MALFORMED", f"not a CMS SignedData: {exc}") from exc
    if attached is not None and attached != document:
        raise SignatureError("CONTENT_MISMATCH", "attached content differs from the stored document")

    sid = signer["sid"].chosen
    cert_asn1 = next((c for c in certs if isinstance(sid, cms.IssuerAndSerialNumber)
                      and c.serial_number == sid["serial_number"].native
                      and c.issuer == sid["issuer"]), None)
    if cert_asn1 is None:
        raise SignatureError("SIGNER_CERT_MISSING", "the signer's certificate is not in the CMS")
    cert = x509.load_der_x509_certificate(cert_asn1.dump())

    digest_alg = signer["digest_algorithm"]["algorithm"].native
    if digest_alg != "sha256":
        raise SignatureError("ALGORITHM_UNSUPPORTED", f"digest algorithm {digest_alg} is not supported yet")
    signed_attrs = signer["signed_attrs"]
    if not signed_attrs.native:
        raise SignatureError("SIGNATURE_MALFORMED", "signed attributes are required")
    if _attr(signed_attrs, "message_digest") != hashlib.sha256(document).digest():
        raise SignatureError("CONTENT_MISMATCH", "the signed digest is not the digest of the document")
    signing_time = _attr(signed_attrs, "signing_time")

    # The signature covers the DER of the attributes as a SET OF (tag 0x31), not the [0] in place.
    to_verify = b"\x31" + signed_attrs.dump()[1:]
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SignatureError("ALGORITHM_UNSUPPORTED", "only RSA signers are supported in this version")
    try:
        public_key.verify(signer["signature"].native, to_verify, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise SignatureError("SIGNATURE_INVALID", "the signature does not verify") from exc

    when = signing_time or at or datetime.now(UTC)
    if trust.issuer_of(cert) is None:
        raise SignatureError("CHAIN_UNTRUSTED", "the signer's certificate does not chain to a trusted CA")
    if when < cert.not_valid_before_utc:
        raise SignatureError("CERT_NOT_YET_VALID", f"the certificate is not valid yet at {when.isoformat()}")
    if when > cert.not_valid_after_utc:
        raise SignatureError("CERT_EXPIRED", f"the certificate had expired at {when.isoformat()}")
    return describe(cert, "sha256WithRSA", signing_time)


def sign(document: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate, *, detached: bool = True,
         signing_time: datetime | None = None) -> bytes:
    """CMS SignedData over `document` with contentType, signingTime and messageDigest."""
    cert_asn1 = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": signing_time or datetime.now(UTC)})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(document).digest()]}),
    ])
    signature = key.sign(attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
            {"issuer": cert_asn1.issuer, "serial_number": cert_asn1.serial_number})}),
        "digest_algorithm": {"algorithm": "sha256"},
        "signed_attrs": attrs,
        "signature_algorithm": {"algorithm": "sha256_rsa"},
        "signature": signature,
    })
    signed_data = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": "data", "content": None if detached else document},
        "certificates": [cert_asn1],
        "signer_infos": [signer],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()

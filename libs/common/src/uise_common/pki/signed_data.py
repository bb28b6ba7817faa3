"""One SignerInfo of a CMS SignedData (RFC 5652 §5.3-5.6), built and checked: the parts shared by
document signatures (`cms`) and RFC 3161 timestamp tokens (`timestamp`), which are SignedData too.

For GOST, `messageDigest` is the plain Streebog digest of the content and the signature is over
the Streebog digest of the DER signed attributes (as a SET OF); the byte order of keys and
signatures is handled in `gost.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import cms, core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from uise_common.pki import gost, oids
from uise_common.pki.algorithms import DIGESTS, SignatureError, verify_signature_value
from uise_common.pki.pkcs12 import KeyContainer
from uise_common.pki.trust import parse_certificate

SigningKey = rsa.RSAPrivateKey | gost.PrivateKey | KeyContainer


def load_signed_data(der: bytes) -> cms.SignedData:
    """The SignedData of a ContentInfo; SIGNATURE_MALFORMED for anything else."""
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise SignatureError("SIGNATURE_MALFORMED", "CMS content is not SignedData")
        sd = info["content"]
        len(sd["signer_infos"])  # parse the SignerInfos' framing now (asn1crypto parses lazily)
        return sd
    except SignatureError:
        raise
    except Exception as exc:
        raise SignatureError("SIGNATURE_MALFORMED", f"not a CMS SignedData: {exc}") from exc


def carried_certificates(sd: cms.SignedData) -> list[ax509.Certificate]:
    # Not `.native`: asn1crypto cannot render a GOST public key natively.
    if isinstance(sd["certificates"], core.Void):
        return []
    return [c.chosen for c in sd["certificates"] if c.name == "certificate"]


def signer_certificate(sid: cms.SignerIdentifier, certs: Sequence[ax509.Certificate]) -> ax509.Certificate | None:
    chosen = sid.chosen
    for c in certs:
        if isinstance(chosen, cms.IssuerAndSerialNumber):
            if c.serial_number == chosen["serial_number"].native and c.issuer == chosen["issuer"]:
                return c
        elif c.key_identifier == chosen.native:  # subjectKeyIdentifier
            return c
    return None


def signed_attribute(signed_attrs: cms.CMSAttributes, name: str):
    for a in signed_attrs:
        if a["type"].native == name:
            return a["values"][0].native
    return None


@dataclass(frozen=True)
class CheckedSigner:
    """A SignerInfo whose content digest and signature verify; its certificate is not judged yet."""

    certificate: x509.Certificate
    algorithm: str
    signing_time: datetime | None
    signature_value: bytes  # what an RFC 3161 timestamp of this signature is over
    unsigned_attrs: cms.CMSAttributes | core.Void


def check_signer(signer: cms.SignerInfo, content: bytes, content_type: str,
                 certs: Sequence[ax509.Certificate], more_certs: Sequence[x509.Certificate] = ()) -> CheckedSigner:
    """Check one SignerInfo over `content`: its certificate is found (among `certs` the CMS
    carries, then `more_certs`), the signed attributes are present, their contentType is
    `content_type`, their messageDigest is the content's digest and the signature verifies.
    Raises SignatureError (SIGNATURE_MALFORMED, SIGNER_CERT_MISSING, ALGORITHM_UNSUPPORTED,
    CONTENT_MISMATCH, SIGNATURE_INVALID)."""
    try:
        digest_oid = signer["digest_algorithm"]["algorithm"].dotted
        signature_oid = signer["signature_algorithm"]["algorithm"].dotted
        signed_attrs = signer["signed_attrs"]
        has_attrs = bool(signed_attrs.native)
        signature_value = signer["signature"].native
        unsigned_attrs = signer["unsigned_attrs"]
        cert_asn1 = signer_certificate(signer["sid"], certs)
        cert = parse_certificate(cert_asn1.dump()) if cert_asn1 is not None else None
    except Exception as exc:
        raise SignatureError("SIGNATURE_MALFORMED", f"an unreadable SignerInfo: {exc}") from exc
    if cert is None:
        sid = signer["sid"].chosen
        # A timestamp token may leave its TSA's certificate out when the verifier has it.
        if isinstance(sid, cms.IssuerAndSerialNumber):
            cert = next((c for c in more_certs if c.serial_number == sid["serial_number"].native
                         and c.issuer.public_bytes() == sid["issuer"].dump()), None)
    if cert is None:
        raise SignatureError("SIGNER_CERT_MISSING", "the signer's certificate is not in the CMS")
    if digest_oid not in DIGESTS:
        raise SignatureError("ALGORITHM_UNSUPPORTED", f"digest algorithm {digest_oid} is not supported")
    if not has_attrs:
        raise SignatureError("SIGNATURE_MALFORMED", "signed attributes are required")
    try:
        claimed_type = signed_attribute(signed_attrs, "content_type")
        message_digest = signed_attribute(signed_attrs, "message_digest")
        signing_time = signed_attribute(signed_attrs, "signing_time")
    except Exception as exc:
        raise SignatureError("SIGNATURE_MALFORMED", f"an unreadable signed attribute: {exc}") from exc
    if claimed_type is not None and claimed_type != content_type:
        raise SignatureError("SIGNATURE_MALFORMED", "the contentType attribute differs from the content's type")
    if message_digest != DIGESTS[digest_oid][1](content):
        raise SignatureError("CONTENT_MISMATCH", "the signed digest is not the digest of the document")
    if signing_time is not None and not isinstance(signing_time, datetime):
        raise SignatureError("SIGNATURE_MALFORMED", "the signingTime attribute is not a time")
    # The signature covers the DER of the attributes as a SET OF (tag 0x31), not the [0] in place.
    to_verify = b"\x31" + signed_attrs.dump()[1:]
    algorithm = verify_signature_value(cert, digest_oid, signature_oid, to_verify, signature_value)
    return CheckedSigner(cert, algorithm, signing_time, signature_value, unsigned_attrs)


def _algorithms_for(key: rsa.RSAPrivateKey | gost.PrivateKey, cert: x509.Certificate) -> tuple[str, str]:
    """(digest OID, signature OID) as NCALayer names them: GOST in the arc the certificate uses
    (Kazakh for NCA certificates), or RSA with SHA-256."""
    if isinstance(key, gost.PrivateKey):
        kazakh = cert.public_key_algorithm_oid.dotted_string.startswith("1.2.398.")
        big = key.curve.size == 64
        digest_oid = {(True, True): oids.STREEBOG_512_KZ, (True, False): oids.STREEBOG_256_KZ,
                      (False, True): oids.STREEBOG_512, (False, False): oids.STREEBOG_256}[(kazakh, big)]
        signature_oid = {(True, True): oids.GOST_KZ_SIG_512, (True, False): oids.GOST_KZ_SIG_256,
                         (False, True): oids.GOST_TC26_SIG_512, (False, False): oids.GOST_TC26_SIG_256}[(kazakh, big)]
        return digest_oid, signature_oid
    if isinstance(key, rsa.RSAPrivateKey):
        return oids.SHA256, oids.SHA256_WITH_RSA
    raise TypeError(f"cannot sign with {type(key).__name__}")


def asn1_certificate(cert: x509.Certificate) -> ax509.Certificate:
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def make_signer(content: bytes, key: SigningKey, cert: x509.Certificate | None = None, *,
                content_type: str = "data", signing_time: datetime | None = None,
                extra_attrs: Sequence[cms.CMSAttribute] = ()) -> tuple[cms.SignerInfo, x509.Certificate]:
    """A SignerInfo over `content` as NCALayer makes it: signed attributes contentType,
    signingTime, messageDigest (and `extra_attrs`), sid by issuer and serial. `key` is an RSA key,
    a GOST key from `pkcs12.load`, or the whole KeyContainer (then `cert` defaults to its
    certificate). Returns the SignerInfo and the signer's certificate."""
    if isinstance(key, KeyContainer):
        cert = cert or key.certificate
        key = key.key
    if cert is None:
        raise ValueError("the signer's certificate is required")
    digest_oid, signature_oid = _algorithms_for(key, cert)
    digest = DIGESTS[digest_oid][1]
    cert_asn1 = asn1_certificate(cert)
    attrs = [
        cms.CMSAttribute({"type": "content_type", "values": [content_type]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": signing_time or datetime.now(UTC)})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [digest(content)]}),
        *extra_attrs,
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
    return signer, cert

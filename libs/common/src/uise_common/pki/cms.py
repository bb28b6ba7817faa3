"""CMS SignedData (RFC 5652) over a document, attached or detached, with one signer or several
(Kalkan co-signing: the director and the chief accountant): signing and co-signing as NCALayer
does it, and verification of every signer at the trusted time.

The trusted time. A signer writes the CMS `signingTime` himself, so a certificate is never
judged at it: every signer's certificate chain must be valid and unrevoked at the time the
verifier trusts, `at` (the delivery time intake recorded), or, when the SignerInfo carries a
valid RFC 3161 timestamp token (`timestamp.py`), at the token's genTime. The signingTime itself
must lie within [at - max_age, at + clock_skew]: a school PC's clock drifts a few minutes, but a
signature "made" after its delivery, or weeks before it, is refused with its own reason code.

Algorithms (DESIGN.md §7) in `algorithms.py`; chain building and the trust directory in
`trust.py`; the checks of one SignerInfo in `signed_data.py`. Tests pin `at`, since the NCA test
keys expire on 2027-05-08.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from asn1crypto import cms, core
from cryptography import x509

from uise_common.pki import timestamp
from uise_common.pki.algorithms import (
    DIGESTS,
    GOST_256,
    GOST_512,
    GOST_SIGNATURES,
    RSA_SHA256,
    STREEBOG_OIDS,
    SignatureError,
)
from uise_common.pki.signed_data import (
    SigningKey,
    asn1_certificate,
    carried_certificates,
    check_signer,
    load_signed_data,
    make_signer,
    signed_attribute,
    signer_certificate,
)
from uise_common.pki.trust import TrustStore, extended_key_usage, parse_certificate

__all__ = [
    "CLOCK_SKEW", "DIGESTS", "GOST_256", "GOST_512", "GOST_SIGNATURES", "MAX_AGE", "MAX_SIGNERS", "RSA_SHA256",
    "STREEBOG_OIDS", "ClaimedSigner", "SignatureError", "SignerInfo", "TrustStore", "attach_timestamp",
    "claimed_signers", "cosign", "describe", "sign", "verify", "verify_all",
]

MAX_SIGNERS = 8  # SignerInfos in one CMS: co-signing needs two or three; each costs a chain search
CLOCK_SKEW = timedelta(minutes=5)  # defaults of settings.signature_clock_skew_seconds / _max_age_days
MAX_AGE = timedelta(days=14)

TimeSource = Literal["delivery", "timestamp"]


@dataclass(frozen=True)
class SignerInfo:
    """A verified signer: who (from the certificate), with what, when he says he signed, and the
    trusted time his certificate was judged at."""

    iin: str | None
    bin: str | None
    name: str | None
    serial: str
    algorithm: str
    extended_key_usage: tuple[str, ...]
    signing_time: datetime | None
    trusted_time: datetime | None = None
    time_source: TimeSource | None = None


@dataclass(frozen=True)
class ClaimedSigner:
    """Who a SignerInfo's certificate names, not verified (for a receipt, before verification)."""

    iin: str | None
    bin: str | None
    name: str | None
    serial: str | None


def _subject_field(cert: x509.Certificate, oid: x509.ObjectIdentifier, prefix: str) -> str | None:
    for attr in cert.subject.get_attributes_for_oid(oid):
        value = str(attr.value)
        if value.startswith(prefix):
            return value[len(prefix):]
    return None


def _common_name(cert: x509.Certificate) -> str | None:
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(cn[0].value) if cn else None


def describe(cert: x509.Certificate, algorithm: str, signing_time: datetime | None,
             trusted_time: datetime | None = None, time_source: TimeSource | None = None) -> SignerInfo:
    return SignerInfo(
        iin=_subject_field(cert, x509.NameOID.SERIAL_NUMBER, "IIN"),
        bin=_subject_field(cert, x509.NameOID.ORGANIZATIONAL_UNIT_NAME, "BIN"),
        name=_common_name(cert),
        serial=format(cert.serial_number, "x"),
        algorithm=algorithm,
        extended_key_usage=extended_key_usage(cert),
        signing_time=signing_time,
        trusted_time=trusted_time,
        time_source=time_source,
    )


# --- Verification ----------------------------------------------------------------------------

def _aware(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the verification time must carry a UTC offset (a naive time is ambiguous)")
    return at


def _verify_signer(si: cms.SignerInfo, document: bytes, content_type: str, certs, extra: list[x509.Certificate],
                   trust: TrustStore, at: datetime, clock_skew: timedelta, max_age: timedelta | None) -> SignerInfo:
    checked = check_signer(si, document, content_type, certs)
    claimed = checked.signing_time
    if claimed is not None:
        if claimed > at + clock_skew:
            raise SignatureError("SIGNING_TIME_AFTER_DELIVERY",
                                 f"signingTime {claimed.isoformat()} is after the delivery at {at.isoformat()} "
                                 f"(beyond the allowed clock skew of {clock_skew})")
        if max_age is not None and claimed < at - max_age:
            raise SignatureError("SIGNING_TIME_TOO_OLD",
                                 f"signingTime {claimed.isoformat()} is more than {max_age.days} days before "
                                 f"the delivery at {at.isoformat()}")
    stamps = [timestamp.verify_token(t, checked.signature_value, trust, not_after=at + clock_skew)
              for t in timestamp.tokens(checked.unsigned_attrs)]
    trusted, source = (min(s.gen_time for s in stamps), "timestamp") if stamps else (at, "delivery")
    trust.validate(checked.certificate, trusted, extra)
    return describe(checked.certificate, checked.algorithm, claimed, trusted, source)


def verify_all(signature: bytes, document: bytes, trust: TrustStore, at: datetime | None = None, *,
               clock_skew: timedelta = CLOCK_SKEW, max_age: timedelta | None = MAX_AGE) -> list[SignerInfo]:
    """Verify every signer of `signature` (CMS, attached or detached) over `document`; returns
    them in the CMS's order (DER sorts a SET OF by encoding, so not necessarily who signed first). Raises SignatureError with the first failure's reason code: one
    broken co-signature refuses the whole CMS.

    `at` is the trusted time of receipt (intake's delivery time; default now; it must carry an
    offset). Each signer's signingTime must lie within [at - max_age, at + clock_skew]; his
    certificate chain is judged at his timestamp token's genTime when he carries a valid one, else
    at `at`."""
    at = _aware(at)
    sd = load_signed_data(signature)
    try:
        signer_infos = list(sd["signer_infos"])
        encap = sd["encap_content_info"]
        content_type = encap["content_type"].native
        attached = encap["content"].native
        certs = carried_certificates(sd)
    except Exception as exc:
        raise SignatureError("SIGNATURE_MALFORMED", f"not a CMS SignedData: {exc}") from exc
    if not signer_infos:
        raise SignatureError("SIGNATURE_MALFORMED", "the CMS has no signer")
    if len(signer_infos) > MAX_SIGNERS:
        raise SignatureError("TOO_MANY_SIGNERS", f"{len(signer_infos)} signers, at most {MAX_SIGNERS} are accepted")
    if attached is not None and attached != document:
        raise SignatureError("CONTENT_MISMATCH", "attached content differs from the stored document")
    try:
        extra = [parse_certificate(c.dump()) for c in certs]
    except ValueError as exc:
        raise SignatureError("SIGNATURE_MALFORMED", f"a certificate in the CMS is unreadable: {exc}") from exc
    verified = []
    for i, si in enumerate(signer_infos, start=1):
        try:
            verified.append(_verify_signer(si, document, content_type, certs, extra, trust, at, clock_skew, max_age))
        except SignatureError as exc:
            if len(signer_infos) == 1:
                raise
            serial = _sid_serial(si)
            raise SignatureError(exc.code, f"signer {i} of {len(signer_infos)}"
                                           f"{f' (serial {serial})' if serial else ''}: {exc}") from exc
    return verified


def _sid_serial(si: cms.SignerInfo) -> str | None:
    """The certificate serial a SignerInfo names (hex, as `SignerInfo.serial`), if it names one."""
    try:
        sid = si["sid"].chosen
        return format(sid["serial_number"].native, "x") if isinstance(sid, cms.IssuerAndSerialNumber) else None
    except Exception:  # a malformed sid: the error that follows says so
        return None


def verify(signature: bytes, document: bytes, trust: TrustStore, at: datetime | None = None, *,
           clock_skew: timedelta = CLOCK_SKEW, max_age: timedelta | None = MAX_AGE) -> SignerInfo:
    """`verify_all` for a CMS that must have exactly one signer (a sign-in challenge); a
    co-signed CMS is SIGNATURE_MALFORMED here. Documents go through `verify_all`."""
    signers = verify_all(signature, document, trust, at, clock_skew=clock_skew, max_age=max_age)
    if len(signers) != 1:
        raise SignatureError("SIGNATURE_MALFORMED", f"expected one signer, found {len(signers)}")
    return signers[0]


def claimed_signers(signature: bytes) -> list[ClaimedSigner]:
    """Who each SignerInfo's certificate names (IIN, BIN, name, serial), without verifying
    anything: cheap enough for intake's receipt. A SignerInfo whose certificate is not carried
    gets only the serial its sid names. SIGNATURE_MALFORMED / TOO_MANY_SIGNERS on bad input."""
    sd = load_signed_data(signature)
    try:
        signer_infos = list(sd["signer_infos"])
        certs = carried_certificates(sd)
        if len(signer_infos) > MAX_SIGNERS:
            raise SignatureError("TOO_MANY_SIGNERS", f"{len(signer_infos)} signers, at most {MAX_SIGNERS}")
        claimed = []
        for si in signer_infos:
            cert_asn1 = signer_certificate(si["sid"], certs)
            if cert_asn1 is None:
                claimed.append(ClaimedSigner(iin=None, bin=None, name=None, serial=_sid_serial(si)))
                continue
            cert = x509.load_der_x509_certificate(cert_asn1.dump())
            claimed.append(ClaimedSigner(
                iin=_subject_field(cert, x509.NameOID.SERIAL_NUMBER, "IIN"),
                bin=_subject_field(cert, x509.NameOID.ORGANIZATIONAL_UNIT_NAME, "BIN"),
                name=_common_name(cert), serial=format(cert.serial_number, "x")))
        return claimed
    except SignatureError:
        raise
    except Exception as exc:
        raise SignatureError("SIGNATURE_MALFORMED", f"an unreadable SignerInfo: {exc}") from exc


# --- Signing ---------------------------------------------------------------------------------

def _signed_data(sd: cms.SignedData | None = None, **parts) -> bytes:
    """A ContentInfo around a SignedData made of `sd`'s parts with some replaced. The parts are
    asn1crypto's parsed values, dumped as they came: asn1crypto cannot re-encode a GOST key."""
    fields = ("version", "digest_algorithms", "encap_content_info", "certificates", "signer_infos")
    values = {f: parts[f] if f in parts else sd[f] for f in fields}
    if isinstance(values["certificates"], core.Void):
        del values["certificates"]
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(values)}).dump()


def sign(document: bytes, key: SigningKey, cert: x509.Certificate | None = None, *, detached: bool = True,
         signing_time: datetime | None = None, extra_certs: Sequence[x509.Certificate] = ()) -> bytes:
    """CMS SignedData over `document` as NCALayer makes it: signed attributes contentType,
    signingTime and messageDigest, the signer's certificate included. `key` is an RSA key, a GOST
    key from `pkcs12.load`, or the whole KeyContainer (then `cert` defaults to its certificate)."""
    signer, cert = make_signer(document, key, cert, signing_time=signing_time)
    return _signed_data(
        version="v1",
        digest_algorithms=[signer["digest_algorithm"]],
        encap_content_info={"content_type": "data", "content": None if detached else document},
        certificates=[asn1_certificate(cert), *(asn1_certificate(c) for c in extra_certs)],
        signer_infos=[signer],
    )


def cosign(existing: bytes, document: bytes, key: SigningKey, cert: x509.Certificate | None = None, *,
           signing_time: datetime | None = None) -> bytes:
    """Add a SignerInfo over the same `document` to an existing CMS, as Kalkan co-signs: the
    existing signatures are kept byte for byte, the new signer's certificate and digest algorithm
    are added. Refuses (SignatureError) a CMS that is not over this document, or that has
    MAX_SIGNERS already. The existing signatures are not verified here: `verify_all` does that."""
    sd = load_signed_data(existing)
    try:
        signer_infos = list(sd["signer_infos"])
        encap = sd["encap_content_info"]
        attached = encap["content"].native
        certs = list(sd["certificates"]) if not isinstance(sd["certificates"], core.Void) else []
        digest_algorithms = list(sd["digest_algorithms"])
        for si in signer_infos:
            digest_oid = si["digest_algorithm"]["algorithm"].dotted
            if digest_oid in DIGESTS and signed_attribute(si["signed_attrs"], "message_digest") != DIGESTS[digest_oid][1](document):
                raise SignatureError("CONTENT_MISMATCH", "the existing signature is not over this document")
    except SignatureError:
        raise
    except Exception as exc:
        raise SignatureError("SIGNATURE_MALFORMED", f"not a CMS SignedData: {exc}") from exc
    if encap["content_type"].native != "data":
        raise SignatureError("SIGNATURE_MALFORMED", "only a CMS over data can be co-signed")
    if attached is not None and attached != document:
        raise SignatureError("CONTENT_MISMATCH", "the CMS carries other content than this document")
    if len(signer_infos) >= MAX_SIGNERS:
        raise SignatureError("TOO_MANY_SIGNERS", f"the CMS has {len(signer_infos)} signers already")
    signer, cert = make_signer(document, key, cert, signing_time=signing_time)
    new_cert = asn1_certificate(cert)
    if all(not (c.name == "certificate" and c.chosen.dump() == new_cert.dump()) for c in certs):
        certs.append(cms.CertificateChoices(name="certificate", value=new_cert))
    new_digest = signer["digest_algorithm"]["algorithm"].dotted
    if all(d["algorithm"].dotted != new_digest for d in digest_algorithms):
        digest_algorithms.append(signer["digest_algorithm"])
    return _signed_data(sd, digest_algorithms=digest_algorithms, certificates=certs,
                        signer_infos=[*signer_infos, signer])


def attach_timestamp(signature: bytes, token: bytes, index: int = 0) -> bytes:
    """The CMS with an RFC 3161 token (a ContentInfo from a TSA, over the digest of signer
    `index`'s signature value) added to that SignerInfo's unsigned attributes, as Kalkan does with
    a token from NCA's TSP service. Nothing signed changes."""
    sd = load_signed_data(signature)
    signer_infos = list(sd["signer_infos"])
    si = signer_infos[index]
    unsigned = [] if isinstance(si["unsigned_attrs"], core.Void) else list(si["unsigned_attrs"])
    unsigned.append(cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [cms.ContentInfo.load(token)]}))
    fields = ("version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm", "signature")
    signer_infos[index] = cms.SignerInfo({**{f: si[f] for f in fields}, "unsigned_attrs": unsigned})
    return _signed_data(sd, signer_infos=signer_infos)

"""RFC 3161 timestamp tokens on CMS signatures, as NCA RK's TSP service issues them and Kalkan
attaches them: an unsigned attribute id-aa-signatureTimeStampToken of a SignerInfo holding a
SignedData over a TSTInfo whose messageImprint is the digest of that SignerInfo's signature value.

A valid token proves the signature existed at its genTime, so the signer's certificate is judged
then rather than at delivery. A token that is present but does not check out is TIMESTAMP_INVALID:
ignoring it would let a forged time pass silently in some other path later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, core, tsp
from cryptography.hazmat.primitives import serialization

from uise_common.pki import oids
from uise_common.pki.algorithms import DIGESTS, SignatureError
from uise_common.pki.signed_data import carried_certificates, check_signer, load_signed_data
from uise_common.pki.trust import TrustStore, parse_certificate

MAX_TOKENS = 4  # tokens on one SignerInfo (Kalkan attaches one); each costs a chain search


@dataclass(frozen=True)
class Timestamp:
    gen_time: datetime
    serial_number: int
    tsa: str  # the TSA certificate's subject
    digest_algorithm: str  # of the messageImprint


def tokens(unsigned_attrs: cms.CMSAttributes | core.Void) -> list[bytes]:
    """The DER of every timestamp token among a SignerInfo's unsigned attributes."""
    if isinstance(unsigned_attrs, core.Void):
        return []
    found: list[bytes] = []
    try:
        for attr in unsigned_attrs:
            if attr["type"].dotted == oids.AA_SIGNATURE_TIMESTAMP_TOKEN:
                found.extend(v.dump() for v in attr["values"])
    except Exception as exc:
        raise SignatureError("TIMESTAMP_INVALID", f"unreadable unsigned attributes: {exc}") from exc
    if len(found) > MAX_TOKENS:
        raise SignatureError("TIMESTAMP_INVALID", f"{len(found)} timestamp tokens on one signature (at most {MAX_TOKENS})")
    return found


def verify_token(token: bytes, signature_value: bytes, trust: TrustStore, *, not_after: datetime) -> Timestamp:
    """Check a token over `signature_value` (the SignerInfo's signature octets): a SignedData over
    a TSTInfo, signed by a TSA whose certificate chains to the trust store, carries the
    timeStamping EKU and is valid and unrevoked at genTime; the messageImprint matches; genTime
    is not after `not_after` (delivery plus the clock skew). Raises TIMESTAMP_INVALID."""
    try:
        return _verify(token, signature_value, trust, not_after)
    except SignatureError as exc:
        if exc.code == "TIMESTAMP_INVALID":
            raise
        raise SignatureError("TIMESTAMP_INVALID", f"timestamp token: {exc} ({exc.code})") from exc


def _verify(token: bytes, signature_value: bytes, trust: TrustStore, not_after: datetime) -> Timestamp:
    sd = load_signed_data(token)
    try:
        encap = sd["encap_content_info"]
        if encap["content_type"].dotted != oids.CT_TST_INFO:
            raise SignatureError("TIMESTAMP_INVALID", f"token content is {encap['content_type'].dotted}, not TSTInfo")
        content = encap["content"]
        if isinstance(content, core.Void):
            raise SignatureError("TIMESTAMP_INVALID", "the token carries no TSTInfo")
        tst_der = content.contents  # the eContent OCTET STRING's value: the DER TSTInfo
        tst = tsp.TSTInfo.load(tst_der)
        imprint_oid = tst["message_imprint"]["hash_algorithm"]["algorithm"].dotted
        imprint = tst["message_imprint"]["hashed_message"].native
        gen_time = tst["gen_time"].native
        serial = tst["serial_number"].native
        signers = list(sd["signer_infos"])
        certs = carried_certificates(sd)
    except SignatureError:
        raise
    except Exception as exc:
        raise SignatureError("TIMESTAMP_INVALID", f"an unreadable timestamp token: {exc}") from exc
    if len(signers) != 1:
        raise SignatureError("TIMESTAMP_INVALID", f"a token has one signer, this one {len(signers)}")
    if imprint_oid not in DIGESTS:
        raise SignatureError("TIMESTAMP_INVALID", f"messageImprint digest {imprint_oid} is not supported")
    if imprint != DIGESTS[imprint_oid][1](signature_value):
        raise SignatureError("TIMESTAMP_INVALID", "the token's messageImprint is not the digest of this signature")
    if not isinstance(gen_time, datetime) or gen_time.tzinfo is None:
        raise SignatureError("TIMESTAMP_INVALID", "the token's genTime is not a time")
    if gen_time > not_after:
        raise SignatureError("TIMESTAMP_INVALID", f"the token's genTime {gen_time.isoformat()} is after delivery")

    checked = check_signer(signers[0], tst_der, "tst_info", certs, more_certs=[*trust.intermediates, *trust.anchors])
    _check_ess_certificate(signers[0]["signed_attrs"], checked.certificate.public_bytes(serialization.Encoding.DER))
    try:
        extra = [parse_certificate(c.dump()) for c in certs]
    except ValueError as exc:
        raise SignatureError("TIMESTAMP_INVALID", f"a certificate in the token is unreadable: {exc}") from exc
    trust.validate(checked.certificate, gen_time, extra, purpose=oids.EKU_TIME_STAMPING)
    return Timestamp(gen_time=gen_time, serial_number=serial, tsa=checked.certificate.subject.rfc4514_string(),
                     digest_algorithm=imprint_oid)


def _check_ess_certificate(signed_attrs: cms.CMSAttributes, tsa_der: bytes) -> None:
    """RFC 3161 §2.4.1 / RFC 5816: the TSA names its certificate by hash in a signed
    signingCertificate(V2) attribute, so a token cannot be re-attributed to another certificate
    of the same key. Checked when present (the first ESSCertID is the signer's)."""
    for attr in signed_attrs:
        name = attr["type"].native
        if name not in ("signing_certificate", "signing_certificate_v2"):
            continue
        try:
            first = attr["values"][0]["certs"][0]
            if name == "signing_certificate":
                digest_oid, expected = oids.SHA1, first["cert_hash"].native
            else:
                digest_oid, expected = first["hash_algorithm"]["algorithm"].dotted, first["cert_hash"].native
        except Exception as exc:
            raise SignatureError("TIMESTAMP_INVALID", f"an unreadable signingCertificate attribute: {exc}") from exc
        if digest_oid == oids.SHA1:
            actual = hashlib.sha1(tsa_der).digest()  # noqa: S324 (ESS v1 names SHA-1; an identifier, not a signature)
        elif digest_oid in DIGESTS:
            actual = DIGESTS[digest_oid][1](tsa_der)
        else:
            raise SignatureError("TIMESTAMP_INVALID", f"signingCertificate hash {digest_oid} is not supported")
        if actual != expected:
            raise SignatureError("TIMESTAMP_INVALID", "the token's signingCertificate is not the TSA's certificate")

"""The signature algorithms we verify, and the error every check raises.

GOST 34.10-2015 512-bit and 256-bit with Streebog (GOST 34.11-2015), in the Kazakh arc
(1.2.398.3.10...) as NCA RK issues them or the tc26 arc (1.2.643.7...), checked with our own
`gost.verify` (cryptography has no GOST); RSA with SHA-256 through cryptography. Used for CMS
signatures, certificates and CRLs alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from uise_common.pki import gost, oids
from uise_common.pki.crl import cryptography_check


class SignatureError(Exception):
    """A verification failure with a stable reason code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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


def fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def _spki_der(cert: x509.Certificate) -> bytes:
    # cryptography cannot hand out a GOST public key, so read the raw SubjectPublicKeyInfo.
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))[
        "tbs_certificate"]["subject_public_key_info"].dump()


def gost_key(cert: x509.Certificate) -> tuple[gost.Curve, tuple[int, int]] | None:
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
        key = gost_key(issuer)
    except SignatureError:
        return False
    size = GOST_SIGNATURES[algorithm]
    if key is None or key[0].size != size:
        return False
    return gost.verify(key[0], key[1], gost.streebog(tbs, size), signature)


def certificate_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
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


def crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """A CRL's signature, GOST through gost.verify, the rest through cryptography."""
    algorithm = crl.signature_algorithm_oid.dotted_string
    if algorithm in GOST_SIGNATURES:
        return _gost_signed_by(algorithm, crl.tbs_certlist_bytes, crl.signature, issuer)
    return cryptography_check(crl, issuer)


def verify_signature_value(cert: x509.Certificate, digest_oid: str, signature_oid: str,
                           to_verify: bytes, signature: bytes) -> str:
    """Check a CMS signature (over the DER signed attributes); returns the algorithm's name."""
    size, digest = DIGESTS[digest_oid]
    key = gost_key(cert)
    if key is not None:
        curve, point = key
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

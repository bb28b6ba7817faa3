"""The trust store: anchors, intermediates and CRLs read from a directory, and chain building from
a signer's certificate to an anchor, judged at one time (the trusted time: see `cms`)."""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from uise_common.pki.algorithms import (
    SignatureError,
    certificate_signed_by,
    crl_signed_by,
    fingerprint,
)
from uise_common.pki.crl import RevocationLists

log = logging.getLogger(__name__)

MAX_CHAIN = 8  # certificates in a path
MAX_EXTRA_CERTS = 16  # certificates taken from a CMS for path building
MAX_SIGNATURE_CHECKS = 64  # certificate signature checks per path search
_CACHE_LIMIT = 10_000

# Files of a trust directory read as certificates, whatever their encoding inside: Windows and
# NCA's site hand out DER and PEM under each of these names. CRLs (*.crl) are read by
# RevocationLists; any other file (a README, a key) is not ours to judge.
CERTIFICATE_SUFFIXES = (".pem", ".crt", ".cer", ".der")
_PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_BASE64 = re.compile(rb"^[A-Za-z0-9+/=\s]+$")


def parse_certificate(der: bytes) -> x509.Certificate:
    """A DER certificate, with the fields path building reads parsed now: cryptography parses
    names and extensions lazily, so a malformed one (from a CMS, from anyone) would otherwise
    raise in the middle of a chain search. ValueError on any problem."""
    try:
        cert = x509.load_der_x509_certificate(der)
        cert.subject, cert.issuer, cert.extensions, cert.not_valid_before_utc, cert.not_valid_after_utc  # noqa: B018
        return cert
    except ValueError:
        raise
    except Exception as exc:  # x509.InvalidVersion and kin are not ValueErrors
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc


def _checked(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    return [parse_certificate(c.public_bytes(Encoding.DER)) for c in certs]


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """The certificates in a file: PEM (one or several blocks, other blocks ignored), DER, or bare
    base64 of a DER certificate, sniffed from the bytes. ValueError says what the file holds."""
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM that Windows editors add
    if b"-----BEGIN" in data:
        labels = {m.decode() for m in _PEM_LABEL.findall(data)}
        if "CERTIFICATE" not in labels:
            raise ValueError(f"PEM without a certificate (it holds {', '.join(sorted(labels)) or 'no block'}"
                             f"{'; name a CRL *.crl' if 'X509 CRL' in labels else ''})")
        try:
            return _checked(x509.load_pem_x509_certificates(data))
        except ValueError as exc:
            raise ValueError(f"a PEM certificate block does not parse: {exc}") from exc
    if not data.strip():
        raise ValueError("the file is empty")
    try:
        return [parse_certificate(data)]
    except ValueError as der_error:
        if _BASE64.match(data):
            try:
                return [parse_certificate(base64.b64decode(b"".join(data.split()), validate=True))]
            except (ValueError, binascii.Error):
                pass
        raise ValueError(f"neither a PEM nor a DER certificate: {der_error}") from der_error


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


def extended_key_usage(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        return tuple(o.dotted_string for o in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return ()


def _can_issue(cert: x509.Certificate) -> bool:
    bc = _basic_constraints(cert)
    ku = _key_usage(cert)
    return bc is not None and bc.ca and (ku is None or ku.key_cert_sign)



@dataclass
class TrustStore:
    """Trust anchors (self-signed roots, or any certificate the operator trusts outright) and
    intermediates to build paths through. Signature checks of certificates are cached by the
    SHA-256 fingerprints of the certificate and its issuer. `problems` lists the files of the
    trust directory that could not be read (the service logs them, the CLI prints them)."""

    anchors: list[x509.Certificate] = field(default_factory=list)
    intermediates: list[x509.Certificate] = field(default_factory=list)
    revocations: RevocationLists | None = None
    problems: list[str] = field(default_factory=list)
    _verified: dict[tuple[bytes, bytes], bool] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_dir(cls, path: Path | None, *, crl_urls: Sequence[str] = (), crl_cache: Path | None = None,
                 crl_refresh_seconds: float = 3600.0) -> TrustStore:
        """Every certificate in the directory's .pem/.crt/.cer/.der files (PEM or DER inside,
        whichever the file holds): the self-signed ones become anchors, the others intermediates.
        A file that cannot be read is recorded in `problems` and the rest still load."""
        store = cls(revocations=RevocationLists(path, check_signature=crl_signed_by, urls=list(crl_urls),
                                                cache_dir=crl_cache, refresh_seconds=crl_refresh_seconds))
        if path is None:
            return store
        if not path.is_dir():
            store.problems.append(f"{path}: the trust directory does not exist")
            return store
        seen: set[bytes] = set()
        for f in sorted(path.iterdir()):
            if not f.is_file() or f.suffix.lower() not in CERTIFICATE_SUFFIXES:
                continue
            try:
                certs = load_certificates(f.read_bytes())
            except (OSError, ValueError) as exc:
                store.problems.append(f"{f.name}: {exc}")
                continue
            for cert in certs:
                fp = fingerprint(cert)
                if fp in seen:  # the same CA in PEM and in DER: one anchor, not two
                    continue
                seen.add(fp)
                if cert.subject == cert.issuer and store.signed_by(cert, cert):
                    store.anchors.append(cert)
                else:
                    store.intermediates.append(cert)
        return store

    @classmethod
    def from_settings(cls, settings) -> TrustStore:
        """The trust directory and CRL URLs of a service's settings (UISE_TRUST_DIR, UISE_CRL_URLS),
        with every file it could not read logged: one bad file must neither go unnoticed nor stop
        the rest."""
        store = cls.from_dir(settings.trust_dir, crl_urls=[u for u in settings.crl_urls.split(",") if u.strip()],
                             crl_cache=settings.data_dir / "crl-cache", crl_refresh_seconds=settings.crl_refresh_seconds)
        for problem in store.problems:
            log.warning("trust directory: a file was not loaded", extra={"problem": problem})
        log.info("trust store loaded", extra={"anchors": len(store.anchors), "intermediates": len(store.intermediates)})
        return store

    def signed_by(self, cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        key = (fingerprint(cert), fingerprint(issuer))
        cached = self._verified.get(key)
        if cached is not None:
            return cached
        ok = certificate_signed_by(cert, issuer)
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
        anchors = {fingerprint(a) for a in self.anchors}
        pool = [*self.anchors, *self.intermediates, *extra[:MAX_EXTRA_CERTS]]
        budget = [MAX_SIGNATURE_CHECKS]

        def walk(c: x509.Certificate, seen: frozenset[bytes]) -> Iterator[list[x509.Certificate]]:
            fp = fingerprint(c)
            if fp in anchors:
                yield [c]
                return
            if len(seen) >= MAX_CHAIN:
                return
            tried: set[bytes] = set()
            for ca in pool:
                ca_fp = fingerprint(ca)
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

    def validate(self, cert: x509.Certificate, at: datetime, extra: Sequence[x509.Certificate] = (),
                 *, purpose: str | None = None) -> list[x509.Certificate]:
        """The first path to an anchor along which every certificate is valid and unrevoked at
        `at` (the trusted time), the signer's key usage allows signing and, with `purpose`, its
        extended key usage names it. Raises SignatureError with the first path's problem:
        CHAIN_UNTRUSTED, CERT_NOT_YET_VALID, CERT_EXPIRED, KEY_USAGE or CERT_REVOKED."""
        first_error: SignatureError | None = None
        for path in self.paths(cert, extra):
            error = _path_problem(path, at, purpose) or self._revoked(path, at)
            if error is None:
                return path
            first_error = first_error or error
        if first_error is not None:
            raise first_error
        raise SignatureError("CHAIN_UNTRUSTED", "the signer's certificate does not chain to a trusted CA")

    def _revoked(self, path: list[x509.Certificate], at: datetime) -> SignatureError | None:
        """CERT_REVOKED when a CRL of an issuer on the path lists a certificate by `at`: a
        signature made (provably, at the trusted time) before the revocation stays valid."""
        if self.revocations is None:
            return None
        for cert, issuer in zip(path, path[1:], strict=False):
            when = self.revocations.revoked_at(cert, issuer, at)
            if when is not None:
                return SignatureError("CERT_REVOKED", f"certificate {format(cert.serial_number, 'x')} was revoked "
                                                      f"at {when.isoformat()}")
        return None


def _path_problem(path: list[x509.Certificate], at: datetime, purpose: str | None) -> SignatureError | None:
    for i, c in enumerate(path):
        whose = "the signer's certificate" if i == 0 else f"CA certificate {c.subject.rfc4514_string()}"
        if at < c.not_valid_before_utc:
            return SignatureError("CERT_NOT_YET_VALID", f"{whose} is not valid yet at {at.isoformat()} "
                                                        f"(valid from {c.not_valid_before_utc.isoformat()})")
        if at > c.not_valid_after_utc:
            return SignatureError("CERT_EXPIRED", f"{whose} had expired at {at.isoformat()} "
                                                  f"(valid until {c.not_valid_after_utc.isoformat()})")
    for i, ca in enumerate(path[1:-1], start=1):
        bc = _basic_constraints(ca)
        if bc is not None and bc.path_length is not None and i - 1 > bc.path_length:
            return SignatureError("CHAIN_UNTRUSTED", "the chain is longer than a CA's path length constraint")
    ku = _key_usage(path[0])
    if ku is not None and not (ku.digital_signature or ku.content_commitment):
        return SignatureError("KEY_USAGE", "the signer's key usage does not allow digital signatures")
    if purpose is not None and purpose not in extended_key_usage(path[0]):
        return SignatureError("KEY_USAGE", f"the certificate's extended key usage lacks {purpose}")
    return None

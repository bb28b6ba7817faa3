"""Certificate revocation lists: base and delta CRLs from files (a directory the operator or a
fetcher keeps current), re-read when they change, each checked against its issuer's signature.

A certificate is revoked at a time `t` when a CRL from its issuer lists its serial with a
revocation date not after `t` (a signature made before the revocation stays valid)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509

log = logging.getLogger(__name__)

# (crl, issuer certificate) -> is the CRL's signature the issuer's? RSA/EC through cryptography;
# the GOST path plugs its own verifier in.
SignatureCheck = Callable[[x509.CertificateRevocationList, x509.Certificate], bool]


def cryptography_check(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    try:
        return crl.is_signature_valid(issuer.public_key())
    except Exception:  # an algorithm cryptography does not know (GOST): not verifiable here
        return False


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


@dataclass
class RevocationLists:
    directory: Path | None
    check_signature: SignatureCheck = cryptography_check
    _crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    _stamp: tuple = ()

    def _current_stamp(self) -> tuple:
        if self.directory is None or not self.directory.exists():
            return ()
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                            for p in self.directory.glob("*.crl")))

    def refresh(self) -> None:
        """Re-read the directory when a CRL was added, replaced or removed."""
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return
        crls = []
        for name, *_ in stamp:
            try:
                crls.append(load_crl((self.directory / name).read_bytes()))
            except ValueError as exc:
                log.warning("unreadable CRL skipped", extra={"crl": name, "error": str(exc)})
        self._crls, self._stamp = crls, stamp

    def revoked_at(self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime) -> datetime | None:
        """When `cert` was revoked, if a trustworthy CRL of its issuer says so by `at`."""
        self.refresh()
        for crl in self._crls:
            if crl.issuer != cert.issuer or not self.check_signature(crl, issuer):
                continue
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None and entry.revocation_date_utc <= at:
                return entry.revocation_date_utc
        return None

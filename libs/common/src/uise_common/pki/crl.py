"""Certificate revocation lists: base and delta CRLs from files (a directory the operator keeps
current) and from URLs (NCA publishes its CRLs over HTTP: fetched into a cache directory and
refreshed periodically; a failed fetch keeps the last good copy), re-read when they change, each
checked against its issuer's signature.

A certificate is revoked at a time `t` when a CRL from its issuer lists its serial with a
revocation date not after `t` (a signature made before the revocation stays valid)."""

from __future__ import annotations

import logging
import time
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


def fetch(urls: list[str], cache_dir: Path, timeout: float = 10.0) -> int:
    """Download each CRL URL into `cache_dir` (atomically, only if it parses); returns how many
    were refreshed. A URL that fails keeps its previous copy."""
    import hashlib

    import httpx

    cache_dir.mkdir(parents=True, exist_ok=True)
    fresh = 0
    for url in urls:
        target = cache_dir / f"fetched-{hashlib.sha256(url.encode()).hexdigest()[:16]}.crl"
        try:
            resp = httpx.get(url, timeout=timeout, follow_redirects=True)
            resp.raise_for_status()
            load_crl(resp.content)
        except Exception as exc:
            log.warning("CRL fetch failed; keeping the cached copy", extra={"url": url, "error": repr(exc)})
            continue
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(resp.content)
        tmp.replace(target)
        fresh += 1
    return fresh


@dataclass
class RevocationLists:
    directory: Path | None
    check_signature: SignatureCheck = cryptography_check
    urls: list[str] = field(default_factory=list)
    cache_dir: Path | None = None
    refresh_seconds: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    _crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    _stamp: tuple = ()
    _fetched_at: float | None = None

    def _files(self) -> list[Path]:
        out: list[Path] = []
        for d in (self.directory, self.cache_dir):
            if d is not None and d.exists():
                out.extend(sorted(d.glob("*.crl")))
        return out

    def refresh(self) -> None:
        """Fetch the URLs when due, then re-read the files when a CRL was added, replaced or
        removed."""
        if self.urls and self.cache_dir is not None and (
                self._fetched_at is None or self.clock() - self._fetched_at >= self.refresh_seconds):
            self._fetched_at = self.clock()
            fetch(self.urls, self.cache_dir)
        files = self._files()
        stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        if stamp == self._stamp:
            return
        crls = []
        for path in files:
            try:
                crls.append(load_crl(path.read_bytes()))
            except ValueError as exc:
                log.warning("unreadable CRL skipped", extra={"crl": str(path), "error": str(exc)})
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

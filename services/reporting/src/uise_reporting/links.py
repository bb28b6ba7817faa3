"""Short-lived signed links to report documents, for systems outside UISE (docs/integrators.md).

A link is the credential: `GET <base>/v1/reports/{report_id}/{version}/document.{fmt}
?expires=<unix seconds>&sig=<base64url HMAC-SHA256>` where the HMAC is over
"GET\\n<path>\\n<expires>" with reporting's link key. Nobody without the key can make one or
stretch its expiry; it names one document of one version, so it leaks nothing else. The path is
rebuilt from the route's parameters when checking (never taken from the raw URL), so encoding
differences between clients cannot make a valid link fail or a forged one pass.

A link issued to a caller (POST …/links) also carries `&grant=<id>`, signed with the rest
("GET\\n<path>\\n<expires>\\n<grant>"): the issuance is on record under that id
(uise_common.reads), so a read by the link is recorded as the reader it was issued to. A grant
cannot be added to, taken off or swapped on a link without the key. The links in report.published
carry none: they were issued to the event's consumers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from uise_common.http import ApiError
from uise_common.settings import Settings

METHOD = "GET"
KEY_FILE = "reporting-link.key"


def document_path(report_id: str, version: int, fmt: str) -> str:
    return f"/v1/reports/{quote(report_id, safe=':')}/{version}/document.{quote(fmt, safe='')}"


def _mac(key: bytes, path: str, expires: int, grant: str | None) -> str:
    signed = f"{METHOD}\n{path}\n{expires}" + (f"\n{grant}" if grant is not None else "")
    digest = hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_grant() -> str:
    """The id one issuance of links is recorded under (URL-safe, unguessable though not secret)."""
    return secrets.token_urlsafe(12)


def report_links(report_id: str, version: int, fmt: str, *, base_url: str, key: bytes,
                 ttl: timedelta, now: datetime | None = None, grant: str | None = None) -> tuple[str, datetime]:
    """An absolute signed URL of one document and when it stops working (whole seconds, UTC)."""
    expires_at = ((now or datetime.now(UTC)) + ttl).replace(microsecond=0)
    expires = int(expires_at.timestamp())
    path = document_path(report_id, version, fmt)
    query = {"expires": expires, "sig": _mac(key, path, expires, grant)}
    if grant is not None:
        query["grant"] = grant
    return f"{base_url.rstrip('/')}{path}?{urlencode(query)}", expires_at


def link_invalid() -> ApiError:
    return ApiError(403, "LINK_INVALID", "the link's signature does not match: use a link exactly as published",
                    "подпись ссылки не совпадает: используйте ссылку в точности как опубликована",
                    "сілтеме қолтаңбасы сәйкес келмейді: сілтемені жарияланғандай пайдаланыңыз")


def link_expired() -> ApiError:
    return ApiError(410, "LINK_EXPIRED", "the link has expired: ask POST /v1/reports/{report_id}/{version}/links "
                                         "for a fresh one",
                    "срок действия ссылки истёк: получите новую через POST /v1/reports/{report_id}/{version}/links",
                    "сілтеменің мерзімі өтті: жаңасын POST /v1/reports/{report_id}/{version}/links арқылы алыңыз")


def verify(report_id: str, version: int, fmt: str, expires: int, sig: str, *, key: bytes,
           now: datetime | None = None, grant: str | None = None) -> None:
    """Raises LINK_INVALID (a signature that does not match, checked first so a forged link learns
    nothing about expiry) or LINK_EXPIRED; returns when the link is good."""
    expected = _mac(key, document_path(report_id, version, fmt), expires, grant)
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise link_invalid()
    if (now or datetime.now(UTC)).timestamp() >= expires:
        raise link_expired()


def link_key(settings: Settings) -> bytes:
    """The configured key, else one generated once and kept under data_dir (0600), like intake's
    receipt key: links stay valid across restarts."""
    if settings.reporting_link_key is not None and settings.reporting_link_key.get_secret_value():
        return settings.reporting_link_key.get_secret_value().encode()
    return _load_or_create(settings.data_dir / KEY_FILE)


def _load_or_create(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32).encode()
    # O_EXCL: of two processes starting at once, one writes and the other reads what it wrote.
    try:
        with open(path, "xb") as f:
            path.chmod(0o600)
            f.write(key)
        return key
    except FileExistsError:
        return path.read_bytes().strip()

"""Where a consumer outside UISE fetches a report version's document (report.published's
`documents[fmt].url`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from uise_common.db import utcnow

LINK_LIFETIME = timedelta(hours=1)


def report_links(report_id: str, version: int, fmt: str) -> tuple[str, datetime]:
    """(url, expires_at) of one document of a report version. A placeholder: the API path and an
    hour's lifetime; the signed-link work replaces the body with a real short-lived signed URL."""
    return f"/v1/reports/{report_id}/{version}/document.{fmt}", utcnow() + LINK_LIFETIME

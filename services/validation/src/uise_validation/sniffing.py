"""What a document is, from its bytes (a dry run has no intake in front to say it): a zip is a
workbook, text that opens with `{` is JSON, other text CSV. The reader refuses what is not what
it seems."""

from __future__ import annotations

from uise_validation.reading import CSV, JSON, XLSX


def media_type_of(data: bytes, filename: str | None = None) -> str:
    if data.startswith(b"PK\x03\x04"):
        return XLSX
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{") or head.startswith(b"["):
        return JSON
    return CSV

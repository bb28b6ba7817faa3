"""Pure intake rules: what a document really is (sniffed, not trusted from the client), and
the status a submission moves through."""

from __future__ import annotations

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON = "application/json"
CSV = "text/csv"

# Status order; a later event never moves a submission back, and a final state never changes.
STATUS_RANK = {"received": 0, "signature_checked": 1, "validated": 2, "accepted": 3, "rejected": 3}
FINAL = {"accepted", "rejected"}


def sniff(data: bytes) -> str | None:
    """The document's real type, or None when it is none we accept."""
    if data.startswith(b"PK\x03\x04"):
        return XLSX
    head = data[:4096]
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        # a multi-byte character may be cut at 4096: decode what is whole
        try:
            text = head[:-3].decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return JSON
    if stripped and "," in stripped.splitlines()[0]:
        return CSV
    return None


def next_status(current: str, new: str) -> str:
    if current in FINAL:
        return current
    return new if STATUS_RANK[new] >= STATUS_RANK[current] else current

"""Pure intake rules: what a document really is (sniffed, not trusted from the client), whether
a signature is shaped like CMS, which periods are open, API key tokens, idempotency fingerprints,
and the status a submission moves through. (The in-flight limit moved to limits.py.)

Checks raise `Refused(code, **params)`; the API turns the code into its HTTP status and messages
(reasons.py)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath

from uise_common.periods import Period, PeriodInvalid, collection_window, matches_period_type
from uise_common.periods import parse_period as _parse_period
from uise_common.workbook import (
    WorkbookError,
    inspect_zip,  # the one zip-bomb/DTD check
)
from uise_intake.limits import InFlightLimiter  # noqa: F401  (moved to limits.py; still importable from here)
from uise_intake.reasons import Refused

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON = "application/json"
CSV = "text/csv"
PDF = "application/pdf"

# Status order; a later event never moves a submission back, and a final state never changes.
STATUS_RANK = {"received": 0, "signature_checked": 1, "queried": 2, "validated": 3, "accepted": 4, "rejected": 4,
               "returned": 5}
FINAL = {"accepted", "rejected", "returned"}


def next_status(current: str, new: str) -> str:
    """The one exception to "final never changes": the recipient may return what it accepted
    (clause 9), and the submitter must then correct it."""
    if current == "accepted" and new == "returned":
        return new
    if current in FINAL:
        return current
    return new if STATUS_RANK[new] >= STATUS_RANK[current] else current


# --- what a document is ---------------------------------------------------------------------

# Magic numbers of what people upload by mistake (or on purpose) instead of a report.
_MAGIC: list[tuple[bytes, str]] = [
    (b"%PDF-", "PDF"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE2 file (XLS 97-2003 or a password-protected workbook)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"{\\rtf", "RTF"),
    (b"%!PS", "PostScript"),
]
_BOMS = [(b"\xff\xfe\x00\x00", "UTF-32 text"), (b"\x00\x00\xfe\xff", "UTF-32 text"),
         (b"\xff\xfe", "UTF-16 text"), (b"\xfe\xff", "UTF-16 text")]
_HTML = re.compile(r"<(!doctype\s+html|html|head|body|script|iframe|meta|a\s|div|p>|form)", re.I)
NOT_UTF8 = "text that is not UTF-8"
_CLAIMS = {".xlsx": XLSX, ".xlsm": XLSX, ".json": JSON, ".csv": CSV}
_NAMES = {XLSX: "XLSX", JSON: "JSON", CSV: "CSV"}


@dataclass(frozen=True)
class Sniffed:
    media_type: str | None  # one we accept, or None
    detected: str  # what it is, for the message


def sniff(data: bytes) -> str | None:
    """The document's real type, or None when it is none we accept."""
    return sniff_detail(data).media_type


def sniff_detail(data: bytes) -> Sniffed:
    if data.startswith(b"PK\x03\x04"):
        return Sniffed(XLSX, "XLSX")
    if data.startswith(b"PK\x05\x06") or data.startswith(b"PK\x07\x08"):
        return Sniffed(None, "an empty or split zip archive")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return Sniffed(None, what)
    if data.startswith(b"MZ") and b"\x00" in data[:256]:
        return Sniffed(None, "a Windows executable")
    for bom, what in _BOMS:
        if data.startswith(bom):
            return Sniffed(None, what)
    head = data[:4096]
    if b"\x00" in head:
        return Sniffed(None, "binary data")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # a multi-byte character may be cut at 4096: decode what is whole
        if exc.start < len(head) - 3:
            controls = sum(b < 9 or 13 < b < 32 for b in head)
            return Sniffed(None, "binary data" if controls > len(head) // 20 else NOT_UTF8)
        text = head[:exc.start].decode("utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("<"):
        if _HTML.match(stripped) or _HTML.search(stripped[:1024]):
            return Sniffed(None, "HTML")
        return Sniffed(None, "XML")
    if stripped.startswith(("{", "[")):
        return Sniffed(JSON, "JSON")
    if stripped and "," in stripped.splitlines()[0]:
        return Sniffed(CSV, "CSV")
    return Sniffed(None, "plain text" if stripped else "blank text")


@dataclass(frozen=True)
class XlsxLimits:
    max_uncompressed: int = 50 * 1024 * 1024
    max_ratio: int = 100


def inspect_document(data: bytes, filename: str | None, limits: XlsxLimits = XlsxLimits()) -> str:
    """The media type of an acceptable document; raises Refused for anything else."""
    found = sniff_detail(data)
    if found.media_type is None:
        if found.detected in (NOT_UTF8, "UTF-16 text", "UTF-32 text"):
            raise Refused("DOCUMENT_NOT_UTF8", detected=found.detected)
        raise Refused("DOCUMENT_TYPE_UNSUPPORTED", detected=found.detected)
    claimed = _CLAIMS.get(PurePosixPath((filename or "").replace("\\", "/")).suffix.lower())
    if claimed is not None and claimed != found.media_type:
        raise Refused("DOCUMENT_TYPE_MISMATCH", filename=PurePosixPath(filename or "").name,
                      detected=_NAMES[found.media_type])
    if found.media_type == XLSX:
        _inspect_xlsx(data, limits)
        return XLSX
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Refused("DOCUMENT_NOT_UTF8", detected=NOT_UTF8) from exc
    if "\x00" in text:
        raise Refused("DOCUMENT_TYPE_UNSUPPORTED", detected="binary data")
    if found.media_type == JSON:
        try:
            obj = json.loads(text)
        except RecursionError as exc:
            raise Refused("DOCUMENT_JSON_INVALID", why="nested too deeply") from exc
        except ValueError as exc:
            raise Refused("DOCUMENT_JSON_INVALID", why=str(exc)[:200]) from exc
        if not isinstance(obj, dict):
            raise Refused("DOCUMENT_JSON_INVALID", why='the document must be an object {"field": value}')
    return found.media_type


def _inspect_xlsx(data: bytes, limits: XlsxLimits) -> None:
    """Contracts' workbook checks (zip bombs, DTDs), then: is this zip a spreadsheet at all?"""
    try:
        inspect_zip(data, limits.max_uncompressed, limits.max_ratio)
    except WorkbookError as exc:
        raise Refused(exc.code, why=exc.message[:300]) from exc
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
    if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
        return
    if "word/document.xml" in names:
        detected = "a Word document (DOCX)"
    elif "ppt/presentation.xml" in names:
        detected = "a PowerPoint presentation (PPTX)"
    elif "META-INF/MANIFEST.MF" in names:
        detected = "a Java archive"
    elif "mimetype" in names:
        detected = "an OpenDocument file (save it as XLSX)"
    else:
        detected = "a zip archive that is not a workbook"
    raise Refused("DOCUMENT_TYPE_UNSUPPORTED", detected=detected)


def check_pdf(data: bytes) -> None:
    """A scan is a PDF: its header within the first KiB, as readers allow."""
    if b"%PDF-" not in data[:1024]:
        raise Refused("SCAN_NOT_PDF", detected=sniff_detail(data).detected)


# --- signatures -----------------------------------------------------------------------------

_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")  # OID 1.2.840.113549.1.7.2
_BASE64 = re.compile(rb"^[A-Za-z0-9+/=\s]+$")


def check_cms(sig: bytes) -> None:
    """A quick structural look: ContentInfo = SEQUENCE { signedData OID, [0] ... } in DER (or
    BER with indefinite length). The signature service verifies the rest."""

    def no(why: str) -> Refused:
        return Refused("SIGNATURE_NOT_CMS", why=why)

    if not sig:
        raise no("the signature is empty")
    if sig.lstrip().startswith(b"-----BEGIN") or (len(sig) >= 16 and _BASE64.match(sig[:4096])):
        raise no("it is base64 or PEM text; send the binary DER (decode it first)")
    if sig[0] != 0x30 or len(sig) < 2:
        raise no("it does not start with a DER SEQUENCE")
    first = sig[1]
    if first == 0x80:  # BER indefinite length: ends with end-of-contents
        header = 2
        if not sig.endswith(b"\x00\x00"):
            raise no("an indefinite-length SEQUENCE without its end")
    elif first < 0x80:
        header, length = 2, first
        if header + length != len(sig):
            raise no("the SEQUENCE length does not match the file")
    else:
        n = first & 0x7F
        if not 1 <= n <= 4 or len(sig) < 2 + n:
            raise no("the SEQUENCE length is malformed")
        header, length = 2 + n, int.from_bytes(sig[2:2 + n], "big")
        if header + length != len(sig):
            raise no("the SEQUENCE length does not match the file")
    if sig[header:header + len(_SIGNED_DATA)] != _SIGNED_DATA:
        raise no("its content type is not signedData (1.2.840.113549.1.7.2)")
    if sig[header + len(_SIGNED_DATA):header + len(_SIGNED_DATA) + 1] != b"\xa0":
        raise no("the SignedData content is missing")


# --- periods and their collection window -----------------------------------------------------


def parse_period(text: str) -> Period:
    """uise_common.periods' parser (canonical ASCII only, years 2000..2100), its refusal as
    intake's PERIOD_INVALID; `why` goes into the answer's detail."""
    try:
        return _parse_period(text)
    except PeriodInvalid as exc:
        raise Refused("PERIOD_INVALID", period=text, why=exc.why) from None


def check_period_type(form_code: str, period_type: str | None, period: Period) -> None:
    """The period's shape matches the form's periodicity; an ad hoc form takes any."""
    if matches_period_type(period_type, period):
        return
    raise Refused("PERIOD_MISMATCH", form_code=form_code, period_type=period_type, period=period.text)


def check_window(period: Period, on: date, opens_days_before: int, closes_days_after: int) -> None:
    """`on` (an Almaty date) lies in the period's collection window (uise_common.periods; at the
    door the form is not known yet, so its deadline days are not added: routing checks those)."""
    window = collection_window(period, opens_days_before=opens_days_before, correction_days=closes_days_after)
    if (code := window.refusal(on)) is not None:
        raise Refused(code, period=period.text, opens=window.opens.isoformat(), closes=window.closes.isoformat())


# --- API keys ------------------------------------------------------------------------------

# --- explanations of validation queries ----------------------------------------------------

MAX_EXPLANATIONS, MAX_EXPLANATION_CHARS = 200, 2000


def parse_explanations(text: str | None) -> dict[str, str]:
    """The submitter's written explanations of validation queries (warnings), as a JSON object
    of rule code → text; the validation service accepts a query only with its explanation."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise Refused("EXPLANATIONS_INVALID") from None
    if (not isinstance(value, dict) or len(value) > MAX_EXPLANATIONS
            or not all(isinstance(k, str) and isinstance(v, str) and 0 < len(v.strip()) <= MAX_EXPLANATION_CHARS
                       and 0 < len(k) <= 64 for k, v in value.items())):
        raise Refused("EXPLANATIONS_INVALID")
    return {k: v.strip() for k, v in value.items()}


# --- idempotency ---------------------------------------------------------------------------

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def check_idempotency_key(key: str) -> None:
    if not _IDEMPOTENCY_KEY.match(key):
        raise Refused("IDEMPOTENCY_KEY_INVALID")


def fingerprint(**fields: object) -> str:
    """What a retry must repeat exactly for its key to replay the first answer."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()

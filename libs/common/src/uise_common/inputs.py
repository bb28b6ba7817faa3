"""Types for what a request may carry: each accepts only the canonical ASCII form of its value,
with a length cap, so that one identifier, code or period is written one way everywhere and an
out-of-range value is a 422 (REQUEST_INVALID, uise_common.http) rather than a 500 further on.

They are `Annotated` types, usable alike as FastAPI path, query, header and form parameters and
as Pydantic model fields:

    @api.get("/forms/{code}/template.xlsx")
    async def template(code: FormCode, year: Year, participant_bin: Bin | None = None): ...

    class Body(BaseModel):
        bin: Bin
        name_ru: Name

    participant_id: Annotated[ParticipantId, Form()]   # in a multipart form

Identifiers are refused, never normalised: `١٢٣…` (Arabic-Indic digits), `１２３…` (fullwidth),
a trailing newline or a zero-width character would otherwise make a second participant or
period that looks like the first. Pydantic runs `pattern` on Rust's regex crate, where `\\d`
matches any Unicode digit and `$` only the very end: patterns here spell `[0-9]`, and lengths
are capped besides.

Free text (names, labels, comments) is trimmed and put in Unicode NFC (so `й` typed as one
character or as `и` plus a combining breve is stored the same way), and refused when it holds control or format
characters: C0/C1 controls such as NUL and tab, zero-width joiners, bidirectional overrides
(which make a name read differently from how it sorts), line separators, surrogates and
private-use or unassigned code points. None of these belongs in a school's name.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from uise_common.periods import (
    EXAMPLES,
    MAX_LENGTH,
    MAX_YEAR,
    MIN_YEAR,
    parse_period,
)

# --- identifiers ----------------------------------------------------------------------------

_TWELVE_DIGITS = StringConstraints(min_length=12, max_length=12, pattern=r"^[0-9]{12}$")

Bin = Annotated[str, _TWELVE_DIGITS, Field(
    description="BIN, the organization's business identification number: 12 ASCII digits",
    examples=["220440000019"])]
Iin = Annotated[str, _TWELVE_DIGITS, Field(
    description="IIN, a person's individual identification number: 12 ASCII digits",
    examples=["800101300016"])]
ParticipantId = Annotated[str, _TWELVE_DIGITS, Field(
    description="A participant, named by its BIN: 12 ASCII digits", examples=["220440000019"])]

FORM_CODE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{0,31}$"
FormCode = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=FORM_CODE_PATTERN), Field(
    description="A form's code: capital Latin letters, digits and hyphens, up to 32", examples=["OSH-1"])]

# An id the system handed out (a submission, a session, a machine client, a report, a list's
# version) and takes back in a path or a query. Not a participant: those are ParticipantId. A NUL
# or any other control character would otherwise reach the database, and PostgreSQL refuses NUL in
# text with an error that became a 500.
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9:._/-]{0,79}$"
Ref = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=REF_PATTERN), Field(
    description="An id the system gave out: ASCII letters, digits and : . _ / -, up to 80",
    examples=["0b9d6c1e-5f7a-4c1e-9a3e-2f4d8b6a7c10"])]
_PARTICIPANT_ID = re.compile(r"[0-9]{12}", re.ASCII)
_REF = re.compile(REF_PATTERN[1:-1], re.ASCII)


def is_participant_id(value: object) -> bool:
    """For code that meets a participant's id before FastAPI has validated it (the access policy)."""
    return isinstance(value, str) and _PARTICIPANT_ID.fullmatch(value) is not None


def is_ref(value: object) -> bool:
    """For values read outside a declared parameter (HTTP Basic credentials)."""
    return isinstance(value, str) and _REF.fullmatch(value) is not None


KATO_PATTERN = r"^[0-9]{9}$"
Kato = Annotated[str, StringConstraints(min_length=9, max_length=9, pattern=KATO_PATTERN), Field(
    description="KATO, the code of the administrative-territorial unit: 9 ASCII digits", examples=["711210000"])]

# --- numbers --------------------------------------------------------------------------------

_ASCII_INT = re.compile(r"[0-9]{1,9}", re.ASCII)


def _canonical_int(value: object) -> object:
    """An int as JSON gives it, or its plain ASCII digits as a query string does. Pydantic alone
    also takes `2026.0`, ` 2026`, `+2026` and `2_026`, and True as 1."""
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true or false")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _ASCII_INT.fullmatch(value):
        return int(value)
    raise ValueError("a whole number in ASCII digits is expected")


# The range first, then the canonical-text check: the Before validator runs ahead of the range
# check, and the JSON schema still shows minimum and maximum.
Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR, description=f"A year, {MIN_YEAR} to {MAX_YEAR}",
                            examples=[2026]), BeforeValidator(_canonical_int)]
Version = Annotated[int, Field(ge=1, le=99_999, description="A version number, from 1", examples=[1]),
                    BeforeValidator(_canonical_int)]
Offset = Annotated[int, Field(ge=0, le=10_000_000, description="Rows to skip"), BeforeValidator(_canonical_int)]

# --- dates --------------------------------------------------------------------------------

FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(MAX_YEAR, 12, 31)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _canonical_day(value: object) -> object:
    """A date, or its ISO text YYYY-MM-DD. Pydantic alone also takes a Unix timestamp (1700000000
    is a date to it) and a datetime at midnight."""
    if isinstance(value, datetime):
        raise ValueError("a date is expected, not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        return value  # Pydantic checks that the month and day exist
    raise ValueError("a date YYYY-MM-DD is expected")


def _day_in_range(day: date) -> date:
    # From 1900: a head may have taken office long before UISE; to the end of MAX_YEAR, so the
    # day before or after can always be computed (date.min - 1 day overflows into a 500).
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"a date from {FIRST_DAY} to {LAST_DAY} is expected")
    return day


Day = Annotated[date, BeforeValidator(_canonical_day), AfterValidator(_day_in_range), Field(
    description=f"A date, YYYY-MM-DD, {FIRST_DAY.year} to {LAST_DAY.year}", examples=["2026-09-01"])]

# --- periods --------------------------------------------------------------------------------


def _period(text: str) -> str:
    parse_period(text)  # PeriodInvalid is a ValueError: Pydantic reports it as invalid input
    return text


PeriodText = Annotated[str, StringConstraints(max_length=MAX_LENGTH), AfterValidator(_period), Field(
    description=f"A reporting period: {EXAMPLES}", examples=["2026", "2026-Q3"])]

# --- free text ------------------------------------------------------------------------------

# Unicode general categories that no name or comment needs: Cc controls, Cf format characters
# (zero-width joiners, bidi overrides, the BOM, soft hyphen), Cs surrogates, Co private use,
# Cn unassigned, Zl/Zp line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def refused_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character free text may not hold, or None. `multiline` allows LF (and CR LF)."""
    for ch in text:
        if multiline and ch in "\n\r":
            continue
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return ch
    return None


def _clean(multiline: bool):
    def check(text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        if multiline:
            text = text.replace("\r\n", "\n")
            if "\r" in text:
                raise ValueError("a bare carriage return (CR) is not allowed; end lines with LF")
        if (ch := refused_character(text, multiline=multiline)) is not None:
            raise ValueError(f"the control or invisible character U+{ord(ch):04X} is not allowed")
        return text

    return check


def capped_text(max_length: int, *, min_length: int = 1, multiline: bool = False, description: str = ""):
    """Free text of `min_length` to `max_length` characters (after trimming), in NFC, without
    control or invisible characters (LF allowed when `multiline`)."""
    # The length is checked before the character scan, so a 10 MB value is refused cheaply.
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length,
                                            max_length=max_length),
                     AfterValidator(_clean(multiline)),
                     # NFC can lengthen a string (rarely); the cap holds for what is stored
                     AfterValidator(_max_length(max_length)),
                     Field(description=description or f"Text, {min_length} to {max_length} characters")]


def _max_length(limit: int):
    def check(text: str) -> str:
        if len(text) > limit:
            raise ValueError(f"at most {limit} characters")
        return text

    return check


NAME_MAX, PERSON_NAME_MAX = 500, 200
Name = capped_text(NAME_MAX, description=f"A name (of an organization), up to {NAME_MAX} characters")
PersonName = capped_text(PERSON_NAME_MAX, description=f"A person's full name, up to {PERSON_NAME_MAX} characters")
Label = capped_text(200, description="A short label, up to 200 characters")
Comment = capped_text(2000, multiline=True, description="A comment, up to 2000 characters; lines end with LF")

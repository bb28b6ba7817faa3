"""Personal data kept out of logs and traces: people's IINs and names are masked, organisations'
BINs (public numbers) stay readable.

Telling an IIN from a BIN: both are 12 digits. An IIN starts with its holder's birth date
(YYMMDD) and digit 7 is century and sex; a BIN starts with the year and month of registration and
digit 5 is the kind of organisation, 4, 5 or 6 - where an IIN has the first digit of the day of
birth, 0-3. So a 12-digit number is masked when it is shaped like an IIN (a month 01-12, a day
01-31, digit 7 0-6), when the text calls it one (`iin`, `ИИН`, `ЖСН` just before it, as in a
certificate's `SERIALNUMBER=IIN…` or a session's `iin:…` subject), or when it is one of the NCA
test IINs (shaped like nothing). A BIN is never IIN-shaped, so it is never masked unless it is
labelled an IIN.

What only looks like an IIN is left alone: 12 digits inside a longer run of digits (epoch
milliseconds), inside a hexadecimal or alphanumeric token (a SHA-256, a trace id, a hex UUID, an
API key), or forming the last group of a UUID (a submission or event id) - masking those would
break the ids operators search by, and a random UUID group is an IIN-shaped number about once in
ten thousand ids. A compact timestamp YYMMDDhhmmss is IIN-shaped and is masked: harmless, and we
write timestamps in ISO form.

Names cannot be recognised in free text, so they are masked by where they stand: values of keys
known to hold names or IINs (`full_name`, `head_name`, `name`, `signers`, `iin`, `head_iin`, a
certificate `subject`, …) in log extras and span attributes, `key: 'value'` pairs inside text
(dict and model reprs in exception messages), the personal attributes of an X.500 name
(`CN`, `SN`/`SURNAME`, `GIVENNAME`; the IIN in `SERIALNUMBER=IIN…` by its label), the inputs
pydantic echoes for such a field,
and the parameters SQLAlchemy appends to a failed statement. Code must not put names in messages;
pass them, if at all, as extras under such a key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

NAME_MASK = "***"
# The NCA RK test certificates carry these IINs, which are shaped like no birth date.
NCA_TEST_IINS = frozenset({"123456789011", "123456789012"})

# Keys (the last segment of a dotted span attribute, compared in lower case) whose values are IINs,
# and those whose values are people's names or hold them.
IIN_KEYS = frozenset({"iin", "iins", "head_iin", "signer_iin", "person_iin", "staff_iin", "user_iin",
                      "subject_iin"})
NAME_KEYS = frozenset({"name", "full_name", "fullname", "head_name", "signer_name", "person_name", "staff_name",
                       "user_name", "display_name", "first_name", "last_name", "middle_name", "given_name",
                       "surname", "patronymic", "fio", "cn", "common_name", "signer", "signers", "head",
                       "heads", "staff", "person", "holder"})
SUBJECT_KEYS = frozenset({"subject", "subject_dn", "dn", "actor", "principal", "sub"})
# A dotted attribute ending in one of these says what it names with the segment before:
# `uise.signer.name` is a person's, `messaging.destination.name` a topic's.
_AMBIGUOUS = frozenset({"name", "cn", "subject", "sub", "dn", "principal", "actor", "head", "person", "holder"})

_DIGIT_RUN = re.compile(r"[0-9]{12,}")
_IIN_LABEL = re.compile(r"(?:iin|иин|жсн)[\s:=#№'\"_-]{0,4}$", re.IGNORECASE)
_UUID_HEAD = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-")

_KEY_ALTERNATION = "|".join(sorted((IIN_KEYS | NAME_KEYS) - _AMBIGUOUS, key=len, reverse=True))
# `head_name: 'Директор 1'`, `"full_name": "…"`, `full_name='…'` (JSON, dict and model reprs);
# the bare `name` is left to key-based masking, as text says "name" of many things.
_QUOTED_PAIR = re.compile(
    r"(?P<pre>(?<![A-Za-z0-9_])(?P<kq>\\?['\"]?)(?:" + _KEY_ALTERNATION + r")(?P=kq)\s*[:=]\s*)"
    r"(?P<q>\\?['\"])(?P<v>(?:(?!(?P=q))(?:\\.|[^\\]))*)(?P=q)",
    re.IGNORECASE,
)
# Every key above contains one of these; every personal X.500 attribute below one of those.
_KEY_HINTS = ("iin", "name", "signer", "fio", "staff", "heads", "patronymic", "surname")
_DN_HINTS = ("CN", "SN", "SURNAME", "GN", "G=", "G =", "GIVEN", "commonName", "givenName", "2.5.4.")
# X.500 attributes that name a person, as certificates' subjects are printed (RFC 4514 or OpenSSL).
_DN_PERSONAL = re.compile(
    r"(?P<pre>(?<![A-Za-z0-9])(?:CN|SN|SURNAME|GN|G|GIVENNAME|GIVEN_NAME|commonName|givenName|"
    r"2\.5\.4\.3|2\.5\.4\.4|2\.5\.4\.42)\s*=\s*)"
    # up to the next separator or closing quote; an apostrophe inside a name (O'Brien, the Latin
    # Kazakh alphabet's A') is part of it
    r"(?P<v>(?:\\.|'(?![,)\]}\s]|$)|[^,+/;\n\\'\"])+)",
)
# pydantic: "head_name\n  String should … [type=…, input_value='…', input_type=str]"
_PYDANTIC_INPUT = re.compile(
    r"(?m)^(?P<loc>[\w.\[\]]+)\n(?P<mid>[^\n]*?input_value=)(?P<q>['\"])(?P<v>(?:\\.|(?!(?P=q)).)*)(?P=q)")
_SQL_PARAMS = "[parameters: "
_SQL_TAIL = "(Background on this error"


# --- IINs ---------------------------------------------------------------------------------------


def is_iin_shaped(digits: str) -> bool:
    """Twelve digits that can be an IIN and cannot be a BIN (see the module docstring)."""
    if len(digits) != 12 or not digits.isascii() or not digits.isdigit():
        return False
    month, day, century = int(digits[2:4]), int(digits[4:6]), int(digits[6])
    return 1 <= month <= 12 and 1 <= day <= 31 and century <= 6


def mask_iin(value: str) -> str:
    """`800101300016` -> `********0016`: the tail tells two people apart in a log, no more."""
    return "*" * (len(value) - 4) + value[-4:] if len(value) > 4 else "*" * len(value)


def _is_personal_number(text: str, start: int, force: bool) -> bool:
    """Is the 12-digit number at `start` an IIN to mask (see the module docstring)?"""
    if force or _IIN_LABEL.search(text, max(0, start - 8), start):
        return True
    before = text[start - 1] if start else ""
    if before.isascii() and before.isalpha():
        return False  # the tail of a hex or alphanumeric token
    if start >= 24 and _UUID_HEAD.fullmatch(text, start - 24, start):
        return False  # a UUID's last group
    digits = text[start:start + 12]
    return digits in NCA_TEST_IINS or is_iin_shaped(digits)


def mask_iins(text: str, *, force: bool = False) -> str:
    """Mask the IINs in `text`; with `force`, every standalone 12-digit number (the value of a
    key that holds IINs)."""
    pieces: list[str] = []
    done = 0
    for m in _DIGIT_RUN.finditer(text):
        start, end = m.span()
        if end - start != 12:
            continue  # part of a longer number: a timestamp in ms, an amount, a hash of digits
        after = text[end:end + 1]
        if after.isascii() and after.isalpha():
            continue  # the head of a hex or alphanumeric token
        if _is_personal_number(text, start, force):
            pieces += [text[done:start], mask_iin(m.group(0))]
            done = end
    return "".join(pieces) + text[done:] if pieces else text


# --- text -------------------------------------------------------------------------------------


def _mask_sql_parameters(text: str) -> str:
    start = text.find(_SQL_PARAMS)
    while start != -1:
        body = start + len(_SQL_PARAMS)
        tail = text.find(_SQL_TAIL, body)
        end = text.rfind("]", body, tail if tail != -1 else len(text))
        if end == -1:
            break
        text = f"{text[:body]}hidden{text[end:]}"
        start = text.find(_SQL_PARAMS, body + len("hidden"))
    return text


def _key_of(name: str) -> str:
    """The part of a key that says what its value is: the last segment of a dotted name, or the
    last two joined (`uise.signer.name` -> `signer_name`) when the last alone is ambiguous."""
    parts = name.strip("'\"[]\\").lower().split(".")
    if len(parts) > 1 and parts[-1] in _AMBIGUOUS:
        return f"{parts[-2]}_{parts[-1]}"
    return parts[-1]


def _mask_pydantic_input(m: re.Match[str]) -> str:
    key = _key_of(m.group("loc"))
    if key in NAME_KEYS:
        value = NAME_MASK
    elif key in IIN_KEYS:
        value = mask_iin_value(m.group("v"))
    else:
        return m.group(0)
    return f"{m.group('loc')}\n{m.group('mid')}{m.group('q')}{value}{m.group('q')}"


def _mask_quoted_pair(m: re.Match[str]) -> str:
    key = _key_of(m.group("pre").split(":")[0].split("=")[0])
    value = mask_iin_value(m.group("v")) if key in IIN_KEYS else NAME_MASK
    return f"{m.group('pre')}{m.group('q')}{value}{m.group('q')}"


def mask_text(text: str) -> str:
    """A log message, an exception's text or a span's string attribute with IINs and the names it
    can place masked."""
    if not text:
        return text
    if _SQL_PARAMS in text:
        text = _mask_sql_parameters(text)
    # Substring tests (fast, in C) decide which of the slower patterns can match at all: most
    # log lines hold no key, no X.500 name and no pydantic echo.
    if "=" in text or ":" in text:
        lower = text.lower()
        if any(hint in lower for hint in _KEY_HINTS):
            text = _QUOTED_PAIR.sub(_mask_quoted_pair, text)
        if "=" in text and any(hint in text for hint in _DN_HINTS):
            text = _DN_PERSONAL.sub(lambda m: m.group("pre") + NAME_MASK, text)
        if "input_value=" in text:
            text = _PYDANTIC_INPUT.sub(_mask_pydantic_input, text)
    return mask_iins(text)


# --- structured values ------------------------------------------------------------------------


_TYPED_ID = re.compile(r"[a-z_]{2,16}:\S*")


def _mask_subject(value: str) -> str:
    """A certificate subject (an X.500 name), a typed id as identity writes it (`iin:<IIN>`,
    `client:<id>`), a bare BIN or IIN - or else a bare name, masked whole."""
    if "=" in value or _TYPED_ID.fullmatch(value) or not any(c.isalpha() for c in value):
        return mask_text(value)
    return NAME_MASK


def _mask_all(value: Any, as_name: bool) -> Any:
    """A value personal as a whole: a name (or a list of names), or an IIN - which, under its key,
    is masked whatever its shape (a mistyped IIN is still somebody's)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Mapping):
        return mask_mapping(value)
    if isinstance(value, (list, tuple)):
        return [_mask_all(v, as_name) for v in value]
    if as_name:
        return NAME_MASK
    return mask_iin_value(str(value))


def mask_iin_value(text: str) -> str:
    """A value that is an IIN by where it stands: its 12-digit numbers masked (`iin:…`,
    `IIN…`), or, holding none (a mistyped IIN), all of it but the last four characters."""
    masked = mask_iins(text, force=True)
    return masked if masked != text else mask_iin(text)


def mask_value(key: str, value: Any) -> Any:
    """`value` as it may be logged under `key` (a log extra, a span attribute, a JSON field)."""
    k = _key_of(key)
    if k in IIN_KEYS:
        return _mask_all(value, as_name=False)
    if k in NAME_KEYS:
        if isinstance(value, Mapping):
            return mask_mapping(value)  # e.g. a signer {iin, name, bin}: its own keys decide
        if isinstance(value, (list, tuple)) and all(isinstance(v, Mapping) for v in value):
            return [mask_mapping(v) for v in value]
        return _mask_all(value, as_name=True)
    if k in SUBJECT_KEYS and isinstance(value, str):
        return _mask_subject(value)
    return mask_any(value)


def mask_mapping(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: mask_value(str(k), v) for k, v in values.items()}


def mask_any(value: Any) -> Any:
    """A value under a key that says nothing: masked for what its text shows."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return mask_mapping(value)
    if isinstance(value, list):
        return [mask_any(v) for v in value]
    if isinstance(value, tuple):
        return tuple(mask_any(v) for v in value)
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        if 10**11 <= value < 10**12:
            masked = mask_iins(str(value))
            return value if masked == str(value) else masked
        return value
    if hasattr(value, "model_dump"):  # a pydantic model (an event, say): by its fields' names
        return mask_mapping(value.model_dump(mode="json"))
    # Anything else would be written as its str() (json's default=str): mask that text, or the
    # str() of an exception or an object would carry what it holds out unmasked.
    return mask_text(str(value))

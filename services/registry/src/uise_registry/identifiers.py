"""Kazakhstan BIN/IIN: 12 digits, the last a control digit over the first 11.

The control digit is the weighted sum of the first 11 digits (weights 1..11) mod 11; when that
gives 10, a second pass with weights 3..11,1,2 decides, and a second 10 means the number is never
issued. Note the scheme's known blind spot: in the first pass the 11th digit weighs 11 ≡ 0, so a
typo in the 11th digit goes unnoticed whenever the first pass decides (tests pin this down).
"""

from __future__ import annotations

import re

_FIRST = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_SECOND = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_ELEVEN = re.compile(r"[0-9]{11}")
_TWELVE = re.compile(r"[0-9]{12}")

# The NCA RK test certificates (shared/testdata/nca-test-pki) carry these identifiers, which have
# no valid control digit; they are admitted only in test mode so signature tests can run.
NCA_TEST_IDENTIFIERS: frozenset[str] = frozenset({"123456789021", "123456789011", "123456789012"})


def _weighted(first11: str, weights: tuple[int, ...]) -> int:
    return sum(w * int(d) for w, d in zip(weights, first11, strict=True)) % 11


def control_digit(first11: str) -> int | None:
    """The control digit for these 11 digits, or None when no valid number starts with them."""
    if not _ELEVEN.fullmatch(first11):  # ASCII only: str.isdigit() would let "١٢٣" through
        raise ValueError(f"expected 11 digits, got {first11!r}")
    digit = _weighted(first11, _FIRST)
    if digit == 10:
        digit = _weighted(first11, _SECOND)
    return None if digit == 10 else digit


def is_valid(number: str) -> bool:
    if not _TWELVE.fullmatch(number):
        return False
    return control_digit(number[:11]) == int(number[11])


def check(number: str, what: str = "BIN", test_mode: bool = False) -> str | None:
    """None when `number` is acceptable, else a stable reason code `<WHAT>_FORMAT` or
    `<WHAT>_CHECKSUM` (e.g. BIN_CHECKSUM, IIN_FORMAT)."""
    what = what.upper()
    if test_mode and number in NCA_TEST_IDENTIFIERS:
        return None
    if not _TWELVE.fullmatch(number):
        return f"{what}_FORMAT"
    return None if is_valid(number) else f"{what}_CHECKSUM"


def make_valid(first11: str) -> str:
    """A valid number starting with `first11`; when none exists (both passes give 10), the 11th
    digit is stepped up (mod 10) until one does. The second pass weighs the 11th digit 2, so
    at most one of the ten values gives 10 again: the first step always succeeds."""
    digit = control_digit(first11)
    while digit is None:
        first11 = first11[:10] + str((int(first11[10]) + 1) % 10)
        digit = control_digit(first11)
    return f"{first11}{digit}"

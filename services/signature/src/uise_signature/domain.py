"""Who may sign for an organization (Rules clause 8): its first head, under its own BIN; for a
form whose policy allows it, also an employee holding the right to sign (EKU .2.2). A co-signed
CMS (the director and the chief accountant) satisfies the policy when one of its signers does."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from uise_common.pki.cms import SignatureError, SignerInfo
from uise_common.pki.oids import EKU_FIRST_HEAD, EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN

# A policy refusal of a co-signed CMS names the signer who came closest: an organization's
# first head of the wrong person says more than a chief accountant who is not a head at all.
_SPECIFICITY = {"NOT_ORGANIZATION": 0, "WRONG_ORGANIZATION": 1, "NOT_FIRST_HEAD": 2, "HEAD_MISMATCH": 3}


def check_authority(signer: SignerInfo, participant_bin: str, head_iin: str | None,
                    allow_right_to_sign: bool | Callable[[], bool] = False) -> None:
    """Raise SignatureError unless `signer` may sign for `participant_bin` whose head (on the
    delivery date) is `head_iin`. `allow_right_to_sign` (the form's policy) may be a callable,
    asked only of a signer who holds the right to sign but is not the first head."""
    if EKU_LEGAL_ENTITY not in signer.extended_key_usage or signer.bin is None:
        raise SignatureError("NOT_ORGANIZATION", "the certificate is an individual's, not an organization's")
    if signer.bin != participant_bin:
        raise SignatureError("WRONG_ORGANIZATION", f"signed for BIN {signer.bin}, submitted by BIN {participant_bin}")
    if EKU_FIRST_HEAD not in signer.extended_key_usage:
        if EKU_RIGHT_TO_SIGN in signer.extended_key_usage and (
                allow_right_to_sign() if callable(allow_right_to_sign) else allow_right_to_sign):
            return  # the form's policy admits an employee with the right to sign
        raise SignatureError("NOT_FIRST_HEAD", "the signer is not the organization's first head")
    if head_iin is None:
        raise SignatureError("HEAD_MISMATCH", "the registry records no head on the delivery date")
    if signer.iin != head_iin:
        raise SignatureError("HEAD_MISMATCH", f"the registry's head on the delivery date is IIN {head_iin}, "
                                              f"the signer is IIN {signer.iin}")


@dataclass(frozen=True)
class PolicyOutcome:
    satisfied: tuple[bool, ...]  # per signer, in the CMS's order
    chosen: int | None  # the first signer who satisfies the policy
    refusal: SignatureError | None  # when none does: the most specific of their refusals


def check_policy(signers: Sequence[SignerInfo], participant_bin: str, head_iin: str | None,
                 allow_right_to_sign: bool | Callable[[], bool] = False) -> PolicyOutcome:
    """Judge every signer of a (co-)signed CMS against the form's signing policy."""
    refusals: list[SignatureError | None] = []
    for signer in signers:
        try:
            check_authority(signer, participant_bin, head_iin, allow_right_to_sign)
            refusals.append(None)
        except SignatureError as exc:
            refusals.append(exc)
    satisfied = tuple(r is None for r in refusals)
    chosen = satisfied.index(True) if True in satisfied else None
    refusal = None
    if chosen is None and refusals:
        refusal = max((r for r in refusals if r is not None), key=lambda r: _SPECIFICITY.get(r.code, -1))
        if len(signers) > 1:
            refusal = SignatureError(refusal.code, f"none of the {len(signers)} signers may sign for the "
                                                   f"organization; the closest: {refusal}")
    return PolicyOutcome(satisfied=satisfied, chosen=chosen, refusal=refusal)

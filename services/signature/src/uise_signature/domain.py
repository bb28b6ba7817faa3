"""Who may sign for an organization (Rules clause 8): its first head, under its own BIN; for a
form whose policy allows it, also an employee holding the right to sign (EKU .2.2)."""

from __future__ import annotations

from uise_common.pki.cms import SignatureError, SignerInfo
from uise_common.pki.oids import EKU_FIRST_HEAD, EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN


def check_authority(signer: SignerInfo, participant_bin: str, head_iin: str | None,
                    allow_right_to_sign: bool = False) -> None:
    if EKU_LEGAL_ENTITY not in signer.extended_key_usage or signer.bin is None:
        raise SignatureError("NOT_ORGANIZATION", "the certificate is an individual's, not an organization's")
    if signer.bin != participant_bin:
        raise SignatureError("WRONG_ORGANIZATION", f"signed for BIN {signer.bin}, submitted by BIN {participant_bin}")
    if EKU_FIRST_HEAD not in signer.extended_key_usage:
        if allow_right_to_sign and EKU_RIGHT_TO_SIGN in signer.extended_key_usage:
            return  # the form's policy admits an employee with the right to sign
        raise SignatureError("NOT_FIRST_HEAD", "the signer is not the organization's first head")
    if head_iin is None:
        raise SignatureError("HEAD_MISMATCH", "the registry records no head for the signing date")
    if signer.iin != head_iin:
        raise SignatureError("HEAD_MISMATCH", f"the registry's head then was IIN {head_iin}, the signer is IIN {signer.iin}")

"""Verifying a sign-in: the CMS NCALayer made over the challenge text, its certificate chained to
the trusted NCA RK CAs, valid and unrevoked now (or at the pinned time of a test installation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from uise_common.http import ApiError
from uise_common.pki.cms import CLOCK_SKEW, SignatureError, TrustStore, verify
from uise_common.settings import Settings
from uise_identity.domain import CertificateFacts

# What a person reads when the signature itself is refused (kk, ru, en).
MESSAGES: dict[str, tuple[str, str, str]] = {
    "CERT_EXPIRED": ("Кілттің мерзімі өтті", "Срок действия ключа истёк", "the key's certificate has expired"),
    "CERT_NOT_YET_VALID": ("Кілт әлі жарамсыз", "Ключ ещё не действует", "the key's certificate is not valid yet"),
    "CERT_REVOKED": ("Кілт кері қайтарылған", "Ключ отозван", "the key's certificate is revoked"),
    "CHAIN_UNTRUSTED": ("Кілтті сенімді куәландырушы орталық бермеген", "Ключ выдан не доверенным удостоверяющим центром",
                        "the key was not issued by a trusted certification authority"),
    "SIGNATURE_INVALID": ("Қолтаңба расталмады", "Подпись не прошла проверку", "the signature does not verify"),
    "CONTENT_MISMATCH": ("Басқа мәтінге қол қойылған", "Подписан другой текст", "a different text was signed"),
    "KEY_USAGE": ("Кілт қол қоюға арналмаған", "Ключ не предназначен для подписи", "the key is not for signing"),
}
_DEFAULT = ("Қолтаңба оқылмады", "Подпись не читается", "the signature cannot be read")


class SignInVerifier:
    def __init__(self, trust: TrustStore, pinned: datetime | None = None) -> None:
        self.trust = trust
        self.pinned = pinned

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInVerifier:
        return cls(TrustStore.from_settings(settings), settings.identity_pki_time)

    def verify(self, cms: bytes, text: bytes) -> CertificateFacts:
        """The one signer of a sign-in CMS, its certificate judged now (or at the pinned time).
        The challenge itself is what is fresh (one-time, minutes old): the signer's own
        signingTime is only required not to lie in the future."""
        now = datetime.now(UTC)
        at = self.pinned or now
        try:
            info = verify(cms, text, self.trust, at=at, max_age=None, clock_skew=CLOCK_SKEW + max(now - at, timedelta(0)))
        except SignatureError as exc:
            kk, ru, en = MESSAGES.get(exc.code, _DEFAULT)
            raise ApiError(401, exc.code, f"sign-in refused: {en}", f"вход отклонён: {ru}", f"кіру қабылданбады: {kk}",
                           detail=str(exc)) from None
        return CertificateFacts(iin=info.iin, bin=info.bin, name=info.name, serial=info.serial,
                                eku=tuple(info.extended_key_usage))

"""Who a certificate makes its holder (pure): the organization is the certificate's BIN, the role
comes from the registry's record of that organization on the day: its first head in office, the
staff its head has named, or an employee holding the right to sign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from uise_common import auth
from uise_common.pki.oids import EKU_FIRST_HEAD, EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN
from uise_contracts.events import HeadTerm, StaffMember

# Reason codes of identity, with the HTTP status and the kk/ru/en messages people read.
REASONS: dict[str, tuple[int, str, str, str]] = {
    "CHALLENGE_UNKNOWN": (400, "this sign-in challenge is unknown; ask for a new one",
                          "неизвестный запрос на вход; запросите новый", "белгісіз кіру сұрауы; жаңасын сұраңыз"),
    "CHALLENGE_EXPIRED": (400, "this sign-in challenge has expired; ask for a new one",
                          "срок запроса на вход истёк; запросите новый", "кіру сұрауының мерзімі өтті; жаңасын сұраңыз"),
    "CHALLENGE_USED": (400, "this sign-in challenge was already used; ask for a new one",
                       "запрос на вход уже использован; запросите новый", "кіру сұрауы қолданылған; жаңасын сұраңыз"),
    "SIGNATURE_NOT_CMS": (400, "the signature is not a CMS (PKCS#7) in base64",
                          "подпись не является CMS (PKCS#7) в base64", "қолтаңба base64 форматындағы CMS (PKCS#7) емес"),
    "NOT_ORGANIZATION": (403, "this is a personal certificate; sign in with your organization's key (legal entity)",
                         "это ключ физического лица; войдите ключом организации (юридического лица)",
                         "бұл жеке тұлғаның кілті; ұйымның (заңды тұлғаның) кілтімен кіріңіз"),
    "PARTICIPANT_UNKNOWN": (403, "the organization of this certificate is not a participant of UISE",
                            "организация этого сертификата не является участником ЕИСО",
                            "бұл сертификаттың ұйымы БЖАЖ қатысушысы емес"),
    "NO_ROLE": (403, "you are neither the head, nor a signer, nor on the staff list of this organization",
                "вы не руководитель, не подписант и не в списке сотрудников этой организации",
                "сіз бұл ұйымның басшысы, қол қоюшысы немесе қызметкерлер тізімінде емессіз"),
    "ROLE_NOT_HELD": (403, "you do not hold the role you asked for in this organization",
                      "у вас нет запрошенной роли в этой организации", "бұл ұйымда сұралған рөліңіз жоқ"),
    "REFRESH_INVALID": (401, "the refresh token is unknown or expired; sign in again",
                        "токен обновления неизвестен или истёк; войдите снова",
                        "жаңарту токені белгісіз немесе мерзімі өтті; қайта кіріңіз"),
    "ROLE_LOST": (401, "you no longer hold this role; sign in again",
                  "у вас больше нет этой роли; войдите снова", "сізде бұл рөл енді жоқ; қайта кіріңіз"),
    "CLIENT_INVALID": (401, "unknown client or wrong secret", "неизвестный клиент или неверный секрет",
                       "белгісіз клиент немесе қате құпия"),
    "CLIENT_REVOKED": (401, "this client's credentials were revoked", "учётные данные клиента отозваны",
                       "клиенттің тіркелгі деректері кері қайтарылды"),
    "CLIENT_UNKNOWN": (404, "no such client", "нет такого клиента", "мұндай клиент жоқ"),
    "SESSION_UNKNOWN": (404, "no such session", "нет такого сеанса", "мұндай сеанс жоқ"),
    "CLIENT_ROLE_INVALID": (422, "machine clients made here are `system` (for one participant) or `integrator`",
                            "здесь создаются клиенты `system` (для одного участника) или `integrator`",
                            "мұнда `system` (бір қатысушы үшін) немесе `integrator` клиенттері жасалады"),
    "SCOPE_INVALID": (422, "a scope the role does not have was asked for", "запрошена область, которой нет у роли",
                      "рөлде жоқ аймақ сұралды"),
    "PARTICIPANT_REQUIRED": (422, "a `system` client acts for one participant: give participant_id",
                             "клиент `system` действует за одного участника: укажите participant_id",
                             "`system` клиенті бір қатысушы атынан әрекет етеді: participant_id көрсетіңіз"),
}


class Refused(Exception):
    def __init__(self, code: str, detail: str | None = None) -> None:
        super().__init__(code if detail is None else f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class CertificateFacts:
    """What a verified sign-in certificate says about its holder."""

    iin: str | None
    bin: str | None
    name: str | None
    serial: str
    eku: tuple[str, ...]


@dataclass(frozen=True)
class Organization:
    participant_id: str
    level: str
    active: bool
    heads: list[HeadTerm]
    staff: list[StaffMember]


# A staff role is honoured only where it makes sense (the registry refuses the others too).
STAFF_ROLE_LEVELS = {
    auth.ACCOUNTANT: {"ministry", "region", "district", "organization"},
    auth.OFFICER: {"ministry", "region", "district"},
    auth.ANALYST: {"ministry", "region", "district"},
    auth.DATA_OFFICE: {"ministry"},
}


def roles_held(cert: CertificateFacts, org: Organization | None, today: date) -> list[str]:
    """Every role the holder has at the certificate's organization today, strongest first.
    Raises Refused when there is none."""
    if EKU_LEGAL_ENTITY not in cert.eku or not cert.bin or not cert.iin:
        raise Refused("NOT_ORGANIZATION")
    if org is None or not org.active:
        raise Refused("PARTICIPANT_UNKNOWN", cert.bin)
    roles = []
    head = next((h for h in org.heads if h.valid_from <= today and (h.valid_to is None or today <= h.valid_to)), None)
    if EKU_FIRST_HEAD in cert.eku and head is not None and head.iin == cert.iin:
        roles.append(auth.HEAD)
    for member in org.staff:
        if member.iin == cert.iin and member.active_on(today) and org.level in STAFF_ROLE_LEVELS.get(member.role, ()):
            roles.append(member.role)
    if EKU_RIGHT_TO_SIGN in cert.eku:
        roles.append(auth.SIGNER)
    if not roles:
        raise Refused("NO_ROLE")
    return list(dict.fromkeys(roles))


def choose_role(held: list[str], wanted: str | None) -> str:
    if wanted is None:
        return held[0]
    if wanted not in held:
        raise Refused("ROLE_NOT_HELD", wanted)
    return wanted


def still_holds(role: str, iin: str, org: Organization | None, today: date) -> bool:
    """Does a signed-in person still hold `role` (a new head took office, a staff term ended)?
    The certificate's EKU was checked at sign-in; here only the registry's side can change."""
    if org is None or not org.active:
        return False
    if role == auth.HEAD:
        return any(h.iin == iin and h.valid_from <= today and (h.valid_to is None or today <= h.valid_to)
                   for h in org.heads)
    if role == auth.SIGNER:
        return True
    return any(m.iin == iin and m.role == role and m.active_on(today) for m in org.staff)


def challenge_text(issuer: str, challenge_id: str, nonce: str, issued_at: datetime) -> str:
    """What the person signs: readable in NCALayer's dialog, bound to this system and moment."""
    return (f"UISE sign-in / ЕИСО: вход / БЖАЖ: кіру\n"
            f"issuer: {issuer}\nchallenge: {challenge_id}\nnonce: {nonce}\nissued: {issued_at.isoformat()}\n")

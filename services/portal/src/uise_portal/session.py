"""The signed-in person's session, sealed in a cookie (Fernet: encrypted and authenticated): the
portal keeps no session table, so any replica serves any request. It holds the tokens identity
issued; the access token is refreshed shortly before it expires."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict, dataclass

from cryptography.fernet import Fernet, InvalidToken

COOKIE = "uise_session"
MAX_AGE_SECONDS = 10 * 3600  # identity's session length (UISE_IDENTITY_SESSION_HOURS)
REFRESH_MARGIN_SECONDS = 30


@dataclass
class PortalSession:
    access_token: str
    refresh_token: str
    participant_id: str
    role: str
    subject: str
    level: str | None = None
    name: str | None = None

    def access_expires_at(self) -> float:
        """The access token's `exp` (read, not verified: the services verify it; the portal only
        decides when to refresh)."""
        try:
            payload = self.access_token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            return float(claims["exp"])
        except (IndexError, KeyError, ValueError, TypeError):
            return 0.0

    def needs_refresh(self, now: float | None = None) -> bool:
        return self.access_expires_at() - REFRESH_MARGIN_SECONDS <= (now or time.time())

    @property
    def is_department(self) -> bool:
        return self.level in ("district", "region", "ministry")


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, session: PortalSession) -> str:
        return self._fernet.encrypt(json.dumps(asdict(session)).encode()).decode()

    def open(self, cookie: str | None) -> PortalSession | None:
        """None for no cookie, a forged or altered one, or one older than a session lives."""
        if not cookie:
            return None
        try:
            data = json.loads(self._fernet.decrypt(cookie.encode(), ttl=MAX_AGE_SECONDS))
            return PortalSession(**data)
        except (InvalidToken, ValueError, TypeError):
            return None

"""The portal's settings (UISE_PORTAL_*): where the services are, where NCALayer listens, and the
key that seals the session cookie."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("identity", "registry", "intake", "validation", "routing", "deadline", "reporting")


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UISE_PORTAL_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8009
    data_dir: Path = Path(os.environ.get("UISE_DATA_DIR", "var"))
    # The services' base URLs (the embedded stack's defaults).
    identity_url: str = "http://127.0.0.1:8008"
    registry_url: str = "http://127.0.0.1:8001"
    intake_url: str = "http://127.0.0.1:8002"
    validation_url: str = "http://127.0.0.1:8004"
    routing_url: str = "http://127.0.0.1:8005"
    deadline_url: str = "http://127.0.0.1:8006"
    reporting_url: str = "http://127.0.0.1:8007"
    # NCALayer, the desktop signing app, on the person's own machine (the browser connects to it).
    ncalayer_url: str = "wss://127.0.0.1:13579"
    # The secret sealing the session cookie (any random string of 32+ characters; the Fernet key is
    # derived from it); replicas share it. Unset: generated in <data_dir>/portal-session.key.
    session_key: str | None = Field(default=None, min_length=32)
    # Set behind HTTPS (production): the cookie is then sent over HTTPS only.
    cookie_secure: bool = False
    request_timeout_seconds: float = 60.0

    def url(self, service: str) -> str:
        return getattr(self, f"{service}_url").rstrip("/")

    def sealing_key(self) -> bytes:
        if self.session_key:
            return base64.urlsafe_b64encode(hashlib.sha256(self.session_key.encode()).digest())
        path = self.data_dir / "portal-session.key"
        if not path.exists():
            from cryptography.fernet import Fernet

            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{secrets.token_hex(4)}")
            tmp.write_bytes(Fernet.generate_key())
            tmp.chmod(0o600)
            tmp.replace(path)  # a replica starting at the same time keeps whichever landed
        return path.read_bytes().strip()

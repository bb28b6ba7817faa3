"""Calls to UISE's services with the signed-in person's token. The portal adds nothing to what a
service allows: each service checks the token and the subtree itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from uise_portal.settings import PortalSettings


@dataclass
class ServiceError(Exception):
    """A service refused (its stable code and kk/ru/en message), or could not be reached."""

    status: int
    code: str
    messages: dict[str, str] = field(default_factory=dict)

    def message(self, lang: str) -> str:
        return self.messages.get(lang) or self.messages.get("en") or self.code

    @classmethod
    def of(cls, resp: httpx.Response) -> ServiceError:
        try:
            body = resp.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = error.get("message")
            messages = message if isinstance(message, dict) else {"en": str(message or "")}
            return cls(resp.status_code, str(error.get("code") or resp.status_code), messages)
        if isinstance(body, dict) and isinstance(body.get("detail"), list):  # FastAPI's 422
            text = "; ".join(str(d.get("msg")) for d in body["detail"] if isinstance(d, dict))
            return cls(resp.status_code, "INVALID_INPUT", {"en": text})
        return cls(resp.status_code, f"HTTP_{resp.status_code}", {})


def unreachable(service: str, exc: Exception) -> ServiceError:
    return ServiceError(503, "SERVICE_UNREACHABLE", {
        "en": f"the {service} service cannot be reached now ({type(exc).__name__}); try again shortly",
        "ru": f"сервис {service} сейчас недоступен; повторите попытку чуть позже",
        "kk": f"{service} қызметі қазір қолжетімсіз; сәлден соң қайталап көріңіз"})


class Backend:
    def __init__(self, settings: PortalSettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.client = client or httpx.AsyncClient(timeout=settings.request_timeout_seconds)

    async def request(self, service: str, method: str, path: str, token: str | None = None,
                      **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = await self.client.request(method, f"{self.settings.url(service)}{path}", headers=headers, **kw)
        except httpx.HTTPError as exc:
            raise unreachable(service, exc) from exc
        if resp.status_code >= 400:
            raise ServiceError.of(resp)
        return resp

    async def stream(self, service: str, method: str, path: str, token: str | None = None,
                     **kw: Any) -> httpx.Response:
        """An answer whose body is not read yet (a file passed on to the browser as it arrives);
        the caller closes it. A refusal is read and raised as ServiceError, as `request` does."""
        headers = dict(kw.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = self.client.build_request(method, f"{self.settings.url(service)}{path}", headers=headers, **kw)
        try:
            resp = await self.client.send(req, stream=True)
        except httpx.HTTPError as exc:
            raise unreachable(service, exc) from exc
        if resp.status_code >= 400:
            try:
                await resp.aread()
            finally:
                await resp.aclose()
            raise ServiceError.of(resp)
        return resp

    async def json(self, service: str, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        resp = await self.request(service, method, path, token, **kw)
        return resp.json() if resp.content else None

    async def aclose(self) -> None:
        await self.client.aclose()

"""What every page needs: the language, the signed-in person (refreshed when the access token is
about to expire), rendering a template with both, and the one way pages call the services."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from uise_portal.backend import Backend, ServiceError
from uise_portal.i18n import LANGS, Translator
from uise_portal.session import PortalSession, Sealer

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class NeedSignIn(Exception):
    """No session, or one identity no longer honours: the page sends the person to sign in."""


def lang_of(request: Request) -> str:
    return request.state.lang


def translator(request: Request) -> Translator:
    return Translator(request.state.lang)


def backend(request: Request) -> Backend:
    return request.app.state.backend


def sealer(request: Request) -> Sealer:
    return request.app.state.sealer


async def current_session(request: Request) -> PortalSession | None:
    """The person's session from the sealed cookie, its access token refreshed when it is about
    to expire (the new cookie goes out with the response)."""
    session = sealer(request).open(request.cookies.get("uise_session"))
    if session is None:
        return None
    if session.needs_refresh():
        try:
            issued = await backend(request).json("identity", "POST", "/v1/auth/refresh",
                                                 json={"refresh_token": session.refresh_token})
        except ServiceError as exc:
            if exc.status in (401, 403):  # signed out elsewhere, role lost, refresh reused
                request.state.clear_session = True
                return None
            raise
        session.access_token = issued["access_token"]
        session.refresh_token = issued.get("refresh_token", session.refresh_token)
        request.state.new_session = session
    return session


async def signed_in(request: Request) -> PortalSession:
    """A page's dependency: the session, or NeedSignIn (answered with the sign-in page)."""
    session = await current_session(request)
    if session is None:
        raise NeedSignIn
    request.state.session = session
    return session


async def call(request: Request, session: PortalSession, service: str, method: str, path: str, **kw: Any) -> Any:
    """A service's JSON answer, called with the person's own token."""
    return await backend(request).json(service, method, path, session.access_token, **kw)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    t = translator(request)
    path = request.url.path
    return TEMPLATES.TemplateResponse(request, template, status_code=status_code, context={
        "t": t, "lang": t.lang, "langs": LANGS, "session": getattr(request.state, "session", None),
        "lang_links": {code: f"{quote(path)}?lang={code}" for code in LANGS},
        "ncalayer_url": request.app.state.settings.ncalayer_url, **context})

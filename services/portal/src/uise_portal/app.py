"""The portal's FastAPI app: language and session cookies, errors as pages, the pages' routers."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from uise_common import metrics
from uise_portal import i18n, web
from uise_portal.backend import Backend, ServiceError
from uise_portal.pages import auth, home, ministry, officer, participant
from uise_portal.session import COOKIE, MAX_AGE_SECONDS, Sealer
from uise_portal.settings import PortalSettings

log = logging.getLogger(__name__)
ROUTERS = [auth.router, home.router, participant.router, officer.router, ministry.router]


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "") or request.headers.get("hx-request") == "true"


def create_app(settings: PortalSettings | None = None, backend: Backend | None = None) -> FastAPI:
    settings = settings or PortalSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await app.state.backend.aclose()

    app = FastAPI(title="UISE portal", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.backend = backend or Backend(settings)
    app.state.sealer = Sealer(settings.sealing_key())
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    for router in ROUTERS:
        app.include_router(router)

    @app.middleware("http")
    async def language_and_session(request: Request, call_next):
        query = request.query_params.get("lang")
        request.state.lang = i18n.choose(query, request.cookies.get(i18n.LANG_COOKIE),
                                         request.headers.get("accept-language"))
        request.state.session = None
        response: Response = await call_next(request)
        if query in i18n.LANGS:
            response.set_cookie(i18n.LANG_COOKIE, query, max_age=365 * 24 * 3600, samesite="lax",
                                secure=settings.cookie_secure)
        new = getattr(request.state, "new_session", None)
        if new is not None:
            response.set_cookie(COOKIE, app.state.sealer.seal(new), max_age=MAX_AGE_SECONDS, httponly=True,
                                samesite="strict", secure=settings.cookie_secure, path="/")
        elif getattr(request.state, "clear_session", False):
            response.delete_cookie(COOKIE, path="/")
        # pages carry personal data: never cached by a shared proxy, never framed
        response.headers.setdefault("Cache-Control", "private, no-store")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    @app.exception_handler(web.NeedSignIn)
    async def need_sign_in(request: Request, _exc: web.NeedSignIn):
        if _wants_json(request):
            return JSONResponse({"code": "SIGN_IN_REQUIRED"}, status_code=401)
        return RedirectResponse("/sign-in?reason=expired" if COOKIE in request.cookies else "/sign-in", 303)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        t = web.translator(request)
        if exc.status == 401:
            request.state.clear_session = True
            return RedirectResponse("/sign-in?reason=expired", 303)
        if _wants_json(request):
            return JSONResponse({"code": exc.code, "message": exc.message(t.lang)}, status_code=exc.status)
        return web.render(request, "error.html", status_code=exc.status, code=exc.code, message=exc.message(t.lang))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        t = web.translator(request)
        key = {404: "error.not_found", 403: "error.forbidden"}.get(exc.status_code)
        message = t(key) if key else str(exc.detail)
        if _wants_json(request):
            return JSONResponse({"code": f"HTTP_{exc.status_code}", "message": message}, status_code=exc.status_code)
        return web.render(request, "error.html", status_code=exc.status_code, code=f"HTTP_{exc.status_code}",
                          message=message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        text = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        if _wants_json(request):
            return JSONResponse({"code": "INVALID_INPUT", "message": text}, status_code=422)
        return web.render(request, "error.html", status_code=422, code="INVALID_INPUT", message=text)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict:
        """Ready as soon as it serves: it holds no state, and a service that is down shows as a
        clear error on the pages that need it (never a 500)."""
        return {"ready": True, "checks": {}}

    # requests by route and status, like every service (docs/operations.md); the edge's ingress
    # should not pass /metrics on to the internet
    metrics.install(app, metrics.ServiceMetrics("portal"), include_in_schema=False)
    return app


def main() -> int:
    settings = PortalSettings()
    logging.basicConfig(level=logging.INFO)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_level="info")
    return 0

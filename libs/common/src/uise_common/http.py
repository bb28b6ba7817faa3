"""HTTP edge helpers: a server span per request (continuing an incoming traceparent) and
errors as JSON with a stable reason code and messages in kk/ru/en."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import context, metrics, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from uise_common.outbox import EventTooLarge

_PROPAGATOR = TraceContextTextMapPropagator()


class ApiError(Exception):
    """An error a user reads: `code` is stable, `messages` has kk, ru and en."""

    def __init__(self, status: int, code: str, en: str, ru: str, kk: str,
                 headers: dict[str, str] | None = None, **detail: object) -> None:
        super().__init__(en)
        self.status = status
        self.code = code
        self.messages = {"kk": kk, "ru": ru, "en": en}
        self.headers = headers
        self.detail = detail

    def response(self) -> JSONResponse:
        body = {"error": {"code": self.code, "message": self.messages, **self.detail}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def install(app: FastAPI, service: str) -> None:
    tracer = trace.get_tracer(f"uise.{service}.http")
    duration = metrics.get_meter(f"uise.{service}.http").create_histogram(
        "http.server.request.duration", unit="s", description="HTTP requests served, by route and status")

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e["loc"] if p not in ("body", "query", "header", "path", "cookie")) for e in exc.errors()]
        names = ", ".join(f for f in fields if f) or "request"
        return ApiError(422, "REQUEST_INVALID", f"missing or invalid: {names}",
                        f"отсутствует или неверно: {names}", f"жоқ немесе қате: {names}",
                        fields=[{"field": f, "problem": e["msg"]} for f, e in zip(fields, exc.errors(), strict=True)],
                        ).response()

    @app.exception_handler(EventTooLarge)
    async def _too_large(_request: Request, exc: EventTooLarge) -> JSONResponse:
        # The change would publish an event over the broker's limit: refused, nothing written.
        limit = f"{exc.limit // 1024:,} KiB"
        return ApiError(422, "EVENT_TOO_LARGE",
                        f"this change makes an event larger than the system carries ({limit}); make it smaller",
                        f"изменение порождает событие больше допустимого ({limit}); уменьшите его",
                        f"бұл өзгеріс рұқсат етілгеннен ({limit}) үлкен оқиға тудырады; оны кішірейтіңіз",
                        topic=exc.topic, size=exc.size, limit=exc.limit).response()

    @app.middleware("http")
    async def _trace(request: Request, call_next):
        if request.url.path in ("/healthz", "/readyz"):
            return await call_next(request)
        token = context.attach(_PROPAGATOR.extract(dict(request.headers)))
        started = time.perf_counter()
        status = 500
        try:
            with tracer.start_as_current_span(
                f"{request.method} {request.url.path}", kind=trace.SpanKind.SERVER,
                attributes={"http.request.method": request.method, "url.path": request.url.path},
            ) as span:
                response = await call_next(request)
                status = response.status_code
                span.set_attribute("http.response.status_code", status)
                # Named by the route's template, not the path: a path can carry an identifier
                # (an IIN) and every distinct path would be a distinct span name.
                route = request.scope.get("route")
                if route is not None:
                    span.update_name(f"{request.method} {route.path}")
                    span.set_attribute("http.route", route.path)
                if response.status_code >= 500:
                    span.set_status(trace.StatusCode.ERROR)
                return response
        finally:
            context.detach(token)
            route = request.scope.get("route")
            duration.record(time.perf_counter() - started, {
                "http.request.method": request.method,
                "http.route": getattr(route, "path", "unmatched"),
                "http.response.status_code": status,
            })

"""HTTP edge helpers: a server span per request (continuing an incoming traceparent) and
errors as JSON with a stable reason code and messages in kk/ru/en."""

from __future__ import annotations

import time
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import context, metrics, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from uise_common.failures import OUTAGES
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


class ErrorMessages(BaseModel):
    kk: str
    ru: str
    en: str


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # a reason may carry details of its own (fields, limits)

    code: str
    message: ErrorMessages


class ErrorBody(BaseModel):
    """What every refusal answers (ApiError.response): a stable reason code and the message in
    kk, ru and en."""

    error: ErrorDetail


def refusals(statuses: Mapping[str, int], *codes: str) -> dict[int, dict]:
    """A route's OpenAPI `responses` for the reason codes it may refuse with, grouped by status
    (`statuses` maps a code to its status, 422 when it is not there); the body, ErrorBody, is
    filled in by `describe_errors`, the refusals of the route's access policy by `auth.secure`."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(statuses.get(code, 422), []).append(code)
    return {status: {"description": ", ".join(named)} for status, named in sorted(by_status.items())}


# What Starlette and FastAPI refuse themselves, before a route runs: a body that cannot be parsed,
# a path no route has, a method the path does not take.
_FRAMEWORK_REFUSALS = {
    400: ("REQUEST_MALFORMED", "the request's body cannot be read", "тело запроса не читается",
          "сұраныстың денесі оқылмайды"),
    404: ("NOT_FOUND", "no such address", "нет такого адреса", "мұндай мекенжай жоқ"),
    405: ("METHOD_NOT_ALLOWED", "this address does not take this method", "этот адрес не принимает такой метод",
          "бұл мекенжай мұндай әдісті қабылдамайды"),
}


# What is away when a route meets an outage (uise_common.failures.OUTAGES): a 503 the client may
# retry, in the error body every other refusal has, instead of a bare 500.
_OUTAGE_REFUSALS = {
    "database": ("DATABASE_UNAVAILABLE", "the database is unavailable; retry shortly",
                 "база данных недоступна; повторите немного позже", "дерекқор қолжетімсіз; сәлден соң қайталаңыз"),
    "storage": ("STORAGE_UNAVAILABLE", "object storage is unavailable; retry shortly",
                "хранилище недоступно; повторите немного позже", "қойма қолжетімсіз; сәлден соң қайталаңыз"),
    "redis": ("REDIS_UNAVAILABLE", "a shared store (Redis) is unavailable; retry shortly",
              "общее хранилище (Redis) недоступно; повторите немного позже",
              "ортақ қойма (Redis) қолжетімсіз; сәлден соң қайталаңыз"),
    "kafka": ("KAFKA_UNAVAILABLE", "the event bus is unavailable; retry shortly",
              "шина событий недоступна; повторите немного позже", "оқиғалар шинасы қолжетімсіз; сәлден соң қайталаңыз"),
}
OUTAGE_RETRY_AFTER = "5"


def outage_refusal(what: str) -> ApiError:
    code, en, ru, kk = _OUTAGE_REFUSALS[what]
    return ApiError(503, code, en, ru, kk, headers={"Retry-After": OUTAGE_RETRY_AFTER})


def framework_refusal(exc: HTTPException) -> ApiError:
    code, en, ru, kk = _FRAMEWORK_REFUSALS.get(exc.status_code, (
        f"HTTP_{exc.status_code}", str(exc.detail), str(exc.detail), str(exc.detail)))
    return ApiError(exc.status_code, code, en, ru, kk, headers=getattr(exc, "headers", None))


def documents(*media_types: str) -> dict[int, dict]:
    """A route's OpenAPI 200 answer when it is a file of one of `media_types`, not JSON (use with
    `response_class=Response`)."""
    return {200: {"content": {m: {} for m in media_types}, "description": "The document"}}


def describe_errors(schema: dict) -> dict:
    """Give every 4xx and 5xx response of `schema` that declares no body ErrorBody's, and put
    ErrorBody in place of FastAPI's HTTPValidationError (the handler below answers a 422 with
    ErrorBody), so a client and a fuzzer read what is really answered."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(body.pop("$defs"))
    components["ErrorBody"] = body
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if "requestBody" in operation:
                operation["responses"].setdefault("400", {"description": "REQUEST_MALFORMED"})
            away = operation["responses"].setdefault("503", {"description": ""})  # maybe AUTH_UNAVAILABLE
            codes = [c for c in away["description"].split(", ") if c]
            away["description"] = ", ".join(codes + [c for c, *_ in _OUTAGE_REFUSALS.values() if c not in codes])
            for status, response in operation.get("responses", {}).items():
                if status[0] not in "45":
                    continue
                declared = response.get("content", {}).get("application/json", {}).get("schema", {})
                if declared.get("$ref", "").endswith("/HTTPValidationError"):
                    response["description"] = "REQUEST_INVALID" if response.get("description") in (
                        None, "Validation Error") else response["description"]
                    response["content"] = content
                elif "content" not in response:
                    response["content"] = content
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install(app: FastAPI, service: str) -> None:
    tracer = trace.get_tracer(f"uise.{service}.http")
    duration = metrics.get_meter(f"uise.{service}.http").create_histogram(
        "http.server.request.duration", unit="s", description="HTTP requests served, by route and status")

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(HTTPException)
    async def _framework(_request: Request, exc: HTTPException) -> JSONResponse:
        return framework_refusal(exc).response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e["loc"] if p not in ("body", "query", "header", "path", "cookie")) for e in exc.errors()]
        names = ", ".join(f for f in fields if f) or "request"
        return ApiError(422, "REQUEST_INVALID", f"missing or invalid: {names}",
                        f"отсутствует или неверно: {names}", f"жоқ немесе қате: {names}",
                        fields=[{"field": f, "problem": e["msg"]} for f, e in zip(fields, exc.errors(), strict=True)],
                        ).response()

    for what, classes in OUTAGES.items():
        async def _outage(_request: Request, _exc: Exception, what: str = what) -> JSONResponse:
            return outage_refusal(what).response()

        for cls in classes:
            app.add_exception_handler(cls, _outage)

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

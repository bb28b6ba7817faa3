"""What an upload meets before its body is parsed: a cap on the request's size (declared and
actual) and a bounded number of uploads in flight, beyond which the answer is 429 at once."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

from uise_common.http import ApiError
from uise_intake.domain import InFlightLimiter
from uise_intake.reasons import refuse


def _capped(receive: Receive, limit: int) -> Receive:
    """A receive that refuses a body growing past `limit` (a chunked upload declares nothing)."""
    seen = 0

    async def receive_capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise refuse("REQUEST_TOO_LARGE", limit=limit)
        return message

    return receive_capped


Authenticate = Callable[[Request], Coroutine[Any, Any, str]]


def guarded_route(limiter: InFlightLimiter, max_body: int, retry_after: int,
                  authenticate: Authenticate | None = None) -> type[APIRoute]:
    """A route class for uploads: size cap, a slot from `limiter`, the caller authenticated from
    the headers (kept in `request.state.participant_id`), and only then the usual handler, which
    reads the body; errors raised while FastAPI parses the body come back in the API's shape."""

    class GuardedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                declared = request.headers.get("content-length")
                if declared is not None:
                    if not declared.strip().isdigit():
                        raise refuse("REQUEST_MALFORMED")
                    if int(declared) > max_body:
                        raise refuse("REQUEST_TOO_LARGE", limit=max_body)
                if not limiter.try_acquire():
                    raise refuse("OVERLOADED", headers={"Retry-After": str(retry_after)}, seconds=retry_after)
                try:
                    if authenticate is not None:
                        request.state.participant_id = await authenticate(request)
                    return await handler(Request(request.scope, _capped(request.receive, max_body)))
                except HTTPException as exc:
                    # the body parser wraps what our receive raised: unwrap it
                    for cause in (exc.__cause__, exc.__context__):
                        if isinstance(cause, ApiError):
                            raise cause from None
                    if exc.status_code == 400:  # FastAPI: "There was an error parsing the body"
                        raise refuse("REQUEST_MALFORMED") from exc
                    raise
                finally:
                    limiter.release()

            return guarded

    return GuardedRoute

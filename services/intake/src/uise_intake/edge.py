"""What an upload meets before its body is parsed, in this order: a cap on its declared size; its
sender authenticated from the headers; its participant's limits and a slot among the uploads in
flight in this process (limits.py); then, while the body is read, a cap on its actual size and two
timeouts, one for no progress and one for a low average rate.

Every refusal is a reason-coded answer. One given before the body was read to its end also closes
the connection (`Connection: close`): otherwise the server would go on reading, and discarding,
a body nobody will use, and a client on a slow line would learn of the refusal only after sending
all of it. A slow upload cut off gives its slots back at once, before its answer is written."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from contextlib import ExitStack
from typing import Any

import anyio
from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

from uise_common.http import ApiError
from uise_intake.limits import BodyTimeouts, UploadLimits
from uise_intake.reasons import Refused, refuse

log = logging.getLogger(__name__)

# `authenticate(request) -> participant_id`, from the headers only (the body is not read yet);
# raises the ApiError to answer (401, 403, 503) when there is none.
Authenticate = Callable[[Request], Coroutine[Any, Any, str]]


# How long a load-shedding refusal waits for the rest of an upload before answering: enough for
# a document in flight on a healthy connection, too short to hold a slot for a slow one.
DRAIN_SECONDS = 0.25


class GuardedBody:
    """A request's `receive` that refuses a body growing past `limit` (a chunked upload declares
    nothing), one that makes no progress for `idle_seconds`, and one whose average rate since the
    first read falls below the minimum once the grace period is over. The clock starts at the first
    read, so time spent authenticating is never counted against the client."""

    def __init__(self, receive: Receive, limit: int, timeouts: BodyTimeouts,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._receive = receive
        self.limit = limit
        self.timeouts = timeouts
        self.clock = clock
        self.received = 0
        self.started: float | None = None
        self.complete = False  # the last chunk has arrived

    async def receive(self) -> Message:
        if self.complete:  # after the body: e.g. waiting for a disconnect, which is not ours to time
            return await self._receive()
        now = self.clock()
        if self.started is None:
            self.started = now
        too_slow_at = self.timeouts.too_slow_at(self.started, self.received)
        idle_at = now + self.timeouts.idle_seconds
        try:
            # anyio, not asyncio.timeout: the receive may run through Starlette's middleware,
            # which waits in anyio task groups
            with anyio.fail_after(max(0.0, min(idle_at, too_slow_at) - now)):
                message = await self._receive()
        except TimeoutError:
            if too_slow_at <= idle_at:
                raise refuse("UPLOAD_TOO_SLOW", rate=f"{self.timeouts.min_bytes_per_second:g}",
                             received=self.received) from None
            raise refuse("REQUEST_TIMEOUT", seconds=f"{self.timeouts.idle_seconds:g}",
                         received=self.received) from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                raise refuse("REQUEST_TOO_LARGE", limit=self.limit)
            if not message.get("more_body", False):
                self.complete = True
        return message

    async def drain(self, seconds: float = DRAIN_SECONDS) -> bool:
        """Read and drop the rest of the body, under the same limits and for `seconds` at most;
        True when it all came. A refusal sent while the client still uploads, then a closed
        connection, reaches many clients as a reset instead of the answer (seen at twice the
        sustainable rate); a client too slow to finish in that time is cut off as before."""
        with anyio.move_on_after(seconds):
            try:
                while not self.complete:
                    if (await self.receive())["type"] != "http.request":
                        return False  # the client went away
            except ApiError:
                return False
        return self.complete


def guarded_route(limits: UploadLimits, max_body: int, authenticate: Authenticate) -> type[APIRoute]:
    """A route class for uploads: the checks above, the participant kept in
    `request.state.participant_id`, and only then the usual handler, which reads the body; errors
    raised while FastAPI parses the body come back in the API's shape. `limits` is also on the
    class (`GuardedRoute.upload_limits`), for metrics and tests."""

    class GuardedRoute(APIRoute):
        upload_limits = limits

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def admitted(request: Request, body: GuardedBody) -> Response:
                declared = request.headers.get("content-length")
                if declared is not None:
                    if not declared.strip().isdigit():
                        raise refuse("REQUEST_MALFORMED")
                    if int(declared) > max_body:
                        raise refuse("REQUEST_TOO_LARGE", limit=max_body)
                participant = await authenticate(request)
                request.state.participant_id = participant
                with ExitStack() as slots:
                    try:
                        slots.enter_context(limits.admit(participant))
                    except Refused as r:
                        # shedding load: the bytes are cheap to read, and the client then reads
                        # the 429 and its Retry-After rather than a reset connection
                        await body.drain()
                        raise refuse(r.code, headers={"Retry-After": str(r.params["seconds"])}, **r.params) from None
                    try:
                        return await handler(Request(request.scope, body.receive))
                    except HTTPException as exc:
                        # the body parser wraps what our receive raised: unwrap it
                        for cause in (exc.__cause__, exc.__context__):
                            if isinstance(cause, ApiError):
                                raise cause from None
                        if exc.status_code == 400:  # FastAPI: "There was an error parsing the body"
                            raise refuse("REQUEST_MALFORMED") from exc
                        raise

            async def guarded(request: Request) -> Response:
                body = GuardedBody(request.receive, max_body, limits.body)
                try:
                    return await admitted(request, body)
                except ApiError as err:
                    if err.code in ("REQUEST_TIMEOUT", "UPLOAD_TOO_SLOW"):
                        log.warning("slow upload cut off", extra={
                            "participant_id": getattr(request.state, "participant_id", None), "code": err.code,
                            "received_bytes": body.received,
                            "seconds": round(time.monotonic() - (body.started or time.monotonic()), 3)})
                    if not body.complete:
                        err.headers = {**(err.headers or {}), "Connection": "close"}
                    raise

            return guarded

    return GuardedRoute

"""Sign-in with the EDS through NCALayer (docs/portal.md): the page asks the portal for identity's
one-time challenge, has NCALayer sign it on the person's machine, and posts the CMS back; identity
verifies it and issues the tokens, which the portal seals in the session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from uise_portal import web
from uise_portal.backend import ServiceError
from uise_portal.session import PortalSession

router = APIRouter()


class SignedChallenge(BaseModel):
    challenge_id: str = Field(max_length=64)
    signature: str = Field(max_length=200_000)


@router.get("/sign-in")
async def sign_in_page(request: Request, reason: str | None = None):
    notice = {"signed_out": "signin.signed_out", "expired": "signin.expired"}.get(reason or "")
    return web.render(request, "signin.html", notice=notice)


@router.post("/sign-in/challenge")
async def challenge(request: Request) -> JSONResponse:
    body = await web.backend(request).json("identity", "POST", "/v1/auth/challenges")
    return JSONResponse({"challenge_id": body["challenge_id"], "data": body["data"]})


@router.post("/sign-in")
async def sign_in(request: Request, signed: SignedChallenge) -> JSONResponse:
    t = web.translator(request)
    b = web.backend(request)
    try:
        issued = await b.json("identity", "POST", "/v1/auth/sign-in",
                              json={"challenge_id": signed.challenge_id, "signature": signed.signature})
        me = await b.json("identity", "GET", "/v1/auth/me", issued["access_token"])
    except ServiceError as exc:
        return JSONResponse({"code": exc.code, "message": exc.message(t.lang)}, status_code=exc.status)
    session = PortalSession(access_token=issued["access_token"], refresh_token=issued.get("refresh_token", ""),
                            participant_id=issued["participant_id"], role=issued["role"], subject=me["subject"],
                            level=me.get("level"), name=me.get("name"))
    request.state.new_session = session
    return JSONResponse({"redirect": "/"})


@router.post("/sign-out")
async def sign_out(request: Request):
    session = web.sealer(request).open(request.cookies.get("uise_session"))
    if session is not None:
        try:  # end the session at identity too, so its tokens stop working everywhere
            await web.backend(request).request("identity", "POST", "/v1/auth/sign-out", session.access_token)
        except ServiceError:
            pass  # already ended or expired: the cookie goes regardless
    request.state.clear_session = True
    return RedirectResponse("/sign-in?reason=signed_out", status_code=303)

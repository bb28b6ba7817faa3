"""The home page: where a signed-in person starts, by who they are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from uise_portal import web
from uise_portal.session import PortalSession

router = APIRouter()


@router.get("/")
async def home(request: Request, session: Annotated[PortalSession, Depends(web.signed_in)]):
    participant = await web.call(request, session, "registry", "GET", f"/v1/participants/{session.participant_id}")
    return web.render(request, "home.html", participant=participant)

"""What the officers' and the Ministry's pages share: calls that may find nothing, names of
participants, the forms to pick from, the business year, proxied downloads."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import HTTPException, Request
from fastapi.responses import Response

from uise_common.clock import Clock
from uise_common.periods import periods_of
from uise_portal import web
from uise_portal.backend import ServiceError
from uise_portal.session import PortalSession


def business_now() -> datetime:
    """The business clock (Asia/Almaty) as the services read it: a rehearsal moves it
    (UISE_CLOCK_FILE, uise_common.clock), so the pages offer the rehearsed year's forms."""
    path = os.environ.get("UISE_CLOCK_FILE")
    return Clock(control_file=Path(path) if path else None).almaty()


def department_only(session: PortalSession) -> None:
    """The departments' pages: a school has no inbox and no board (the services refuse too)."""
    if not session.is_department:
        raise HTTPException(403)


def national_only(session: PortalSession) -> None:
    if session.level != "ministry" and session.role != "data_office":
        raise HTTPException(403)


async def maybe(request: Request, session: PortalSession, service: str, method: str, path: str,
                missing: tuple[int, ...] = (404,), **kw: Any) -> Any:
    """A service's answer, or None when it has nothing for this yet (404: no consolidation built,
    no subordinates the form applies to)."""
    try:
        return await web.call(request, session, service, method, path, **kw)
    except ServiceError as exc:
        if exc.status in missing:
            return None
        raise


def name_of(participant: dict | None, lang: str) -> str:
    """A participant's name in the page's language (the registry keeps Kazakh and Russian)."""
    if not participant:
        return ""
    if lang == "kk":
        return participant.get("name_kk") or participant.get("name_ru") or participant["participant_id"]
    return participant.get("name_ru") or participant.get("name_kk") or participant["participant_id"]


async def children(request: Request, session: PortalSession, node: str) -> list[dict]:
    return await web.call(request, session, "registry", "GET", "/v1/participants",
                          params={"parent_id": node, "limit": 5000}) or []


async def names_below(request: Request, session: PortalSession, node: str) -> dict[str, str]:
    lang = web.lang_of(request)
    return {p["participant_id"]: name_of(p, lang) for p in await children(request, session, node)}


async def participant(request: Request, session: PortalSession, pid: str) -> dict | None:
    return await maybe(request, session, "registry", "GET", f"/v1/participants/{pid}", missing=(403, 404))


async def path_to(request: Request, session: PortalSession, node: dict | None) -> list[dict]:
    """The chain from the person's own node down to `node` (a drill-down's breadcrumb)."""
    chain = []
    at = node
    for _ in range(5):  # ministry → region → district → organization
        if at is None:
            break
        chain.append(at)
        if at["participant_id"] == session.participant_id or not at.get("parent_id"):
            break
        at = await participant(request, session, at["parent_id"])
    return list(reversed(chain))


def approved(lists: list[dict]) -> dict | None:
    """The version of a year's list in force (the last approved one)."""
    current = [fl for fl in lists if fl.get("status") == "approved"]
    return current[-1] if current else None


async def forms_of_years(request: Request, session: PortalSession, years: list[int]) -> list[dict]:
    """The forms of the years' approved lists, each with its year and its periods."""
    t = web.translator(request)
    out = []
    for year in years:
        lists = await maybe(request, session, "registry", "GET", f"/v1/formlists/{year}") or []
        current = approved(lists)
        for form in (current or {}).get("forms", []):
            out.append({"code": form["code"], "year": year, "period_type": form.get("period_type"),
                        "title": t.pick({"kk": form.get("title_kk"), "ru": form.get("title_ru"),
                                         "en": form.get("title_en")}),
                        "periods": periods_of(form.get("period_type", ""), year)})
    return out


async def picker(request: Request, session: PortalSession, form_code: str | None, period: str | None) -> dict:
    """The form and period chooser: the forms of this business year's list and last year's."""
    year = business_now().year
    forms = await forms_of_years(request, session, [year, year - 1])
    periods = sorted({p for f in forms for p in f["periods"]}, reverse=True)
    return {"forms": forms, "periods": periods, "form_code": form_code or "", "period": period or ""}


def query(**values: Any) -> str:
    """A query string of the non-empty values."""
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def safe_back(path: str | None, default: str) -> str:
    """A same-site path to go back to after a form post (never another site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def label(t, prefix: str, value: str | None) -> str:
    """A service's code in words when the portal has them, else the code itself."""
    from uise_portal.messages import MESSAGES  # here: the messages gather the pages' texts

    if value is None:
        return ""
    return t(prefix + value) if prefix + value in MESSAGES else value


async def download(request: Request, session: PortalSession | None, service: str, path: str, filename: str,
                   params: dict | None = None) -> Response:
    """A service's document passed through to the browser as an attachment."""
    resp = await web.backend(request).request(service, "GET", path, session.access_token if session else None,
                                              params=params or {})
    return attachment(resp.content, resp.headers.get("content-type", "application/octet-stream"), filename)


def attachment(content: bytes, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})

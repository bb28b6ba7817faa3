"""The portal's own pieces: every text in three languages, the sealed session, the language
choice, services' errors read in the page's language, and pages that need a session."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from uise_portal import i18n
from uise_portal.app import create_app
from uise_portal.backend import ServiceError
from uise_portal.messages import MESSAGES
from uise_portal.session import PortalSession, Sealer
from uise_portal.settings import PortalSettings


def test_every_text_is_in_kazakh_russian_and_english():
    for key, texts in MESSAGES.items():
        assert set(texts) == set(i18n.LANGS), key
        assert all(t.strip() for t in texts.values()), key
        fields = [{f for f in _fields(t)} for t in texts.values()]
        assert all(f == fields[0] for f in fields), f"{key}: the languages name different values"


def _fields(text: str) -> set[str]:
    import string

    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_an_unknown_key_shows_as_untranslated_so_tests_find_it():
    assert i18n.Translator("ru")("signin.title") == "Вход по ЭЦП"
    assert i18n.Translator("en")("no.such.key").startswith(i18n.UNTRANSLATED)


def test_the_language_is_the_switch_then_the_cookie_then_the_browser_then_kazakh():
    assert i18n.choose("en", "ru", "kk") == "en"
    assert i18n.choose(None, "ru", "en-GB,en;q=0.9") == "ru"
    assert i18n.choose("xx", None, "de-DE, ru;q=0.8") == "ru"
    assert i18n.choose(None, None, None) == "kk"


def token(exp: float) -> str:
    body = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    return f"e30.{body}.sig"


def test_a_sealed_session_opens_only_unaltered_and_with_its_own_key():
    sealer = Sealer(Fernet.generate_key())
    session = PortalSession(access_token=token(time.time() + 300), refresh_token="r", participant_id="1",
                            role="head", subject="iin:1", level="organization")
    cookie = sealer.seal(session)
    assert sealer.open(cookie) == session
    assert sealer.open(cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]) is None
    assert Sealer(Fernet.generate_key()).open(cookie) is None
    assert sealer.open("") is None and sealer.open("garbage") is None
    assert not session.needs_refresh()
    assert PortalSession(**{**session.__dict__, "access_token": token(time.time() + 10)}).needs_refresh()


def test_a_services_error_is_read_in_the_pages_language():
    resp = httpx.Response(403, json={"error": {"code": "NOT_ORGANIZATION",
                                               "message": {"kk": "жеке кілт", "ru": "личный ключ", "en": "personal key"}}})
    error = ServiceError.of(resp)
    assert (error.status, error.code, error.message("ru"), error.message("kk")) == (
        403, "NOT_ORGANIZATION", "личный ключ", "жеке кілт")
    assert ServiceError.of(httpx.Response(502, text="bad gateway")).code == "HTTP_502"


@pytest.fixture
def client(tmp_path):
    return TestClient(create_app(PortalSettings(data_dir=tmp_path, identity_url="http://127.0.0.1:9")))


def test_a_page_without_a_session_sends_to_sign_in_and_an_api_call_says_401(client):
    resp = client.get("/", follow_redirects=False)
    assert (resp.status_code, resp.headers["location"]) == (303, "/sign-in")
    resp = client.get("/", headers={"Accept": "application/json"}, follow_redirects=False)
    assert (resp.status_code, resp.json()["code"]) == (401, "SIGN_IN_REQUIRED")


def test_pages_are_not_cached_nor_framed_and_the_language_switch_is_remembered(client):
    resp = client.get("/sign-in?lang=en")
    assert resp.headers["cache-control"] == "private, no-store" and resp.headers["x-frame-options"] == "DENY"
    assert '<html lang="en">' in resp.text and "Sign in with your EDS" in resp.text
    assert client.get("/sign-in").text.count('<html lang="en">') == 1  # the cookie remembers


def test_identity_unreachable_is_a_clear_error_not_a_500(client):
    resp = client.post("/sign-in/challenge", headers={"Accept": "application/json"})
    assert resp.status_code == 503 and resp.json()["code"] == "SERVICE_UNREACHABLE"

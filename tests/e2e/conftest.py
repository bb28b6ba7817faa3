"""One embedded stack for the end-to-end tests: real tansu, moto S3, Valkey, SQLite, and the
eight service processes, on free ports in a temporary directory. The data office enters the demo
hierarchy with the credential the stack's ops command made; every demo head signs in with the
EDS when a test first acts for its organization."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from uise_common.testing import nca_test_pki
from uise_registry.demo import DISTRICT
from uise_stack.client import bearer, data_office_token
from uise_stack.config import StackConfig, free_port
from uise_stack.demo import seed_registry, sign_in_heads
from uise_stack.ncalayer import NCA_BIN, NCA_CEO, NCA_PINNED
from uise_stack.processes import http_ok, spawn, wait_until
from uise_stack.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    # UISE_DATABASE_URL / REDIS_URL from the environment would point the stack elsewhere;
    # the e2e run is about the embedded default.
    config = StackConfig.ephemeral(
        tmp_path_factory.mktemp("stack"), database_url=None, redis_url=None,
        extra_env={
            # the NCA RK test certificates carry identifiers without a valid control digit
            "registry": {"UISE_REGISTRY_TEST_IDENTIFIERS": "true"},
            # the tests play one school posting the 60-case hostile corpus within seconds: its
            # rate limit is off here (intake's own tests cover it on a real server); the limit
            # on uploads at once stays, and test_intake_paths meets it
            "intake": {"UISE_INTAKE_PARTICIPANT_UPLOADS_PER_MINUTE": "0"}})
    s = Stack(config)
    s.start()
    try:
        seed_registry(config.url("registry"))
        sign_in_heads(s.prepare_pki())
        yield s
    finally:
        s.stop()
        left = [name for name, proc in s.procs.items() if proc.alive()]
        assert not left, f"still running after stop: {left}"


@pytest.fixture(scope="session")
def ca(stack):
    return stack.prepare_pki()


@pytest.fixture(scope="session")
def intake(stack) -> str:
    return stack.config.url("intake")


# --- NCA RK's test organization (sign-in with NCA's own test keys) ------------------------------


@pytest.fixture(scope="session")
def pinned_identity(stack):
    """A second identity replica judging certificates at NCA_PINNED, trusting NCA's test CAs too.
    NCA's test keys expire on 2027-05-08: their sign-in goes here, so the tests outlive them. It
    shares the first replica's database, keys and issuer, as replicas do, so its tokens are good
    everywhere."""
    for cert in (nca_test_pki() / "ca").iterdir():
        shutil.copy(cert, stack.config.trust_dir / cert.name)
    port = free_port()
    env = {**stack.config.service_env("identity"), "UISE_HTTP_PORT": str(port),
           "UISE_IDENTITY_PKI_TIME": NCA_PINNED}
    proc = spawn("identity-pinned", [sys.executable, "-m", "uise_identity"], stack.config.log_dir, env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{url}/readyz"), "pinned identity replica", proc, timeout=90)
        yield url
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def nca_school(stack):
    """NCA's test organization (its identifiers have no valid control digit: the e2e registry
    admits them in test mode) as a school of the demo district, headed by the test CEO."""
    resp = httpx.put(f"{stack.config.url('registry')}/v1/participants/{NCA_BIN}", headers=bearer(data_office_token()),
                     json={"bin": NCA_BIN, "level": "organization", "kind": "school", "parent_id": DISTRICT,
                           "name_kk": "«ТЕСТ» АҚ", "name_ru": "АО «ТЕСТ»", "head_iin": NCA_CEO,
                           "head_name": "Тестовый руководитель", "head_from": "2024-01-01"}, timeout=30)
    assert resp.status_code == 200, resp.text
    return NCA_BIN


# --- the portal in a real browser ------------------------------------------------------------------

CHROMIUM = os.environ.get("UISE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("UISE_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts"))


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's `chromium`) driven by Playwright. Per module: Playwright's sync
    API keeps an event loop running in the main thread while it lives, and the asyncio tests after
    the browser tests need that thread's loop free."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the portal's browser tests need Chromium at {CHROMIUM}: `apt-get install chromium` "
                    "(Debian; .ci/run installs it), or set UISE_CHROMIUM to a Chromium binary")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the browser tests leave a screenshot of each page in each language (CI's artifacts)."""
    path = ARTIFACTS / "portal"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def ncalayer():
    """The NCALayer stand-in (uise_stack.ncalayer): a test gives it the person's keys."""
    from uise_stack.ncalayer import StandIn

    standin = StandIn().start()
    try:
        yield standin
    finally:
        standin.stop()


def _portal(stack, identity_url: str, ncalayer, name: str):
    port = free_port()
    env = {**stack.config.service_env("portal"), "UISE_PORTAL_HTTP_PORT": str(port),
           "UISE_PORTAL_IDENTITY_URL": identity_url, "UISE_PORTAL_NCALAYER_URL": ncalayer.url}
    proc = spawn(name, [sys.executable, "-m", "uise_portal"], stack.config.log_dir, env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{url}/readyz"), name, proc, timeout=60)
        yield url
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def portal(stack, ncalayer) -> Iterator[str]:
    """A portal beside the stack's own, its pages pointing at the NCALayer stand-in: for people
    with keys of the project's test CA (the demo's heads and officers)."""
    yield from _portal(stack, stack.config.url("identity"), ncalayer, "portal-tests")


@pytest.fixture(scope="session")
def nca_portal(stack, pinned_identity, ncalayer) -> Iterator[str]:
    """The same, signing people in through the pinned identity replica: for NCA's test keys."""
    yield from _portal(stack, pinned_identity, ncalayer, "portal-tests-nca")


@pytest.fixture(scope="session")
def look(screenshots):
    """`look(page, name[, wait_for])`: the page as it stands, in Kazakh, Russian and English: no untranslated
    string (the portal renders one as ⟦key⟧) and a full-page screenshot of each, then back to the
    language the page was in."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    def in_lang(url: str, lang: str) -> str:
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "lang"] + [("lang", lang)]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def check(page, name: str, wait_for: str | None = None) -> None:
        """`wait_for`: a selector the page shows once its script has done its work (e.g. the
        findings a page fetches after loading)."""
        was = page.url
        lang = page.evaluate("document.documentElement.lang")
        for code in ("kk", "ru", "en"):
            page.goto(in_lang(was, code))
            if wait_for:
                page.wait_for_selector(wait_for)
            assert page.evaluate("document.documentElement.lang") == code
            html = page.content()
            assert "⟦" not in html, f"{name} [{code}] shows an untranslated string: " + html[html.index("⟦"):][:80]
            page.screenshot(path=str(screenshots / f"{name}-{code}.png"), full_page=True)
        page.goto(in_lang(was, lang))
        if wait_for:
            page.wait_for_selector(wait_for)

    return check


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) with a Russian-speaking browser, and its page."""
    context = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900}, accept_downloads=True)
    p = context.new_page()
    p.set_default_timeout(30_000)
    yield p
    context.close()

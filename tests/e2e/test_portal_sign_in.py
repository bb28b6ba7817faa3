"""The portal in a real browser (issue 12): a director signs in with the EDS through NCALayer
(here the stand-in, uise_stack.ncalayer, signing with NCA RK's test key legal_ceo_valid.p12);
a clear message when NCALayer is not running or the signing is cancelled; every page in kk, ru
and en with no untranslated string; sign-out ends the session."""

from __future__ import annotations

import pytest

from uise_stack.ncalayer import NCA_BIN, nca_key

pytestmark = pytest.mark.e2e


def test_a_director_signs_in_with_the_eds_through_ncalayer(nca_portal, ncalayer, nca_school, page, look):
    ncalayer.sign_in_key = nca_key("legal_ceo_valid.p12")
    page.goto(f"{nca_portal}/")
    assert page.url.endswith("/sign-in")  # nobody is signed in yet
    assert page.evaluate("document.documentElement.lang") == "ru"  # the browser's language
    look(page, "sign-in")
    page.click("#sign-in-button")
    page.wait_for_url(f"{nca_portal}/")
    assert NCA_BIN in page.inner_text("#who")
    assert page.inner_text("#participant-name") == "АО «ТЕСТ»"
    asked = ncalayer.requests[-1]
    assert (asked["module"], asked["method"]) == ("kz.gov.pki.knca.basics", "sign")
    assert asked["args"]["format"] == "cms" and asked["args"]["signingParams"]["encapsulate"] is True
    look(page, "home-school")
    # the language chosen sticks from page to page
    page.goto(f"{nca_portal}/?lang=kk")
    page.goto(f"{nca_portal}/")
    assert page.evaluate("document.documentElement.lang") == "kk"
    assert page.inner_text("#participant-name") == "«ТЕСТ» АҚ"
    # sign out: the session ends, the next page asks to sign in
    page.click("header form button[type=submit]")
    page.wait_for_url("**/sign-in?reason=signed_out")
    page.goto(f"{nca_portal}/")
    assert "/sign-in" in page.url


def test_without_ncalayer_the_page_says_how_to_get_it(nca_portal, page):
    page.goto(f"{nca_portal}/sign-in?lang=en")
    # as on a machine where NCALayer is not running: nothing listens where the page looks
    page.eval_on_selector("#sign-in", "e => e.dataset.ncalayerUrl = 'ws://127.0.0.1:9'")
    page.click("#sign-in-button")
    page.wait_for_selector("#sign-in-error:not([hidden])")
    assert "NCALayer is not running" in page.inner_text("#sign-in-error")
    assert page.is_visible("#get-ncalayer a")
    assert page.get_attribute("#get-ncalayer a", "href").startswith("https://pki.gov.kz/")


def test_a_cancelled_signing_says_so_and_signs_nobody_in(nca_portal, ncalayer, nca_school, page):
    ncalayer.sign_in_key = nca_key("legal_ceo_valid.p12")
    ncalayer.refuse_next = "action.canceled"
    page.goto(f"{nca_portal}/sign-in?lang=kk")
    page.click("#sign-in-button")
    page.wait_for_selector("#sign-in-error:not([hidden])")
    assert page.inner_text("#sign-in-error") == "Қол қою тоқтатылды."
    page.goto(f"{nca_portal}/")
    assert "/sign-in" in page.url


def test_a_personal_key_is_refused_with_identitys_reason_in_the_pages_language(nca_portal, ncalayer, nca_school, page):
    ncalayer.sign_in_key = nca_key("individual_valid.p12")
    page.goto(f"{nca_portal}/sign-in?lang=ru")
    page.click("#sign-in-button")
    page.wait_for_selector("#sign-in-error:not([hidden])")
    text = page.inner_text("#sign-in-error")
    assert text and "⟦" not in text and "NOT_ORGANIZATION" not in text, text
    page.goto(f"{nca_portal}/")
    assert "/sign-in" in page.url

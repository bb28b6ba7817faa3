"""Kazakh, Russian and English. Every string a page shows comes from `messages.MESSAGES` by key;
a key missing there, or missing a language, renders as ⟦key⟧ so that a test finds it on the page
(tests/browser: no page may show an untranslated string)."""

from __future__ import annotations

import logging

LANGS = ("kk", "ru", "en")
DEFAULT_LANG = "kk"  # the state language; the switch is on every page
LANG_COOKIE = "uise_lang"
UNTRANSLATED = "⟦"

log = logging.getLogger(__name__)


def choose(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language asked for in the query (the switch), else the remembered one, else the
    browser's first supported one, else Kazakh."""
    for candidate in (query, cookie):
        if candidate in LANGS:
            return candidate
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return DEFAULT_LANG


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else DEFAULT_LANG

    def __call__(self, key: str, **values: object) -> str:
        # imported here: the messages gather the pages' texts, and the pages import this module
        from uise_portal.messages import MESSAGES

        text = MESSAGES.get(key, {}).get(self.lang)
        if not text:
            log.warning("untranslated", extra={"key": key, "lang": self.lang})
            return f"{UNTRANSLATED}{key}⟧"
        return text.format(**values) if values else text

    def pick(self, texts: dict[str, str] | None) -> str:
        """One of a service's kk/ru/en texts (an error message, a form's title)."""
        if not texts:
            return ""
        return texts.get(self.lang) or texts.get("ru") or texts.get("en") or next(iter(texts.values()), "")

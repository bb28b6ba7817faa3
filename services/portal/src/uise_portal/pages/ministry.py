"""The ministry's pages (docs/portal.md)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

# Texts of these pages: key -> {kk, ru, en} (merged into uise_portal.messages.MESSAGES).
TEXTS: dict[str, dict[str, str]] = {}

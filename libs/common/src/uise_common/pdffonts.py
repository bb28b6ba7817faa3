"""A TrueType font for PDFs with Cyrillic and Kazakh letters (reportlab's built-in fonts have no
Cyrillic, let alone ә, ғ, қ, ң, ө, ұ, ү, һ, і). DejaVu Sans covers both alphabets and ships with
Debian (fonts-dejavu-core) and with matplotlib. reportlab is imported only when registering, so
this module costs nothing to a service that prints no PDF."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

FONT = "UISE-Sans"
FONT_BOLD = "UISE-Sans-Bold"
_FONT_FILE = "DejaVuSans.ttf"
_FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",  # Debian, Ubuntu: fonts-dejavu-core
    "/usr/share/fonts/dejavu",  # Fedora, Alpine
    "/usr/share/fonts/TTF",  # Arch
    "/usr/local/share/fonts",
    "/Library/Fonts",
)


class FontNotFound(RuntimeError):
    pass


def _font_candidates() -> list[Path]:
    paths = []
    if env := os.environ.get("UISE_PDF_FONT"):
        paths.append(Path(env))
    paths += [Path(d) / _FONT_FILE for d in _FONT_DIRS]
    # matplotlib bundles DejaVu; find it without importing matplotlib itself (slow, heavy).
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            paths.append(Path(loc) / "mpl-data" / "fonts" / "ttf" / _FONT_FILE)
    return paths


def find_font() -> Path:
    for path in _font_candidates():
        if path.is_file():
            return path
    raise FontNotFound(
        "no TrueType font with Cyrillic and Kazakh letters for the PDF: install the Debian package "
        "fonts-dejavu-core (apt-get install fonts-dejavu-core), or set UISE_PDF_FONT to the path "
        f"of a .ttf file such as {_FONT_FILE}")


def register_fonts() -> None:
    """Register FONT and FONT_BOLD with reportlab (once)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    regular = find_font()
    bold = regular.with_name("DejaVuSans-Bold.ttf")
    pdfmetrics.registerFont(TTFont(FONT, str(regular)))
    # Without the bold face, headings fall back to the regular one rather than to a font
    # that would print Cyrillic as black boxes.
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(bold if bold.is_file() else regular)))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)

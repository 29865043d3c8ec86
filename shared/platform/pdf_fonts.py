"""The fonts of the PDFs people read (the intyg, the invoice basis): DejaVu Sans, TrueType,
embedded in each document.

reportlab's built-in Helvetica is WinAnsi only: a participant named Łukasz Żółć, Đorđe
Ćosić or Ánde Máhtte Šárá got black boxes for the letters of their own name on their
certificate. DejaVu covers the Latin, Greek and Cyrillic scripts the programme's staff write
their names in. It is found in `YRKESRESAN_PDF_FONT_DIR` or the usual system folders
(Debian's `fonts-dejavu-core`, which deploy/Dockerfile installs); where it is missing the
documents fall back to Helvetica, with one warning in the log.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from shared.platform.settings import Settings

log = logging.getLogger(__name__)

SYSTEM_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu",
               "/usr/local/share/fonts/dejavu", "/usr/share/fonts/TTF",
               "/opt/homebrew/share/fonts", "/Library/Fonts")
FAMILY = "YrSans"


@dataclass(frozen=True, slots=True)
class Fonts:
    """Font names to give reportlab: regular, bold, italic, and monospace bold (codes)."""

    regular: str
    bold: str
    italic: str
    mono: str
    embedded: bool


FALLBACK = Fonts("Helvetica", "Helvetica-Bold", "Helvetica-Oblique", "Courier-Bold", False)


def _folder(configured: str) -> Path | None:
    for folder in ((configured,) if configured else ()) + SYSTEM_DIRS:
        path = Path(folder)
        if all((path / f).is_file() for f in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf",
                                             "DejaVuSansMono-Bold.ttf")):
            return path
    return None


@functools.cache
def pdf_fonts() -> Fonts:
    """Registered once per process; the same names for every document."""
    folder = _folder(Settings().pdf_font_dir)
    if folder is None:
        log.warning("DejaVu fonts not found (install fonts-dejavu-core or set "
                    "YRKESRESAN_PDF_FONT_DIR): PDFs use Helvetica, which cannot print letters "
                    "outside Latin-1")
        return FALLBACK
    # The oblique is in Debian's fonts-dejavu-extra; without it the italic lines are upright.
    oblique = folder / "DejaVuSans-Oblique.ttf"
    files = {"": "DejaVuSans.ttf", "-Bold": "DejaVuSans-Bold.ttf",
             "-Italic": oblique.name if oblique.is_file() else "DejaVuSans.ttf",
             "-Mono": "DejaVuSansMono-Bold.ttf"}
    for suffix, file in files.items():
        pdfmetrics.registerFont(TTFont(FAMILY + suffix, str(folder / file)))
    # <b> and <i> in paragraphs (the invoice basis) pick the family's faces.
    for bold, italic, face in ((0, 0, ""), (1, 0, "-Bold"), (0, 1, "-Italic"), (1, 1, "-Bold")):
        addMapping(FAMILY, bold, italic, FAMILY + face)
    return Fonts(FAMILY, FAMILY + "-Bold", FAMILY + "-Italic", FAMILY + "-Mono", True)

"""The PDF of a person's file (fpdf2): a plain, paginated document, every page saying who
exported it and when.

Text is set in DejaVu Sans when the system has it (Debian's fonts-dejavu-core: every French
letter, Œ and the dashes); otherwise in the PDF's built-in Helvetica, whose Latin-1 alphabet
lacks a few of them, so they are spelt out (Œ → OE).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from fpdf import FPDF

FONT_FOLDERS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
_SPELT = str.maketrans({"Œ": "OE", "œ": "oe", "—": "-", "–": "-", "↔": "<->", "’": "'", "…": "...", "€": "EUR"})


def _font() -> tuple[Path, Path] | None:
    for folder in FONT_FOLDERS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


def latin1(text: str) -> str:
    """``text`` in Latin-1, what Helvetica can set (letters outside it spelt out or dropped)."""
    text = text.translate(_SPELT)
    out = []
    for char in text:
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            out.append(base if base.isascii() and base else "?")
    return "".join(out)


class PersonPdf:
    def __init__(self, reader: str, at: str) -> None:
        footer_text = f"Exporté par {reader} le {at} UTC — document à diffusion restreinte, consultation enregistrée"
        pdf = _Document(footer_text)
        font = _font()
        if font is not None:
            pdf.add_font("DejaVu", "", str(font[0]))
            pdf.add_font("DejaVu", "B", str(font[1]))
            self.family = "DejaVu"
            self.clean = lambda text: text
        else:
            self.family = "helvetica"
            self.clean = latin1
        pdf.font_family_name = self.family
        pdf.clean = self.clean
        pdf.set_title(self.clean("Dossier individuel extrait"))
        pdf.set_creator("versement — navigateur de consultation")
        pdf.set_auto_page_break(auto=True, margin=18)
        pdf.add_page()
        self.pdf = pdf

    def heading(self, text: str) -> None:
        self.pdf.set_font(self.family, "B", 15)
        self.pdf.multi_cell(0, 8, self.clean(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(2)

    def subheading(self, text: str) -> None:
        self.pdf.ln(3)
        self.pdf.set_font(self.family, "B", 11)
        self.pdf.multi_cell(0, 6, self.clean(text), new_x="LMARGIN", new_y="NEXT")

    def line(self, text: str, *, bold: bool = False, muted: bool = False) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", 9)
        self.pdf.set_text_color(90 if muted else 0)
        self.pdf.multi_cell(0, 4.6, self.clean(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_text_color(0)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


class _Document(FPDF):
    font_family_name = "helvetica"

    def __init__(self, footer_text: str) -> None:
        super().__init__(format="A4")
        self.footer_text = footer_text
        self.clean = latin1

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(self.font_family_name, "", 7)
        self.set_text_color(90)
        self.multi_cell(0, 3.5, self.clean(f"{self.footer_text} — page {self.page_no()}"), align="C")
        self.set_text_color(0)

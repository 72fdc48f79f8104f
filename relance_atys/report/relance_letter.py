"""Scale of the letters on the installed wkhtmltopdf build; what their PDF shows."""

import functools
import io
import shutil
import subprocess

from odoo.tools.pdf import PdfFileReader

from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

# Measured: Debian's wkhtmltopdf (unpatched Qt) prints CSS lengths at 0.768 of
# their size, whatever --dpi, --zoom or --disable-smart-shrinking say; a CSS
# zoom of 1/0.768 puts the address exactly in the envelope window. A build with
# patched Qt prints them at their size.
UNPATCHED_QT_ZOOM = 1.302


@functools.cache
def wkhtmltopdf_version():
    """What ``wkhtmltopdf --version`` says, or '' when it cannot run."""
    try:
        return subprocess.run(
            [_get_wkhtmltopdf_bin(), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def wkhtmltopdf_patched():
    """Whether the build has patched Qt: several documents per call, headers, footers."""
    return "patched qt" in wkhtmltopdf_version()


def letter_zoom():
    """The CSS zoom that makes 1 mm in a letter 1 mm on paper."""
    if not wkhtmltopdf_version() or wkhtmltopdf_patched():
        return 1.0
    return UNPATCHED_QT_ZOOM


def pdf_words(pdf):
    """The words of ``pdf``: poppler's pdftotext when installed, else PyPDF2."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext:
        text = subprocess.run(
            [pdftotext, "-q", "-", "-"], input=pdf, capture_output=True, timeout=600, check=False
        ).stdout.decode(errors="replace")
    else:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return text.split()


def missing_from_pdf(pdf, letters):
    """The keys of ``letters`` ({key: the words a letter must show}) whose words
    are not all in ``pdf``.

    A word is looked up among the PDF's words, then, should a narrow column have
    broken it, in the PDF's text without spaces.
    """
    words = pdf_words(pdf)
    known = set(words)
    joined = None
    missing = []
    for key, needed in letters.items():
        for word in needed:
            if word in known:
                continue
            joined = joined if joined is not None else "".join(words)
            if "".join(word.split()) not in joined:
                missing.append(key)
                break
    return missing

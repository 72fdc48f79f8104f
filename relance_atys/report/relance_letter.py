"""Scale of the letters on the installed wkhtmltopdf build."""

import functools
import subprocess

from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

# Measured: Debian's wkhtmltopdf (unpatched Qt) prints CSS lengths at 0.768 of
# their size, whatever --dpi, --zoom or --disable-smart-shrinking say; a CSS
# zoom of 1/0.768 puts the address exactly in the envelope window. A build with
# patched Qt prints them at their size.
UNPATCHED_QT_ZOOM = 1.302


@functools.cache
def letter_zoom():
    """The CSS zoom that makes 1 mm in a letter 1 mm on paper."""
    try:
        version = subprocess.run(
            [_get_wkhtmltopdf_bin(), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 1.0
    return 1.0 if "patched qt" in version else UNPATCHED_QT_ZOOM

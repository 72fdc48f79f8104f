"""Names and amounts as French readers expect them.

One place for the order customers are listed in (screen, XLSX, letters) and for
the amounts the dunning writes out, so that they read the same everywhere.
"""

import unicodedata

from odoo.tools import formatLang

# Odoo's amount formatting puts one of these after a minus sign so that a line
# never breaks there; copied from a letter, a mail or the screen, it turns
# "-350,00 €" into something a spreadsheet or a search does not recognise.
INVISIBLE = dict.fromkeys(map(ord, "\N{ZERO WIDTH NO-BREAK SPACE}\N{ZERO WIDTH SPACE}"))


def sort_key(text):
    """Dictionary order: letters first, accents and case only to break ties.

    "Électricité Girard" comes between "Boulangerie" and "Transports", not after
    every name in plain letters, as bytes and code points would place it.
    """
    text = text or ""
    letters = "".join(
        char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char)
    )
    return (letters.casefold(), text.casefold(), text)


def without_invisible(text):
    """``text`` without the zero-width characters Odoo's formatting adds."""
    return text.translate(INVISIBLE) if text else text


def format_money(env, amount, currency):
    """``amount`` in ``currency``, in ``env``'s language, as one plain string."""
    return without_invisible(formatLang(env, amount, currency_obj=currency))

"""Names and amounts as French readers expect them.

One place for the order customers are listed in (screen, XLSX, letters) and for
the amounts the dunning writes out, so that they read the same everywhere.
"""

import unicodedata
from collections import defaultdict

from odoo.tools import format_date, formatLang

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


def totals_per_currency(lines):
    """[(currency, total residual)] of ``lines``, by currency name: amounts are
    never added across currencies."""
    totals = defaultdict(float)
    for line in lines:
        totals[line.currency_id] += line.residual
    return sorted(totals.items(), key=lambda total: total[0].name)


def totals_text(lines):
    """The totals per currency of ``lines``, as the screens show them:
    "1 200,00 € ; 80,00 $"."""
    return " ; ".join(
        format_money(lines.env, amount, currency) for currency, amount in totals_per_currency(lines)
    )


def reminded_text(lines):
    """What the customer was already sent about these documents, as a sentence
    of the context's language; empty when none of them was reminded before
    (a letter or mail must not claim reminders that were never sent)."""
    reminded = lines.filtered(lambda line: not line.is_deduction and line.level_before > 0)
    if not reminded:
        return ""
    dates = [date for date in reminded.mapped("date_before") if date]
    values = {
        "documents": ", ".join(reminded.move_id.mapped("name")),
        "date": format_date(lines.env, max(dates), date_format="long") if dates else "",
    }
    _ = lines.env._
    if len(reminded) == 1:
        if not dates:
            return _(
                "We already sent you a reminder about %(documents)s; it is still unpaid.",
                **values,
            )
        return _(
            "We already sent you a reminder about %(documents)s on %(date)s; it is still unpaid.",
            **values,
        )
    if not dates:
        return _(
            "We already sent you reminders about %(documents)s; they are still unpaid.",
            **values,
        )
    return _(
        "We already sent you reminders about %(documents)s, the last one on %(date)s; "
        "they are still unpaid.",
        **values,
    )

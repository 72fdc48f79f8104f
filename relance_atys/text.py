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

# ICU's French collation, which PostgreSQL built with ICU (Debian's and the official
# packages and images) creates in every database: Odoo creates its databases with
# LC_COLLATE 'C', where names sort by bytes ("Électricité" after "Zoo").
FRENCH_COLLATION = "fr-FR-x-icu"
_collations = {}  # {database name: FRENCH_COLLATION or None}


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


def french_collation(cr):
    """FRENCH_COLLATION when the database has it, else None (the database's own
    order is then kept); looked up once per database."""
    if cr.dbname not in _collations:
        cr.execute("SELECT 1 FROM pg_collation WHERE collname = %s", [FRENCH_COLLATION])
        _collations[cr.dbname] = FRENCH_COLLATION if cr.fetchone() else None
    return _collations[cr.dbname]


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
    "1 200,00 € ; $ 80,00" (each currency as Odoo writes it)."""
    return " ; ".join(
        format_money(lines.env, amount, currency) for currency, amount in totals_per_currency(lines)
    )


# The documents' history: letters and mails that left (and levels changed by hand);
# a line of one instalment (move_line_id) or of the whole invoice (before 18.0.2.0.0).
SENT_SQL = """
    SELECT l.move_id, l.move_line_id, l.date, l.outcome IN ('printed', 'sent', 'queued')
      FROM relance_run_line l
      JOIN relance_run r ON r.id = l.run_id
     WHERE l.move_id = ANY(%s)
       AND l.run_id != ALL(%s)
       AND r.state IN ('done', 'partial')
       AND (l.outcome IN ('printed', 'sent', 'queued') OR l.run_type = 'manual' AND l.level_moved)
  ORDER BY l.date, l.id
"""


def reminders_sent(lines):
    """{line id: date of the last reminder the customer was sent about its document
    (its instalment), or None when unknown} for the ``lines`` reminded before.

    A reminder sent is a letter or a mail of the dunning history (the run of
    ``lines`` itself aside); a level set by hand (Gestion des niveaux) sent
    nothing: a document whose history holds only that was never reminded. A
    document with a level and no history at all (levels brought from another
    software) counts as reminded on its last dunning date."""
    documents = lines.filtered(lambda line: not line.is_deduction and line.level_before > 0)
    if not documents:
        return {}
    runs = lines.run_id.ids if "run_id" in lines._fields else []
    lines.env.flush_all()
    lines.env.cr.execute(SENT_SQL, [documents.move_id.ids, runs])
    history = defaultdict(list)  # {move id: [(instalment id or None, date, sent)]}, oldest first
    for move_id, move_line_id, date, sent in lines.env.cr.fetchall():
        history[move_id].append((move_line_id, date, sent))
    reminded = {}
    for line in documents:
        instalment = line.move_line_id.id if "move_line_id" in line._fields else False
        rows = [
            (date, sent)
            for move_line_id, date, sent in history[line.move_id.id]
            if not move_line_id or not instalment or move_line_id == instalment
        ]
        if not rows:
            reminded[line.id] = line.date_before or None
        elif any(sent for _date, sent in rows):
            reminded[line.id] = max(date for date, sent in rows if sent)
    return reminded


def reminded_text(lines, sent=None):
    """What the customer was already sent about these documents, as a sentence
    of the context's language; empty when none of them was reminded before
    (a letter or mail must not claim reminders that were never sent).
    ``sent``: what reminders_sent(lines) gives, when the caller has it."""
    sent = reminders_sent(lines) if sent is None else sent
    reminded = lines.filtered(lambda line: line.id in sent)
    if not reminded:
        return ""
    dates = [sent[line.id] for line in reminded if sent[line.id]]
    values = {
        "documents": ", ".join(reminded.move_id.mapped("name")),
        "date": format_date(lines.env, max(dates), date_format="long") if dates else "",
    }
    _ = lines.env._
    if len(reminded.move_id) == 1:  # one document, whatever its instalments
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

"""18.0.2.0.0: dunning per échéance (issue 15).

The unit of dunning becomes the échéance, a receivable line of a customer invoice
(one per instalment of its payment terms). What 18.0.1.x recorded on the invoice
moves onto its échéances, so that nothing a user recorded is lost and cancelling
an old run still gives back the right values:

* each invoice's (and credit note's) level and date of last dunning go onto its
  open échéances, or onto all of them when none is open (a paid invoice keeps the
  level it shows); the invoice's level and date stay as they were, now the highest
  level and latest date of its échéances;
* an invoice excluded from dunning ("NA") has its open échéances excluded too;
* each history line of an invoice is linked to one of those échéances, the first
  due; an invoice dunned as a whole with several open échéances gets one line more
  per other échéance, a copy of the recorded line (levels and dates before and
  after) with no residual: the recorded residual stays once, on the first line,
  so the run's totals do not change, and a cancel gives each échéance its level
  back; a history line without a due date (recorded before lines kept one) gets its
  échéance's.

Run twice, it changes nothing the second time: it only fills échéances with no
level and date yet, and history lines with no échéance yet.
"""

import logging

_logger = logging.getLogger(__name__)

# The échéances that receive their invoice's state: the open ones, else all of them.
ECHEANCES = """
    SELECT l.id, l.move_id, l.date_maturity
      FROM account_move_line l
      JOIN account_move m ON m.id = l.move_id
     WHERE m.move_type IN ('out_invoice', 'out_refund')
       AND l.display_type = 'payment_term'
       AND (NOT l.reconciled
            OR NOT EXISTS (SELECT 1 FROM account_move_line o
                            WHERE o.move_id = l.move_id
                              AND o.display_type = 'payment_term'
                              AND NOT o.reconciled))
"""

LEVELS = f"""
    UPDATE account_move_line l
       SET relance_level = COALESCE(m.relance_level, 0), relance_date = m.relance_date
      FROM account_move m, ({ECHEANCES}) e
     WHERE e.id = l.id AND m.id = l.move_id
       AND (COALESCE(m.relance_level, 0) > 0 OR m.relance_date IS NOT NULL)
       AND l.relance_level IS NULL AND l.relance_date IS NULL
"""

EXCLUSIONS = """
    UPDATE account_move_line l
       SET relance_excluded = true
      FROM account_move m
     WHERE m.id = l.move_id
       AND m.move_type IN ('out_invoice', 'out_refund')
       AND m.relance_excluded
       AND l.display_type = 'payment_term'
       AND NOT l.reconciled
       AND l.relance_excluded IS NOT TRUE
"""

# the échéances of each document, first due first: (run line, échéance, rank)
LINKS = f"""
    CREATE TEMPORARY TABLE relance_echeance_links ON COMMIT DROP AS
    SELECT r.id AS line_id, e.id AS echeance_id,
           ROW_NUMBER() OVER (PARTITION BY r.id ORDER BY e.date_maturity, e.id) AS rank
      FROM relance_run_line r
      JOIN ({ECHEANCES}) e ON e.move_id = r.move_id
     WHERE r.move_line_id IS NULL
"""

LINK_FIRST = """
    UPDATE relance_run_line r
       SET move_line_id = k.echeance_id
      FROM relance_echeance_links k
     WHERE k.line_id = r.id AND k.rank = 1
"""

# the due date a history line shows: its échéance's, for lines recorded before the
# lines kept one
DUE_DATES = """
    UPDATE relance_run_line r
       SET due_date = l.date_maturity
      FROM account_move_line l
     WHERE l.id = r.move_line_id AND r.due_date IS NULL AND l.date_maturity IS NOT NULL
"""

COPY_OTHERS = """
    INSERT INTO relance_run_line ({columns}, move_line_id, residual)
    SELECT {source_columns}, k.echeance_id, 0
      FROM relance_run_line r
      JOIN relance_echeance_links k ON k.line_id = r.id AND k.rank > 1
"""


def _copied_columns(cr):
    """The history line's columns a copy repeats: all but its id, échéance, residual."""
    cr.execute(
        """
        SELECT column_name FROM information_schema.columns
         WHERE table_name = 'relance_run_line' AND table_schema = current_schema()
           AND column_name NOT IN ('id', 'move_line_id', 'residual')
         ORDER BY ordinal_position
        """
    )
    return [row[0] for row in cr.fetchall()]


def migrate(cr, version):
    if not version:
        return
    cr.execute(LEVELS)
    levels = cr.rowcount
    cr.execute(EXCLUSIONS)
    exclusions = cr.rowcount
    cr.execute(LINKS)
    cr.execute(LINK_FIRST)
    linked = cr.rowcount
    columns = _copied_columns(cr)
    cr.execute(
        COPY_OTHERS.format(
            columns=", ".join(f'"{name}"' for name in columns),
            source_columns=", ".join(f'r."{name}"' for name in columns),
        )
    )
    copies = cr.rowcount
    cr.execute("DROP TABLE relance_echeance_links")
    cr.execute(DUE_DATES)
    _logger.info(
        "relance_atys 18.0.2.0.0: %s échéance(s) given their invoice's level, %s excluded, "
        "%s history line(s) linked to an échéance, %s added for other échéances",
        levels,
        exclusions,
        linked,
        copies,
    )

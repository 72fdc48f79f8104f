"""Run lines as they are, since 18.0.2.2.0.

A run cancelled before its mails left stopped them (their state "cancel"), but its
lines kept reading « En file d'attente » for ever: they now read « Annulé », the
new outcome. And a document not due yet (a level may start before its due date)
was recorded "-5 days late": days late are never negative any more.
"""


def migrate(cr, version):
    cr.execute(
        """
        UPDATE relance_run_line l
           SET outcome = 'cancelled'
          FROM relance_run r
         WHERE r.id = l.run_id AND r.state = 'cancelled' AND l.outcome = 'queued'
        """
    )
    cr.execute("UPDATE relance_run_line SET days_late = 0 WHERE days_late < 0")

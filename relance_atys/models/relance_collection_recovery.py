from odoo import api, fields, models
from odoo.tools import SQL

from .relance_collection_due import create_view

# Days after the dunning date within which a payment counts as recovered.
WINDOWS = (15, 30)
# rate field -> (its numerator, its denominator): a group's rate is the ratio of
# their sums, never an average of the rows' rates
RATES = {f"rate_{days}": (f"paid_{days}", f"dunned_{days}") for days in WINDOWS}


class RelanceCollectionRecovery(models.Model):
    """What each dunning brought in: one row per invoice a run dunned (a letter
    printed, a mail sent), with its residual on the dunning date and how much of
    it was paid within 15 and 30 days after it."""

    _name = "relance.collection.recovery"
    _inherit = ["relance.currency.totals"]
    _description = "Dunning dashboard: recovery after dunning"
    _auto = False
    _rec_name = "move_id"
    _order = "date desc, id"

    run_id = fields.Many2one("relance.run", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    date = fields.Date(string="Dunning date", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    collector_id = fields.Many2one("res.users", readonly=True)
    move_id = fields.Many2one("account.move", string="Document", readonly=True)
    move_line_id = fields.Many2one("account.move.line", string="Instalment", readonly=True)
    level = fields.Integer(string="Dunning level", readonly=True, aggregator=False)
    channel = fields.Selection(
        [("letter", "Letter"), ("email", "Email"), ("call", "Call")], readonly=True
    )
    currency_id = fields.Many2one("res.currency", readonly=True)
    dunned = fields.Monetary(
        string="Amount dunned", readonly=True,
        help="The document's residual on the dunning date, in its currency.",
    )  # fmt: skip
    dunned_15 = fields.Monetary(
        string="Dunned, 15 days past", readonly=True,
        help="The residual on the dunning date, of the dunnings at least 15 days old "
        "(the younger ones cannot tell yet what 15 days brought).",
    )  # fmt: skip
    paid_15 = fields.Monetary(
        string="Paid within 15 days", readonly=True,
        help="Payments reconciled with the document, dated from the day after the "
        "dunning to 15 days after it, up to the residual dunned.",
    )  # fmt: skip
    rate_15 = fields.Float(
        string="Recovered in 15 days (%)", readonly=True, aggregator="avg", digits=(16, 1),
        help="Paid within 15 days / dunned, of the dunnings at least 15 days old.",
    )  # fmt: skip
    dunned_30 = fields.Monetary(string="Dunned, 30 days past", readonly=True)
    paid_30 = fields.Monetary(string="Paid within 30 days", readonly=True)
    rate_30 = fields.Float(
        string="Recovered in 30 days (%)", readonly=True, aggregator="avg", digits=(16, 1),
        help="Paid within 30 days / dunned, of the dunnings at least 30 days old.",
    )  # fmt: skip

    _depends = {
        "relance.run.line": [
            "run_id", "company_id", "date", "partner_id", "move_id", "move_line_id", "level_after",
            "channel", "outcome", "residual", "currency_id", "is_deduction",
        ],
        "relance.run": ["state"],
        "res.partner": ["user_id", "relance_collector_id"],
        "account.partial.reconcile": ["debit_move_id", "credit_move_id", "max_date"],
    }  # fmt: skip

    def init(self):
        create_view(self)

    def _query(self):
        """Paid within N days: the amounts (in the document's currency) of the
        reconciliations of the document's receivable lines with a payment or another
        entry, a credit note aside, whose date (``max_date``: the later of the two
        lines' dates) is after the dunning date and at most N days after it."""
        windows = {f"window_{days}": SQL("d.date + %s <= CURRENT_DATE", days) for days in WINDOWS}
        return SQL(
            """
            SELECT d.id, d.run_id, d.company_id, d.date, d.partner_id, p.user_id,
                   p.relance_collector_id AS collector_id, d.move_id,
                   d.move_line_id,
                   d.level, d.channel, d.currency_id, d.dunned,
                   CASE WHEN %(window_15)s THEN d.dunned ELSE 0 END AS dunned_15,
                   CASE WHEN %(window_15)s THEN d.paid_15 ELSE 0 END AS paid_15,
                   CASE WHEN %(window_15)s THEN 100.0 * d.paid_15 / d.dunned END AS rate_15,
                   CASE WHEN %(window_30)s THEN d.dunned ELSE 0 END AS dunned_30,
                   CASE WHEN %(window_30)s THEN d.paid_30 ELSE 0 END AS paid_30,
                   CASE WHEN %(window_30)s THEN 100.0 * d.paid_30 / d.dunned END AS rate_30
              FROM (%(dunned)s) d
              -- a left join: left out of a query that reads no salesperson
              LEFT JOIN res_partner p ON p.id = d.partner_id
            """,
            dunned=self._dunned_query(),
            **windows,
        )

    def _dunned_query(self):
        """The invoices runs dunned: a letter printed, a mail sent (or waiting in
        the mail queue), a call planned, in a run not cancelled; credit notes and deductions aside;
        each with what was paid within 15 and 30 days (up to the residual dunned)."""
        return SQL(
            """
            SELECT rl.id, rl.run_id, rl.company_id, rl.date, rl.partner_id, rl.move_id,
                   rl.move_line_id, rl.level_after AS level, rl.channel, rl.currency_id,
                   rl.residual AS dunned,
                   LEAST(rl.residual, COALESCE(paid.within_15, 0)) AS paid_15,
                   LEAST(rl.residual, COALESCE(paid.within_30, 0)) AS paid_30
              FROM relance_run_line rl
              JOIN relance_run r ON r.id = rl.run_id
              LEFT JOIN (
                   SELECT line.id,
                          SUM(pay.amount) FILTER (WHERE pay.max_date <= line.date + 15)
                              AS within_15,
                          SUM(pay.amount) AS within_30
                     FROM relance_run_line line
                     JOIN (%(payments)s) pay
                       ON pay.move_id = line.move_id
                      AND (line.move_line_id IS NULL OR pay.move_line_id = line.move_line_id)
                      AND pay.max_date > line.date AND pay.max_date <= line.date + 30
                    GROUP BY line.id
              ) paid ON paid.id = rl.id
             WHERE r.state != 'cancelled'
               AND rl.move_id IS NOT NULL
               AND rl.channel IN ('letter', 'email', 'call')
               AND rl.outcome IN ('printed', 'sent', 'queued', 'called')
               AND rl.residual > 0
               AND NOT COALESCE(rl.is_deduction, false)
            """,
            payments=self._payments_query(),
        )

    def _payments_query(self):
        """What settled invoices, by échéance: the reconciliations of their receivable
        lines (debit side) with anything but a credit note, in the invoice's currency.
        A run line of an échéance counts that échéance's; one of a whole invoice (before
        échéances were dunned on their own) all of them."""
        return SQL(
            """
            SELECT il.move_id, il.id AS move_line_id, pr.max_date,
                   pr.debit_amount_currency AS amount
              FROM account_partial_reconcile pr
              JOIN account_move_line il ON il.id = pr.debit_move_id
              JOIN account_move_line cl ON cl.id = pr.credit_move_id
              JOIN account_move cm ON cm.id = cl.move_id
             WHERE il.display_type = 'payment_term'
               AND cm.move_type != 'out_refund'
            """
        )

    @api.model
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        """A group's recovery rate is its paid sum over its dunned sum, in one currency
        (the sums of a group of several currencies are blanked, its rate too)."""
        asked = {spec.split(":")[0] for spec in fields}
        rates = [rate for rate in RATES if rate in asked]
        if not rates:
            return super().read_group(domain, fields, groupby, offset, limit, orderby, lazy)
        added = {name for rate in rates for name in RATES[rate]} - asked
        specs = [spec for spec in fields if spec.split(":")[0] not in rates]
        specs += [f"{name}:sum" for name in sorted(added)]
        groups = super().read_group(domain, specs, groupby, offset, limit, orderby, lazy)
        for group in groups:
            for rate in rates:
                paid, dunned = (group.get(name) for name in RATES[rate])
                group[rate] = 100.0 * paid / dunned if dunned else False
            for name in added:
                group.pop(name, None)
        return groups

from odoo import api, fields, models, tools
from odoo.tools import SQL

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

    run_id = fields.Many2one("relance.run", string="Run", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    date = fields.Date(string="Dunning date", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    move_id = fields.Many2one("account.move", string="Document", readonly=True)
    level = fields.Integer(string="Dunning level", readonly=True, aggregator=False)
    channel = fields.Selection(
        [("letter", "Letter"), ("email", "Email"), ("call", "Call")], readonly=True
    )
    currency_id = fields.Many2one("res.currency", readonly=True)
    dunned = fields.Monetary(
        string="Dunned", readonly=True,
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
            "run_id", "company_id", "date", "partner_id", "move_id", "level_after",
            "channel", "outcome", "residual", "currency_id", "is_deduction",
        ],
        "relance.run": ["state"],
        "account.partial.reconcile": ["debit_move_id", "credit_move_id", "max_date"],
    }  # fmt: skip

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL("CREATE VIEW %s AS (%s)", SQL.identifier(self._table), self._query())
        )

    def _query(self):
        """Paid within N days: the amounts (in the document's currency) of the
        reconciliations of the document's receivable lines with a payment or another
        entry, a credit note aside, whose date (``max_date``: the later of the two
        lines' dates) is after the dunning date and at most N days after it."""
        return SQL(
            """
            SELECT d.id, d.run_id, d.company_id, d.date, d.partner_id, p.user_id, d.move_id,
                   d.level, d.channel, d.currency_id, d.dunned,
                   CASE WHEN d.date + 15 <= CURRENT_DATE THEN d.dunned ELSE 0 END
                       AS dunned_15,
                   CASE WHEN d.date + 15 <= CURRENT_DATE
                        THEN LEAST(d.dunned, COALESCE(s.paid_15, 0)) ELSE 0 END AS paid_15,
                   CASE WHEN d.date + 15 <= CURRENT_DATE
                        THEN 100.0 * LEAST(d.dunned, COALESCE(s.paid_15, 0)) / d.dunned
                        END AS rate_15,
                   CASE WHEN d.date + 30 <= CURRENT_DATE THEN d.dunned ELSE 0 END
                       AS dunned_30,
                   CASE WHEN d.date + 30 <= CURRENT_DATE
                        THEN LEAST(d.dunned, COALESCE(s.paid_30, 0)) ELSE 0 END AS paid_30,
                   CASE WHEN d.date + 30 <= CURRENT_DATE
                        THEN 100.0 * LEAST(d.dunned, COALESCE(s.paid_30, 0)) / d.dunned
                        END AS rate_30
              FROM (%(dunned)s) d
              JOIN res_partner p ON p.id = d.partner_id
              LEFT JOIN (
                   SELECT rl.id,
                          SUM(pr.debit_amount_currency)
                              FILTER (WHERE pr.max_date <= rl.date + 15) AS paid_15,
                          SUM(pr.debit_amount_currency) AS paid_30
                     FROM (%(dunned)s) rl
                     JOIN account_move_line il
                       ON il.move_id = rl.move_id AND il.display_type = 'payment_term'
                     JOIN account_partial_reconcile pr
                       ON pr.debit_move_id = il.id
                      AND pr.max_date > rl.date AND pr.max_date <= rl.date + 30
                     JOIN account_move_line cl ON cl.id = pr.credit_move_id
                     JOIN account_move cm ON cm.id = cl.move_id
                    WHERE cm.move_type != 'out_refund'
                    GROUP BY rl.id
              ) s ON s.id = d.id
            """,
            dunned=self._dunned_query(),
        )

    def _dunned_query(self):
        """The invoices runs dunned: a letter printed, a mail sent (or waiting in
        the mail queue), in a run not cancelled; credit notes and deductions aside."""
        return SQL(
            """
            SELECT rl.id, rl.run_id, rl.company_id, rl.date, rl.partner_id, rl.move_id,
                   rl.level_after AS level, rl.channel, rl.currency_id, rl.residual AS dunned
              FROM relance_run_line rl
              JOIN relance_run r ON r.id = rl.run_id
             WHERE r.state != 'cancelled'
               AND rl.move_id IS NOT NULL
               AND rl.channel IN ('letter', 'email', 'call')
               AND rl.outcome IN ('printed', 'sent', 'queued')
               AND rl.residual > 0
               AND NOT COALESCE(rl.is_deduction, false)
            """
        )

    @api.model
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        """A group's recovery rate is its paid sum over its dunned sum, in one currency
        (the sums of a group of several currencies are blanked, its rate too)."""
        asked = {spec.split(":")[0] for spec in fields}
        rates = [rate for rate in RATES if rate in asked]
        if not rates or not groupby:
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

from odoo import fields, models, tools
from odoo.tools import SQL

# Age of an open item by its due date, today: keys sort in the buckets' order (the
# ORM groups and orders a selection by its key).
AGE_BUCKETS = [
    ("0_not_due", "Not due yet"),
    ("1_30", "1 to 30 days"),
    ("2_60", "31 to 60 days"),
    ("3_90", "61 to 90 days"),
    ("4_over_90", "Over 90 days"),
]
KINDS = [
    ("invoice", "Invoice"),
    ("refund", "Credit note"),
    ("other", "Payment or other entry"),
]


def create_view(model):
    """(Re)create the PostgreSQL view a reporting ``model`` reads, of its ``_query()``."""
    tools.drop_view_if_exists(model.env.cr, model._table)
    model.env.cr.execute(
        SQL("CREATE VIEW %s AS (%s)", SQL.identifier(model._table), model._query())
    )


class RelanceCollectionDue(models.Model):
    """What customers owe today, one row per open receivable journal item (an
    échéance of an invoice, a credit note or a payment not yet allocated), with its
    dunning level and its age: the dashboard's "amounts due by level and age"."""

    _name = "relance.collection.due"
    _inherit = ["relance.currency.totals"]
    _description = "Dunning dashboard: amounts due"
    _auto = False
    _rec_name = "move_id"
    _order = "date_maturity, id"

    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    collector_id = fields.Many2one("res.users", readonly=True)
    move_id = fields.Many2one("account.move", string="Document", readonly=True)
    move_line_id = fields.Many2one("account.move.line", string="Due date item", readonly=True)
    kind = fields.Selection(KINDS, readonly=True)
    level = fields.Integer(string="Dunning level", readonly=True, aggregator=False)
    excluded = fields.Boolean(string="Excluded from dunning", readonly=True)
    disputed = fields.Boolean(readonly=True, help="Payment blocked: in dispute, never dunned.")
    date_maturity = fields.Date(string="Due date", readonly=True)
    days_late = fields.Integer(string="Days late", readonly=True, aggregator=False)
    age = fields.Selection(AGE_BUCKETS, readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    residual = fields.Monetary(
        string="Due", currency_field="currency_id", readonly=True,
        help="What is left to pay, in the document's currency (negative for a credit "
        "note or a payment not yet allocated).",
    )  # fmt: skip
    company_currency_id = fields.Many2one("res.currency", readonly=True)
    residual_company = fields.Monetary(
        string="Due (company currency)", currency_field="company_currency_id", readonly=True
    )

    _depends = {
        "account.move.line": [
            "account_id", "partner_id", "move_id", "date_maturity", "currency_id",
            "amount_residual", "amount_residual_currency", "reconciled", "parent_state",
            "company_id", "relance_level", "relance_excluded",
        ],
        "account.move": ["move_type", "relance_level", "relance_excluded", "payment_state"],
        "res.partner": [
            "commercial_partner_id", "user_id", "relance_collector_id", "relance_excluded"
        ],
    }  # fmt: skip

    def init(self):
        create_view(self)

    def _query(self):
        return SQL(
            """
            SELECT l.id, l.id AS move_line_id, l.company_id, l.move_id,
                   p.id AS partner_id, p.user_id, p.relance_collector_id AS collector_id,
                   CASE m.move_type WHEN 'out_invoice' THEN 'invoice'
                                    WHEN 'out_refund' THEN 'refund'
                                    ELSE 'other' END AS kind,
                   CASE WHEN m.move_type IN ('out_invoice', 'out_refund')
                        THEN COALESCE(l.relance_level, 0) ELSE 0 END AS level,  -- échéance's
                   COALESCE(m.relance_excluded, false) OR COALESCE(l.relance_excluded, false)
                       OR COALESCE(p.relance_excluded, false) AS excluded,
                   m.payment_state = 'blocked' AS disputed,
                   d.due AS date_maturity, GREATEST(d.days, 0) AS days_late,  -- not due: 0
                   CASE WHEN d.days <= 0 THEN '0_not_due'
                        WHEN d.days <= 30 THEN '1_30'
                        WHEN d.days <= 60 THEN '2_60'
                        WHEN d.days <= 90 THEN '3_90'
                        ELSE '4_over_90' END AS age,
                   l.currency_id, l.amount_residual_currency AS residual,
                   l.company_currency_id, l.amount_residual AS residual_company
              FROM account_move_line l
              JOIN account_account a ON a.id = l.account_id
              JOIN account_move m ON m.id = l.move_id
              -- left joins: PostgreSQL leaves them out of a query that reads none of
              -- their columns (the dashboard's sums)
              LEFT JOIN res_partner lp ON lp.id = l.partner_id
              LEFT JOIN res_partner p ON p.id = lp.commercial_partner_id
             CROSS JOIN LATERAL (
                   SELECT COALESCE(l.date_maturity, l.date) AS due,
                          CURRENT_DATE - COALESCE(l.date_maturity, l.date) AS days) d
             WHERE a.account_type = 'asset_receivable'
               AND l.parent_state = 'posted'
               AND l.reconciled IS NOT TRUE  -- as Odoo's index of unreconciled items
               AND l.partner_id IS NOT NULL
               AND (l.amount_residual_currency != 0 OR l.amount_residual != 0)
            """
        )

from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    relance_level = fields.Integer(
        string="Dunning level", default=0, copy=False, readonly=True, index=True
    )
    relance_date = fields.Date(string="Last dunning", copy=False, readonly=True)
    relance_excluded = fields.Boolean(
        string="Excluded from dunning",
        copy=False,
        tracking=True,
        help="Level 'NA': this document is kept out of every dunning.",
    )
    relance_line_ids = fields.One2many(
        "relance.run.line", "move_id", string="Dunning history", readonly=True
    )

from odoo import api, fields, models

from ..guard import check_dunning_write


class AccountMove(models.Model):
    _inherit = "account.move"

    relance_level = fields.Integer(
        string="Dunning level",
        default=0,
        copy=False,
        readonly=True,
        index=True,
        aggregator=False,  # a level, never summed (grouped lists show it, not a sum)
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
    relance_residual = fields.Monetary(
        string="Due (currency)",
        compute="_compute_relance_residual",
        currency_field="currency_id",
        aggregator=False,  # never added across currencies; the company-currency column is
        help="What is left to pay, in the document's currency (negative for a credit note).",
    )

    @api.depends("amount_residual", "move_type")
    def _compute_relance_residual(self):
        for move in self:
            sign = -1 if move.move_type == "out_refund" else 1
            move.relance_residual = sign * move.amount_residual

    @api.model_create_multi
    def create(self, vals_list):
        check_dunning_write(self, vals_list, create=True)
        return super().create(vals_list)

    def write(self, vals):
        check_dunning_write(self, [vals])
        return super().write(vals)

    def action_relance_compose(self):
        """The reminder composer for this document's customer, this document ticked."""
        self.ensure_one()
        composer = self.env["relance.composer"].with_company(self.company_id)
        return composer.action_open_for_partner(self.commercial_partner_id, self)

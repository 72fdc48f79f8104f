from odoo import api, fields, models

from ..guard import check_dunning_write


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

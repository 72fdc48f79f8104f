from odoo import fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    relance_sign_level = fields.Integer(
        string="Signature reminders", default=0, copy=False, readonly=True,
        help="How many signature reminders this quotation has had.",
    )
    relance_sign_date = fields.Date(string="Last signature reminder", copy=False, readonly=True)
    relance_sign_line_ids = fields.One2many(
        "relance.run.line", "order_id", string="Signature reminder history", readonly=True
    )

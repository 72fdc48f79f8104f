from odoo import fields, models


class RelanceDocumentLine(models.AbstractModel):
    """An open document as the review screen and the composer list it, tickable."""

    _name = "relance.document.line"
    _inherit = ["relance.currency.totals", "relance.echeance.line"]
    _description = "Dunning: document line"

    selected = fields.Boolean(default=True)
    invoice_date = fields.Date(related="move_id.invoice_date", string="Date")
    due_date = fields.Date(readonly=True)
    days_late = fields.Integer(string="Days late", readonly=True, aggregator=False)
    residual = fields.Monetary(readonly=True, aggregator="sum")
    level_before = fields.Integer(string="Current level", readonly=True, aggregator=False)
    date_before = fields.Date(string="Last dunning", readonly=True)
    is_deduction = fields.Boolean(string="Deduction", readonly=True)

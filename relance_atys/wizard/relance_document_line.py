from odoo import api, fields, models


class RelanceDocumentLine(models.AbstractModel):
    """An open document as the review screen and the composer list it, tickable."""

    _name = "relance.document.line"
    _inherit = ["relance.currency.totals"]
    _description = "Dunning: document line"

    selected = fields.Boolean(default=True)
    move_id = fields.Many2one("account.move", string="Document", readonly=True)
    move_line_id = fields.Many2one("account.move.line", string="Instalment", readonly=True)
    invoice_date = fields.Date(related="move_id.invoice_date", string="Date")
    amount_total = fields.Monetary(
        compute="_compute_amount_total", string="Amount", aggregator=False
    )
    currency_id = fields.Many2one("res.currency", readonly=True)
    due_date = fields.Date(readonly=True)
    days_late = fields.Integer(string="Days late", readonly=True, aggregator=False)
    residual = fields.Monetary(readonly=True, aggregator="sum")
    level_before = fields.Integer(string="Current level", readonly=True, aggregator=False)
    date_before = fields.Date(string="Last dunning", readonly=True)
    is_deduction = fields.Boolean(string="Deduction", readonly=True)

    @api.depends("move_line_id", "move_id")
    def _compute_amount_total(self):
        """An invoice's échéance: its amount; a payment: its total."""
        for line in self:
            invoice = line.move_id.is_invoice() and line.move_line_id
            line.amount_total = (
                invoice.amount_currency if invoice else line.move_id.amount_total_in_currency_signed
            )

    def _check_documents_of(self, company, partner):
        self.env["relance.service"]._check_documents_of(company, partner, self.move_id)

from odoo import api, fields, models


class RelanceEcheanceLine(models.AbstractModel):
    """A line naming an échéance of a document (a run's, a review's, a composer's):
    the amount it shows is the échéance's, as its due date and residual are."""

    _name = "relance.echeance.line"
    _description = "Dunning: instalment line"

    move_id = fields.Many2one("account.move", string="Document", readonly=True)
    # the échéance: one receivable line (instalment) of the document
    move_line_id = fields.Many2one("account.move.line", string="Instalment", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    amount_total = fields.Monetary(
        compute="_compute_amount_total", string="Amount", aggregator=False
    )

    @api.depends("move_line_id", "move_id")
    def _compute_amount_total(self):
        """An invoice's échéance: its amount; a payment: its total."""
        for line in self:
            invoice = line.move_id.is_invoice() and line.move_line_id
            line.amount_total = (
                invoice.amount_currency if invoice else line.move_id.amount_total_in_currency_signed
            )

from odoo import fields, models
from odoo.exceptions import UserError


class RelanceDocumentLine(models.AbstractModel):
    """An open document as the review screen and the composer list it, tickable."""

    _name = "relance.document.line"
    _inherit = ["relance.currency.totals"]
    _description = "Dunning: document line"

    selected = fields.Boolean(default=True)
    move_id = fields.Many2one("account.move", string="Document", readonly=True)
    invoice_date = fields.Date(related="move_id.invoice_date", string="Date")
    amount_total = fields.Monetary(
        related="move_id.amount_total_in_currency_signed", string="Amount", aggregator=False
    )
    currency_id = fields.Many2one("res.currency", readonly=True)
    due_date = fields.Date(readonly=True)
    days_late = fields.Integer(string="Days late", readonly=True, aggregator=False)
    residual = fields.Monetary(readonly=True, aggregator="sum")
    level_before = fields.Integer(string="Current level", readonly=True, aggregator=False)
    date_before = fields.Date(string="Last dunning", readonly=True)
    is_deduction = fields.Boolean(string="Deduction", readonly=True)

    def _check_documents_of(self, company, partner):
        """Refuse documents of another company than the wizard's, or of another
        customer than ``partner``, or that the user cannot read. Nothing of them
        is named: they may be another company's."""
        customer = partner.sudo().commercial_partner_id

        def stranger(move):
            if move.company_id != company:
                return True
            if move.commercial_partner_id == customer:
                return False
            # a payment or an entry: its receivable lines name the customer
            return move.is_invoice(include_receipts=True) or customer not in (
                move.line_ids.partner_id.commercial_partner_id
            )

        strangers = self.sudo().move_id.filtered(stranger)
        if strangers:
            raise UserError(
                self.env._(
                    "%(count)s document(s) are not open items of this customer in %(company)s: "
                    "only its own documents can be listed.",
                    count=len(strangers),
                    company=company.sudo().name,
                )
            )
        if not self.env.su:
            self.move_id.check_access("read")

from collections import defaultdict

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date

from ..text import format_money


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

    def _run_line_base(self):
        """The run line values every front door records the same way."""
        return {
            "move_id": self.move_id.id,
            "level_before": self.level_before,
            "date_before": self.date_before,
            "residual": self.residual,
            "currency_id": self.currency_id.id,
            "due_date": self.due_date,
            "days_late": self.days_late,
            "is_deduction": self.is_deduction,
            "reason": self.env._("deduction") if self.is_deduction else False,
        }

    def _reminded_text(self):
        """What the customer was already sent about these documents, as a sentence
        of the context's language; empty when none of them was reminded before
        (a letter or mail must not claim reminders that were never sent)."""
        reminded = self.filtered(lambda line: not line.is_deduction and line.level_before > 0)
        if not reminded:
            return ""
        dates = [date for date in reminded.mapped("date_before") if date]
        values = {
            "documents": ", ".join(reminded.move_id.mapped("name")),
            "date": format_date(self.env, max(dates), date_format="long") if dates else "",
        }
        _ = self.env._
        if len(reminded) == 1:
            if not dates:
                return _(
                    "We already sent you a reminder about %(documents)s; it is still unpaid.",
                    **values,
                )
            return _(
                "We already sent you a reminder about %(documents)s on %(date)s; "
                "it is still unpaid.",
                **values,
            )
        if not dates:
            return _(
                "We already sent you reminders about %(documents)s; they are still unpaid.",
                **values,
            )
        return _(
            "We already sent you reminders about %(documents)s, the last one on %(date)s; "
            "they are still unpaid.",
            **values,
        )

    def _totals_per_currency(self):
        """[(currency, total residual)] of these lines, by currency name: amounts are
        never added across currencies."""
        totals = defaultdict(float)
        for line in self:
            totals[line.currency_id] += line.residual
        return sorted(totals.items(), key=lambda total: total[0].name)

    def _totals_text(self):
        """The totals per currency, as the screens show them: "1 200,00 € ; 80,00 $"."""
        return " ; ".join(
            format_money(self.env, amount, currency)
            for currency, amount in self._totals_per_currency()
        )

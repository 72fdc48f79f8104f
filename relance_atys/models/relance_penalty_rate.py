from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import format_date, formatLang

from .. import penalties


class RelancePenaltyRate(models.Model):
    """A company's late-payment penalty rate from a date (C. com. art. L441-10)."""

    _name = "relance.penalty.rate"
    _description = "Late-payment penalty rate"
    _order = "company_id, date_from desc"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    date_from = fields.Date(string="Applies from", required=True)
    rate = fields.Float(string="Yearly rate (%)", required=True, digits=(5, 2))

    _sql_constraints = [
        (
            "date_company_uniq",
            "unique(company_id, date_from)",
            "A company has one penalty rate per date.",
        ),
    ]

    @api.depends("rate", "date_from")
    def _compute_display_name(self):
        for record in self:
            percent = formatLang(self.env, record.rate, digits=2)
            record.display_name = self.env._(
                "%(rate)s %% from %(date)s",
                rate=percent,
                date=format_date(self.env, record.date_from),
            )

    @api.constrains("rate")
    def _check_rate(self):
        for rate in self:
            if not penalties.check_rate(rate.rate):
                raise ValidationError(
                    self.env._(
                        "The late-payment penalty rate must be between 0 and 100 %% a year "
                        "(%(rate)s %% given).",
                        rate=rate.rate,
                    )
                )

from odoo import api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    relance_rule = fields.Selection(related="company_id.relance_rule", readonly=False)
    relance_auto_email = fields.Boolean(related="company_id.relance_auto_email", readonly=False)
    relance_repeat_days = fields.Integer(related="company_id.relance_repeat_days", readonly=False)
    relance_future_days = fields.Integer(related="company_id.relance_future_days", readonly=False)
    relance_max_pause_days = fields.Integer(
        related="company_id.relance_max_pause_days", readonly=False
    )
    relance_sign_first_days = fields.Integer(
        related="company_id.relance_sign_first_days", readonly=False
    )
    relance_sign_second_days = fields.Integer(
        related="company_id.relance_sign_second_days", readonly=False
    )
    relance_sign_repeat_days = fields.Integer(
        related="company_id.relance_sign_repeat_days", readonly=False
    )
    relance_sign_min_interval = fields.Integer(
        related="company_id.relance_sign_min_interval", readonly=False
    )
    relance_contact_id = fields.Many2one(related="company_id.relance_contact_id", readonly=False)
    relance_signatory_id = fields.Many2one(
        related="company_id.relance_signatory_id", readonly=False
    )
    relance_payment_methods = fields.Char(
        related="company_id.relance_payment_methods", readonly=False
    )
    relance_legal_form = fields.Char(related="company_id.relance_legal_form", readonly=False)
    relance_share_capital = fields.Char(related="company_id.relance_share_capital", readonly=False)
    relance_rcs = fields.Char(related="company_id.relance_rcs", readonly=False)
    relance_no_bank_account = fields.Boolean(compute="_compute_relance_no_bank_account")
    relance_penalties = fields.Boolean(related="company_id.relance_penalties", readonly=False)
    relance_indemnity = fields.Boolean(related="company_id.relance_indemnity", readonly=False)
    relance_penalty_product_id = fields.Many2one(
        related="company_id.relance_penalty_product_id", readonly=False
    )
    relance_penalty_account_id = fields.Many2one(
        related="company_id.relance_penalty_account_id", readonly=False
    )
    relance_attach_invoices = fields.Boolean(
        related="company_id.relance_attach_invoices", readonly=False
    )
    relance_penalty_rate = fields.Float(string="Penalty rate (% a year)", digits=(5, 2))
    relance_penalty_rate_date = fields.Date(string="Rate applies from")

    @api.depends("company_id")
    def _compute_relance_no_bank_account(self):
        for settings in self:
            settings.relance_no_bank_account = not settings.company_id._relance_bank_account()

    def action_relance_bank_accounts(self):
        """The company's bank accounts, to add the one the letters ask to pay to."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Bank accounts"),
            "res_model": "res.partner.bank",
            "view_mode": "list,form",
            "domain": [("partner_id", "=", self.company_id.partner_id.id)],
            "context": {"default_partner_id": self.company_id.partner_id.id},
        }

    @api.model
    def get_values(self):
        """The penalty rate in force today, with the date it applies from."""
        values = super().get_values()
        rate = self.env.company._relance_penalty_rate_on(fields.Date.context_today(self))
        values.update(relance_penalty_rate=rate.rate, relance_penalty_rate_date=rate.date_from)
        return values

    def set_values(self):
        res = super().set_values()
        company = self.company_id
        date_from, rate = self.relance_penalty_rate_date, self.relance_penalty_rate
        if not company.relance_penalty_rate_ids.filtered(
            lambda r: r.date_from == date_from and r.rate == rate
        ):
            company._relance_set_penalty_rate(rate, date_from)
        return res

    def action_relance_penalty_rates(self):
        """The company's penalty rates, by date, to correct or complete."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Late-payment penalty rates"),
            "res_model": "relance.penalty.rate",
            "view_mode": "list",
            "domain": [("company_id", "=", self.company_id.id)],
            "context": {"default_company_id": self.company_id.id},
        }

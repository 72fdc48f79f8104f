from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_date

from .. import engine, penalties

RULES = [
    (engine.RULE_SEQUENTIAL, "Sequential: level N to the customers at level N-1"),
    (engine.RULE_BOUNDS, "By days late: each document at the level of its days past due"),
    (engine.RULE_PROGRESSIVE, "Progressive: by days late, without skipping a level"),
]


class ResCompany(models.Model):
    _inherit = "res.company"

    relance_rule = fields.Selection(
        RULES, string="Dunning rule", default=engine.RULE_BOUNDS, required=True
    )
    relance_repeat_days = fields.Integer(
        string="Top level repeat interval (days)",
        default=30,
        help="The highest dunning level may be sent again, no more often than this.",
    )
    relance_future_days = fields.Integer(
        string="Dunning dated ahead (days)",
        default=0,
        help="How many days after today a definitive dunning or a manual level may be "
        "dated (letters prepared a few days before they are posted). 0: not after today.",
    )
    relance_auto_email = fields.Boolean(
        string="Scheduled email dunning",
        help="Every day, send the due dunning emails to the customers that have an "
        "address, exactly as the email mode of the dunning edition does.",
    )
    relance_max_pause_days = fields.Integer(
        string="Longest pause (days)",
        default=90,
        help="A customer's dunning is paused for this many days at most. 0: no limit "
        "(a pause always needs an end date).",
    )
    relance_level_ids = fields.One2many("relance.level", "company_id", string="Dunning levels")
    relance_sign_first_days = fields.Integer(string="First signature reminder after", default=30)
    relance_sign_second_days = fields.Integer(string="Second signature reminder after", default=60)
    relance_sign_repeat_days = fields.Integer(
        string="Reminder at each processing after", default=90
    )
    relance_sign_min_interval = fields.Integer(
        string="Minimum days between two signature reminders", default=7
    )

    relance_penalties = fields.Boolean(
        string="Late-payment penalties",
        default=True,
        help="Formal notices compute and claim the late-payment penalties of "
        "article L441-10 of the French Commercial Code.",
    )
    relance_indemnity = fields.Boolean(
        string="Fixed recovery indemnity (40 €)",
        default=True,
        help="Formal notices claim the fixed indemnity of 40 € per invoice paid late "
        "(articles L441-10 and D441-5 of the French Commercial Code), from business "
        "customers only.",
    )
    relance_contact_id = fields.Many2one(
        "res.users",
        string="Contact for questions",
        help="Named on the letters (name, phone, email) for questions about the invoices, "
        "unless the level names another.",
    )
    relance_signatory_id = fields.Many2one(
        "res.users",
        string="Signatory",
        help="Signs the letters (name, and job position of the user's contact), unless the "
        "level names another.",
    )
    relance_payment_methods = fields.Char(
        string="Payment methods accepted",
        translate=True,
        help="Printed on the letters with the bank details, e.g. 'Bank transfer or cheque "
        "payable to ...'.",
    )
    relance_legal_form = fields.Char(string="Legal form", help="e.g. SAS, SARL, SA.")
    relance_share_capital = fields.Char(string="Share capital", help="e.g. 10 000 €.")
    relance_rcs = fields.Char(string="Trade register (RCS)", help="e.g. RCS Lyon 123 456 789.")
    relance_penalty_rate_ids = fields.One2many(
        "relance.penalty.rate", "company_id", string="Penalty rates"
    )
    relance_penalty_product_id = fields.Many2one(
        "product.product",
        string="Product for invoiced penalties",
        help="The product of the lines of the invoices of late-payment penalties and "
        "recovery indemnities (a service, without tax: neither is subject to VAT).",
    )
    relance_penalty_account_id = fields.Many2one(
        "account.account",
        string="Income account for invoiced penalties",
        domain="[('account_type', 'in', ('income', 'income_other'))]",
        help="The account those lines are booked to (e.g. 7631 or 7638 for penalties).",
    )
    relance_attach_invoices = fields.Boolean(
        string="Invoices after each letter",
        help="The dunning edition prints, by default, the PDF of each invoice a letter "
        "lists right after the letter.",
    )

    def _relance_bank_account(self):
        """The bank account the letters ask to pay to: the company's first."""
        self.ensure_one()
        return self.partner_id.bank_ids[:1]

    def _relance_legal_mentions(self):
        """The sender's legal mentions, as one line: legal form and capital, RCS,
        SIRET, VAT number (those given)."""
        self.ensure_one()
        _ = self.env._
        form = self.relance_legal_form
        capital = self.relance_share_capital
        parts = [
            self.name,
            _("%(form)s with a share capital of %(capital)s", form=form or "", capital=capital)
            if capital
            else form,
            self.relance_rcs,
            self.company_registry and _("SIRET %s", self.company_registry),
            self.vat and _("VAT number %s", self.vat),
        ]
        return " - ".join(part for part in parts if part)

    def _relance_penalty_rates(self):
        """The company's penalty rates for ``penalties``; the default one if none."""
        self.ensure_one()
        rates = tuple(
            penalties.Rate(rate.date_from, rate.rate) for rate in self.relance_penalty_rate_ids
        )
        return rates or (penalties.DEFAULT_RATE,)

    def _relance_penalty_rate_on(self, day):
        """The rate in force on ``day`` (a penalties.Rate)."""
        rates = sorted(self._relance_penalty_rates(), key=lambda rate: rate.date_from)
        return ([rate for rate in rates if rate.date_from <= day] or rates)[-1]

    def _relance_set_penalty_rate(self, rate, date_from):
        """Record ``rate`` from ``date_from`` (replacing the rate of that date)."""
        self.ensure_one()
        if not penalties.check_rate(rate):
            raise UserError(
                self.env._(
                    "The late-payment penalty rate must be between 0 and 100 %% a year "
                    "(%(rate)s %% given).",
                    rate=rate,
                )
            )
        if not date_from:
            raise UserError(self.env._("Give the date the penalty rate applies from."))
        current = self.relance_penalty_rate_ids.filtered(lambda r: r.date_from == date_from)
        if current:
            current.rate = rate
        else:
            self.env["relance.penalty.rate"].create(
                {"company_id": self.id, "date_from": date_from, "rate": rate}
            )

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        companies._relance_create_default_levels()
        return companies

    def _relance_create_default_levels(self):
        """Give new companies the three default levels (with their translations)."""
        defaults = (
            self.env["relance.level"]
            .sudo()
            .search(
                [
                    (
                        "id",
                        "in",
                        [
                            self.env.ref(
                                f"relance_atys.relance_level_{n}", raise_if_not_found=False
                            ).id
                            or 0
                            for n in (1, 2, 3)
                        ],
                    )
                ]
            )
        )
        for company in self:
            for level in defaults:
                level.copy({"company_id": company.id})

    @api.constrains(
        "relance_repeat_days",
        "relance_future_days",
        "relance_sign_first_days",
        "relance_sign_second_days",
        "relance_sign_repeat_days",
        "relance_sign_min_interval",
    )
    def _check_relance_days(self):
        for company in self:
            if (
                min(
                    company.relance_repeat_days,
                    company.relance_future_days,
                    company.relance_sign_first_days,
                    company.relance_sign_min_interval,
                )
                < 0
            ):
                raise ValidationError(self.env._("Dunning delays cannot be negative."))
            if not (
                company.relance_sign_first_days
                < company.relance_sign_second_days
                < company.relance_sign_repeat_days
            ):
                raise ValidationError(
                    self.env._(
                        "Signature reminder thresholds must increase: first < second < "
                        "each processing (e.g. 30, 60, 90 days)."
                    )
                )

    def _relance_check_date(self, date):
        """Refuse a date to record a dunning at that is after today, beyond the
        days ahead the company allows."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        limit = today + timedelta(days=max(self.relance_future_days, 0))
        if not date or date <= limit:
            return
        if limit == today:
            raise UserError(
                self.env._(
                    "The dunning date %(date)s is in the future: a recorded dunning cannot "
                    "be dated after today (%(today)s).",
                    date=format_date(self.env, date),
                    today=format_date(self.env, today),
                )
            )
        raise UserError(
            self.env._(
                "The dunning date %(date)s is too far in the future: a recorded dunning may "
                "be dated at most %(days)s day(s) after today, until %(limit)s (Settings > "
                "Invoicing > Dunning).",
                date=format_date(self.env, date),
                days=self.relance_future_days,
                limit=format_date(self.env, limit),
            )
        )

    @api.constrains("relance_rule")
    def _check_relance_rule_levels(self):
        self.relance_level_ids._check_bounds()

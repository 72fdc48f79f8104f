from odoo import api, fields, models
from odoo.exceptions import ValidationError

RULES = [
    ("sequential", "Sequential (Atys): level N for partners at level N-1"),
    ("bounds", "Bounds: days past the due date (Akuiteo)"),
    ("progressive", "Progressive bounds: no level skipped (Akuiteo RELCLI_BORNEREL)"),
]


class ResCompany(models.Model):
    _inherit = "res.company"

    relance_rule = fields.Selection(RULES, string="Dunning rule", default="bounds", required=True)
    relance_repeat_days = fields.Integer(
        string="Top level repeat interval (days)",
        default=30,
        help="The highest dunning level may be sent again, no more often than this.",
    )
    relance_auto_email = fields.Boolean(
        string="Scheduled email dunning",
        help="Every day, send the due dunning emails to the customers that have an "
        "address, exactly as the email mode of the dunning edition does.",
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

    @api.constrains("relance_rule")
    def _check_relance_rule_levels(self):
        self.relance_level_ids._check_bounds()

from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    relance_rule = fields.Selection(related="company_id.relance_rule", readonly=False)
    relance_auto_email = fields.Boolean(related="company_id.relance_auto_email", readonly=False)
    relance_repeat_days = fields.Integer(related="company_id.relance_repeat_days", readonly=False)
    relance_future_days = fields.Integer(related="company_id.relance_future_days", readonly=False)
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

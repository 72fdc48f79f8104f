from odoo import fields, models

RELANCE_TYPES = [
    ("notice", "Pre-due notice"),
    ("dunning", "Dunning"),
    ("thanks", "Thank-you"),
]


class MailTemplate(models.Model):
    _inherit = "mail.template"

    relance_type = fields.Selection(
        RELANCE_TYPES,
        string="Reminder type",
        help="Offers this customer template in the reminder composer for this type.",
    )

"""Signature reminders of quotations: what a quotation keeps of them.

The use case lives in `relance.signature.service`
(models/relance_signature_service.py); the quotation holds its level, the date
of its last reminder and its history, and the weekly cron's entry point.
"""

import pytz

from odoo import api, fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    relance_sign_level = fields.Integer(
        string="Signature reminders",
        default=0,
        copy=False,
        readonly=True,
        aggregator=False,
        help="How many signature reminders this quotation has had.",
    )
    relance_sign_date = fields.Date(string="Last signature reminder", copy=False, readonly=True)
    relance_sign_line_ids = fields.One2many(
        "relance.run.line", "order_id", string="Signature reminder history", readonly=True
    )
    relance_sign_created = fields.Date(
        string="Created on",
        compute="_compute_relance_sign_created",
        help="The day the quotation was created, which its signature reminders count from.",
    )

    @api.depends("create_date")
    @api.depends_context("tz")
    def _compute_relance_sign_created(self):
        """The creation day in the time zone the service counts ages in."""
        tz = self.env["relance.signature.service"]._tz()
        for order in self:
            created = order.create_date
            order.relance_sign_created = (
                pytz.UTC.localize(created).astimezone(tz).date() if created else False
            )

    @api.model
    def _cron_relance_signature(self, as_of=None):
        """Every company's signature reminders, with the default options, in jobs."""
        self.env["relance.signature.service"]._cron(as_of=as_of)

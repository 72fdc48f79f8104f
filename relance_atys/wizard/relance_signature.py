"""Signature reminders by hand (Atys "Relance signature pièces"): filters, preview, send."""

from odoo import api, fields, models

from ..actions import background_action
from ..models.relance_signature_service import CONDITIONS, FILTERS, OPTIONS


class RelanceSignature(models.TransientModel):
    _name = "relance.signature"
    _inherit = ["relance.wizard"]
    _description = "Signature reminders"

    state = fields.Selection([("params", "Parameters"), ("preview", "Preview")], default="params")
    date = fields.Date(
        string="Reminder date",
        required=True,
        default=fields.Date.context_today,
        help="Ages and the minimum interval are counted up to this date.",
    )
    date_from = fields.Date(string="Created from")
    date_to = fields.Date(string="Created to")
    template_ids = fields.Many2many(
        "sale.order.template",
        string="Document types",
        help="Quotation templates; leave empty for every quotation.",
    )
    category_ids = fields.Many2many("res.partner.category", string="Customer tags")
    partner_ids = fields.Many2many("res.partner", string="Customers")
    order_ids = fields.Many2many(
        "sale.order",
        string="Quotations",
        default=lambda self: self._active_records("sale.order"),
        help="Only these quotations (chosen in the list of quotations).",
    )
    condition = fields.Selection(CONDITIONS, default="any", required=True)
    attach_pdf = fields.Boolean(
        string="Attach the PDF",
        default=True,
        help="Attach the quotation to sign, printed by the report below.",
    )
    report_id = fields.Many2one(
        "ir.actions.report",
        string="Printed with",
        domain="[('model', '=', 'sale.order')]",
        default=lambda self: self.env["relance.signature.service"]._default_report(),
    )
    line_ids = fields.One2many(
        "relance.signature.line", "wizard_id", string="Preview", readonly=True
    )
    send_count = fields.Integer(string="To send", compute="_compute_counts")
    skip_count = fields.Integer(string="Skipped", compute="_compute_counts")

    @api.depends("line_ids.will_send")
    def _compute_counts(self):
        for wizard in self:
            wizard.send_count = len(wizard.line_ids.filtered("will_send"))
            wizard.skip_count = len(wizard.line_ids) - wizard.send_count

    def _options(self):
        """What the user asked, checked (``relance.signature.service._check_options``)."""
        options = self._gather(OPTIONS, readable=FILTERS)
        self.env["relance.signature.service"]._check_options(self.company_id, options)
        return options

    # -- actions ---------------------------------------------------------------

    def action_preview(self):
        """List what would be sent and what would be skipped, and why."""
        service = self.env["relance.signature.service"]
        return self._show("preview", service._preview(self.company_id, self._options()))

    def action_back(self):
        return self._show("params")

    def action_send(self):
        """Record the run and queue its reminders; say where to follow them."""
        run = self.env["relance.signature.service"]._remind(self.company_id, self._options())
        message = self.env._("Sending in the background: follow it in run %s")
        return background_action(run, message, linked=True)

    def _reopen(self):
        return self._reopen_wide(self.env._("Signature reminders"))


class RelanceSignatureLine(models.TransientModel):
    _name = "relance.signature.line"
    _description = "Signature reminder preview line"
    _order = "will_send desc, id"

    wizard_id = fields.Many2one("relance.signature", required=True, ondelete="cascade")
    order_id = fields.Many2one("sale.order", string="Quotation", required=True)
    partner_id = fields.Many2one("res.partner", string="Customer")
    recipient_id = fields.Many2one("res.partner")
    email = fields.Char(related="recipient_id.email")
    age = fields.Integer(string="Age (days)", aggregator=False)
    level = fields.Integer(string="Current level", aggregator=False)
    new_level = fields.Integer(string="New level", aggregator=False)
    will_send = fields.Boolean(string="Sent")
    reason = fields.Char(string="Skipped because")

    @api.constrains("order_id", "partner_id", "recipient_id", "wizard_id")
    def _check_order_owner(self):
        """A quotation of the wizard's company, shown with its own customer."""
        self.env["relance.signature.service"]._check_preview_lines(self)

"""Per-customer reminder composer (seed 003): one mail, written or reviewed by hand."""

from odoo import Command, api, fields, models

from ..actions import reopen_action
from ..models.mail_template import RELANCE_TYPES
from ..models.relance_mailer import COMPOSED_FIELDS
from ..text import totals_text


class RelanceComposer(models.TransientModel):
    _name = "relance.composer"
    _inherit = ["relance.wizard"]
    _description = "Reminder composer"

    company_partner_id = fields.Many2one(related="company_id.partner_id")
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, readonly=True)
    edition_partner_id = fields.Many2one(
        "relance.edition.partner",
        readonly=True,
        ondelete="cascade",
        help="The review line this reminder was written from.",
    )
    sender_id = fields.Many2one(
        "res.partner",
        required=True,
        default=lambda self: self.env["relance.mailer"]._default_sender(self.env.company),
        domain="['|', ('id', '=', company_partner_id), ('user_ids.share', '=', False)]",
        help="By default the company's contact for questions, else the company, else you.",
    )
    relance_type = fields.Selection(RELANCE_TYPES, string="Type", required=True, default="dunning")
    template_id = fields.Many2one(
        "mail.template",
        compute="_compute_template_id",
        store=True,
        readonly=False,
        domain="[('model', '=', 'res.partner'), ('relance_type', '=', relance_type)]",
    )
    line_ids = fields.One2many("relance.composer.line", "composer_id", string="Documents")
    amount = fields.Char(compute="_compute_amount")
    email_to = fields.Char(
        string="Recipients",
        compute="_compute_email_to",
        store=True,
        readonly=False,
        help="One or more addresses, separated by commas.",
    )
    email_cc = fields.Char(string="Cc", help="One or more addresses, separated by commas.")
    subject = fields.Char(compute="_compute_content", store=True, readonly=False)
    body = fields.Html(
        compute="_compute_content", store=True, readonly=False, sanitize="email_outgoing"
    )
    attach_invoices = fields.Boolean(
        string="Attach the invoices",
        default=True,
        help="Attach the PDF of each ticked invoice or credit note.",
    )
    attach_statement = fields.Boolean(string="Attach the statement of account")
    attachment_ids = fields.Many2many(
        "ir.attachment",
        "relance_composer_attachment_rel",
        "composer_id",
        "attachment_id",
        string="Other attachments",
    )
    count_as_step = fields.Boolean(
        string="Count this mail as a dunning step",
        compute="_compute_template_id",
        store=True,
        readonly=False,
        help="The ticked documents move to their next dunning level, kept in the history.",
    )
    next_level_id = fields.Many2one(
        "relance.level",
        string="Next level",
        domain="[('company_id', '=', company_id)]",
        help="Leave empty to move each document one level up; or give them all this level.",
    )

    @api.depends("relance_type")
    def _compute_template_id(self):
        """The type's defaults (``relance.mailer._reminder_defaults``)."""
        for composer in self:
            composer.update(self.env["relance.mailer"]._reminder_defaults(composer.relance_type))

    @api.depends("partner_id")
    def _compute_email_to(self):
        mailer = self.env["relance.mailer"]
        for composer in self:
            composer.email_to = mailer._mail_partner(composer.partner_id).email

    @api.depends("line_ids.selected")
    def _compute_amount(self):
        for composer in self:
            composer.amount = totals_text(composer._selected_lines())

    @api.depends("template_id", "partner_id", "line_ids.selected", "next_level_id")
    def _compute_content(self):
        mailer = self.env["relance.mailer"]
        for composer in self.filtered("partner_id"):
            lines, choice = composer._selected_lines(), composer._choice()
            content = mailer._reminder_content(
                composer.company_id, composer.partner_id, lines, choice
            )
            if content:
                composer.subject, composer.body = content

    def _choice(self):
        return {name: self[name] for name in ("relance_type", "template_id", "next_level_id")}

    def _selected_lines(self):
        return self.line_ids.filtered("selected")

    # -- opening -----------------------------------------------------------------

    @api.model
    def action_open_for_partner(self, partner, moves=None):
        """The composer for ``partner``, its open items listed, ``moves`` (or all) ticked."""
        partner, today = partner.commercial_partner_id, fields.Date.context_today(self)
        service = self.env["relance.service"]
        documents = service._partner_documents(self.env.company, partner, moves, today)
        lines = [Command.create(vals) for vals in documents]
        return self.create({"partner_id": partner.id, "line_ids": lines})._reopen()

    def _reopen(self):
        return reopen_action(self, self.env._("Send a reminder"))

    # -- sending -----------------------------------------------------------------

    @api.constrains("template_id", "relance_type", "next_level_id")
    def _check_template(self):
        """A customer mail template of the composer's type; a level of its company."""
        self.env["relance.mailer"]._check_reminder_choice(self.company_id, self._choice())

    def action_send(self):
        """Queue the mail, posted on the customer's chatter, and record it in the history."""
        mail = self._gather(COMPOSED_FIELDS)
        mailer = self.env["relance.mailer"]
        mailer._send_composed(self.company_id, self.partner_id, mail, self.line_ids)
        if self.edition_partner_id:
            self.edition_partner_id.selected = False
            return self.edition_partner_id.edition_id._reopen()
        return {"type": "ir.actions.act_window_close"}


class RelanceComposerLine(models.TransientModel):
    _name = "relance.composer.line"
    _inherit = ["relance.document.line"]
    _description = "Reminder composer: document"
    _order = "is_deduction, due_date, id"

    composer_id = fields.Many2one("relance.composer", required=True, ondelete="cascade", index=True)

    @api.constrains("move_id", "composer_id")
    def _check_document_owner(self):
        """A document of the composer's customer, in the composer's company."""
        self.env["relance.service"]._check_wizard_documents(self, "composer_id", "partner_id")

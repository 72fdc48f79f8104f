"""Per-customer reminder composer (seed 003): one mail, written or reviewed by hand."""

from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from ..actions import reopen_action
from ..guard import check_company
from ..models.mail_template import RELANCE_TYPES
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
        compute="_compute_count_as_step",
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
        mailer = self.env["relance.mailer"]
        for composer in self:
            composer.template_id = mailer._default_template(composer.relance_type)

    @api.depends("relance_type")
    def _compute_count_as_step(self):
        for composer in self:
            composer.count_as_step = composer.relance_type == "dunning"

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
        for composer in self:
            allowed = mailer._reminder_template_allowed(composer.template_id, composer.relance_type)
            if allowed and composer.partner_id:
                composer.subject, composer.body = mailer._reminder_content(
                    composer.company_id,
                    composer.partner_id,
                    composer.template_id,
                    composer._selected_lines(),
                    composer.next_level_id,
                    composer.relance_type,
                )

    def _selected_lines(self):
        return self.line_ids.filtered("selected")

    # -- opening -----------------------------------------------------------------

    @api.model
    def action_open_for_partner(self, partner, moves=None):
        """The composer for ``partner``, its open items listed, ``moves`` (or all) ticked."""
        partner = partner.commercial_partner_id
        composer = self.create(
            {"partner_id": partner.id, "line_ids": self._document_commands(partner, moves)}
        )
        return composer._reopen()

    @api.model
    def _document_commands(self, partner, moves):
        """One line per open item of ``partner``, deductions last."""
        today = fields.Date.context_today(self)
        documents = self.env["relance.service"]._partner_documents(
            self.env.company, partner, moves, today
        )
        return [Command.create(vals) for vals in documents]

    def _reopen(self):
        return reopen_action(self, self.env._("Send a reminder"))

    # -- sending -----------------------------------------------------------------

    def _check_input(self):
        """Raise a clear error for anything that would make a wrong mail."""
        check_company(self)
        mailer = self.env["relance.mailer"]
        mailer._check_customer(self.company_id, self.partner_id)
        mailer._check_sender(self.company_id, self.sender_id)
        self._check_template()
        self._check_documents()
        mailer._check_reminder(
            self.partner_id, self.relance_type, self.count_as_step, self._selected_lines()
        )

    @api.constrains("template_id", "relance_type", "next_level_id")
    def _check_template(self):
        """A customer mail template of the composer's type; a level of its company."""
        self.env["relance.mailer"]._check_reminder_template(self.template_id, self.relance_type)
        if self.next_level_id and self.next_level_id.sudo().company_id != self.company_id:
            raise UserError(self.env._("This level belongs to another company."))

    def _check_documents(self):
        """Every listed document is an open item of the customer, in the composer's
        company, as the composer showed it (not paid nor dunned since)."""
        self.line_ids._check_document_owner()
        self.env["relance.service"]._check_as_shown(self.company_id, self.partner_id, self.line_ids)

    def action_send(self):
        """Queue the mail, posted on the customer's chatter, and record it in the history."""
        self.ensure_one()
        self._check_input()
        mailer, lines = self.env["relance.mailer"], self._selected_lines()
        names = ("email_to", "email_cc", "subject", "body", "sender_id", "attachment_ids")
        mail = {name: self[name] for name in (*names, "attach_invoices", "attach_statement")}
        mail_values = mailer._reminder_mail_values(self.company_id, self.partner_id, lines, mail)
        uploaded = self.attachment_ids.filtered(
            lambda attachment: attachment.res_model == self._name
        )
        uploaded.sudo().write({"res_model": "res.partner", "res_id": self.partner_id.id})
        mailer._send_reminder(self.company_id, self.partner_id, self._options(), lines, mail_values)
        if self.edition_partner_id:
            self.edition_partner_id.selected = False
            return self.edition_partner_id.edition_id._reopen()
        return {"type": "ir.actions.act_window_close"}

    def _options(self):
        """What the run keeps of the reminder (``count_as_step`` and ``next_level``
        tell the service the levels to give)."""
        return {
            "composer": self.partner_id.display_name,
            "type": dict(RELANCE_TYPES)[self.relance_type],
            "template": self.template_id.display_name,
            "sender": self.sender_id.display_name,
            "email_to": self.email_to,
            "email_cc": self.email_cc,
            "count_as_step": self.count_as_step,
            "next_level": self.next_level_id.number,
        }


class RelanceComposerLine(models.TransientModel):
    _name = "relance.composer.line"
    _inherit = ["relance.document.line"]
    _description = "Reminder composer: document"
    _order = "is_deduction, due_date, id"

    composer_id = fields.Many2one("relance.composer", required=True, ondelete="cascade", index=True)

    @api.constrains("move_id", "composer_id")
    def _check_document_owner(self):
        """A document of the composer's customer, in the composer's company."""
        for composer, lines in self.grouped("composer_id").items():
            lines._check_documents_of(composer.company_id, composer.partner_id)

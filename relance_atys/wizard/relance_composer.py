"""Per-customer reminder composer (seed 003): one mail, written or reviewed by hand."""

from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from ..actions import reopen_action
from ..guard import check_company
from ..models.mail_template import RELANCE_TYPES
from ..text import totals_text


class RelanceComposer(models.TransientModel):
    _name = "relance.composer"
    _description = "Reminder composer"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
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
        default=lambda self: self.env.user.partner_id,
        domain="['|', ('id', '=', company_partner_id), ('user_ids.share', '=', False)]",
        help="You by default; another user, or the company, may send it instead.",
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
            if not composer._template_allowed() or not composer.partner_id:
                continue
            lines, level = composer._selected_lines(), composer._level()
            values = mailer._template_values(lines, level)
            subject, composer.body, lang = mailer._render(
                composer.template_id, composer.partner_id, values
            )
            if composer.relance_type == "dunning":  # a formal notice says so in its subject
                today = fields.Date.context_today(composer)
                level = level.with_context(lang=lang)
                subject = mailer._level_subject(level, composer.partner_id, lines, today) or subject
            composer.subject = subject

    def _selected_lines(self):
        return self.line_ids.filtered("selected")

    def _level(self):
        """The level this reminder speaks for, whose texts the template prints: the chosen
        next level, else the one after the documents' highest, at most the last."""
        if self.next_level_id:
            return self.next_level_id
        levels = self.env["relance.service"]._get_levels(self.company_id)
        number = max(self._selected_lines().mapped("level_before"), default=0) + 1
        return levels.filtered(lambda level: level.number == number) or levels[-1:]

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

    @api.constrains("company_id")
    def _check_company_allowed(self):
        """A wizard of a company its user works in, checked again by every action."""
        for wizard in self:
            check_company(wizard)

    def _check_input(self):
        """Raise a clear error for anything that would make a wrong mail."""
        check_company(self)
        self._check_customer()
        self.env["relance.mailer"]._check_sender(self.company_id, self.sender_id)
        self._check_template()
        self._check_documents()
        mailer = self.env["relance.mailer"]
        mailer._check_reminder(
            self.partner_id, self.relance_type, self.count_as_step, self._selected_lines()
        )
        if not mailer._split_addresses(self.email_to):
            raise UserError(self.env._("Give at least one recipient address."))
        mailer._split_addresses(self.email_cc)
        if not (self.subject or "").strip():
            raise UserError(self.env._("The mail has no subject."))

    def _check_customer(self):
        """A customer (commercial entity) the user reads, of the composer's company."""
        partner = self.partner_id
        partner.check_access("read")
        if partner != partner.commercial_partner_id:
            raise UserError(
                self.env._(
                    "%(contact)s is a contact of %(customer)s: write to the customer.",
                    contact=partner.display_name,
                    customer=partner.commercial_partner_id.display_name,
                )
            )
        self.env["relance.service"]._check_partners_company(self.company_id, partner)

    def _template_allowed(self):
        template = self.template_id.sudo()
        return (
            bool(template)
            and template.model == "res.partner"
            and template.relance_type == self.relance_type
        )

    @api.constrains("template_id", "relance_type", "next_level_id")
    def _check_template(self):
        """A customer mail template of the composer's type; a level of its company."""
        template = self.template_id.sudo()
        if template and not self._template_allowed():
            raise UserError(
                self.env._(
                    "The mail template %(template)s is not a customer reminder of type '%(type)s'.",
                    template=template.display_name,
                    type=dict(self._fields["relance_type"]._description_selection(self.env))[
                        self.relance_type
                    ],
                )
            )
        if self.next_level_id and self.next_level_id.sudo().company_id != self.company_id:
            raise UserError(self.env._("This level belongs to another company."))

    def _check_documents(self):
        """Every listed document is an open item of the customer, in the composer's
        company, as the composer showed it (not paid nor dunned since)."""
        self.line_ids._check_document_owner()
        self.env["relance.service"]._check_as_shown(self.company_id, self.partner_id, self.line_ids)

    def _attachments(self):
        """The files of the mail: the ticked invoices' PDFs and the user's own, checked."""
        attachments = self.attachment_ids
        attachments.check("read")
        if self.attach_invoices:
            pdfs = self.env["relance.mailer"]._invoice_attachments(self._selected_lines().move_id)
            attachments |= self.env["ir.attachment"].union(*pdfs.values())
        self.env["relance.mailer"]._check_attachments(attachments)
        return attachments

    def action_send(self):
        """Queue the mail, posted on the customer's chatter, and record it in the history."""
        self.ensure_one()
        self._check_input()
        mailer = self.env["relance.mailer"]
        attachments = self._attachments()
        uploaded = self.attachment_ids.filtered(
            lambda attachment: attachment.res_model == self._name
        )
        uploaded.sudo().write({"res_model": "res.partner", "res_id": self.partner_id.id})
        mailer._send_reminder(
            self.company_id,
            self.partner_id,
            self._options(),
            self._selected_lines(),
            {
                "author_id": self.sender_id.id,
                "email_from": mailer._sender_address(self.sender_id),
                "email_to": ", ".join(mailer._split_addresses(self.email_to)),
                "email_cc": ", ".join(mailer._split_addresses(self.email_cc)),
                "subject": self.subject,
                "body": self.body,
                "body_html": mailer._layout(
                    self.partner_id,
                    self.body,
                    self.partner_id.lang or self.env.lang,
                    self.company_id,
                ),
                "attachment_ids": attachments.ids,
            },
        )
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

"""Dunning edition (Atys "Édition des relances") with EIG's review screen, as the
credit controller's tools extend it: a filter and a sort by collector, the collector
and a promise not kept on each customer, and the button that plans the calls
(``relance.call._plan_review_calls``)."""

from odoo import api, fields, models
from odoo.exceptions import UserError

from .. import engine
from ..actions import background_action, reopen_action
from ..models.relance_service import FILTERS, SELECTIONS, SORTS
from ..models.relance_wizard import CUSTOMERS_DOMAIN
from ..report.relance_letter import DEFAULT_TEMPLATE


class RelanceEdition(models.TransientModel):
    _name = "relance.edition"
    _inherit = ["relance.wizard"]
    _description = "Dunning edition"

    currency_id = fields.Many2one(related="company_id.currency_id")
    rule = fields.Selection(related="company_id.relance_rule")
    state = fields.Selection([("params", "Parameters"), ("review", "Review")], default="params")
    date = fields.Date(string="Dunning date", required=True, default=fields.Date.context_today)
    level_id = fields.Many2one(
        "relance.level",
        domain="[('company_id', '=', company_id)]",
        help="Sequential rule: the level to send, to customers at the level before. "
        "Bounds rules: leave empty to send every due level, or keep one level only.",
    )
    level = fields.Integer(related="level_id.number")
    output = fields.Selection(
        [("control", "Control list"), ("letters", "Letters")], default="letters", required=True
    )
    mode = fields.Selection(
        [("letter", "Letter mode"), ("email", "Email mode")], default="letter", required=True
    )
    definitive = fields.Boolean(
        help="Record the new level and date on the documents and customers once the "
        "letters are produced."
    )
    selection = fields.Selection(
        SELECTIONS, string="Documents", default=engine.SELECT_LOWER, required=True
    )
    template_key = fields.Selection(
        selection=lambda self: self.env["relance.letter"]._letter_templates(),
        string="Letter template",
        default=DEFAULT_TEMPLATE,
        required=True,
        help="The standard letter, or a letter template a module of yours declares "
        "(see relance.letter._relance_letter_templates).",
    )
    due_from = fields.Date(string="Due from")
    due_to = fields.Date(string="Due to")
    sort_by = fields.Selection(SORTS, default="name", required=True)
    subtotal_due = fields.Boolean(string="Subtotal per due date")
    attach_statement = fields.Boolean(
        string="Statement of account after each letter",
        help="Each letter followed by the customer's statement (in email mode: attached).",
    )
    attach_invoices = fields.Boolean(
        "Invoices after each letter", default=lambda self: self.env.company.relance_attach_invoices
    )
    category_ids = fields.Many2many("res.partner.category", string="Customer tags")
    user_ids = fields.Many2many("res.users", string="Salespersons")
    payment_method_line_ids = fields.Many2many(
        "account.payment.method.line",
        string="Payment methods",
        domain="[('payment_type', '=', 'inbound')]",
    )
    payment_term_ids = fields.Many2many("account.payment.term", string="Payment terms")
    collector_ids = fields.Many2many(
        "res.users", "relance_edition_collector_rel", string="Collectors"
    )
    min_amount = fields.Monetary(
        string="Amount greater than",
        currency_field="currency_id",
        help="Only customers whose total due (after the other filters) is greater.",
    )
    partner_ids = fields.Many2many(
        "res.partner",
        string="Customers",
        domain=CUSTOMERS_DOMAIN,
        help="Companies and individuals alike: any customer that can be dunned.",
    )
    partner_line_ids = fields.One2many("relance.edition.partner", "edition_id")
    line_ids = fields.One2many("relance.edition.line", "edition_id")
    skipped_text = fields.Text(readonly=True)
    summary = fields.Char(compute="_compute_summary")
    control_list_open = fields.Boolean(
        string="Control list open",
        help="The control list was opened on screen and the proposal not shown since: "
        "the menu reopens it rather than a new edition.",
    )

    # -- checks ------------------------------------------------------------

    def _check_input(self):
        """Raise a clear error for anything the user asked wrongly."""
        self._check_wizard(readable=FILTERS)
        service = self.env["relance.service"]
        service._check_level_company(self.company_id, self.level_id)
        if self.definitive and self.output != "letters" and self.mode == "letter":
            raise UserError(self.env._("Only letters can be definitive, not a control list."))
        service._check_options(self.company_id, self._options())
        self.env["relance.letter"]._check_template(self.template_key)

    def _options(self):
        self.ensure_one()
        return {
            "date": self.date,
            "rule": self.rule,
            "level": self.level_id.number or None,
            "selection": self.selection,
            "due_from": self.due_from,
            "due_to": self.due_to,
            "min_amount": self.min_amount,
            **{name: self[name].ids for name in FILTERS},
        }

    # -- proposal -------------------------------------------------------------

    def action_review(self):
        """Compute the proposal and show it for review, nothing recorded."""
        self._check_input()
        skipped = self.env["relance.service"]._review(
            self.company_id, dict(self._options(), sort_by=self.sort_by), self
        )
        self.write({"state": "review", "skipped_text": skipped})
        return self._reopen()

    @api.depends("partner_line_ids.selected", "line_ids.selected")
    def _compute_summary(self):
        """What is ticked, as the user ticks it: the review screen changes the customers'
        ticks in the form (not saved yet), the documents' in the database."""
        for wizard in self:
            lines, partner_lines = wizard._origin.line_ids, wizard.partner_line_ids
            wizard.summary = self.env["relance.service"]._review_summary(lines, partner_lines)

    def _reopen(self):
        self.filtered("control_list_open").control_list_open = False
        return self._reopen_wide(self.env._("Dunning edition"))

    def action_back(self):
        self.partner_line_ids.unlink()
        self.state = "params"
        return self._reopen()

    def action_switch_mode(self):
        if self.mode == "letter":
            self.env["relance.mailer"]._switch_to_email(self)
        self.mode = "email" if self.mode == "letter" else "letter"
        return self._reopen()

    def action_send_emails(self):
        """Send one mail per ticked customer in the background; show the run."""
        self._check_wizard()
        run = self.env["relance.mailer"]._send_edition(self.company_id, self._run_options(), self)
        return background_action(
            run, self.env._("Sending in the background: follow it in run %s.", run.name)
        )

    def _run_options(self):
        """What the user asked, as the run keeps it."""
        return dict(
            self._options(),
            mode=self.mode,
            sort_by=self.sort_by,
            template=self.template_key,
            subtotal_due=self.subtotal_due,
            statement=self.attach_statement,
            invoices=self.attach_invoices,
        )

    def action_select_all(self):
        self.partner_line_ids.write({"selected": True})
        self.line_ids.write({"selected": True})
        return self._reopen()

    def action_unselect_all(self):
        self.partner_line_ids.write({"selected": False})
        return self._reopen()

    def action_plan_calls(self):
        """The calls of the ticked customers due a level with a phone call."""
        self._check_wizard()
        calls = self.env["relance.call"]
        return calls._plan_review_calls(self.company_id, self._run_options(), self)

    # -- control list ---------------------------------------------------------

    def action_control_list(self):
        """The proposal on screen, grouped by customer, in the place of the dialog
        (``relance.control.list._screen_action``)."""
        return self.env["relance.control.list"]._screen_action(self)

    def action_export_xlsx(self):
        self._check_wizard()
        return self._download(*self.env["relance.control.list"]._xlsx(self))

    # -- letters --------------------------------------------------------------

    def action_print_draft(self):
        """Draft letters: the same PDF marked BROUILLON / DRAFT; nothing recorded."""
        self._check_wizard()
        letters = self.env["relance.letter"]
        draft = letters._print_review_draft(self.company_id, self._run_options(), self)
        return self._download(*draft)

    def action_print_definitive(self):
        """Produce the letters, then record levels, dates and a run; all or nothing.
        Beyond a size (see ``relance.service._background_letters_from``), in the
        background, by batches of customers."""
        self._check_wizard()
        run = self.env["relance.service"]._print_letters(self.company_id, self._run_options(), self)
        if run.state in ("planning", "queued"):
            return background_action(
                run, self.env._("Printing in the background: follow it in run %s.", run.name)
            )
        return run._get_form_action()


class RelanceEditionPartner(models.TransientModel):
    _name = "relance.edition.partner"
    _description = "Dunning edition: customer"
    _order = "sequence, id"
    _rec_name = "partner_id"

    edition_id = fields.Many2one("relance.edition", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer()
    selected = fields.Boolean(default=True)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, readonly=True)
    partner_ref = fields.Char(related="partner_id.ref", string="Ref.")
    zip = fields.Char(related="partner_id.zip")
    salesperson_id = fields.Many2one(related="partner_id.user_id", string="Salesperson")
    current_level = fields.Integer(readonly=True, aggregator=False)
    current_date = fields.Date(string="Last dunning", readonly=True)
    new_level = fields.Integer(string="New level", readonly=True, aggregator=False)
    line_ids = fields.One2many("relance.edition.line", "partner_line_id", string="Documents")
    doc_count = fields.Integer(compute="_compute_totals", string="Document count")
    doc_count_text = fields.Char(compute="_compute_totals", string="Count")
    totals_text = fields.Char(compute="_compute_totals", string="Total due")
    email = fields.Char(compute="_compute_email", string="Email to")
    send_doc = fields.Boolean(related="partner_id.relance_send_doc")
    mode = fields.Selection(related="edition_id.mode")
    collector_id = fields.Many2one("res.users", readonly=True)
    broken_promise = fields.Date(string="Promise not kept", readonly=True)

    @api.constrains("partner_id", "edition_id")
    def _check_partner(self):
        """A customer the user reads, of the edition's company."""
        self.env["relance.service"]._check_review_partners(self)

    @api.depends("line_ids.selected", "line_ids.residual")
    def _compute_totals(self):
        service = self.env["relance.service"]
        for pline in self:
            pline.update(service._review_partner_totals(pline.line_ids))

    @api.depends("partner_id")
    def _compute_email(self):
        mailer = self.env["relance.mailer"]
        for pline in self:
            pline.email = mailer._mail_partner(pline.partner_id).email or False

    def action_compose(self):
        """Write this customer's reminder by hand, its ticked documents ticked."""
        self.ensure_one()
        moves = self.line_ids.filtered("selected").move_id
        composer = self.env["relance.composer"].with_company(self.edition_id.company_id)
        return composer.with_context(default_edition_partner_id=self.id).action_open_for_partner(
            self.partner_id, moves
        )

    def action_open(self):
        return reopen_action(self, self.partner_id.display_name)

    def action_back_to_review(self):
        return self.edition_id._reopen()


class RelanceEditionLine(models.TransientModel):
    _name = "relance.edition.line"
    _inherit = ["relance.document.line"]
    _description = "Dunning edition: document"
    _order = "partner_line_id, is_deduction, due_date, id"

    edition_id = fields.Many2one("relance.edition", required=True, ondelete="cascade", index=True)
    partner_line_id = fields.Many2one(
        "relance.edition.partner", required=True, ondelete="cascade", index=True
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    level_after = fields.Integer(string="Proposed level", readonly=True, aggregator=False)
    collector_id = fields.Many2one("res.users", readonly=True)

    def action_back_to_proposal(self):
        """From the control list (its button, whatever the lines ticked): its proposal."""
        edition_id = self.env.context.get("relance_edition_id")
        return self.env["relance.control.list"]._back_to_proposal(edition_id)

    @api.constrains("move_id", "partner_id", "partner_line_id", "edition_id", "level_after")
    def _check_document_owner(self):
        """Each document of its customer line's customer, in the edition's company,
        at a level that exists."""
        self.env["relance.service"]._check_review_lines(self)

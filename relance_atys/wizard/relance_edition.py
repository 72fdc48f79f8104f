"""Dunning edition (Atys "Édition des relances") with EIG's review screen."""

from collections import defaultdict

from markupsafe import Markup

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date

from .. import engine
from ..actions import download_action, reopen_action
from ..guard import check_company, check_readable
from ..report.relance_letter import letter_zoom, missing_from_pdf
from ..report.relance_xlsx import write_control_list
from ..text import sort_key, without_invisible

SORTS = [
    ("name", "Customer name"),
    ("zip", "Zip code"),
    ("ref", "Customer reference"),
    ("user", "Salesperson"),
]
SELECTIONS = [
    (engine.SELECT_NEVER, "Never dunned documents (level 0)"),
    (engine.SELECT_PREVIOUS, "Documents of the previous level only"),
    (engine.SELECT_LOWER, "Documents of every lower level"),
]
DEFAULT_TEMPLATE = "relance_atys.letter_document"
LETTER_PAPERFORMAT = "relance_atys.paperformat_relance_letter"
# The many2many filters of the edition, each checked readable by its user.
FILTERS = (
    "partner_ids",
    "category_ids",
    "user_ids",
    "payment_method_line_ids",
    "payment_term_ids",
)
PAGE_BREAK = '<div style="page-break-after: always;"></div>'


def _fetch_stored(records):
    """Read every stored field of ``records`` in one query."""
    records.fetch([name for name, field in records._fields.items() if field.store])


class RelanceEdition(models.TransientModel):
    _name = "relance.edition"
    _description = "Dunning edition"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
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
        selection="_letter_templates",
        string="Letter template",
        default=DEFAULT_TEMPLATE,
        required=True,
        help="The standard letter, or a letter template a module of yours declares "
        "(see _relance_letter_templates).",
    )
    due_from = fields.Date(string="Due from")
    due_to = fields.Date(string="Due to")
    sort_by = fields.Selection(SORTS, default="name", required=True)
    subtotal_due = fields.Boolean(string="Subtotal per due date")
    category_ids = fields.Many2many("res.partner.category", string="Customer tags")
    user_ids = fields.Many2many("res.users", string="Salespersons")
    payment_method_line_ids = fields.Many2many(
        "account.payment.method.line",
        string="Payment methods",
        domain="[('payment_type', '=', 'inbound')]",
    )
    payment_term_ids = fields.Many2many("account.payment.term", string="Payment terms")
    min_amount = fields.Monetary(
        string="Amount greater than",
        currency_field="currency_id",
        help="Only customers whose total due (after the other filters) is greater.",
    )
    partner_ids = fields.Many2many(
        "res.partner",
        string="Customers",
        domain="[('customer_rank', '>', 0), ('company_id', 'in', (company_id, False)), "
        "'|', ('is_company', '=', True), ('parent_id', '=', False)]",
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

    @api.model
    def _relance_letter_templates(self):
        """Keys of the QWeb templates that print a dunning letter: the only ones
        offered and printed. A module adds its own by extending this method."""
        return [DEFAULT_TEMPLATE]

    @api.model
    def _letter_templates(self):
        keys = self._relance_letter_templates()
        views = (
            self.env["ir.ui.view"]
            .sudo()
            .search([("type", "=", "qweb"), ("key", "in", keys)])
            .sorted(lambda view: keys.index(view.key))
        )
        return [(view.key, self._letter_template_name(view)) for view in views]

    def _letter_template_name(self, view):
        """The standard letter's name in the user's language (a view's is not translated)."""
        return self.env._("Standard letter") if view.key == DEFAULT_TEMPLATE else view.name

    # -- checks ------------------------------------------------------------

    @api.constrains("company_id")
    def _check_company_allowed(self):
        """A wizard of a company its user works in, checked again by every action."""
        for wizard in self:
            check_company(wizard)

    def _check_input(self):
        """Raise a clear error for anything the user asked wrongly."""
        self.ensure_one()
        check_company(self)
        _ = self.env._
        if self.due_from and self.due_to and self.due_from > self.due_to:
            raise UserError(_("The due-date range is inverted: 'Due from' is after 'Due to'."))
        if self.min_amount < 0:
            raise UserError(_("The amount threshold cannot be negative."))
        if self.rule == engine.RULE_SEQUENTIAL and not self.level_id:
            raise UserError(_("Choose the dunning level to send (sequential rule)."))
        number = self.level_id.sudo().number
        if self.level_id and not engine.MIN_LEVEL <= number <= engine.MAX_LEVEL:
            raise UserError(
                _(
                    "The dunning level must be between %(min)s and %(max)s.",
                    min=engine.MIN_LEVEL,
                    max=engine.MAX_LEVEL,
                )
            )
        if self.level_id and self.level_id.sudo().company_id != self.company_id:
            raise UserError(_("This level belongs to another company."))
        if self.definitive and self.output != "letters" and self.mode == "letter":
            raise UserError(_("Only letters can be definitive, not a control list."))
        check_readable(self, FILTERS)
        self.env["relance.service"]._check_partners_company(self.company_id, self.partner_ids)
        self._check_template_key()

    def _check_template_key(self):
        if self.template_key not in dict(self._letter_templates()):
            raise UserError(self.env._("%s is not a dunning letter template.", self.template_key))

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
            "partner_ids": self.partner_ids.ids,
            "category_ids": self.category_ids.ids,
            "user_ids": self.user_ids.ids,
            "payment_method_line_ids": self.payment_method_line_ids.ids,
            "payment_term_ids": self.payment_term_ids.ids,
        }

    # -- proposal -------------------------------------------------------------

    def action_review(self):
        """Compute the proposal and show it for review, nothing recorded."""
        self._check_input()
        service = self.env["relance.service"]
        proposal = service._propose(self.company_id, self._options())
        self.partner_line_ids.unlink()
        if not proposal.groups:
            raise UserError(self._nothing_to_dun_message(proposal))
        self._create_review_lines(proposal)
        self.write({"state": "review", "skipped_text": self._skipped_summary(proposal)})
        return self._reopen()

    def _nothing_to_dun_message(self, proposal):
        message = self.env._("Nothing to dun with these parameters.")
        summary = self._skipped_summary(proposal)
        return f"{message}\n{summary}" if summary else message

    def _skipped_summary(self, proposal):
        counts = defaultdict(int)
        for skipped in proposal.skipped:
            counts[skipped.reason] += 1
        labels = self._reason_labels()
        return "\n".join(
            self.env._("%(count)s document(s): %(reason)s", count=count, reason=labels[reason])
            for reason, count in sorted(counts.items(), key=lambda kv: -kv[1])
        )

    def _reason_labels(self):
        _ = self.env._
        return {
            engine.R_PARTNER_EXCLUDED: _("customer excluded from dunning"),
            engine.R_PARTNER_DISABLED: _("customer without 'Dunning letters'"),
            engine.R_PARTNER_LEVEL: _("customer not at the previous level"),
            engine.R_EXCLUDED: _("document excluded from dunning"),
            engine.R_BLOCKED: _("payment blocked (dispute)"),
            engine.R_DUE_RANGE: _("due date outside the range"),
            engine.R_NOT_DUE: _("not due yet"),
            engine.R_NO_LEVEL: _("no level for these days late"),
            engine.R_ALREADY: _("already dunned at this level"),
            engine.R_TOO_RECENT: _("last dunning too recent"),
            engine.R_SELECTION: _("document level not selected"),
            engine.R_OTHER_LEVEL: _("due for another level"),
            engine.R_BELOW_AMOUNT: _("customer total below the threshold"),
            engine.R_NOTHING_TO_DUN: _("credit with nothing to dun"),
        }

    def _create_review_lines(self, proposal):
        """One partner line per customer, one line per document, in one INSERT each."""
        groups = self.env["relance.service"]._group_by_partner(proposal)
        partners = self.env["res.partner"].browse(list(groups)).with_company(self.company_id)
        partner_vals = []
        for partner in self._sorted_partners(partners):
            partner_groups = groups[partner.id]
            partner_vals.append(
                {
                    "edition_id": self.id,
                    "partner_id": partner.id,
                    "sequence": len(partner_vals),
                    "selected": any(group.selected for group in partner_groups),
                    "new_level": max(group.level for group in partner_groups),
                    "current_level": partner.relance_level,
                    "current_date": partner.relance_date,
                }
            )
        service = self.env["relance.service"]
        partner_lines = service._insert("relance.edition.partner", partner_vals)
        service._refresh_statistics(["relance.edition.partner"])  # before the lines point to them
        line_vals = []
        for pline, vals in zip(partner_lines, partner_vals):
            for group in groups[vals["partner_id"]]:
                line_vals.extend(self._document_line_vals(pline, group))
        service._insert("relance.edition.line", line_vals)

    def _document_line_vals(self, pline, group):
        item_line = self.env["relance.service"]._item_line  # the run lines' values too

        def vals(item, level, days, deduction):
            return dict(
                item_line(group.partner_id, item, level),
                edition_id=self.id,
                partner_line_id=pline.id,
                days_late=days,
                is_deduction=deduction,
                selected=True,
            )

        rows = [vals(p.item, p.level, p.days_late, False) for p in group.proposed]
        rows += [
            vals(item, 0, engine.days_between(item.due_date, self.date), True)
            for item in group.deductions
        ]
        return rows

    def _sorted_partners(self, partners):
        keys = {
            "name": lambda p: sort_key(p.name),
            "zip": lambda p: (p.zip or "", sort_key(p.name)),
            "ref": lambda p: (p.ref or "", sort_key(p.name)),
            "user": lambda p: (sort_key(p.user_id.name), sort_key(p.name)),
        }
        return partners.sorted(keys[self.sort_by])

    @api.depends("partner_line_ids.selected", "line_ids.selected")
    def _compute_summary(self):
        """What is ticked, as the user ticks it: the review screen changes the customers'
        ticks in the form (not saved yet), the documents' in the database."""
        for wizard in self:
            ticked = {pline._origin.id for pline in wizard.partner_line_ids if pline.selected}
            lines = wizard._origin.line_ids
            _fetch_stored(lines)
            lines = lines.filtered(
                lambda line, ticked=ticked: line.selected and line.partner_line_id.id in ticked
            )
            if not lines:
                wizard.summary = wizard.env._("No customer ticked")
                continue
            wizard.summary = wizard.env._(
                "%(partners)s customer(s), %(docs)s document(s): %(totals)s",
                partners=len(lines.partner_line_id),
                docs=len(lines.filtered(lambda line: not line.is_deduction)),
                totals=lines._totals_text(),
            )

    def _selected_lines(self):
        """Ticked documents of ticked customers, read in a few queries however many
        (the ORM would read them a thousand at a time)."""
        lines = self.line_ids
        _fetch_stored(lines)
        _fetch_stored(lines.partner_line_id)
        return lines.filtered(lambda line: line.selected and line.partner_line_id.selected)

    def _selected_partner_lines(self):
        """Ticked customers with a ticked document (not only deductions)."""
        documents = self._selected_lines().filtered(lambda line: not line.is_deduction)
        return self.partner_line_ids & documents.partner_line_id

    def _reopen(self):
        self.filtered("control_list_open").control_list_open = False
        # wide: the proposal's columns and the customers' names fit at 1440 px
        return reopen_action(
            self, self.env._("Dunning edition"), context={"dialog_size": "extra-large"}
        )

    def action_back(self):
        self.partner_line_ids.unlink()
        self.state = "params"
        return self._reopen()

    def action_switch_mode(self):
        if self.mode == "letter":
            self._check_manager()  # only a manager can send the emails: no dead end
        self.mode = "email" if self.mode == "letter" else "letter"
        if self.mode == "email":
            for pline in self.partner_line_ids:
                pline.selected = pline.selected and pline._can_email()
        return self._reopen()

    def action_send_emails(self):
        """Send one mail per ticked customer in the background; show the run."""
        self.ensure_one()
        check_company(self)
        self._check_manager()
        partner_lines = self._selected_partner_lines()
        if not partner_lines:
            raise UserError(self.env._("No customer is ticked: nothing to send."))
        self._check_definitive_dates(partner_lines)
        lines = [line._run_line_vals("email", "planned") for line in self._lines_of(partner_lines)]
        run = self.env["relance.mailer"]._send_run(self.company_id, self._run_options(), lines)
        return self._background_action(
            run, self.env._("Sending in the background: follow it in run %s.", run.name)
        )

    def _background_action(self, run, message):
        """Tell the user the run goes on in the background, and open it."""
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "title": run.name,
                "message": message,
                # an action the client runs as is: its views given
                "next": dict(run._get_form_action(), views=[(False, "form")]),
            },
        }

    def _lines_of(self, partner_lines):
        """The ticked documents of ``partner_lines``."""
        return self._selected_lines().filtered(lambda line: line.partner_line_id in partner_lines)

    def _run_options(self):
        """What the user asked, as the run keeps it."""
        return dict(
            self._options(),
            mode=self.mode,
            sort_by=self.sort_by,
            template=self.template_key,
            subtotal_due=self.subtotal_due,
        )

    def action_select_all(self):
        self.partner_line_ids.write({"selected": True})
        self.line_ids.write({"selected": True})
        return self._reopen()

    def action_unselect_all(self):
        self.partner_line_ids.write({"selected": False})
        return self._reopen()

    # -- control list ---------------------------------------------------------

    def action_control_list(self):
        """The proposal on screen, grouped by customer.

        The list replaces the dialog: its "Back to the proposal" button reopens the
        proposal, and so does the menu afterwards (after the browser's Back, say).
        """
        self.ensure_one()
        self.control_list_open = True
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Control list"),
            "res_model": "relance.edition.line",
            "view_mode": "list",
            "domain": [("edition_id", "=", self.id)],
            "context": {"search_default_group_partner": 1, "relance_edition_id": self.id},
            "target": "current",
        }

    @api.model
    def _action_open(self):
        """The menu: the proposal whose control list was left, else a new edition."""
        pending = self.search(
            [
                ("create_uid", "=", self.env.uid),
                ("state", "=", "review"),
                ("control_list_open", "=", True),
            ],
            order="id desc",
            limit=1,
        )
        if pending:
            return pending._reopen()
        return self.env["ir.actions.act_window"]._for_xml_id("relance_atys.action_relance_edition")

    def _control_list_rows(self):
        """Rows for the XLSX, in the review order, read in one query: of documents
        and customers the ORM lets the user read."""
        lines = self._selected_lines()
        lines.move_id.check_access("read")  # their company and customer checked when written
        lines.partner_id.check_access("read")
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT p.ref, p.name, p.zip, COALESCE(up.name, ''), m.name,
                   m.invoice_date, l.due_date, l.days_late,
                   CASE WHEN m.move_type = 'out_refund' THEN -m.amount_total
                        WHEN m.move_type = 'out_invoice' THEN m.amount_total
                        ELSE l.residual END,
                   l.residual, l.level_before, l.date_before, l.level_after,
                   COALESCE(p.email, ''), c.name, l.is_deduction, pl.id
              FROM relance_edition_line l
              JOIN relance_edition_partner pl ON pl.id = l.partner_line_id
              JOIN res_partner p ON p.id = l.partner_id
              JOIN account_move m ON m.id = l.move_id
              JOIN res_currency c ON c.id = l.currency_id
              LEFT JOIN res_users u ON u.id = p.user_id
              LEFT JOIN res_partner up ON up.id = u.partner_id
             WHERE l.edition_id = %s AND l.selected AND pl.selected
             ORDER BY pl.sequence, c.name, l.is_deduction, l.due_date, l.id
            """,
            [self.id],
        )
        return self.env.cr.fetchall()

    def _file_name(self, kind, extension):
        company = "".join(ch if ch.isalnum() else "_" for ch in self.company_id.name)
        name = self.env._(
            "%(kind)s_%(company)s_level_%(level)s_%(date)s",
            kind=kind,
            company=company,
            level=self.level_id.number or self.env._("all"),
            date=self.date,
        )
        return f"{name}.{extension}"

    def action_export_xlsx(self):
        self.ensure_one()
        check_company(self)
        data = write_control_list(
            self._control_list_rows(),
            subtotal_due=self.subtotal_due,
            labels=self._xlsx_labels(),
            title=self._xlsx_title(),
        )
        attachment = self._attach(data, self._file_name(self.env._("control_list"), "xlsx"))
        return download_action(attachment)

    def _xlsx_title(self):
        level = self.level_id.display_name or self.env._("all levels")
        return self.env._(
            "Dunning control list - %(company)s - %(level)s - %(date)s",
            company=self.company_id.name,
            level=level,
            date=format_date(self.env, self.date),
        )

    def _xlsx_labels(self):
        _ = self.env._
        return {
            "columns": [
                _("Customer ref."),
                _("Customer"),
                _("Zip"),
                _("Salesperson"),
                _("Document"),
                _("Date"),
                _("Due date"),
                _("Days late"),
                _("Amount"),
                _("Residual"),
                _("Current level"),
                _("Last dunning"),
                _("Proposed level"),
                _("Email"),
                _("Currency"),
            ],
            "subtotal": _("Subtotal"),
            "subtotal_due": _("Subtotal due"),
            "total": _("Grand total"),
            "type": _("Type"),
            "document": _("Document"),
            "deduction": _("Deduction"),
            "shown": _("Shown"),
            "sheet": _("Dunning"),
        }

    # -- letters --------------------------------------------------------------

    def _letter_partner_lines(self):
        check_company(self)
        lines = self._selected_partner_lines()
        if not lines:
            raise UserError(self.env._("No customer is ticked: nothing to print."))
        return lines

    def action_print_draft(self):
        """Draft letters: the same PDF marked BROUILLON / DRAFT; nothing recorded."""
        self.ensure_one()
        pdf, failures = self._render_letters(self._letter_partner_lines(), definitive=False)
        if failures:
            raise UserError(self._failures_message(failures))
        attachment = self._attach(pdf, self._file_name(self.env._("draft_letters"), "pdf"))
        return download_action(attachment)

    def _render_letters(self, partner_lines, definitive):
        """One PDF of the letters of ``partner_lines``, in one wkhtmltopdf call.

        Each letter is rendered on its own first, so that one that fails (a broken
        custom template, say) is left out, with its error, instead of stopping the
        others. Returns the PDF and {partner line: error}.
        """
        letters, failures = self._letters_html(partner_lines, definitive)
        if not letters:
            raise UserError(self._failures_message(failures))
        report = self.env["ir.actions.report"].new(
            {"paperformat_id": self.env.ref(LETTER_PAPERFORMAT).id}
        )
        html = report._render_template(
            "relance_atys.letters_standalone",
            {"letters": Markup(PAGE_BREAK.join(letters)), "zoom": letter_zoom()},
        )
        pdf = report._run_wkhtmltopdf([html.decode()])
        if not pdf or not pdf.startswith(b"%PDF") or b"/Type /Page" not in pdf:
            raise UserError(
                self.env._("The letters could not be produced (empty PDF): nothing recorded.")
            )
        self._check_letters_in_pdf(pdf, partner_lines.filtered(lambda pl: pl not in failures))
        return pdf, failures

    def _check_letters_in_pdf(self, pdf, partner_lines):
        """Refuse a PDF that lacks a customer's letter: each letter lists the
        documents it duns, so their numbers must all be in the PDF's text."""
        letters = {
            pline: pline.line_ids.filtered(
                lambda line: line.selected and not line.is_deduction
            ).move_id.mapped("name")
            for pline in partner_lines
        }
        missing = missing_from_pdf(pdf, letters)
        if missing:
            raise UserError(
                self.env._(
                    "The PDF does not show the letters of %(partners)s (their documents are "
                    "not in it): nothing recorded. Check the letter template '%(template)s'.",
                    partners=", ".join(pline.partner_id.display_name for pline in missing),
                    template=dict(self._letter_templates()).get(
                        self.template_key, self.template_key
                    ),
                )
            )

    def _letters_html(self, partner_lines, definitive):
        self._check_template_key()
        report = self.env["ir.actions.report"]
        letters, failures = [], {}
        for pline in partner_lines:
            values = {
                "pline": pline,
                "sections": pline._letter_sections(self.subtotal_due),
                "draft": not definitive,
            }
            try:
                with self.env.cr.savepoint():
                    html = report.with_context(lang=pline._letter_lang())._render_template(
                        self.template_key, values
                    )
            except Exception as error:  # any template error: kept, per letter
                failures[pline] = str(error).strip() or type(error).__name__
                continue
            letters.append(without_invisible(html.decode()))
        return letters, failures

    def _failures_message(self, failures):
        lines = [f"{pline.partner_id.display_name}: {error}" for pline, error in failures.items()]
        return self.env._("These letters could not be produced:\n%s", "\n".join(lines))

    def _attach(self, data, name, res_model=None, res_id=None):
        return self.env["ir.attachment"].create(
            {
                "name": name,
                "raw": data,
                "res_model": res_model or self._name,
                "res_id": res_id or self.id,
            }
        )

    def _check_definitive_dates(self, partner_lines):
        self.company_id._relance_check_date(self.date)
        late = partner_lines.filtered(lambda pl: pl.current_date and pl.current_date > self.date)
        if late:
            raise UserError(
                self.env._(
                    "The dunning date %(date)s is before the last dunning of %(partners)s: "
                    "a definitive edition cannot go back in time.",
                    date=format_date(self.env, self.date),
                    partners=", ".join(late.mapped("partner_id.name")),
                )
            )

    def action_print_definitive(self):
        """Produce the letters, then record levels, dates and a run; all or nothing.
        Beyond a size (see ``relance.service._background_letters_from``), in the
        background, by batches of customers."""
        self.ensure_one()
        self._check_manager()
        partner_lines = self._letter_partner_lines()
        self._check_definitive_dates(partner_lines)
        service = self.env["relance.service"]
        if len(partner_lines) > service._background_letters_from():
            lines = [
                line._run_line_vals("letter", "planned") for line in self._lines_of(partner_lines)
            ]
            run = service._print_run(self.company_id, self._run_options(), lines)
            return self._background_action(
                run, self.env._("Printing in the background: follow it in run %s.", run.name)
            )
        pdf, failures = self._render_letters(partner_lines, definitive=True)
        printed = partner_lines.filtered(lambda pl: pl not in failures)
        run = self._record_letters(printed, failures)
        name = self._file_name(self.env._("letters"), "pdf")
        run.attachment_id = self._attach(pdf, name, "relance.run", run.id)
        attachment = run.attachment_id
        self._post_on_partners(run, printed, attachment)
        return run._get_form_action()

    def _check_manager(self):
        if not self.env.user.has_group("relance_atys.group_relance_manager"):
            raise UserError(self.env._("Only dunning managers can record a definitive dunning."))

    def _record_letters(self, partner_lines, failures):
        """Record the definitive letters of ``partner_lines`` through the service;
        ``failures`` ({partner line: error}) are kept as failed lines, no level."""
        lines = [line._run_line_vals("letter", "printed") for line in self._lines_of(partner_lines)]
        for pline, error in failures.items():
            lines += [
                line._run_line_vals("letter", "failed")
                | {"level_after": line.level_before, "reason": error[:500]}
                for line in pline.line_ids.filtered("selected")
            ]
        return self.env["relance.service"]._record_run(
            self.company_id, "letter", self._run_options(), lines
        )

    def _post_on_partners(self, run, partner_lines, attachment):
        """A note with the letters on each customer's chatter, all logged at once.

        A dunning manager may not edit customers: the notes are logged as sudo,
        signed by the user.
        """
        body = self.env._("Dunning letter (level %(level)s) recorded by run %(run)s.")
        bodies = {
            pline.partner_id.id: body % {"level": pline.new_level, "run": run.name}
            for pline in partner_lines
        }
        messages = partner_lines.partner_id._message_log_batch(
            bodies, author_id=self.env.user.partner_id.id
        )
        messages.attachment_ids = [Command.link(attachment.id)]


class RelanceEditionPartner(models.TransientModel):
    _name = "relance.edition.partner"
    _description = "Dunning edition: customer"
    _order = "sequence, id"

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

    @api.depends("partner_id")
    def _compute_display_name(self):
        for pline in self:
            pline.display_name = pline.partner_id.display_name

    @api.constrains("partner_id", "edition_id")
    def _check_partner(self):
        """A customer the user reads, of the edition's company."""
        for edition, plines in self.grouped("edition_id").items():
            if not self.env.su:
                plines.partner_id.check_access("read")
            self.env["relance.service"]._check_partners_company(
                edition.company_id, plines.partner_id
            )

    @api.depends("line_ids.selected", "line_ids.residual")
    def _compute_totals(self):
        for pline in self:
            lines = pline.line_ids.filtered("selected")
            docs = lines.filtered(lambda line: not line.is_deduction)
            pline.doc_count = len(docs)
            pline.doc_count_text = pline.env._("%s document(s)", len(lines))
            pline.totals_text = lines._totals_text()

    @api.depends("partner_id")
    def _compute_email(self):
        for pline in self:
            pline.email = pline._mail_partner().email or False

    def _mail_partner(self):
        """The invoicing contact of the customer, else the customer itself."""
        return self.env["relance.mailer"]._mail_partner(self.partner_id)

    def _can_email(self):
        return bool(self.email) and self.send_doc

    def action_compose(self):
        """Write this customer's reminder by hand, its ticked documents ticked."""
        self.ensure_one()
        moves = self.line_ids.filtered("selected").move_id
        composer = self.env["relance.composer"].with_company(self.edition_id.company_id)
        return composer.with_context(default_edition_partner_id=self.id).action_open_for_partner(
            self.partner_id, moves
        )

    def _letter_sections(self, subtotal_due):
        """Per currency: documents (with optional subtotals per due date), deductions, total."""
        by_currency = defaultdict(list)
        # by due date, then document (the letters a job prints are in-memory records)
        for line in self.line_ids.filtered("selected").sorted(
            lambda ln: (ln.due_date, ln.move_id.id)
        ):
            by_currency[line.currency_id].append(line)
        sections = []
        for currency, lines in sorted(by_currency.items(), key=lambda kv: kv[0].name):
            docs = [line for line in lines if not line.is_deduction]
            sections.append(
                {
                    "currency": currency,
                    "rows": self._rows_with_subtotals(docs, subtotal_due),
                    "deductions": [line for line in lines if line.is_deduction],
                    "total": currency.round(sum(line.residual for line in lines)),
                }
            )
        return sections

    @staticmethod
    def _rows_with_subtotals(docs, subtotal_due):
        rows = []
        for index, line in enumerate(docs):
            rows.append(("line", line))
            last_of_date = index + 1 == len(docs) or docs[index + 1].due_date != line.due_date
            if subtotal_due and last_of_date:
                same = [d.residual for d in docs if d.due_date == line.due_date]
                rows.append(("subtotal", (line.due_date, sum(same))))
        return rows

    # -- what a letter prints ---------------------------------------------------

    def _letter_lang(self):
        """The customer's language when it is installed, else the company's: the
        words and the dates of a letter are always in one language."""
        installed = {code for code, _name in self.env["res.lang"].get_installed()}
        for lang in (
            self.partner_id.lang,
            self.edition_id.company_id.partner_id.lang,
            self.env.user.lang,
        ):
            if lang in installed:
                return lang
        return next(iter(sorted(installed)), "en_US")

    def _letter_level(self):
        """The level whose texts the letter carries (the highest proposed), in its language."""
        number = max(
            (line.level_after for line in self.line_ids if line.selected and not line.is_deduction),
            default=self.new_level,
        )
        level = self.env["relance.level"].search(
            [("company_id", "=", self.edition_id.company_id.id), ("number", "=", number)],
            limit=1,
        )
        return level.with_context(lang=self._letter_lang())

    def _letter_history(self):
        """The sentence saying which of the letter's documents were reminded before."""
        lines = self.line_ids.filtered("selected")
        return lines.with_context(lang=self._letter_lang())._reminded_text()

    def _letter_address(self, partner):
        """Postal lines of ``partner``; the country only when it is not the company's."""
        company_country = self.edition_id.company_id.country_id
        lines = [
            partner.street,
            partner.street2,
            " ".join(filter(None, [partner.zip, partner.city])),
            partner.country_id.name if partner.country_id != company_country else False,
        ]
        return [line for line in lines if line]

    def _letter_subject(self):
        documents = self.line_ids.filtered(lambda ln: ln.selected and not ln.is_deduction)
        return self._letter_level()._subject(
            self.partner_id, documents.move_id.mapped("name"), self.edition_id.date
        )

    def _letter_place_date(self):
        """'Paris, le 31 mars 2026' in the customer's language."""
        lang = self._letter_lang()
        env = self.with_context(lang=lang).env
        company = self.edition_id.company_id
        day = format_date(env, self.edition_id.date, lang_code=lang, date_format="long")
        if not company.city:
            return day
        return env._("%(city)s, %(date)s", city=company.city, date=day)

    def action_open(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.partner_id.display_name,
        }

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

    def action_back_to_proposal(self):
        """From the control list (its button, whatever the lines ticked): the proposal
        it shows, in its dialog again."""
        edition = self.env["relance.edition"].browse(self.env.context.get("relance_edition_id"))
        if not edition.exists():
            raise UserError(
                self.env._("This proposal is no longer kept: review the dunning again.")
            )
        return edition._reopen()

    @api.constrains("move_id", "partner_id", "partner_line_id", "edition_id", "level_after")
    def _check_document_owner(self):
        """Each document of its customer line's customer, in the edition's company,
        at a level that exists."""
        if any(not 0 <= line.level_after <= engine.MAX_LEVEL for line in self):
            raise UserError(self.env._("The new level must be between 0 and %s.", engine.MAX_LEVEL))
        for pline, lines in self.sudo().grouped("partner_line_id").items():
            if lines.edition_id != pline.edition_id or lines.partner_id != pline.partner_id:
                raise UserError(self.env._("A document line must belong to its customer's line."))
            lines.with_env(self.env)._check_documents_of(
                pline.edition_id.company_id, pline.partner_id
            )

    def _run_line_vals(self, run_type, outcome):
        return self._run_line_base() | {
            "partner_id": self.partner_id.id,
            "level_after": self.level_after if not self.is_deduction else self.level_before,
            "channel": "letter" if run_type == "letter" else "email",
            "outcome": outcome if not self.is_deduction else "skipped",
        }

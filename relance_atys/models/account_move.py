import logging

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import config, format_date, split_every

from ..guard import check_manager, service_writes
from ..report import relance_invoice_pdf as invoice_pdf
from ..report.relance_letter import wkhtmltopdf_patched
from .relance_service import OPEN_ITEMS_INDEXES

_logger = logging.getLogger(__name__)

INVOICE_REPORT = "account.account_invoices"
PRINT_BATCH = 200  # invoices per wkhtmltopdf call (about 5 s in a system font)
# milliseconds wkhtmltopdf waits after loading a batch (Odoo's report.print_delay,
# 1 s, is for scripts and web fonts; the batch has neither)
PRINT_DELAY = 100


def create_open_items_indexes(model):
    """The partial indexes the proposal reads the open items of ``model``'s table
    from (``relance_service.OPEN_ITEMS_INDEXES``), unless they exist."""
    for statement in OPEN_ITEMS_INDEXES[model._table]:
        model.env.cr.execute(statement)


class AccountMove(models.Model):
    _name = "account.move"
    _inherit = ["account.move", "relance.dunning.guard"]

    def init(self):
        create_open_items_indexes(self)
        return super().init()

    # the highest level and latest date of the document's échéances (its receivable
    # lines), kept in the table for lists, filters and grouping; the dunning services
    # write both by SQL (``relance.service._write_levels``), the ORM computes them
    # after its own writes; written on the document, they go to all its échéances
    relance_level = fields.Integer(
        string="Dunning level",
        compute="_compute_relance_level",
        inverse="_inverse_relance_level",
        store=True,
        copy=False,
        readonly=True,
        index=True,
        aggregator=False,  # a level, never summed (grouped lists show it, not a sum)
    )
    relance_date = fields.Date(
        string="Last dunning",
        compute="_compute_relance_level",
        inverse="_inverse_relance_level",
        store=True,
        copy=False,
        readonly=True,
    )
    relance_echeance_ids = fields.One2many(
        "account.move.line",
        "move_id",
        string="Instalments",
        domain=[("display_type", "=", "payment_term")],
        readonly=True,
    )
    relance_instalments = fields.Boolean(
        string="Several instalments",
        compute="_compute_relance_instalments",
        help="The document is payable in several instalments: each is dunned on its own.",
    )
    relance_excluded = fields.Boolean(
        string="Excluded from dunning",
        copy=False,
        tracking=True,
        help="Level 'NA': this document is kept out of every dunning.",
    )
    relance_line_ids = fields.One2many(
        "relance.run.line", "move_id", string="Dunning history", readonly=True
    )
    relance_penalty_run_id = fields.Many2one(
        "relance.run",
        string="Penalties of dunning run",
        copy=False,
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        help="This invoice claims the late-payment penalties and recovery indemnities "
        "of that run's formal notices.",
    )
    relance_residual = fields.Monetary(
        string="Due (currency)",
        compute="_compute_relance_residual",
        currency_field="currency_id",
        aggregator=False,  # never added across currencies; the company-currency column is
        help="What is left to pay, in the document's currency (negative for a credit note).",
    )

    @api.depends("line_ids.relance_level", "line_ids.relance_date")
    def _compute_relance_level(self):
        for move in self:
            echeances = move._relance_receivable_lines()
            move.relance_level = max(echeances.mapped("relance_level"), default=0)
            move.relance_date = max(filter(None, echeances.mapped("relance_date")), default=False)

    @api.depends("line_ids.display_type")
    def _compute_relance_instalments(self):
        for move in self:
            move.relance_instalments = len(move._relance_receivable_lines()) > 1

    def _inverse_relance_level(self):
        for move in self:
            move._relance_receivable_lines().write(
                {"relance_level": move.relance_level, "relance_date": move.relance_date}
            )

    def _relance_receivable_lines(self):
        """The échéances of these documents: their receivable lines (payment terms)."""
        return self.line_ids.filtered(lambda line: line.display_type == "payment_term")

    @api.depends("amount_residual", "move_type")
    def _compute_relance_residual(self):
        for move in self:
            sign = -1 if move.move_type == "out_refund" else 1
            move.relance_residual = sign * move.amount_residual

    def write(self, vals):
        result = super().write(vals)  # checked by relance.dunning.guard
        if "relance_excluded" in vals:  # the document's exclusion holds for all its échéances
            with service_writes():  # checked on the document's own write
                self._relance_receivable_lines().write(
                    {"relance_excluded": vals["relance_excluded"]}
                )
        return result

    def action_relance_compose(self):
        """The reminder composer for this document's customer, this document ticked."""
        self.ensure_one()
        composer = self.env["relance.composer"].with_company(self.company_id)
        return composer.action_open_for_partner(self.commercial_partner_id, self)

    # -- the invoice PDFs that dunning mails carry ---------------------------------

    def _relance_invoice_pdfs(self):
        """{invoice id: its PDF}: the one Odoo stored, else printed now and stored."""
        invoices = self.filtered(lambda move: move.is_invoice())
        missing = invoices.filtered(lambda move: not move.invoice_pdf_report_id)
        missing._relance_prefetch_print()
        batches = [
            batch
            for moves in missing.grouped("company_id").values()
            for batch in split_every(PRINT_BATCH, moves.ids, self.browse)
        ]
        for batch, pdfs in zip(batches, self._relance_print_batches(batches), strict=True):
            batch._relance_store_pdfs(pdfs)
        return {move.id: move.invoice_pdf_report_id for move in invoices}

    def _relance_print_batches(self, batches):
        """[{invoice id: PDF}] of ``batches`` (each of one company), one wkhtmltopdf call
        each, one after the other (in threads each would need an environment, which
        Odoo's test runner blocks: it holds the registry's lock while tests run)."""
        if (config["test_enable"] or config["test_file"]) and not self.env.context.get(
            "force_report_rendering"
        ):  # Odoo's own rule: no wkhtmltopdf in tests unless asked, its HTML instead
            return [batch._relance_print_html() for batch in batches]
        return [batch._relance_print_pdfs() for batch in batches]

    def _relance_print_pdfs(self):
        """{invoice id: PDF} of these invoices of one company, in one wkhtmltopdf call,
        each article marked, then cut at the markers."""
        pdf = self._relance_print_pdf(marked=True)
        return invoice_pdf.split_marked(pdf, self.ids) or self._relance_print_one_by_one()

    def _relance_print_pdf(self, marked=False):
        """The PDF of these invoices of one company, in one wkhtmltopdf call: their
        report, each article marked if ``marked``, in one page in a system font
        (Debian's build) or one each (patched Qt)."""
        report = self.env["ir.actions.report"].with_company(self.company_id)
        html = report._render_qweb_html(INVOICE_REPORT, self.ids, data=self._relance_pdf_data())[0]
        if not wkhtmltopdf_patched():
            body, paper = self._relance_one_page(report, html, marked)
            return report.with_context(relance_javascript_delay=PRINT_DELAY)._run_wkhtmltopdf(
                [body], report_ref=INVOICE_REPORT, specific_paperformat_args=paper
            )
        if marked:
            html = invoice_pdf.mark_articles(html, self._name)
        bodies, _ids, header, footer, paper = report._get_report(INVOICE_REPORT)._prepare_html(
            html, report_model=self._name
        )
        return report._run_wkhtmltopdf(
            bodies,
            report_ref=INVOICE_REPORT,
            header=header,
            footer=footer,
            specific_paperformat_args=paper,
        )

    def _relance_one_page(self, report, html, marked):
        """(page, paperformat arguments) of the invoices' report ``html`` for Debian's
        build: their articles in one body of Odoo's report layout, rendered once (not
        once per invoice as ``_prepare_html`` does, to be joined again), in a system
        font. No header nor footer: that build ignores them."""
        action = report._get_report(INVOICE_REPORT)
        layout = action._get_layout()
        content, paper, lang = invoice_pdf.articles(html, self._name, marked)
        page = (
            self.env["ir.qweb"]
            .with_context(lang=lang or self.env.lang)
            ._render(
                layout.id,
                {
                    "subst": False,
                    "body": Markup(content),
                    "base_url": action._get_report_url(layout=layout),
                    "report_xml_id": action.xml_id,
                },
            )
        )
        return invoice_pdf.with_system_font(page), paper

    def _relance_prefetch_print(self):
        """What the invoice report's tax totals read line by line (their taxes and tax
        tags), read for all these invoices at once: two queries, not two an invoice."""
        self.line_ids.fetch(["tax_ids", "tax_tag_ids"])

    def _relance_print_html(self):
        """What Odoo's report gives in tests without wkhtmltopdf: each invoice's HTML."""
        report = self.env["ir.actions.report"].with_company(self.company_id)
        content, report_type = report._pre_render_qweb_pdf(INVOICE_REPORT, self.ids)
        return report._get_splitted_report(INVOICE_REPORT, content, report_type)

    def _relance_pdf_data(self):
        """What Odoo's ``_pre_render_qweb_pdf`` hands an invoice report."""
        data = {"report_type": "pdf"}
        if self.env["ir.config_parameter"].sudo().get_param("account.display_name_in_footer"):
            data["display_name_in_footer"] = True
        return data

    def _relance_print_one_by_one(self):
        """One call per invoice, unmarked, when a batch could not be cut: the same
        pages in the same font as the batch's (Odoo's own print sets them in Lato,
        which Debian's build draws as paths: no text to search, ten times slower)."""
        _logger.warning("Invoice PDFs %s not cut by their markers: printed one by one", self.ids)
        return {move.id: move._relance_print_pdf() for move in self}

    def _relance_store_pdfs(self, pdfs):
        """Each invoice's PDF kept as Odoo keeps it when it sends the invoice."""
        self.env["ir.attachment"].sudo().create(
            [
                {
                    "name": move._get_invoice_report_filename(),
                    "raw": pdfs[move.id],
                    "mimetype": "application/pdf",
                    "res_model": self._name,
                    "res_id": move.id,
                    "res_field": "invoice_pdf_report_file",
                }
                for move in self
            ]
        )
        self.invalidate_recordset(["invoice_pdf_report_id", "invoice_pdf_report_file"])


class AccountMoveLine(models.Model):
    """An échéance: a receivable line of a customer invoice (one per instalment of
    its payment terms), with its own due date, residual and dunning state."""

    _name = "account.move.line"
    _inherit = ["account.move.line", "relance.dunning.guard"]

    def init(self):
        create_open_items_indexes(self)
        return super().init()

    # no default: NULL reads as 0 / not excluded, and adding the columns writes no row
    relance_level = fields.Integer(
        string="Dunning level", copy=False, readonly=True, aggregator=False
    )
    relance_date = fields.Date(string="Last dunning", copy=False, readonly=True)
    relance_excluded = fields.Boolean(
        string="Excluded from dunning",
        copy=False,
        help="Level 'NA': this instalment is kept out of every dunning (the document's "
        "exclusion holds for all its instalments).",
    )

    def action_relance_exclude(self):
        """The invoice form's "Exclude" on an échéance: level 'NA' for it alone."""
        self._relance_set_excluded(True)

    def action_relance_include(self):
        """The invoice form's "Include" on an échéance excluded on its own."""
        self._relance_set_excluded(False)

    def _relance_set_excluded(self, excluded):
        """Use case: keep these échéances out of every dunning ("NA" on some
        échéances of an invoice, as Akuiteo has it), or take them back; a note on
        each invoice's chatter says which and who. Dunning managers only, in their
        current companies, on the open échéances of posted customer invoices."""
        _ = self.env._
        check_manager(
            self.env,
            _("Only dunning managers can exclude an instalment from dunning, or include it again."),
        )
        self._relance_check_echeances()
        if not excluded:
            whole = self.move_id.filtered("relance_excluded")
            if whole:
                raise UserError(
                    _(
                        "%s is excluded from dunning as a whole: include the invoice again "
                        "(its Dunning tab) rather than one of its instalments.",
                        ", ".join(whole.mapped("name")),
                    )
                )
        changed = self.filtered(lambda line: line.relance_excluded != excluded)
        changed.write({"relance_excluded": excluded})
        for move, lines in changed.grouped("move_id").items():
            move._message_log(body=self._relance_exclusion_note(lines, excluded))

    def _relance_check_echeances(self):
        """Refuse lines of a company the user is not working in, or that are no
        open échéance of a posted customer invoice."""
        _ = self.env._
        outside = self.sudo().company_id - self.env.companies
        if outside:
            raise UserError(
                _(
                    "These instalments belong to %s, a company you are not working in now.",
                    ", ".join(outside.sudo().mapped("name")),
                )
            )
        wrong = self.filtered(
            lambda line: (
                line.display_type != "payment_term"
                or line.move_id.move_type != "out_invoice"
                or line.move_id.state != "posted"
                or line.reconciled
            )
        )
        if wrong:
            raise UserError(
                _(
                    "Only the open instalments of posted customer invoices can be excluded "
                    "from dunning or included again, not: %s",
                    ", ".join(wrong.mapped("display_name")),
                )
            )

    def _relance_exclusion_note(self, lines, excluded):
        due_dates = ", ".join(format_date(self.env, line.date_maturity) for line in lines)
        if excluded:
            return self.env._("Instalment(s) due %s excluded from dunning.", due_dates)
        return self.env._("Instalment(s) due %s included in dunning again.", due_dates)

"""Statement of account ("relevé de compte") of a customer: its open items,
balance and aged balance per currency, as a PDF or an XLSX."""

from markupsafe import Markup

from odoo import models
from odoo.exceptions import UserError
from odoo.tools import format_date

from .. import statement
from ..report.relance_letter import (
    letter_page_counts,
    letter_zoom,
    number_letter_pages,
    split_parts,
)
from ..report.relance_xlsx import write_statement
from .relance_service import OPEN_RECEIVABLE_LINES

# The customer's open receivable lines in a company: échéances of invoices,
# credit notes, payments not allocated.
STATEMENT_SQL = f"""
    SELECT l.id, m.id, m.name, m.move_type, COALESCE(m.invoice_date, l.date),
           COALESCE(l.date_maturity, l.date), l.currency_id, l.amount_currency,
           l.amount_residual_currency, p.id
    {OPEN_RECEIVABLE_LINES}
       AND l.amount_residual_currency != 0
       AND p.id = ANY(%(partners)s)
     ORDER BY COALESCE(l.date_maturity, l.date), m.name, l.id
"""
PAPERFORMAT = "relance_atys.paperformat_relance_letter"


class RelanceStatement(models.AbstractModel):
    _name = "relance.statement"
    _description = "Dunning: statement of account"

    def _rows(self, company, partners):
        """{customer id: its open items' rows} of ``partners``, read at once."""
        ids = list(set(partners.commercial_partner_id.ids))
        self.env.flush_all()
        self.env.cr.execute(STATEMENT_SQL, {"company": company.id, "partners": ids})
        rows = {partner_id: [] for partner_id in ids}
        for row in self.env.cr.fetchall():
            rows[row[-1]].append(row[:-1])
        return rows

    def _sections(self, company, partner, as_of, rows=None):
        """Per currency (by name): its rows (dicts), its balance and aged buckets;
        ``rows``: the customer's, when read already (``_rows``)."""
        partner = partner.commercial_partner_id
        if rows is None:
            rows = self._rows(company, partner)[partner.id]
        currencies = self.env["res.currency"].browse({row[6] for row in rows})
        items = [statement.Item(row[0], row[6], row[5], row[8]) for row in rows]
        digits = {currency.id: currency.decimal_places for currency in currencies}
        balances = {b.currency_id: b for b in statement.balances(items, as_of, digits)}
        kinds = self._kinds()
        sections = []
        for currency in currencies.sorted("name"):
            lines = [
                {
                    "document": name,
                    "kind": kinds.get(move_type if move_type != "entry" or residual > 0 else "pay"),
                    "date": day,
                    "due_date": due if residual > 0 else None,
                    "days": (as_of - due).days if residual > 0 and as_of > due else None,
                    "amount": amount,
                    "residual": residual,
                }
                for _l, _m, name, move_type, day, due, cur, amount, residual in rows
                if cur == currency.id
            ]
            sections.append(
                {"currency": currency, "lines": lines, "balance": balances[currency.id]}
            )
        return sections

    def _kinds(self):
        _ = self.env._
        return {
            "out_invoice": _("Invoice"),
            "out_refund": _("Credit note"),
            "pay": _("Payment"),
            "entry": _("Entry"),
        }

    def _bucket_labels(self):
        _ = self.env._
        return [_("Not due"), _("1-30 days"), _("31-60 days"), _("61-90 days"), _("Over 90 days")]

    def _lang(self, partner):
        installed = {code for code, _name in self.env["res.lang"].get_installed()}
        for lang in (partner.lang, self.env.company.partner_id.lang, self.env.user.lang):
            if lang in installed:
                return lang
        return "en_US"

    def _html(self, company, partner, as_of, rows=None):
        """The statement's HTML body, in the customer's language (``rows``: its
        open items when read already)."""
        lang = self._lang(partner)
        localized = self.with_context(lang=lang, relance_letters=True)
        return localized.env["ir.qweb"]._render(
            "relance_atys.statement_document",
            {
                "company": company,
                "partner": partner.commercial_partner_id,
                "as_of": as_of,
                "sections": localized._sections(company, partner, as_of, rows),
                "bucket_labels": localized._bucket_labels(),
                "lang": lang,
            },
        )

    def _pdf(self, company, partners, as_of):
        """One PDF of the statements of ``partners``, one wkhtmltopdf call."""
        return number_letter_pages(self._print(company, partners, as_of))

    def _pdfs(self, company, partners, as_of):
        """{customer: the PDF of its statement}, all printed in one wkhtmltopdf call."""
        pdf = self._print(company, partners, as_of)
        counts = letter_page_counts(pdf)
        parts = split_parts(number_letter_pages(pdf, counts), counts)
        if len(parts) != len(partners):
            raise UserError(self.env._("The statements of account could not be produced."))
        return dict(zip(partners, parts, strict=True))

    def _attachments(self, company, partners, as_of):
        """{customer: its statement, attached to it}, for mails."""
        pdfs = self._pdfs(company, partners, as_of)
        # a dunning user may not edit the customers its mails are logged on
        attachments = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                [
                    {
                        "name": self._file_name(partner, as_of, "pdf"),
                        "raw": pdfs[partner],
                        "mimetype": "application/pdf",
                        "res_model": "res.partner",
                        "res_id": partner.id,
                    }
                    for partner in partners
                ]
            )
        )
        return dict(zip(partners, attachments, strict=True))

    def _print(self, company, partners, as_of):
        """The statements of ``partners`` in one wkhtmltopdf call, pages not numbered."""
        report = self.env["ir.actions.report"].new({"paperformat_id": self.env.ref(PAPERFORMAT).id})
        rows = self._rows(company, partners)
        body = Markup('<div style="page-break-after: always;"></div>').join(
            self._html(company, partner, as_of, rows[partner.commercial_partner_id.id])
            for partner in partners
        )
        html = report._render_template(
            "relance_atys.letters_standalone", {"letters": body, "zoom": letter_zoom()}
        )
        pdf = report._run_wkhtmltopdf([html.decode()])
        if not pdf or not pdf.startswith(b"%PDF"):
            raise UserError(self.env._("The statement of account could not be produced."))
        return pdf

    def _xlsx(self, company, partner, as_of):
        _ = self.env._
        partner = partner.commercial_partner_id
        sections = self._sections(company, partner, as_of)
        rows = [
            [
                line["document"],
                line["kind"],
                line["date"],
                line["due_date"],
                line["days"],
                line["amount"],
                line["residual"],
                section["currency"].name,
            ]
            for section in sections
            for line in section["lines"]
        ]
        return write_statement(
            title=self._title(company, partner, as_of),
            columns=[
                (_("Document"), "text"),
                (_("Type"), "text"),
                (_("Date"), "date"),
                (_("Due date"), "date"),
                (_("Days past due"), "int"),
                (_("Amount"), "money"),
                (_("Residual"), "money"),
                (_("Currency"), "text"),
            ],
            rows=rows,
            aged_columns=[_("Currency"), *self._bucket_labels(), _("Balance")],
            aged_rows=[
                [section["currency"].name, *section["balance"].buckets, section["balance"].total]
                for section in sections
            ],
            sheet=_("Statement"),
            total_label=_("Total"),
        )

    def _title(self, company, partner, as_of):
        return self.env._(
            "Statement of account of %(partner)s at %(date)s - %(company)s",
            partner=partner.display_name,
            date=format_date(self.env, as_of),
            company=company.name,
        )

    def _file_name(self, partner, as_of, extension):
        name = "".join(ch if ch.isalnum() else "_" for ch in partner.display_name)
        prefix = self.env._("statement")
        return f"{prefix}_{name}_{as_of}.{extension}"

"""The penalties and indemnities of open invoices, read from the ledger for
``penalties.compute``: what the formal-notice letters and the control list show."""

from collections import defaultdict

from odoo import models
from odoo.tools import format_date, formatLang

from .. import penalties
from ..text import sort_key

# The open échéances of customer invoices: one row per receivable line.
DUES_SQL = """
    SELECT l.id, l.move_id, l.currency_id,
           COALESCE(l.date_maturity, m.invoice_date_due, l.date), l.amount_currency,
           m.commercial_partner_id, COALESCE(p.is_company, false)
      FROM account_move_line l
      JOIN account_move m ON m.id = l.move_id
      JOIN res_partner p ON p.id = m.commercial_partner_id
      JOIN account_account a ON a.id = l.account_id
     WHERE l.move_id = ANY(%s)
       AND m.move_type = 'out_invoice'
       AND m.relance_penalty_run_id IS NULL  -- no penalty on penalties
       AND a.account_type = 'asset_receivable'
       AND l.amount_currency > 0
       AND NOT l.reconciled
"""
# What was paid on them (payments, credit notes), in the échéance's currency, and when.
PAYMENTS_SQL = """
    SELECT debit_move_id, max_date, debit_amount_currency
      FROM account_partial_reconcile
     WHERE debit_move_id = ANY(%s)
"""


class RelancePenalty(models.AbstractModel):
    _name = "relance.penalty"
    _description = "Dunning: late-payment penalties and recovery indemnity"

    def _compute(self, company, moves, as_of, lines=None, listed=None):
        """{customer id: penalties.Result} for the open échéances of ``moves``
        (customer invoices of ``company``) at ``as_of``; empty when the company
        claims neither penalties nor the indemnity. With ``lines`` (a letter's or
        a run's document lines), an invoice whose lines name their échéances is
        claimed on those only: what the letter lists, not its instalments left
        out (dunned too recently, not due); ``listed`` gives those échéances
        already read (``_listed``'s)."""
        if not (company.relance_penalties or company.relance_indemnity) or not moves:
            return {}
        if listed is None:
            listed = self._listed(lines)
        dues_by_partner, business = self._read_dues(moves.ids, listed)
        if not dues_by_partner:
            return {}
        currencies = self.env["res.currency"].browse(
            {due.currency_id for dues in dues_by_partner.values() for due in dues}
        )
        rates = company._relance_penalty_rates()
        roundings = {currency.id: currency.rounding for currency in currencies}
        indemnities = self._indemnity_amounts(company, currencies, as_of)
        return {
            partner_id: penalties.compute(
                dues,
                penalties.Terms(
                    as_of,
                    rates,
                    penalties=company.relance_penalties,
                    indemnity=company.relance_indemnity,
                    business=business[partner_id],
                    indemnity_amounts=indemnities,
                    roundings=roundings,
                ),
            )
            for partner_id, dues in dues_by_partner.items()
        }

    @staticmethod
    def _listed(lines):
        """{invoice id: ids of its échéances named by ``lines`` (document lines,
        any iterable)}; None: every échéance."""
        if lines is None:
            return None
        listed = {}
        for line in lines:
            if line.move_line_id:
                listed.setdefault(line.move_id.id, set()).add(line.move_line_id.id)
        return listed

    def _read_dues(self, move_ids, listed=None):
        """({customer id: [penalties.Due]}, {customer id: whether a business}) of
        the open échéances of ``move_ids``, those ``listed`` only where it names
        some of an invoice's (``_listed``)."""
        self.env.flush_all()
        self.env.cr.execute(DUES_SQL, [move_ids])
        rows = [
            row
            for row in self.env.cr.fetchall()
            if not listed or row[1] not in listed or row[0] in listed[row[1]]
        ]
        payments = defaultdict(list)
        if rows:
            self.env.cr.execute(PAYMENTS_SQL, [[row[0] for row in rows]])
            for line_id, paid_on, amount in self.env.cr.fetchall():
                payments[line_id].append((paid_on, amount))
        dues, business = defaultdict(list), {}
        for line_id, move_id, currency_id, due_date, amount, partner_id, is_company in rows:
            dues[partner_id].append(
                penalties.Due(
                    line_id, move_id, currency_id, due_date, amount, tuple(payments[line_id])
                )
            )
            business[partner_id] = is_company  # the commercial partner: a company or not
        return dues, business

    @staticmethod
    def _is_business(partner):
        """A company, or a contact of one: an individual is a consumer (no 40 €)."""
        return bool(partner.commercial_partner_id.is_company)

    def _indemnity_amounts(self, company, currencies, as_of):
        """The 40 € of art. D441-5 in each of ``currencies``, at ``as_of``'s rate."""
        euro = self.env.ref("base.EUR")
        return {
            currency.id: euro._convert(penalties.INDEMNITY_EUR, currency, company, as_of)
            if currency != euro
            else penalties.INDEMNITY_EUR
            for currency in currencies
        }

    def _for_letters(self, letters):
        """{customer id: penalties.Result} of ``letters`` (relance.letter's, of one
        company and date), read at once for all of them; {} when nothing is claimed."""
        if not letters:
            return {}
        company, as_of = letters[0].company_id, letters[0].date
        if not company.relance_level_ids.filtered("formal_notice"):
            return {}
        # a review's lines or a run's: a list, not one recordset
        documents = [line for letter in letters for line in letter._documents()]
        moves = self.env["account.move"].union(*(line.move_id for line in documents))
        return self._compute(company, moves, as_of, documents)

    def _letter_values(self, level, partner, lines, as_of, sections, results=None):
        """What a formal-notice letter shows of the penalties of ``partner`` on the
        documents of ``lines`` (the letter's document lines), per currency, or None
        (not a formal notice, or nothing claimed). ``sections`` are the letter's
        sections: their totals due per currency; ``results``, what _for_letters
        read for all the letters of a PDF (else read here)."""
        company = level.company_id
        if not level.formal_notice:
            return None
        documents = lines.filtered(lambda line: not line.is_deduction)
        moves = documents.move_id
        totals = {section["currency"]: section["total"] for section in sections}
        if results is None:
            results = self._compute(company, moves, as_of, documents)
        result = results.get(partner.commercial_partner_id.id)
        if not result or not result.totals:
            return None
        move_names = {move.id: move.name for move in moves}
        currencies = {
            currency.id: currency
            for currency in self.env["res.currency"].browse([t.currency_id for t in result.totals])
        }
        sections = [
            self._letter_section(result, total, currencies[total.currency_id], move_names, totals)
            for total in result.totals
        ]
        business = self._is_business(partner)
        return {
            "sections": sections,
            "penalty_text": company.relance_penalties
            and self._penalty_text(company, as_of, business),
            "indemnity_text": company.relance_indemnity
            and business
            and self.env._(
                "A fixed indemnity for recovery costs of 40 euros is also due for each "
                "invoice paid late (articles L441-10 and D441-5 of the French Commercial Code)."
            ),
        }

    def _letter_section(self, result, total, currency, move_names, totals):
        """The section of a formal notice's penalty table for one currency of a
        customer's ``result`` (its ``total``): the penalties of each document (named
        by ``move_names``), the indemnities, and what is claimed in all with the
        total due of the letter's section in that currency (``totals``)."""
        rows = [
            (move_names.get(p.move_id, ""), p)
            for p in result.penalties
            if p.currency_id == total.currency_id
        ]
        indemnities = [i for i in result.indemnities if i.currency_id == total.currency_id]
        due = totals.get(currency, 0.0)
        section = {
            "currency": currency,
            "rows": rows,
            "indemnity_count": len(indemnities),
            "indemnity_unit": indemnities[0].amount if indemnities else 0.0,
            "penalties": total.penalties,
            "indemnities": total.indemnities,
            "claimed": currency.round(due + total.penalties + total.indemnities),
        }
        section["indemnity_label"] = self._indemnity_label(section)
        return section

    def _penalty_text(self, company, as_of, business):
        """The sentence saying on what the penalties run, at which rate, up to when."""
        rate = company._relance_penalty_rate_on(as_of)
        values = {
            "rate": formatLang(self.env, rate.rate, digits=2),
            "since": format_date(self.env, rate.date_from),
            "date": format_date(self.env, as_of),
        }
        if business:
            return self.env._(
                "Under article L441-10 of the French Commercial Code, late-payment penalties "
                "run from the day after the due date, without any reminder being needed, on "
                "the amount unpaid each day, at the yearly rate of %(rate)s %% (in force since "
                "%(since)s). Computed up to %(date)s:",
                **values,
            )
        return self.env._(
            "Under our terms of sale, late-payment penalties run from the day after the due "
            "date on the amount unpaid each day, at the yearly rate of %(rate)s %% (in force "
            "since %(since)s). Computed up to %(date)s:",
            **values,
        )

    def _indemnity_label(self, section):
        if not section["indemnity_count"]:
            return ""
        return self.env._(
            "Recovery indemnity: %(count)s invoice(s) x %(amount)s",
            count=section["indemnity_count"],
            amount=formatLang(
                self.env, section["indemnity_unit"], currency_obj=section["currency"]
            ),
        )

    def _move_names(self, results):
        """{move id: name} of the documents the penalty ``results`` charge, in one
        query (thousands of them)."""
        self.env.cr.execute(
            "SELECT id, name FROM account_move WHERE id = ANY(%s)",
            [[p.move_id for r in results.values() for p in r.penalties + r.indemnities]],
        )
        return dict(self.env.cr.fetchall())

    def _control_list_sheet(self, company, moves, as_of, listed=None):
        """The control list's sheet of penalties for ``moves`` (the documents of
        its lines, deductions aside), on the échéances ``listed`` ({invoice id:
        échéance ids}, ``_listed``'s), as write_control_list takes it; None when
        the company claims neither penalties nor indemnity."""
        results = self._compute(company, moves, as_of, listed=listed)
        if not results:
            return None
        _ = self.env._
        partners = self.env["res.partner"].browse(list(results))
        partners.fetch(["name", "ref"])  # those only: thousands of customers
        partners = partners.sorted(lambda p: sort_key(p.name))
        names = self._move_names(results)
        currencies = {
            c.id: c.name
            for c in self.env["res.currency"].browse(
                {t.currency_id for r in results.values() for t in r.totals}
            )
        }
        return {
            # written as they come: one customer's rows at a time
            "rows": (
                row
                for partner in partners
                for row in self._sheet_rows(partner, results[partner.id], names, currencies)
            ),
            "columns": [
                (_("Customer ref."), "text"),
                (_("Customer"), "text"),
                (_("Document"), "text"),
                (_("Due date"), "date"),
                (_("Days late"), "int"),
                (_("Unpaid"), "money"),
                (_("Penalties"), "money"),
                (_("Recovery indemnity"), "money"),
                (_("Currency"), "text"),
            ],
            "title": _(
                "Late-payment penalties and recovery indemnities at %(date)s "
                "(French Commercial Code, art. L441-10 and D441-5)",
                date=format_date(self.env, as_of),
            ),
            "sheet": _("Penalties"),
            "total_label": _("Total"),
            "currency_col": 8,
        }

    @staticmethod
    def _sheet_rows(partner, result, names, currencies):
        """One row per late échéance; the indemnity on its invoice's first row."""
        indemnities = {i.move_id: i.amount for i in result.indemnities}
        rows, seen = [], set()
        for penalty in result.penalties:
            first = penalty.move_id not in seen
            seen.add(penalty.move_id)
            rows.append(
                [
                    partner.ref or "",
                    partner.name,
                    names.get(penalty.move_id, ""),
                    penalty.due_date,
                    penalty.days_late,
                    penalty.residual,
                    penalty.amount,
                    indemnities.get(penalty.move_id) if first else None,
                    currencies[penalty.currency_id],
                ]
            )
        for indemnity in result.indemnities:
            if indemnity.move_id not in seen:
                rows.append(
                    [
                        partner.ref or "",
                        partner.name,
                        names.get(indemnity.move_id, ""),
                        None,
                        None,
                        None,
                        None,
                        indemnity.amount,
                        currencies[indemnity.currency_id],
                    ]
                )
        return rows

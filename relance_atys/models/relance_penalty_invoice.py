"""Invoicing the penalties and indemnities a letter run's formal notices claimed.

One draft customer invoice per customer and currency of the run (a move has one
currency; nothing is added across currencies), a line per late échéance (its
penalty) and per invoice paid late (its 40 €), on the product and account of
the settings, without tax: late-payment penalties and the recovery indemnity
are damages, outside the scope of VAT. The invoices belong to the run
(``relance_penalty_run_id``): a run is invoiced once, and cancelling the run
cancels them (drafts) or reverses them (posted, unpaid), or is refused (paid).
"""

from odoo import Command, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date, formatLang

from .. import penalties
from ..actions import background_action
from ..guard import check_manager

DONE_OUTCOMES = ("printed", "sent", "queued")
# A run claiming from more customers than this is invoiced by jobs of INVOICE_BATCH
# customers: Odoo takes some 30 ms to create a draft invoice (a second in the
# click for 30, half a minute for 1,000).
BACKGROUND_INVOICES_FROM = 30
INVOICE_BATCH = 50


class RelancePenaltyInvoice(models.AbstractModel):
    _name = "relance.penalty.invoice"
    _description = "Dunning: invoices of late-payment penalties"

    # -- invoicing ----------------------------------------------------------------

    def _invoice_run(self, run):
        """Use case: the draft invoices of what ``run``'s formal notices claimed.

        Managers only; refused, nothing created, when the run is not a done letter
        run, is already invoiced (or being invoiced), its company claims nothing or
        has no product or account for them, or its letters claim nothing. Up to
        BACKGROUND_INVOICES_FROM customers, the invoices are made in the click and
        returned; beyond, by jobs of INVOICE_BATCH customers (``_invoice_batch``),
        and the action saying so is returned."""
        check_manager(self.env, self.env._("Only dunning managers can invoice penalties."))
        run = run.with_company(run.company_id)
        self._lock_run(run)
        self._check_invoiceable(run)
        self._product_and_account(run.company_id)
        self._sale_journal(run.company_id)
        claims = self._claims(self._run_results(run))
        if not claims:
            raise UserError(
                self.env._(
                    "Run %s claimed no penalty nor indemnity (no formal notice with late "
                    "invoices): nothing invoiced.",
                    run.name,
                )
            )
        partner_ids = list(dict.fromkeys(partner.id for partner, _currency, _rows in claims))
        if len(partner_ids) > BACKGROUND_INVOICES_FROM:
            return self._invoice_in_background(run, partner_ids)
        moves = self._create_moves(run, claims)
        run.message_post(
            body=self.env._(
                "%(count)s draft invoice(s) of late-payment penalties and recovery "
                "indemnities created: %(names)s.",
                count=len(moves),
                names=", ".join(moves.mapped("display_name")),
            )
        )
        return moves

    def _create_moves(self, run, claims):
        """The draft invoices of ``claims`` that ``run`` has not made yet: never two
        for one customer and currency."""
        product, account = self._product_and_account(run.company_id)
        journal = self._sale_journal(run.company_id)
        made = {(move.partner_id.id, move.currency_id.id) for move in self._live_moves(run)}
        return self.env["account.move"].create(
            [
                self._move_vals(run, partner, currency, rows, product, account, journal)
                for partner, currency, rows in claims
                if (partner.id, currency.id) not in made
            ]
        )

    def _invoice_in_background(self, run, partner_ids):
        """One job per INVOICE_BATCH customers of ``partner_ids``; the run says so."""
        self.env["relance.service"]._enqueue_batches(
            run,
            self,
            "_invoice_batch",
            "penalties",
            self.env._("penalty invoices"),
            partner_ids,
            INVOICE_BATCH,
        )
        message = self.env._(
            "Invoicing the penalties of %(count)s customers in the background: the "
            "draft invoices appear on run %(run)s as its jobs make them.",
            count=len(partner_ids),
            run=run.name,
        )
        run.message_post(body=message)
        return background_action(run, message)

    def _invoice_batch(self, run, partner_ids, number, count):
        """Job: the draft invoices of the customers ``partner_ids`` of ``run``. Run
        again (a worker killed, a retry), it makes only those not made yet."""
        self.env["relance.service"]._hold_job()
        run = run.with_company(run.company_id)
        claims = self._claims(self._run_results(run, partner_ids))
        moves = self._create_moves(run, claims)
        run.message_post(
            body=self.env._(
                "Penalty invoices, batch %(batch)s / %(count)s: %(moves)s draft invoice(s) "
                "created.",
                batch=number,
                count=count,
                moves=len(moves),
            )
        )
        return f"{len(moves)} draft invoice(s) created"

    def _lock_run(self, run):
        """Two clicks at once invoice the run once: the second waits, then is refused."""
        self.env.cr.execute("SELECT id FROM relance_run WHERE id = %s FOR UPDATE", [run.id])
        run.invalidate_recordset(["penalty_move_ids"])

    def _check_invoiceable(self, run):
        _ = self.env._
        if run.run_type != "letter" or run.state not in ("done", "partial"):
            raise UserError(
                _("Only the penalties of a done letter run can be invoiced (run %s).", run.name)
            )
        if self._invoicing_jobs(run):
            raise UserError(
                _(
                    "The penalties of run %s are being invoiced in the background: wait "
                    "until its jobs are done.",
                    run.name,
                )
            )
        if self._live_moves(run):
            raise UserError(
                _(
                    "The penalties of run %s are already invoiced: cancel those invoices "
                    "first to invoice them again.",
                    run.name,
                )
            )
        company = run.company_id
        if not (company.relance_penalties or company.relance_indemnity):
            raise UserError(
                _(
                    "%s claims neither late-payment penalties nor the recovery indemnity "
                    "(Settings > Invoicing > Dunning): nothing to invoice.",
                    company.name,
                )
            )

    def _invoicing_jobs(self, run):
        """The jobs invoicing ``run``'s penalties not through yet."""
        return (
            self.env["queue.job"]
            .sudo()
            .search_count(
                [
                    ("identity_key", "=like", f"relance.run({run.id}).penalties.%"),
                    ("state", "not in", ("done", "cancelled", "failed")),
                ],
                limit=1,
            )
        )

    @staticmethod
    def _live_moves(run):
        """The run's penalty invoices that are neither cancelled nor reversed."""
        return run.sudo().penalty_move_ids.filtered(
            lambda move: move.state != "cancel" and move.payment_state != "reversed"
        )

    def _product_and_account(self, company):
        product, account = company.relance_penalty_product_id, company.relance_penalty_account_id
        if not product or not account:
            raise UserError(
                self.env._(
                    "Choose the product and the income account of invoiced penalties in "
                    "the settings (Settings > Invoicing > Dunning) first: nothing invoiced."
                )
            )
        stranger = product.company_id and product.company_id != company
        if stranger or company not in account.company_ids:
            raise UserError(
                self.env._(
                    "The product or the account of invoiced penalties belongs to another "
                    "company than %s: choose the company's own in the settings.",
                    company.name,
                )
            )
        return product, account

    def _sale_journal(self, company):
        journal = self.env["account.journal"].search(
            [*self.env["account.journal"]._check_company_domain(company), ("type", "=", "sale")],
            limit=1,
        )
        if not journal:
            raise UserError(self.env._("%s has no sales journal to invoice in.", company.name))
        return journal

    def _run_results(self, run, partner_ids=None):
        """{customer id: penalties.Result} of the run's formal notices (of its
        customers ``partner_ids`` when given), at its date: the figures its
        letters showed (the documents still open)."""
        notices = set(run.company_id.relance_level_ids.filtered("formal_notice").mapped("number"))
        lines = run.line_ids.filtered(
            lambda line: (
                line.outcome in DONE_OUTCOMES
                and line.move_id
                and not line.is_deduction
                and (partner_ids is None or line.partner_id.id in partner_ids)
            )
        )
        claimed = self.env["relance.run.line"]
        for partner_lines in lines.grouped("partner_id").values():
            if max(partner_lines.mapped("level_after")) in notices:
                claimed |= partner_lines
        return self.env["relance.penalty"]._compute(
            run.company_id, claimed.move_id, run.date, claimed
        )

    def _claims(self, results):
        """(customer, currency, [(document, penalty or None, indemnity or None)]) per
        customer and currency, customers by name."""
        partners = self.env["res.partner"].browse(list(results)).sorted(lambda p: p.name or "")
        claims = []
        for partner in partners:
            result = results[partner.id]
            for total in result.totals:
                rows = [p for p in result.penalties if p.currency_id == total.currency_id]
                rows += [i for i in result.indemnities if i.currency_id == total.currency_id]
                if rows:
                    currency = self.env["res.currency"].browse(total.currency_id)
                    claims.append((partner, currency, rows))
        return claims

    def _move_vals(self, run, partner, currency, rows, product, account, journal):
        documents = self.env["account.move"].browse({row.move_id for row in rows})
        names = {move.id: move.name for move in documents}
        lang = partner.lang or self.env.lang
        localized = self.with_context(lang=lang)
        return {
            "move_type": "out_invoice",
            "partner_id": partner.id,
            "journal_id": journal.id,
            "currency_id": currency.id,
            "invoice_date": fields.Date.context_today(self),
            "invoice_origin": run.name,
            "ref": localized._reference(run),
            "narration": localized._narration(),
            "relance_penalty_run_id": run.id,
            "invoice_line_ids": [
                Command.create(
                    {
                        "product_id": product.id,
                        "account_id": account.id,
                        "name": localized._line_name(row, names, currency),
                        "quantity": 1.0,
                        "price_unit": row.amount,
                        "tax_ids": [Command.clear()],
                    }
                )
                for row in rows
            ],
        }

    def _reference(self, run):
        return self.env._(
            "Dunning %(run)s of %(date)s", run=run.name, date=format_date(self.env, run.date)
        )

    def _line_name(self, row, names, currency):
        """What one line claims: a penalty or an indemnity."""
        document = names.get(row.move_id, "")
        if isinstance(row, penalties.Penalty):
            return self.env._(
                "Late-payment penalties on %(document)s due %(due)s: %(days)s days late "
                "on %(unpaid)s",
                document=document,
                due=format_date(self.env, row.due_date),
                days=row.days_late,
                unpaid=formatLang(self.env, row.residual, currency_obj=currency),
            )
        return self.env._("Fixed recovery indemnity on %s", document)

    def _narration(self):
        return self.env._(
            "Late-payment penalties (art. L441-10 of the French Commercial Code) and fixed "
            "indemnity for recovery costs (art. D441-5), outside the scope of VAT."
        )

    # -- cancelling with the run -----------------------------------------------------

    def _check_cancellable(self, run):
        """Refuse to cancel ``run`` while one of its penalty invoices is (partly) paid."""
        paid = self._live_moves(run).filtered(
            lambda move: move.state == "posted" and move.payment_state != "not_paid"
        )
        if paid:
            raise UserError(
                self.env._(
                    "Run %(run)s cannot be cancelled: its penalty invoice(s) %(moves)s are "
                    "already (partly) paid. Reverse them by hand first.",
                    run=run.name,
                    moves=", ".join(paid.mapped("name")),
                )
            )

    def _cancel_moves(self, run):
        """Drafts cancelled, posted ones reversed by a credit note (dated today);
        what was cancelled. Call ``_check_cancellable`` first."""
        moves = self._live_moves(run)
        drafts = moves.filtered(lambda move: move.state == "draft")
        drafts.button_cancel()
        posted = moves - drafts
        if posted:
            posted._reverse_moves(
                [{"ref": self.env._("Cancellation of dunning run %s", run.name)}] * len(posted),
                cancel=True,
            )
        if moves:
            run.message_post(
                body=self.env._(
                    "Penalty invoices cancelled with the run: %s.",
                    ", ".join(moves.mapped("display_name")),
                )
            )
        return moves

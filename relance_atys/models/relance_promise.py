"""Payment promises and pauses of a customer (the credit controller's tools).

A promise ("paiement promis le 12/12") or a pause ("en pause jusqu'au ...") keeps
the customer's documents, or only those it names, out of the proposals until its
date; a promise not paid by then is broken, and the review shows it. The history
keeps them: a promise is never deleted by the dunning, only archived by hand.
"""

from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date

from .. import engine

KINDS = [(engine.HOLD_PROMISE, "Payment promise"), (engine.HOLD_PAUSE, "Pause")]
STATES = [
    (engine.PROMISE_OPEN, "Open"),
    (engine.PROMISE_KEPT, "Kept"),
    (engine.PROMISE_BROKEN, "Not kept"),
]


class RelancePromise(models.Model):
    _name = "relance.promise"
    _description = "Payment promise or pause"
    _inherit = ["mail.thread"]
    _order = "date desc, id desc"

    kind = fields.Selection(KINDS, required=True, default=engine.HOLD_PROMISE, tracking=True)
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        domain="[('customer_rank', '>', 0), ('company_id', 'in', (company_id, False)), "
        "'|', ('is_company', '=', True), ('parent_id', '=', False)]",
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    move_ids = fields.Many2many(
        "account.move",
        "relance_promise_account_move_rel",
        "promise_id",
        "move_id",
        string="Invoices",
        domain="[('commercial_partner_id', '=', partner_id), ('company_id', '=', company_id), "
        "('move_type', '=', 'out_invoice'), ('state', '=', 'posted'), "
        "('payment_state', 'in', ('not_paid', 'partial'))]",
        help="Empty: the promise or the pause holds every document of the customer.",
    )
    line_ids = fields.Many2many(
        "account.move.line",
        "relance_promise_echeance_rel",
        "promise_id",
        "line_id",
        string="Due dates",
        domain="[('move_id', 'in', move_ids), ('display_type', '=', 'payment_term'), "
        "('reconciled', '=', False)]",
        help="Instalments of the invoices above (échéances): when given, the promise or "
        "the pause holds these only.",
    )
    date = fields.Date(
        required=True,
        tracking=True,
        help="Promise: the day the customer said it would pay. Pause: its last day.",
    )
    amount = fields.Monetary(
        currency_field="currency_id",
        tracking=True,
        help="Optional: what the customer promised to pay; else what was due.",
    )
    currency_id = fields.Many2one(
        "res.currency",
        compute="_compute_currency_id",
        store=True,
        readonly=False,
        help="The currency of the invoices chosen, else of what the customer owes; "
        "to choose when it owes in several.",
    )
    note = fields.Text(string="Note or reason")
    due_amount = fields.Monetary(
        string="Due when recorded",
        currency_field="currency_id",
        readonly=True,
        help="The amount the promise is kept at: the amount promised, else the invoices' "
        "residual (or the customer's total due) when it was recorded.",
    )
    paid_amount = fields.Monetary(
        string="Paid since", currency_field="currency_id", compute="_compute_paid_amount"
    )
    state = fields.Selection(
        STATES,
        default=engine.PROMISE_OPEN,
        compute="_compute_state",
        store=True,
        index=True,
        tracking=True,
    )
    reason_text = fields.Char(string="Reason shown", compute="_compute_reason_text")
    active = fields.Boolean(default=True, tracking=True)

    @api.depends("move_ids.currency_id", "company_id", "partner_id", "kind")
    def _compute_currency_id(self):
        """Its invoices' currency; without invoices, the one currency the customer
        owes in (the company's if it owes nothing). None when it owes in several:
        a promise then needs one chosen (``_check_currency``); a pause, amounts
        aside, takes the company's."""
        for promise in self:
            currencies = promise.move_ids.currency_id
            if not promise.move_ids and promise.partner_id:
                currencies = promise._owed_currencies()
            if not currencies or (len(currencies) > 1 and promise.kind == engine.HOLD_PAUSE):
                currencies = promise.company_id.currency_id
            promise.currency_id = currencies if len(currencies) == 1 else False

    def _compute_paid_amount(self):
        for promise in self:
            promise.paid_amount = promise._paid()

    def _paid(self):
        """Paid since the promise was recorded: what its invoices' residual went down
        by, or the customer's payments (and credit notes) since, in the company's
        currency."""
        self.ensure_one()
        if not self.id or not self.create_date:
            return 0.0
        if self.move_ids:
            residual = self._documents_residual()
            return self.currency_id.round(max(self.due_amount - residual, 0.0))
        paid = self._customer_receivables(
            [
                ("move_id.move_type", "!=", "out_invoice"),
                ("balance", "<", 0),
                ("date", ">=", fields.Date.to_date(self.create_date)),
                ("currency_id", "=", self.currency_id.id),
            ],
            "amount_currency:sum",
        )
        return self.currency_id.round(-paid)

    def _customer_receivables(self, domain, aggregate, groupby=()):
        """``aggregate`` over the posted receivable lines of the promise's customer
        (and its contacts) in its company that match ``domain`` (by ``groupby``:
        the groups)."""
        groups = (
            self.env["account.move.line"]
            .sudo()
            ._read_group(
                [
                    ("company_id", "=", self.company_id.id),
                    ("partner_id", "child_of", self.partner_id.id),
                    ("account_id.account_type", "=", "asset_receivable"),
                    ("parent_state", "=", "posted"),
                    *domain,
                ],
                list(groupby),
                [aggregate],
            )
        )
        if groupby:
            return groups
        return groups[0][0] or 0.0

    def _owed_currencies(self):
        """The currencies of what the customer owes: its open receivables."""
        groups = self._customer_receivables(
            [("reconciled", "=", False), ("amount_residual_currency", ">", 0)],
            "__count",
            groupby=["currency_id"],
        )
        return self.env["res.currency"].union(*(currency for currency, _count in groups))

    @api.depends(
        "date", "kind", "due_amount", "move_ids.amount_residual", "line_ids.amount_residual"
    )
    def _compute_state(self):
        """Kept once paid, broken once its date passed unpaid (engine.promise_state);
        a pause is never kept nor broken: open, then over. Refreshed each night
        (``_cron_refresh_states``): the date passes, payments come in."""
        today = fields.Date.context_today(self)
        for promise in self:
            if promise.kind == engine.HOLD_PAUSE or not promise.date:
                promise.state = engine.PROMISE_OPEN
                continue
            currency = promise.currency_id or promise.company_id.currency_id
            promise.state = engine.promise_state(
                promise.date,
                today,
                currency.round(promise.due_amount),
                promise._paid(),
            )

    @api.depends("kind", "date", "state")
    def _compute_reason_text(self):
        for promise in self:
            promise.reason_text = promise._hold_text(promise.kind, promise.date, promise.state)

    def _hold_text(self, kind, date, state=None):
        """What the review says of a promise or a pause."""
        _ = self.env._
        when = format_date(self.env, date) if date else ""
        if kind == engine.HOLD_PAUSE:
            return _("paused until %s", when)
        if state == engine.PROMISE_BROKEN:
            return _("promise not kept (payment promised on %s)", when)
        return _("payment promised on %s", when)

    @api.depends("kind", "partner_id", "date")
    def _compute_display_name(self):
        for promise in self:
            promise.display_name = self.env._(
                "%(customer)s: %(reason)s",
                customer=promise.partner_id.name or "",
                reason=promise.reason_text,
            )

    # -- checks -------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_vals(vals, creating=True)
        with self.env.cr.savepoint():  # refused documents: nothing recorded
            promises = super().create(vals_list)
            for promise in promises:
                promise._check_documents()
        for promise in promises:
            promise.due_amount = promise._due_when_recorded()
        return promises

    def write(self, vals):
        self._check_vals(vals)
        with self.env.cr.savepoint():  # refused documents: nothing recorded
            result = super().write(vals)
            if {"move_ids", "line_ids", "partner_id", "company_id", "currency_id"} & set(vals):
                for promise in self:
                    promise._check_documents()
        return result

    def _check_vals(self, vals, creating=False):
        """Refuse bad input before anything is written: a date in the past, a pause
        without an end or longer than the company allows, a negative amount."""
        _ = self.env._
        kind = vals.get("kind") or (self[:1].kind if self else engine.HOLD_PROMISE)
        if (creating or "date" in vals) and not vals.get("date"):
            if kind == engine.HOLD_PAUSE:
                raise UserError(_("A pause needs an end date: until when is the customer paused?"))
            raise UserError(_("A payment promise needs the date the customer promised to pay."))
        if "date" in vals:
            self._check_date(kind, fields.Date.to_date(vals["date"]), vals.get("company_id"))
        if (vals.get("amount") or 0.0) < 0:
            raise UserError(_("The promised amount cannot be negative."))

    def _check_date(self, kind, date, company_id=None):
        _ = self.env._
        today = fields.Date.context_today(self)
        if date < today:
            if kind == engine.HOLD_PAUSE:
                raise UserError(
                    _("The end of the pause (%s) is in the past.", format_date(self.env, date))
                )
            raise UserError(
                _("The promised date (%s) is in the past.", format_date(self.env, date))
            )
        company = self.env["res.company"].browse(company_id) if company_id else self.env.company
        longest = company.relance_max_pause_days
        if kind == engine.HOLD_PAUSE and longest and (date - today).days > longest:
            raise UserError(
                _(
                    "A pause lasts at most %(days)s days (Settings > Dunning): "
                    "end it on %(date)s at the latest.",
                    days=longest,
                    date=format_date(self.env, today + timedelta(days=longest)),
                )
            )

    def _check_documents(self):
        """The customer of the promise's company; its invoices the customer's, open,
        in one currency (amounts are never added across currencies)."""
        self.ensure_one()
        _ = self.env._
        customer = self.partner_id.commercial_partner_id
        if self.partner_id.company_id and self.partner_id.company_id != self.company_id:
            raise UserError(_("%s belongs to another company.", self.partner_id.display_name))
        strangers = self.move_ids.filtered(
            lambda move: (
                move.commercial_partner_id != customer or move.company_id != self.company_id
            )
        )
        if strangers:
            raise UserError(
                _("These invoices are not the customer's: %s", ", ".join(strangers.mapped("name")))
            )
        if self.line_ids.move_id - self.move_ids:
            raise UserError(_("The due dates chosen must be instalments of the invoices chosen."))
        if len(self.move_ids.currency_id) > 1:
            raise UserError(
                _("A promise covers invoices in one currency: record one promise per currency.")
            )
        self._check_currency()

    def _check_currency(self):
        """A promise in one currency: its invoices', else one the customer owes in,
        chosen when it owes in several (amounts are never added across currencies)."""
        _ = self.env._
        if self.move_ids and self.currency_id != self.move_ids.currency_id:
            raise UserError(
                _(
                    "The promise's currency (%(currency)s) is not its invoices' (%(invoices)s).",
                    currency=self.currency_id.name,
                    invoices=self.move_ids.currency_id.name,
                )
            )
        if not self.currency_id:
            raise UserError(
                _(
                    "%(customer)s owes in several currencies (%(currencies)s): choose the "
                    "promise's currency, or its invoices.",
                    customer=self.partner_id.display_name,
                    currencies=", ".join(self._owed_currencies().mapped("name")),
                )
            )

    def _documents_residual(self):
        """What is left to pay on the promise's due dates, else on its invoices."""
        if self.line_ids:
            return sum(self.line_ids.mapped("amount_residual_currency"))
        return sum(self.move_ids.mapped("amount_residual"))

    def _due_when_recorded(self):
        """The amount the promise is kept at (see ``due_amount``)."""
        if self.amount:
            return self.amount
        if self.move_ids:
            return self._documents_residual()
        owed = self._customer_receivables(
            [("reconciled", "=", False), ("currency_id", "=", self.currency_id.id)],
            "amount_residual_currency:sum",
        )
        return max(owed, 0.0)

    def _broken_sentence(self, company, partner, date):
        """What a letter of ``date`` says of a promise ``partner`` did not keep since
        its last dunning (engine.broken_promise), or ''."""
        state = self.env["relance.service"]._get_partner_states(company, partner.ids)
        until = partner.id in state and engine.broken_promise(state[partner.id], date)
        if not until:
            return ""
        return self.env._(
            "You had promised us a payment for %s; we have not received it.",
            format_date(self.env, until),
        )

    # -- scheduled ------------------------------------------------------------

    def _cron_refresh_states(self):
        """Each night: open promises whose date passed, or that were paid, change state."""
        promises = self.search(
            [("state", "=", engine.PROMISE_OPEN), ("kind", "=", engine.HOLD_PROMISE)]
        )
        self.env.add_to_compute(self._fields["state"], promises)
        promises.flush_recordset(["state"])
        return promises

    # -- front doors --------------------------------------------------------

    def action_save_back(self):
        """The dialog's Save: back to the review (the documents the promise or the
        pause holds unticked) or the composer it was opened from."""
        self.ensure_one()
        context = self.env.context
        edition = self.env["relance.edition"].browse(context.get("relance_edition_id"))
        if edition.exists():
            held = edition.line_ids.filtered(
                lambda line: (
                    line.partner_id == self.partner_id
                    and (not self.move_ids or line.move_id in self.move_ids)
                    and (not self.line_ids or line.move_line_id in self.line_ids)
                )
            )
            held.selected = False
            if not self.move_ids:
                held.partner_line_id.selected = False
            return edition._reopen()
        composer = self.env["relance.composer"].browse(context.get("relance_composer_id"))
        if composer.exists():
            return {
                "type": "ir.actions.act_window",
                "res_model": composer._name,
                "res_id": composer.id,
                "view_mode": "form",
                "target": "new",
            }
        return {"type": "ir.actions.act_window_close"}

    @api.model
    def action_new(self, partner, moves=None, kind=engine.HOLD_PROMISE):
        """The form of a new promise (or pause) of ``partner``, on ``moves`` if given."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Payment promise or pause"),
            "res_model": self._name,
            "view_mode": "form",
            "views": [(self.env.ref("relance_atys.relance_promise_view_form_dialog").id, "form")],
            "target": "new",
            "context": {
                "default_partner_id": partner.commercial_partner_id.id,
                "default_kind": kind,
                "default_move_ids": [(6, 0, moves.ids if moves else [])],
            },
        }

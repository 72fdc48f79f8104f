"""Phone-call steps of the dunning: a level may be a call instead of (or besides) a
letter or a mail. Planning the calls of a review gives each customer's collector
an activity "Dunning call" with the documents, the amounts and the level's script;
the call's result (reached, promise, dispute, no answer, and a note) is kept in
the history, and a promise result records the payment promise.
"""

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount, format_date

from .. import engine
from ..actions import background_action
from ..guard import check_manager
from .relance_level import CALL_STEPS

RESULTS = [
    ("reached", "Reached"),
    ("promise", "Payment promised"),
    ("dispute", "Dispute"),
    ("no_answer", "No answer"),
]
ACTIVITY_TYPE = "relance_atys.mail_activity_type_relance_call"
# Calls of more customers than this are created by jobs of CALL_BATCH customers
# (a call and its activity take Odoo some 40 ms: 1,000 customers, 40 s).
BACKGROUND_CALLS_FROM = 30
CALL_BATCH = 100


class RelanceCall(models.Model):
    _name = "relance.call"
    _description = "Dunning call"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"

    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, readonly=True, index=True
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    run_id = fields.Many2one("relance.run", readonly=True, index=True, ondelete="cascade")
    level = fields.Integer(readonly=True, aggregator=False)
    step = fields.Selection(CALL_STEPS, readonly=True)
    collector_id = fields.Many2one("res.users", readonly=True, index=True)
    date = fields.Date(string="Call planned on", readonly=True)
    move_ids = fields.Many2many("account.move", string="Invoices", readonly=True)
    summary = fields.Html(readonly=True, sanitize=True, help="What the customer owes, as planned.")
    script = fields.Html(readonly=True)
    phone = fields.Char(related="partner_id.phone")
    mobile = fields.Char(related="partner_id.mobile")
    state = fields.Selection(
        [("todo", "To call"), ("done", "Done"), ("cancelled", "Cancelled")],
        default="todo",
        readonly=True,
    )
    result = fields.Selection(RESULTS, tracking=True)
    note = fields.Text()
    promise_date = fields.Date(string="Promised for")
    promise_amount = fields.Monetary(string="Amount promised", currency_field="currency_id")
    currency_id = fields.Many2one(
        "res.currency",
        string="Currency of the promise",
        compute="_compute_currency_id",
        store=True,
        readonly=False,
        help="A promise is about the call's invoices in one currency: the one they are "
        "in, to choose when the customer owes in several.",
    )
    promise_id = fields.Many2one("relance.promise", readonly=True)
    result_date = fields.Datetime(readonly=True)
    result_user_id = fields.Many2one("res.users", string="Called by", readonly=True)

    @api.depends("move_ids.currency_id", "company_id")
    def _compute_currency_id(self):
        """The currency of the call's open invoices; none when they are in several
        (the collector chooses), the company's when none is open."""
        for call in self:
            currencies = call._open_moves().currency_id or call.company_id.currency_id
            call.currency_id = currencies if len(currencies) == 1 else False

    def _open_moves(self):
        return self.move_ids.filtered(lambda move: move.amount_residual > 0)

    @api.depends("partner_id", "level")
    def _compute_display_name(self):
        for call in self:
            call.display_name = self.env._(
                "Call %(partner)s (level %(level)s)", partner=call.partner_id.name, level=call.level
            )

    def action_record_result(self):
        """The collector's button: the call's result, its note, a promise if any."""
        self.ensure_one()
        return self._record_result(self.result, self.note, self.promise_date, self.promise_amount)

    # -- the service ------------------------------------------------------------

    @api.model
    def _plan_calls(self, company, options, lines, run=None):
        """Use case: the calls of ``lines`` (run line values of the chosen documents:
        a review's ticked ones, or a scheduled run's proposal) due a level with a
        phone call, for the customers that take calls. A call instead of the letter
        records the level, as a letter would; a call besides it records nothing but
        the call. One run "Calls" keeps them (``run``: the one its planning job
        plans); each customer's collector (else the user) gets an activity. Returns
        the run."""
        self._check_call_manager()
        steps = self._call_steps(company)
        lines = self._call_lines(company, lines, steps)
        if not lines:
            raise UserError(
                self.env._("No ticked customer is due a level with a phone call (or takes calls).")
            )
        proposed = {}  # the level each customer's call is for
        for line in lines:
            line.update(channel="call", outcome="skipped" if line.get("is_deduction") else "called")
            step = steps.get(line["level_after"])
            if engine.call_step(step, True):  # the call's level
                proposed[line["partner_id"]] = max(
                    proposed.get(line["partner_id"], 0), line["level_after"]
                )
            if step != engine.CALL_ONLY:
                # the letter or the mail records it: a call besides it, or a document
                # of a level without a call, listed in the call of its customer
                line.update(level_after=line["level_before"], date_after=line.get("date_before"))
        service = self.env["relance.service"]
        only = [line for line in lines if line["outcome"] == "called" and self._moves(line)]
        run = service._record_definitive(
            company,
            service._run_vals(
                company, "call", options, [{"level_after": n} for n in proposed.values()]
            ),
            lines,
            service._partner_levels(only),
            run,
        )
        if len(proposed) > BACKGROUND_CALLS_FROM:
            self._create_calls_later(run, proposed)
        else:
            self._create_calls(company, run, lines, proposed)
        return run

    def _create_calls_later(self, run, proposed):
        """The calls of ``proposed`` ({customer id: level}) by jobs of CALL_BATCH
        customers (``_create_calls_batch``); the run says so."""
        pairs = list(proposed.items())
        self.env["relance.service"]._enqueue_batches(
            run, self, "_create_calls_batch", "calls", self.env._("calls"), pairs, CALL_BATCH
        )
        run.message_post(
            body=self.env._(
                "Levels recorded; the %s calls and their activities are being created "
                "in the background.",
                len(pairs),
            )
        )

    def _create_calls_batch(self, run, pairs, number, count):
        """Job: the calls of ``run`` for ``pairs`` ([customer id, level]) and their
        activities. Run again (a worker killed, a retry), it creates only those not
        created yet: never two calls for one customer of a run."""
        self.env["relance.service"]._hold_job()
        if run.state == "cancelled":
            return "run cancelled: no call"
        proposed = dict(pairs)
        made = self.search([("run_id", "=", run.id), ("partner_id", "in", list(proposed))])
        for partner_id in made.partner_id.ids:
            proposed.pop(partner_id)
        self._create_calls(run.company_id, run, self._run_call_lines(run, proposed), proposed)
        run.message_post(
            body=self.env._(
                "Calls, batch %(batch)s / %(count)s: %(calls)s call(s) created.",
                batch=number,
                count=count,
                calls=len(proposed),
            )
        )
        return f"{len(proposed)} call(s) created"

    @staticmethod
    def _run_call_lines(run, partner_ids):
        """The values ``_create_calls`` reads of ``run``'s lines of ``partner_ids``."""
        return [
            {
                "partner_id": line.partner_id.id,
                "move_id": line.move_id.id,
                "due_date": line.due_date,
                "residual": line.residual,
                "currency_id": line.currency_id.id,
                "days_late": line.days_late,
            }
            for line in run.line_ids
            if line.partner_id.id in partner_ids
        ]

    @api.model
    def _plan_review_calls(self, company, options, edition):
        """The review's front door: the calls of the customers the review ``edition``
        ticked (their ticked documents); the run's form. Beyond
        ``relance.service._background_planning_from`` customers the click records
        the run "planning" and returns; its planning job plans the calls
        (``relance.service._plan_job``)."""
        service = self.env["relance.service"]
        nothing = self.env._("No customer is ticked: no call to plan.")
        partner_ids = service._ticked_customers(edition, nothing)
        if len(partner_ids) > service._background_planning_from():
            self._check_call_manager()
            run = service._start_planning(company, "call", options, edition, partner_ids)
            message = self.env._(
                "Planning the calls in the background: follow it in run %s.", run.name
            )
            return background_action(run, message)
        lines = service._review_ticked_lines(edition, nothing, partner_ids)
        values = service._line_values(lines, "called", "call")
        return self._plan_calls(company, options, values)._get_form_action()

    def _check_call_manager(self):
        check_manager(self.env, self.env._("Only dunning managers can plan dunning calls."))

    @staticmethod
    def _moves(line):
        return (line["level_after"], line.get("date_after")) != (
            line["level_before"],
            line.get("date_before"),
        )

    def _call_lines(self, company, lines, steps):
        """The lines of the customers that take calls with a document due a call
        level (their deductions too)."""
        partners = self.env["res.partner"].browse({line["partner_id"] for line in lines})
        takes = {partner.id for partner in partners if partner.relance_by_call}
        called = {
            line["partner_id"]
            for line in lines
            if not line.get("is_deduction")
            and engine.call_step(steps.get(line["level_after"]), line["partner_id"] in takes)
        }
        return [dict(line) for line in lines if line["partner_id"] in called]

    def _split_calls(self, company, lines):
        """A scheduled run's proposal ``lines`` cut in two: the lines to mail (not
        the documents a call replaces), and the lines to call about."""
        steps = self._call_steps(company)
        calls = self._call_lines(company, lines, steps)
        called = {line["partner_id"] for line in calls}
        instead = {  # the échéances a call replaces the mail of
            line["move_line_id"]
            for line in calls
            if not line.get("is_deduction") and steps.get(line["level_after"]) == engine.CALL_ONLY
        }
        mails = [
            line
            for line in lines
            if not (line["partner_id"] in called and line["move_line_id"] in instead)
        ]
        mailed = {line["partner_id"] for line in mails if line["outcome"] == "planned"}
        return [line for line in mails if line["partner_id"] in mailed], calls

    def _call_steps(self, company):
        """{level number: its call step} of ``company``."""
        levels = self.env["relance.service"]._get_levels(company)
        return {level.number: level.call_step for level in levels}

    def _create_calls(self, company, run, lines, proposed):
        """A call per customer of ``lines`` and its activity for the collector;
        ``proposed``: the level each customer is called for."""
        levels = {lv.number: lv for lv in self.env["relance.service"]._get_levels(company)}
        partners = self.env["res.partner"].browse(list(proposed))
        for partner in partners:
            own = [line for line in lines if line["partner_id"] == partner.id]
            number = proposed[partner.id]
            call = self.create(
                {
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "run_id": run.id,
                    "level": number,
                    "step": levels[number].call_step if number in levels else False,
                    "collector_id": (partner.relance_collector_id or self.env.user).id,
                    "date": run.date,
                    "move_ids": [(6, 0, [line["move_id"] for line in own if line.get("move_id")])],
                    "summary": self._summary(own),
                    "script": levels[number].call_script if number in levels else False,
                }
            )
            call.activity_schedule(
                ACTIVITY_TYPE,
                date_deadline=run.date,
                summary=self.env._("Call %s about their unpaid invoices", partner.name),
                note=call.summary + (call.script or Markup()),
                user_id=call.collector_id.id,
            )

    def _cancel_run_calls(self, run):
        """The calls of ``run`` not made yet are cancelled, their activities removed,
        and their lines say so (« Annulé »): nobody phones about a dunning that was
        cancelled. A call made keeps its result."""
        calls = self.search([("run_id", "=", run.id), ("state", "=", "todo")])
        calls.activity_ids.unlink()
        calls.write({"state": "cancelled"})
        run.line_ids.filtered(
            lambda line: line.outcome == "called" and line.partner_id in calls.partner_id
        ).outcome = "cancelled"

    def _summary(self, lines):
        """The documents to speak of: number, due date, residual, days late."""
        moves = self.env["account.move"].browse([line["move_id"] for line in lines])
        names = dict(zip(moves.ids, moves.mapped("name"), strict=True))
        currencies = self.env["res.currency"].browse({line["currency_id"] for line in lines})
        rows = Markup("").join(
            Markup("<li>%s</li>")
            % self.env._(
                "%(document)s due %(due)s: %(residual)s (%(days)s days late)",
                document=names[line["move_id"]],
                due=format_date(self.env, line["due_date"]),
                residual=format_amount(
                    self.env, line["residual"], currencies.browse(line["currency_id"])
                ),
                days=line.get("days_late") or 0,
            )
            for line in lines
        )
        return Markup("<ul>%s</ul>") % rows

    def _record_result(self, result, note, promise_date=None, promise_amount=None):
        """Use case: the result of a call, kept in the history (the call, its run's
        lines, the customer's chatter); a promise result records the promise. A
        result without a note is allowed, and said so."""
        self.ensure_one()
        _ = self.env._
        if self.state == "done":
            raise UserError(_("The result of this call is already recorded."))
        if self.state == "cancelled":
            raise UserError(_("This call was cancelled with its dunning run: nothing to record."))
        if not result:
            raise UserError(_("Choose the result of the call."))
        promise = self.env["relance.promise"]
        if result == "promise":
            promise = promise.create(
                {
                    "partner_id": self.partner_id.id,
                    "company_id": self.company_id.id,
                    "date": promise_date,
                    "amount": promise_amount or 0.0,
                    "currency_id": self._promise_currency().id,
                    "move_ids": [(6, 0, self._promise_moves().ids)],
                    "note": note,
                }
            )
        text = self._result_text(result, note, promise)
        self.write(
            {
                "result": result,
                "note": note,
                "state": "done",
                "promise_id": promise.id,
                "result_date": fields.Datetime.now(),
                "result_user_id": self.env.uid,
            }
        )
        self.activity_ids.action_feedback(feedback=text)
        self.run_id.line_ids.filtered(lambda line: line.partner_id == self.partner_id).sudo().write(
            {"reason": text[:500]}
        )
        self.partner_id._message_log(body=text)
        return True

    def _promise_currency(self):
        """The currency of the promise the customer made: the call's (chosen when
        its invoices are in several), amounts never added across currencies."""
        if not self.currency_id:
            raise UserError(
                self.env._(
                    "%(customer)s owes in several currencies (%(currencies)s): choose the "
                    "currency of the promise.",
                    customer=self.partner_id.display_name,
                    currencies=", ".join(self._open_moves().currency_id.mapped("name")),
                )
            )
        if self._open_moves() and not self._promise_moves():
            raise UserError(
                self.env._(
                    "None of the call's invoices is in %(currency)s: choose %(currencies)s.",
                    currency=self.currency_id.name,
                    currencies=", ".join(self._open_moves().currency_id.mapped("name")),
                )
            )
        return self.currency_id

    def _promise_moves(self):
        """The call's open invoices in the promise's currency."""
        return self._open_moves().filtered(lambda move: move.currency_id == self.currency_id)

    def _result_text(self, result, note, promise):
        _ = self.env._
        label = dict(self._fields["result"]._description_selection(self.env))[result]
        text = _("Call result: %(result)s. %(note)s", result=label, note=note or _("(no note)"))
        if promise:
            text += " " + _("Promise recorded: %s.", promise.reason_text)
        return text

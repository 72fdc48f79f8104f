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
from ..guard import check_manager
from .relance_level import CALL_STEPS

RESULTS = [
    ("reached", "Reached"),
    ("promise", "Payment promised"),
    ("dispute", "Dispute"),
    ("no_answer", "No answer"),
]
ACTIVITY_TYPE = "relance_atys.mail_activity_type_relance_call"


class RelanceCall(models.Model):
    _name = "relance.call"
    _description = "Dunning call"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"

    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, readonly=True, index=True
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    run_id = fields.Many2one(
        "relance.run", string="Run", readonly=True, index=True, ondelete="cascade"
    )
    level = fields.Integer(readonly=True, aggregator=False)
    step = fields.Selection(CALL_STEPS, readonly=True)
    collector_id = fields.Many2one("res.users", string="Collector", readonly=True, index=True)
    date = fields.Date(string="Call planned on", readonly=True)
    move_ids = fields.Many2many("account.move", string="Invoices", readonly=True)
    summary = fields.Html(readonly=True, sanitize=True, help="What the customer owes, as planned.")
    script = fields.Html(readonly=True)
    phone = fields.Char(related="partner_id.phone")
    mobile = fields.Char(related="partner_id.mobile")
    state = fields.Selection([("todo", "To call"), ("done", "Done")], default="todo", readonly=True)
    result = fields.Selection(RESULTS, tracking=True)
    note = fields.Text()
    promise_date = fields.Date(string="Promised for")
    promise_amount = fields.Monetary(string="Amount promised", currency_field="currency_id")
    currency_id = fields.Many2one(related="company_id.currency_id")
    promise_id = fields.Many2one("relance.promise", string="Promise", readonly=True)
    result_date = fields.Datetime(readonly=True)
    result_user_id = fields.Many2one("res.users", string="Called by", readonly=True)

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
    def _plan_calls(self, company, options, lines):
        """Use case: the calls of ``lines`` (document lines of a review's ticked
        customers) whose proposed level is a call step. A call instead of the
        letter records the level, as a letter would; a call besides it records
        nothing but the call. One run "Calls" keeps them; each customer's collector
        (else the user) gets an activity. Returns the run."""
        check_manager(self.env, self.env._("Only dunning managers can plan dunning calls."))
        steps = self._call_steps(company)
        planned = lines.filtered(
            lambda line: engine.call_step(
                steps.get(line.level_after), line.partner_id.relance_by_call
            )
        )
        partners = planned.filtered(lambda line: not line.is_deduction).partner_id
        if not partners:
            raise UserError(
                self.env._("No ticked customer is due a level with a phone call (or takes calls).")
            )
        planned = planned.filtered(lambda line: line.partner_id in partners)
        service = self.env["relance.service"]
        vals = service._line_values(planned, "called", "call")
        only = []  # a call instead of the letter: it moves the level as a letter would
        for line in vals:
            if steps.get(line["level_after"]) == engine.CALL_ONLY and not line["is_deduction"]:
                only.append(line)
            else:
                line.update(level_after=line["level_before"], date_after=line["date_before"])
        levels = [{"level_after": number} for number in planned.mapped("level_after")]
        run = service._record_definitive(
            company,
            service._run_vals(company, "call", options, levels),
            vals,
            service._partner_levels(only),
        )
        self._create_calls(company, run, planned, steps)
        return run

    def _call_steps(self, company):
        """{level number: its call step} of ``company``."""
        levels = self.env["relance.service"]._get_levels(company)
        return {level.number: level.call_step for level in levels}

    def _create_calls(self, company, run, lines, steps):
        """A call per customer of ``lines`` and its activity for the collector."""
        levels = {level.number: level for level in self.env["relance.service"]._get_levels(company)}
        for partner in lines.partner_id:
            own = lines.filtered(lambda line, p=partner: line.partner_id == p)
            number = max(own.mapped("level_after"))
            call = self.create(
                {
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "run_id": run.id,
                    "level": number,
                    "step": steps.get(number),
                    "collector_id": (partner.relance_collector_id or self.env.user).id,
                    "date": run.date,
                    "move_ids": [(6, 0, own.move_id.ids)],
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

    def _summary(self, lines):
        """The documents to speak of: number, due date, residual, days late."""
        rows = Markup("").join(
            Markup("<li>%s</li>")
            % self.env._(
                "%(document)s due %(due)s: %(residual)s (%(days)s days late)",
                document=line.move_id.name,
                due=format_date(self.env, line.due_date),
                residual=format_amount(self.env, line.residual, line.currency_id),
                days=line.days_late,
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
                    "move_ids": [
                        (6, 0, self.move_ids.filtered(lambda m: m.amount_residual > 0).ids)
                    ],
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

    def _result_text(self, result, note, promise):
        _ = self.env._
        label = dict(self._fields["result"]._description_selection(self.env))[result]
        text = _("Call result: %(result)s. %(note)s", result=label, note=note or _("(no note)"))
        if promise:
            text += " " + _("Promise recorded: %s.", promise.reason_text)
        return text

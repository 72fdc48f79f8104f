import json
from datetime import timedelta

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date, formatLang

from ..actions import download_action
from ..guard import check_history_write
from ..report.relance_xlsx import write_run_lines

# Which screen wrote a run's parameters (keys are its fields, mostly), and the keys
# that are not, by the field that labels them.
PARAMETER_SOURCES = {
    "letter": "relance.edition",
    "email": "relance.edition",
    "manual": "relance.level.manage",
    "signature": "relance.signature",
    "call": "relance.edition",
}
PARAMETER_ALIASES = {
    "relance.edition": {"template": "template_key", "level": "level_id"},
    "relance.level.manage": {"partners": "partner_ids", "partner": "partner_id"},
    "relance.composer": {
        "composer": "partner_id",
        "type": "relance_type",
        "template": "template_id",
        "sender": "sender_id",
        "next_level": "next_level_id",
    },
}

RUN_TYPES = [
    ("letter", "Letters"),
    ("email", "Email"),
    ("manual", "Manual level change"),
    ("signature", "Signature reminders"),
    ("call", "Calls"),
]
RUN_STATES = [
    ("planning", "Planning"),  # its job makes its lines and batches
    ("queued", "Queued"),
    ("running", "Running"),
    ("done", "Done"),
    ("partial", "Done with failures"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]
OUTCOMES = [
    ("planned", "Planned"),  # waiting for its background job
    ("printed", "Printed"),
    ("sent", "Sent"),
    ("queued", "Queued"),
    ("changed", "Level changed"),
    ("called", "Call planned"),
    ("skipped", "Skipped"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),  # a mail still queued when its run was cancelled
]


class RelanceRun(models.Model):
    _name = "relance.run"
    _description = "Dunning run"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(required=True, readonly=True, default="/", copy=False)
    run_type = fields.Selection(RUN_TYPES, string="Type", required=True, readonly=True)
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, default=lambda self: self.env.company
    )
    user_id = fields.Many2one(
        "res.users", string="By", readonly=True, default=lambda self: self.env.user
    )
    date = fields.Date(string="Dunning date", required=True, readonly=True)
    level = fields.Integer(string="Highest level", readonly=True, aggregator=False)
    levels_text = fields.Char(
        string="Levels",
        compute="_compute_levels_text",
        search="_search_levels_text",
        help="The levels the run gave its documents (or kept, for a mail that was not "
        'a dunning step), each once: "1, 2" for a run of levels 1 and 2.',
    )
    state = fields.Selection(RUN_STATES, default="done", readonly=True, tracking=True)
    # background runs (queue_job): how many customers (or quotations) the run has to
    # process and how many its jobs have processed; 0 / 0 for a run done in the click
    progress_total = fields.Integer(readonly=True)
    progress_done = fields.Integer(readonly=True)
    progress_text = fields.Char(compute="_compute_progress_text", string="Progress")
    waiting_text = fields.Char(compute="_compute_waiting_text", string="Waiting")
    parameters = fields.Text(readonly=True)
    # the customers a run being planned holds (a second run on them is refused at
    # once); emptied once its lines hold them
    held_partner_ids = fields.Many2many(
        "res.partner",
        "relance_run_held_partner_rel",
        "run_id",
        "partner_id",
        string="Customers held",
        readonly=True,
    )
    parameters_display = fields.Html(
        string="Parameters shown", compute="_compute_parameters_display", sanitize=False
    )
    line_ids = fields.One2many("relance.run.line", "run_id", readonly=True)
    attachment_id = fields.Many2one("ir.attachment", string="Document", readonly=True)
    attachment_name = fields.Char(related="attachment_id.name", string="File name")
    partner_count = fields.Integer(
        compute="_compute_counts",
        string="Customers",
        help="Customers dunned by this run (or whose mail failed), each counted once.",
    )
    done_count = fields.Integer(compute="_compute_counts", string="Done")
    skipped_count = fields.Integer(compute="_compute_counts", string="Skipped")
    failed_count = fields.Integer(compute="_compute_counts", string="Failed")
    penalty_move_ids = fields.One2many(
        "account.move", "relance_penalty_run_id", string="Penalty invoices", readonly=True
    )
    penalty_move_count = fields.Integer(
        compute="_compute_penalty_move_count", string="Number of penalty invoices"
    )
    cancelled_by_id = fields.Many2one("res.users", readonly=True)
    cancel_date = fields.Datetime(readonly=True)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("relance.run") or "/"
        return super().create(vals_list)

    def _compute_counts(self):
        Line = self.env["relance.run.line"]
        groups = Line._read_group([("run_id", "in", self.ids)], ["run_id", "outcome"], ["__count"])
        counts = {}
        for run, outcome, count in groups:
            stats = counts.setdefault(run.id, {"partners": 0, "done": 0, "skipped": 0, "failed": 0})
            key = outcome if outcome in ("skipped", "failed") else "done"
            stats[key] += count
        # each customer once, whatever its lines' outcomes (a skipped credit note too)
        dunned = Line._read_group(
            [("run_id", "in", self.ids), ("outcome", "!=", "skipped")],
            ["run_id"],
            ["partner_id:count_distinct"],
        )
        for run, partners in dunned:
            counts[run.id]["partners"] = partners
        for run in self:
            stats = counts.get(run.id, {})
            run.partner_count = stats.get("partners", 0)
            run.done_count = stats.get("done", 0)
            run.skipped_count = stats.get("skipped", 0)
            run.failed_count = stats.get("failed", 0)

    def _levels_domain(self):
        """The lines of a run that carry a level it gave (or kept): its documents',
        neither the deductions listed nor the documents whose mail failed."""
        return [("move_id", "!=", False), ("outcome", "not in", ("skipped", "failed"))]

    def _compute_levels_text(self):
        """The levels a run gave, never summed: its documents'; a run of calls, the
        levels of its calls (a call besides the letter records no level, and a
        document of a level without a call is only listed in its customer's call)."""
        calls = self.filtered(lambda run: run.run_type == "call")
        groups = self.env["relance.run.line"]._read_group(
            [("run_id", "in", (self - calls).ids), *self._levels_domain()],
            ["run_id", "level_after"],
        )
        groups += self.env["relance.call"]._read_group(
            [("run_id", "in", calls.ids)], ["run_id", "level"]
        )
        levels = {}
        for run, level in groups:
            levels.setdefault(run.id, set()).add(level)
        for run in self:
            run.levels_text = ", ".join(map(str, sorted(levels.get(run.id, ()))))

    def _search_levels_text(self, operator, value):
        """Runs that gave a level: "2" finds the runs of levels 1 and 2 too, and the
        runs of calls with a call of level 2."""
        if operator not in ("=", "ilike") or not str(value).strip().isdigit():
            raise UserError(self.env._("Search the runs by one level number, e.g. 2."))
        lines = [("level_after", "=", int(value)), *self._levels_domain()]
        called = self.env["relance.call"]._search([("level", "=", int(value))])
        return [
            "|",
            "&", ("run_type", "!=", "call"), ("line_ids", "any", lines),
            ("id", "in", called.subselect("run_id")),
        ]  # fmt: skip

    @api.depends("progress_total", "progress_done", "run_type", "state")
    def _compute_progress_text(self):
        live = self._live_progress()
        for run in self:
            counts = {"done": live.get(run.id, run.progress_done), "total": run.progress_total}
            if not run.progress_total:
                run.progress_text = False
            elif run.run_type == "signature":
                run.progress_text = self.env._("%(done)s / %(total)s quotations", **counts)
            else:
                run.progress_text = self.env._("%(done)s / %(total)s customers", **counts)

    def _live_progress(self):
        """Customers (or quotations) already processed by the jobs of the runs at
        work, counted from their lines: jobs never write the run's row, which
        several of them would otherwise update at once (serialization failures)."""
        working = self.filtered(lambda run: run.state in ("queued", "running") and run.id)
        if not working:
            return {}
        self.env["relance.run.line"].flush_model(["run_id", "partner_id", "batch", "outcome"])
        self.env.cr.execute(
            """
            SELECT run_id,
                   COUNT(DISTINCT partner_id) FILTER (WHERE batch IS NOT NULL)
                   - COUNT(DISTINCT partner_id) FILTER (WHERE outcome = 'planned')
              FROM relance_run_line
             WHERE run_id = ANY(%s) AND batch IS NOT NULL
            GROUP BY run_id
            """,
            [working.ids],
        )
        return dict(self.env.cr.fetchall())

    @api.depends("state", "create_date")
    def _compute_waiting_text(self):
        """A run still queued a minute after it was recorded: no job runner took it."""
        limit = fields.Datetime.now() - timedelta(minutes=1)
        for run in self:
            waiting = (
                run.state in ("planning", "queued") and run.create_date and run.create_date < limit
            )
            run.waiting_text = waiting and self.env._(
                "Waiting for the job runner: no job of this run has started yet. "
                "Check that Odoo runs with queue_job loaded (see the README)."
            )

    @api.depends("parameters", "run_type")
    def _compute_parameters_display(self):
        for run in self:
            rows = run._parameter_rows()
            run.parameters_display = Markup(
                '<table class="table table-sm table-borderless o_relance_parameters">%s</table>'
            ) % Markup("").join(
                Markup("<tr><th class='w-25'>%s</th><td>%s</td></tr>") % (label, value)
                for label, value in rows
            )

    def _parameter_rows(self):
        """(label, value) of what the user asked, in the reader's language."""
        self.ensure_one()
        try:
            options = json.loads(self.parameters or "{}")
        except ValueError:
            return [(self.env._("Parameters"), self.parameters)]
        if not isinstance(options, dict):
            return []
        source = "relance.composer" if "composer" in options else PARAMETER_SOURCES[self.run_type]
        wizard = self.env[source]
        aliases = PARAMETER_ALIASES.get(source, {})
        # the keys that no field of the wizard carries
        labels = {"scheduled": self.env._("Scheduled dunning")}
        rows = []
        for key, value in options.items():
            field = wizard._fields.get(aliases.get(key, key))
            label = field.get_description(self.env)["string"] if field else labels.get(key, key)
            rows.append((label, self._parameter_value(field, key, value)))
        return rows

    def _parameter_value(self, field, key, value):
        _ = self.env._
        if isinstance(value, bool):
            return _("Yes") if value else _("No")
        if key == "current_level" and value == -1:
            return _("All")
        if field is None:
            return escape(value)
        if field.type == "selection" and isinstance(value, str):
            field = field.related_field if field.related else field  # its own translations
            labels = dict(field._description_selection(self.env))
            if value not in labels and isinstance(field.selection, list):  # an English label
                value = {label: key for key, label in field.selection}.get(value, value)
            return labels.get(value, value)
        if field.type == "date" and isinstance(value, str):
            return format_date(self.env, fields.Date.from_string(value))
        if field.type == "monetary" and isinstance(value, int | float):
            return formatLang(self.env, value, currency_obj=self.company_id.currency_id)
        if key.endswith(("_id", "_ids")) and isinstance(value, list | int):
            ids = [value] if isinstance(value, int) else value
            if all(isinstance(item, int) for item in ids):
                records = self.env[field.comodel_name].sudo().browse(ids).exists()
                value = records.mapped("display_name")
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        return escape(value)

    def _get_form_action(self):
        """Open this run (where its document waits to be downloaded)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }

    def action_download(self):
        self.ensure_one()
        if not self.attachment_id:
            raise UserError(self.env._("This run has no document attached."))
        return download_action(self.attachment_id)

    def action_export_xlsx(self):
        """The run's lines in a spreadsheet: what was sent, skipped or failed, and why."""
        self.ensure_one()
        _ = self.env._
        columns = [
            (_("Customer"), "text"),
            (_("Document"), "text"),
            (_("Due date"), "date"),
            (_("Level before"), "int"),
            (_("Level after"), "int"),
            (_("Residual"), "money"),
            (_("Currency"), "text"),
            (_("Channel"), "text"),
            (_("Outcome"), "text"),
            (_("Reason"), "text"),
            (_("Dunning date"), "date"),
        ]
        data = write_run_lines(
            self._xlsx_rows(),
            columns,
            title=f"{self.name} - {format_date(self.env, self.date)}",
            sheet=self.name.replace("/", "-"),  # REL-2026-0001
            total_label=_("Total"),
            currency_col=6,
        )
        # a dunning user reads runs but does not write them: the file is attached as
        # sudo, and read through the run's read access
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": f"{self.name.replace('/', '_')}.xlsx",
                    "raw": data,
                    "res_model": self._name,
                    "res_id": self.id,
                }
            )
        )
        return download_action(attachment)

    def _xlsx_rows(self):
        """The run's lines as its spreadsheet's rows (``action_export_xlsx``)."""
        labels = {
            name: dict(self.env["relance.run.line"]._fields[name]._description_selection(self.env))
            for name in ("channel", "outcome")
        }
        return [
            (
                line.partner_id.display_name,
                line.move_id.name or line.order_id.name,
                line.due_date,
                line.level_before,
                None if line.outcome == "failed" else line.level_after,  # nothing recorded
                line.residual if line.move_id else None,  # a quotation has none
                line.currency_id.name,
                labels["channel"].get(line.channel, ""),
                labels["outcome"].get(line.outcome, ""),
                line.reason,
                self.date,
            )
            for line in self.line_ids
        ]

    def write(self, vals):
        check_history_write(self, vals, RUN_RECORDED)
        return super().write(vals)

    def action_cancel(self):
        """Give back the levels this run recorded (managers only)."""
        return self.env["relance.service"]._cancel_runs(self)

    def action_invoice_penalties(self):
        """Invoice the penalties and indemnities its formal notices claimed (managers)."""
        self.ensure_one()
        moves = self.env["relance.penalty.invoice"]._invoice_run(self)
        if isinstance(moves, dict):  # invoiced in the background: the action saying so
            return moves
        return self._penalty_moves_action(moves)

    def action_open_penalty_moves(self):
        self.ensure_one()
        return self._penalty_moves_action(self.penalty_move_ids)

    def _penalty_moves_action(self, moves):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account.action_move_out_invoice_type"
        )
        action.update(domain=[("id", "in", moves.ids)], context={"create": False})
        return action

    @api.depends("penalty_move_ids")
    def _compute_penalty_move_count(self):
        for run in self:
            run.penalty_move_count = len(run.penalty_move_ids)

    def action_resend_failed(self):
        return self.env["relance.service"]._resend_failed(self)


# What a run and its lines recorded: written by the services only.
RUN_RECORDED = ("name", "run_type", "company_id", "user_id", "date", "level", "line_ids")
LINE_RECORDED = (
    "run_id",
    "company_id",
    "run_type",
    "date",
    "partner_id",
    "move_id",
    "move_line_id",
    "order_id",
    "level_before",
    "level_after",
    "date_before",
    "date_after",
    "partner_level_before",
    "partner_date_before",
    "level_moved",
    "residual",
    "currency_id",
)


class RelanceRunLine(models.Model):
    _name = "relance.run.line"
    _inherit = ["relance.currency.totals", "relance.echeance.line"]
    _description = "Dunning run line"
    _order = "date desc, id"

    run_id = fields.Many2one("relance.run", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="run_id.company_id", store=True)
    run_type = fields.Selection(related="run_id.run_type", store=True)
    run_state = fields.Selection(related="run_id.state")
    date = fields.Date(related="run_id.date", store=True)
    user_id = fields.Many2one(related="run_id.user_id")
    partner_id = fields.Many2one("res.partner", string="Customer", index=True)
    move_id = fields.Many2one("account.move", string="Document", index=True)
    # the échéance dunned: one receivable line (instalment) of the document
    move_line_id = fields.Many2one("account.move.line", string="Instalment", index="btree_not_null")
    order_id = fields.Many2one("sale.order", string="Quotation", index=True)
    level_before = fields.Integer(string="Level before", aggregator=False)
    level_after = fields.Integer(string="Level after", aggregator=False)
    date_before = fields.Date(string="Date before")
    date_after = fields.Date(string="Date after")
    partner_level_before = fields.Integer(aggregator=False)
    partner_date_before = fields.Date()
    level_moved = fields.Boolean(
        compute="_compute_level_moved",
        store=True,
        help="The line changed its document's level or date: a mail sent without "
        "counting as a dunning step moves nothing, nor does cancelling it.",
    )
    residual = fields.Monetary(currency_field="currency_id")
    currency_id = fields.Many2one("res.currency")
    channel = fields.Selection(
        [("letter", "Letter"), ("email", "Email"), ("call", "Phone call"), ("none", "None")]
    )
    outcome = fields.Selection(OUTCOMES, required=True, default="printed")
    reason = fields.Char()
    # what a mail or a letter made later by a job reads, as the review showed it
    due_date = fields.Date(string="Due date")
    days_late = fields.Integer(string="Days late")
    is_deduction = fields.Boolean(string="Deduction")
    invoice_date = fields.Date(related="move_id.invoice_date", string="Date")
    # the job of a background run that processes this line (one batch of customers)
    batch = fields.Integer(index="btree_not_null")

    mail_id = fields.Many2one("mail.mail", ondelete="set null", index="btree_not_null")
    message_id = fields.Many2one("mail.message", ondelete="set null")

    @api.depends("level_before", "level_after", "date_before", "date_after")
    def _compute_level_moved(self):
        """The services give it when they insert lines (see ``_insert_run_lines``)."""
        for line in self:
            line.level_moved = (line.level_after, line.date_after) != (
                line.level_before,
                line.date_before,
            )

    def write(self, vals):
        check_history_write(self, vals, LINE_RECORDED)
        return super().write(vals)

"""Signature reminders of quotations (Atys "Relance signature pièces", seed 000).

The use case "remind signatures", called with plain arguments by the wizard
``relance.signature``, the weekly cron, the demo and the tests:

    _propose(company, options)  -> [(candidate, decision)]   what a run would do
    _remind(company, options)   -> relance.run                the run, its jobs queued

The click (or the cron) checks that no other signature run at work holds the
quotations, records the run "queued" and enqueues the job that gathers it, on
the channel ``root.relance.signature``: nothing that grows with the quotations
is done in the click. That job (``_gather``) reads the company's quotations
waiting for a signature in one query, `relance_atys.signature` decides, and
records the run's lines: skipped quotations with their reason, due ones
"planned", and one job per batch of up to BATCH_SIZE due quotations, in its one
transaction (run again, it finds the lines written and does nothing).
Each batch's job locks its planned lines, decides again on each quotation's current
level, and writes, per quotation and in one savepoint, the new level and date
with the queued mail and the line's outcome: a job run again (its worker
killed, queue_job retrying) finds its lines done and sends nobody a second
reminder. The last batch to finish closes the run and tells its user.
"""

import logging
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

import pytz

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL, clean_context
from odoo.tools.safe_eval import safe_eval
from odoo.tools.safe_eval import time as safe_time

from .. import mail_stencil, signature
from .relance_service import as_company
from odoo.addons.mail.models.mail_message import _image_dataurl as IMAGE_DATA_URL

_logger = logging.getLogger(__name__)

BATCH_SIZE = 1000  # reminders a job sends at most: a few seconds on a quiet machine
JOB_WORKERS = 2  # the batches come in a multiple of this, so that the workers end together
MIN_BATCH = 100  # a run of fewer reminders is one job
CHANNEL = "root.relance.signature"
MAIL_TEMPLATE = "relance_atys.mail_template_relance_signature"
DEFAULT_REPORT = "sale.action_report_saleorder"
LAYOUT = "mail.mail_notification_layout_with_responsible_signature"
# The quotations a run takes, by their state (``options['condition']``)
CONDITIONS = [
    ("draft", "Not yet sent electronically"),
    ("sent", "Already sent"),
    ("any", "Any"),
]
# A run's options (the wizard's fields, records as they are: _check_options, _remind);
# its many2many filters, each checked readable by its user
OPTIONS = (
    *("date", "date_from", "date_to", "template_ids", "category_ids", "partner_ids"),
    *("order_ids", "condition", "attach_pdf", "report_id"),
)
FILTERS = ("partner_ids", "category_ids", "template_ids", "order_ids")


class Candidate(NamedTuple):
    """A quotation waiting for a signature, as the gathering reads it."""

    order_id: int
    partner_id: int
    commercial_id: int
    created: date
    level: int
    last_date: date | None
    recipient_id: int | None
    send_doc: bool
    selected: bool


class RelanceSignatureService(models.AbstractModel):
    _name = "relance.signature.service"
    _description = "Signature reminders"

    def _job_prepare_context_before_enqueue_keys(self):
        # a PDF the click asked printed for real (tests) is printed so in the job
        return (*super()._job_prepare_context_before_enqueue_keys(), "force_report_rendering")

    # -- options ---------------------------------------------------------------

    @api.model
    def _default_report(self):
        return self.env.ref(DEFAULT_REPORT, raise_if_not_found=False)

    @api.model
    def _default_options(self, as_of):
        """The options of a run nobody set: the scheduled one."""
        SaleOrder, Tags = self.env["sale.order"], self.env["res.partner.category"]
        return {
            "date": as_of,
            "date_from": False,
            "date_to": False,
            "template_ids": self.env["sale.order.template"],
            "category_ids": Tags,
            "partner_ids": self.env["res.partner"],
            "order_ids": SaleOrder,
            "condition": "any",
            "attach_pdf": True,
            "report_id": self._default_report(),
        }

    # -- gathering -----------------------------------------------------------

    @api.model
    def _domain(self, company):
        """Quotations of ``company`` waiting for their customer's signature."""
        return [
            ("company_id", "=", company.id),
            ("require_signature", "=", True),
            ("signature", "=", False),
            ("state", "in", ("draft", "sent")),
        ]

    @api.model
    def _tz(self):
        return pytz.timezone(self.env.context.get("tz") or self.env.user.tz or "UTC")

    @api.model
    def _day_start(self, day):
        """The UTC instant a local ``day`` starts at, to compare with create_date."""
        start = self._tz().localize(datetime.combine(day, time.min))
        return start.astimezone(pytz.UTC).replace(tzinfo=None)

    @api.model
    def _filter_domain(self, options):
        """The run's filters; quotations failing them are reported "filtered out"."""
        domain = []
        if options.get("date_from"):
            domain.append(("create_date", ">=", self._day_start(options["date_from"])))
        if options.get("date_to"):
            end = self._day_start(options["date_to"] + timedelta(days=1))
            domain.append(("create_date", "<", end))
        if options.get("template_ids"):
            domain.append(("sale_order_template_id", "in", options["template_ids"].ids))
        if options.get("category_ids"):
            categories = options["category_ids"].ids
            domain.append(("partner_id.commercial_partner_id.category_id", "in", categories))
        if options.get("partner_ids"):
            domain.append(("partner_id", "child_of", options["partner_ids"].ids))
        if options.get("condition") in ("draft", "sent"):
            domain.append(("state", "=", options["condition"]))
        return domain

    @api.model
    def _candidates(self, company, options):
        """Every quotation of ``company`` waiting for a signature, in one query.

        With ``order_ids`` in the options, only those. The recipient is the
        quotation's partner when it has an email, else its commercial partner.
        """
        SaleOrder, Partner = self.env["sale.order"], self.env["res.partner"]
        domain = self._domain(company)
        if options.get("order_ids"):
            domain = expression.AND([domain, [("id", "in", options["order_ids"].ids)]])
        query = SaleOrder._search(domain, order="id")
        partner = self._join_partner(query, SaleOrder, "sale_order", "partner_id")
        commercial = self._join_partner(query, Partner, partner, "commercial_partner_id")
        filters = self._filter_domain(options)
        rows = self.env.execute_query(
            query.select(
                SQL.identifier("sale_order", "id"),
                SQL.identifier(partner, "id"),
                SQL.identifier(commercial, "id"),
                self._created_sql(query),
                *self._reminded_sql(query),
                SQL(
                    "CASE WHEN %s > '' THEN %s WHEN %s > '' THEN %s END",
                    Partner._field_to_sql(partner, "email", query),
                    SQL.identifier(partner, "id"),
                    Partner._field_to_sql(commercial, "email", query),
                    SQL.identifier(commercial, "id"),
                ),
                SQL(
                    "COALESCE(%s, FALSE)",
                    Partner._field_to_sql(commercial, "relance_send_doc", query),
                ),
                SQL("sale_order.id IN %s", SaleOrder._search(filters).subselect())
                if filters
                else SQL("TRUE"),
            )
        )
        return [Candidate(*row) for row in rows]

    @api.model
    def _join_partner(self, query, model, alias, fname):
        """JOIN res_partner on ``alias.fname``, a field flushed before the query runs."""
        joined = query.make_alias(alias, fname)
        condition = SQL(
            "%s = %s", SQL.identifier(joined, "id"), model._field_to_sql(alias, fname, query)
        )
        query.add_join("JOIN", joined, "res_partner", condition)
        return joined

    # -- deciding ------------------------------------------------------------

    @api.model
    def _thresholds(self, company):
        return signature.Thresholds(
            first=company.relance_sign_first_days,
            second=company.relance_sign_second_days,
            repeat=company.relance_sign_repeat_days,
            min_interval=company.relance_sign_min_interval,
        )

    @api.model
    def _decision(self, candidate, as_of, thresholds):
        reason = signature.screen(
            candidate.selected, bool(candidate.recipient_id), candidate.send_doc
        )
        if reason:
            return signature.Decision(reason=reason)
        return signature.decide(
            candidate.created, candidate.level, candidate.last_date, as_of, thresholds
        )

    @api.model
    def _propose(self, company, options):
        """What a run with ``options`` would do: [(candidate, decision)]."""
        thresholds = self._thresholds(company)
        return [
            (candidate, self._decision(candidate, options["date"], thresholds))
            for candidate in self._candidates(company, options)
        ]

    @api.model
    def _preview(self, company, options):
        """Use case: the preview of a run with ``options``: a line per quotation, what
        would be sent and what skipped, and why (the wizard's preview lines' values)."""
        reasons = self._reasons()
        return [
            {
                "order_id": candidate.order_id,
                "partner_id": candidate.partner_id,
                "recipient_id": candidate.recipient_id,
                "age": signature.age_in_days(candidate.created, options["date"]),
                "level": candidate.level,
                "new_level": decision.level or candidate.level,
                "will_send": decision.due,
                "reason": reasons.get(decision.reason, False),
            }
            for candidate, decision in self._propose(company, options)
        ]

    def _check_options(self, company, options):
        """Refuse options a run cannot be made on, with a clear message: an inverted
        creation period, a PDF without its quotation report, customers of another
        company, quotations chosen by hand that wait for no signature."""
        date_from, date_to = options.get("date_from"), options.get("date_to")
        if date_from and date_to and date_from > date_to:
            raise UserError(
                self.env._("The creation period is inverted: 'Created from' is after 'Created to'.")
            )
        report = options.get("report_id")
        if options.get("attach_pdf") and not report:
            raise UserError(self.env._("Choose the report that prints the PDF to attach."))
        if options.get("attach_pdf") and report.model != "sale.order":
            raise UserError(self.env._("The report %s does not print quotations.", report.name))
        partners = options.get("partner_ids") or self.env["res.partner"]
        self.env["relance.service"]._check_partners_company(company, partners)
        self._check_waiting(company, options.get("order_ids") or self.env["sale.order"])

    def _check_preview_lines(self, lines):
        """Refuse preview ``lines`` that do not show a quotation of their wizard's
        company with its own customer, or one the user cannot read."""
        for line in lines.sudo():
            order = line.order_id
            if order.company_id != line.wizard_id.company_id or not (
                line.partner_id | line.recipient_id
            ) <= (order.partner_id | order.partner_id.commercial_partner_id):
                raise UserError(
                    self.env._(
                        "A preview line must show a quotation of the wizard's company, "
                        "with its own customer."
                    )
                )
        if not self.env.su:
            lines.order_id.check_access("read")

    def _check_waiting(self, company, orders):
        """Quotations chosen by hand must all be waiting for a signature."""
        not_waiting = orders - orders.filtered_domain(self._domain(company))
        if not_waiting:
            raise UserError(
                self.env._(
                    "These quotations do not wait for a signature (signed, not asking "
                    "for one, no longer a quotation, or of another company): %s",
                    ", ".join(not_waiting.mapped("name")),
                )
            )

    @api.model
    def _reasons(self):
        return {
            signature.R_FILTERED: self.env._("outside the filters"),
            signature.R_NO_EMAIL: self.env._("no email address"),
            signature.R_NO_SEND_DOC: self.env._("customer without 'Send documents by email'"),
            signature.R_NOT_DUE: self.env._("not due yet"),
            signature.R_TOO_RECENT: self.env._("last reminder too recent"),
            signature.R_NOT_WAITING: self.env._("no longer waiting for a signature"),
        }

    # -- the use case: record the run, queue its batches -----------------------

    @api.model
    def _remind(self, company, options):
        """Remind ``company``'s quotations due under ``options``; return the run.

        The click's part: refused at once if another signature run at work
        holds these quotations; else the run recorded "queued" and the job that
        gathers it (``_gather``) enqueued, in the click's transaction.
        """
        service = self.with_company(company)
        service._check_not_held(company, options)
        run = service._create_run(company, options, 0)
        service.with_delay(
            channel=CHANNEL,
            priority=5,  # before the batches of runs already at work
            description=self.env._("Signature reminders %(run)s: gathering", run=run.name),
            identity_key=f"relance.signature:{run.id}:gather",
        )._gather(run, options)
        return run

    @api.model
    def _check_not_held(self, company, options):
        """Refuse a run on quotations another signature run of ``company`` still
        holds: one queued or running with a line of them still planned, or not
        gathered yet (its quotations unknown until its job reads them)."""
        order_ids = options.get("order_ids")
        only = SQL(" AND l.order_id IN %s", tuple(order_ids.ids)) if order_ids else SQL()
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                """
                SELECT r.name FROM relance_run r
                 WHERE r.run_type = 'signature' AND r.company_id = %s
                   AND r.state IN ('queued', 'running')
                   AND (NOT EXISTS (SELECT 1 FROM relance_run_line l WHERE l.run_id = r.id)
                        OR EXISTS (SELECT 1 FROM relance_run_line l
                                    WHERE l.run_id = r.id AND l.outcome = 'planned'%s))
                 ORDER BY r.id
                """,
                company.id,
                only,
            )
        )
        if rows:
            raise UserError(
                self.env._(
                    "Run %s is sending signature reminders for these quotations in the "
                    "background: wait until it has finished, then send again.",
                    ", ".join(name for (name,) in rows),
                )
            )

    @api.model
    def _gather(self, run, options):
        """The job that gathers ``run``: a line per quotation (skipped ones with
        their reason, due ones planned) and one job per batch (``_batches``) of due
        quotations, in this job's transaction; with none due, the run is done.
        Run again (its worker killed after its commit), it finds the run's lines
        and does nothing."""
        self.env["relance.service"]._hold_job()  # a dead worker's job is queued again
        run = run.sudo()
        if self._gathered_already(run):
            return
        company = run.company_id
        service = self.with_company(company)
        proposal = service._propose(company, options)
        due = sum(1 for _candidate, decision in proposal if decision.due)
        run.write({"progress_total": due, "state": "running" if due else "done"})
        reasons = service._reasons()
        vals_list = [
            service._line_vals(candidate, decision, options["date"], reasons)
            for candidate, decision in proposal
        ]
        lines = self.env["relance.service"]._insert_run_lines(run, vals_list)
        planned = [
            (candidate.recipient_id, line.id)
            for line, vals, (candidate, _decision) in zip(lines, vals_list, proposal, strict=True)
            if vals["outcome"] == "planned"
        ]
        report = options.get("attach_pdf") and options.get("report_id")
        report = report or self.env["ir.actions.report"]
        for batch in self._batches(planned):
            batch = lines.browse(batch)
            service.with_delay(
                channel=CHANNEL,
                description=self.env._("Signature reminders %(run)s", run=run.name),
                identity_key=f"relance.signature:{run.id}:{batch[0].id}",
            )._send_batch(run, batch, report)
        if not due:
            self._notify_end(run)

    def _gathered_already(self, run):
        """Lock ``run`` (one gathering at a time); whether it has its lines already
        (a job run again) or is no longer to gather."""
        self.env.cr.execute("SELECT id FROM relance_run WHERE id = %s FOR UPDATE", [run.id])
        self.env.cr.execute("SELECT 1 FROM relance_run_line WHERE run_id = %s LIMIT 1", [run.id])
        return bool(self.env.cr.fetchone()) or run.state not in ("queued", "running")

    @staticmethod
    def _batches(planned):
        """Line ids in batches of at most about BATCH_SIZE, of even sizes, as
        many as a multiple of JOB_WORKERS so that the job workers finish together
        (a run of fewer than JOB_WORKERS * MIN_BATCH in fewer); each recipient's
        in one batch: the batches' jobs, in parallel,
        never write the same customer (Odoo's mail layout writes the recipient's
        sign-up type; two jobs writing one customer, one of them fails and is
        retried)."""
        jobs = max(-(-len(planned) // BATCH_SIZE), min(JOB_WORKERS, len(planned) // MIN_BATCH))
        if jobs > 1:
            jobs = -(-jobs // JOB_WORKERS) * JOB_WORKERS
        size = -(-len(planned) // jobs) if jobs else BATCH_SIZE
        batches, batch, last = [], [], None
        for recipient_id, line_id in sorted(planned, key=lambda pair: (pair[0] or 0, pair[1])):
            if len(batch) >= size and recipient_id != last:
                batches.append(batch)
                batch = []
            batch.append(line_id)
            last = recipient_id
        return [*batches, batch] if batch else batches

    @api.model
    def _create_run(self, company, options, total):
        return (
            self.env["relance.run"]
            .sudo()
            .create(
                {
                    "run_type": "signature",
                    "company_id": company.id,
                    "date": options["date"],
                    "state": "queued",
                    "progress_total": total,
                    "parameters": self.env["relance.service"]._parameters_text(options),
                }
            )
        )

    @api.model
    def _line_vals(self, candidate, decision, as_of, reasons):
        return {
            "order_id": candidate.order_id,
            "partner_id": candidate.commercial_id,
            "level_before": candidate.level,
            "level_after": decision.level if decision.due else candidate.level,
            "date_before": candidate.last_date,
            "date_after": as_of if decision.due else candidate.last_date,
            "channel": "email" if decision.due else "none",
            "outcome": "planned" if decision.due else "skipped",
            "reason": reasons.get(decision.reason, False),
        }

    # -- a batch, in its job -----------------------------------------------------

    @api.model
    def _send_batch(self, run, lines, report):
        """The job of one batch: send the reminders of ``lines`` still planned.

        Idempotent: the lines are locked and only the planned ones are sent,
        their outcome written with their mail in the job's transaction. The
        batch is sent whole, in a fixed number of queries; should any of its
        quotations fail, it is sent again one quotation at a time, so that the
        failing one is recorded as failed and the others go.
        """
        self.env["relance.service"]._hold_job()  # a dead worker's job is queued again
        lines = self._lock_planned(lines)
        if not lines:  # done already: counted again, in case its count was lost
            self._on_run_row(run, self._count_progress)
            return
        run = run.sudo()
        self._on_run_row(run, self._mark_running, now=True)
        as_of = run.date
        template = self._template()
        reasons = self._reasons()
        decided = self._redecide(run.company_id, self._line_candidates(run, lines), as_of)
        due = [(candidate, decision) for candidate, decision in decided if decision.due]
        sent = self._send_whole(due, as_of, template, report)
        line_by_order = {line.order_id.id: line for line in lines}
        results = []
        for candidate, decision in decided:
            vals = self._line_vals(candidate, decision, as_of, reasons)
            if decision.due:
                vals["outcome"] = "queued"  # "sent" once its mail leaves (relance.mailer)
                vals.update(
                    sent.get(candidate.order_id)
                    or self._send_one(candidate, decision.level, as_of, template, report)
                )
            results.append((line_by_order[candidate.order_id], vals))
        self._write_results(results)
        self._refresh_small_tables()
        self._on_run_row(run, self._count_progress)

    def _write_results(self, results):
        """Write the values of each line of a batch ([(line, vals)]), their mails
        linked to the messages first (``_link_mails``)."""
        self._link_mails([vals for _line, vals in results])
        for line, vals in results:
            line.write(vals)
        self.env.flush_all()

    def _send_whole(self, due, as_of, template, report):
        """The reminders ``due`` (candidate, decision) of a batch sent at once
        (``_send_all``): {order id: its mail's values}; empty when none is due, or
        when one of them failed (the batch then goes one quotation at a time)."""
        if not due:
            return {}
        try:
            with self.env.cr.savepoint():
                send = self.with_context(relance_batch_send=True)._send_all
                return send(due, as_of, template, report)
        except Exception:  # one quotation never stops the run: one by one then
            _logger.info("Signature reminders: a batch failed, sent one by one", exc_info=True)
            return {}

    def _refresh_small_tables(self):
        """The statistics of the mail tables still small refreshed (``_small_tables``)."""
        small = self._small_tables()
        if small:
            self.env["relance.service"]._refresh_statistics(small)

    @api.model
    def _lock_planned(self, lines):
        """Lock ``lines`` and return those still planned (a batch run again
        finds the lines it has already sent done)."""
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                "SELECT id FROM relance_run_line WHERE id IN %s AND outcome = 'planned' "
                "ORDER BY id FOR UPDATE",
                tuple(lines.ids),
            )
        )
        lines.invalidate_recordset()
        return lines.sudo().browse([line_id for (line_id,) in rows])

    def _on_run_row(self, run, step, now=False):
        """Run ``step(run)`` on the run's row in a short transaction of its own,
        once this job's work is committed (or ``now``): READ COMMITTED, it waits
        for the other batches' jobs instead of failing on their update of the
        row, as the job's own REPEATABLE READ transaction would. In tests, at
        once, in the test's transaction."""
        if self.env["relance.service"]._in_test_mode():
            step(run)
            return
        run_id, uid, context = run.id, self.env.uid, dict(self.env.context)

        def in_its_own_transaction():
            with self.env.registry.cursor() as cr:
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                env = api.Environment(cr, uid, context)
                step(env["relance.run"].sudo().browse(run_id))

        if now:
            in_its_own_transaction()
        else:
            self.env.cr.postcommit.add(in_its_own_transaction)

    @api.model
    def _mark_running(self, run):
        """The run's state, queued -> running, as its first job starts."""
        run.env.cr.execute(
            "UPDATE relance_run SET state = 'running' WHERE id = %s AND state = 'queued'",
            [run.id],
        )
        run.invalidate_recordset(["state"])

    @api.model
    def _count_progress(self, run):
        """Count the quotations the jobs have processed (the run's lines no longer
        planned); the last job's count sets the run's end state and tells its user.
        A job run again counts again, without counting twice."""
        run.env.cr.execute(
            "UPDATE relance_run SET progress_done = progress_total - ("
            " SELECT COUNT(*) FROM relance_run_line WHERE run_id = %s AND outcome = 'planned'),"
            " state = CASE WHEN state = 'queued' THEN 'running' ELSE state END"
            " WHERE id = %s RETURNING progress_done, progress_total, state",
            [run.id, run.id],
        )
        done, total, state = run.env.cr.fetchone()
        run.invalidate_recordset(["progress_done", "progress_text", "state"])
        if done < total or state != "running":
            return
        Lines = run.env["relance.run.line"].sudo()
        failed = Lines.search_count([("run_id", "=", run.id), ("outcome", "=", "failed")])
        if not failed:
            run.state = "done"
        elif failed < total:
            run.state = "partial"
        else:
            run.state = "failed"
        self.with_env(run.env)._notify_end(run)

    @api.model
    def _line_candidates(self, run, lines):
        """The candidates of ``lines`` as they are now; a quotation no longer
        waiting keeps what its line says (and is skipped)."""
        orders = lines.order_id
        fresh = {
            candidate.order_id: candidate
            for candidate in self._candidates(run.company_id, {"order_ids": orders})
        }
        return [
            fresh.get(line.order_id.id)
            or Candidate(
                order_id=line.order_id.id,
                partner_id=line.order_id.partner_id.id,
                commercial_id=line.partner_id.id,
                created=None,
                level=line.level_before,
                last_date=line.date_before,
                recipient_id=None,
                send_doc=True,
                selected=True,
            )
            for line in lines
        ]

    @api.model
    def _notify_end(self, run):
        labels = dict(run._fields["state"]._description_selection(run.env))
        run.user_id._bus_send(
            "simple_notification",
            {
                "type": "success" if run.state == "done" else "warning",
                "title": self.env._("Signature reminders"),
                "message": self.env._(
                    "%(run)s: %(state)s, %(progress)s.",
                    run=run.name,
                    state=labels[run.state],
                    progress=run.progress_text or self.env._("nothing due"),
                ),
            },
        )

    @api.model
    def _jobs_failed(self, jobs):
        """queue_job gave up gathering a run: the run failed (it holds no
        quotation any more); its user is told."""
        for job in jobs:
            if (job.model_name, job.method_name) != (self._name, "_gather") or not job.args:
                continue
            run = job.args[0].sudo()
            if run.state in ("queued", "running") and not run.line_ids:
                run.state = "failed"
                self._notify_end(run)

    @api.model
    def _small_tables(self):
        """The mail tables too small yet for PostgreSQL to look rows up by index.

        PostgreSQL checks the foreign keys of each new mail, notification and
        run line with a plan made once per connection, when the mail queue was
        nearly empty (as it is where mails are deleted once sent), and keeps
        it: a scan of the whole queue per row, so that a run of thousands of
        reminders took minutes in these checks alone. Their statistics
        refreshed by the first batches (until the tables are large enough), every
        worker's connection plans index lookups for the rest of the run. Return
        the names of their models.
        """
        models_by_table = {
            self.env[name]._table: name
            for name in ("mail.mail", "mail.message", "mail.notification")
        }
        self.env.cr.execute(
            "SELECT relname FROM pg_class WHERE relname IN %s AND relkind = 'r' AND reltuples < %s",
            [tuple(models_by_table), 10_000],
        )
        return tuple(models_by_table[name] for (name,) in self.env.cr.fetchall())

    @api.model
    def _lock(self, company, order_ids):
        """Lock the quotations still waiting; their current level and last date."""
        SaleOrder = self.env["sale.order"]
        query = SaleOrder._search(
            expression.AND([self._domain(company), [("id", "in", order_ids)]])
        )
        rows = self.env.execute_query(
            SQL(
                "%s FOR UPDATE OF sale_order",
                query.select(
                    SQL.identifier("sale_order", "id"),
                    *self._reminded_sql(query),
                ),
            )
        )
        return {order_id: (level, last_date) for order_id, level, last_date in rows}

    @api.model
    def _created_sql(self, query):
        """A quotation's day of creation in the user's time zone, as SQL on ``query``."""
        created = self.env["sale.order"]._field_to_sql("sale_order", "create_date", query)
        return SQL("(%s AT TIME ZONE 'UTC' AT TIME ZONE %s)::date", created, self._tz().zone)

    @api.model
    def _reminded_sql(self, query):
        """A quotation's reminders so far, as SQL on ``query`` (of sale_order): its
        level (0 when none) and the date of its last one."""
        SaleOrder = self.env["sale.order"]
        level = SaleOrder._field_to_sql("sale_order", "relance_sign_level", query)
        return SQL("COALESCE(%s, 0)", level), SaleOrder._field_to_sql(
            "sale_order", "relance_sign_date", query
        )

    @api.model
    def _redecide(self, company, candidates, as_of):
        """Lock the batch and decide again on the level each quotation has now."""
        current = self._lock(company, [c.order_id for c in candidates])
        thresholds = self._thresholds(company)
        decided = []
        for candidate in candidates:
            if candidate.order_id in current:
                level, last_date = current[candidate.order_id]
                candidate = candidate._replace(level=level, last_date=last_date)
                decision = self._decision(candidate, as_of, thresholds)
            else:
                decision = signature.Decision(reason=signature.R_NOT_WAITING)
            decided.append((candidate, decision))
        return decided

    @api.model
    def _template(self):
        template = self.env.ref(MAIL_TEMPLATE, raise_if_not_found=False)
        if not template:
            raise UserError(
                self.env._(
                    "The signature reminder mail template is missing: upgrade the "
                    "Dunning module to restore it."
                )
            )
        return template

    # -- sending: many at once, as message_post would one by one -------------------

    @api.model
    def _send_all(self, due, as_of, template, report):
        """Record the levels and queue the mails of ``due``, [(candidate, decision)].

        What `message_post` does for one quotation, done for all of them at once:
        the template and the layout rendered per quotation, the messages, mails
        and notifications created in one go each. Only the recipient is
        notified, by email; a recipient who reads Odoo's inbox instead is left
        to `message_post` (one by one). Return {order_id: line values}.
        """
        recipients = self._recipients_data(due)
        plain = [
            (candidate, decision)
            for candidate, decision in due
            if recipients[candidate.recipient_id]["notif"] == "email"
        ]
        if not plain:
            return {}
        SaleOrder = self.env["sale.order"]
        orders = SaleOrder.browse([candidate.order_id for candidate, _decision in plain])
        recipient_ids = [candidate.recipient_id for candidate, _decision in plain]
        by_level = {}
        for candidate, decision in plain:
            by_level.setdefault(decision.level, []).append(candidate.order_id)
        for level, order_ids in by_level.items():
            SaleOrder.browse(order_ids).write(
                {"relance_sign_level": level, "relance_sign_date": as_of}
            )
        for order in orders.with_context(tracking_disable=True):  # no field tracked
            order._portal_ensure_token()
        rendered = template.with_env(self.env)._generate_template(
            orders.ids, ("subject", "body_html", "email_from", "lang")
        )
        attachments = {}
        if report:
            attachments = {order.id: self._pdf(order, report, order) for order in orders}
        messages = self._messages(orders, recipient_ids, rendered, template, attachments)
        mails = self._mails(orders, recipient_ids, messages, rendered, recipients, template)
        return {
            order.id: {"message_id": message.id, "mail_id": mail.id}
            for order, message, mail in zip(orders, messages, mails, strict=True)
        }

    @api.model
    def _recipients_data(self, due):
        """How each recipient is notified, as `message_post` would see it: one query."""
        recipient_ids = {candidate.recipient_id for candidate, _decision in due}
        return self.env["mail.followers"]._get_recipient_data(
            None, "comment", self.env.ref("mail.mt_comment").id, pids=list(recipient_ids)
        )[0]

    @api.model
    def _messages(self, orders, recipient_ids, rendered, template, attachments):
        """The chatter messages of ``orders``, in their order, authored as
        `message_post` authors them: per sender, its author and reply-to."""
        authors, reply_tos = self._authors(orders, rendered)
        alias_domains = orders.sudo()._mail_get_alias_domains(default_company=self.env.company)
        companies = orders._mail_get_companies(default=self.env.company)
        subtype_id = self.env.ref("mail.mt_comment").id
        parents = self._first_messages(orders)
        self._subscribe_recipients(orders, recipient_ids)
        vals_list = []
        for order, recipient_id in zip(orders, recipient_ids, strict=True):
            values = rendered[order.id]
            author_id, email_from = authors[order.id]
            attachment = attachments.get(order.id)
            vals_list.append(
                {
                    "model": orders._name,
                    "res_id": order.id,
                    "record_name": order.sudo().display_name,
                    "message_type": "comment",
                    "subtype_id": subtype_id,
                    "author_id": author_id,
                    "email_from": email_from,
                    "reply_to": reply_tos[order.id],
                    "parent_id": parents.get(order.id, False),
                    "subject": values.get("subject") or False,
                    "body": values.get("body_html") or "",
                    "partner_ids": [Command.link(recipient_id)],
                    "record_alias_domain_id": alias_domains[order.id].id,
                    "record_company_id": companies[order.id].id,
                    "email_layout_xmlid": LAYOUT,
                    "email_add_signature": False,
                    "mail_server_id": template.mail_server_id.id,
                    "attachment_ids": [Command.link(attachment.id)] if attachment else [],
                }
            )
        messages = self._create_messages(vals_list)
        self._subscribe_authors(orders, messages)
        return messages

    def _authors(self, orders, rendered):
        """The author of each quotation's reminder ({order id: (author id, email
        from)}) and its reply-to ({order id: address}), as `message_post` makes
        them, one sender (the rendered ``email_from``) at a time."""
        by_sender = {}
        for order in orders:
            by_sender.setdefault(rendered[order.id].get("email_from"), []).append(order.id)
        authors, reply_tos = {}, {}
        for sender, order_ids in by_sender.items():
            author_id, email_from = orders._message_compute_author(
                self.env.user.partner_id.id, sender
            )
            reply_tos.update(orders.browse(order_ids)._notify_get_reply_to(default=email_from))
            authors.update(dict.fromkeys(order_ids, (author_id, email_from)))
        return authors, reply_tos

    @api.model
    def _create_messages(self, vals_list):
        """Create the messages, each body sanitized once, as the field sanitizes
        it (Odoo's create sanitizes it twice: for the cache, then for the
        column). A body with an embedded image is left to Odoo's create, which
        makes an attachment of the image."""
        Messages = self.env["mail.message"].sudo()
        if any(IMAGE_DATA_URL.search(vals["body"]) for vals in vals_list):
            return Messages.create(vals_list)
        field = Messages._fields["body"]
        bodies = [field.convert_to_cache(vals.pop("body"), Messages) for vals in vals_list]
        messages = Messages.create(vals_list)
        self.env.flush_all()
        self.env.execute_query(
            SQL(
                "UPDATE mail_message SET body = v.body FROM (VALUES %s) AS v(id, body)"
                " WHERE mail_message.id = v.id",
                SQL(", ").join(
                    SQL("(%s, %s)", message_id, body)
                    for message_id, body in zip(messages.ids, bodies, strict=True)
                ),
            )
        )
        self.env.cache.update(messages, field, bodies)
        return messages

    @api.model
    def _first_messages(self, orders):
        """{order id: its first message}, the parent `message_post` gives a post
        on a flat thread, in one query."""
        rows = self.env.execute_query(
            SQL(
                "SELECT DISTINCT ON (res_id) res_id, id FROM mail_message"
                " WHERE model = %s AND res_id IN %s AND message_type != 'user_notification'"
                " ORDER BY res_id, id",
                orders._name,
                tuple(orders.ids),
            )
        )
        return dict(rows)

    @api.model
    def _subscribe_recipients(self, orders, recipient_ids):
        """Each recipient follows its quotation, as `message_post` on a quotation
        subscribes those it writes to (``mail_post_autofollow``): one search,
        one create."""
        Followers = self.env["mail.followers"].sudo()
        pairs = set(zip(orders.ids, recipient_ids, strict=True))
        existing = Followers.search_fetch(
            [
                ("res_model", "=", orders._name),
                ("res_id", "in", orders.ids),
                ("partner_id", "in", list(set(recipient_ids))),
            ],
            ["res_id", "partner_id"],
        )
        pairs -= {(follower.res_id, follower.partner_id.id) for follower in existing}
        if not pairs:
            return
        default, _internal, external = self.env["mail.message.subtype"].default_subtypes(
            orders._name
        )
        customers = set(
            self.env["res.partner"]
            .sudo()
            .search([("id", "in", list(set(recipient_ids))), ("partner_share", "=", True)])
            .ids
        )
        Followers.create(
            [
                {
                    "res_model": orders._name,
                    "res_id": order_id,
                    "partner_id": partner_id,
                    "subtype_ids": [
                        Command.set((external if partner_id in customers else default).ids)
                    ],
                }
                for order_id, partner_id in sorted(pairs)
            ]
        )

    @api.model
    def _subscribe_authors(self, orders, messages):
        """Who posts follows the quotation, to get the answers (as `message_post`)."""
        if self.env.user.active:
            orders._message_subscribe(partner_ids=self.env.user.partner_id.ids)
            return
        by_author = {}
        for order, message in zip(orders, messages):
            if message.author_id.active:
                by_author.setdefault(message.author_id.id, []).append(order.id)
        for author_id, order_ids in by_author.items():
            orders.browse(order_ids)._message_subscribe(partner_ids=[author_id])

    @api.model
    def _prepare_signup(self, orders):
        """Give the customers their sign-up type in one write, as each mail's
        "Accept & Sign" button would ask for it one customer at a time."""
        if self.env["res.users"].sudo()._get_signup_invitation_scope() != "b2c":
            return
        orders.partner_id.sudo().filtered(
            lambda partner: not partner.user_ids and partner.signup_type != "signup"
        ).signup_prepare()

    @api.model
    def _mails(self, orders, recipient_ids, messages, rendered, recipients, template):
        """Each message's mail in the layout of Odoo's notifications, queued; the
        mails in the order of ``orders``. The layout is rendered once for the
        quotations alike (``_layouts``)."""
        self._prepare_signup(orders)
        notices = [
            self._notice(order, recipient_id, message, rendered, recipients, template)
            for order, recipient_id, message in zip(orders, recipient_ids, messages, strict=True)
        ]
        bodies = self._layouts(notices)
        mail_vals = [
            notice["order"]._notify_by_email_get_final_mail_values(
                [notice["recipient"]["id"]], notice["base"], additional_values={"body_html": body}
            )
            for notice, body in zip(notices, bodies, strict=True)
        ]
        mails = self.env["mail.mail"].sudo().with_context(clean_context(self.env.context))
        mails = mails.create(mail_vals)
        self._notify_queued(mails)
        return mails

    @api.model
    def _notice(self, order, recipient_id, message, rendered, recipients, template):
        """What Odoo's notification by email computes for ``order``'s message but
        its layout: rendering values, base mail values, the recipient."""
        lang = rendered[order.id].get("lang") or self.env.lang
        order = order.with_context(lang=lang)
        description = self._model_description(order, lang)
        msg_vals = {
            "model": order._name,
            "res_id": order.id,
            "author_id": message.author_id.id,
            "email_add_signature": False,
            "email_layout_xmlid": LAYOUT,
            "message_type": "comment",
            "subtype_id": message.subtype_id.id,
            "record_name": message.record_name,
            "partner_ids": [recipient_id],
            "tracking_value_ids": [],
        }
        return {
            "order": order,
            "message": message,
            "msg_vals": msg_vals,
            "description": description,
            "recipient": dict(recipients[recipient_id], lang=lang),
            "render_values": order._notify_by_email_prepare_rendering_context(
                message, msg_vals=msg_vals, model_description=description, force_email_lang=lang
            ),
            "base": order._notify_by_email_get_base_mail_values(
                message, additional_values={"auto_delete": template.auto_delete}
            ),
        }

    @api.model
    def _model_description(self, order, lang):
        key = ("relance_atys.model_description", order._name, lang)
        if key not in self.env.cr.cache:
            self.env.cr.cache[key] = order._get_model_description(order._name)
        return self.env.cr.cache[key]

    @api.model
    def _layouts(self, notices):
        """The mail body of each notice, in their order. The notices alike
        (``_layout_key``) share a stencil, the layout rendered once: the second
        of them is rendered whole by Odoo and compared with its filled stencil;
        where they differ (a layout customised to show more of the quotation),
        each of them is rendered by Odoo."""
        auth = self._signup_params(notices)
        alike = {}
        for index, notice in enumerate(notices):
            alike.setdefault(self._layout_key(notice), []).append(index)
        bodies = [None] * len(notices)
        for indexes in alike.values():
            stencil = None
            if len(indexes) > 1:
                stencilled, checked = indexes[0], indexes[1]
                stencil = self._stencil(notices[stencilled], auth)
                bodies[checked] = self._render_layout(notices[checked])
                if not mail_stencil.same_mail(
                    stencil.fill(self._texts(notices[checked], auth)), bodies[checked]
                ):
                    _logger.info("Signature reminders: the mail layout is rendered per mail")
                    stencil = None
                indexes = [stencilled, *indexes[2:]]
            for index in indexes:
                notice = notices[index]
                bodies[index] = (
                    stencil.fill(self._texts(notice, auth))
                    if stencil
                    else self._render_layout(notice)
                )
        return bodies

    @api.model
    def _layout_key(self, notice):
        """What makes two mails' layouts differ by more than their own texts."""
        order, values, recipient = notice["order"], notice["render_values"], notice["recipient"]
        return (
            values["lang"],
            values["company"].id,
            values["model_description"],
            str(values["signature"]),
            values["website_url"],
            values["is_discussion"],
            values["email_add_signature"],
            bool(values["tracking_values"]),
            len(values["subtitles"]),
            notice["message"].author_id.id,
            order.user_id.id,
            order.state,
            order._has_to_be_signed(),
            order._has_to_be_paid(),
            order.get_portal_last_transaction().state,
            recipient["id"] == order.partner_id.id,
            tuple((key, str(value)) for key, value in sorted(recipient.items()) if key != "id"),
        )

    @api.model
    def _render_layout(self, notice):
        """The layout of ``notice``'s mail as Odoo renders it, recipient classified."""
        order, message, msg_vals = notice["order"], notice["message"], notice["msg_vals"]
        group = self._recipient_group(notice)
        return order._notify_by_email_render_layout(
            message, group, msg_vals=msg_vals, render_values=notice["render_values"]
        )

    @api.model
    def _recipient_group(self, notice):
        groups = notice["order"]._notify_get_recipients_classify(
            notice["message"],
            [notice["recipient"]],
            notice["description"],
            msg_vals=notice["msg_vals"],
        )
        return next(group for group in groups if group["recipients"])

    @api.model
    def _stencil(self, notice, auth):
        """The layout of ``notice``'s mail rendered with markers for its own texts."""
        order, message = notice["order"], notice["message"]
        stencil = mail_stencil.Stencil(len(notice["render_values"]["subtitles"]))
        group = self._recipient_group(notice)
        if group.get("button_access", {}).get("url"):
            group = dict(group, button_access=dict(group["button_access"]))
            group["button_access"]["url"] = stencil.markers["url"]
        stencil.html = order._notify_by_email_render_layout(
            message,
            group,
            msg_vals=notice["msg_vals"],
            render_values=stencil.marked_values(message, notice["render_values"]),
        )
        return stencil

    @api.model
    def _texts(self, notice, auth):
        """The texts of ``notice``'s mail its stencil puts in."""
        url = self._access_url(notice, auth)
        return mail_stencil.texts(notice["message"], notice["render_values"], url)

    @api.model
    def _access_url(self, notice, auth):
        """The link of the mail's button, as Odoo makes it: signed for the
        quotation's customer (portal), plain for a follower."""
        order, msg_vals, partner_id = notice["order"], notice["msg_vals"], notice["recipient"]["id"]
        if partner_id != order.partner_id.id:
            return order._notify_get_action_link("view", **msg_vals)
        return order._notify_get_action_link(
            "view",
            **msg_vals,
            access_token=order.access_token,
            pid=partner_id,
            hash=order._sign_token(partner_id),
            **auth.get(partner_id, {}),
        )

    @api.model
    def _signup_params(self, notices):
        """The sign-up parameters of the quotations' customers' links, read once."""
        customers = self.env["res.partner"].browse(
            {notice["order"].partner_id.id for notice in notices}
        )
        return customers.sudo().signup_get_auth_param()

    def _notify_queued(self, mails):
        """The notifications of the queued ``mails``, read, ready to leave, as
        ``message_post`` leaves them."""
        self.env["mail.notification"].sudo().create(
            [
                {
                    "author_id": mail.author_id.id,
                    "is_read": True,
                    "mail_mail_id": mail.id,
                    "mail_message_id": mail.mail_message_id.id,
                    "notification_status": "ready",
                    "notification_type": "email",
                    "res_partner_id": partner.id,
                }
                for mail in mails
                for partner in mail.recipient_ids
            ]
        )

    # -- sending one by one --------------------------------------------------------

    @api.model
    def _send_one(self, candidate, level, as_of, template, report):
        """Record ``level`` and queue the mail, both or neither; return line values."""
        order = self.env["sale.order"].browse(candidate.order_id)
        try:
            with self.env.cr.savepoint():
                order.write({"relance_sign_level": level, "relance_sign_date": as_of})
                message = self._post(order, candidate.recipient_id, template, report)
        except Exception as error:  # one quotation never stops the run
            _logger.warning("Signature reminder of %s failed", order.name, exc_info=True)
            return {
                "outcome": "failed",
                "channel": "none",
                "level_after": candidate.level,
                "date_after": candidate.last_date,
                "reason": str(error),
            }
        return {"message_id": message.id}

    @api.model
    def _post(self, order, recipient_id, template, report):
        """Post the reminder on the quotation's chatter, its mail in the queue."""
        attachments = self._pdf(order, report) if report else self.env["ir.attachment"]
        return order.message_post_with_source(
            template,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            email_layout_xmlid=LAYOUT,
            partner_ids=[recipient_id],
            attachment_ids=attachments.ids,
            force_send=False,
        )

    @api.model
    def _pdf(self, order, report, owner=None):
        """``order`` printed by ``report``: an attachment of ``owner``, else of
        the composer (which gives it to the quotation when it posts)."""
        content, _format = self.env["ir.actions.report"]._render_qweb_pdf(report, order.ids)
        name = (
            safe_eval(report.print_report_name, {"object": order, "time": safe_time})
            if report.print_report_name
            else order._get_report_base_filename()
        )
        return self.env["ir.attachment"].create(
            {
                "name": f"{name}.pdf",
                "raw": content,
                "mimetype": "application/pdf",
                "res_model": owner._name if owner else "mail.compose.message",
                "res_id": owner.id if owner else 0,
            }
        )

    @api.model
    def _link_mails(self, lines):
        """Add to each line sent one by one the queued mail of its message, in one
        search (the lines sent in a batch know theirs)."""
        by_message = {
            line["message_id"]: line
            for line in lines
            if line.get("message_id") and not line.get("mail_id")
        }
        if not by_message:
            return
        mails = self.env["mail.mail"].sudo().search([("mail_message_id", "in", list(by_message))])
        for mail in mails:
            by_message[mail.mail_message_id.id]["mail_id"] = mail.id
        for line in by_message.values():
            if not line.get("mail_id"):  # delivered at once, to the recipient's Odoo inbox
                line["outcome"] = "sent"

    @api.model
    def _mails_failed(self, lines):
        """The quotations of ``lines`` whose reminder could not leave get their
        previous reminder level and date back, unless a later reminder moved them."""
        for line in lines:
            order = line.order_id.sudo()
            if (order.relance_sign_level, order.relance_sign_date) == (
                line.level_after,
                line.date_after,
            ):
                order.write(
                    {"relance_sign_level": line.level_before, "relance_sign_date": line.date_before}
                )

    # -- scheduled action ----------------------------------------------------

    @api.model
    def _cron(self, as_of=None):
        """Every company's reminders with the default options, in jobs; each
        company's run written in its language. A company whose previous run is
        still at work is left for the next time (a warning in the log)."""
        as_of = as_of or fields.Date.context_today(self)
        for company in self.env["res.company"].search([]):  # pylint: disable=no-search-all
            service = as_company(self, company)
            try:
                with self.env.cr.savepoint():
                    service._remind(company, service._default_options(as_of))
            except UserError as error:
                _logger.warning("Signature reminders of %s not started: %s", company.name, error)

"""Email runs in the background: batches, idempotence, failures, guards, progress."""

import io
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger
from odoo.tools.pdf import PdfFileReader

from .common import TODAY, RelanceCommon, jobs_performed, own_registry_lock, run_jobs
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.tests.common import trap_jobs

SERVICE = "odoo.addons.relance_atys.models.relance_service"


class LateCustomersCase(RelanceCommon):
    """Customers with one invoice 20 days late each; Odoo serves the letters' CSS."""

    def setUp(self):
        super().setUp()
        own_registry_lock(self)  # wkhtmltopdf fetches the letters' CSS from Odoo

    @classmethod
    def _late_customers(cls, name, count, **values):
        cls.customers = cls.env["res.partner"]
        cls.invoices = cls.env["account.move"]
        for index in range(count):
            customer = cls._customer(f"{name} {index}", **values)
            cls.customers |= customer
            cls.invoices |= cls._invoice(customer, 100.0 + index, 20)


@tagged("post_install", "-at_install")
class TestBackgroundRuns(LateCustomersCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._late_customers("Client Lot", 5)
        cls.Mail = cls.env["mail.mail"]

    def _start(self, batch_size=2):
        """Start an email run of the five customers, batches of ``batch_size``;
        return the run and the trap holding its jobs (not performed)."""
        wizard = self.env["relance.edition"].create(
            {"date": TODAY, "partner_ids": [(6, 0, self.customers.ids)]}
        )
        wizard.action_review()
        wizard.action_switch_mode()
        with mock.patch(f"{SERVICE}.BATCH_SIZE", batch_size), trap_jobs() as trap:
            action = wizard.action_send_emails()
        run = self.env["relance.run"].browse(action["params"]["next"]["res_id"])
        return run, trap

    def _mails(self):
        return self.Mail.search(
            [("model", "=", "res.partner"), ("res_id", "in", self.customers.ids)]
        )

    def _levels(self):
        return self.invoices.mapped("relance_level")

    def test_the_click_records_the_plan_and_enqueues_one_job_per_batch(self):
        run, trap = self._start()
        action_message = "Sending in the background: follow it in run"
        self.assertEqual(run.state, "queued")
        self.assertEqual((run.progress_total, run.progress_text), (5, "0 / 5 customers"))
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"planned"})
        self.assertEqual(sorted(set(run.line_ids.mapped("batch"))), [1, 2, 3])
        self.assertEqual(run.line_ids.mapped("level_after"), [2] * 5)
        self.assertEqual(self._levels(), [0] * 5, "no level before the mail is made")
        self.assertFalse(self._mails())
        jobs = trap.enqueued_jobs
        self.assertEqual(
            [(job.method_name, job.channel) for job in jobs],
            [("_send_batch", "root.relance.email")] * 3 + [("_finish_run", "root.relance")],
        )
        self.assertEqual(
            [job.identity_key for job in jobs],
            [f"relance.run({run.id}).{n}" for n in (1, 2, 3)] + [f"relance.run({run.id}).end"],
        )
        self.assertIn(run.name, jobs[0].description)
        self.assertTrue(action_message)

    def test_a_run_smaller_than_two_batches_is_cut_in_two(self):
        """Two job workers share a small run: five customers, batches of up to 50."""
        run, trap = self._start(batch_size=50)
        batches = run.line_ids.grouped("batch")
        self.assertEqual(sorted(batches), [1, 2])
        self.assertEqual(sorted(len(lines.partner_id) for lines in batches.values()), [2, 3])
        self.assertEqual(
            [job.method_name for job in trap.enqueued_jobs], ["_send_batch"] * 2 + ["_finish_run"]
        )

    def test_an_email_batch_stops_at_its_documents_cap(self):
        """Invoice PDFs are an email job's time: a batch closes before it would pass
        EMAIL_BATCH_DOCUMENTS documents (here 2: two customers of one invoice each)."""
        with mock.patch(f"{SERVICE}.EMAIL_BATCH_DOCUMENTS", 2):
            run, trap = self._start(batch_size=50)
        batches = run.line_ids.grouped("batch")
        self.assertEqual(sorted(batches), [1, 2, 3])
        self.assertEqual([len(batches[n].partner_id) for n in (1, 2, 3)], [2, 2, 1])
        self.assertEqual(len(trap.enqueued_jobs), 4, "three batches and the end")

    def test_batches_send_write_levels_and_close_the_run(self):
        run, trap = self._start()
        trap.enqueued_jobs[0].perform()
        self.assertEqual(run.state, "running")
        run.invalidate_recordset(["progress_text"])
        self.assertEqual(run.progress_text, "2 / 5 customers")
        self.assertEqual(len(self._mails()), 2)
        self.assertEqual(self._levels(), [2, 2, 0, 0, 0])
        run_jobs(trap)
        self.assertEqual((run.state, run.progress_done), ("done", 5))
        self.assertEqual(len(self._mails()), 5, "one mail per customer")
        self.assertEqual(self._levels(), [2] * 5)
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"queued"})
        for customer in self.customers:
            self.assertEqual(customer.with_company(self.company).relance_level, 2)

    def test_a_batch_run_twice_mails_nobody_twice(self):
        """After a worker died, queue_job runs the batch again: nothing twice."""
        run, trap = self._start()
        batch = trap.enqueued_jobs[0]
        batch.perform()
        mails = self._mails()
        written = self.invoices[:2].mapped("write_date")
        self.env.invalidate_all()
        # the job's lock, the look for dead jobs, the run's state, the batch's lines;
        # then nothing to do
        with self.assertQueryCount(5):
            result = batch.perform()
        self.assertEqual(result, "nothing left to do")
        self.assertEqual(self._mails(), mails)
        self.assertEqual(self.invoices[:2].mapped("write_date"), written, "levels written once")

    def test_a_customer_whose_mail_cannot_be_made_gets_no_level(self):
        run, trap = self._start(batch_size=5)
        mailer = type(self.env["relance.mailer"])
        render = mailer._run_mail_values
        broken = self.customers[1]

        def fake(self, run, partner, *args):
            if partner == broken:
                raise UserError("template error for this customer")
            return render(self, run, partner, *args)

        with mock.patch.object(mailer, "_run_mail_values", fake):
            run_jobs(trap)
        lines = run.line_ids.filtered(lambda line: line.partner_id == broken)
        self.assertEqual(
            (lines.outcome, lines.reason), ("failed", "template error for this customer")
        )
        self.assertEqual(self._levels(), [2, 0, 2, 2, 2])
        self.assertEqual(broken.with_company(self.company).relance_level, 0)
        self.assertEqual(len(self._mails()), 4)
        self.assertEqual(run.state, "partial")

    def test_a_batch_queries_the_same_whatever_its_customers_and_documents(self):
        """A batch's mails are rendered one by one but read, created and recorded
        together: its queries do not grow with its customers nor their documents."""
        for customer in self.customers[2:4]:  # the second batch: two customers, 3 invoices each
            self.invoices |= self._invoice(customer, 40.0, 20) | self._invoice(customer, 60.0, 25)
        self.invoices._relance_invoice_pdfs()  # stored: the printing is counted below
        run, trap = self._start()
        first, second, third = trap.enqueued_jobs[:3]
        first.perform()  # the run marked running, the caches warm
        counts = []
        for job in (second, third):  # 2 customers and 6 invoices, then 1 and 1
            self.env.invalidate_all()
            queries = self.cr.sql_log_count
            job.perform()
            counts.append(self.cr.sql_log_count - queries)
        self.assertEqual(counts[0], counts[1], "the same queries for 2 customers as for 1")
        self.assertEqual(len(self._mails()), 5)
        self.assertEqual(run.line_ids.mapped("outcome"), ["queued"] * 9)

    def test_printing_queries_one_more_per_invoice_only_for_odoos_payments(self):
        """Printing invoice PDFs: Odoo's payments widget asks one query per invoice
        (``_get_all_reconciled_invoice_partials``); nothing else grows with them."""
        self.invoices[4:]._relance_invoice_pdfs()  # the report's template compiled
        counts = []
        for invoices in (self.invoices[:1], self.invoices[1:4]):
            self.env.invalidate_all()
            queries = self.cr.sql_log_count
            invoices._relance_invoice_pdfs()
            counts.append(self.cr.sql_log_count - queries)
        self.assertEqual(counts[1] - counts[0], 2, "1 and 3 invoices: two queries apart")

    def test_a_job_given_up_marks_its_customers_failed(self):
        """queue_job gives a batch up: its customers failed with the reason, their levels
        untouched, the other batches sent, the run done with failures."""
        with mute_logger("odoo.addons.queue_job.models.queue_job"):
            run, _trap = self._start()
            self.env["queue.job"].sudo().search([]).unlink()
            # the jobs stored, as the job runner finds them
            service = self.env["relance.service"]
            mailer = self.env["relance.mailer"]
            service._enqueue_run(run, mailer, "_send_batch", "root.relance.email", "mails")
            jobs = self.env["queue.job"].sudo().search([], order="id")  # batches, then the end
            first = Job.load(self.env, jobs[0].uuid)
            with (
                mock.patch.object(
                    type(mailer), "_invoice_attachments", side_effect=RuntimeError("disk full")
                ),
                self.assertRaises(RuntimeError),
                self.env.cr.savepoint(),
            ):
                first.perform()
            # what queue_job's controller does with a job that raised
            first.set_failed(exc_message="disk full", exc_name="RuntimeError")
            first.store()
        failed = run.line_ids.filtered(lambda line: line.batch == 1)
        self.assertEqual(set(failed.mapped("outcome")), {"failed"})
        self.assertEqual(failed[0].reason, "Job failed: disk full")
        run_jobs([Job.load(self.env, job.uuid) for job in jobs[1:]])
        self.assertEqual(run.state, "partial")
        self.assertEqual(self._levels(), [0, 0, 2, 2, 2])
        self.assertEqual(len(self._mails()), 3)

    def test_the_end_waits_for_the_batches(self):
        run, trap = self._start()
        end = trap.enqueued_jobs[-1]
        with self.assertRaisesRegex(Exception, "batches still at work"):
            end.perform()
        self.assertEqual(run.state, "queued")

    def test_documents_held_by_a_run_are_refused_at_once(self):
        run, _trap = self._start()
        wizard = self.env["relance.edition"].create({"date": TODAY})
        wizard.action_review()
        wizard.action_switch_mode()
        with self.assertRaisesRegex(UserError, f"Run {run.name} is dunning some of these"):
            wizard.action_send_emails()
        letters = self.env["relance.edition"].create(
            {"date": TODAY, "definitive": True, "partner_ids": [(6, 0, self.customers[:1].ids)]}
        )
        letters.action_review()
        with self.assertRaisesRegex(UserError, run.name):
            letters.action_print_definitive()
        self.assertEqual(len(self.env["relance.run"].search([])), 1)

    def test_the_guard_comes_before_any_write_on_the_invoices(self):
        """Email mode's portal tokens are written by the jobs, after the guard: the
        click writes nothing on the documents (issue: a second run waited on them)."""
        self.invoices.access_token = False
        run, _trap = self._start()
        self.assertFalse(any(self.invoices.mapped("access_token")))
        self.assertTrue(run)

    def test_waiting_for_the_job_runner(self):
        run, _trap = self._start()
        # recorded now: PostgreSQL's now() is the start of the test class's
        # transaction, over a minute ago on a busy machine
        self.env.cr.execute(
            "UPDATE relance_run SET create_date = %s WHERE id = %s",
            [fields.Datetime.now(), run.id],
        )
        run.invalidate_recordset()
        self.assertFalse(run.waiting_text)
        self.env.cr.execute(
            "UPDATE relance_run SET create_date = %s WHERE id = %s",
            [fields.Datetime.now() - timedelta(minutes=2), run.id],
        )
        run.invalidate_recordset()
        self.assertIn("Waiting for the job runner", run.waiting_text)

    def _stored_batch_job(self):
        """A run and one of its batch jobs, stored as the runner would find it."""
        run, _trap = self._start()
        self.env["relance.service"]._enqueue_run(
            run, self.env["relance.mailer"], "_send_batch", "root.relance.email", "x"
        )
        job = self.env["queue.job"].sudo().search([("method_name", "=", "_send_batch")], limit=1)
        return run, job

    def _worker_dies(self, job):
        """``job`` left started by a worker that died a minute ago (before
        PostgreSQL's now(), which the check reads); the requeue finds it."""
        self.env.cr.execute(
            "UPDATE queue_job SET state = 'started',"
            " date_started = (now() at time zone 'UTC') - interval '1 minute' WHERE id = %s",
            [job.id],
        )
        with mute_logger(SERVICE):
            self.assertEqual(self.env["relance.service"]._requeue_dead_jobs(), 1)
        job.invalidate_recordset()

    def test_a_batch_through_wakes_the_end_once_committed(self):
        """The end job looks again every few seconds; a batch through makes it due at
        once, after its own commit (not inside its transaction: the end job rewrites
        its row at each look, a serialization failure for the batch)."""
        run, job = self._stored_batch_job()
        end = self.env["queue.job"].sudo().search([("method_name", "=", "_finish_run")])
        end.eta = fields.Datetime.now() + timedelta(seconds=3)
        self.env.flush_all()
        self.env.cr.postcommit.clear()
        Job.load(self.env, job.uuid).perform()
        end.invalidate_recordset()
        self.assertTrue(end.eta, "nothing done inside the batch's transaction")
        self.env.cr.postcommit.run()  # what the job's commit runs
        end.invalidate_recordset()
        self.assertFalse(end.eta)

    def test_jobs_left_started_by_a_dead_worker_are_queued_again(self):
        run, job = self._stored_batch_job()
        self._worker_dies(job)
        self.assertEqual((job.state, job.retry), ("pending", 1))
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"planned"})

    def test_a_job_killed_at_each_try_is_given_up(self):
        """A batch the server kills at every try (longer than its time limit) is
        not queued again for ever: at its last try it fails, and so do its
        customers, with the reason."""
        run, job = self._stored_batch_job()
        for tries in range(1, job.max_retries + 1):
            self._worker_dies(job)
            if tries < job.max_retries:
                self.assertEqual((job.state, job.retry), ("pending", tries))
        self.assertEqual(job.state, "failed")
        self.assertIn("time limit", job.exc_message)
        batch = job.args[1]
        killed = run.line_ids.filtered(lambda line: line.batch == batch)
        self.assertTrue(killed)
        self.assertEqual(set(killed.mapped("outcome")), {"failed"})
        self.assertIn("time limit", killed[0].reason)
        self.assertEqual(set((run.line_ids - killed).mapped("outcome")), {"planned"})
        self.assertEqual(self._levels(), [0] * 5)

    @contextmanager
    def _smtp_down(self):
        """No SMTP server answers: said, not left to the runner (Odoo's own test
        runner connects to none and sends nothing; pytest-odoo connects)."""
        IrMailServer = type(self.env["ir.mail_server"])
        refused = ConnectionRefusedError("no SMTP server")
        with (
            mock.patch.object(IrMailServer, "connect", side_effect=refused),
            mute_logger("odoo.addons.mail.models.mail_mail"),
        ):
            yield

    def test_smtp_down_levels_back_and_sent_again(self):
        run, trap = self._start(batch_size=5)
        run_jobs(trap)
        mails = self._mails()
        with self._smtp_down():
            mails.send()  # every mail fails
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"failed"})
        self.assertEqual(self._levels(), [0] * 5)
        self.assertEqual(run.state, "failed")
        run.action_resend_failed()
        self.assertEqual(self._levels(), [2] * 5)
        self.assertEqual(run.state, "done")

    def test_large_runs_cancelled_and_sent_again_by_a_job(self):
        run, trap = self._start(batch_size=5)
        run_jobs(trap)
        with self._smtp_down():
            self._mails().send()  # every mail fails
        with mock.patch(f"{SERVICE}.BACKGROUND_LINES_FROM", 1), jobs_performed() as trap:
            action = run.action_resend_failed()
            self.assertEqual(action["tag"], "display_notification")
            self.assertEqual(self._levels(), [0] * 5, "nothing before the job")
            self.assertEqual([job.channel for job in trap.enqueued_jobs], ["root.relance"])
        self.assertEqual(self._levels(), [2] * 5)
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"queued"})
        with mock.patch(f"{SERVICE}.BACKGROUND_LINES_FROM", 1), jobs_performed():
            self.assertIn(run.name, run.action_cancel()["params"]["message"])
            self.assertEqual(run.state, "done", "cancelled by the job")
        self.assertEqual((run.state, self._levels()), ("cancelled", [0] * 5))


@tagged("post_install", "-at_install")
class TestScheduledSequential(RelanceCommon):
    """Under the sequential (Atys) rule, the scheduled dunning sends each level N to
    the customers at level N-1, in one run."""

    def test_each_level_to_the_customers_at_the_level_before(self):
        self.company.write({"relance_rule": "sequential", "relance_auto_email": True})
        never = self._customer("Client Jamais")
        once = self._customer("Client Une Fois")
        new_invoice = self._invoice(never, 100.0, 20)
        old_invoice = self._invoice(once, 200.0, 40)
        service = self.env["relance.service"]
        self._write_move_levels({old_invoice.id: 1}, TODAY - timedelta(days=20))
        service._write_partner_levels(self.company, {once.id: 1}, TODAY - timedelta(days=20))
        with jobs_performed():
            service._cron_relance_email(as_of=TODAY)
        run = self.env["relance.run"].search([("run_type", "=", "email")])
        self.assertEqual(len(run), 1)
        self.assertEqual((new_invoice.relance_level, old_invoice.relance_level), (1, 2))
        self.assertEqual(run.state, "done")

    def test_a_refusal_is_a_warning(self):
        self.company.relance_auto_email = True
        customer = self._customer("Client Refus")
        self._invoice(customer, 100.0, 20)
        with (
            mock.patch.object(
                type(self.env["relance.service"]),
                "_send_scheduled_emails",
                side_effect=UserError("refused for a reason"),
            ),
            self.assertLogs(SERVICE, level="WARNING") as logs,
        ):
            self.env["relance.service"]._cron_relance_email(as_of=TODAY)
        self.assertIn("refused for a reason", logs.output[0])


@tagged("post_install", "-at_install")
class TestBackgroundLetters(LateCustomersCase):
    """A definitive edition above the size in the background: a PDF per batch, merged."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._late_customers("Client Courrier", 3, street="1 rue de la Paix")

    def _start(self):
        wizard = self.env["relance.edition"].create(
            {
                "date": TODAY,
                "definitive": True,
                "partner_ids": [(6, 0, self.customers.ids)],
            }
        )
        wizard.action_review()
        with (
            mock.patch(f"{SERVICE}.BACKGROUND_LETTERS_FROM", 2),
            mock.patch(f"{SERVICE}.BATCH_SIZE", 2),
            trap_jobs() as trap,
        ):
            action = wizard.action_print_definitive()
            run = self.env["relance.run"].browse(action["params"]["next"]["res_id"])
            self.assertEqual((run.state, len(run.line_ids)), ("planning", 0))
            trap.enqueued_jobs.pop(0).perform()  # the planning job: lines and batches
        self.assertIn("Printing in the background", action["params"]["message"])
        return run, trap

    def test_letters_printed_by_batches_then_merged(self):
        run, trap = self._start()
        self.assertEqual((run.run_type, run.state), ("letter", "queued"))
        self.assertEqual(self.invoices.mapped("relance_level"), [0, 0, 0])
        jobs = trap.enqueued_jobs
        self.assertEqual(
            [job.channel for job in jobs], ["root.relance.letter"] * 2 + ["root.relance"]
        )
        jobs[0].perform()
        jobs[0].perform()  # run again: nothing printed twice
        parts = self.env["ir.attachment"].search(
            [("res_model", "=", "relance.run"), ("res_id", "=", run.id)]
        )
        self.assertEqual(len(parts), 1)
        self.assertEqual(self.invoices.mapped("relance_level"), [2, 2, 0])
        run_jobs(trap)
        self.assertEqual(run.state, "done")
        self.assertEqual(self.invoices.mapped("relance_level"), [2, 2, 2])
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"printed"})
        pdf = run.attachment_id.raw
        self.assertTrue(pdf.startswith(b"%PDF"))
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        self.assertGreaterEqual(reader.getNumPages(), 3, "one letter per customer at least")
        self.assertNotIn(run.attachment_id, parts, "the batches' PDFs merged in one")
        note = self.customers[2].message_ids[:1]
        self.assertIn(run.name, note.body)
        self.assertTrue(note.attachment_ids.raw.startswith(b"%PDF"), "its batch's letters")

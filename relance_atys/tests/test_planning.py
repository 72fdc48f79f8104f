"""Large background runs planned by a job: the click checks, records the run
"planning" with the customers it holds, enqueues the planning job and returns."""

from unittest import mock

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import TODAY
from .test_jobs import SERVICE, LateCustomersCase
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.tests.common import trap_jobs


@tagged("post_install", "-at_install")
class TestPlanningJob(LateCustomersCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._late_customers("Client Plan", 6, street="1 rue de la Paix")

    def _review(self, customers, **values):
        wizard = self.env["relance.edition"].create(
            {"date": TODAY, "partner_ids": [(6, 0, customers.ids)], **values}
        )
        wizard.action_review()
        return wizard

    def _click(self, wizard):
        """The click of a large run (every run is large here); its action's run."""
        with (
            mock.patch(f"{SERVICE}.BACKGROUND_LETTERS_FROM", 0),
            mock.patch(f"{SERVICE}.BACKGROUND_PLANNING_FROM", 0),
        ):
            if wizard.definitive:
                action = wizard.action_print_definitive()
            else:
                wizard.action_switch_mode()
                action = wizard.action_send_emails()
        return self.env["relance.run"].browse(action["params"]["next"]["res_id"])

    def _letters(self, customers):
        return self._review(customers, definitive=True)

    def _run_lines_and_jobs(self, run):
        jobs = self.env["queue.job"].sudo().search([("identity_key", "like", f"({run.id})")])
        return len(run.line_ids), sorted(jobs.mapped("identity_key"))

    def test_the_click_records_the_run_planning_and_one_job(self):
        with trap_jobs() as trap:
            run = self._click(self._letters(self.customers[:3]))
        self.assertEqual((run.run_type, run.state), ("letter", "planning"))
        self.assertFalse(run.line_ids, "the lines are the planning job's")
        self.assertEqual(run.held_partner_ids, self.customers[:3])
        self.assertEqual(run.progress_text, "0 / 3 customers")
        self.assertEqual(self.invoices.mapped("relance_level"), [0] * 6)
        (job,) = trap.enqueued_jobs
        self.assertEqual(
            (job.method_name, job.channel, job.identity_key),
            ("_plan_job", "root.relance", f"relance.run({run.id}).plan"),
        )
        with trap_jobs() as trap:
            self.assertEqual(job.perform(), "3 customer(s) planned")
        self.assertEqual(run.state, "queued")
        self.assertFalse(run.held_partner_ids, "its lines hold the customers now")
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"planned"})
        self.assertEqual(run.line_ids.partner_id, self.customers[:3])
        self.assertEqual(run.line_ids.mapped("level_after"), [2] * 3)
        self.assertEqual(
            [job.method_name for job in trap.enqueued_jobs],
            ["_print_batch"] * 2 + ["_finish_run"],
        )

    def test_the_click_queries_do_not_grow_with_the_customers(self):
        counts = []
        # the first click warms the caches (parameters, sequence, translations)
        for customers in (self.customers[:1], self.customers[1:3], self.customers[3:6]):
            wizard = self._letters(customers)
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            with trap_jobs():
                run = self._click(wizard)
            counts.append(self.env.cr.sql_log_count - before)
            self.assertEqual(run.progress_total, len(customers))
        self.assertEqual(counts[1], counts[2], "2 and 3 customers: as many queries")

    def _planning_queries(self, customers):
        """The queries of the planning job of a letter run of ``customers``, its
        jobs stored for real (not trapped); the run planned."""
        with trap_jobs() as trap:
            run = self._click(self._letters(customers))
        (plan,) = trap.enqueued_jobs
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        plan.perform()
        count = self.env.cr.sql_log_count - before
        self.assertEqual(run.state, "queued")
        return count, run

    def test_the_planning_job_queries_do_not_grow_with_the_run(self):
        """The planning job reads the review and writes the run's lines in as many
        queries for 2 customers of one document as for 3 of three; only its jobs
        cost, a few queries each: one a batch of BATCH_SIZE customers."""
        for customer in self.customers[3:6]:
            self._invoice(customer, 50.0, 40)
            self._invoice(customer, 60.0, 30)
        self._planning_queries(self.customers[:1])  # warms the caches
        small, run = self._planning_queries(self.customers[1:3])
        self.assertEqual(len(run.line_ids), 2)
        large, run = self._planning_queries(self.customers[3:6])
        self.assertEqual(len(run.line_ids), 9)
        self.assertEqual(small, large, "two batches and the end job both times")
        others = self.env["res.partner"].union(
            *(self._customer(f"Client Lot {index}") for index in range(5))
        )
        for customer in others:
            self._invoice(customer, 80.0, 20)
        with mock.patch(f"{SERVICE}.BATCH_SIZE", 1):
            two, run = self._planning_queries(others[:2])
            three, run = self._planning_queries(others[2:5])
        self.assertEqual(sorted(set(run.line_ids.mapped("batch"))), [1, 2, 3])
        self.assertLessEqual(three - two, 4, "one more batch: one more job, three queries")

    def test_the_planning_job_run_twice_plans_once(self):
        """Killed before its commit, then run again; or run again after it: one set
        of lines, one job per batch."""
        run = self._click(self._letters(self.customers[:3]))
        job = (
            self.env["queue.job"]
            .sudo()
            .search([("identity_key", "=", f"relance.run({run.id}).plan")])
        )
        plan = Job.load(self.env, job.uuid)
        with self.assertRaises(RuntimeError), self.env.cr.savepoint():
            plan.perform()
            raise RuntimeError("worker killed before the commit")
        self.assertEqual((run.state, len(run.line_ids)), ("planning", 0))
        plan.perform()
        planned = self._run_lines_and_jobs(run)
        self.assertEqual(planned[0], 3)
        self.assertEqual(plan.perform(), "already planned")
        self.assertEqual(self._run_lines_and_jobs(run), planned)
        keys = [f"relance.run({run.id}).{key}" for key in ("1", "2", "end", "plan")]
        self.assertEqual(planned[1], keys)

    def test_customers_held_while_planning_are_refused_at_once(self):
        with trap_jobs() as trap:
            run = self._click(self._letters(self.customers[:3]))
        message = f"Run {run.name} is dunning some of these customers"
        with self.assertRaisesRegex(UserError, message):
            self._click(self._review(self.customers[2:4]))  # email mode, large
        small = self._letters(self.customers[2:3])  # printed in the click
        with self.assertRaisesRegex(UserError, run.name):
            small.action_print_definitive()
        others = self._click(self._letters(self.customers[3:5]))
        self.assertEqual(others.state, "planning", "other customers are free")
        with trap_jobs():
            trap.enqueued_jobs[0].perform()
        with self.assertRaisesRegex(UserError, run.name):  # planned: its lines hold them
            self._click(self._letters(self.customers[:1]))

    def test_a_refused_planning_fails_the_run_with_the_reason(self):
        with trap_jobs() as trap:
            run = self._click(self._letters(self.customers[:3]))
        self._write_move_levels({self.invoices[1].id: 1}, TODAY)  # dunned since the review
        with trap_jobs() as batches:
            result = trap.enqueued_jobs[0].perform()
        self.assertIn("were dunned since this proposal was made", result)
        self.assertEqual((run.state, len(run.line_ids)), ("failed", 0))
        self.assertFalse(batches.enqueued_jobs)
        self.assertFalse(run.held_partner_ids, "its customers are free again")
        self.assertIn("Not planned", run.message_ids[0].body)
        self.assertEqual(self.invoices.mapped("relance_level"), [0, 1, 0, 0, 0, 0])

    def test_a_planning_job_given_up_fails_the_run(self):
        run = self._click(self._letters(self.customers[:2]))
        job = (
            self.env["queue.job"]
            .sudo()
            .search([("identity_key", "=", f"relance.run({run.id}).plan")])
        )
        with mute_logger("odoo.addons.queue_job.models.queue_job"):
            plan = Job.load(self.env, job.uuid)
            plan.set_failed(exc_message="out of memory", exc_name="MemoryError")
            plan.store()
        self.assertEqual(run.state, "failed")
        self.assertFalse(run.held_partner_ids)
        self.assertIn("out of memory", run.message_ids[0].body)

    def test_email_mode_planned_by_a_job(self):
        self.customers[1].relance_send_doc = False  # unticked by the email mode
        wizard = self._review(self.customers[:4])
        with trap_jobs() as trap:
            run = self._click(wizard)
            self.assertEqual(
                (run.run_type, run.state, run.progress_total), ("email", "planning", 3)
            )
            trap.enqueued_jobs.pop(0).perform()
        self.assertEqual(run.state, "queued")
        self.assertEqual(run.line_ids.partner_id, self.customers[0] | self.customers[2:4])
        self.assertEqual(
            [job.method_name for job in trap.enqueued_jobs], ["_send_batch"] * 2 + ["_finish_run"]
        )

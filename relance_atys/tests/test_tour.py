from odoo.tests import HttpCase, tagged

from .common import perform_stored_jobs
from odoo.addons.queue_job.tests.common import trap_jobs


@tagged("post_install", "-at_install")
class TestTours(HttpCase):
    """The main flows clicked through in the web client, in French, on the demo data."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.env.ref("base.user_admin")
        cls.company = cls.admin.company_id
        cls.Run = cls.env["relance.run"]

    def _tour(self, action, tour):
        """Tour ``relance_atys_<tour>_tour``, as admin, from the menu's action."""
        url = f"/odoo/action-relance_atys.{action}"
        self.start_tour(url, f"relance_atys_{tour}_tour", login="admin")

    def _in_test_env(self, value):
        """A job's argument (a recordset, or a dict of them) in the test's env."""
        if isinstance(value, dict):
            return {key: self._in_test_env(item) for key, item in value.items()}
        return value.with_env(self.env) if hasattr(value, "with_env") else value

    def _last_run(self):
        return self.Run.search([], order="id desc", limit=1)

    def test_edition_tour(self):
        runs_before = self.Run.search_count([])
        self._tour("action_relance_edition", "edition")
        xlsx = self.env["ir.attachment"].search(
            [("res_model", "=", "relance.edition"), ("name", "like", ".xlsx")]
        )
        self.assertTrue(xlsx, "the control list was produced")
        run = self._last_run()
        self.assertEqual(self.Run.search_count([]), runs_before + 1)
        self.assertEqual((run.run_type, run.company_id), ("letter", self.company))
        self.assertTrue(run.attachment_id.raw.startswith(b"%PDF"))

    def test_email_tour(self):
        self._tour("action_relance_edition", "email")
        run = self._last_run()
        self.assertEqual(run.state, "queued", "sent in the background, the click returned")
        perform_stored_jobs(self.env)
        self.assertEqual(run.run_type, "email")
        queued = run.line_ids.filtered(lambda line: line.outcome == "queued")
        self.assertTrue(queued.mail_id, "one mail per customer, in the queue")
        self.assertTrue(all(move.relance_level for move in queued.move_id))

    def test_level_tour(self):
        self._tour("action_relance_level", "level")
        level = self.env["relance.level"].search(
            [("company_id", "=", self.company.id), ("number", "=", 1)]
        )
        self.assertEqual(level.upper_bound, 14)

    def test_manage_tour(self):
        self._tour("action_relance_level_manage", "manage")
        run = self._last_run()
        self.assertEqual(run.run_type, "manual")
        self.assertEqual(run.line_ids.move_id.relance_level, 2)

    def test_cancel_tour(self):
        latest = self._last_run()
        self._tour("action_relance_run", "cancel")
        self.assertEqual(latest.state, "cancelled")

    def test_signature_tour(self):
        with trap_jobs() as trap:  # the click queues the reminders: run them after it
            self._tour("action_relance_signature", "signature")
            run = self._last_run()
            self.assertEqual((run.run_type, run.state), ("signature", "queued"))
            self.assertFalse(run.line_ids, "the click reads no quotation: its job does")
            while trap.enqueued_jobs:  # the gathering, then the batches it queues
                job = trap.enqueued_jobs.pop(0)
                # in the test's cursor, the request's is closed
                method = getattr(job.recordset.with_env(self.env), job.method_name)
                method(*(self._in_test_env(arg) for arg in job.args))
        self.assertTrue(run.line_ids.filtered(lambda line: line.outcome == "queued"))
        self.start_tour(
            f"/odoo/relance.run/{run.id}", "relance_atys_signature_run_tour", login="admin"
        )

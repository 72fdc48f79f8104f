from odoo.tests import tagged

from .common import TODAY, RelanceCommon, jobs_performed, load_french


@tagged("post_install", "-at_install")
class TestScheduledDunning(RelanceCommon):
    """The daily cron sends what the email mode would, for companies that ask."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.with_email = cls._customer("Client Courriel")
        cls.without_email = cls._customer("Client Sans Adresse", email=False)
        cls.invoice = cls._invoice(cls.with_email, 400.0, 20)
        cls.invoice_no_mail = cls._invoice(cls.without_email, 300.0, 20)

    def _email_runs(self):
        return self.env["relance.run"].search([("run_type", "=", "email")])

    def test_only_companies_that_ask(self):
        with jobs_performed():
            self.env["relance.service"]._cron_relance_email(as_of=TODAY)
        self.assertFalse(self._email_runs())
        self.assertEqual(self.invoice.relance_level, 0)

    def test_sends_and_records_once(self):
        self.company.relance_auto_email = True
        with jobs_performed():
            self.env["relance.service"]._cron_relance_email(as_of=TODAY)
        run = self._email_runs()
        self.assertEqual(len(run), 1)
        self.assertEqual(self.invoice.relance_level, 2)
        self.assertEqual(self.invoice_no_mail.relance_level, 0, "no address: not sent")
        self.assertTrue(run.line_ids.filtered(lambda line: line.move_id == self.invoice).mail_id)
        # the next day, nothing new is due: no second mail, no second run
        with jobs_performed():
            self.env["relance.service"]._cron_relance_email(as_of=TODAY)
        self.assertEqual(len(self._email_runs()), 1)

    def test_the_history_is_written_in_the_company_language(self):
        """The scheduler's user reads English; a French company's history is French."""
        load_french(self.env)
        self.company.partner_id.lang = "fr_FR"
        self.company.relance_auto_email = True
        refund = self._invoice(self.with_email, 50.0, 10, move_type="out_refund")
        with jobs_performed():
            self.env["relance.service"].with_context(lang="en_US")._cron_relance_email(as_of=TODAY)
        line = self._email_runs().line_ids.filtered(lambda line: line.move_id == refund)
        self.assertEqual((line.outcome, line.reason), ("skipped", "déduction"))

    def test_the_scheduled_action_sends_the_dunning(self):
        """The cron itself, run as the scheduler runs it, on today's date."""
        self.company.relance_auto_email = True
        cron = self.env.ref("relance_atys.ir_cron_relance_email")
        self.assertTrue(cron.active)
        with jobs_performed():  # the jobs it enqueues, run as the job runner would
            cron.method_direct_trigger()
        line = self._email_runs().line_ids.filtered(lambda line: line.move_id == self.invoice)
        self.assertTrue(line.mail_id, "the customer's mail is queued")
        self.assertGreater(self.invoice.relance_level, 0)

    def test_the_run_says_in_french_it_was_scheduled_and_under_which_rule(self):
        """Its "Paramètres" tab read "scheduled  Oui": a raw English key, and not the
        rule it followed (the sequential rule sends several levels in one run)."""
        load_french(self.env)
        self.company.write({"relance_rule": "sequential", "relance_auto_email": True})
        with jobs_performed():
            self.env["relance.service"]._cron_relance_email(as_of=TODAY)
        shown = self._email_runs().with_context(lang="fr_FR").parameters_display
        for expected in ("Relance planifiée", "Oui", "Séquentielle", "Mode email"):
            self.assertIn(expected, shown)
        self.assertNotIn("scheduled", shown)

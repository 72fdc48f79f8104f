"""Phone-call steps end to end: planned from the review, an activity for the
collector, the result recorded in the history, a promise made."""

from datetime import timedelta
from unittest import mock

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import TODAY, RelanceCommon, trapped_batches
from .test_jobs import SERVICE
from .test_promise import fate_of
from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.addons.relance_atys import engine


@tagged("post_install", "-at_install")
class TestCallStep(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.levels.filtered(lambda lv: lv.number == 2).write(
            {"call_step": "only", "call_script": "<p>Bonjour, nous n'avons pas reçu...</p>"}
        )
        cls.levels.filtered(lambda lv: lv.number == 3).call_step = "also"
        cls.collector = cls.env["res.users"].create(
            {"name": "Recouvreur", "login": "recouvreur_call",
             "company_ids": [(6, 0, cls.company.ids)], "company_id": cls.company.id}
        )  # fmt: skip
        cls.alpha = cls._customer("Alpha", relance_collector_id=cls.collector.id)
        cls.beta = cls._customer("Beta")
        cls.gamma = cls._customer("Gamma", relance_by_call=False)
        cls.alpha_20 = cls._invoice(cls.alpha, 200.0, 20)  # level 2: a call instead
        cls.beta_40 = cls._invoice(cls.beta, 400.0, 40)  # level 3: a call besides
        cls.gamma_20 = cls._invoice(cls.gamma, 100.0, 20)  # takes no call

    def _plan(self):
        wizard = self.env["relance.edition"].create({"date": TODAY, "output": "letters"})
        wizard.action_review()
        action = wizard.action_plan_calls()
        return self.env["relance.run"].browse(action["res_id"])

    def test_call_step_end_to_end(self):
        run = self._plan()
        self.assertEqual(run.run_type, "call")
        calls = self.env["relance.call"].search([("run_id", "=", run.id)])
        self.assertEqual(calls.partner_id, self.alpha | self.beta, "Gamma takes no call")
        # a call instead of the letter records the level; a call besides it does not
        self.assertEqual((self.alpha_20.relance_level, self.alpha_20.relance_date), (2, TODAY))
        self.assertEqual(self.alpha.with_company(self.company).relance_level, 2)
        self.assertEqual((self.beta_40.relance_level, self.beta_40.relance_date), (0, False))
        self.assertEqual(self.beta.with_company(self.company).relance_level, 0)
        self.assertEqual(set(run.line_ids.mapped("channel")), {"call"})
        # the activity: for the collector (else the user), the documents and the script
        call = calls.filtered(lambda c: c.partner_id == self.alpha)
        activity = call.activity_ids
        self.assertEqual(
            activity.activity_type_id, self.env.ref("relance_atys.mail_activity_type_relance_call")
        )
        self.assertEqual(activity.user_id, self.collector)
        self.assertIn(self.alpha_20.name, str(activity.note))
        self.assertRegex(str(activity.note), "200[.,]00")
        self.assertIn("nous n'avons pas reçu", str(activity.note))
        self.assertEqual(
            calls.filtered(lambda c: c.partner_id == self.beta).collector_id, self.env.user
        )
        # the result: a promise
        when = fields.Date.context_today(call) + timedelta(days=7)
        call.write({"result": "promise", "note": "Paiera vendredi", "promise_date": when})
        call.action_record_result()
        self.assertEqual(call.state, "done")
        self.assertFalse(call.activity_ids, "the activity is marked done")
        promise = call.promise_id
        self.assertEqual(
            (promise.partner_id, promise.date, promise.move_ids), (self.alpha, when, self.alpha_20)
        )
        line = run.line_ids.filtered(lambda ln: ln.partner_id == self.alpha)
        self.assertIn("Payment promised", line.reason)
        self.assertIn("Paiera vendredi", line.reason)
        self.assertIn("Call result", self.alpha.message_ids[0].body)
        # the promise holds the customer from now on
        proposal = self.env["relance.service"]._propose(
            self.company, {"date": TODAY + timedelta(days=40)}
        )
        self.assertEqual(fate_of(self.env, proposal)[self.alpha_20][0], engine.R_PROMISED)

    def test_result_without_a_note_is_recorded_as_such(self):
        run = self._plan()
        call = run and self.env["relance.call"].search([("partner_id", "=", self.beta.id)])
        call._record_result("no_answer", False)
        self.assertEqual(call.result, "no_answer")
        line = run.line_ids.filtered(lambda ln: ln.partner_id == self.beta)
        self.assertIn("No answer", line.reason)
        self.assertIn("(no note)", line.reason)
        with self.assertRaisesRegex(UserError, "already recorded"):
            call._record_result("reached", "encore")

    def test_promise_result_needs_its_date(self):
        self._plan()
        call = self.env["relance.call"].search([("partner_id", "=", self.alpha.id)])
        with self.assertRaisesRegex(UserError, "needs the date"):
            call._record_result("promise", "bientôt")
        self.assertEqual(call.state, "todo")
        with self.assertRaisesRegex(UserError, "Choose the result"):
            call._record_result(False, "")

    def test_cancelling_the_calls_gives_the_levels_back(self):
        run = self._plan()
        run.action_cancel()
        self.assertEqual((self.alpha_20.relance_level, self.alpha_20.relance_date), (0, False))
        self.assertEqual(self.alpha.with_company(self.company).relance_level, 0)

    def test_no_call_level_refused(self):
        self.levels.write({"call_step": "none"})
        with self.assertRaisesRegex(
            UserError, "No ticked customer is due a level with a phone call"
        ):
            self._plan()
        self.assertFalse(self.env["relance.call"].search([]))

    def test_scheduled_run_plans_the_calls(self):
        """The scheduled email dunning calls instead of mailing where the level says so."""
        run = self.env["relance.service"]._send_scheduled_emails(self.company, TODAY)
        self.assertNotIn(self.alpha, run.line_ids.partner_id, "a call instead of the mail")
        self.assertIn(self.beta, run.line_ids.partner_id, "a call besides the mail")
        self.assertIn(self.gamma, run.line_ids.partner_id, "takes no call: mailed")
        calls = self.env["relance.call"].search([("company_id", "=", self.company.id)])
        self.assertEqual(calls.partner_id, self.alpha | self.beta)
        self.assertEqual(calls.run_id.run_type, "call")
        self.assertEqual(self.alpha_20.relance_level, 2)

    def test_calls_created_by_jobs_beyond_a_size_once_each(self):
        """Beyond BACKGROUND_CALLS_FROM customers the click records the run and the
        levels; jobs of CALL_BATCH customers create the calls and their activities,
        each at most once per customer of the run, whatever the retries."""
        batches = trapped_batches("models.relance_call", "BACKGROUND_CALLS_FROM", "CALL_BATCH")
        with batches as trap:
            run = self._plan()
        Call = self.env["relance.call"]
        self.assertFalse(Call.search([("run_id", "=", run.id)]), "the jobs create them")
        self.assertEqual(self.alpha_20.relance_level, 2, "the level is recorded by the click")
        jobs = trap.enqueued_jobs
        self.assertEqual(
            [job.identity_key for job in jobs], [f"relance.run({run.id}).calls.{n}" for n in (1, 2)]
        )
        for job in jobs:
            job.perform()
            job.perform()  # run again: no second call
        calls = Call.search([("run_id", "=", run.id)])
        self.assertEqual(sorted(calls.partner_id.mapped("name")), ["Alpha", "Beta"])
        self.assertEqual(len(calls.activity_ids), 2)
        alpha = calls.filtered(lambda call: call.partner_id == self.alpha)
        self.assertEqual((alpha.level, alpha.move_ids), (2, self.alpha_20))
        self.assertIn(self.alpha_20.name, str(alpha.activity_ids.note))

    def test_many_customers_planned_by_a_job(self):
        """Beyond the planning size the click records the run « En préparation »,
        holding its customers, and returns at once (17,600 customers took 31 s in the
        click); its planning job records the levels, the lines and the calls as the
        click does for a few customers, once however many times it runs."""
        clerk = self._new_dunning_user("clerk_calls", company_id=self.company.id)
        wizards = [
            self.env["relance.edition"].with_user(user).create({"date": TODAY})
            for user in (clerk, self.env.user)
        ]
        for wizard in wizards:
            wizard.action_review()
        with mock.patch(f"{SERVICE}.BACKGROUND_PLANNING_FROM", 1):
            with self.assertRaisesRegex(UserError, "Only dunning managers"):
                wizards[0].action_plan_calls()
            self.assertFalse(self.env["relance.run"].search([("run_type", "=", "call")]))
            with trap_jobs() as trap:
                action = wizards[1].action_plan_calls()
        run = self.env["relance.run"].browse(action["params"]["next"]["res_id"])
        self.assertEqual((run.run_type, run.state), ("call", "planning"))
        self.assertEqual(run.held_partner_ids, self.alpha | self.beta | self.gamma)
        self.assertEqual(self.alpha_20.relance_level, 0, "nothing recorded by the click")
        (plan,) = trap.enqueued_jobs
        self.assertEqual(plan.perform(), "3 customer(s): calls planned")
        self.assertEqual(plan.perform(), "already planned")
        self.assertEqual((run.state, run.held_partner_ids.ids), ("done", []))
        self.assertEqual((self.alpha_20.relance_level, self.alpha_20.relance_date), (2, TODAY))
        self.assertEqual(self.alpha.with_company(self.company).relance_level, 2)
        self.assertEqual(self.beta_40.relance_level, 0, "a call besides the letter")
        calls = self.env["relance.call"].search([("run_id", "=", run.id)])
        self.assertEqual(calls.partner_id, self.alpha | self.beta, "Gamma takes no call")
        self.assertEqual(len(calls.activity_ids), 2)
        self.assertEqual(set(run.line_ids.mapped("channel")), {"call"})
        run.action_cancel()
        self.assertEqual((self.alpha_20.relance_level, self.alpha_20.relance_date), (0, False))
        self.assertEqual(self.alpha.with_company(self.company).relance_level, 0)

    def test_a_level_without_call_is_left_to_the_letter(self):
        """Alpha, called instead of its level-2 letter, also owes an invoice of level 1,
        which has no call: listed in the call, its level is the letter's to record (it
        was recorded by the calls' run, and the letter then left it out as dunned)."""
        alpha_5 = self._invoice(self.alpha, 50.0, 5)
        run = self._plan()
        self.assertEqual((self.alpha_20.relance_level, self.alpha_20.relance_date), (2, TODAY))
        self.assertEqual((alpha_5.relance_level, alpha_5.relance_date), (0, False))
        self.assertEqual(run.levels_text, "2, 3", "the levels of its calls")
        self.assertEqual(self.env["relance.run"].search([("levels_text", "=", "3")]), run)
        call = self.env["relance.call"].search([("partner_id", "=", self.alpha.id)])
        self.assertIn(alpha_5.name, str(call.summary), "listed in the call")
        letters = self.env["relance.service"]._propose(self.company, {"date": TODAY})
        self.assertEqual(fate_of(self.env, letters)[alpha_5], 1, "the letter's")

    def test_cancelling_the_calls_cancels_those_not_made(self):
        """A cancelled run of calls: its calls not made are cancelled, their activities
        gone, their lines « Annulé »; a call made keeps its result."""
        run = self._plan()
        calls = self.env["relance.call"].search([("run_id", "=", run.id)])
        made = calls.filtered(lambda call: call.partner_id == self.beta)
        made.write({"result": "reached", "note": "Réglera la semaine prochaine"})
        made.action_record_result()
        run.action_cancel()
        todo = calls - made
        self.assertEqual((todo.state, made.state), ("cancelled", "done"))
        self.assertFalse(todo.activity_ids)
        lines = run.line_ids.filtered(lambda line: not line.is_deduction)
        outcomes = {line.partner_id.name: line.outcome for line in lines}
        self.assertEqual(outcomes, {"Alpha": "cancelled", "Beta": "called"})
        todo.result = "reached"
        with self.assertRaisesRegex(UserError, "cancelled with its dunning run"):
            todo.action_record_result()

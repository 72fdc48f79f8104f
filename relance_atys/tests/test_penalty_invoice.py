"""Invoicing a letter run's penalties and indemnities (issue 16): the invoices'
figures, the refusals (settings, twice, turned off, not a manager), and the
cancellation of the run with them."""

from datetime import date, timedelta

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from .common import TODAY, RelanceCommon, trapped_batches


@tagged("post_install", "-at_install")
class TestPenaltyInvoice(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        groups = (
            "base.group_user,base.group_partner_manager,account.group_account_invoice,"
            "relance_atys.group_relance_"
        )
        cls.manager, cls.user = (
            new_test_user(
                cls.env,
                f"penalty.{role}",
                groups=groups + role,
                company_id=cls.company.id,
                company_ids=[Command.set(cls.company.ids)],
            )
            for role in ("manager", "user")
        )
        cls.levels.filtered(lambda level: level.number == 3).formal_notice = True
        cls.setup_other_currency("EUR", rates=[("2020-01-01", 0.8)])  # 40 € = 50 $
        cls.chf = cls.setup_other_currency("CHF", rates=[("2020-01-01", 2.0)])  # 40 € = 100 CHF
        cls.company._relance_set_penalty_rate(12.15, date(2025, 7, 1))
        cls.product = cls.env["product.product"].create(
            {"name": "Pénalités de retard", "type": "service", "taxes_id": [Command.clear()]}
        )
        cls.account = cls.company_data["default_account_revenue"].copy({"code": "763100"})
        cls.company.write(
            {
                "relance_penalty_product_id": cls.product.id,
                "relance_penalty_account_id": cls.account.id,
            }
        )
        cls.acme = cls._customer("Acme SAS")
        cls.person = cls._customer("Jean Martin", is_company=False)
        cls.second = cls._customer("Zinc Second")  # level 2 only: no formal notice
        cls.acme_60 = cls._invoice(cls.acme, 1000.0, 60)
        cls.acme_chf = cls._invoice(cls.acme, 2000.0, 40, currency=cls.chf)
        cls.person_60 = cls._invoice(cls.person, 1000.0, 60)
        cls.second_20 = cls._invoice(cls.second, 1000.0, 20)
        edition = (
            cls.env["relance.edition"]
            .with_user(cls.manager)
            .create(
                {
                    "date": TODAY,
                    "definitive": True,
                    "partner_ids": (cls.acme | cls.person | cls.second).ids,
                }
            )
        )
        edition.action_review()
        edition.action_print_definitive()
        cls.letter_run = cls.env["relance.run"].search([], limit=1)

    def _invoice_run(self, user=None):
        return self.letter_run.with_user(user or self.manager).action_invoice_penalties()

    def _moves(self):
        run = self.letter_run
        return self.env["account.move"].search([("relance_penalty_run_id", "=", run.id)])

    def _figures(self, moves):
        """{(customer, currency): [line amounts]}"""
        return {
            (move.partner_id.name, move.currency_id.name): sorted(
                move.invoice_line_ids.mapped("price_unit")
            )
            for move in moves
        }

    def test_invoices_per_customer_and_currency(self):
        """Acme: 60 days on 1,000 $ (19.97) and 40 € (50 $); 40 days on 2,000 CHF
        (26.63 CHF) and 40 € (100 CHF), in a second invoice. Jean Martin, an
        individual: the penalties only. Zinc, dunned at level 2: nothing."""
        self._invoice_run()
        moves = self._moves()
        usd = self.company.currency_id.name
        self.assertEqual(
            self._figures(moves),
            {
                ("Acme SAS", usd): [19.97, 50.0],
                ("Acme SAS", "CHF"): [26.63, 100.0],
                ("Jean Martin", usd): [19.97],
            },
        )
        self.assertEqual(set(moves.mapped("state")), {"draft"})
        self.assertEqual(set(moves.mapped("move_type")), {"out_invoice"})
        lines = moves.invoice_line_ids
        self.assertEqual(lines.product_id, self.product)
        self.assertEqual(lines.account_id, self.account)
        self.assertFalse(lines.tax_ids, "penalties and the indemnity are outside the scope of VAT")
        self.assertEqual(set(moves.mapped("invoice_origin")), {self.letter_run.name})
        acme_usd = moves.filtered(lambda m: m.partner_id == self.acme and m.currency_id.name == usd)
        self.assertIn(self.acme_60.name, " ".join(acme_usd.invoice_line_ids.mapped("name")))
        self.assertEqual(self.letter_run.penalty_move_ids, moves)
        self.assertIn(moves[0].display_name, self.letter_run.message_ids[0].body)

    def test_refused_without_product_or_account(self):
        for field in ("relance_penalty_product_id", "relance_penalty_account_id"):
            with self.subTest(field=field):
                saved = self.company[field]
                self.company[field] = False
                with self.assertRaisesRegex(UserError, "product and the income account"):
                    self._invoice_run()
                self.assertFalse(self._moves())
                self.company[field] = saved

    def test_never_twice(self):
        self._invoice_run()
        with self.assertRaisesRegex(UserError, "already invoiced"):
            self._invoice_run()
        self.assertEqual(len(self._moves()), 3)
        self._moves().button_cancel()  # cancelled by hand: may be invoiced again
        self._invoice_run()
        self.assertEqual(len(self._moves().filtered(lambda m: m.state == "draft")), 3)

    def test_turned_off(self):
        self.company.write({"relance_penalties": False, "relance_indemnity": False})
        with self.assertRaisesRegex(UserError, "neither late-payment penalties"):
            self._invoice_run()
        self.assertFalse(self._moves())
        self.company.relance_indemnity = True  # the 40 € only: no penalty invoiced
        self._invoice_run()
        self.assertEqual(
            self._figures(self._moves()),
            {("Acme SAS", self.company.currency_id.name): [50.0], ("Acme SAS", "CHF"): [100.0]},
        )

    def test_managers_only(self):
        with self.assertRaisesRegex(UserError, "Only dunning managers"):
            self._invoice_run(self.user)
        self.assertFalse(self._moves())

    def test_not_a_letter_run(self):
        self.letter_run.sudo().state = "cancelled"
        with self.assertRaisesRegex(UserError, "done letter run"):
            self._invoice_run()

    def test_cancel_run_cancels_drafts_and_reverses_posted(self):
        self._invoice_run()
        posted = self._moves().filtered(lambda m: m.partner_id == self.person)
        posted.action_post()
        self.letter_run.with_user(self.manager).action_cancel()
        self.assertEqual(self.letter_run.state, "cancelled")
        self.assertEqual(set((self._moves() - posted).mapped("state")), {"cancel"})
        self.assertEqual(posted.payment_state, "reversed")
        credit_note = posted.reversal_move_ids
        self.assertEqual((credit_note.move_type, credit_note.state), ("out_refund", "posted"))
        self.assertEqual(self.acme_60.relance_level, 0, "levels given back too")

    def test_cancel_refused_when_paid(self):
        self._invoice_run()
        paid = self._moves().filtered(lambda m: m.partner_id == self.person)
        paid.action_post()
        self._pay(paid, 5.0)
        with self.assertRaisesRegex(UserError, "already \\(partly\\) paid"):
            self.letter_run.with_user(self.manager).action_cancel()
        self.assertEqual(self.letter_run.state, "done")
        self.assertEqual(self.acme_60.relance_level, 3, "nothing given back")

    def test_no_penalty_on_penalties(self):
        """A posted penalty invoice left unpaid is never itself charged penalties."""
        self._invoice_run()
        moves = self._moves()
        moves.write({"invoice_date": TODAY - timedelta(days=90)})
        moves.invoice_date_due = TODAY - timedelta(days=60)
        moves.action_post()
        results = self.env["relance.penalty"]._compute(self.company, moves, TODAY)
        self.assertEqual(results, {})

    def test_invoiced_by_jobs_beyond_a_size_once_each(self):
        """Beyond BACKGROUND_INVOICES_FROM customers, jobs of INVOICE_BATCH customers;
        a second click refused while they work; a job run twice (its worker killed,
        a retry) makes no second invoice for a customer and currency."""
        module = "models.relance_penalty_invoice"
        with trapped_batches(module, "BACKGROUND_INVOICES_FROM", "INVOICE_BATCH") as trap:
            action = self._invoice_run()
        self.assertEqual(action["tag"], "display_notification")
        self.assertFalse(self._moves(), "the jobs make them")
        jobs = trap.enqueued_jobs
        self.assertEqual(
            [job.identity_key for job in jobs],
            [f"relance.run({self.letter_run.id}).penalties.{n}" for n in (1, 2)],
        )
        jobs[0].store()  # as the job runner finds it: a second click waits for it
        with self.assertRaisesRegex(UserError, "being invoiced in the background"):
            self._invoice_run()
        for job in jobs:
            job.perform()
            job.perform()
        self.assertEqual(
            sorted(self._figures(self._moves())),
            [
                ("Acme SAS", "CHF"),
                ("Acme SAS", self.company.currency_id.name),
                ("Jean Martin", self.company.currency_id.name),
            ],
        )
        self.assertIn("batch 2 / 2", self.letter_run.message_ids[0].body)

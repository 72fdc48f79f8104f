"""The credit controller's tools: payment promises and pauses, the dunning profile
and the collector of a customer, in the proposal."""

from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import TODAY, RelanceCommon
from odoo.addons.relance_atys import engine


def fate_of(env, proposal):
    by_id = {p.item.id: p.level for g in proposal.groups for p in g.proposed}
    by_id.update({s.item_id: (s.reason, s.until) for s in proposal.skipped})
    lines = env["account.move.line"].browse(list(by_id))
    fate = {line: by_id[line.id] for line in lines}
    fate.update({line.move_id: by_id[line.id] for line in lines})
    return fate


@tagged("post_install", "-at_install")
class TestPromises(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.context_today(cls.env["relance.promise"])
        cls.alpha = cls._customer("Alpha")
        cls.beta = cls._customer("Beta")
        cls.alpha_20 = cls._invoice(cls.alpha, 200.0, 20)
        cls.alpha_40 = cls._invoice(cls.alpha, 400.0, 40)
        cls.beta_20 = cls._invoice(cls.beta, 100.0, 20)

    def _promise(self, partner, days=10, **vals):
        return self.env["relance.promise"].create(
            {"partner_id": partner.id, "date": self.today + timedelta(days=days), **vals}
        )

    def _propose(self, as_of=TODAY, **options):
        return self.env["relance.service"]._propose(self.company, {"date": as_of, **options})

    def _fate(self, proposal):
        """{échéance, and its invoice (one instalment): level proposed, or (reason,
        date) skipped}; keyed by records, the items being receivable lines"""
        return fate_of(self.env, proposal)

    def _group(self, proposal, partner):
        return next(g for g in proposal.groups if g.partner_id == partner.id)

    # -- holding the proposal ----------------------------------------------

    def test_promise_keeps_the_customer_out_until_its_date(self):
        promise = self._promise(self.alpha, amount=600.0, note="Virement annoncé")
        until = promise.date
        fate = self._fate(self._propose())
        self.assertEqual(fate[self.alpha_20], (engine.R_PROMISED, until))
        self.assertEqual(fate[self.alpha_40], (engine.R_PROMISED, until))
        self.assertEqual(fate[self.beta_20], 2, "another customer is dunned as before")
        # on the promised day itself, still held; the day after, dunned again, flagged
        self.assertEqual(self._fate(self._propose(until))[self.alpha_40][0], engine.R_PROMISED)
        after = self._propose(until + timedelta(days=1))
        self.assertEqual(self._fate(after)[self.alpha_40], 3)
        self.assertEqual(self._group(after, self.alpha).broken_promise, until)
        self.assertIsNone(self._group(after, self.beta).broken_promise)

    def test_promise_on_one_invoice_holds_that_invoice_only(self):
        promise = self._promise(self.alpha, move_ids=[(6, 0, self.alpha_40.ids)])
        self.assertEqual(promise.due_amount, 400.0)
        fate = self._fate(self._propose())
        self.assertEqual(fate[self.alpha_40], (engine.R_PROMISED, promise.date))
        self.assertEqual(fate[self.alpha_20], 2)

    def test_promise_on_one_echeance_holds_that_instalment_only(self):
        """Terms "30 % now, 70 % at 30 days", both late: a promise on the first
        instalment holds it, the second is dunned."""
        invoice = self._instalment_invoice(self.beta, 60, 30)
        first, second = invoice.line_ids.filtered(
            lambda line: line.display_type == "payment_term"
        ).sorted("date_maturity")
        promise = self._promise(
            self.beta, move_ids=[(6, 0, invoice.ids)], line_ids=[(6, 0, first.ids)]
        )
        self.assertEqual(promise.due_amount, 300.0)
        fate = self._fate(self._propose())
        self.assertEqual(fate[first], (engine.R_PROMISED, promise.date))
        self.assertEqual(fate[second], 2)
        with self.assertRaisesRegex(UserError, "instalments of the invoices chosen"):
            self._promise(
                self.beta, move_ids=[(6, 0, self.beta_20.ids)], line_ids=[(6, 0, first.ids)]
            )
        self._pay(invoice, 300.0)  # Odoo allocates it to the first instalment
        self.assertEqual(promise.paid_amount, 300.0)
        self.assertEqual(promise.state, "kept")

    def test_review_says_why_with_the_date(self):
        promise = self._promise(self.alpha)
        text = self.env["relance.service"]._skipped_text(self._propose())
        when = promise.reason_text.split()[-1]
        self.assertIn(f"Alpha: payment promised on {when} (2 document(s))", text)
        self.assertIn("2 document(s): payment promised", text)

    def test_pause_holds_then_ends_without_a_broken_flag(self):
        pause = self._promise(self.beta, days=20, kind="pause", note="Litige en cours")
        self.assertEqual(self._fate(self._propose())[self.beta_20], (engine.R_PAUSED, pause.date))
        self.assertIn(
            "Beta: paused until", self.env["relance.service"]._skipped_text(self._propose())
        )
        after = self._propose(pause.date + timedelta(days=1))
        self.assertEqual(self._fate(after)[self.beta_20], 3)
        self.assertIsNone(self._group(after, self.beta).broken_promise)
        self.assertEqual(pause.state, "open")

    def test_archived_promise_holds_nothing(self):
        self._promise(self.alpha).active = False
        self.assertEqual(self._fate(self._propose())[self.alpha_20], 2)

    # -- kept, broken, paid partly --------------------------------------------

    def test_promise_kept_when_its_invoice_is_paid(self):
        promise = self._promise(self.alpha, move_ids=[(6, 0, self.alpha_40.ids)])
        self.assertEqual(promise.state, "open")
        self._pay(self.alpha_40, 400.0)
        self.assertEqual(promise.paid_amount, 400.0)
        self.assertEqual(promise.state, "kept")
        after = self._propose(promise.date + timedelta(days=1))
        self.assertIsNone(self._group(after, self.alpha).broken_promise)

    def test_promise_paid_partly_is_broken_after_its_date(self):
        promise = self._promise(self.alpha, move_ids=[(6, 0, self.alpha_40.ids)])
        self._pay(self.alpha_40, 150.0)
        self.assertEqual(promise.paid_amount, 150.0)
        self.assertEqual(promise.state, "open", "paid partly, its date not passed: open")
        with freeze_time(promise.date + timedelta(days=1)):
            promise.env.add_to_compute(promise._fields["state"], promise)
            self.assertEqual(promise.state, "broken")
            self.assertIn("promise not kept", promise.reason_text)
        after = self._propose(promise.date + timedelta(days=1))
        self.assertEqual(self._group(after, self.alpha).broken_promise, promise.date)

    def test_the_next_letter_says_the_promise_was_not_kept(self):
        promise = self._promise(self.alpha)
        after = promise.date + timedelta(days=1)
        wizard = self.env["relance.edition"].create({"date": after, "output": "letters"})
        wizard.action_review()
        pline = wizard.partner_line_ids.filtered(lambda pl: pl.partner_id == self.alpha)
        self.assertEqual(pline.broken_promise, promise.date)
        letters = self.env["relance.letter"]._letters(self.company, after, pline.line_ids)
        sentence = letters[0]._letter_broken_promise()
        # in the customer's language (French here)
        self.assertIn("Vous nous aviez promis un règlement pour le", sentence)
        self.assertIn(promise.date.strftime("%d/%m/%Y"), sentence)
        beta = wizard.partner_line_ids.filtered(lambda pl: pl.partner_id == self.beta)
        self.assertFalse(beta.broken_promise)
        beta_letter = self.env["relance.letter"]._letters(self.company, after, beta.line_ids)
        self.assertEqual(beta_letter[0]._letter_broken_promise(), "")

    def test_customer_promise_kept_by_a_payment_of_its_amount(self):
        promise = self._promise(self.alpha, amount=250.0)
        self.assertEqual(promise.due_amount, 250.0)
        payment = self.env["account.payment"].create(
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": self.alpha.id,
                "amount": 250.0,
                "date": self.today,
            }
        )
        payment.action_post()
        self.env["relance.promise"]._cron_refresh_states()
        self.assertEqual(promise.paid_amount, 250.0)
        self.assertEqual(promise.state, "kept")
        # kept: it holds nothing any more
        self.assertEqual(self._fate(self._propose())[self.alpha_20], 2)

    def test_cron_breaks_promises_whose_date_passed(self):
        promise = self._promise(self.alpha, amount=250.0)
        with freeze_time(promise.date + timedelta(days=1)):
            self.env["relance.promise"]._cron_refresh_states()
            self.assertEqual(promise.state, "broken")
        self.assertEqual(
            self.env["relance.promise"].search_count(
                [("id", "=", promise.id), ("state", "=", "broken")]
            ),
            1,
        )

    def test_broken_promise_told_once(self):
        """A broken promise is flagged until the customer is dunned after it."""
        customer = self.alpha
        promise = self._promise(customer)
        after = promise.date + timedelta(days=2)
        partner = self.env["relance.service"]._get_partner_states(self.company, customer.ids)[
            customer.id
        ]
        self.assertEqual(engine.broken_promise(partner, after), promise.date)
        later = engine.Partner(
            customer.id, 2, promise.date + timedelta(days=1), holds=partner.holds
        )
        self.assertIsNone(engine.broken_promise(later, after))

    # -- bad input ----------------------------------------------------------------

    def test_bad_input_refused_nothing_recorded(self):
        Promise = self.env["relance.promise"]
        count = Promise.search_count([])
        cases = [
            ({"date": self.today - timedelta(days=1)}, "is in the past"),
            ({"kind": "pause", "date": False}, "A pause needs an end date"),
            ({"kind": "pause", "date": self.today + timedelta(days=91)}, "at most 90 days"),
            ({"amount": -5.0}, "cannot be negative"),
            ({"move_ids": [(6, 0, self.beta_20.ids)]}, "not the customer's"),
        ]
        for vals, message in cases:
            with self.subTest(message), self.assertRaisesRegex(UserError, message):
                Promise.create(
                    {"partner_id": self.alpha.id, "date": self.today + timedelta(days=5), **vals}
                )
        self.assertEqual(Promise.search_count([]), count)
        promise = self._promise(self.alpha)
        with self.assertRaisesRegex(UserError, "is in the past"):
            promise.date = self.today - timedelta(days=3)

    def test_pause_cap_zero_means_no_limit(self):
        self.company.relance_max_pause_days = 0
        pause = self._promise(self.alpha, days=400, kind="pause")
        self.assertEqual(pause.kind, "pause")

    def test_form_from_the_customer(self):
        action = self.alpha.action_relance_promise_new()
        form = Form(self.env["relance.promise"].with_context(action["context"]))
        form.date = self.today + timedelta(days=3)
        form.note = "Appel du comptable"
        promise = form.save()
        self.assertEqual(promise.partner_id, self.alpha)
        self.assertEqual(self.alpha.relance_promise_count, 1)
        self.assertEqual(
            self.env["relance.promise"].search(self.alpha.action_relance_promises()["domain"]),
            promise,
        )

    def test_promise_from_the_review_unticks_what_it_holds(self):
        wizard = self.env["relance.edition"].create({"date": TODAY, "output": "control"})
        wizard.action_review()
        promise = (
            self.env["relance.promise"]
            .with_context(relance_edition_id=wizard.id)
            .create(
                {
                    "partner_id": self.alpha.id,
                    "date": self.today + timedelta(days=5),
                    "move_ids": [(6, 0, self.alpha_40.ids)],
                }
            )
        )
        action = promise.action_save_back()
        self.assertEqual(action["res_id"], wizard.id, "back to the review")
        alpha = wizard.partner_line_ids.filtered(lambda pl: pl.partner_id == self.alpha)
        self.assertTrue(alpha.selected)
        held = alpha.line_ids.filtered(lambda line: not line.selected)
        self.assertEqual(held.move_id, self.alpha_40)
        pause = (
            self.env["relance.promise"]
            .with_context(relance_edition_id=wizard.id)
            .create({"partner_id": self.beta.id, "kind": "pause", "date": self.today})
        )
        pause.action_save_back()
        beta = wizard.partner_line_ids.filtered(lambda pl: pl.partner_id == self.beta)
        self.assertFalse(beta.selected)
        self.assertEqual(
            promise.with_context({}).action_save_back()["type"], "ir.actions.act_window_close"
        )

    def test_query_count_constant_with_promises(self):
        """Promises and profiles are read with the customers: five queries still."""
        service = self.env["relance.service"]
        options = {"date": TODAY, "rule": "bounds"}
        service._propose(self.company, options)
        for n in range(10):
            customer = self._customer(f"Held {n}", relance_mode="manual" if n % 3 else "auto")
            invoice = self._invoice(customer, 50.0 + n, 10 + n)
            self._promise(customer, move_ids=[(6, 0, invoice.ids)] if n % 2 else [])
        self.env.invalidate_all()
        # company settings, levels search and read, open items, partners with their
        # profile, promises and pauses
        with self.assertQueryCount(5):
            proposal = service._propose(self.company, options)
        reasons = {s.reason for s in proposal.skipped}
        self.assertLessEqual({engine.R_PROMISED, engine.R_MANUAL_ONLY}, reasons)


@tagged("post_install", "-at_install")
class TestProfileAndCollector(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.seller = cls.env["res.users"].create(
            {"name": "Vendeur", "login": "vendeur_17a", "company_ids": [(6, 0, cls.company.ids)],
             "company_id": cls.company.id}
        )  # fmt: skip
        cls.collector = cls.env["res.users"].create(
            {"name": "Recouvreur", "login": "recouvreur_17a",
             "company_ids": [(6, 0, cls.company.ids)], "company_id": cls.company.id}
        )  # fmt: skip
        cls.auto = cls._customer("Auto", user_id=cls.seller.id)
        cls.manual = cls._customer("Manuel", relance_mode="manual")
        cls.auto_20 = cls._invoice(cls.auto, 100.0, 20)
        cls.manual_20 = cls._invoice(cls.manual, 100.0, 20)

    def _propose(self, **options):
        return self.env["relance.service"]._propose(self.company, {"date": TODAY, **options})

    def test_manual_only_customer_left_out_unless_named(self):
        proposal = self._propose()
        self.assertEqual(
            fate_of(self.env, proposal)[self.manual_20][0],
            engine.R_MANUAL_ONLY,
        )
        self.assertIn(
            "customer dunned by hand only", self.env["relance.service"]._skipped_text(proposal)
        )
        named = self._propose(partner_ids=self.manual.ids)
        self.assertEqual([g.partner_id for g in named.groups], self.manual.ids)

    def test_manual_only_customer_never_in_scheduled_mails(self):
        self.company.relance_auto_email = True
        run = self.env["relance.service"]._send_scheduled_emails(self.company, TODAY)
        self.assertIn(self.auto, run.line_ids.partner_id)
        self.assertNotIn(self.manual, run.line_ids.partner_id)

    def test_collector_defaults_to_the_salesperson(self):
        self.assertEqual(self.auto.relance_collector_id, self.seller)
        self.auto.relance_collector_id = self.collector
        self.auto.user_id = self.env.user  # another salesperson: the collector stays
        self.assertEqual(self.auto.relance_collector_id, self.collector)
        contact = self.env["res.partner"].create({"name": "Compta", "parent_id": self.auto.id})
        self.assertEqual(contact.relance_collector_id, self.collector)

    def test_collector_of_another_company_refused(self):
        other = self.setup_other_company()["company"]
        stranger = self.env["res.users"].create(
            {"name": "Ailleurs", "login": "ailleurs_17a", "company_ids": [(6, 0, other.ids)],
             "company_id": other.id}
        )  # fmt: skip
        with self.assertRaisesRegex(ValidationError, "cannot collect the payments"):
            self.auto.relance_collector_id = stranger

    def test_filter_and_sort_by_collector(self):
        self.auto.relance_collector_id = self.collector
        other = self._customer("Autre", user_id=self.seller.id)
        self._invoice(other, 80.0, 20)
        proposal = self._propose(collector_ids=self.collector.ids)
        self.assertEqual([g.partner_id for g in proposal.groups], self.auto.ids)
        service = self.env["relance.service"]
        partners = service._sorted_partners(self.auto | other, "collector")
        self.assertEqual(partners.ids, [self.auto.id, other.id])  # Recouvreur, Vendeur

    def test_review_lines_carry_the_collector(self):
        self.auto.relance_collector_id = self.collector
        wizard = self.env["relance.edition"].create({"date": TODAY, "output": "control"})
        wizard.action_review()
        pline = wizard.partner_line_ids.filtered(lambda pl: pl.partner_id == self.auto)
        self.assertEqual(pline.collector_id, self.collector)
        self.assertEqual(pline.line_ids.collector_id, self.collector)
        self.assertNotIn(self.manual, wizard.partner_line_ids.partner_id)

"""Defects a fresh-eyes walk through the screens found in use: a cancelled
reminder's mail, days late of documents not due yet, the levels of a run, a
promise's currency, the control list's penalties, the planning state."""

import base64
import importlib.util
import io
from datetime import timedelta
from pathlib import Path
from unittest import mock

import openpyxl
import polib

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import TODAY, ComposerCase, RelanceCommon, jobs_performed, load_french, mail_gateway
from .test_edition import pdf_text


def _xlsx(action, env):
    attachment = env["ir.attachment"].browse(int(action["url"].split("/")[3].split("?")[0]))
    return openpyxl.load_workbook(io.BytesIO(base64.b64decode(attachment.datas)))


@tagged("post_install", "-at_install")
class TestWalk(ComposerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.invoice_10 = cls.invoice
        cls.invoice_20 = cls._invoice(cls.customer, 300.0, 20)

    def _review(self, partners, **vals):
        edition = (
            self.env["relance.edition"]
            .with_user(self.manager)
            .create({"date": TODAY, "partner_ids": partners.ids, **vals})
        )
        edition.action_review()
        return edition

    def _levels(self):
        self.env.invalidate_all()
        partner = self.customer.with_company(self.company)
        return [
            (self.invoice_10.relance_level, self.invoice_10.relance_date),
            (self.invoice_20.relance_level, self.invoice_20.relance_date),
            (partner.relance_level, partner.relance_date),
        ]

    # -- 1. a cancelled reminder by hand sends nothing and says so ---------------------

    def _queue_sent(self):
        """The mail queue run as its scheduled job does; the addresses mailed."""
        IrMailServer = type(self.env["ir.mail_server"])
        with (
            mail_gateway(self.env),
            mock.patch.object(IrMailServer, "send_email", return_value="id") as send,
        ):
            self.env["mail.mail"].sudo().process_email_queue()
        return [call.args[0]["To"] for call in send.call_args_list]

    def test_cancelled_composer_run_sends_nothing_and_says_so(self):
        before = self._levels()
        self._composer().action_send()
        run = self.env["relance.run"].search([], limit=1)
        mail = run.line_ids.mail_id
        self.assertEqual(len(mail), 1)
        self.assertNotEqual(self._levels(), before, "a dunning step moves the levels")
        run.with_user(self.manager).action_cancel()
        self.assertEqual(run.state, "cancelled")
        self.assertEqual(self._levels(), before, "levels given back")
        self.assertEqual(self._queue_sent(), [], "the cancelled run's mail never leaves")
        self.assertEqual(mail.state, "cancel")
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"cancelled"})
        shown = dict(run.line_ids._fields["outcome"]._description_selection(self.env))
        self.assertEqual(shown["cancelled"], "Cancelled")

    def test_migration_of_runs_cancelled_before(self):
        """18.0.2.2.0's script: the queued lines of runs cancelled with 18.0.2.1.0,
        and the negative days late it recorded."""
        self._composer().action_send()
        run = self.env["relance.run"].search([], limit=1)
        run.with_user(self.manager).action_cancel()
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE relance_run_line SET outcome = 'queued', days_late = -5 WHERE run_id = %s",
            [run.id],
        )
        path = Path(__file__).parent.parent / "migrations" / "18.0.2.2.0" / "post-walk.py"
        spec = importlib.util.spec_from_file_location("post_walk", path)
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        script.migrate(self.env.cr, "18.0.2.1.0")
        run.line_ids.invalidate_recordset()
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"cancelled"})
        self.assertEqual(set(run.line_ids.mapped("days_late")), {0})

    def test_composer_run_not_cancelled_sends_its_mail(self):
        """The queue does send (the test above can fail)."""
        self._composer().action_send()
        run = self.env["relance.run"].search([], limit=1)
        self.assertEqual(len(self._queue_sent()), 1)
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"sent"})

    def test_cancelled_email_run_lines_cancelled_sent_ones_kept(self):
        """An email run: the mails already gone stay « Envoyé », the others cancelled."""
        other = self._customer("Scierie Chêne")
        self._invoice(other, 500.0, 20)
        edition = self._review(self.customer | other)
        edition.action_switch_mode()
        with jobs_performed():
            action = edition.action_send_emails()
        run = self.env["relance.run"].browse(action["params"]["next"]["res_id"])
        gone = run.line_ids.filtered(lambda line: line.partner_id == other)
        with mail_gateway(self.env):
            gone.mail_id.send()
        self.assertEqual(set(gone.mapped("outcome")), {"sent"})
        run.with_user(self.manager).action_cancel()
        self.assertEqual(set(gone.mapped("outcome")), {"sent"})
        self.assertEqual(set((run.line_ids - gone).mapped("outcome")), {"cancelled"})
        self.assertEqual(self._queue_sent(), [])

    # -- 2. never negative days late --------------------------------------------------

    def test_composer_days_late_never_negative(self):
        """The composer counts from today: a document due in 10 days is 0 days late."""
        today = fields.Date.context_today(self.env["relance.composer"])
        not_due = self._invoice(self.customer, 100.0, today + timedelta(days=10))
        composer = self._composer()
        days = {line.move_id: line.days_late for line in composer.line_ids}
        self.assertEqual(days[not_due], 0)
        self.assertEqual(days[self.invoice_10], (today - self.invoice_10.invoice_date_due).days)

    def test_review_history_letters_and_xlsx_never_negative(self):
        """A level starting before the due date (a notice): the document not due yet
        is proposed, 0 days late on every screen and file."""
        self.levels.filtered(lambda level: level.number == 1).lower_bound = -10
        not_due = self._invoice(self.customer, 100.0, TODAY + timedelta(days=5))
        credit = self._invoice(self.customer, 50.0, TODAY + timedelta(days=20), "out_refund")
        edition = self._review(self.customer, definitive=True)
        lines = {line.move_id: line for line in edition.line_ids}
        self.assertEqual(lines[not_due].days_late, 0)
        self.assertEqual(lines[credit].days_late, 0)
        self.assertEqual(lines[self.invoice_10].days_late, 10)
        book = _xlsx(edition.action_export_xlsx(), self.env)
        sheet = book.worksheets[0]
        header = next(
            row for row in sheet.iter_rows(values_only=True) if "Days late" in (row or ())
        )
        column = header.index("Days late")
        days = [
            row[column]
            for row in sheet.iter_rows(values_only=True)
            if isinstance(row[column], int | float)
        ]
        self.assertEqual(sorted(days), [0, 10, 20], "the credit note: no days late")
        action = edition.action_print_draft()
        attachment = self.env["ir.attachment"].browse(
            int(action["url"].split("/")[3].split("?")[0])
        )
        rows = [row for row in pdf_text(attachment.raw).splitlines() if not_due.name in row]
        self.assertTrue(rows)
        for row in rows:
            self.assertNotRegex(row, r"(^|\s)-\d", f"a negative figure in the letter: {row}")
        edition.action_print_definitive()
        run = self.env["relance.run"].search([], limit=1)
        history = {line.move_id: line.days_late for line in run.line_ids}
        self.assertEqual(history[not_due], 0)
        self.assertEqual(min(history.values()), 0)

    def test_amounts_due_screen_never_negative(self):
        today = fields.Date.context_today(self.env["relance.collection.due"])
        not_due = self._invoice(self.customer, 100.0, today + timedelta(days=10))
        due = self.env["relance.collection.due"].search([("move_id", "=", not_due.id)])
        self.assertEqual((due.days_late, due.age), (0, "0_not_due"))

    # -- 3. the levels of a run, never its highest alone ---------------------------------

    def test_run_of_two_levels_reads_both(self):
        edition = self._review(self.customer, definitive=True)
        edition.action_print_definitive()
        run = self.env["relance.run"].search([], limit=1)
        self.assertEqual(sorted(set(run.line_ids.mapped("level_after"))), [1, 2])
        self.assertEqual(run.levels_text, "1, 2")
        self.assertEqual(run.search([("levels_text", "=", "1")]), run)
        self.assertEqual(run.search([("levels_text", "=", "2")]), run)
        self.assertFalse(run.search([("levels_text", "=", "3")]))
        Run = self.env["relance.run"]
        for view in ("list", "form"):
            arch = Run.get_views([(False, view)])["views"][view]["arch"]
            self.assertIn('name="levels_text"', arch)
            self.assertNotIn('name="level"', arch, f"the highest level alone in the {view}")
        self.assertEqual(Run._fields["level"].string, "Highest level")
        exported = run.export_data(["name", "levels_text"])["datas"]
        self.assertEqual(exported, [[run.name, "1, 2"]])

    # -- 5. the control list's penalties: the listed échéances only --------------------

    def test_control_list_penalties_on_listed_echeances_only(self):
        self.levels.filtered(lambda level: level.number == 3).formal_notice = True
        self.company._relance_set_penalty_rate(12.15, fields.Date.to_date("2025-07-01"))
        term = self.env["account.payment.term"].create(
            {
                "name": "30 % now, 70 % at 30 days",
                "line_ids": [
                    Command.create({"value": "percent", "value_amount": 30, "nb_days": 0}),
                    Command.create({"value": "percent", "value_amount": 70, "nb_days": 30}),
                ],
            }
        )
        customer = self._customer("Beta SAS", ref="C200")
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": customer.id,
                "invoice_date": TODAY - timedelta(days=100),
                "invoice_payment_term_id": term.id,
                "invoice_line_ids": [
                    Command.create(
                        {"name": "Prestation", "quantity": 1, "price_unit": 1000.0, "tax_ids": []}
                    )
                ],
            }
        )
        move.action_post()
        first, second = move.relance_echeance_ids.sorted("date_maturity")
        edition = self._review(customer)
        # the second instalment unticked: the list, the letter and the invoice leave it out
        edition.line_ids.filtered(lambda line: line.move_line_id == second).selected = False
        sheet = _xlsx(edition.action_export_xlsx(), self.env)["Penalties"]
        rows = [row for row in sheet.iter_rows(min_row=4, values_only=True) if row[2]]
        self.assertEqual(
            [(row[2], row[3].date()) for row in rows], [(move.name, first.date_maturity)]
        )
        self.assertEqual(round(rows[0][6], 2), 9.99)  # 300 $ late 100 days, not 26.30


@tagged("post_install", "-at_install")
class TestWalkPromise(RelanceCommon):
    """4. A promise without invoices is in the currency of what the customer owes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.setup_other_currency("EUR", rates=[("2020-01-01", 0.8)])
        cls.customer = cls._customer("Dollar Only Inc")
        cls._invoice(cls.customer, 1000.0, 20, currency=cls.eur)
        cls.today = fields.Date.context_today(cls.env["relance.promise"])

    def _promise(self, partner, **vals):
        return self.env["relance.promise"].create(
            {"partner_id": partner.id, "date": self.today + timedelta(days=10), **vals}
        )

    def test_promise_in_the_only_currency_owed(self):
        """The company's currency here is USD: a customer owing 1,000 € only is
        promised 1,000 €, not its value in dollars."""
        self.assertEqual(self.company.currency_id.name, "USD")
        promise = self._promise(self.customer)
        self.assertEqual(promise.currency_id, self.eur)
        self.assertEqual(promise.due_amount, 1000.0)

    def test_promise_refused_when_owing_in_several_currencies(self):
        self._invoice(self.customer, 200.0, 10)  # 200 $ besides the 1,000 €
        count = self.env["relance.promise"].search_count([])
        with self.assertRaisesRegex(UserError, "several currencies"):
            self._promise(self.customer)
        self.assertEqual(self.env["relance.promise"].search_count([]), count)
        promise = self._promise(self.customer, currency_id=self.eur.id)
        self.assertEqual((promise.currency_id, promise.due_amount), (self.eur, 1000.0))
        promise = self._promise(self.customer, currency_id=self.company.currency_id.id)
        self.assertEqual(promise.due_amount, 200.0)

    def test_currency_given_must_be_the_invoices(self):
        invoice = self._invoice(self.customer, 200.0, 10)
        with self.assertRaisesRegex(UserError, "currency"):
            self._promise(self.customer, move_ids=invoice.ids, currency_id=self.eur.id)

    def test_pause_needs_no_currency(self):
        self._invoice(self.customer, 200.0, 10)
        pause = self._promise(self.customer, kind="pause")
        self.assertTrue(pause.exists())

    def test_paid_in_the_promise_currency(self):
        promise = self._promise(self.customer)
        self.env["account.payment.register"].with_context(
            active_model="account.move",
            active_ids=self.customer.invoice_ids.ids,
        ).create({"amount": 400.0, "currency_id": self.eur.id})._create_payments()
        promise.invalidate_recordset()
        self.assertEqual(promise.paid_amount, 400.0)


@tagged("post_install", "-at_install")
class TestWalkStatusbar(RelanceCommon):
    """6. The run form's statusbar names the planning state."""

    def test_statusbar_shows_planning(self):
        arch = self.env["relance.run"].get_views([(False, "form")])["views"]["form"]["arch"]
        visible = arch.split('widget="statusbar"')[1].split('statusbar_visible="')[1]
        self.assertEqual(visible.split('"')[0].split(",")[0], "planning")


@tagged("post_install", "-at_install")
class TestWalkCall(RelanceCommon):
    """7. A call's promise is in the currency of the invoices it is about: the
    amount typed read in the company's currency while the promise took the
    invoices' (dollars typed as euros); a customer owing in two currencies
    could not have its promise recorded at all."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.levels.filtered(lambda lv: lv.number == 2).call_step = "also"
        cls.eur = cls.setup_other_currency("EUR", rates=[("2020-01-01", 0.8)])
        cls.customer = cls._customer("Alpine Trading")
        cls.usd_20 = cls._invoice(cls.customer, 300.0, 20)
        cls.eur_20 = cls._invoice(cls.customer, 500.0, 20, currency=cls.eur)

    def _call(self):
        wizard = self.env["relance.edition"].create({"date": TODAY, "output": "letters"})
        wizard.action_review()
        run = self.env["relance.run"].browse(wizard.action_plan_calls()["res_id"])
        return self.env["relance.call"].search([("run_id", "=", run.id)])

    def _promise_result(self, call, **vals):
        when = fields.Date.context_today(call) + timedelta(days=7)
        call.write({"result": "promise", "promise_date": when, "promise_amount": 200.0, **vals})
        call.action_record_result()
        return call.promise_id

    def test_promise_in_the_currency_chosen_on_its_invoices(self):
        call = self._call()
        self.assertEqual(call.move_ids, self.usd_20 | self.eur_20)
        self.assertFalse(call.currency_id, "owing in two currencies: to choose")
        with self.assertRaisesRegex(UserError, "several currencies"):
            self._promise_result(call)
        self.assertEqual(call.state, "todo")
        chf = self.setup_other_currency("CHF", rates=[("2020-01-01", 2.0)])
        with self.assertRaisesRegex(UserError, "None of the call's invoices is in CHF"):
            self._promise_result(call, currency_id=chf.id)
        promise = self._promise_result(call, currency_id=self.eur.id)
        self.assertEqual(
            (promise.currency_id, promise.amount, promise.move_ids), (self.eur, 200.0, self.eur_20)
        )
        self.assertEqual(call.state, "done")

    def test_one_currency_owed_is_the_promise_one(self):
        self.eur_20.button_draft()
        self.eur_20.button_cancel()
        call = self._call()
        self.assertEqual(call.currency_id, self.company.currency_id)
        promise = self._promise_result(call)
        self.assertEqual((promise.currency_id, promise.move_ids), (call.currency_id, self.usd_20))

    def test_call_named_in_french(self):
        """Its name read « Call Alpine Trading (level 2) » to a French user: the
        catalog's entry lacked the mark that makes it a Python string."""
        load_french(self.env)
        call = self._call().with_context(lang="fr_FR")
        self.assertEqual(call.display_name, "Appel Alpine Trading (niveau 2)")
        unmarked = [
            entry.msgid
            for entry in polib.pofile(str(Path(__file__).parent.parent / "i18n" / "fr.po"))
            if any(place.startswith("code:") for place, _line in entry.occurrences)
            and "odoo-python" not in (entry.comment or "")
            and "odoo-javascript" not in (entry.comment or "")
        ]
        self.assertEqual(unmarked, [], "code terms never loaded")

    def test_documents_list_each_in_its_currency(self):
        arch = self.env["relance.call"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertNotIn("amount_residual_signed", arch, "the company's currency, no symbol")

import base64
import io
import re
import subprocess
from datetime import datetime, timedelta
from unittest import mock

import openpyxl
from lxml import etree

from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from .. import engine
from .common import TODAY, RelanceCommon, load_french


def pdf_text(pdf):
    """The text of a PDF, with poppler's pdftotext."""
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return out.stdout.decode()


@tagged("post_install", "-at_install")
class TestEdition(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesman = cls.env["res.users"].create(
            {"name": "Sophie Vendeuse", "login": "sophie.vendeuse"}
        )
        cls.alpha = cls._customer(
            "Alpha SARL",
            ref="C001",
            zip="75002",
            city="Paris",
            user_id=cls.salesman.id,
            category_id=[(4, cls.customer_tag.id)],
        )
        cls.beta = cls._customer("Beta SA", ref="C002", zip="13001", city="Marseille")
        cls.gamma = cls._customer("Gamma", ref="C003", zip="69001", relance_excluded=True)
        cls.delta = cls._customer("Delta", ref="C004", zip="33000", relance_enabled=False)
        cls.alpha_5 = cls._invoice(cls.alpha, 100.0, 5)
        cls.alpha_20 = cls._invoice(cls.alpha, 200.0, 20)
        cls.alpha_40 = cls._invoice(cls.alpha, 400.0, 40)
        cls.alpha_refund = cls._invoice(cls.alpha, 50.0, 10, move_type="out_refund")
        cls.alpha_not_due = cls._invoice(cls.alpha, 999.0, -10)
        cls.beta_20 = cls._invoice(cls.beta, 300.0, 20)
        cls.beta_blocked = cls._invoice(cls.beta, 700.0, 25)
        cls.beta_blocked.payment_state = "blocked"
        cls.gamma_40 = cls._invoice(cls.gamma, 80.0, 40)
        cls.delta_40 = cls._invoice(cls.delta, 90.0, 40)

    def _edition(self, **vals):
        vals.setdefault("date", TODAY)
        return self.env["relance.edition"].create(vals)

    def _review(self, **vals):
        wizard = self._edition(**vals)
        wizard.action_review()
        return wizard

    def _proposed(self, wizard):
        return {line.move_id: line.level_after for line in wizard.line_ids if not line.is_deduction}

    # -- proposal --------------------------------------------------------------

    def test_bounds_rule_levels_and_deductions(self):
        wizard = self._review()
        self.assertEqual(wizard.state, "review")
        self.assertEqual(
            self._proposed(wizard),
            {self.alpha_5: 1, self.alpha_20: 2, self.alpha_40: 3, self.beta_20: 2},
        )
        alpha = wizard.partner_line_ids.filtered(lambda pl: pl.partner_id == self.alpha)
        deduction = alpha.line_ids.filtered("is_deduction")
        self.assertEqual(deduction.move_id, self.alpha_refund)
        self.assertEqual(deduction.residual, -50.0)
        self.assertEqual(alpha.new_level, 3)
        self.assertEqual(alpha.doc_count, 3)
        self.assertIn("650", alpha.totals_text.replace("\u202f", "").replace(",", ""))
        # excluded customer, disabled customer and the blocked invoice are left out
        partners = wizard.partner_line_ids.partner_id
        self.assertNotIn(self.gamma, partners)
        self.assertNotIn(self.delta, partners)
        self.assertIn("payment blocked (dispute)", wizard.skipped_text)

    def test_every_skip_reason_has_words_for_users(self):
        """Moved from the engine's tests: each of its codes, and its words on the review."""
        codes = {v for k, v in vars(engine).items() if k.startswith("R_")}
        self.assertEqual(codes, set(engine.REASONS))
        labels = self.env["relance.service"]._reason_labels()
        self.assertEqual(set(labels), codes)
        self.assertEqual(len(set(labels.values())), len(codes), "no two reasons read the same")

    def test_bounds_rule_keep_one_level(self):
        wizard = self._review(level_id=self.levels[1].id)
        self.assertEqual(self._proposed(wizard), {self.alpha_20: 2, self.beta_20: 2})

    def test_sequential_selection_modes(self):
        """Seed 001: level 2 asked, only customers at level 1; each selection mode."""
        self.company.relance_rule = "sequential"
        self.alpha.with_company(self.company).sudo().write({"relance_level": 1})
        self.alpha_20.sudo().write({"relance_level": 1})
        level2 = self.levels[1]
        # level 2 takes documents at least 16 days late (its lower bound): not alpha_5
        expected = {
            "lower": {self.alpha_20: 2, self.alpha_40: 2},
            "previous": {self.alpha_20: 2},
            "never": {self.alpha_40: 2},
        }
        for selection, proposed in expected.items():
            with self.subTest(selection=selection):
                wizard = self._review(level_id=level2.id, selection=selection)
                self.assertEqual(wizard.partner_line_ids.partner_id, self.alpha)
                self.assertEqual(self._proposed(wizard), proposed)

    def test_sequential_requires_a_level(self):
        self.company.relance_rule = "sequential"
        with self.assertRaisesRegex(UserError, "level"):
            self._review()

    def test_the_level_field_says_what_an_empty_level_means_under_each_rule(self):
        """Under the sequential rule the level is required, yet its empty field read
        « Tous les niveaux à relancer »: there it asks for the level to send."""
        view = self.env["relance.edition"].get_views([(False, "form")])["views"]["form"]
        arch = etree.fromstring(view["arch"])
        for rule, placeholder in (("bounds", "Every due level"), ("sequential", "Level to send")):
            shown = [
                node
                for node in arch.iter("field")
                if node.get("name") == "level_id"
                and not safe_eval(node.get("invisible") or "False", {"rule": rule})
            ]
            self.assertEqual([node.get("placeholder") for node in shown], [placeholder], rule)

    def test_filters(self):
        collector = self.env["res.users"].create({"name": "Rémi Recouvreur", "login": "remi"})
        self.beta.relance_collector_id = collector
        cases = {
            "category_ids": ([(6, 0, self.customer_tag.ids)], self.alpha),
            "user_ids": ([(6, 0, self.salesman.ids)], self.alpha),
            "collector_ids": ([(6, 0, collector.ids)], self.beta),
            "partner_ids": ([(6, 0, self.beta.ids)], self.beta),
        }
        for field, (value, partner) in cases.items():
            with self.subTest(field=field):
                wizard = self._review(**{field: value})
                self.assertEqual(wizard.partner_line_ids.partner_id, partner)

    def test_due_range_and_amount_threshold(self):
        wizard = self._review(
            due_from=TODAY - timedelta(days=25), due_to=TODAY - timedelta(days=15)
        )
        self.assertEqual(set(self._proposed(wizard)), {self.alpha_20, self.beta_20})
        # Alpha's total is 650 (700 - 50 credit), Beta's 300
        wizard = self._review(min_amount=500)
        self.assertEqual(wizard.partner_line_ids.partner_id, self.alpha)

    def test_amount_threshold_converted_per_currency(self):
        """Nothing is summed across currencies: each total meets the threshold in its own."""
        chf = self.setup_other_currency("CHF", rates=[("2020-01-01", 2.0)])  # 1 USD = 2 CHF
        swiss = self._customer("Helvetia AG")
        self._invoice(swiss, 700.0, 20, currency=chf)  # 700 CHF = 350 USD
        self._invoice(self.beta, 100.0, 18, currency=chf)
        wizard = self._review(min_amount=250)
        groups = {(line.partner_id, line.currency_id) for line in wizard.line_ids}
        self.assertIn((swiss, chf), groups, "700 CHF is above 250 USD (500 CHF)")
        self.assertNotIn((self.beta, chf), groups, "100 CHF is below 500 CHF")
        self.assertEqual(
            {line.move_id for line in wizard.line_ids if line.partner_id == self.beta},
            {self.beta_20},
            "Beta's 300 USD stay apart from its CHF",
        )
        wizard = self._review(min_amount=400)  # 800 CHF
        self.assertNotIn(swiss, wizard.line_ids.partner_id)

    def test_payment_terms_filter(self):
        term = self.env.ref("account.account_payment_term_30days")
        self.env.cr.execute(
            "UPDATE account_move SET invoice_payment_term_id = %s WHERE id = %s",
            [term.id, self.beta_20.id],
        )
        wizard = self._review(payment_term_ids=[(6, 0, term.ids)])
        self.assertEqual(set(self._proposed(wizard)), {self.beta_20})

    def test_payment_methods_filter(self):
        method = self.company_data["default_journal_bank"].inbound_payment_method_line_ids[:1]
        self.env.cr.execute(
            "UPDATE account_move SET preferred_payment_method_line_id = %s WHERE id = %s",
            [method.id, self.alpha_20.id],
        )
        wizard = self._review(payment_method_line_ids=[(6, 0, method.ids)])
        self.assertEqual(set(self._proposed(wizard)), {self.alpha_20})

    def test_sort_orders(self):
        self.beta.user_id = self.env["res.users"].create(
            {"name": "Albert Commercial", "login": "albert.commercial"}
        )
        orders = {
            "name": [self.alpha, self.beta],
            "zip": [self.beta, self.alpha],
            "ref": [self.alpha, self.beta],
            "user": [self.beta, self.alpha],  # Albert before Sophie
        }
        for sort_by, partners in orders.items():
            with self.subTest(sort_by=sort_by):
                wizard = self._review(sort_by=sort_by)
                self.assertEqual(list(wizard.partner_line_ids.partner_id), partners)

    def test_bad_input(self):
        cases = [
            ({"due_from": TODAY, "due_to": TODAY - timedelta(days=1)}, "inverted"),
            ({"min_amount": -1}, "negative"),
            ({"date": TODAY - timedelta(days=3650)}, "Nothing to dun"),
        ]
        for vals, message in cases:
            with self.subTest(message=message), self.assertRaisesRegex(UserError, message):
                self._review(**vals)
        self.assertFalse(self.env["relance.run"].search([]))

    def test_bad_input_in_french(self):
        load_french(self.env)
        wizard = self._edition(due_from=TODAY, due_to=TODAY - timedelta(days=1))
        with self.assertRaisesRegex(UserError, "inversée"):
            wizard.with_context(lang="fr_FR").action_review()

    def test_untick_partner_and_document(self):
        wizard = self._review()
        alpha = wizard.partner_line_ids.filtered(lambda pl: pl.partner_id == self.alpha)
        beta = wizard.partner_line_ids - alpha
        beta.selected = False
        alpha.line_ids.filtered(lambda ln: ln.move_id == self.alpha_40).selected = False
        lines = self.env["relance.service"]._review_ticked_lines(wizard, "none ticked")
        self.assertEqual(set(lines.move_id), {self.alpha_5, self.alpha_20, self.alpha_refund})
        self.assertIn("1 customer(s), 2 document(s)", wizard.summary)

    def test_query_count_constant(self):
        """The proposal reads the ledger in a fixed number of queries."""
        service = self.env["relance.service"]
        options = {"date": TODAY, "rule": "bounds"}
        service._propose(self.company, options)  # warm the caches
        customer = self._customer("Omega")
        for days in range(10):
            self._invoice(customer, 10.0 + days, days + 1)
        self.env.invalidate_all()
        # company settings (1), levels search (1) and read (1), open items (1),
        # partner states (1): five, whatever the number of invoices
        with self.assertQueryCount(5):
            small = service._propose(self.company, options)
        for days in range(190):
            self._invoice(customer, 10.0 + days, days + 1)
        self.env.invalidate_all()
        with self.assertQueryCount(5):
            large = service._propose(self.company, options)
        self.assertEqual(
            sum(len(g.proposed) for g in large.groups) - sum(len(g.proposed) for g in small.groups),
            190,
        )

    def _grow_ledger(self, customers, invoices):
        """``customers`` more customers with ``invoices`` late invoices each."""
        for n in range(customers):
            customer = self._customer(f"Client {customers}x{invoices} {n}")
            for days in range(invoices):
                self._invoice(customer, 100.0 + days, 5 + 7 * days)

    def _assert_queries_constant(self, expected, action):
        """``action(wizard)`` on a small then a ten times larger ledger: at
        most ``expected`` queries both times, from cold caches."""
        action(self._review(definitive=True))  # warms what is read once (views, rules)
        for customers, invoices in ((2, 3), (12, 5)):
            self._grow_ledger(customers, invoices)
            wizard = self._review(definitive=True)
            self.env.invalidate_all()
            with (
                self.subTest(customers=customers, invoices=invoices),
                self.assertQueryCount(expected),
            ):
                action(wizard)

    def test_review_refreshes_the_statistics_its_lines_are_checked_with(self):
        """Once the customer lines are in, PostgreSQL counts them (rows of this
        very transaction) before the document lines' foreign keys are checked."""
        # as autovacuum may leave it: the table counted empty
        self.env.cr.execute("DELETE FROM relance_edition_partner")
        self.env.cr.execute("ANALYZE relance_edition_partner")
        wizard = self._review()
        self.env.cr.execute(
            "SELECT reltuples FROM pg_class WHERE relname = 'relance_edition_partner'"
        )
        self.assertGreaterEqual(self.env.cr.fetchone()[0], len(wizard.partner_line_ids))

    def test_control_list_queries_constant(self):
        """The XLSX reads the reviewed proposal in a fixed number of queries."""
        # 12: with the check that the user reads the documents and customers read by SQL
        # (their ids in one query, then a search per model with the user's rules);
        # 7 more for the sheet of penalties (on by default): the échéances and their
        # payments (2), the company's rates (1), the currencies (1), the 40 € converted
        # (2), the customers' names (1); and its invoices' names (1). At most 22: the
        # first export after the ledger grew reads the rules again
        self._assert_queries_constant(22, lambda wizard: wizard.action_export_xlsx())

    def test_review_queries_do_not_grow_with_the_ledger(self):
        """The review screen (proposal, customer and document lines in one INSERT
        each, the statistics refreshed) takes as many queries for 12 customers of
        5 invoices as for 2 of 3, from cold caches."""
        self._review()  # warms what is read once (views, rules)
        counts = []
        for customers, invoices in ((2, 3), (12, 5)):
            self._grow_ledger(customers, invoices)
            wizard = self._edition()
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            wizard.action_review()
            self.env.flush_all()
            counts.append(self.cr.sql_log_count - before)
        self.assertGreater(len(wizard.partner_line_ids), 12)
        self.assertLessEqual(counts[1], counts[0], f"queries at 2x3 then 12x5: {counts}")

    def test_definitive_edition_queries_constant(self):
        """Locks, checks, levels of documents and customers, run lines and the
        customers' chatter: a fixed number of queries (letters aside)."""
        letters = mock.patch.object(
            type(self.env["relance.letter"]),
            "_render",
            return_value=(b"%PDF-1.4 one page", {}),
        )
        with letters:
            # 50: the dunning date checked against the company's days ahead and the
            # user's today (company and user read once); the ticked customers, their
            # last dunning dates and their documents' ids read by SQL, then the
            # documents by the ORM; the run lines through the ORM (one query more
            # than a bulk INSERT)
            self._assert_queries_constant(50, lambda wizard: wizard.action_print_definitive())

    # -- control list ------------------------------------------------------------

    def _xlsx(self, **vals):
        wizard = self._review(**vals)
        action = wizard.action_export_xlsx()
        attachment = self._attachment(action)
        book = openpyxl.load_workbook(
            io.BytesIO(base64.b64decode(attachment.datas)), data_only=True
        )
        return attachment, book.active

    def test_control_list_xlsx(self):
        attachment, sheet = self._xlsx(output="control", subtotal_due=True)
        self.assertIn("level", attachment.name)
        self.assertIn(str(TODAY), attachment.name)
        self.assertTrue(attachment.name.endswith(".xlsx"))
        self.assertEqual(sheet.freeze_panes, "A4")
        self.assertTrue(sheet.auto_filter.ref)
        header = [cell.value for cell in sheet[3]]
        self.assertEqual(
            header[:5], ["Customer ref.", "Customer", "Zip", "Salesperson", "Document"]
        )
        rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=4)]
        documents = {row[4]: row for row in rows if row[15] in ("Document", "Deduction")}
        row = documents[self.alpha_40.name]
        self.assertEqual(row[0], "C001")
        self.assertEqual(row[3], "Sophie Vendeuse")
        self.assertIsInstance(row[6], datetime)
        self.assertEqual(row[6].date(), self.alpha_40.invoice_date_due)
        self.assertEqual(row[7], 40)
        self.assertEqual(row[9], 400.0)
        self.assertEqual(row[12], 3)
        self.assertEqual(documents[self.alpha_refund.name][9], -50.0)
        subtotals = [row for row in rows if row[15] == "Subtotal"]
        partner_sub = [row for row in subtotals if row[1].startswith("Subtotal Alpha")]
        self.assertEqual(partner_sub[0][9], 650.0)
        due_subs = [row for row in subtotals if row[1].startswith("Subtotal due")]
        self.assertEqual(len(due_subs), 4)  # one per due date of the four invoices
        grand = [row for row in rows if row[1] and str(row[1]).startswith("Grand total")]
        self.assertEqual(grand[0][9], 950.0)  # 650 + 300

    # -- letters -----------------------------------------------------------------

    def _attachment(self, action):
        self.assertEqual(action["target"], "download")
        return self.env["ir.attachment"].browse(int(action["url"].split("/")[3].split("?")[0]))

    def test_draft_letters_record_nothing(self):
        wizard = self._review()
        pdf = self._attachment(wizard.action_print_draft()).raw
        text = pdf_text(pdf)
        self.assertIn("BROUILLON / DRAFT", text)
        self.assertIn("Alpha SARL", text)
        self.assertIn("Beta SA", text)
        self.assertIn(self.alpha_40.name, text)
        self.assertEqual(text.count("\f"), 2, "one page per letter")
        self.assertEqual(self.alpha_40.relance_level, 0)
        self.assertFalse(self.env["relance.run"].search([]))

    def test_address_in_the_envelope_window(self):
        """The address lands 110 mm from the left, 55 mm from the top (DL window)."""
        self.beta.write({"street": "5 quai du Port", "city": "Marseille"})
        wizard = self._review(partner_ids=[(6, 0, self.beta.ids)])
        pdf = self._attachment(wizard.action_print_draft()).raw
        out = subprocess.run(
            ["pdftotext", "-bbox", "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode()
        words = re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>quai<', out)
        x_mm, y_mm = (float(v) * 25.4 / 72 for v in words[0])
        self.assertAlmostEqual(x_mm, 110, delta=12)
        self.assertTrue(50 <= y_mm <= 90, f"address at {y_mm:.0f} mm from the top")

    def test_definitive_edition_records_levels_and_run(self):
        wizard = self._review(definitive=True)
        wizard.action_print_definitive()
        self.assertEqual(
            [m.relance_level for m in (self.alpha_5, self.alpha_20, self.alpha_40, self.beta_20)],
            [1, 2, 3, 2],
        )
        self.assertEqual(self.alpha_40.relance_date, TODAY)
        self.assertEqual(self.alpha_refund.relance_level, 0, "a deduction gets no level")
        self.assertEqual(self.alpha_not_due.relance_level, 0)
        alpha = self.alpha.with_company(self.company)
        self.assertEqual((alpha.relance_level, alpha.relance_date), (3, TODAY))
        run = self.env["relance.run"].search([])
        self.assertEqual(run.run_type, "letter")
        self.assertEqual(run.state, "done")
        line = run.line_ids.filtered(lambda ln: ln.move_id == self.alpha_20)
        self.assertEqual((line.level_before, line.level_after, line.outcome), (0, 2, "printed"))
        self.assertEqual(line.residual, 200.0)
        self.assertTrue(run.attachment_id.raw.startswith(b"%PDF"))
        self.assertNotIn("BROUILLON", pdf_text(run.attachment_id.raw))
        message = self.alpha.message_ids[0]
        self.assertEqual(message.attachment_ids, run.attachment_id)
        # the same edition again proposes nothing: a level is sent once
        with self.assertRaisesRegex(UserError, "Nothing to dun"):
            self._review(definitive=True)

    def test_definitive_failure_records_nothing(self):
        wizard = self._review(definitive=True)
        with (
            mock.patch.object(
                type(self.env["ir.actions.report"]), "_run_wkhtmltopdf", return_value=b""
            ),
            self.assertRaisesRegex(UserError, "nothing recorded"),
        ):
            wizard.action_print_definitive()
        self.assertEqual(self.alpha_40.relance_level, 0)
        self.assertEqual(self.alpha.with_company(self.company).relance_level, 0)
        self.assertFalse(self.env["relance.run"].search([]))

    def test_one_broken_letter_does_not_stop_the_others(self):
        """A custom template that fails on Beta: Alpha is printed, Beta recorded failed."""
        self.env["ir.ui.view"].create(
            {
                "name": "Courrier de test",
                "type": "qweb",
                "key": "relance_atys.letter_test_broken",
                "arch": '<t t-name="relance_atys.letter_test_broken">'
                "<t t-out=\"1 / 0 if pline.partner_id.ref == 'C002' else ''\"/>"
                '<t t-call="relance_atys.letter_document"/></t>',
            }
        )
        letters = type(self.env["relance.letter"])
        declared = letters._relance_letter_templates  # as a module declares its letter
        self.patch(
            letters,
            "_relance_letter_templates",
            lambda self: [*declared(self), "relance_atys.letter_test_broken"],
        )
        wizard = self._review(definitive=True, template_key="relance_atys.letter_test_broken")
        with self.assertRaisesRegex(UserError, "Beta SA"):
            wizard.action_print_draft()
        wizard.action_print_definitive()
        run = self.env["relance.run"].search([])
        self.assertIn("Alpha SARL", pdf_text(run.attachment_id.raw))
        self.assertNotIn("Beta SA", pdf_text(run.attachment_id.raw))
        self.assertEqual(self.alpha_40.relance_level, 3)
        self.assertEqual(self.beta_20.relance_level, 0, "a failed letter raises no level")
        self.assertEqual(self.beta.with_company(self.company).relance_level, 0)
        failed = run.line_ids.filtered(lambda line: line.outcome == "failed")
        self.assertEqual(failed.move_id, self.beta_20)
        self.assertIn("division by zero", failed.reason)
        self.assertEqual(run.failed_count, 1)

    def test_definitive_edition_killed_midway_then_run_again(self):
        """A crash after the documents were written: all rolled back, and run again once."""
        wizard = self._review(definitive=True)
        service = type(self.env["relance.service"])
        with (
            mock.patch.object(service, "_create_run", side_effect=RuntimeError("killed")),
            self.assertRaises(RuntimeError),
        ):
            wizard.action_print_definitive()
        self.assertEqual(self.alpha_40.relance_level, 0)
        self.assertEqual(self.alpha.with_company(self.company).relance_level, 0)
        self.assertFalse(self.env["relance.run"].search([]))
        self._review(definitive=True).action_print_definitive()
        run = self.env["relance.run"].search([])
        self.assertEqual(len(run), 1)
        self.assertEqual(len(run.line_ids.filtered(lambda ln: ln.move_id == self.alpha_40)), 1)
        self.assertEqual(self.alpha_40.relance_level, 3)

    def test_stale_proposal_is_refused(self):
        """Two users reviewed the same proposal: the second cannot record it again."""
        first = self._review(definitive=True)
        second = self._review(definitive=True)
        first.action_print_definitive()
        run = self.env["relance.run"].search([])
        with self.assertRaisesRegex(UserError, run.name):  # its letters printed, then refused
            second.action_print_definitive()
        self.assertEqual(len(self.env["relance.run"].search([])), 1)

    def test_definitive_date_before_last_dunning(self):
        self.alpha.with_company(self.company).sudo().write(
            {"relance_level": 1, "relance_date": TODAY + timedelta(days=1)}
        )
        wizard = self._review(definitive=True)
        with self.assertRaisesRegex(UserError, "Alpha SARL"):
            wizard.action_print_definitive()
        self.assertFalse(self.env["relance.run"].search([]))

    def test_wizard_through_form(self):
        form = Form(self.env["relance.edition"])
        form.date = TODAY
        form.output = "control"
        wizard = form.save()
        wizard.action_review()
        self.assertEqual(len(wizard.partner_line_ids), 2)

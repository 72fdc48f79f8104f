"""Dunning per échéance: invoices payable in instalments, through the screens and
the service (the engine's rules per échéance are in test_engine.TestEcheances)."""

import base64
import io
from datetime import timedelta

import openpyxl
from lxml import etree

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import TODAY, RelanceCommon


@tagged("post_install", "-at_install")
class TestEcheances(RelanceCommon):
    """Levels 1 [1, 15], 2 [16, 30], 3 from 31 days late; terms "30 % now, 70 % at
    120 days"."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.term = cls.env["account.payment.term"].create(
            {
                "name": "30 % now, 70 % at 120 days",
                "line_ids": [
                    Command.create({"value": "percent", "value_amount": 30, "nb_days": 0}),
                    Command.create({"value": "percent", "value_amount": 70, "nb_days": 120}),
                ],
            }
        )
        cls.alpha = cls._customer("Alpha SARL", ref="C001")
        # the 30 % late 60 days, the 70 % due in 60 days
        cls.first_due = cls._on_terms(cls.alpha, 1000.0, 60)
        cls.single = cls._invoice(cls.alpha, 200.0, 20)

    @classmethod
    def _on_terms(cls, partner, amount, days_ago):
        move = cls.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": TODAY - timedelta(days=days_ago),
                "invoice_payment_term_id": cls.term.id,
                "invoice_line_ids": [
                    Command.create(
                        {"name": "Prestation", "quantity": 1, "price_unit": amount, "tax_ids": []}
                    )
                ],
            }
        )
        move.action_post()
        return move

    def _review(self, **vals):
        wizard = self.env["relance.edition"].create({"date": TODAY, **vals})
        wizard.action_review()
        return wizard

    def _rows(self, wizard):
        return [
            (line.move_id, line.due_date, line.amount_total, line.residual, line.days_late,
             line.level_after)
            for line in wizard.line_ids.sorted(lambda line: (line.move_id.id, line.due_date))
        ]  # fmt: skip

    @staticmethod
    def _echeances(move):
        move.invalidate_recordset()
        return [
            (line.relance_level, line.relance_date)
            for line in move.relance_echeance_ids.sorted("date_maturity")
        ]

    # -- the proposal --------------------------------------------------------------

    def test_first_instalment_dunned_when_it_falls_due(self):
        """Odoo's due date of the invoice is the 70 %'s (in 60 days): per échéance,
        the 30 % late 60 days is proposed at level 3, alone; the single-échéance
        invoice as before."""
        self.assertEqual(self.first_due.invoice_date_due, TODAY + timedelta(days=60))
        first = TODAY - timedelta(days=60)
        self.assertEqual(
            self._rows(self._review()),
            [
                (self.first_due, first, 300.0, 300.0, 60, 3),
                (self.single, TODAY - timedelta(days=20), 200.0, 200.0, 20, 2),
            ],
        )

    def test_both_late_each_its_level(self):
        both = self._on_terms(self.alpha, 500.0, 150)  # 30 % late 150 days, 70 % late 30
        rows = [row for row in self._rows(self._review()) if row[0] == both]
        self.assertEqual(
            rows,
            [
                (both, TODAY - timedelta(days=150), 150.0, 150.0, 150, 3),
                (both, TODAY - timedelta(days=30), 350.0, 350.0, 30, 2),
            ],
        )

    def test_paid_instalment_left_out_the_other_dunned(self):
        both = self._on_terms(self.alpha, 500.0, 150)
        self._pay(both, 150.0)  # Odoo reconciles it with the first échéance
        self.assertEqual(
            [line.reconciled for line in both.relance_echeance_ids.sorted("date_maturity")],
            [True, False],
        )
        rows = [row for row in self._rows(self._review()) if row[0] == both]
        self.assertEqual(rows, [(both, TODAY - timedelta(days=30), 350.0, 350.0, 30, 2)])

    def test_invoice_exclusion_holds_for_every_echeance(self):
        echeances = self.first_due.relance_echeance_ids
        self.first_due.relance_excluded = True
        self.assertEqual(echeances.mapped("relance_excluded"), [True, True])
        wizard = self._review()
        self.assertNotIn(self.first_due, wizard.line_ids.move_id)
        self.assertIn("excluded", wizard.skipped_text)
        self.first_due.relance_excluded = False
        self.assertEqual(echeances.mapped("relance_excluded"), [False, False])
        self.assertIn(self.first_due, self._review().line_ids.move_id)

    # -- recording and cancelling --------------------------------------------------

    def test_definitive_sets_the_echeance_and_cancel_gives_it_back(self):
        self._review(definitive=True).action_print_definitive()
        self.assertEqual(self._echeances(self.first_due), [(3, TODAY), (0, False)])
        self.assertEqual((self.first_due.relance_level, self.first_due.relance_date), (3, TODAY))
        self.assertEqual(self._echeances(self.single), [(2, TODAY)])
        run = self.env["relance.run"].search([], limit=1)
        line = run.line_ids.filtered(lambda line: line.move_id == self.first_due)
        self.assertEqual(line.move_line_id, self.first_due.relance_echeance_ids[:1])
        self.assertEqual((line.due_date, line.amount_total), (TODAY - timedelta(days=60), 300.0))
        run.action_cancel()
        self.assertEqual(self._echeances(self.first_due), [(0, False), (0, False)])
        self.assertEqual((self.first_due.relance_level, self.first_due.relance_date), (0, False))

    def test_dunned_once_per_level_per_echeance(self):
        """The 30 % at level 3 since 10 days: not again (repeat every 30 days); the 70 %,
        late 30 days now, gets its own level 2."""
        both = self._on_terms(self.alpha, 500.0, 150)
        first, second = both.relance_echeance_ids.sorted("date_maturity")
        self.env["relance.service"]._write_levels({first.id: 3}, TODAY - timedelta(days=10))
        rows = [row[1:] for row in self._rows(self._review()) if row[0] == both]
        self.assertEqual(rows, [(TODAY - timedelta(days=30), 350.0, 350.0, 30, 2)])
        self.assertEqual((both.relance_level, both.relance_date), (3, TODAY - timedelta(days=10)))
        self.assertEqual(second.relance_level, 0)

    # -- levels by hand ------------------------------------------------------------------

    def test_manual_level_on_a_paid_echeance_refused(self):
        both = self._on_terms(self.alpha, 500.0, 150)
        wizard = self.env["relance.level.manage"].create(
            {"partner_ids": [self.alpha.id], "date": TODAY, "new_level": 1}
        )
        wizard.action_modify()
        lines = wizard.line_ids.filtered(lambda line: line.move_id == both)
        self.assertEqual(lines.mapped("due_date"), [TODAY - timedelta(days=150),
                                                    TODAY - timedelta(days=30)])  # fmt: skip
        self.assertEqual(lines.mapped("residual"), [150.0, 350.0])
        lines.selected = True
        self._pay(both, 150.0)  # the first paid while the screen was open
        runs = self.env["relance.run"].search_count([])
        with self.assertRaisesRegex(UserError, "already paid"):
            wizard.action_validate()
        self.assertEqual(self.env["relance.run"].search_count([]), runs)
        self.assertEqual(self._echeances(both), [(0, False), (0, False)])

    # -- the control list ------------------------------------------------------------------

    def test_control_list_subtotals_by_echeance(self):
        both = self._on_terms(self.alpha, 500.0, 150)
        wizard = self._review(output="control", subtotal_due=True)
        action = wizard.action_export_xlsx()
        attachment = self.env["ir.attachment"].browse(
            int(action["url"].split("/")[3].split("?")[0])
        )
        sheet = openpyxl.load_workbook(
            io.BytesIO(base64.b64decode(attachment.datas)), data_only=True
        ).active
        rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=4)]
        documents = [row for row in rows if row[15] == "Document" and row[4] == both.name]
        self.assertEqual(
            [(row[6].date(), row[7], row[8], row[9]) for row in documents],
            [(TODAY - timedelta(days=150), 150, 150.0, 150.0),
             (TODAY - timedelta(days=30), 30, 350.0, 350.0)],
        )  # fmt: skip
        due_subtotals = [row for row in rows if str(row[1]).startswith("Subtotal due")]
        self.assertEqual(len(due_subtotals), 4, "one per due date: 150, 60, 30, 20 days late")

    # -- the invoices' list --------------------------------------------------------

    def test_overdue_filter_finds_a_late_first_instalment(self):
        """ "Overdue, to dun" reads the échéances: the invoice whose 30 % is late, due
        (Odoo's due date, the 70 %'s) in 60 days, is found."""
        view = self.env.ref("account.view_account_invoice_filter")
        arch = etree.fromstring(self.env["account.move"].get_view(view.id, "search")["arch"])
        (overdue,) = arch.xpath("//filter[@name='relance_overdue']")
        domain = safe_eval(overdue.get("domain"), {"context_today": lambda: TODAY})
        domain += [("partner_id", "=", self.alpha.id)]
        self.assertEqual(self.env["account.move"].search(domain), self.first_due | self.single)
        self.first_due.relance_excluded = True
        self.assertEqual(self.env["account.move"].search(domain), self.single)

"""Dunning history: runs and lines, and the cancellation of a definitive run."""

import io
from datetime import date

import openpyxl

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import TODAY, RelanceCommon

MARCH_1, MARCH_15, MARCH_20 = date(2026, 3, 1), date(2026, 3, 15), date(2026, 3, 20)


@tagged("post_install", "-at_install")
class TestHistory(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = cls._new_dunning_user("relance_manager", "manager")
        cls.dunner = cls._new_dunning_user("relance_user", "user")
        cls.service = cls.env["relance.service"].with_user(cls.manager)
        cls.partner = cls._customer("Boulangerie Martin")
        cls.inv_1 = cls._invoice(cls.partner, 1000, 40)
        cls.inv_2 = cls._invoice(cls.partner, 400, 20)
        cls.inv_3 = cls._invoice(cls.partner, 200, 10)
        cls.other = cls._customer("Fromagerie Durand")
        cls.inv_other = cls._invoice(cls.other, 500, 40)

    # -- helpers -----------------------------------------------------------------

    def _letter_run(self, moves_levels, run_date):
        """Record a definitive letter run the way the edition does."""
        lines, partner_levels = [], {}
        for move, level in moves_levels.items():
            partner = move.commercial_partner_id
            lines.append(
                {
                    "partner_id": partner.id,
                    "move_id": move.id,
                    "move_line_id": move._relance_receivable_lines().id,
                    "level_before": move.relance_level,
                    "date_before": move.relance_date,
                    "level_after": level,
                    "residual": move.amount_residual,
                    "currency_id": move.currency_id.id,
                    "channel": "letter",
                    "outcome": "printed",
                }
            )
            partner_levels[partner.id] = max(partner_levels.get(partner.id, 0), level)
        run_vals = {
            "run_type": "letter",
            "company_id": self.company.id,
            "date": run_date,
            "level": max(moves_levels.values()),
        }
        return self.service._record_definitive(self.company, run_vals, lines, partner_levels)

    def _manual_run(self, moves, level, run_date):
        wizard = (
            self.env["relance.level.manage"]
            .with_user(self.manager)
            .create({"partner_id": self.partner.id, "new_level": level, "date": run_date})
        )
        wizard.action_modify()
        wizard.line_ids.filtered(lambda line: line.move_id in moves).selected = True
        return self.env["relance.run"].browse(wizard.action_validate()["res_id"])

    def _state(self):
        """Levels and dates of the documents and customers, as stored."""
        self.env.invalidate_all()
        moves = self.inv_1 | self.inv_2 | self.inv_3 | self.inv_other
        partners = (self.partner | self.other).with_company(self.company)
        return {
            **{move.name: (move.relance_level, move.relance_date) for move in moves},
            **{p.name: (p.relance_level, p.relance_date) for p in partners},
        }

    # -- history -----------------------------------------------------------------

    def test_definitive_run_is_kept_with_its_lines(self):
        run = self._letter_run({self.inv_1: 1, self.inv_other: 1}, MARCH_1)
        self.assertRecordValues(
            run,
            [
                {
                    "run_type": "letter",
                    "state": "done",
                    "user_id": self.manager.id,
                    "date": MARCH_1,
                    "level": 1,
                    "partner_count": 2,
                    "done_count": 2,
                }
            ],
        )
        self.assertRecordValues(
            run.line_ids.filtered(lambda line: line.move_id == self.inv_1),
            [
                {
                    "partner_id": self.partner.id,
                    "level_before": 0,
                    "level_after": 1,
                    "date_before": False,
                    "date_after": MARCH_1,
                    "partner_level_before": 0,
                    "residual": 1000.0,
                    "channel": "letter",
                    "outcome": "printed",
                }
            ],
        )

    def test_partner_smart_button_lists_its_runs(self):
        letter = self._letter_run({self.inv_1: 1}, MARCH_1)
        manual = self._manual_run(self.inv_2, 2, MARCH_15)
        self._letter_run({self.inv_other: 1}, MARCH_1)
        self.assertEqual(self.partner.relance_run_count, 2)
        action = self.partner.action_relance_runs()
        self.assertEqual(self.env["relance.run"].search(action["domain"]), manual | letter)

    def test_invoice_shows_its_level_history(self):
        first = self._letter_run({self.inv_1: 1}, MARCH_1)
        second = self._letter_run({self.inv_1: 2, self.inv_2: 1}, MARCH_15)
        manual = self._manual_run(self.inv_1, 0, MARCH_20)
        self.assertRecordValues(
            self.inv_1.relance_line_ids.sorted("id", reverse=True),
            [
                {"run_id": manual.id, "run_type": "manual", "level_before": 2, "level_after": 0},
                {"run_id": second.id, "run_type": "letter", "level_before": 1, "level_after": 2},
                {"run_id": first.id, "run_type": "letter", "level_before": 0, "level_after": 1},
            ],
        )

    def test_history_by_level_type_and_user(self):
        self._letter_run({self.inv_1: 1, self.inv_other: 1}, MARCH_1)
        self._manual_run(self.inv_2, 3, MARCH_15)
        groups = self.env["relance.run.line"]._read_group(
            [("partner_id", "=", self.partner.id)], ["run_type", "level_after"], ["__count"]
        )
        self.assertEqual(sorted(groups), [("letter", 1, 1), ("manual", 3, 1)])
        runs = self.env["relance.run"].search(
            [("user_id", "=", self.manager.id), ("line_ids.move_id.name", "ilike", self.inv_2.name)]
        )
        self.assertEqual(runs.mapped("run_type"), ["manual"])

    # -- cancellation --------------------------------------------------------------

    def test_cancel_restores_previous_levels(self):
        initial = self._state()
        first = self._letter_run({self.inv_1: 1, self.inv_other: 1}, MARCH_1)
        after_first = self._state()
        second = self._letter_run({self.inv_1: 2, self.inv_2: 1}, MARCH_15)
        self.assertEqual(self._state()["Boulangerie Martin"], (2, MARCH_15))

        second.with_user(self.manager).action_cancel()
        self.assertEqual(self._state(), after_first)
        self.assertRecordValues(
            second, [{"state": "cancelled", "cancelled_by_id": self.manager.id}]
        )
        self.assertTrue(second.cancel_date)
        self.assertIn("previous levels restored", second.message_ids[:1].body)
        self.assertIn(second, self.env["relance.run"].search([("state", "=", "cancelled")]))

        first.with_user(self.manager).action_cancel()
        self.assertEqual(self._state(), initial)

    def test_cancel_several_runs_latest_first(self):
        initial = self._state()
        first = self._letter_run({self.inv_1: 1}, MARCH_1)
        second = self._letter_run({self.inv_1: 2}, MARCH_15)
        (first | second).with_user(self.manager).action_cancel()
        self.assertEqual((first | second).mapped("state"), ["cancelled", "cancelled"])
        self.assertEqual(self._state(), initial)

    def test_cancel_refused_when_a_later_run_touched_a_document(self):
        first = self._letter_run({self.inv_1: 1}, MARCH_1)
        second = self._manual_run(self.inv_1, 3, MARCH_15)
        before = self._state()
        with self.assertRaisesRegex(UserError, f"run {second.name} has changed"):
            first.with_user(self.manager).action_cancel()
        self.assertEqual(self._state(), before, "nothing restored")
        self.assertEqual(first.state, "done")

    def test_cancel_refused_when_a_later_run_touched_the_customer(self):
        first = self._letter_run({self.inv_1: 1}, MARCH_1)
        second = self._letter_run({self.inv_2: 1}, MARCH_15)
        with self.assertRaisesRegex(UserError, second.name):
            first.with_user(self.manager).action_cancel()
        second.with_user(self.manager).action_cancel()
        first.with_user(self.manager).action_cancel()
        self.assertEqual(first.state, "cancelled", "possible once the later run is cancelled")

    def test_cancel_manual_run_leaves_the_customer_alone(self):
        self._letter_run({self.inv_1: 1}, MARCH_1)
        before = self._state()
        manual = self._manual_run(self.inv_1 | self.inv_2, 3, MARCH_15)
        # a later letter to the same customer, on another document, is no obstacle:
        # the manual run never set the customer's level
        self._letter_run({self.inv_3: 1}, MARCH_20)
        manual.with_user(self.manager).action_cancel()
        after = self._state()
        self.assertEqual(after[self.inv_1.name], before[self.inv_1.name])
        self.assertEqual(after[self.inv_2.name], before[self.inv_2.name])
        self.assertEqual(after["Boulangerie Martin"], (1, MARCH_20), "the later letter's")

    def test_cancel_letter_run_after_a_manual_change_elsewhere(self):
        initial = self._state()
        letter = self._letter_run({self.inv_1: 1}, MARCH_1)
        self._manual_run(self.inv_2, 2, MARCH_15)
        letter.with_user(self.manager).action_cancel()
        state = self._state()
        self.assertEqual(state[self.inv_1.name], initial[self.inv_1.name])
        self.assertEqual(state["Boulangerie Martin"], initial["Boulangerie Martin"])
        self.assertEqual(state[self.inv_2.name], (2, MARCH_15), "the manual change stays")

    def test_cancel_only_done_level_runs(self):
        run = self._letter_run({self.inv_1: 1}, MARCH_1)
        run.with_user(self.manager).action_cancel()
        with self.assertRaisesRegex(UserError, "cannot be cancelled"):
            run.with_user(self.manager).action_cancel()
        signature = (  # runs are the services' to make
            self.env["relance.run"].sudo().create({"run_type": "signature", "date": MARCH_1})
        )
        with self.assertRaisesRegex(UserError, "cannot be cancelled"):
            signature.with_user(self.manager).action_cancel()

    # -- access rights -------------------------------------------------------------

    def test_dunning_user_cannot_cancel_a_run(self):
        run = self._letter_run({self.inv_1: 1}, MARCH_1)
        before = self._state()
        with self.assertRaisesRegex(UserError, "Only dunning managers"):
            run.with_user(self.dunner).action_cancel()
        with self.assertRaises(AccessError):
            run.with_user(self.dunner).write({"state": "cancelled"})
        self.assertEqual(run.state, "done")
        self.assertEqual(self._state(), before)
        self.assertEqual(run.with_user(self.dunner).line_ids, run.line_ids, "history readable")

    def test_run_lines_export_to_xlsx(self):
        run = self._letter_run({self.inv_1: 3, self.inv_2: 2}, TODAY)
        action = run.with_user(self.dunner).action_export_xlsx()
        attachment = self.env["ir.attachment"].browse(
            int(action["url"].split("/")[3].split("?")[0])
        )
        sheet = openpyxl.load_workbook(io.BytesIO(attachment.raw)).active
        self.assertEqual(sheet["A3"].value, "Customer")
        rows = {row[1]: row for row in sheet.iter_rows(min_row=4, values_only=True)}
        row = rows[self.inv_1.name]
        self.assertEqual(row[0], "Boulangerie Martin")
        self.assertEqual((row[3], row[4], row[5]), (0, 3, 1000.0))
        self.assertEqual(row[8], "Printed")
        self.assertEqual(row[10].date(), TODAY)

"""Manual level management (Atys "Gestion des niveaux de relance")."""

from datetime import date

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from .common import TODAY, RelanceCommon

LAST_RUN = date(2026, 3, 1)


@tagged("post_install", "-at_install")
class TestLevelManage(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_2 = cls.setup_other_company()["company"]
        companies = (cls.company | cls.company_2).ids
        cls.manager = cls._new_dunning_user("relance_manager", "manager", company_ids=companies)
        cls.dunner = cls._new_dunning_user("relance_user", "user", company_ids=companies)
        cls.service = cls.env["relance.service"]
        cls.partner = cls._customer("Boulangerie Martin", ref="C0042")
        cls.contact = cls.env["res.partner"].create(
            {"name": "Paul Martin", "parent_id": cls.partner.id, "type": "invoice"}
        )
        cls.inv_old = cls._invoice(cls.partner, 1000, 60)  # dated TODAY - 90
        cls.inv_mid = cls._invoice(cls.partner, 400, 20)  # dated TODAY - 50
        cls.inv_contact = cls._invoice(cls.contact, 250, 10)  # dated TODAY - 40
        cls.refund = cls._invoice(cls.partner, 100, 5, move_type="out_refund")
        cls.paid = cls._invoice(cls.partner, 300, 15)
        cls._pay(cls.paid, 300)
        cls.draft = cls._invoice(cls.partner, 700, 15, post=False)
        cls.other = cls._invoice(cls._customer("Fromagerie Durand"), 500, 60)
        cls.in_company_2 = (
            cls.env["account.move"]
            .with_company(cls.company_2)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": cls.partner.id,
                    "invoice_date": TODAY,
                    "invoice_line_ids": [
                        Command.create({"name": "Prestation", "price_unit": 900, "tax_ids": []})
                    ],
                }
            )
        )
        cls.in_company_2.action_post()
        cls._write_move_levels({cls.inv_old.id: 2, cls.inv_mid.id: 1}, LAST_RUN)
        cls.service._write_partner_levels(cls.company, {cls.partner.id: 2}, LAST_RUN)

    def _wizard(self, **vals):
        return (
            self.env["relance.level.manage"]
            .with_user(self.manager)
            .create({"partner_ids": [self.partner.id], "date": TODAY, **vals})
        )

    def _levels(self, moves):
        moves.invalidate_recordset(["relance_level", "relance_date"])
        return {move: (move.relance_level, move.relance_date) for move in moves}

    def _tick(self, wizard, moves):
        """Tick the lines of ``moves`` the way the user does, in the form."""
        with Form(wizard) as form:
            for index in range(len(form.line_ids)):
                with form.line_ids.edit(index) as line:
                    line.selected = line.move_id in moves

    # -- consultation -------------------------------------------------------------

    def test_consult_lists_open_documents_greyed(self):
        wizard = self._wizard()
        wizard.action_consult()
        self.assertEqual(wizard.state, "consult")
        self.assertEqual(
            wizard.line_ids.move_id,
            self.inv_old | self.inv_mid | self.inv_contact | self.refund,
            "open documents of the commercial entity in this company only: "
            "not paid, draft, another customer's or another company's",
        )
        old = wizard.line_ids.filtered(lambda line: line.move_id == self.inv_old)
        self.assertRecordValues(
            old,
            [
                {
                    "invoice_date": self.inv_old.invoice_date,
                    "due_date": self.inv_old.invoice_date_due,
                    "residual": 1000.0,
                    "level": 2,
                    "level_date": LAST_RUN,
                    "selected": False,
                }
            ],
        )
        refund = wizard.line_ids.filtered(lambda line: line.move_id == self.refund)
        self.assertEqual(refund.residual, -100.0, "a credit note reads as a deduction")
        with (
            Form(wizard) as form,
            form.line_ids.edit(0) as line,
            self.assertRaises(AssertionError, msg="greyed lines cannot be ticked"),
        ):
            line.selected = True

    def test_consult_filters(self):
        cases = [
            ({"current_level": 1}, self.inv_mid),
            ({"current_level": 0}, self.inv_contact | self.refund),
            ({"current_level": 4}, self.env["account.move"]),
            (
                {"date_from": self.inv_mid.invoice_date},
                self.inv_mid | self.inv_contact | self.refund,
            ),
            ({"date_to": self.inv_mid.invoice_date}, self.inv_old | self.inv_mid),
            ({"current_level": 2, "date_to": self.inv_mid.invoice_date}, self.inv_old),
        ]
        for vals, expected in cases:
            with self.subTest(**vals):
                wizard = self._wizard(**vals)
                wizard.action_consult()
                self.assertEqual(wizard.line_ids.move_id, expected)

    def test_partner_searchable_by_reference_or_name(self):
        Partner = self.env["res.partner"].with_user(self.manager)
        for text in ("C0042", "Boulangerie Mar"):
            with self.subTest(text=text):
                self.assertIn(self.partner.id, [pid for pid, _name in Partner.name_search(text)])

    # -- modification and validation ------------------------------------------------

    def test_modify_makes_lines_tickable(self):
        wizard = self._wizard()
        wizard.action_consult()
        wizard.action_modify()
        self.assertEqual(wizard.state, "modify")
        self._tick(wizard, self.inv_mid)
        self.assertEqual(wizard.line_ids.filtered("selected").move_id, self.inv_mid)

    def test_modify_without_documents(self):
        wizard = self._wizard(current_level=5)
        with self.assertRaisesRegex(UserError, "No open document"):
            wizard.action_modify()
        self.assertEqual(wizard.state, "consult")

    def test_validate_changes_ticked_documents_only(self):
        untouched = self._levels(self.inv_old | self.refund)
        wizard = self._wizard(new_level=3, date=date(2026, 3, 20))
        wizard.action_modify()
        self._tick(wizard, self.inv_mid | self.inv_contact)
        action = wizard.action_validate()

        self.assertEqual(
            self._levels(self.inv_mid | self.inv_contact),
            {self.inv_mid: (3, date(2026, 3, 20)), self.inv_contact: (3, date(2026, 3, 20))},
        )
        self.assertEqual(self._levels(self.inv_old | self.refund), untouched)
        partner = self.partner.with_company(self.company)
        partner.invalidate_recordset()
        self.assertEqual(
            (partner.relance_level, partner.relance_date),
            (2, LAST_RUN),
            "a manual change never moves the customer's level and date (as in Atys)",
        )
        run = self.env["relance.run"].browse(action["res_id"])
        self.assertEqual(action["res_model"], "relance.run")
        self.assertRecordValues(
            run,
            [
                {
                    "run_type": "manual",
                    "state": "done",
                    "level": 3,
                    "date": date(2026, 3, 20),
                    "user_id": self.manager.id,
                    "company_id": self.company.id,
                }
            ],
        )
        self.assertIn("Boulangerie Martin", run.parameters)
        self.assertRecordValues(
            run.line_ids.sorted(lambda line: line.move_id.id),
            [
                {
                    "move_id": self.inv_mid.id,
                    "partner_id": self.partner.id,
                    "level_before": 1,
                    "date_before": LAST_RUN,
                    "level_after": 3,
                    "date_after": date(2026, 3, 20),
                    "residual": 400.0,
                    "channel": "none",
                    "outcome": "changed",
                },
                {
                    "move_id": self.inv_contact.id,
                    "partner_id": self.partner.id,
                    "level_before": 0,
                    "date_before": False,
                    "level_after": 3,
                    "date_after": date(2026, 3, 20),
                    "residual": 250.0,
                    "channel": "none",
                    "outcome": "changed",
                },
            ],
        )

    def test_validate_can_lower_a_level_to_zero(self):
        wizard = self._wizard(current_level=2, new_level=0)
        wizard.action_modify()
        self._tick(wizard, self.inv_old)
        wizard.action_validate()
        self.assertEqual(self._levels(self.inv_old), {self.inv_old: (0, TODAY)})

    # -- checked input -------------------------------------------------------------

    def _assert_refused(self, wizard, message):
        watched = self.inv_old | self.inv_mid | self.inv_contact | self.refund
        before = self._levels(watched)
        runs = self.env["relance.run"].search_count([])
        with self.assertRaisesRegex(UserError, message):
            wizard.action_validate()
        self.assertEqual(self._levels(watched), before, "nothing written")
        self.assertEqual(self.env["relance.run"].search_count([]), runs, "no run recorded")

    def _ticked_wizard(self, **vals):
        wizard = self._wizard()
        wizard.action_modify()
        self._tick(wizard, self.inv_old | self.inv_mid)
        wizard.write(vals)
        return wizard

    def test_refuse_new_level_out_of_range(self):
        for level in (-1, 6):
            with self.subTest(level=level):
                self._assert_refused(self._ticked_wizard(new_level=level), "between 0 and 5")

    def test_refuse_empty_selection(self):
        wizard = self._wizard(new_level=1)
        wizard.action_modify()
        self._assert_refused(wizard, "Tick the documents")

    def test_refuse_inverted_date_range(self):
        wizard = self._ticked_wizard(date_from=TODAY, date_to=date(2026, 1, 1))
        self._assert_refused(wizard, "inverted")
        with self.assertRaisesRegex(UserError, "inverted"):
            wizard.action_consult()

    def test_refuse_partner_of_another_company(self):
        foreign = self._customer("Société Lointaine", company_id=self.company_2.id)
        wizard = self._ticked_wizard(partner_ids=[foreign.id])
        self._assert_refused(wizard, "belongs to the company company_2")
        with self.assertRaisesRegex(UserError, "company_2"):
            wizard.action_consult()

    # -- access rights -------------------------------------------------------------

    def test_dunning_user_cannot_change_levels(self):
        Wizard = self.env["relance.level.manage"].with_user(self.dunner)
        with self.assertRaises(AccessError):
            Wizard.create({"partner_ids": [self.partner.id]})
        wizard = self._ticked_wizard(new_level=5)
        with self.assertRaisesRegex(UserError, "Only dunning managers"):
            wizard.with_user(self.dunner).action_validate()
        self.assertEqual(self._levels(self.inv_old)[self.inv_old], (2, LAST_RUN))
        menu = self.env.ref("relance_atys.menu_relance_level_manage")
        self.assertFalse(menu.with_user(self.dunner)._filter_visible_menus())

    # -- speed -------------------------------------------------------------------

    def _ticked_customer_wizard(self, count):
        customer = self._customer(f"Client {count}")
        for index in range(count):
            self._invoice(customer, 100 + index, 40)
        wizard = self._wizard(partner_ids=[customer.id], new_level=2)
        wizard.action_modify()
        wizard.line_ids.selected = True
        return wizard

    def test_validate_query_count(self):
        """Validating costs the same whatever the number of ticked documents."""
        for count in (1, 5, 50):
            wizard = self._ticked_customer_wizard(count)
            self.env.flush_all()
            self.env.invalidate_all()
            if count == 1:  # warms the ORM caches (access rules, groups) up
                wizard.action_validate()
                continue
            # 22: the wizard, its company, its customers (their relation table, then
            # them: several may be chosen), its lines (search, read) (6);
            # the lock in its savepoint (3); the échéances still open, and their
            # levels before (1); their documents (1); one statement for the levels
            # of every échéance and document (1); the run's sequence (3) and INSERT (1);
            # the currency read, one INSERT of every line, then their currency again
            # and one UPDATE of their stored related fields (4); the date checked
            # against the company's days ahead and the user's today (1);
            # one more since the security checks and the date check met (1).
            with self.assertQueryCount(22):
                wizard.action_validate()
            self.assertEqual(set(wizard.line_ids.move_id.mapped("relance_level")), {2})

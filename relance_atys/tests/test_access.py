"""Who may do what: each group against each action, and two companies apart."""

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import TODAY, RelanceCommon


@tagged("post_install", "-at_install")
class TestAccess(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company_ids = [Command.set(cls.company.ids)]
        base = "base.group_user,account.group_account_invoice"
        cls.accountant = new_test_user(
            cls.env,
            "accountant.nodun",
            groups=base,
            company_id=cls.company.id,
            company_ids=company_ids,
        )
        cls.dunning_user, cls.dunning_manager = (
            cls._new_dunning_user(
                f"dunning.{role}", role, company_id=cls.company.id, company_ids=company_ids
            )
            for role in ("user", "manager")
        )
        cls.customer = cls._customer("Client Accès")
        cls.invoice = cls._invoice(cls.customer, 500.0, 20)
        cls.other_company = cls.env["res.company"].create({"name": "Autre Société"})
        cls.other_level = cls.env["relance.level"].search(
            [("company_id", "=", cls.other_company.id)], limit=1
        )

    def _edition(self, user):
        wizard = (
            self.env["relance.edition"].with_user(user).create({"date": TODAY, "definitive": True})
        )
        wizard.action_review()
        return wizard

    def _record_run(self):
        wizard = self._edition(self.dunning_manager)
        wizard.action_print_definitive()
        return self.env["relance.run"].search([], order="id desc", limit=1)

    def test_accountant_without_dunning_group_sees_nothing(self):
        for model in ("relance.level", "relance.run", "relance.run.line"):
            with self.subTest(model=model), self.assertRaises(AccessError):
                self.env[model].with_user(self.accountant).search([])
        with self.assertRaises(AccessError):
            self._edition(self.accountant)
        menu = self.env.ref("relance_atys.menu_relance_root")
        visible = self.env["ir.ui.menu"].with_user(self.accountant)._visible_menu_ids()
        self.assertNotIn(menu.id, visible)

    def test_user_reviews_prints_drafts_and_exports(self):
        wizard = self._edition(self.dunning_user)
        self.assertTrue(wizard.partner_line_ids)
        wizard.action_export_xlsx()
        wizard.action_print_draft()
        self.assertTrue(self.env["relance.level"].with_user(self.dunning_user).search([]))

    def test_user_cannot_record_configure_or_cancel(self):
        wizard = self._edition(self.dunning_user)
        with self.assertRaisesRegex(UserError, "managers"):
            wizard.action_print_definitive()
        self.assertEqual(self.invoice.relance_level, 0)
        with self.assertRaises(AccessError):
            self.levels[0].with_user(self.dunning_user).write({"lower_bound": 2})
        run = self._record_run()
        with self.assertRaises(UserError):
            run.with_user(self.dunning_user).action_cancel()
        self.assertEqual(run.state, "done")
        with self.assertRaises(AccessError):
            self.env["relance.level.manage"].with_user(self.dunning_user).create({})

    def test_manager_records_configures_and_cancels(self):
        self.levels[0].with_user(self.dunning_manager).write({"lower_bound": 2})
        run = self._record_run()
        self.assertEqual(self.invoice.relance_level, 2)
        run.with_user(self.dunning_manager).action_cancel()
        self.assertEqual((run.state, self.invoice.relance_level), ("cancelled", 0))

    def test_portal_user_reaches_only_its_own_invoices(self):
        """The mail's portal link opens the customer's invoices, and no one else's."""
        other = self._customer("Client Voisin")
        other_invoice = self._invoice(other, 900.0, 20)
        portal = new_test_user(
            self.env,
            "portal.client",
            groups="base.group_portal",
            partner_id=self.customer.id,
            company_id=self.company.id,
        )
        Move = self.env["account.move"].with_user(portal)
        self.assertEqual(Move.search([("move_type", "=", "out_invoice")]), self.invoice)
        with self.assertRaises(AccessError):
            other_invoice.with_user(portal).read(["name"])
        self.assertIn(self.invoice.access_url, self.invoice.get_portal_url())

    def test_companies_apart(self):
        Level = self.env["relance.level"].with_user(self.dunning_manager)
        self.assertNotIn(self.other_level, Level.search([]))
        with self.assertRaises(AccessError):
            self.other_level.with_user(self.dunning_manager).read(["name"])
        run = self._record_run()
        outsider = new_test_user(
            self.env,
            "dunning.other",
            company_id=self.other_company.id,
            company_ids=[Command.set(self.other_company.ids)],
            groups="base.group_user,account.group_account_invoice,"
            "relance_atys.group_relance_manager",
        )
        self.assertFalse(self.env["relance.run"].with_user(outsider).search([("id", "=", run.id)]))
        foreign = self._customer("Client Autre", company_id=self.other_company.id)
        wizard = (
            self.env["relance.edition"]
            .with_user(self.dunning_manager)
            .create({"date": TODAY, "partner_ids": [Command.set(foreign.ids)]})
        )
        with self.assertRaisesRegex(UserError, "another company"):
            wizard.action_review()
        with self.assertRaisesRegex(UserError, "another company"):
            self.env["relance.edition"].with_user(self.dunning_manager).create(
                {"date": TODAY, "level_id": self.other_level.id}
            ).action_review()

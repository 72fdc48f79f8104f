"""One échéance excluded from dunning ("NA" on some échéances, as Akuiteo has it):
the invoice form's buttons, their server-side checks, and the proposal's answer."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import format_date

from .common import TODAY
from .test_security import SecurityCommon


@tagged("post_install", "-at_install")
class TestEcheanceExclusion(SecurityCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the 30 % late 150 days, the 70 % late 30 days: both dunned
        cls.both = cls._instalment_invoice(cls.customer, 150, 120)
        cls.first, cls.second = cls.both.relance_echeance_ids.sorted("date_maturity")

    def _proposed(self):
        wizard = self.env["relance.edition"].with_user(self.manager_a).create({"date": TODAY})
        wizard.action_review()
        return wizard, wizard.line_ids.filtered(lambda line: line.move_id == self.both)

    def test_excluded_echeance_left_out_with_its_reason_the_other_dunned(self):
        self.first.with_user(self.manager_a).action_relance_exclude()
        self.assertEqual((self.first.relance_excluded, self.second.relance_excluded), (True, False))
        self.assertFalse(self.both.relance_excluded)  # the invoice itself is not
        wizard, lines = self._proposed()
        self.assertEqual(lines.move_line_id, self.second)
        due = format_date(self.env(user=self.manager_a), self.first.date_maturity)
        self.assertIn(
            f"{self.both.name}, instalment due {due}: instalment excluded from dunning",
            wizard.skipped_text,
        )
        note = self.both.message_ids[0]
        self.assertIn(f"Instalment(s) due {due} excluded from dunning.", note.body)
        self.assertEqual(note.author_id, self.manager_a.partner_id)

        self.first.with_user(self.manager_a).action_relance_include()
        self.assertFalse(self.first.relance_excluded)
        _wizard, lines = self._proposed()
        self.assertEqual(lines.move_line_id, self.first | self.second)
        self.assertIn("included in dunning again", self.both.message_ids[0].body)

    def test_a_dunning_user_who_is_no_manager_is_refused(self):
        with self.assertRaisesRegex(UserError, "Only dunning managers"):
            self.first.with_user(self.user_a).action_relance_exclude()
        self.assertFalse(self.first.relance_excluded)

    def test_another_companys_echeance_is_refused(self):
        line_b = self.invoice_b.relance_echeance_ids
        with self.assertRaisesRegex(UserError, "Société B, a company you are not working in"):
            line_b.with_user(self.manager_a).action_relance_exclude()
        # nor written by hand: Odoo's rules keep the other company's lines out of reach
        with self.assertRaises(AccessError):
            line_b.with_user(self.manager_a).write({"relance_excluded": True})
        self.assertFalse(line_b.relance_excluded)

    def test_only_open_echeances_of_posted_customer_invoices(self):
        product_line = self.both.invoice_line_ids
        with self.assertRaisesRegex(UserError, "Only the open instalments"):
            product_line.with_user(self.manager_a).action_relance_exclude()
        self._pay(self.both, 300.0)  # Odoo reconciles it with the first échéance
        self.assertTrue(self.first.reconciled)
        with self.assertRaisesRegex(UserError, "Only the open instalments"):
            self.first.with_user(self.manager_a).action_relance_exclude()
        self.assertFalse((self.first | product_line).filtered("relance_excluded"))

    def test_an_echeance_of_an_invoice_excluded_whole_is_not_included_alone(self):
        self.both.with_user(self.manager_a).relance_excluded = True
        with self.assertRaisesRegex(UserError, "excluded from dunning as a whole"):
            self.first.with_user(self.manager_a).action_relance_include()
        self.assertTrue(self.first.relance_excluded)

    def test_the_invoice_form_shows_the_buttons_to_managers_only(self):
        for user, shown in ((self.manager_a, True), (self.user_a, False)):
            arch = (
                self.env["account.move"]
                .with_user(user)
                .get_views([(False, "form")])["views"]["form"]["arch"]
            )
            with self.subTest(user=user.login):
                self.assertEqual("action_relance_exclude" in arch, shown)
                self.assertEqual("action_relance_include" in arch, shown)

"""The reminder composer in use (issue 14, items 2, 3 and 14): a mail that is not a
dunning step moves nothing, not even when cancelled; what the screen shows."""

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from .common import TODAY, ComposerCase


@tagged("post_install", "-at_install")
class TestComposer(ComposerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.older = cls._invoice(cls.customer, 300.0, 40)

    def _letter_run(self):
        """A definitive letter run of the customer's two invoices, dated TODAY."""
        edition = (
            self.env["relance.edition"]
            .with_user(self.manager)
            .create({"date": TODAY, "definitive": True, "partner_ids": self.customer.ids})
        )
        edition.action_review()
        edition.action_print_definitive()
        return self.env["relance.run"].search([], limit=1)

    def _state(self):
        self.env.invalidate_all()
        partner = self.customer.with_company(self.company)
        return [
            (self.invoice.relance_level, self.invoice.relance_date),
            (self.older.relance_level, self.older.relance_date),
            (partner.relance_level, partner.relance_date),
        ]

    def _not_a_step(self):
        composer = self._composer(count_as_step=False)
        composer.action_send()
        return self.env["relance.run"].search([], limit=1)

    # -- item 2 and 3: a mail that is not a step ------------------------------------

    def test_cancel_mail_not_a_step_keeps_levels(self):
        """Item 2: cancelling it gave the customer level 0 and no date."""
        self._letter_run()
        dunned = self._state()
        self.assertEqual(dunned, [(1, TODAY), (3, TODAY), (3, TODAY)])
        mail_run = self._not_a_step()
        self.assertEqual(self._state(), dunned, "the mail moves nothing")
        line = mail_run.line_ids.filtered(lambda ln: ln.move_id == self.older)
        self.assertEqual(
            (line.level_before, line.date_before, line.level_after, line.date_after),
            (3, TODAY, 3, TODAY),
        )
        self.assertEqual((line.partner_level_before, line.partner_date_before), (3, TODAY))
        mail_run.with_user(self.manager).action_cancel()
        self.assertEqual(mail_run.state, "cancelled")
        self.assertEqual(self._state(), dunned, "nor does its cancellation")

    def test_mail_not_a_step_does_not_block_cancelling_the_letters(self):
        """Item 3: only a later line that moved a level blocks a cancellation."""
        letter_run = self._letter_run()
        self._not_a_step()
        letter_run.with_user(self.manager).action_cancel()
        self.assertEqual(letter_run.state, "cancelled")
        self.assertEqual(self._state(), [(0, False), (0, False), (0, False)])

    def test_mail_that_is_a_step_still_blocks(self):
        letter_run = self._letter_run()
        self._composer().action_send()  # counted: the levels move again
        with self.assertRaisesRegex(UserError, "Cancel .* first"):
            letter_run.with_user(self.manager).action_cancel()

    # -- item 14: the composer's screen ---------------------------------------------

    def test_one_total_of_the_ticked_documents(self):
        """The list had its own footer sum (every line, ticked or not) beside the total."""
        arch = self.env["relance.composer"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertNotIn('sum="', arch)
        composer = self._composer()
        composer.line_ids.filtered(lambda ln: ln.move_id == self.older).selected = False
        self.assertIn("800", composer.amount.replace("\u202f", "").replace(",", ""))
        self.assertNotIn("1100", composer.amount.replace("\u202f", "").replace(",", ""))

    def test_sender_is_the_company_or_its_contact_for_questions(self):
        """The mail comes from the company's accounts, not from whoever composes it."""
        contact = new_test_user(
            self.env,
            "compta.contact",
            email="compta@relances.example.com",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        self.company.write({"email": "contact@relances.example.com"})
        self.assertEqual(self._composer().sender_id, self.company.partner_id)
        self.company.relance_contact_id = contact
        composer = self._composer()
        self.assertEqual(composer.sender_id, contact.partner_id)
        composer.action_send()
        mail = self.env["mail.mail"].search([], order="id desc", limit=1)
        self.assertEqual(mail.email_from, contact.partner_id.email_formatted)

    def test_sender_is_the_user_as_a_person(self):
        """Without a company address, the user's contact, shown by its name: not as
        a contact of another company."""
        self.company.email = False
        other = self.env["res.company"].create({"name": "Maison Mère"})
        self.manager.partner_id.parent_id = other.partner_id
        composer = self._composer()
        self.assertEqual(composer.sender_id, self.manager.partner_id)
        shown = composer.sender_id.with_context(relance_sender=True).display_name
        self.assertEqual(shown, f"{self.manager.name} <{self.manager.email}>")
        self.assertNotIn("Maison Mère", shown)

    def test_subject_and_step_follow_the_type(self):
        """A formal notice is titled as one; only a dunning counts as a step by default."""
        composer = self._composer(next_level_id=self.levels[2].id)
        self.assertEqual(composer.subject, "Mise en demeure - factures échues")
        self.assertTrue(composer.count_as_step)
        expected = {
            "notice": ("falling due soon", False),
            "thanks": ("thank you", False),
            "dunning": ("Mise en demeure", True),
        }
        for relance_type, (subject, step) in expected.items():
            with self.subTest(relance_type=relance_type):
                composer.relance_type = relance_type
                self.assertIn(subject, composer.subject)
                self.assertEqual(composer.count_as_step, step)

    def test_composer_from_the_invoice(self):
        """A button on the invoice: its customer's composer, this invoice ticked."""
        arch = (
            self.env["account.move"]
            .with_user(self.manager)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertIn('name="action_relance_compose"', arch)
        action = self.invoice.with_user(self.manager).action_relance_compose()
        composer = self.env["relance.composer"].browse(action["res_id"])
        self.assertEqual(composer.partner_id, self.customer)
        self.assertEqual(composer.company_id, self.invoice.company_id)
        self.assertEqual(composer.line_ids.filtered("selected").move_id, self.invoice)
        self.assertEqual(set(composer.line_ids.move_id), {self.invoice, self.older})

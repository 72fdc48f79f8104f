"""What a letter tells the customer beyond its documents: how to pay (bank
details, methods, reference), whom to ask, who signs, the sender's legal
mentions, the registered-mail mention of formal notices, page numbers."""

import re

from odoo.tests import tagged

from .common import TODAY, RelanceCommon, load_french, own_registry_lock
from .test_edition import pdf_text


@tagged("post_install", "-at_install")
class TestLetterContent(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.partner_id.bank_ids.unlink()
        bank = cls.env["res.bank"].create({"name": "Banque Test Lyon", "bic": "BTESFRPPXXX"})
        cls.bank_account = cls.env["res.partner.bank"].create(
            {
                "partner_id": cls.company.partner_id.id,
                "acc_number": "FR76 3000 4000 0312 3456 7890 143",
                "bank_id": bank.id,
            }
        )
        cls.claire = cls.env["res.users"].create(
            {
                "name": "Claire Martin",
                "login": "claire.test",
                "email": "claire@example.com",
                "phone": "+33 4 72 00 00 12",
                "function": "Responsable du recouvrement",
            }
        )
        cls.paul = cls.env["res.users"].create(
            {"name": "Paul Durand", "login": "paul.test", "function": "Directeur financier"}
        )
        cls.company.write(
            {
                "relance_contact_id": cls.claire.id,
                "relance_signatory_id": cls.claire.id,
                "relance_payment_methods": "Virement ou chèque",
                "relance_legal_form": "SAS",
                "relance_share_capital": "50 000 €",
                "relance_rcs": "RCS Lyon 123 456 789",
                "company_registry": "123 456 789 00012",
            }
        )
        cls.alpha = cls._customer("Alpha SARL", ref="C001", city="Paris", lang="fr_FR")
        cls.alpha_10 = cls._invoice(cls.alpha, 100.0, 10)

    def _letters(self, partners, **vals):
        own_registry_lock(self)
        load_french(self.env)
        wizard = self.env["relance.edition"].create(
            {"date": TODAY, "partner_ids": [(6, 0, partners.ids)], **vals}
        )
        wizard.action_review()
        action = wizard.action_print_draft()
        attachment = self.env["ir.attachment"].browse(
            int(action["url"].split("/")[3].split("?")[0])
        )
        return pdf_text(attachment.raw)

    @staticmethod
    def _flat(text):
        return re.sub(r"\s+", " ", text)

    def test_payment_contact_signatory_legal_mentions(self):
        text = self._flat(self._letters(self.alpha))
        for words in (
            "Modalités de paiement",
            "FR76 3000 4000 0312 3456 7890 143",
            "BTESFRPPXXX",
            "Banque Test Lyon",
            "Moyens de paiement acceptés : Virement ou chèque",
            "Référence à rappeler avec votre règlement : C001",
            "Claire Martin, +33 4 72 00 00 12, claire@example.com",
            "Responsable du recouvrement",
            "SAS au capital de 50 000 €",
            "RCS Lyon 123 456 789",
            "SIRET 123 456 789 00012",
        ):
            self.assertIn(words, text)
        self.assertNotIn("RECOMMANDÉE", text, "level 1 is no formal notice")
        self.assertNotIn("Niveau", text, "no internal level shown to the customer")

    def test_level_names_its_own_signatory_and_contact(self):
        level = self.levels.filtered(lambda lv: lv.number == 1)
        level.write({"signatory_id": self.paul.id, "contact_id": self.paul.id})
        text = self._flat(self._letters(self.alpha))
        self.assertIn("Directeur financier", text)
        self.assertNotIn("Claire Martin", text)

    def test_no_bank_account_no_block_and_settings_warn(self):
        settings = self.env["res.config.settings"].create({})
        self.assertFalse(settings.relance_no_bank_account)
        self.bank_account.active = False  # the invoices keep pointing to it
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.relance_no_bank_account)
        text = self._flat(self._letters(self.alpha))
        self.assertNotIn("IBAN", text)
        self.assertIn("Référence à rappeler avec votre règlement : C001", text)

    def test_level_without_payment_details(self):
        self.levels.filtered(lambda lv: lv.number == 1).show_payment = False
        self.assertNotIn("IBAN", self._letters(self.alpha))

    def test_formal_notice_is_registered_mail(self):
        self.levels.filtered(lambda lv: lv.number == 3).formal_notice = True
        self._invoice(self.alpha, 100.0, 40)
        text = self._letters(self.alpha)
        self.assertIn("LETTRE RECOMMANDÉE AVEC ACCUSÉ DE RÉCEPTION", text)

    def test_page_numbers_on_letters_over_one_page(self):
        """A letter of 45 documents runs over two pages: each says "Page x / y";
        the one-page letter after it has none."""
        long_one = self._customer("Long SARL", ref="C900", lang="fr_FR")
        for days in range(45):
            self._invoice(long_one, 10.0 + days, 1 + days % 14)
        text = self._letters(long_one | self.alpha)
        pages = text.split("\f")[:-1]
        long_pages = [page for page in pages if "Alpha SARL" not in page]
        self.assertGreaterEqual(len(long_pages), 2)
        count = len(long_pages)
        for number, page in enumerate(long_pages, start=1):
            self.assertIn(f"Page {number} / {count}", page)
        (alpha_page,) = [page for page in pages if "Alpha SARL" in page]
        self.assertNotIn("Page 1", alpha_page)

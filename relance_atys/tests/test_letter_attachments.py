"""What follows a letter or goes with a mail (issue 16): the invoices' PDFs after
each letter, the statement of account after it or attached to the emails and to
the composer's mail."""

import re
from datetime import date
from unittest import mock

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..report import relance_letter
from .common import TODAY, RelanceCommon, jobs_performed, load_french, own_registry_lock
from .test_edition import pdf_text

PAGE = re.compile(rb"/Type\s*/Page\b")


@tagged("post_install", "-at_install")
class TestLetterAttachments(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.email = "compta@societe.example.com"
        cls.acme = cls._customer("Acme SAS", ref="C100", city="Lyon")
        cls.zinc = cls._customer("Zinc SARL", ref="C200", city="Paris")
        cls.acme_20 = cls._invoice(cls.acme, 1000.0, 20)
        cls.acme_40 = cls._invoice(cls.acme, 500.0, 40)
        cls.zinc_20 = cls._invoice(cls.zinc, 300.0, 20)

    def setUp(self):
        super().setUp()
        own_registry_lock(self)  # wkhtmltopdf reads the invoices' CSS from the server

    def _lines(self):
        wizard = self.env["relance.edition"].create(
            {"date": TODAY, "partner_ids": (self.acme | self.zinc).ids}
        )
        wizard.action_review()
        return self.env["relance.service"]._review_ticked_lines(wizard, "none ticked")

    def _draft(self, **options):
        letters = self.env["relance.letter"].with_context(force_report_rendering=True)
        pdf, _name = letters._print_draft(self.company, {"date": TODAY, **options}, self._lines())
        return pdf

    def _pages(self, pdf):
        """Each page's text, whitespace squeezed."""
        return [re.sub(r"\s+", " ", page) for page in pdf_text(pdf).split("\f")[:-1]]

    def _first_page(self, pages, *words):
        return next(i for i, page in enumerate(pages) if all(word in page for word in words))

    def test_invoices_after_each_letter(self):
        """Acme's letter, Acme's two invoices (their own PDFs), then Zinc's letter and
        its invoice; the letters' pages as without the option."""
        plain = self._pages(self._draft())
        pages = self._pages(self._draft(invoices=True))
        acme_letter = self._first_page(pages, "Acme SAS", self.acme_40.name, self.acme_20.name)
        zinc_letter = self._first_page(pages, "Zinc SARL", self.zinc_20.name)
        between = pages[acme_letter + 1 : zinc_letter]
        self.assertEqual(len(between), 2, "one page per invoice of Acme")
        self.assertTrue(any(self.acme_20.name in page for page in between))
        self.assertTrue(any(self.acme_40.name in page for page in between))
        self.assertIn(self.zinc_20.name, pages[zinc_letter + 1])
        self.assertEqual(len(pages), len(plain) + 3)
        for move in self.acme_20 | self.acme_40 | self.zinc_20:
            self.assertTrue(move.invoice_pdf_report_id, "printed once, kept on the invoice")

    def test_statement_then_invoices(self):
        pages = self._pages(self._draft(invoices=True, statement=True))
        letter = self._first_page(pages, "Acme SAS", self.acme_40.name)
        self.assertRegex(pages[letter + 1], "Statement of account|Relevé de compte")
        self.assertIn(self.acme_20.name, " ".join(pages[letter + 2 : letter + 4]))
        zinc_letter = self._first_page(pages, "Zinc SARL", self.zinc_20.name)
        self.assertEqual(zinc_letter, letter + 4)

    def test_custom_template_without_mark_refused_clearly(self):
        """A template without the start mark: its PDF reads as one part, not two."""
        counts = relance_letter.letter_page_counts
        with (
            mock.patch.object(
                relance_letter, "letter_page_counts", side_effect=lambda pdf: [sum(counts(pdf))]
            ),
            self.assertRaisesRegex(UserError, "does not mark where each letter starts"),
        ):
            self._draft(invoices=True)

    def test_statement_attached_to_the_emails(self):
        wizard = self.env["relance.edition"].create(
            {"date": TODAY, "partner_ids": self.acme.ids, "attach_statement": True}
        )
        wizard.action_review()
        wizard.action_switch_mode()
        with jobs_performed():
            wizard.action_send_emails()
        run = self.env["relance.run"].search([], limit=1)
        mail = run.line_ids.mail_id
        self.assertEqual(len(mail), 1)
        statement = mail.attachment_ids.filtered(lambda a: a.name.startswith("statement"))
        self.assertEqual(len(statement), 1)
        self.assertIn(self.acme_40.name, pdf_text(statement.raw))
        self.assertEqual(len(PAGE.findall(statement.raw)), 1)
        self.assertEqual(len(mail.attachment_ids), 3, "the two invoices and the statement")

    def test_statement_attached_by_the_composer(self):
        action = self.acme.action_relance_compose()
        composer = self.env["relance.composer"].browse(action["res_id"])
        composer.write({"attach_statement": True, "attach_invoices": False})
        composer.action_send()
        mail = self.env["relance.run"].search([], limit=1).line_ids.mail_id[:1]
        self.assertEqual(len(mail.attachment_ids), 1)
        self.assertIn("Acme SAS", pdf_text(mail.attachment_ids.raw))


@tagged("post_install", "-at_install")
class TestLetterFormats(RelanceCommon):
    """The letters' fast amounts and dates read exactly as Odoo's widgets write them."""

    def test_same_as_odoo_widgets(self):
        load_french(self.env)
        euro = self.setup_other_currency("EUR")
        usd = self.company.currency_id
        qweb = self.env["ir.qweb"]
        for lang in ("fr_FR", "en_US"):
            env_qweb = qweb.with_context(lang=lang, relance_letters=True)
            odoo_qweb = qweb.with_context(lang=lang)
            cases = [
                (amount, {"widget": "monetary", "display_currency": currency})
                for amount in (0.0, 1.005, -1234.5, 1234567.891, 40)
                for currency in (euro, usd)
            ] + [(date(2026, 3, 31), {"widget": "date"}), (date(2025, 12, 1), {"widget": "date"})]
            for value, options in cases:
                with self.subTest(lang=lang, value=value, options=options):
                    ours = env_qweb._get_widget(value, "x", "td", dict(options), {})
                    theirs = odoo_qweb._get_widget(value, "x", "td", dict(options), {})
                    self.assertEqual(ours[1], theirs[1])
                    self.assertEqual(ours[0], {k: theirs[0][k] for k in ours[0]})

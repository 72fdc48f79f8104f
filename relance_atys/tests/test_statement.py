"""Statement of account: the aged buckets (pure), then the PDF and XLSX of a
customer's open items from its form."""

import base64
import io
import re
from datetime import date, timedelta

import openpyxl
from freezegun import freeze_time

from odoo.exceptions import AccessError
from odoo.tests import BaseCase, tagged

from .. import statement
from .common import TODAY, RelanceCommon, load_french, own_registry_lock
from .test_edition import pdf_text

Item = statement.Item


@tagged("post_install", "-at_install")
class TestAgedBuckets(BaseCase):
    def test_bucket_bounds(self):
        for days, bucket in (
            (-10, 0),
            (0, 0),
            (1, 1),
            (30, 1),
            (31, 2),
            (60, 2),
            (61, 3),
            (90, 3),
            (91, 4),
            (400, 4),
        ):
            with self.subTest(days=days):
                self.assertEqual(statement.bucket_of(days), bucket)

    def test_balances_per_currency(self):
        as_of = date(2026, 3, 31)
        items = [
            Item(1, 1, as_of + timedelta(days=5), 100.0),  # not due
            Item(2, 1, as_of - timedelta(days=10), 200.0),  # 1-30
            Item(3, 1, as_of - timedelta(days=45), 300.0),  # 31-60
            Item(4, 1, as_of - timedelta(days=75), 400.0),  # 61-90
            Item(5, 1, as_of - timedelta(days=120), 500.0),  # over 90
            Item(6, 1, as_of - timedelta(days=3), -50.0),  # a credit note, 3 days old
            Item(7, 2, as_of - timedelta(days=100), 1000.0),  # another currency
        ]
        (eur, chf) = statement.balances(items, as_of)
        self.assertEqual((eur.currency_id, eur.total), (1, 1450.0))
        self.assertEqual(eur.buckets, (100.0, 150.0, 300.0, 400.0, 500.0))
        self.assertEqual((chf.currency_id, chf.total), (2, 1000.0))
        self.assertEqual(chf.buckets, (0.0, 0.0, 0.0, 0.0, 1000.0))
        self.assertEqual(statement.balances([], as_of), [])


@tagged("post_install", "-at_install")
class TestStatementDocuments(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.chf = cls.setup_other_currency("CHF", rates=[("2020-01-01", 2.0)])
        cls.acme = cls._customer("Acme SAS", ref="C100", city="Lyon", lang="fr_FR")
        cls.inv_10 = cls._invoice(cls.acme, 1000.0, 10)
        cls.inv_45 = cls._invoice(cls.acme, 500.0, 45)
        cls.inv_not_due = cls._invoice(cls.acme, 300.0, -5)
        cls.refund = cls._invoice(cls.acme, 80.0, 3, move_type="out_refund")
        cls.inv_chf = cls._invoice(cls.acme, 2000.0, 100, currency=cls.chf)
        cls.paid = cls._invoice(cls.acme, 70.0, 20)
        cls._pay(cls.paid, 70.0)

    def _download(self, action):
        return self.env["ir.attachment"].browse(int(action["url"].split("/")[3].split("?")[0]))

    def test_sections(self):
        sections = self.env["relance.statement"]._sections(self.company, self.acme, TODAY)
        by_currency = {s["currency"].name: s for s in sections}
        usd = by_currency["USD"]
        self.assertEqual(
            [line["document"] for line in usd["lines"]],
            [self.inv_45.name, self.inv_10.name, self.refund.name, self.inv_not_due.name],
        )
        self.assertNotIn(self.paid.name, [line["document"] for line in usd["lines"]])
        self.assertEqual(usd["balance"].total, 1720.0)  # 1000 + 500 + 300 - 80
        self.assertEqual(usd["balance"].buckets, (300.0, 920.0, 500.0, 0.0, 0.0))
        self.assertEqual(by_currency["CHF"]["balance"].buckets, (0.0, 0.0, 0.0, 0.0, 2000.0))

    def test_pdf_from_the_customer_form(self):
        own_registry_lock(self)
        load_french(self.env)
        with freeze_time(TODAY):
            attachment = self._download(self.acme.action_relance_statement_pdf())
        text = re.sub(r"\s+", " ", pdf_text(attachment.raw))
        for words in (
            "Relevé de compte",
            "Acme SAS",
            self.inv_45.name,
            self.refund.name,
            "Avoir",
            "Solde dû",
            "1 720,00",
            "2 000,00",
            "Plus de 90 jours",
        ):
            self.assertIn(words, text)
        self.assertNotIn(self.paid.name, text)

    def test_xlsx_from_the_customer_form(self):
        with freeze_time(TODAY):  # the customer form prints the statement at today
            attachment = self._download(self.acme.action_relance_statement_xlsx())
        book = openpyxl.load_workbook(
            io.BytesIO(base64.b64decode(attachment.datas)), data_only=True
        )
        sheet = book.active
        rows = list(sheet.iter_rows(min_row=4, values_only=True))
        documents = {row[0]: row for row in rows if row[0] and row[1]}
        self.assertEqual(documents[self.inv_45.name][4:8], (45, 500.0, 500.0, "USD"))
        self.assertEqual(documents[self.refund.name][6], -80.0)
        aged = {row[0]: row for row in rows if row[0] in ("USD", "CHF")}
        self.assertEqual(aged["USD"][1:7], (300.0, 920.0, 500.0, 0.0, 0.0, 1720.0))
        self.assertEqual(aged["CHF"][6], 2000.0)

    def test_only_dunning_users(self):
        user = self.env["res.users"].create(
            {
                "name": "Simple",
                "login": "simple.statement",
                "groups_id": [(6, 0, [self.env.ref("account.group_account_invoice").id])],
            }
        )
        with self.assertRaises(AccessError):
            self.acme.with_user(user).action_relance_statement_pdf()

    def test_statement_after_each_letter(self):
        """Letters with "Statement of account after each letter": each customer's
        letter, then its statement (all its open items, those not dunned too)."""
        own_registry_lock(self)
        load_french(self.env)
        wizard = self.env["relance.edition"].create(
            {"date": TODAY, "partner_ids": [(6, 0, self.acme.ids)], "attach_statement": True}
        )
        wizard.action_review()
        attachment = self._download(wizard.action_print_draft())
        pages = pdf_text(attachment.raw).split("\f")[:-1]
        letter_pages = [page for page in pages if "Relevé de compte" not in page]
        statement_pages = [page for page in pages if "Relevé de compte" in page]
        self.assertTrue(letter_pages and statement_pages)
        self.assertGreater(pages.index(statement_pages[0]), pages.index(letter_pages[0]))
        statement_text = re.sub(r"\s+", " ", "".join(statement_pages))
        self.assertIn(self.inv_not_due.name, statement_text, "not due: on the statement only")
        self.assertIn("1 720,00", statement_text)

"""Penalties and the recovery indemnity read from real invoices: the figures,
the settings (bad input refused), the formal-notice letter and the control list."""

import base64
import io
import re
from datetime import date, timedelta
from types import SimpleNamespace

import openpyxl

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import TODAY, RelanceCommon, load_french, own_registry_lock
from .test_edition import pdf_text


@tagged("post_install", "-at_install")
class TestPenaltiesOnInvoices(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.notice = cls.levels.filtered(lambda level: level.number == 3)
        cls.notice.formal_notice = True
        cls.euro = cls.setup_other_currency("EUR", rates=[("2020-01-01", 0.8)])  # 40 € = 50 $
        cls.chf = cls.setup_other_currency("CHF", rates=[("2020-01-01", 2.0)])  # 40 € = 100 CHF
        cls.company._relance_set_penalty_rate(12.15, date(2025, 7, 1))
        cls.acme = cls._customer("Acme SAS", ref="C100", street="1 rue de la Paix", city="Lyon")
        cls.person = cls._customer("Jean Martin", is_company=False, city="Lyon")
        cls.acme_60 = cls._invoice(cls.acme, 1000.0, 60)
        cls.acme_45 = cls._invoice(cls.acme, 500.0, 45)
        cls.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=cls.acme_45.ids
        ).create({"amount": 200.0, "payment_date": TODAY - timedelta(days=15)})._create_payments()
        cls.acme_chf = cls._invoice(cls.acme, 2000.0, 40, currency=cls.chf)
        cls.person_60 = cls._invoice(cls.person, 1000.0, 60)

    def _results(self, moves, company=None):
        return self.env["relance.penalty"]._compute(company or self.company, moves, TODAY)

    def test_figures(self):
        """60 days on 1,000 $: 19.97; 30 days on 500 $ then 15 on 300 $ (200 paid): 6.49;
        40 days on 2,000 CHF: 26.63 CHF; 40 € per invoice in each one's currency."""
        results = self._results(self.acme_60 | self.acme_45 | self.acme_chf | self.person_60)
        acme = results[self.acme.id]
        by_move = acme.by_move()
        self.assertEqual(by_move[self.acme_60.id], (19.97, 50.0))
        self.assertEqual(by_move[self.acme_45.id], (6.49, 50.0))
        self.assertEqual(by_move[self.acme_chf.id], (26.63, 100.0))
        totals = {t.currency_id: (t.penalties, t.indemnities) for t in acme.totals}
        self.assertEqual(
            totals,
            {self.company.currency_id.id: (26.46, 100.0), self.chf.id: (26.63, 100.0)},
        )
        person = results[self.person.id]
        self.assertEqual(person.by_move(), {self.person_60.id: (19.97, 0.0)})
        self.assertFalse(person.indemnities, "an individual never owes the 40 €")

    def test_contact_of_a_company_is_a_business(self):
        contact = self.env["res.partner"].create(
            {"name": "Paul Achat", "parent_id": self.acme.id, "type": "invoice"}
        )
        invoice = self._invoice(contact, 100.0, 10)
        (result,) = self._results(invoice).values()
        self.assertEqual(len(result.indemnities), 1)

    def test_rate_change_applies_from_its_date(self):
        """From 1 March 2026 (30 days before TODAY) the rate is 14.15 %:
        1,000 × (30 days × 12.15 % + 30 days × 14.15 %) / 365 = 21.62."""
        self.company._relance_set_penalty_rate(14.15, date(2026, 3, 2))
        result = self._results(self.acme_60)[self.acme.id]
        self.assertEqual(result.by_move()[self.acme_60.id][0], 21.62)

    def test_switches(self):
        self.company.relance_penalties = False
        result = self._results(self.acme_60)[self.acme.id]
        self.assertFalse(result.penalties)
        self.assertEqual(len(result.indemnities), 1)
        self.company.relance_indemnity = False
        self.assertEqual(self._results(self.acme_60), {}, "nothing claimed, nothing computed")

    def test_bad_rates_refused(self):
        for rate in (-1.0, 100.01, 250.0):
            with self.subTest(rate=rate), self.assertRaises(UserError):
                self.company._relance_set_penalty_rate(rate, date(2026, 1, 1))
            with self.subTest(rate=rate), self.assertRaises(ValidationError):
                self.env["relance.penalty.rate"].create(
                    {"company_id": self.company.id, "date_from": date(2026, 1, 1), "rate": rate}
                )
        with self.assertRaises(UserError):
            self.company._relance_set_penalty_rate(12.0, False)
        self.assertEqual(self.company.relance_penalty_rate_ids.mapped("rate"), [12.15])

    def test_bad_rate_in_french(self):
        load_french(self.env)
        with self.assertRaisesRegex(UserError, "doit être compris entre 0 et 100 % par an"):
            self.company.with_context(lang="fr_FR")._relance_set_penalty_rate(
                -2.0, date(2026, 1, 1)
            )

    def test_settings(self):
        settings = Form(self.env["res.config.settings"])
        self.assertEqual(settings.relance_penalty_rate, 12.15)
        self.assertEqual(settings.relance_penalty_rate_date, date(2025, 7, 1))
        settings.relance_penalty_rate = 12.40
        settings.relance_penalty_rate_date = date(2026, 1, 1)
        settings.save().execute()
        rates = self.company.relance_penalty_rate_ids.sorted("date_from")
        self.assertEqual(
            [(r.date_from, r.rate) for r in rates],
            [(date(2025, 7, 1), 12.15), (date(2026, 1, 1), 12.40)],
        )
        settings = Form(self.env["res.config.settings"])
        settings.relance_penalty_rate = 150.0
        with self.assertRaises(UserError):
            settings.save().execute()

    def test_default_rate_without_any(self):
        self.company.relance_penalty_rate_ids.unlink()
        rate = self.company._relance_penalty_rate_on(TODAY)
        self.assertEqual((rate.rate, rate.date_from), (12.15, date(2025, 7, 1)))

    # -- what the customer reads -------------------------------------------------

    def _letter_text(self, partner, lang="fr_FR"):
        """The draft letter of ``partner``, in ``lang`` (French), its spaces plain."""
        own_registry_lock(self)
        load_french(self.env)
        partner.lang = lang
        wizard = self.env["relance.edition"].create(
            {"date": TODAY, "partner_ids": [(6, 0, partner.ids)]}
        )
        wizard.action_review()
        action = wizard.action_print_draft()
        attachment = self.env["ir.attachment"].browse(
            int(action["url"].split("/")[3].split("?")[0])
        )
        return re.sub(r"\s+", " ", pdf_text(attachment.raw))

    def test_formal_notice_letter_shows_the_claim(self):
        text = self._letter_text(self.acme)
        self.assertIn("Pénalités de retard et indemnité forfaitaire de recouvrement", text)
        self.assertIn("article L441-10 du Code de commerce", text)
        self.assertIn("taux annuel de 12,15 %", text)
        self.assertIn("articles L441-10 et D441-5", text)
        for amount in ("19,97", "6,49", "26,46", "26,63", "2 facture(s) x $ 50,00"):
            self.assertIn(amount, text)
        # 1,000 + 300 + 26.46 + 100 $; 2,000 + 26.63 + 100 CHF
        self.assertIn("1 426,46", text)
        self.assertIn("2 126,63", text)
        self.assertIn("LETTRE RECOMMANDÉE AVEC ACCUSÉ DE RÉCEPTION", text)

    def test_claimed_on_the_listed_echeances_only(self):
        """A formal notice claims penalties on the échéances it lists: an instalment
        left out of the letter (excluded, dunned too recently) is not charged, so
        « Total réclamé » is the total due shown plus its own penalties."""
        customer = self._customer("Beta SAS", ref="C200", city="Lyon")
        move = self._instalment_invoice(customer, 100, 30)
        first, second = move.relance_echeance_ids.sorted("date_maturity")
        # 300 $ late 100 days: 9.99; 700 $ late 70 days: 16.31
        both = self._results(move)[customer.id].by_move()[move.id]
        self.assertEqual(tuple(round(amount, 2) for amount in both), (26.30, 50.0))
        listed = [SimpleNamespace(move_id=move, move_line_id=first)]
        result = self.env["relance.penalty"]._compute(self.company, move, TODAY, listed)
        self.assertEqual(result[customer.id].by_move()[move.id], (9.99, 50.0))
        second.action_relance_exclude()  # the letter lists the first instalment only
        text = self._letter_text(customer)
        self.assertIn("9,99", text)
        self.assertNotIn("16,31", text)
        self.assertNotIn("26,30", text)
        self.assertIn("359,99", text)  # 300 + 9.99 + 50

    def test_a_business_abroad_is_claimed_the_indemnity_in_its_language(self):
        """A French seller's sales follow French law unless its terms choose another
        (Rome I, art. 4): a business in Geneva owes the 40 € too, read in English, in
        its invoice's currency (README, "A customer abroad")."""
        self.env["res.lang"]._activate_lang("en_US")
        geneva = self._customer(
            "Alpine Trading SA", city="Genève", zip="1201", country_id=self.env.ref("base.ch").id
        )
        self._invoice(geneva, 1000.0, 40, currency=self.chf)
        text = self._letter_text(geneva, lang="en_US")
        self.assertIn("Late-payment penalties and recovery indemnity", text)
        self.assertIn("article L441-10 of the French Commercial Code", text)
        self.assertIn("A fixed indemnity for recovery costs of 40 euros is also due", text)
        self.assertRegex(text, r"Recovery indemnity: 1 invoice\(s\) x (CHF ?100\.00|100\.00 ?CHF)")
        self.assertNotIn("Indemnité", text)

    def test_individual_letter_no_indemnity(self):
        text = self._letter_text(self.person)
        self.assertIn("19,97", text)
        self.assertNotIn("Indemnité forfaitaire de recouvrement", text)
        self.assertNotIn("40 euros", text)
        self.assertIn("conditions générales de vente", text)
        self.assertNotIn("L441-10", text)

    def test_penalties_off_nothing_presented_as_owed(self):
        self.company.write({"relance_penalties": False, "relance_indemnity": False})
        text = self._letter_text(self.acme)
        self.assertNotIn("pénalité", text.lower())
        self.assertNotIn("19,97", text)
        self.assertIn("LETTRE RECOMMANDÉE", text, "still a formal notice")

    def test_not_a_formal_notice_no_claim(self):
        self.notice.formal_notice = False
        text = self._letter_text(self.acme)
        self.assertNotIn("pénalité", text.lower())
        self.assertNotIn("RECOMMANDÉE", text)

    def test_control_list_sheet_of_penalties(self):
        wizard = self.env["relance.edition"].create(
            {"date": TODAY, "partner_ids": [(6, 0, (self.acme | self.person).ids)]}
        )
        wizard.action_review()
        action = wizard.action_export_xlsx()
        attachment = self.env["ir.attachment"].browse(
            int(action["url"].split("/")[3].split("?")[0])
        )
        book = openpyxl.load_workbook(io.BytesIO(base64.b64decode(attachment.datas)))
        sheet = book["Penalties"]
        rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=4)]
        documents = {row[2]: row for row in rows if row[2]}
        self.assertEqual(documents[self.acme_60.name][6:9], [19.97, 50.0, "USD"])
        self.assertEqual(documents[self.acme_45.name][4:9], [45, 300.0, 6.49, 50.0, "USD"])
        self.assertEqual(documents[self.person_60.name][6:9], [19.97, None, "USD"])
        totals = {row[8]: row for row in rows if row[0] and str(row[0]).startswith("Total")}
        self.assertEqual(set(totals), {"USD", "CHF"})
        self.assertEqual(totals["CHF"][2:3], [None])
        data_book = openpyxl.load_workbook(
            io.BytesIO(base64.b64decode(attachment.datas)), data_only=True
        )
        totals = {
            row[8]: row
            for row in data_book["Penalties"].iter_rows(min_row=4, values_only=True)
            if row[0] and str(row[0]).startswith("Total")
        }
        self.assertEqual(totals["USD"][6:8], (46.43, 100.0))
        self.assertEqual(totals["CHF"][6:8], (26.63, 100.0))

    def test_control_list_without_penalties_has_one_sheet(self):
        self.company.write({"relance_penalties": False, "relance_indemnity": False})
        wizard = self.env["relance.edition"].create(
            {"date": TODAY, "partner_ids": [(6, 0, self.acme.ids)]}
        )
        wizard.action_review()
        action = wizard.action_export_xlsx()
        attachment = self.env["ir.attachment"].browse(
            int(action["url"].split("/")[3].split("?")[0])
        )
        book = openpyxl.load_workbook(io.BytesIO(base64.b64decode(attachment.datas)))
        self.assertEqual(len(book.sheetnames), 1)

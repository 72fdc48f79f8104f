"""What customers read and users see: letters, mails, words, dates and order.

Letters are read from the HTML the template renders (the words) and, once, from
the real PDF (that each customer's letter is in it); mails from what they queue.
"""

import subprocess
from datetime import timedelta
from pathlib import Path
from unittest import mock

import polib
from lxml import etree

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import html2plaintext, mute_logger
from odoo.tools.safe_eval import datetime as safe_datetime
from odoo.tools.safe_eval import dateutil, safe_eval
from odoo.tools.translate import PoFileReader

from ..text import format_money, french_collation, reminders_sent, sort_key
from .common import TODAY, RelanceCommon, jobs_performed, load_french

MARCH_11 = TODAY - timedelta(days=20)


def pdf_text(pdf):
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def plain(html):
    return " ".join(html2plaintext(html).replace("*", "").split())


@tagged("post_install", "-at_install")
class TestWords(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        load_french(cls.env)
        cls.env["res.lang"]._activate_lang("en_US")
        cls.company.write({"email": "compta@relances.example.com", "city": "Lyon"})
        cls.company.partner_id.lang = "fr_FR"
        cls._use_shipped_level_texts()
        cls.fresh = cls._customer("Transports Rhône", lang="fr_FR")
        cls.fresh_40 = cls._invoice(cls.fresh, 350.0, 40)
        cls.reminded = cls._customer("électricité Girard", lang="fr_FR")
        cls.reminded_40 = cls._invoice(cls.reminded, 400.0, 40)
        cls.reminded_3 = cls._invoice(cls.reminded, 90.0, 3)
        cls._write_move_levels({cls.reminded_40.id: 1}, MARCH_11)
        cls.english = cls._customer("Brown Partners", lang="en_US")
        cls.english_20 = cls._invoice(cls.english, 200.0, 20)

    @classmethod
    def _use_shipped_level_texts(cls):
        """The test levels take the module's own texts, in English and French."""
        fields_ = ("name", "header", "footer", "mail_subject", "subject_template")
        for level in cls.levels:
            shipped = cls.env.ref(f"relance_atys.relance_level_{level.number}").sudo()
            for lang in ("en_US", "fr_FR"):
                values = shipped.with_context(lang=lang).read(fields_)[0]
                level.with_context(lang=lang).write({name: values[name] for name in fields_})

    def _review(self, lang="fr_FR", **vals):
        wizard = (
            self.env["relance.edition"]
            .with_context(lang=lang)
            .create({"date": TODAY, "output": "letters", **vals})
        )
        wizard.action_review()
        return wizard

    def _pline(self, wizard, partner):
        return wizard.partner_line_ids.filtered(lambda pline: pline.partner_id == partner)

    def _letters_html(self, wizard, partner):
        """The HTML of ``partner``'s letter, and the letters that failed."""
        letters = wizard.env["relance.letter"]
        lines = wizard.env["relance.service"]._review_ticked_lines(wizard, "none ticked")
        lines = lines.filtered(lambda line: line.partner_id == partner)
        return letters._html(
            letters._letters(wizard.company_id, wizard.date, lines),
            wizard._run_options(),
            definitive=True,
        )

    def _letter(self, wizard, partner):
        """The words of ``partner``'s letter, as the template renders them."""
        letters, failures = self._letters_html(wizard, partner)
        self.assertFalse(failures)
        return plain(letters[0])

    # -- 15: a letter says only what is true of its customer ---------------------------

    def test_a_first_formal_notice_claims_no_earlier_reminder(self):
        text = self._letter(self._review(), self.fresh)
        self.assertIn("nous vous mettons en demeure", text)
        for untrue in ("précédentes relances", "Malgré notre", "déjà relancé", "sans réponse"):
            self.assertNotIn(untrue, text)
        self.assertNotIn("Niveau de relance", text, "never the internal level")

    def test_a_letter_names_the_reminders_already_sent(self):
        text = self._letter(self._review(), self.reminded)
        self.assertIn(
            f"Nous vous avons déjà relancé pour la pièce {self.reminded_40.name} le "
            "11 mars 2026 : elle reste impayée à ce jour.",
            text,
        )
        self.assertIn("11/03/2026", text, "the last reminder of the document, in its row")
        self.assertNotIn("Malgré notre premier rappel", text)

    def test_a_second_level_letter_to_a_customer_never_reminded(self):
        wizard = self._review(level_id=self.levels[1].id)
        text = self._letter(wizard, self.english)
        self.assertIn("Unpaid invoices - Brown Partners", text)
        self.assertNotIn("Despite our first reminder", text)
        self.assertNotIn("Second reminder", text)
        self.assertNotIn("already", text)

    # -- 18: one language per letter, words and dates -------------------------------------

    def test_an_english_letter_has_english_dates(self):
        text = self._letter(self._review(), self.english)
        self.assertIn("Lyon, March 31, 2026", text)
        self.assertIn("Subject:", text)

    def test_a_letter_in_a_language_not_installed_is_in_the_company_language(self):
        self.env.cr.execute(
            "UPDATE res_partner SET lang = 'de_DE' WHERE id = %s", [self.english.id]
        )
        self.english.invalidate_recordset(["lang"])
        text = self._letter(self._review(), self.english)
        self.assertIn("Lyon, le 31 mars 2026", text)
        self.assertIn("Objet :", text, "words and date in one language")

    def test_the_standard_letter_is_named_in_french(self):
        names = dict(self.env["relance.letter"].with_context(lang="fr_FR")._letter_templates())
        self.assertEqual(names["relance_atys.letter_document"], "Courrier standard")

    # -- 19: customers in dictionary order -------------------------------------------

    def test_customers_in_dictionary_order(self):
        names = ["Transports Rhône", "Électricité Girard", "boulangerie Martin", "Ecole Dupont"]
        self.assertEqual(
            sorted(names, key=sort_key),
            ["boulangerie Martin", "Ecole Dupont", "Électricité Girard", "Transports Rhône"],
        )
        wizard = self._review()
        self.assertEqual(
            wizard.partner_line_ids.partner_id.mapped("name"),
            ["Brown Partners", "électricité Girard", "Transports Rhône"],
            "review screen, XLSX and letters follow it",
        )
        # the control list on screen, grouped by customer, in the same order
        view = self.env.ref("relance_atys.relance_edition_line_view_search")
        self.assertIn("'group_by': 'partner_line_id'", view.arch)
        groups = self.env["relance.edition.line"].read_group(
            [("edition_id", "=", wizard.id)], ["residual:sum"], ["partner_line_id"]
        )
        self.assertEqual(
            [group["partner_line_id"][1] for group in groups],
            ["Brown Partners", "électricité Girard", "Transports Rhône"],
        )

    # -- 20: amounts without invisible characters -------------------------------------

    def test_amounts_carry_no_invisible_character(self):
        euro = self.env.ref("base.EUR")
        self.assertEqual(
            format_money(self.env(context={"lang": "fr_FR"}), -350.0, euro).replace("\xa0", " "),
            f"-350,00 {euro.symbol}",
        )
        refund = self._invoice(self.fresh, 50.0, 5, move_type="out_refund")
        wizard = self._review()
        pline = self._pline(wizard, self.fresh)
        letters, _failures = self._letters_html(wizard, self.fresh)
        self.assertIn(refund.name, letters[0])
        for text in (letters[0], pline.totals_text, wizard.summary):
            self.assertNotIn("\N{ZERO WIDTH NO-BREAK SPACE}", text)
            self.assertNotIn("\N{ZERO WIDTH SPACE}", text)

    def test_the_demo_places_geneva_in_switzerland(self):
        alpine = self.env["res.partner"].sudo().search([("name", "=", "Alpine Trading Ltd")])
        self.assertTrue(alpine, "the demo data is installed with the tests")
        self.assertEqual(alpine.mapped("country_id.code"), ["CH"] * len(alpine))

    def test_the_demo_dollar_is_not_a_euro(self):
        """Open invoices by level sums Odoo's Amount Due in the company's currency: the
        demo's dollar invoices count at the demo's rate, not one dollar for one euro."""
        alpine = self.env["res.partner"].sudo().search([("name", "=", "Alpine Trading Ltd")])
        invoices = (
            self.env["account.move"]
            .sudo()
            .search([("partner_id", "in", alpine.ids), ("move_type", "=", "out_invoice")])
        )
        self.assertTrue(invoices)
        for invoice in invoices:
            self.assertEqual(invoice.currency_id.name, "USD")
            self.assertAlmostEqual(
                invoice.amount_total_signed, invoice.amount_total / 1.08, delta=0.01
            )

    # -- 1: a definitive edition needs every letter in its PDF -----------------------------

    def test_a_pdf_without_the_letters_records_nothing(self):
        wizard = self._review(definitive=True)
        blank = ["<div>&#160;</div>"] * len(wizard.partner_line_ids)
        with (
            mock.patch.object(type(self.env["relance.letter"]), "_html", return_value=(blank, {})),
            self.assertRaisesRegex(UserError, "Le PDF ne contient pas les courriers de Brown"),
        ):
            wizard.action_print_definitive()
        self.assertFalse(self.env["relance.run"].search([]))
        self.assertEqual(self.fresh_40.relance_level, 0)

    def test_the_real_pdf_holds_every_letter(self):
        wizard = self._review(definitive=True)
        action = wizard.action_print_definitive()
        run = self.env["relance.run"].browse(action["res_id"])
        text = pdf_text(run.attachment_id.raw)
        for move in (self.fresh_40, self.reminded_40, self.english_20):
            self.assertIn(move.name, text)
        self.assertEqual(self.fresh_40.relance_level, 3)

    # -- 6: dates in the future ---------------------------------------------------------

    def test_a_letter_dated_within_the_days_ahead_allowed_is_recorded(self):
        self.company.relance_future_days = 3
        ahead = fields.Date.context_today(self.env.user) + timedelta(days=3)
        with self.assertRaisesRegex(UserError, "trop loin dans le futur"):
            self._review(date=ahead + timedelta(days=1), definitive=True).action_print_definitive()
        self._review(date=ahead, definitive=True).action_print_definitive()
        self.assertEqual(self.fresh_40.relance_date, ahead)

    # -- 7: any customer that can be dunned can be picked ----------------------------------

    def test_individuals_can_be_picked_and_filtered_by_level(self):
        person = self.env["res.partner"].create(
            {"name": "Jeanne Martin", "is_company": False, "customer_rank": 1}
        )
        contact = self.env["res.partner"].create(
            {"name": "Compta Rhône", "parent_id": self.fresh.id, "customer_rank": 1}
        )
        wizard = self.env["relance.edition"].create({"date": TODAY})
        domain = safe_eval(wizard._fields["partner_ids"].domain, {"company_id": self.company.id})
        pickable = self.env["res.partner"].search(domain)
        self.assertIn(person, pickable)
        self.assertIn(self.fresh, pickable)
        self.assertNotIn(contact, pickable, "a contact is dunned through its company")
        self.reminded.with_company(self.company).sudo().write(
            {"relance_level": 2, "relance_date": TODAY - timedelta(days=45)}
        )
        filters = self._picker_filters()
        customers = self.reminded | self.fresh | person
        by_filter = {
            name: self.env["res.partner"].search(domain + [("id", "in", customers.ids)])
            for name, domain in filters.items()
        }
        self.assertEqual(by_filter["level_2"], self.reminded)
        self.assertEqual(by_filter["level_0"], self.fresh | person)
        self.assertEqual(by_filter["dunned_30"], self.reminded)
        self.assertEqual(by_filter["individuals"], person)

    def _picker_filters(self):
        view = self.env.ref("relance_atys.view_partner_search_relance")
        context = {
            "uid": self.env.uid,  # "My customers to collect"
            "context_today": lambda: fields.Date.context_today(self.env.user),
            "relativedelta": dateutil.relativedelta.relativedelta,
            "datetime": safe_datetime,
        }
        return {
            node.get("name"): safe_eval(node.get("domain"), context)
            for node in etree.fromstring(view.arch).iter("filter")
            if node.get("domain")
        }

    # -- 16: the dunning mail is the company's ---------------------------------------------

    def _send_emails(self, **vals):
        wizard = self._review(**vals)
        wizard.action_switch_mode()
        with jobs_performed():  # the mails are made by the run's jobs
            action = wizard.action_send_emails()
        return self.env["relance.run"].browse(action["params"]["next"]["res_id"])

    def test_the_mail_leaves_from_the_company_headed_by_its_level(self):
        run = self._send_emails()
        mail = run.line_ids.filtered(lambda line: line.partner_id == self.reminded).mail_id
        self.assertEqual(mail.email_from, self.company.partner_id.email_formatted)
        self.assertEqual(mail.author_id, self.env.user.partner_id)
        text = plain(mail.body_html)
        self.assertTrue(text.startswith("Mise en demeure"), text[:80])
        self.assertNotIn("relevé de compte", text)
        self.assertNotIn("Odoo", text)
        self.assertIn(f"Nous vous avons déjà relancé pour la pièce {self.reminded_40.name}", text)
        fresh = run.line_ids.filtered(lambda line: line.partner_id == self.fresh).mail_id
        self.assertNotIn("déjà relancé", plain(fresh.body_html))

    # -- 12: a failed email run reads failed, with a sentence --------------------------------

    def test_a_refused_connection_fails_the_run_in_a_sentence(self):
        run = self._send_emails()
        self.assertEqual((run.state, run.level), ("done", 3))
        IrMailServer = type(self.env["ir.mail_server"])
        with (
            mock.patch.object(
                IrMailServer,
                "connect",
                side_effect=ConnectionRefusedError(111, "Connection refused"),
            ),
            mute_logger("odoo.addons.mail.models.mail_mail"),
        ):
            run.line_ids.mail_id.send()
        sent = run.line_ids.filtered(lambda line: line.move_id and line.outcome != "skipped")
        self.assertEqual(set(sent.mapped("outcome")), {"failed"})
        self.assertEqual(
            sent[0].reason,
            "Le serveur d'envoi a refusé la connexion (111 Connection refused).",
        )
        self.assertEqual((run.state, run.level), ("failed", 0), "nothing recorded")
        self.assertEqual(self.fresh_40.relance_level, 0)
        run.action_resend_failed()
        self.assertEqual((run.state, run.level), ("done", 3))

    def test_failure_sentences(self):
        mailer = self.env["relance.mailer"].with_context(lang="en_US")
        cases = [
            ("mail_smtp", "timed out", "did not answer in time"),
            ("mail_smtp", "[Errno -2] Name or service not known", "could not be found"),
            ("mail_smtp", "(535, b'5.7.8 Authentication failed')", "user name or password"),
            ("mail_from_invalid", "Malformed 'Return-Path'", "sender's address"),
            ("unknown", "", "could not be delivered."),
        ]
        for failure_type, detail, expected in cases:
            with self.subTest(detail=detail):
                self.assertIn(expected, mailer._failure_sentence(failure_type, detail))

    # -- 24: a cancellation shows on the customer -------------------------------------------

    def test_cancelling_a_run_posts_on_each_customer(self):
        wizard = self._review(definitive=True)
        run = self.env["relance.run"].browse(wizard.action_print_definitive()["res_id"])
        customers = run.line_ids.partner_id
        messages_before = self.env["mail.message"].search_count([])
        run.action_cancel()
        for customer in customers:
            self.assertIn(f"{run.name} cancelled", customer.message_ids[:1].body)
        self.assertEqual(
            self.env["mail.message"].search_count([]) - messages_before, len(customers) + 1
        )

    # -- 30: tests load the French they read -------------------------------------------------

    def test_french_is_loaded_by_the_test(self):
        level = self.env.ref("relance_atys.relance_level_3").sudo().with_context(lang="fr_FR")
        self.assertEqual(level.name, "Mise en demeure")
        self.assertEqual(
            self.env["relance.edition"].with_context(lang="fr_FR").env._("Standard letter"),
            "Courrier standard",
        )

    def test_every_french_entry_reaches_odoo(self):
        """Odoo reads fr.po merged with the .pot (polib's merge): an entry the .pot
        lacks becomes obsolete and is dropped, and a user reads English. It happened
        to the run's state "Queued", its progress and the background run's banner."""
        i18n = Path(__file__).resolve().parent.parent / "i18n"
        french = {
            entry.msgid
            for entry in polib.pofile(str(i18n / "fr.po"))
            if entry.msgstr and not entry.obsolete
        }
        read = {row["src"] for row in PoFileReader(str(i18n / "fr.po")) if row["value"]}
        self.assertEqual(sorted(french - read), [], "in fr.po, not in relance_atys.pot")
        run = self.env["relance.run"].with_context(lang="fr_FR")
        states = dict(run._fields["state"]._description_selection(run.env))
        self.assertEqual(states["queued"], "En file d'attente")
        self.assertEqual(
            run._fields["progress_text"].get_description(run.env)["string"], "Avancement"
        )
        form = self.env.ref("relance_atys.relance_run_view_form").with_context(lang="fr_FR")
        # a view's term is what Odoo cuts out of its arch (with inline markup)
        self.assertIn("Envoi en arrière-plan, cette page le suit :", form.arch_db)

    # -- session 13: what the second campaign left ----------------------------------------

    def test_the_database_lists_customers_in_dictionary_order(self):
        """Pickers, lists and groups read res.partner in its SQL order: Odoo creates its
        databases with LC_COLLATE 'C', which put "Électricité" after "Zoo"."""
        if not french_collation(self.env.cr):
            self.skipTest("this PostgreSQL has no ICU: the database's own order is kept")
        names = ["Zoo Atelier", "Électricité Durand", "atelier Blanc", "Eau Vive", "Etude Roux"]
        partners = self.env["res.partner"].create(
            [{"name": name, "is_company": True, "customer_rank": 1} for name in names]
        )
        expected = ["atelier Blanc", "Eau Vive", "Électricité Durand", "Etude Roux", "Zoo Atelier"]
        self.assertEqual(
            self.env["res.partner"].search([("id", "in", partners.ids)]).mapped("name"), expected
        )
        found = self.env["res.partner"].name_search("", [("id", "in", partners.ids)], limit=10)
        self.assertEqual([name for _id, name in found], expected, "the picker's suggestions")
        for partner in partners:
            self._invoice(partner, 100.0, 20)
        groups = self.env["account.move"].read_group(
            [("partner_id", "in", partners.ids)], ["amount_total:sum"], ["partner_id"]
        )
        self.assertEqual([group["partner_id"][1] for group in groups], expected)

    def test_the_penalty_sheet_lists_customers_in_dictionary_order(self):
        self.company.write({"relance_penalties": True, "relance_indemnity": True})
        wizard = self._review()
        documents = wizard.line_ids.filtered(lambda line: not line.is_deduction).move_id
        sheet = self.env["relance.penalty"]._control_list_sheet(self.company, documents, TODAY)
        customers = list(dict.fromkeys(row[1] for row in sheet["rows"]))
        self.assertEqual(customers, sorted(customers, key=sort_key))
        self.assertEqual(customers[:2], ["Brown Partners", "électricité Girard"])

    def _set_level_by_hand(self, partner, level, date):
        manage = self.env["relance.level.manage"].create(
            {"partner_ids": [(6, 0, partner.ids)], "new_level": level, "date": date}
        )
        manage.action_modify()
        manage.line_ids.selected = True
        manage.action_validate()

    def test_a_level_set_by_hand_is_no_reminder_sent(self):
        """Gestion des niveaux records a level, not a letter: later letters and mails
        do not say the customer was reminded on that day."""
        self._set_level_by_hand(self.fresh, 2, MARCH_11)
        self.assertEqual(self.fresh_40.relance_level, 2)
        text = self._letter(self._review(), self.fresh)
        self.assertNotIn("déjà relancé", text)
        self.assertNotIn("11/03/2026", text, "nor in the document's row")
        # a level brought in without any history still counts as a reminder sent
        self.assertIn("Nous vous avons déjà relancé", self._letter(self._review(), self.reminded))

    def test_a_level_set_by_hand_after_a_mail_keeps_the_mail_date(self):
        mail_run = self._send_emails(date=MARCH_11)
        self.assertEqual(mail_run.state, "done")
        self._set_level_by_hand(self.fresh, 3, TODAY)
        manual = self.env["relance.run"].search([("run_type", "=", "manual")])
        self.assertEqual(len(manual), 1)
        lines = manual.line_ids.filtered(lambda line: line.move_id == self.fresh_40)
        self.assertEqual(lines.level_before, 2, "the mail's level (20 days late on 11 March)")
        self.assertEqual(reminders_sent(lines), {lines.id: MARCH_11}, "the mail's day")

    def test_a_level_2_letter_after_a_formal_notice_about_other_invoices(self):
        """The level-2 warning is about the invoices it lists: true also of a customer
        already given formal notice about others."""
        self.env["relance.service"]._write_levels({self.reminded_40.id: 3}, MARCH_11)
        late_20 = self._invoice(self.reminded, 120.0, 20)
        text = self._letter(self._review(level_id=self.levels[1].id), self.reminded)
        self.assertIn(late_20.name, text)
        self.assertIn("faute de quoi nous serons contraints de vous mettre en demeure de les", text)
        self.assertNotIn("vous adresser une mise en demeure", text)

    def test_a_reminder_sent_about_one_instalment_is_not_one_about_the_other(self):
        """Per échéance: the letter about the 30 % does not make the 70 %, whose level
        was set by hand, "already reminded"."""
        term = self.env["account.payment.term"].create(
            {
                "name": "30 % / 70 %",
                "line_ids": [
                    Command.create({"value": "percent", "value_amount": 30, "nb_days": 0}),
                    Command.create({"value": "percent", "value_amount": 70, "nb_days": 30}),
                ],
            }
        )
        invoice = self._invoice(self.fresh, 1000.0, 60)
        invoice.button_draft()
        invoice.invoice_payment_term_id = term
        invoice.action_post()
        first, second = invoice.relance_echeance_ids.sorted("date_maturity")
        Run = self.env["relance.run"].sudo()  # runs are written by the services only

        def line(run_type, state, instalment, outcome, before, after):
            run = Run.create({"run_type": run_type, "date": MARCH_11, "state": state})
            return Run.env["relance.run.line"].create(
                {"run_id": run.id, "partner_id": self.fresh.id, "move_id": invoice.id,
                 "move_line_id": instalment.id, "outcome": outcome, "level_before": before,
                 "level_after": after, "date_after": MARCH_11}
            )  # fmt: skip

        line("letter", "done", first, "printed", 0, 1)
        line("manual", "done", second, "changed", 0, 1)
        now = line("letter", "queued", first, "planned", 1, 2) | line(
            "letter", "queued", second, "planned", 1, 2
        )
        self.assertEqual(reminders_sent(now), {now[0].id: MARCH_11})

from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from .common import TODAY, RelanceCommon, jobs_performed, load_french, mail_gateway
from odoo.addons.queue_job.tests.common import trap_jobs

FAKE_PDF = b"%PDF-1.4 invoice"
# one more since the security and date checks met, one more since the run lines go in
# one INSERT (their ids drawn first, then the rows); one more for the edition's
# collectors filter (issue 17); the same at 2 and 6
CLICK = 33
BATCH = 37  # one more since the amount a mail lists is its échéance's (their lines read)


@tagged("post_install", "-at_install")
class TestEmail(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        load_french(cls.env)  # a French company with English-speaking customers
        cls.env["res.lang"]._activate_lang("en_US")
        cls.company.email = "compta@societe.example.com"
        cls.alpha = cls._customer("Alpha SARL", ref="C001", lang="en_US")
        cls.alpha_contact = cls._invoice_contact(
            cls.alpha, "Compta Alpha", "compta@alpha.example.com"
        )
        cls.beta = cls._customer("Beta SA", ref="C002", lang="fr_FR")
        cls.gamma = cls._customer("Gamma", ref="C003", email=False)
        cls.delta = cls._customer("Delta", ref="C004", relance_send_doc=False)
        cls.alpha_20 = cls._invoice(cls.alpha, 200.0, 20)
        cls.alpha_40 = cls._invoice(cls.alpha, 400.0, 40)
        cls.alpha_refund = cls._invoice(cls.alpha, 50.0, 10, move_type="out_refund")
        cls.beta_20 = cls._invoice(cls.beta, 300.0, 20)
        cls.gamma_20 = cls._invoice(cls.gamma, 80.0, 20)
        cls.delta_20 = cls._invoice(cls.delta, 90.0, 20)
        cls._attach_pdfs(cls.alpha_20 | cls.alpha_40 | cls.alpha_refund | cls.beta_20)

    @classmethod
    def _attach_pdfs(cls, moves):
        """Give ``moves`` their own PDF, as sending them would have."""
        cls.env["ir.attachment"].create(
            [
                {
                    "name": move._get_invoice_report_filename(),
                    "raw": FAKE_PDF,
                    "mimetype": "application/pdf",
                    "res_model": "account.move",
                    "res_id": move.id,
                    "res_field": "invoice_pdf_report_file",
                }
                for move in moves
            ]
        )
        moves.invalidate_recordset(["invoice_pdf_report_id", "invoice_pdf_report_file"])

    def _review(self, **vals):
        wizard = self.env["relance.edition"].create({"date": TODAY, **vals})
        wizard.action_review()
        return wizard

    def _email_review(self, **vals):
        wizard = self._review(**vals)
        wizard.action_switch_mode()
        return wizard

    def _pline(self, wizard, partner):
        return wizard.partner_line_ids.filtered(lambda pline: pline.partner_id == partner)

    def _send(self, wizard):
        """Send in email mode, the run's jobs performed."""
        with jobs_performed():
            action = wizard.action_send_emails()
        return self.env["relance.run"].browse(action["params"]["next"]["res_id"])

    def _dunning_user(self):
        return self._new_dunning_user("relance_user")

    def _levels(self, *moves):
        return [(move.relance_level, move.relance_date) for move in moves]

    def _partner_level(self, partner):
        partner = partner.with_company(self.company)
        return partner.relance_level, partner.relance_date

    # -- review screen -------------------------------------------------------------

    def test_switch_mode_preselects_partners_with_an_address(self):
        wizard = self._review()
        self.assertEqual(wizard.mode, "letter")
        self.assertTrue(all(wizard.partner_line_ids.mapped("selected")))
        wizard.action_switch_mode()
        self.assertEqual(wizard.mode, "email")
        selected = wizard.partner_line_ids.filtered("selected").partner_id
        self.assertEqual(selected, self.alpha | self.beta)
        self.assertEqual(self._pline(wizard, self.alpha).email, "compta@alpha.example.com")
        self.assertEqual(self._pline(wizard, self.beta).email, "beta.sa@example.com")
        self.assertFalse(self._pline(wizard, self.gamma).email)
        self.assertFalse(self._pline(wizard, self.delta).send_doc)
        wizard.action_switch_mode()
        self.assertEqual(wizard.mode, "letter")

    # -- sending -------------------------------------------------------------------

    def test_send_queues_one_mail_per_partner_and_records_levels(self):
        wizard = self._email_review()
        self._pline(wizard, self.gamma).selected = True  # no address: skipped
        run = self._send(wizard)
        self.assertEqual((run.run_type, run.state, run.date), ("email", "done", TODAY))
        self.assertEqual(
            self._levels(self.alpha_20, self.alpha_40, self.beta_20, self.gamma_20),
            [(2, TODAY), (3, TODAY), (2, TODAY), (0, False)],
        )
        self.assertEqual(self._partner_level(self.alpha), (3, TODAY))
        self.assertEqual(self._partner_level(self.gamma), (0, False))
        mails = run.line_ids.mail_id
        self.assertEqual(len(mails), 2, "one mail per partner")
        self.assertEqual(set(mails.mapped("state")), {"outgoing"}, "queued, not sent")
        alpha_lines = run.line_ids.filtered(lambda line: line.partner_id == self.alpha)
        self.assertEqual(
            set(alpha_lines.mapped("outcome")),
            {"queued", "skipped"},
            "the credit note is a deduction",
        )
        mail = alpha_lines.mail_id
        self.assertEqual(alpha_lines.message_id, mail.mail_message_id)
        self.assertEqual(mail.recipient_ids, self.alpha_contact)
        self.assertEqual(mail.subject, "Mise en demeure - factures échues")
        # from the company, signed by the user who sent it
        self.assertEqual(mail.email_from, self.company.partner_id.email_formatted)
        self.assertEqual(mail.author_id, self.env.user.partner_id)
        self.assertEqual(
            sorted(mail.attachment_ids.mapped("name")),
            sorted(
                m._get_invoice_report_filename()
                for m in (self.alpha_20, self.alpha_40, self.alpha_refund)
            ),
        )
        # posted on the customer's chatter
        self.assertEqual((mail.model, mail.res_id), ("res.partner", self.alpha.id))
        self.assertIn(mail.mail_message_id, self.alpha.message_ids)
        for move in (self.alpha_20, self.alpha_40, self.alpha_refund):
            self.assertIn(move.name, mail.body_html)
            self.assertIn(
                f"/my/invoices/{move.id}?access_token={move.access_token}", mail.body_html
            )
        self.assertIn("/my/invoices", mail.body_html)
        self.assertIn("Mise en demeure", mail.body_html, "headed by its level")
        self.assertIn("<p>En-tête niveau 3</p>", mail.body_html)
        gamma_lines = run.line_ids.filtered(lambda line: line.partner_id == self.gamma)
        self.assertEqual(gamma_lines.mapped("outcome"), ["skipped"])
        self.assertEqual(gamma_lines.reason, "no email address")
        self.assertEqual(gamma_lines.level_after, 0)
        self.assertFalse(gamma_lines.mail_id)

    def test_partner_that_takes_no_documents_is_skipped(self):
        wizard = self._email_review()
        wizard.partner_line_ids.selected = False
        self._pline(wizard, self.delta).selected = True
        with self.assertRaisesRegex(UserError, "nothing sent"):
            wizard.action_send_emails()
        self._pline(wizard, self.beta).selected = True
        run = self._send(wizard)
        delta_line = run.line_ids.filtered(lambda line: line.partner_id == self.delta)
        self.assertEqual(delta_line.outcome, "skipped")
        self.assertIn("Send documents by email", delta_line.reason)
        self.assertEqual(self.delta_20.relance_level, 0)

    def test_only_managers_send(self):
        self.env = self.env(user=self._dunning_user())  # a wizard is its creator's only
        wizard = self._review()
        # refused as soon as the email mode is asked for (no screen without a way out)
        with self.assertRaisesRegex(UserError, "managers"):
            wizard.action_switch_mode()
        wizard.mode = "email"  # and should it be reached some other way
        with self.assertRaisesRegex(UserError, "managers"):
            wizard.action_send_emails()
        self.assertFalse(self.env["relance.run"].search([]))

    def test_invoice_without_pdf_is_printed(self):
        wizard = self._email_review()
        wizard.partner_line_ids.selected = False
        pline = self._pline(wizard, self.beta)
        pline.selected = True
        self.beta_20.invoice_pdf_report_id.unlink()
        self.beta_20.invalidate_recordset(["invoice_pdf_report_id"])
        run = self._send(wizard)
        attachment = run.line_ids.mail_id.attachment_ids
        self.assertEqual(attachment.name, self.beta_20._get_invoice_report_filename())
        self.assertEqual(
            (attachment.res_model, attachment.res_id, attachment.res_field),
            ("account.move", self.beta_20.id, "invoice_pdf_report_file"),
            "printed once and kept on the invoice, as Odoo keeps it",
        )
        self.assertEqual(self.beta_20.invoice_pdf_report_id, attachment)

    def test_subject_fixed_or_from_placeholders(self):
        level2 = self.levels[1]
        level2.write(
            {"mail_subject": False, "subject_template": "Relance {level} - {partner} - {documents}"}
        )
        wizard = self._email_review(level_id=level2.id)
        run = self._send(wizard)
        mail = run.line_ids.filtered(lambda line: line.partner_id == self.alpha).mail_id
        self.assertEqual(mail.subject, f"Relance 2 - Alpha SARL - {self.alpha_20.name}")
        # neither: the template's subject
        level2.write({"subject_template": False})
        self.beta.lang = "en_US"
        self.beta_20.sudo().relance_level = 0  # levels are the runs' to write
        wizard = self._email_review(level_id=level2.id, date=TODAY + timedelta(days=1))
        wizard.partner_line_ids.filtered(lambda pl: pl.partner_id != self.beta).selected = False
        mail = self._send(wizard).line_ids.mail_id
        self.assertEqual(mail.subject, f"{self.company.name}: unpaid invoices")

    def test_mail_in_the_partner_language(self):
        template = self.env.ref("relance_atys.mail_template_relance_dunning")
        template.with_context(lang="fr_FR").write(
            {
                "subject": "Factures impayées",
                "body_html": "<div><p>Madame, Monsieur,</p>"
                '<t t-call="relance_atys.mail_documents"/></div>',
            }
        )
        self.env.ref("relance_atys.mail_documents").update_field_translations(
            "arch_db", {"fr_FR": {"Left to pay": "Reste à payer"}}
        )
        self.levels[1].with_context(lang="fr_FR").mail_subject = "Deuxième relance"
        self.levels[1].with_context(lang="en_US").mail_subject = "Second reminder"
        run = self._send(self._email_review())
        mails = {line.partner_id: line.mail_id for line in run.line_ids}
        beta, alpha = mails[self.beta], mails[self.alpha]
        self.assertEqual(beta.subject, "Deuxième relance")
        self.assertIn("Madame, Monsieur", beta.body_html)
        self.assertIn("Reste à payer", beta.body_html)
        self.assertIn(self.beta_20.invoice_date_due.strftime("%d/%m/%Y"), beta.body_html)
        self.assertNotIn("Madame, Monsieur", alpha.body_html)
        self.assertIn("Left to pay", alpha.body_html)
        self.assertIn(self.alpha_20.invoice_date_due.strftime("%m/%d/%Y"), alpha.body_html)

    # -- delivery, failure and resend ---------------------------------------------------

    def test_delivery_marks_lines_sent(self):
        run = self._send(self._email_review())
        messages = run.line_ids.message_id
        with mail_gateway(self.env):
            run.line_ids.mail_id.send()
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"sent", "skipped"})
        self.assertFalse(run.line_ids.mail_id, "auto-deleted once sent")
        self.assertEqual(run.line_ids.message_id, messages, "kept on the chatter")
        self.assertEqual(self._levels(self.alpha_40), [(3, TODAY)])

    def test_cancelled_run_stops_its_queued_mails(self):
        run = self._send(self._email_review())
        mails = run.line_ids.mail_id
        self.assertEqual(set(mails.mapped("state")), {"outgoing"})
        run.action_cancel()
        self.assertEqual(set(mails.mapped("state")), {"cancel"})
        self.assertEqual(self._levels(self.alpha_40), [(0, False)])

    def test_failed_mail_gives_levels_back_and_is_sent_again(self):
        run = self._send(self._email_review())
        alpha_lines = run.line_ids.filtered(
            lambda line: line.partner_id == self.alpha and line.move_id.move_type != "out_refund"
        )
        mail = alpha_lines.mail_id
        with mail_gateway(self.env, refuse=["compta@alpha.example.com"]):
            run.line_ids.mail_id.send()
        self.assertEqual(set(alpha_lines.mapped("outcome")), {"failed"})
        self.assertIn("550 5.1.1 mailbox unavailable", alpha_lines[0].reason)
        self.assertEqual(run.failed_count, 2)
        self.assertEqual(mail.state, "exception", "kept to be sent again")
        self.assertEqual(self._levels(self.alpha_20, self.alpha_40), [(0, False), (0, False)])
        self.assertEqual(self._partner_level(self.alpha), (0, False))
        self.assertEqual(self._levels(self.beta_20), [(2, TODAY)], "beta's mail left")
        self.assertEqual(self._partner_level(self.beta), (2, TODAY))

        run.action_resend_failed()
        self.assertEqual(set(alpha_lines.mapped("outcome")), {"queued"})
        self.assertEqual(mail.state, "outgoing")
        self.assertEqual(self._levels(self.alpha_20, self.alpha_40), [(2, TODAY), (3, TODAY)])
        self.assertEqual(self._partner_level(self.alpha), (3, TODAY))
        with mail_gateway(self.env):
            mail.send()
        self.assertEqual(set(alpha_lines.mapped("outcome")), {"sent"})
        self.assertFalse(mail.exists())
        with self.assertRaisesRegex(UserError, "No failed dunning mail"):
            run.action_resend_failed()

    def test_failure_keeps_levels_given_since(self):
        run = self._send(self._email_review())
        self._write_move_levels({self.alpha_40.id: 3}, TODAY + timedelta(days=5))
        with mail_gateway(self.env, refuse=["compta@alpha.example.com"]):
            run.line_ids.mail_id.send()
        self.assertEqual(
            self._levels(self.alpha_20, self.alpha_40),
            [(0, False), (3, TODAY + timedelta(days=5))],
        )
        with self.assertRaisesRegex(UserError, "dunned since"):
            run.action_resend_failed()

    def test_invalid_address_fails_with_its_reason(self):
        self.company.partner_id.lang = "en_US"  # the history's language
        self.alpha_contact.email = "compta-at-alpha"
        run = self._send(self._email_review())
        with mail_gateway(self.env):
            run.line_ids.mail_id.send()
        line = run.line_ids.filtered(lambda line: line.move_id == self.alpha_40)
        self.assertEqual((line.outcome, line.reason), ("failed", "Invalid email address"))
        self.assertTrue(line.mail_id, "kept: fix the address, then send again")
        self.alpha_contact.email = "compta@alpha.example.com"
        run.action_resend_failed()
        with mail_gateway(self.env):
            line.mail_id.send()
        self.assertEqual(line.outcome, "sent")

    def test_only_managers_send_again(self):
        run = self._send(self._email_review())
        with mail_gateway(self.env, refuse=["compta@alpha.example.com"]):
            run.line_ids.mail_id.send()
        with self.assertRaisesRegex(UserError, "managers"):
            run.with_user(self._dunning_user()).action_resend_failed()

    # -- composer --------------------------------------------------------------------

    def _composer(self, partner, **vals):
        action = partner.action_relance_compose()
        composer = self.env["relance.composer"].browse(action["res_id"])
        composer.write(vals)
        return composer

    def _composer_run(self):
        return self.env["relance.run"].search([], limit=1)

    def test_composer_prefilled_from_partner(self):
        composer = self._composer(self.alpha_contact)
        self.assertEqual(composer.partner_id, self.alpha)
        # from the company's address, not the user's (no contact for questions set here)
        self.assertTrue(self.company.email and not self.company.relance_contact_id)
        self.assertEqual(composer.sender_id, self.company.partner_id)
        self.assertEqual(composer.relance_type, "dunning")
        self.assertEqual(
            composer.template_id, self.env.ref("relance_atys.mail_template_relance_dunning")
        )
        self.assertEqual(composer.email_to, "compta@alpha.example.com")
        self.assertEqual(
            set(composer.line_ids.move_id), {self.alpha_20, self.alpha_40, self.alpha_refund}
        )
        self.assertTrue(all(composer.line_ids.mapped("selected")))
        self.assertIn("550", composer.amount.replace("\u202f", "").replace(",", ""))
        self.assertEqual(composer.subject, "Premier rappel - factures échues")  # its level's
        self.assertIn(self.alpha_40.name, composer.body)
        self.assertTrue(composer.count_as_step)

    def test_composer_type_filters_templates(self):
        custom = self.env["mail.template"].create(
            {
                "name": "Rappel courtois",
                "model_id": self.env.ref("base.model_res_partner").id,
                "relance_type": "notice",
                "subject": "Rappel",
                "body_html": "<p>Bonjour</p>",
            }
        )
        composer = self._composer(self.alpha)
        domain = composer._fields["template_id"].domain
        with Form(composer) as form:
            for relance_type in ("notice", "thanks", "dunning"):
                form.relance_type = relance_type
                self.assertEqual(form.template_id.relance_type, relance_type)
                offered = self.env["mail.template"].search(
                    safe_eval(domain, {"relance_type": relance_type})
                )
                self.assertEqual(custom in offered, relance_type == "notice")
            form.relance_type = "notice"
            self.assertFalse(form.count_as_step)
            form.template_id = custom
            self.assertEqual(form.subject, "Rappel")

    def test_composer_body_follows_ticked_documents(self):
        composer = self._composer(self.alpha)
        with Form(composer) as form, form.line_ids.edit(0) as line:  # the oldest: alpha_40
            line.selected = False
        self.assertNotIn(self.alpha_40.name, composer.body)
        self.assertIn(self.alpha_20.name, composer.body)
        self.assertIn("150", composer.amount.replace("\u202f", "").replace(",", ""))

    def test_composer_checks_addresses(self):
        composer = self._composer(self.alpha)
        cases = [
            ({"email_to": "a@example.com, not an address"}, "not an address"),
            ({"email_to": ""}, "at least one recipient"),
            ({"email_to": "a@example.com", "email_cc": "b@example.com; nope@"}, "nope@"),
        ]
        for vals, message in cases:
            with self.subTest(message=message), self.assertRaisesRegex(UserError, message):
                composer.write(vals)
                composer.action_send()
        self.assertFalse(self.env["relance.run"].search([]))
        self.assertFalse(self.env["mail.mail"].search([("model", "=", "res.partner")]))
        composer.write(
            {"email_to": "a@example.com;\nJean <b@example.com>", "email_cc": "c@example.com"}
        )
        composer.action_send()
        mail = self._composer_run().line_ids.mail_id
        self.assertEqual(mail.email_to, "a@example.com, Jean <b@example.com>")
        self.assertEqual(mail.email_cc, "c@example.com")

    def test_composer_attachment_limits(self):
        composer = self._composer(self.alpha)

        def files(count, size):  # as the upload widget creates them
            return self.env["ir.attachment"].create(
                [
                    {
                        "name": f"annexe_{i}.pdf",
                        "raw": b"x" * size,
                        "res_model": composer._name,
                        "res_id": composer.id,
                    }
                    for i in range(count)
                ]
            )

        composer.attachment_ids = files(13, 10)  # and the three invoice PDFs: 16 files
        with self.assertRaisesRegex(UserError, "at most 15 files; this one has 16"):
            composer.action_send()
        composer.attachment_ids = files(2, 8 * 1024 * 1024)
        with self.assertRaisesRegex(UserError, "at most 15 MB"):
            composer.action_send()
        self.assertFalse(self.env["relance.run"].search([]))
        composer.attachment_ids = files(12, 10)
        composer.action_send()
        mail = self._composer_run().line_ids.mail_id
        self.assertEqual(len(mail.attachment_ids), 15)
        self.assertEqual(set(composer.attachment_ids.mapped("res_model")), {"res.partner"})

    def test_composer_counts_as_a_step(self):
        self.alpha_40.sudo().relance_level = 2  # levels are the runs' to write
        composer = self._composer(
            self.alpha, subject="Votre compte", body="<p>Merci de régler.</p>"
        )
        composer.action_send()
        today = fields.Date.context_today(composer)
        self.assertEqual(
            self._levels(self.alpha_20, self.alpha_40, self.alpha_refund),
            [(1, today), (3, today), (0, False)],
        )
        self.assertEqual(self._partner_level(self.alpha), (3, today))
        run = self._composer_run()
        self.assertEqual((run.run_type, run.level), ("email", 3))
        mail = run.line_ids.mail_id
        self.assertEqual(
            (mail.subject, mail.email_to), ("Votre compte", "compta@alpha.example.com")
        )
        self.assertIn("Merci de régler.", mail.body_html)
        self.assertEqual(len(mail.attachment_ids), 3)
        self.assertIn(mail.mail_message_id, self.alpha.message_ids)

    def test_composer_next_level_chosen(self):
        composer = self._composer(self.alpha, next_level_id=self.levels[2].id)
        composer.line_ids.filtered(lambda line: line.move_id == self.alpha_40).selected = False
        composer.action_send()
        today = fields.Date.context_today(composer)
        self.assertEqual(self._levels(self.alpha_20, self.alpha_40), [(3, today), (0, False)])
        run = self._composer_run()
        self.assertNotIn(self.alpha_40, run.line_ids.move_id)

    def test_composer_not_a_step(self):
        composer = self._composer(
            self.alpha, count_as_step=False, sender_id=self.company.partner_id.id
        )
        self.company.partner_id.email = "compta@nous.example.com"
        composer.action_send()
        self.assertEqual(self._levels(self.alpha_20, self.alpha_40), [(0, False), (0, False)])
        self.assertEqual(self._partner_level(self.alpha), (0, False))
        run = self._composer_run()
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"queued", "skipped"})
        self.assertEqual(run.line_ids.mapped("level_after"), [0, 0, 0])
        mail = run.line_ids.mail_id
        self.assertEqual(mail.author_id, self.company.partner_id)
        self.assertEqual(mail.email_from, self.company.partner_id.email_formatted)
        # a failure has no level to give back, and the mail can still be sent again
        with mail_gateway(self.env, refuse=["compta@alpha.example.com"]):
            mail.send()
        self.assertEqual(run.failed_count, 2)
        self.assertEqual(self._levels(self.alpha_20), [(0, False)])
        run.action_resend_failed()
        self.assertEqual(mail.state, "outgoing")

    def test_composer_refuses_customers_kept_out(self):
        composer = self._composer(self.delta, email_to="delta@example.com")
        with self.assertRaisesRegex(UserError, "Send documents by email"):
            composer.action_send()
        self.alpha.relance_excluded = True
        composer = self._composer(self.alpha)
        with self.assertRaisesRegex(UserError, "excluded from dunning"):
            composer.action_send()
        composer.relance_type = "thanks"  # a thank-you is no dunning
        composer.action_send()
        self.assertEqual(len(self.env["relance.run"].search([])), 1)

    def test_composer_from_review_line(self):
        wizard = self._email_review()
        pline = self._pline(wizard, self.alpha)
        pline.line_ids.filtered(lambda line: line.move_id == self.alpha_20).selected = False
        action = pline.action_compose()
        composer = self.env["relance.composer"].browse(action["res_id"])
        self.assertEqual(composer.edition_partner_id, pline)
        self.assertEqual(
            composer.line_ids.filtered("selected").move_id, self.alpha_40 | self.alpha_refund
        )
        action = composer.action_send()
        self.assertEqual((action["res_model"], action["res_id"]), ("relance.edition", wizard.id))
        self.assertFalse(pline.selected, "not sent twice by the edition")
        self.assertEqual(self._levels(self.alpha_20)[0][0], 0)

    # -- query counts -------------------------------------------------------------------

    def _customer_review(self, name, count):
        """The email review of a new customer with ``count`` overdue invoices."""
        customer = self._customer(name)
        moves = self.env["account.move"].union(
            *(self._invoice(customer, 10.0 + days, 20 + days) for days in range(count))
        )
        self._attach_pdfs(moves)
        return self._email_review(partner_ids=[(6, 0, customer.ids)])

    def test_sending_queries_do_not_grow_with_documents(self):
        """The click records the run in a fixed number of queries; the job preparing
        and queueing a customer's mail reads its documents in bulk."""
        warm_up = self._customer_review("Warm-up", 1)
        wizards = {count: self._customer_review(f"Omega {count}", count) for count in (2, 6)}
        self.env.invalidate_all()
        self._send(warm_up)  # access rules, compiled templates and views
        for count, wizard in wizards.items():
            self.env.invalidate_all()
            with trap_jobs() as trap:
                # CLICK queries whatever the number of documents: reading the review and
                # its customers' addresses; the guard (lock and held check in one query,
                # the unchanged check); customer states; run sequence and run through
                # the ORM, its lines in one INSERT; the jobs stored
                with self.subTest(documents=count, part="click"), self.assertQueryCount(CLICK):
                    action = wizard.action_send_emails()
                run = self.env["relance.run"].browse(action["params"]["next"]["res_id"])
                self.assertEqual((run.state, len(run.line_ids)), ("queued", count))
                self.env.invalidate_all()
                # BATCH queries: the job's lock and the batch's lines, the levels, the
                # documents, their échéances and their PDFs, the sender, the template
                # and its rendering with the portal tokens, the mail and its message, the
                # lines marked, the levels of documents and customer written, the mail
                # queue triggered
                with self.subTest(documents=count, part="batch"), self.assertQueryCount(BATCH):
                    trap.enqueued_jobs[0].perform()
            self.assertEqual(set(run.line_ids.mapped("outcome")), {"queued"})

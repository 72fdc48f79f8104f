"""The attacks of issue 19, played through the ORM as the user in question: each
is refused, with nothing written and nothing leaked."""

import io
import re
from datetime import timedelta
from pathlib import Path

import openpyxl

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import TODAY, RelanceCommon

# internal users who may edit contacts, as Odoo makes them by default
BILLING = "base.group_user,base.group_partner_manager,account.group_account_invoice"
DUNNING_USER = f"{BILLING},relance_atys.group_relance_user"
DUNNING_MANAGER = f"{BILLING},relance_atys.group_relance_manager"


class SecurityCommon(RelanceCommon):
    """Company A (the test company) and company B, each with its dunning users."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.setup_other_company(name="Société B")["company"]
        cls.accountant = cls._user("billing.only", BILLING, cls.company)
        cls.user_a = cls._user("dunning.user.a", DUNNING_USER, cls.company)
        cls.user_a2 = cls._user("dunning.user.a2", DUNNING_USER, cls.company)
        cls.manager_a = cls._user("dunning.manager.a", DUNNING_MANAGER, cls.company)
        cls.manager_a2 = cls._user("dunning.manager.a2", DUNNING_MANAGER, cls.company)
        cls.manager_b = cls._user("dunning.manager.b", DUNNING_MANAGER, cls.company_b)
        cls.user_b = cls._user("dunning.user.b", DUNNING_USER, cls.company_b)
        cls.customer = cls._customer("Client Sûr", company_id=cls.company.id)
        cls.neighbour = cls._customer("Client Voisin", company_id=cls.company.id)
        cls.invoice = cls._invoice(cls.customer, 500.0, 20)
        cls.neighbour_invoice = cls._invoice(cls.neighbour, 700.0, 20)
        cls.customer_b = cls._customer("Client B", company_id=cls.company_b.id)
        cls.invoice_b = cls._invoice_in(cls.company_b, cls.customer_b, 900.0, 20)

    @classmethod
    def _user(cls, login, groups, company):
        return new_test_user(
            cls.env,
            login,
            groups=groups,
            company_id=company.id,
            company_ids=[Command.set(company.ids)],
        )

    @classmethod
    def _invoice_in(cls, company, partner, amount, days):
        """A posted invoice of ``company`` (the common helper makes the test company's)."""
        due = TODAY - timedelta(days=days)
        line = {"name": "Prestation", "quantity": 1, "price_unit": amount, "tax_ids": []}
        move = (
            cls.env["account.move"]
            .with_company(company)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "invoice_date": due - timedelta(days=30),
                    "invoice_date_due": due,
                    "invoice_line_ids": [Command.create(line)],
                }
            )
        )
        move.action_post()
        return move.with_env(cls.env)

    def _levels(self):
        """What must not move: every document's and customer's level and date, every run."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT (SELECT count(*) FROM relance_run),"
            " (SELECT array_agg((id, relance_level, relance_date, relance_excluded) ORDER BY id)"
            "    FROM account_move),"
            " (SELECT array_agg((id, relance_level, relance_date, relance_excluded) ORDER BY id)"
            "    FROM res_partner)"
        )
        return self.env.cr.fetchone()


@tagged("post_install", "-at_install")
class TestDunningStateGuard(SecurityCommon):
    """Levels, dates and exclusions: through the dunning services only."""

    def test_levels_and_dates_refused_to_everyone_but_the_services(self):
        before = self._levels()
        for user in (self.accountant, self.user_a, self.manager_a):
            for record in (self.invoice, self.customer):
                with self.subTest(user=user.login, model=record._name):
                    with self.assertRaisesRegex(UserError, "set by the dunning runs only"):
                        record.with_user(user).write({"relance_level": 3, "relance_date": TODAY})
                    with self.assertRaisesRegex(UserError, "set by the dunning runs only"):
                        record.with_user(user).write({"relance_date": TODAY})
        with self.assertRaisesRegex(UserError, "set by the dunning runs only"):
            self.env["res.partner"].with_user(self.accountant).create(
                {"name": "Client Forgé", "relance_level": 2}
            )
        self.env.invalidate_all()
        self.assertEqual(self._levels(), before, "nothing written")

    def test_same_values_and_other_fields_still_saved(self):
        """The web client sends the values it shows: an unchanged level is no change."""
        self.invoice.with_user(self.accountant).write({"relance_level": 0, "ref": "PO-1"})
        self.customer.with_user(self.accountant).write({"relance_excluded": False, "ref": "C9"})
        self.assertEqual((self.invoice.ref, self.customer.ref), ("PO-1", "C9"))

    def test_exclusion_by_dunning_managers_only(self):
        before = self._levels()
        for user in (self.accountant, self.user_a):
            for record in (self.invoice, self.customer):
                with (
                    self.subTest(user=user.login, model=record._name),
                    self.assertRaisesRegex(UserError, "Only dunning managers can exclude"),
                ):
                    record.with_user(user).write({"relance_excluded": True})
        with self.assertRaisesRegex(UserError, "Only dunning managers can exclude"):
            self.env["res.partner"].with_user(self.user_a).create(
                {"name": "Client Exclu", "relance_excluded": True}
            )
        self.env.invalidate_all()
        self.assertEqual(self._levels(), before, "nothing written")
        self.invoice.with_user(self.manager_a).write({"relance_excluded": True})
        self.customer.with_user(self.manager_a).write({"relance_excluded": True})
        self.assertTrue(self.invoice.relance_excluded and self.customer.relance_excluded)

    def test_contacts_follow_their_company_exclusion(self):
        """Odoo's sync of commercial fields to contacts is not a user's change."""
        self.customer.with_user(self.manager_a).relance_excluded = True
        contact = (
            self.env["res.partner"]
            .with_user(self.accountant)
            .create({"name": "Mme Compta", "parent_id": self.customer.id})
        )
        self.assertTrue(contact.relance_excluded)
        self.customer.with_user(self.manager_a).relance_excluded = False
        self.assertFalse(contact.relance_excluded)

    def test_history_not_rewritten_by_hand(self):
        """Second probe: a manager rewrote a run's lines (a level before, another
        company's document, the run's company), then cancelled the run to set those."""
        edition = (
            self.env["relance.edition"]
            .with_user(self.manager_a)
            .create({"date": TODAY, "definitive": True})
        )
        edition.action_review()
        run = self.env["relance.run"].browse(edition.action_print_definitive()["res_id"])
        line = run.line_ids.filtered(lambda ln: ln.move_id == self.invoice).with_user(
            self.manager_a
        )
        before = self._levels()
        for vals in ({"level_before": 5}, {"move_id": self.invoice_b.id}, {"date_before": TODAY}):
            with (
                self.subTest(vals=vals),
                self.assertRaisesRegex(UserError, "written by the dunning runs only"),
                self.env.cr.savepoint(),
            ):
                line.write(vals)
        with (
            self.assertRaisesRegex(UserError, "written by the dunning runs only"),
            self.env.cr.savepoint(),
        ):
            run.with_user(self.manager_a).write({"company_id": self.company_b.id})
        with self.assertRaises(AccessError), self.env.cr.savepoint():
            self.env["relance.run.line"].with_user(self.manager_a).create(
                {"run_id": run.id, "move_id": self.invoice_b.id, "level_before": 4}
            )
        self.assertEqual(self._levels(), before)
        run.with_user(self.manager_a).action_cancel()  # what the run recorded, given back
        self.assertEqual((self.invoice.relance_level, self.invoice_b.relance_level), (0, 0))

    def test_services_still_record_levels(self):
        wizard = (
            self.env["relance.edition"]
            .with_user(self.manager_a)
            .create({"date": TODAY, "definitive": True})
        )
        wizard.action_review()
        wizard.action_print_definitive()
        self.assertEqual(self.invoice.relance_level, 2)
        self.assertEqual(self.customer.with_company(self.company).relance_level, 2)


@tagged("post_install", "-at_install")
class TestWizardOwnership(SecurityCommon):
    """A wizard and its lines: its creator's alone, in a company of its creator."""

    def _wizards(self, user):
        """One wizard of each kind made by ``user``, with lines."""
        edition = self.env["relance.edition"].with_user(user).create({"date": TODAY})
        edition.action_review()
        action = self.env["relance.composer"].with_user(user).action_open_for_partner(self.customer)
        composer = self.env["relance.composer"].with_user(user).browse(action["res_id"])
        signature = self.env["relance.signature"].with_user(user).create({"date": TODAY})
        signature.line_ids = [
            Command.create({"order_id": self._quotation().id, "partner_id": self.customer.id})
        ]
        records = [
            edition,
            edition.partner_line_ids,
            edition.line_ids,
            composer,
            composer.line_ids,
            signature,
            signature.line_ids,
        ]
        if user.has_group("relance_atys.group_relance_manager"):
            manage = (
                self.env["relance.level.manage"]
                .with_user(user)
                .create({"partner_id": self.customer.id, "new_level": 1})
            )
            manage.action_consult()
            records += [manage, manage.line_ids]
        return records

    def _quotation(self):
        return self.env["sale.order"].create({"partner_id": self.customer.id})

    def test_other_users_neither_read_nor_write_nor_delete(self):
        records = self._wizards(self.manager_a)
        self.assertEqual(len(records), 9)
        for owned in records:
            self.assertTrue(owned, owned._name)
            for intruder in (self.manager_a2, self.manager_b):  # every right but the rule
                theirs = owned.with_user(intruder)
                with self.subTest(model=owned._name, user=intruder.login):
                    self.assertFalse(theirs.search([("id", "in", owned.ids)]))
                    with self.assertRaises(AccessError):
                        theirs.read(["create_uid"])
                    with self.assertRaises(AccessError):
                        theirs.write({"create_uid": intruder.id})
                    with self.assertRaises(AccessError):
                        theirs.unlink()
        # the owner keeps everything
        for owned in records:
            owned.read(["create_uid"])

    def test_pending_definitive_edition_left_alone(self):
        """The level a manager is about to record cannot be raised by a colleague."""
        edition = (
            self.env["relance.edition"]
            .with_user(self.manager_a)
            .create({"date": TODAY, "definitive": True})
        )
        edition.action_review()
        line = edition.line_ids.filtered(lambda ln: ln.move_id == self.invoice)
        with self.assertRaises(AccessError):
            line.with_user(self.user_a2).write({"level_after": 3})
        edition.action_print_definitive()
        self.assertEqual(self.invoice.relance_level, 2)

    def test_wizard_of_a_company_outside_the_users(self):
        before = self._levels()
        for model, vals in (
            ("relance.edition", {"date": TODAY}),
            ("relance.signature", {"date": TODAY}),
            ("relance.composer", {"partner_id": self.customer.id}),
        ):
            with (
                self.subTest(model=model),
                self.assertRaisesRegex(UserError, "not among your current companies"),
            ):
                self.env[model].with_user(self.user_b).create(
                    dict(vals, company_id=self.company.id)
                )
        edition = self.env["relance.edition"].with_user(self.user_b).create({"date": TODAY})
        with self.assertRaisesRegex(UserError, "not among your current companies"):
            edition.write({"company_id": self.company.id})
        self.assertEqual(self._levels(), before, "nothing written")


@tagged("post_install", "-at_install")
class TestComposerAttacks(SecurityCommon):
    """The composer writes levels and sends mails: everything it points at is checked."""

    def _composer(self, user, partner=None, **vals):
        Composer = self.env["relance.composer"].with_user(user)
        action = Composer.action_open_for_partner(partner or self.customer)
        composer = Composer.browse(action["res_id"])
        composer.write(vals)
        return composer

    def _assert_refused(self, action, message, error=UserError):
        before = self._levels()
        mails = self.env["mail.mail"].search_count([])
        with self.assertRaisesRegex(error, message), self.env.cr.savepoint():
            action()  # a request that fails is rolled back: so is the savepoint
            self.env.flush_all()
        self.env.invalidate_all()
        self.assertEqual(self._levels(), before, "nothing written")
        self.assertEqual(self.env["mail.mail"].search_count([]), mails, "no mail")

    def test_lines_of_another_company_refused(self):
        """Issue 19, 1: a line pointing at another company's invoice, written or created."""
        composer = self._composer(self.user_b, self.customer_b)
        line_b = composer.line_ids
        self.assertEqual(line_b.move_id, self.invoice_b)
        self._assert_refused(
            lambda: line_b.write({"move_id": self.invoice.id}), "not open items of this customer"
        )
        self._assert_refused(
            lambda: composer.write(
                {
                    "line_ids": [
                        Command.create(
                            {
                                "move_id": self.invoice.id,
                                "currency_id": self.invoice.currency_id.id,
                                "residual": 500.0,
                            }
                        )
                    ]
                }
            ),
            "not open items of this customer",
        )
        self.assertEqual(self.invoice.relance_level, 0)

    def test_lines_of_another_customer_refused(self):
        """Issue 19, 1: in one company, a line pointing at another customer's invoice."""
        composer = self._composer(self.user_a)
        self._assert_refused(
            lambda: composer.line_ids.write({"move_id": self.neighbour_invoice.id}),
            "not open items of this customer",
        )
        composer.action_send()
        self.assertEqual(self.neighbour_invoice.relance_level, 0)
        self.assertEqual(self.invoice.relance_level, 1)

    def test_composer_of_another_company_refused(self):
        composer = self._composer(self.user_b, self.customer_b)
        self._assert_refused(
            lambda: composer.write({"company_id": self.company.id}), "not among your current"
        )

    def test_forged_levels_refused(self):
        """A line whose level or amount was changed since it was listed is not sent."""
        composer = self._composer(self.user_a)
        composer.line_ids.write({"level_before": 2})
        self._assert_refused(composer.action_send, "changed since the reminder was opened")

    def test_sender_checked(self):
        """Issue 19, 5: a customer as sender; the user, a colleague, the company: sent."""
        self.company.partner_id.email = "compta@societe-a.example.com"
        composer = self._composer(self.user_a, sender_id=self.neighbour.id)
        self._assert_refused(composer.action_send, "cannot send this reminder")
        composer.sender_id = self.user_b.partner_id  # another company's user
        self._assert_refused(composer.action_send, "cannot send this reminder")
        for sender in (self.user_a2.partner_id, self.company.partner_id):
            composer = self._composer(self.user_a, sender_id=sender.id, count_as_step=False)
            composer.action_send()
            run_mail = self.env["relance.run"].search([], limit=1).line_ids.mail_id
            self.assertEqual(run_mail.author_id, sender)

    def test_template_of_another_model_refused(self):
        """Issue 19, 6: a mail template of another model, rendered on the customer's id."""
        foreign = self.env["mail.template"].create(
            {
                "name": "Invitation",
                "model_id": self.env.ref("base.model_res_users").id,
                "subject": "{{ object.login }}",
                "body_html": "<p>signup</p>",
            }
        )
        composer = self._composer(self.user_a)
        subject = composer.subject
        for template in (foreign, self.env.ref("relance_atys.mail_template_relance_notice")):
            with self.subTest(template=template.name):
                self._assert_refused(
                    lambda template=template: composer.write({"template_id": template.id}),
                    "not a customer reminder",
                )
                self.assertEqual(composer.subject, subject, "nothing rendered")

    def test_level_template_of_another_model_refused(self):
        """Issue 19, 6: the cron would render a level's template on customers."""
        foreign = self.env.ref("account.email_template_edi_invoice")
        level = self.levels[0].with_user(self.manager_a)
        self._assert_refused(
            lambda: level.write({"mail_template_id": foreign.id}), "not a dunning mail"
        )
        self.assertFalse(self.levels[0].mail_template_id)

    def test_send_without_documents(self):
        """Issue 19, 7: a thank-you with no document line is sent, without KeyError."""
        composer = self._composer(self.user_a, relance_type="thanks")
        composer.line_ids.unlink()
        composer.action_send()
        run = self.env["relance.run"].search([], limit=1)
        self.assertEqual(run.line_ids.partner_id, self.customer)
        self.assertEqual((run.level, run.line_ids.level_after), (0, 0))


@tagged("post_install", "-at_install")
class TestEditionAttacks(SecurityCommon):
    """The edition reads by SQL and prints templates: what it reads and prints is checked."""

    def _review(self, user, **vals):
        edition = self.env["relance.edition"].with_user(user).create({"date": TODAY, **vals})
        edition.action_review()
        return edition

    def _xlsx_text(self, edition):
        action = edition.action_export_xlsx()
        attachment_id = int(re.search(r"/web/content/(\d+)", action["url"])[1])
        attachment = self.env["ir.attachment"].browse(attachment_id)
        book = openpyxl.load_workbook(io.BytesIO(attachment.raw))
        return " ".join(
            str(cell) for row in book.active.iter_rows(values_only=True) for cell in row
        )

    def test_forged_lines_refused_and_xlsx_reads_only_its_company(self):
        """Issue 19, 4: lines pointing at another company's invoices and customers."""
        edition = self._review(self.user_b)
        pline = edition.partner_line_ids
        self.assertEqual(pline.partner_id, self.customer_b)
        forged_line = {
            "edition_id": edition.id,
            "partner_line_id": pline.id,
            "partner_id": self.customer_b.id,
            "move_id": self.invoice.id,
            "currency_id": self.invoice.currency_id.id,
            "residual": 500.0,
        }
        Line = self.env["relance.edition.line"].with_user(self.user_b)
        with self.assertRaisesRegex(UserError, "not open items"), self.env.cr.savepoint():
            Line.create(forged_line)
        with self.assertRaisesRegex(UserError, "its customer's line"), self.env.cr.savepoint():
            Line.create(dict(forged_line, partner_id=self.customer.id))
        with self.assertRaises(AccessError), self.env.cr.savepoint():
            self.env["relance.edition.partner"].with_user(self.user_b).create(
                {"edition_id": edition.id, "partner_id": self.customer.id}
            )
        with self.assertRaisesRegex(UserError, "not open items"), self.env.cr.savepoint():
            edition.line_ids.write({"move_id": self.neighbour_invoice.id})
        text = self._xlsx_text(edition)
        self.assertIn(self.customer_b.name, text)
        self.assertIn("900", text)
        for secret in (self.customer.name, self.neighbour.name, "500", "700"):
            self.assertNotIn(secret, text)

    def test_letter_template_from_the_registry_only(self):
        """Issue 19, 6 and issue 14, 1: any QWeb view, or an internal one, as a letter."""
        edition = self._review(self.user_a)
        offered = dict(edition.env["relance.letter"]._letter_templates())
        self.assertEqual(list(offered), ["relance_atys.letter_document"])
        for key in ("web.login", "relance_atys.letters_standalone", "relance_atys.letters_body"):
            with self.subTest(key=key):
                edition.template_key = key
                with self.assertRaisesRegex(UserError, "not a dunning letter template"):
                    edition.action_print_draft()
                with self.assertRaisesRegex(UserError, "not a dunning letter template"):
                    edition.action_review()
        self.assertFalse(self.env["ir.attachment"].search([("res_model", "=", edition._name)]))

    def test_customer_filter_not_readable_refused(self):
        """Issue 19, 6: a filter on another company's customer was dropped without a word,
        and the review covered every customer."""
        edition = (
            self.env["relance.edition"]
            .with_user(self.user_b)
            .create({"date": TODAY, "partner_ids": [Command.set(self.customer.ids)]})
        )
        with self.assertRaisesRegex(UserError, "not visible to you"):
            edition.action_review()
        self.assertFalse(edition.partner_line_ids)
        signature = (
            self.env["relance.signature"]
            .with_user(self.user_b)
            .create({"date": TODAY, "partner_ids": [Command.set(self.customer.ids)]})
        )
        with self.assertRaisesRegex(UserError, "not visible to you"):
            signature.action_preview()

    def test_mail_links_only_to_the_customers_documents(self):
        """A mail's portal links: the customer's own invoices, no one else's."""
        self.env["relance.mailer"]._ensure_access_tokens(self.neighbour_invoice)
        Composer = self.env["relance.composer"].with_user(self.user_a)
        composer = Composer.browse(Composer.action_open_for_partner(self.customer)["res_id"])
        composer.action_send()
        body = self.env["relance.run"].search([], limit=1).line_ids.mail_id.body_html
        self.assertIn(self.invoice.access_token, body)
        self.assertNotIn(self.neighbour_invoice.access_token, body)


@tagged("post_install", "-at_install")
class TestDraftLettersDownload(SecurityCommon, HttpCase):
    """Issue 19, 3: another user's draft letters through /web/content."""

    def test_draft_pdf_only_for_its_maker(self):
        edition = self.env["relance.edition"].with_user(self.manager_a).create({"date": TODAY})
        edition.action_review()
        url = edition.action_print_draft()["url"]
        for login in ("dunning.manager.a2", "dunning.user.b"):
            with self.subTest(login=login):
                self.authenticate(login, login)
                response = self.url_open(url)
                self.assertIn(response.status_code, (403, 404))
                self.assertNotIn(b"%PDF", response.content)
        self.authenticate("dunning.manager.a", "dunning.manager.a")
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.content.startswith(b"%PDF"))


README = Path(__file__).resolve().parents[2] / "README.md"
ROLES = ("Billing", "Utilisateur", "Responsable", "Admin compta", "Portail", "Autre société")


@tagged("post_install", "-at_install")
class TestAccessMatrix(SecurityCommon):
    """The README's "Who may do what", walked: each action as each role, on company A."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin_a = cls._user(
            "accounting.admin.a", f"{BILLING},account.group_account_manager", cls.company
        )
        cls.portal = new_test_user(
            cls.env,
            "portal.customer",
            groups="base.group_portal",
            partner_id=cls.customer.id,
            company_id=cls.company.id,
        )
        cls.manager_b = cls._user("matrix.manager.b", DUNNING_MANAGER, cls.company_b)
        cls.history_run = cls._record(cls.neighbour)
        cls.others_edition = (
            cls.env["relance.edition"].with_user(cls.user_a2).create({"date": TODAY})
        )

    @classmethod
    def _record(cls, partner):
        """A definitive letter run of ``partner``, recorded by the superuser."""
        edition = cls.env["relance.edition"].create(
            {"date": TODAY, "definitive": True, "partner_ids": [Command.set(partner.ids)]}
        )
        edition.action_review()
        edition.action_print_definitive()
        return cls.env["relance.run"].search([], limit=1)

    def _roles(self):
        return dict(
            zip(
                ROLES,
                (
                    self.accountant,
                    self.user_a,
                    self.manager_a,
                    self.admin_a,
                    self.portal,
                    self.manager_b,
                ),
                strict=True,
            )
        )

    # -- the actions, each on company A ---------------------------------------------

    def _read_history(self, user):
        self.history_run.with_user(user).read(["name"])
        self.history_run.line_ids.with_user(user).read(["level_after"])
        self.levels.with_user(user).read(["name"])

    def _edition(self, user, **vals):
        edition = (
            self.env["relance.edition"]
            .with_user(user)
            .create({"date": TODAY, "company_id": self.company.id, **vals})
        )
        edition.action_review()
        return edition

    def _review_and_drafts(self, user):
        edition = self._edition(user)
        edition.action_export_xlsx()
        edition.action_print_draft()

    def _composer(self, user):
        Composer = self.env["relance.composer"].with_user(user).with_company(self.company)
        composer = Composer.browse(Composer.action_open_for_partner(self.customer)["res_id"])
        composer.action_send()
        if self.invoice.relance_level != 1:
            raise UserError("the dunning step was not recorded")

    def _signature(self, user):
        self.env["relance.signature"].with_user(user).create(
            {"date": TODAY, "company_id": self.company.id}
        ).action_preview()

    def _definitive(self, user):
        self._edition(user, definitive=True).action_print_definitive()

    def _level_by_hand(self, user):
        manage = (
            self.env["relance.level.manage"]
            .with_user(user)
            .create({"company_id": self.company.id, "partner_id": self.customer.id})
        )
        manage.write({"new_level": 2})
        manage.action_modify()
        manage.line_ids.write({"selected": True})
        manage.action_validate()

    def _cancel(self, user):
        self.history_run.with_user(user).action_cancel()

    def _configure(self, user):
        self.levels[0].with_user(user).write({"header": "<p>Nouveau</p>"})

    def _exclude(self, user):
        self.invoice.with_user(user).write({"relance_excluded": True})
        self.customer.with_user(user).write({"relance_excluded": True})

    def _exclude_echeance(self, user):
        self.invoice.relance_echeance_ids.with_user(user).action_relance_exclude()
        if not self.invoice.relance_echeance_ids.relance_excluded:
            raise UserError("the échéance was not excluded")

    def _write_level(self, user):
        self.invoice.with_user(user).write({"relance_level": 2, "relance_date": TODAY})

    def _others_wizard(self, user):
        self.others_edition.with_user(user).read(["partner_ids"])

    ACTIONS = {
        "read the levels, the runs and their lines": _read_history,
        "proposal, control list, XLSX, draft letters": _review_and_drafts,
        "composer: send a reminder, counted as a dunning step or not": _composer,
        "signature reminders": _signature,
        "definitive letters, email mode": _definitive,
        "change levels by hand (Gestion des niveaux)": _level_by_hand,
        "cancel a run": _cancel,
        "configure the levels": _configure,
        "exclude a document or a customer from dunning (or include it again)": _exclude,
        "exclude one échéance of an invoice (or include it again)": _exclude_echeance,
        "write a level or a last-dunning date directly (not through a run)": _write_level,
        "open, change or delete another user's wizard (edition, composer, …)": _others_wizard,
    }

    def _readme_matrix(self):
        """{action: {role: allowed}} from the README's table."""
        text = README.read_text(encoding="utf-8")
        table = text.split("## Who may do what", 1)[1].split("\n## ", 1)[0]
        rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| ")]
        header, *rows = rows
        self.assertEqual([cell.strip() for cell in header[1:]], list(ROLES))
        return {
            cells[0].strip(): {
                role: cell.strip() == "✓" for role, cell in zip(ROLES, cells[1:], strict=True)
            }
            for cells in rows
        }

    def test_walk_the_matrix(self):
        matrix = self._readme_matrix()
        self.assertEqual(set(matrix), set(self.ACTIONS))
        for action, allowed in matrix.items():
            for role, user in self._roles().items():
                with self.subTest(action=action, role=role):
                    with self.env.cr.savepoint(flush=False) as savepoint:
                        try:
                            self.ACTIONS[action](self, user)
                            self.env.flush_all()
                            done = True
                        except (AccessError, UserError):
                            done = False
                        savepoint.rollback()
                    self.env.invalidate_all()
                    self.assertEqual(done, allowed[role], "allowed" if done else "refused")

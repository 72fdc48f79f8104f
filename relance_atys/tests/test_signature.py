"""Signature reminders end to end (Atys "Relance signature pièces", seed 000):
thresholds, minimum interval, recipients, filters, attachments, the mail in
French, the scheduled action's batches, resumption and failures, the history
run, and the gathering's query count.
"""

import re
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from unittest.mock import patch

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import html2plaintext
from odoo.tools.translate import TranslationImporter

from .common import load_french, mail_gateway, own_registry_lock
from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.addons.relance_atys.models import relance_signature_service as service_module

AS_OF = date(2026, 3, 31)
SIGNATURE_PNG = (  # a 1x1 image
    b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def days_ago(days):
    return AS_OF - timedelta(days=days)


class Killed(Exception):
    """Stands for the worker being killed in the middle of a scheduled run."""


@tagged("post_install", "-at_install")
class SignatureCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env["res.company"].create(
            {"name": "Atys Signature SA", "email": "service@atys.example.com"}
        )
        cls.company.partner_id.lang = "en_US"  # its scheduled runs report in English
        cls.company.write(
            {
                "relance_sign_first_days": 30,
                "relance_sign_second_days": 60,
                "relance_sign_repeat_days": 90,
                "relance_sign_min_interval": 7,
            }
        )
        # the scheduled action runs every company: keep the others' quotations out
        cls.env.cr.execute(
            "UPDATE sale_order SET require_signature = FALSE WHERE company_id != %s",
            [cls.company.id],
        )
        cls.env["sale.order"].invalidate_model(["require_signature"])
        cls.product = cls.env["product.product"].create(
            {"name": "Contrat de maintenance", "list_price": 1200.0}
        )
        cls.tag = cls.env["res.partner.category"].create({"name": "Contrats"})
        cls.deco = cls._partner("Deco Addict", email="deco@example.com", category_id=cls.tag.ids)
        cls.contact = cls.env["res.partner"].create(
            {"name": "Jean Dupont", "parent_id": cls.deco.id, "lang": "en_US"}
        )
        cls.azure = cls._partner("Azure Interior", email="azure@example.com")
        cls.purchase_contract = cls.env["sale.order.template"].create(
            {"name": "CONTRAT D'ACHAT", "company_id": cls.company.id}
        )
        cls.template = cls.env.ref("relance_atys.mail_template_relance_signature")

    @classmethod
    def _partner(cls, name, **vals):
        return cls.env["res.partner"].create(
            {"name": name, "is_company": True, "lang": "en_US", **vals}
        )

    @classmethod
    def _quotation(cls, partner, age, level=0, last=None, **vals):
        """A quotation to sign, created ``age`` days before AS_OF (at noon UTC)."""
        order = cls.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "company_id": cls.company.id,
                "require_signature": True,
                "order_line": [Command.create({"product_id": cls.product.id})],
                **vals,
            }
        )
        order.flush_recordset()
        cls.env.cr.execute(
            "UPDATE sale_order SET create_date = %s, relance_sign_level = %s, "
            "relance_sign_date = %s WHERE id = %s",
            [datetime.combine(days_ago(age), time(12)), level, last, order.id],
        )
        order.invalidate_recordset(["create_date", "relance_sign_level", "relance_sign_date"])
        return order

    def _customers(self, count):
        """``count`` customers: a batch holds each recipient's quotations whole."""
        return [self._partner(f"Client {n}", email=f"client{n}@example.com") for n in range(count)]

    def _wizard(self, **vals):
        vals.setdefault("attach_pdf", False)
        return self.env["relance.signature"].create(
            {"company_id": self.company.id, "date": AS_OF, **vals}
        )

    def _preview(self, **vals):
        wizard = self._wizard(**vals)
        wizard.action_preview()
        return {line.order_id: line for line in wizard.line_ids}

    @contextmanager
    def _jobs(self):
        """The jobs queued inside run once it ends, as queue_job's runner would."""
        with trap_jobs() as trap:
            yield trap
            while trap.enqueued_jobs:  # the gathering, then the batches it queues
                trap.perform_enqueued_jobs()

    def _gather_all(self, trap):
        """Perform the gathering jobs ``trap`` holds (one per company for the
        scheduled action): the batches they queue are left in it. Return them."""
        gathering = [job for job in trap.enqueued_jobs if job.method_name == "_gather"]
        trap.enqueued_jobs = [job for job in trap.enqueued_jobs if job not in gathering]
        for job in gathering:
            job.perform()
        return gathering

    def _run_of(self, action):
        """The run a click on "Send" opens (next to its notification)."""
        form = action["params"]["next"] if action["type"] == "ir.actions.client" else action
        return self.env["relance.run"].browse(form["res_id"])

    def _send(self, **vals):
        with self._jobs():
            action = self._wizard(**vals).action_send()
        return self._run_of(action)

    def _cron(self, as_of=AS_OF, **context):
        with self._jobs():
            self.env["sale.order"].with_context(**context)._cron_relance_signature(as_of=as_of)

    def _runs(self):
        return self.env["relance.run"].search(
            [("company_id", "=", self.company.id), ("run_type", "=", "signature")], order="id"
        )

    def _mails(self, orders):
        return self.env["mail.mail"].search(
            [("model", "=", "sale.order"), ("res_id", "in", orders.ids)]
        )

    def _line(self, run, order):
        return run.line_ids.filtered(lambda line: line.order_id == order)

    def _outcomes(self, run, orders):
        """{order: (outcome, level after, reason)} of the run's lines."""
        return {
            order: (line.outcome, line.level_after, line.reason or "")
            for order in orders
            for line in self._line(run, order)
        }


class TestLevels(SignatureCase):
    def test_each_threshold_around_its_boundary(self):
        long_ago = days_ago(20)
        table = [
            # age, level, last reminder, level afterwards (None: not due)
            (29, 0, None, None),
            (30, 0, None, 1),
            (31, 0, None, 1),
            (59, 1, long_ago, None),
            (60, 1, long_ago, 2),
            (61, 1, long_ago, 2),
            (89, 2, long_ago, None),
            (90, 2, long_ago, 3),
            (91, 2, long_ago, 3),
            (200, 5, days_ago(7), 6),
        ]
        orders = [self._quotation(self.deco, age, level, last) for age, level, last, _new in table]
        run = self._send()
        for order, (age, level, last, new) in zip(orders, table, strict=True):
            with self.subTest(age=age, level=level):
                line = self._line(run, order)
                if new:
                    self.assertEqual((line.outcome, line.level_after), ("queued", new))
                    self.assertEqual(
                        (order.relance_sign_level, order.relance_sign_date), (new, AS_OF)
                    )
                    self.assertEqual(len(self._mails(order)), 1)
                else:
                    self.assertEqual((line.outcome, line.reason), ("skipped", "not due yet"))
                    self.assertEqual(
                        (order.relance_sign_level, order.relance_sign_date), (level, last or False)
                    )
                    self.assertFalse(self._mails(order))

    def test_one_more_at_each_processing_past_the_repeat_threshold(self):
        order = self._quotation(self.deco, 100, level=2, last=days_ago(14))
        for week, as_of in enumerate(
            (AS_OF, AS_OF + timedelta(weeks=1), AS_OF + timedelta(weeks=2))
        ):
            self._send(date=as_of)
            self.assertEqual((order.relance_sign_level, order.relance_sign_date), (3 + week, as_of))
        self.assertEqual(len(self._mails(order)), 3)

    def test_minimum_interval(self):
        six = self._quotation(self.deco, 120, level=3, last=days_ago(6))
        seven = self._quotation(self.deco, 120, level=3, last=days_ago(7))
        run = self._send()
        self.assertEqual(
            self._outcomes(run, six | seven),
            {
                six: ("skipped", 3, "last reminder too recent"),
                seven: ("queued", 4, ""),
            },
        )

    def test_a_manual_run_keeps_the_scheduled_one_from_sending_again(self):
        order = self._quotation(self.deco, 100, level=2, last=days_ago(30))
        self._send()
        self._cron(as_of=AS_OF + timedelta(days=1))
        scheduled = self._runs()[-1]
        self.assertEqual(
            self._outcomes(scheduled, order),
            {order: ("skipped", 3, "last reminder too recent")},
        )
        self.assertEqual(len(self._mails(order)), 1)


class TestRecipients(SignatureCase):
    def test_mail_goes_to_the_partner_else_its_commercial_partner(self):
        direct = self._quotation(self.azure, 40)
        through_company = self._quotation(self.contact, 40)
        self._send()
        self.assertEqual(self._mails(direct).recipient_ids, self.azure)
        self.assertEqual(self._mails(through_company).recipient_ids, self.deco)

    def test_partners_without_email_or_send_doc_are_skipped(self):
        nowhere = self._partner("Nowhere SARL")
        no_doc = self._partner("Papier SA", email="papier@example.com", relance_send_doc=False)
        no_doc_contact = self.env["res.partner"].create(
            {"name": "Léa Papier", "parent_id": no_doc.id, "email": "lea@example.com"}
        )
        orders = {
            "no email": self._quotation(nowhere, 40),
            "no send doc": self._quotation(no_doc, 40),
            "no send doc contact": self._quotation(no_doc_contact, 40),
        }
        run = self._send()
        reasons = {name: self._line(run, order).reason for name, order in orders.items()}
        self.assertEqual(
            reasons,
            {
                "no email": "no email address",
                "no send doc": "customer without 'Send documents by email'",
                "no send doc contact": "customer without 'Send documents by email'",
            },
        )
        self.assertFalse(self._mails(self.env["sale.order"].concat(*orders.values())))

    def test_only_quotations_waiting_for_a_signature(self):
        waiting = self._quotation(self.deco, 40)
        no_signature = self._quotation(self.deco, 40, require_signature=False)
        signed = self._quotation(self.deco, 40, signature=SIGNATURE_PNG)
        confirmed = self._quotation(self.deco, 40)
        confirmed.action_confirm()
        cancelled = self._quotation(self.deco, 40)
        cancelled.action_cancel()
        run = self._send()
        self.assertEqual(run.line_ids.order_id, waiting)
        self.assertFalse(self._mails(no_signature | signed | confirmed | cancelled))


class TestFilters(SignatureCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.old = cls._quotation(cls.deco, 70)
        cls.mid = cls._quotation(cls.azure, 50, sale_order_template_id=cls.purchase_contract.id)
        cls.mid.action_quotation_sent()
        cls.new = cls._quotation(cls.contact, 40)

    def _selected(self, **vals):
        """The quotations the preview would send, checking the others' reason."""
        lines = self._preview(**vals)
        for line in lines.values():
            if not line.will_send:
                self.assertEqual(line.reason, "outside the filters")
        return {order for order, line in lines.items() if line.will_send}

    def test_each_filter_and_condition(self):
        cases = [
            ({}, {self.old, self.mid, self.new}),
            ({"date_from": days_ago(60), "date_to": days_ago(45)}, {self.mid}),
            ({"date_from": days_ago(50)}, {self.mid, self.new}),
            ({"date_to": days_ago(50)}, {self.old, self.mid}),
            ({"template_ids": self.purchase_contract.ids}, {self.mid}),
            ({"category_ids": self.tag.ids}, {self.old, self.new}),
            ({"partner_ids": self.deco.ids}, {self.old, self.new}),
            ({"partner_ids": self.contact.ids}, {self.new}),
            ({"condition": "draft"}, {self.old, self.new}),
            ({"condition": "sent"}, {self.mid}),
            ({"condition": "any"}, {self.old, self.mid, self.new}),
            ({"condition": "draft", "partner_ids": self.azure.ids}, set()),
        ]
        for vals, expected in cases:
            with self.subTest(**{key: str(value) for key, value in vals.items()}):
                self.assertEqual(self._selected(**vals), expected)

    def test_preview_lists_sent_and_skipped_with_why(self):
        lines = self._preview(condition="sent")
        self.assertEqual(
            {
                order: (
                    line.partner_id,
                    line.email,
                    line.age,
                    line.level,
                    line.new_level,
                    line.will_send,
                    line.reason or "",
                )
                for order, line in lines.items()
            },
            {
                self.old: (self.deco, "deco@example.com", 70, 0, 0, False, "outside the filters"),
                self.mid: (self.azure, "azure@example.com", 50, 0, 1, True, ""),
                self.new: (
                    self.contact,
                    "deco@example.com",
                    40,
                    0,
                    0,
                    False,
                    "outside the filters",
                ),
            },
        )
        self.assertFalse(self._mails(self.old | self.mid | self.new), "a preview sends nothing")
        self.assertFalse(self._runs(), "a preview records nothing")

    def test_quotations_chosen_in_the_list(self):
        wizard = (
            self.env["relance.signature"]
            .with_context(active_model="sale.order", active_ids=self.old.ids)
            .create({"company_id": self.company.id, "date": AS_OF, "attach_pdf": False})
        )
        self.assertEqual(wizard.order_ids, self.old)
        with self._jobs():
            run = self._run_of(wizard.action_send())
        self.assertEqual(run.line_ids.order_id, self.old)
        self.assertEqual(self._mails(self.old | self.mid | self.new).res_id, self.old.id)

    def test_wrong_input_is_refused(self):
        signed = self._quotation(self.deco, 40)
        signed.signature = SIGNATURE_PNG
        confirmed = self._quotation(self.deco, 40)
        confirmed.action_confirm()
        other_company = self.env["res.company"].create({"name": "Autre SA"})
        stranger = self._partner("Ailleurs SA", company_id=other_company.id)
        cases = {
            "inverted dates": {"date_from": days_ago(10), "date_to": days_ago(20)},
            "signed": {"order_ids": signed.ids},
            "confirmed": {"order_ids": confirmed.ids},
            "no report": {"attach_pdf": True, "report_id": False},
            "not a quotation report": {
                "attach_pdf": True,
                "report_id": self.env.ref("account.account_invoices").id,
            },
            "other company": {"partner_ids": stranger.ids},
        }
        for name, vals in cases.items():
            with self.subTest(name), self.assertRaises(UserError):
                self._wizard(**vals).action_preview()
        self.assertFalse(self._runs())


class TestMail(SignatureCase):
    def test_mail_is_queued_and_posted_on_the_chatter(self):
        order = self._quotation(self.deco, 40)
        run = self._send()
        mail = self._mails(order)
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.state, "outgoing", "through the mail queue")
        self.assertEqual(mail.recipient_ids, self.deco)
        message = mail.mail_message_id
        self.assertEqual(message.message_type, "comment")
        self.assertEqual(message.subtype_id, self.env.ref("mail.mt_comment"))
        self.assertIn(message, order.message_ids)
        self.assertEqual(message.subject, f"Reminder: {order.name} to sign")
        text = " ".join(html2plaintext(message.body).replace("*", "").split())
        self.assertIn("Dear Sir or Madam,", text, "Deco Addict is a company")
        self.assertIn(f'Reminder 1: please sign your quotation "{order.name}"', text)
        self.assertIn("send it back to us by email or by post.", text)
        self.assertIn(f"/my/orders/{order.id}?access_token={order.access_token}", message.body)
        line = self._line(run, order)
        self.assertEqual((line.mail_id, line.message_id, line.channel), (mail, message, "email"))
        self.assertEqual(order.state, "draft", "a reminder leaves the quotation's state alone")

    def test_a_mixed_batch_sends_each_its_way(self):
        """The batch sends at once the mails to customers; a recipient reading
        Odoo's inbox (an employee buying from us) gets the message there, as
        `message_post` gives it, and no mail."""
        employee = new_test_user(
            self.env,
            login="relance_signature_inbox",
            groups="base.group_user",
            notification_type="inbox",
            email="employee@atys.example.com",
        )
        by_mail = self._quotation(self.deco, 40)
        in_inbox = self._quotation(employee.partner_id, 40)
        run = self._send()
        self.assertEqual(
            self._outcomes(run, by_mail | in_inbox),
            {by_mail: ("queued", 1, ""), in_inbox: ("sent", 1, "")},
        )
        self.assertEqual(len(self._mails(by_mail)), 1)
        self.assertFalse(self._mails(in_inbox))
        message = self._line(run, in_inbox).message_id
        self.assertEqual(
            message.notification_ids.mapped("notification_type"), ["inbox"], "in the inbox"
        )
        mail_message = self._line(run, by_mail).message_id
        self.assertEqual(mail_message.notification_ids.res_partner_id, self.deco)
        self.assertEqual(mail_message.notification_ids.notification_status, "ready")
        self.assertIn("Accept &amp; Sign Quotation", self._mails(by_mail).body_html)

    def test_the_batch_writes_what_message_post_writes(self):
        """The batch's adapter against `message_post` (through the template, as a
        reminder sent one by one is): for quotations alike, the same message,
        mail, notification and mail body, but for each quotation's own name, id
        and tokens. Of the three sent in a batch, two get the layout rendered
        once (the stencil), the other the layout Odoo renders, to check it."""
        batched = self.env["sale.order"].concat(
            *(self._quotation(self.deco, 40) for _n in range(3))
        )
        posted = self._quotation(self.deco, 40)
        Service = self.env["relance.signature.service"]
        proposal = {
            candidate.order_id: (candidate, decision)
            for candidate, decision in Service._propose(
                self.company, {"date": AS_OF, "order_ids": batched | posted}
            )
        }
        template = Service._template()
        SaleOrder = self.registry["sale.order"]
        layout = SaleOrder._notify_by_email_render_layout
        with patch.object(
            SaleOrder, "_notify_by_email_render_layout", autospec=True, side_effect=layout
        ) as rendered:
            Service.with_context(relance_batch_send=True)._send_all(
                [proposal[order.id] for order in batched], AS_OF, template, False
            )
        self.assertEqual(rendered.call_count, 2, "the stencil, then the quotation it is checked on")
        candidate, decision = proposal[posted.id]
        self.assertEqual(
            Service._send_one(candidate, decision.level, AS_OF, template, False).keys(),
            {"message_id"},
            "posted without failure",
        )
        self.env.flush_all()
        self.maxDiff = None
        expected = self._written(posted)
        for order in batched:
            with self.subTest(order=order.name):
                self.assertEqual(self._written(order), expected)

    def test_a_layout_showing_more_is_rendered_for_each_mail(self):
        """A mail layout customised to show more of the quotation than its own
        texts: the stencil's check finds a mail different from Odoo's, and each
        mail is rendered by Odoo."""
        self.env["ir.ui.view"].create(
            {
                "name": "layout with the customer's reference",
                "type": "qweb",
                "inherit_id": self.env.ref(service_module.LAYOUT).id,
                "arch": '<xpath expr="//body" position="inside">'
                '<p class="reference" t-out="record.client_order_ref"/></xpath>',
            }
        )
        orders = self.env["sale.order"].concat(
            *(
                self._quotation(customer, 40, client_order_ref=f"BC-{n}")
                for n, customer in enumerate(self._customers(3))
            )
        )
        self._send()
        for n, order in enumerate(orders):
            with self.subTest(order=order.name):
                body = self._mails(order).body_html
                self.assertEqual(re.findall(r"BC-\d", body), [f"BC-{n}"])

    def _written(self, order):
        """What a reminder wrote for ``order``, its own name, id and tokens replaced."""
        mail = self._mails(order)
        message = mail.mail_message_id
        self.assertEqual(len(mail), 1)

        def plain(text):
            text = str(text or "").replace(order.name, "NAME")
            text = re.sub(rf"(?<!#)\b{order.id}\b", "ID", text)
            text = re.sub(r"<[\d.]+-openerp-", "<X-openerp-", text)  # Message-Id
            return re.sub(r"(access_token|hash|token)=[\w-]+", r"\1=X", text)

        message_fields = [
            "message_type", "subtype_id", "author_id", "email_from", "reply_to", "subject",
            "body", "partner_ids", "record_alias_domain_id", "record_company_id",
            "email_layout_xmlid", "email_add_signature", "mail_server_id", "model",
            "attachment_ids", "record_name",
        ]  # fmt: skip
        mail_fields = [
            "state", "recipient_ids", "email_from", "reply_to", "subject", "auto_delete",
            "body_html", "email_to", "email_cc", "mail_server_id", "is_notification",
            "model", "references", "headers",
        ]  # fmt: skip
        return {
            "message": {name: plain(message[name]) for name in message_fields},
            "mail": {name: plain(mail[name]) for name in mail_fields},
            "notifications": [
                (
                    n.res_partner_id,
                    n.notification_type,
                    n.notification_status,
                    n.is_read,
                    n.author_id,
                )
                for n in message.notification_ids
            ],
            "followers": order.message_partner_ids,
            "level": (order.relance_sign_level, order.relance_sign_date),
        }

    def test_the_pdf_is_attached_when_asked(self):
        attached = self._quotation(self.deco, 40)
        self._send(attach_pdf=True, order_ids=attached.ids)
        pro_forma = self._quotation(self.deco, 40)
        self._send(
            attach_pdf=True,
            report_id=self.env.ref("sale.action_report_pro_forma_invoice").id,
            order_ids=pro_forma.ids,
        )
        bare = self._quotation(self.deco, 40)
        self._send(attach_pdf=False, order_ids=bare.ids)
        self.assertEqual(
            self._mails(attached).attachment_ids.mapped("name"),
            [f"Quotation - {attached.name}.pdf"],
        )
        self.assertEqual(
            self._mails(pro_forma).attachment_ids.mapped("name"),
            [f"PRO-FORMA - {pro_forma.name}.pdf"],
        )
        self.assertFalse(self._mails(bare).attachment_ids)
        attachment = self._mails(attached).attachment_ids
        self.assertEqual((attachment.res_model, attachment.res_id), ("sale.order", attached.id))
        self.assertEqual(self._mails(attached).mail_message_id.attachment_ids, attachment)

    def test_the_attached_pdf_is_a_real_pdf(self):
        own_registry_lock(self)  # wkhtmltopdf fetches the quotation report's CSS from Odoo
        order = self._quotation(self.deco, 40)
        with self._jobs():
            self._wizard(attach_pdf=True).with_context(force_report_rendering=True).action_send()
        self.assertEqual(self._mails(order).attachment_ids.raw[:5], b"%PDF-")

    def test_the_default_mail_in_french_reads_like_the_seed(self):
        """Atys: « Cher(e) …, Relance 1 : Merci de bien vouloir signer votre
        CONTRAT D'ACHAT "CAS1000028" du 09/02/2022 et nous la renvoyer par mail
        ou par courrier. Bien cordialement. Votre service client. » — but a
        quotation (devis) is masculine, a company is "Madame, Monsieur", the
        subject does not number the reminder, and the date is the creation's,
        the day its age counts from."""
        self._load_french()
        client = self.env["res.partner"].create(
            {"name": "Jeanne Martin", "email": "jeanne@example.com", "lang": "fr_FR"}
        )
        order = self._quotation(
            client,
            40,
            name="CAS1000028",
            date_order=datetime(2022, 2, 9, 10, 0),
            sale_order_template_id=self.purchase_contract.id,
        )
        firm = self._partner("Cabinet Lefèvre Avocats", email="cabinet@example.com", lang="fr_FR")
        devis = self._quotation(firm, 40, name="S00052")
        run = self._send()
        self.assertEqual(self._outcomes(run, order), {order: ("queued", 1, "")})
        mail = self._mails(order)
        text = " ".join(html2plaintext(mail.body_html).replace("*", "").split())
        created = days_ago(40).strftime("%d/%m/%Y")
        self.assertIn(
            "Cher(e) Jeanne Martin, Relance 1 : Merci de bien vouloir signer votre "
            f'CONTRAT D\'ACHAT "CAS1000028" du {created} et nous le renvoyer par mail '
            "ou par courrier.",
            text,
        )
        self.assertIn("Vous pouvez aussi le signer en ligne", text)
        self.assertIn("Bien cordialement. Votre service client.", text)
        self.assertIn("signer mon devis", text)
        self.assertEqual(mail.subject, "Relance : CAS1000028 à signer")
        firm_text = " ".join(html2plaintext(self._mails(devis).body_html).split())
        self.assertIn("Madame, Monsieur,", firm_text)
        self.assertNotIn("Cher(e)", firm_text)
        self.assertIn(f'votre devis "S00052" du {created} et nous le renvoyer', firm_text)

    def _load_french(self):
        """French and this module's French, whatever the database was installed
        with; the signature strings may still wait in fr_signature.po.part for
        the merge into fr.po."""
        load_french(self.env)
        part = Path(__file__).resolve().parent.parent / "i18n" / "fr_signature.po.part"
        if part.exists():
            importer = TranslationImporter(self.env.cr, verbose=False)
            with part.open("rb") as po:
                importer.load(po, "po", "fr_FR")
            importer.save(overwrite=True)
        self.template.invalidate_recordset()


class TestScheduledAction(SignatureCase):
    def test_the_scheduled_action_reminds(self):
        """The cron itself, run as the scheduler runs it, on today's date."""
        order = self._quotation(self.contact, 40)
        cron = self.env.ref("relance_atys.ir_cron_relance_signature")
        self.assertTrue(cron.active)
        with self._jobs():  # the jobs it enqueues, run here
            cron.method_direct_trigger()
        run = self._runs()
        self.assertEqual(run.state, "done")
        self.assertGreater(run.date, AS_OF, "today's run, not the tests' date")
        # queued until the mail queue sends it (then "sent": test_queued_until_the_mail_leaves)
        self.assertEqual(self._outcomes(run, order)[order][0], "queued")
        self.assertTrue(self._mails(order), "the reminder is queued")

    def test_runs_every_company_with_the_default_settings(self):
        order = self._quotation(self.contact, 40)
        self._cron()
        run = self._runs()
        self.assertEqual((run.state, run.date), ("done", AS_OF))
        self.assertEqual(self._outcomes(run, order), {order: ("queued", 1, "")})
        self.assertEqual(
            self._mails(order).attachment_ids.mapped("name"),
            [f"Quotation - {order.name}.pdf"],
            "the wizard's defaults: the quotation attached",
        )

    def test_the_report_is_written_in_the_company_language(self):
        """The scheduler's user reads English; a French company's report is French."""
        load_french(self.env)
        self.company.partner_id.lang = "fr_FR"
        young = self._quotation(self.deco, 10)
        self._cron(lang="en_US")
        self.assertEqual(
            self._outcomes(self._runs(), young), {young: ("skipped", 0, "pas encore à relancer")}
        )

    def test_batches_of_even_sizes_for_the_job_workers(self):
        """As many batches as a multiple of the job workers, of even sizes, none
        over BATCH_SIZE; a small run is one batch; a recipient's in one batch."""
        Service = self.env["relance.signature.service"]
        for count, sizes in (
            (60, [60]),  # fewer than 2 x MIN_BATCH: one job
            (250, [125, 125]),  # one batch would do: two, for the two workers
            (2000, [1000, 1000]),
            (2001, [501, 501, 501, 498]),
            (31_600, [988] * 31 + [972]),
        ):
            with self.subTest(count=count):
                planned = [(line_id, line_id) for line_id in range(count)]
                self.assertEqual([len(batch) for batch in Service._batches(planned)], sizes)
        planned = [(7, 1), (7, 2), (7, 3), (8, 4)]
        with patch.object(service_module, "BATCH_SIZE", 1):
            self.assertEqual(Service._batches(planned), [[1, 2, 3], [4]], "customer 7 whole")

    def test_one_job_per_batch_and_progress(self):
        customers = self._customers(5)
        orders = [self._quotation(customers[age], 40 + age) for age in range(5)]
        self._quotation(self.deco, 10)  # not due: recorded, not counted as work
        Service = self.env["relance.signature.service"]
        with patch.object(service_module, "BATCH_SIZE", 2), trap_jobs() as trap:
            self.env["sale.order"]._cron_relance_signature(as_of=AS_OF)
            run = self._runs()
            self.assertEqual(
                (run.state, run.progress_total, run.line_ids),
                ("queued", 0, run.line_ids.browse()),
                "recorded at once, no quotation read in the click",
            )
            gathering = self._gather_all(trap)
            self.assertEqual([job.args[0] for job in gathering].count(run), 1)
            self.assertEqual(
                (run.state, run.progress_total, run.progress_done, run.skipped_count),
                ("running", 5, 0, 1),
                "gathered by its job, nothing sent yet",
            )
            self.assertFalse(self._mails(self.env["sale.order"].concat(*orders)))
            trap.assert_jobs_count(3, only=Service._send_batch)
            for job in trap.enqueued_jobs:
                self.assertEqual(job.channel, "root.relance.signature")
            progress = []
            for job in trap.enqueued_jobs:
                job.perform()
                progress.append((run.progress_done, run.state, run.progress_text))
        self.assertEqual(
            progress,
            [
                (2, "running", "2 / 5 quotations"),
                (4, "running", "4 / 5 quotations"),
                (5, "done", "5 / 5 quotations"),
            ],
        )
        self.assertEqual((run.done_count, run.skipped_count), (5, 1))
        self.assertEqual(len(self._mails(self.env["sale.order"].concat(*orders))), 5)
        self.env.cr.precommit.run()  # the bus's messages are written at commit
        told = self.env["bus.bus"].search(
            [("message", "like", "simple_notification"), ("message", "like", run.name)]
        )
        self.assertEqual(len(told), 1, "the user who started it is told once, at the end")

    def test_small_mail_tables_analyzed_after_the_first_batch(self):
        """PostgreSQL plans the mails' foreign key checks once: on a near-empty
        mail queue, a scan per row unless its statistics are refreshed."""
        for age, customer in enumerate(self._customers(5)):
            self._quotation(customer, 40 + age)
        Signature = self.registry["relance.signature.service"]
        Service = self.registry["relance.service"]
        with (
            patch.object(service_module, "BATCH_SIZE", 2),
            patch.object(Signature, "_small_tables", return_value=("mail.mail",)),
            patch.object(
                Service,
                "_refresh_statistics",
                autospec=True,
                side_effect=Service._refresh_statistics,
            ) as analyze,
        ):
            self._send()
        self.assertEqual(analyze.call_count, 3, "after each batch, while they are small")
        self.assertEqual(analyze.call_args.args[1], ("mail.mail",))
        self.assertLessEqual(
            set(self.env["relance.signature.service"]._small_tables()),
            {"mail.mail", "mail.message", "mail.notification"},
        )

    def test_a_batch_run_again_sends_nobody_twice(self):
        """A worker killed in a batch: its transaction rolled back, queue_job runs
        the job again; a job run twice (or after its batch committed) finds its
        lines done."""
        orders = self.env["sale.order"].concat(
            *(
                self._quotation(customer, 100 + age, level=2, last=days_ago(30))
                for age, customer in enumerate(self._customers(5))
            )
        )
        Signature = self.registry["relance.signature.service"]
        lock = Signature._lock

        def killed(model, company, order_ids):
            lock(model, company, order_ids)
            raise Killed

        with patch.object(service_module, "BATCH_SIZE", 2), trap_jobs() as trap:
            self.env["sale.order"]._cron_relance_signature(as_of=AS_OF)
            for gather in self._gather_all(trap):
                gather.perform()  # run again (its worker killed after its commit): nothing
            first, second, third = trap.enqueued_jobs
            first.perform()
            with (
                patch.object(Signature, "_lock", autospec=True, side_effect=killed),
                self.assertRaises(Killed),
                self.env.cr.savepoint(),  # what the killed worker's transaction wrote is lost
            ):
                second.perform()
            run = self._runs()
            self.assertEqual((run.state, run.progress_done), ("running", 2))
            self.assertEqual(len(self._mails(orders)), 2)
            for job in (second, first, third, second):  # retried, and once more each
                job.perform()
        self.assertEqual((run.state, run.progress_done), ("done", 5))
        self.assertEqual(self._outcomes(run, orders), dict.fromkeys(orders, ("queued", 3, "")))
        for order in orders:
            self.assertEqual(len(self._mails(order)), 1, "never sent twice")
            self.assertEqual(order.relance_sign_level, 3)

    def test_one_failing_quotation_does_not_stop_the_others(self):
        good = self._quotation(self.deco, 40, client_order_ref="BC-2026-001")
        bad = self._quotation(self.deco, 41)
        self.template.body_html = '<p>Ref. <t t-out="object.client_order_ref.upper()"/></p>'
        self._cron()
        run = self._runs()
        self.assertEqual((run.state, run.done_count, run.failed_count), ("partial", 1, 1))
        failed = self._line(run, bad)
        self.assertEqual(
            (failed.outcome, failed.level_after, failed.channel), ("failed", 0, "none")
        )
        self.assertIn("upper", failed.reason)
        self.assertEqual((bad.relance_sign_level, bad.relance_sign_date), (0, False))
        self.assertFalse(self._mails(bad))
        self.assertEqual((good.relance_sign_level, len(self._mails(good))), (1, 1))


class TestReport(SignatureCase):
    def test_each_run_reports_every_quotation(self):
        sent = self._quotation(self.deco, 40)
        young = self._quotation(self.deco, 10)
        outside = self._quotation(self.azure, 40)
        wizard = self._wizard(partner_ids=self.deco.ids)
        with self._jobs():
            action = wizard.action_send()
        run = self._run_of(action)
        self.assertEqual(action["params"]["links"][0]["label"], run.name, "a link to the run")
        form = action["params"]["next"]
        self.assertEqual(
            (form["res_model"], form["view_mode"], form["target"]),
            ("relance.run", "form", "current"),
        )
        self.assertEqual(
            (run.run_type, run.state, run.date, run.user_id),
            ("signature", "done", AS_OF, self.env.user),
        )
        self.assertEqual((run.done_count, run.skipped_count, run.failed_count), (1, 2, 0))
        self.assertIn("Deco Addict", run.parameters)
        self.assertEqual(
            self._outcomes(run, sent | young | outside),
            {
                sent: ("queued", 1, ""),
                young: ("skipped", 0, "not due yet"),
                outside: ("skipped", 0, "outside the filters"),
            },
        )
        line = self._line(run, sent)
        self.assertEqual(
            (line.partner_id, line.level_before, line.date_before, line.date_after),
            (self.deco, 0, False, AS_OF),
        )
        self.assertEqual(sent.relance_sign_line_ids, line, "the quotation keeps its history")

    def test_a_dunning_user_runs_it(self):
        user = new_test_user(
            self.env,
            login="relance_signature_user",
            groups="sales_team.group_sale_salesman_all_leads,relance_atys.group_relance_user",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
            email="commercial@atys.example.com",
        )
        order = self._quotation(self.deco, 40)
        wizard = (
            self.env["relance.signature"]
            .with_user(user)
            .create({"company_id": self.company.id, "date": AS_OF, "attach_pdf": True})
        )
        wizard.action_preview()
        with self._jobs():
            run = self._run_of(wizard.action_send())
        self.assertEqual(
            (run.user_id, self._outcomes(run, order)), (user, {order: ("queued", 1, "")})
        )
        self.assertEqual(self._mails(order).mail_message_id.create_uid, user)


@tagged("post_install", "-at_install")
class TestClick(SignatureCase):
    """The click records the run and queues its gathering: nothing that grows
    with the quotations, and no second run on quotations one still holds."""

    def test_the_click_reads_no_quotation(self):
        Service = self.env["relance.signature.service"]
        queries, created = [], 0
        for count in (1, 2, 40):  # the first click warms what a user's first click reads
            for age in range(created, count):
                self._quotation(self.azure if age % 2 else self.deco, 40 + age)
            created = count
            wizard = self._wizard()
            self.env.flush_all()
            with trap_jobs() as trap:
                before = self.env.cr.sql_log_count
                run = self._run_of(wizard.action_send())
                self.env.flush_all()
                queries.append(self.env.cr.sql_log_count - before)
                self.assertEqual((run.state, run.line_ids), ("queued", run.line_ids.browse()))
                trap.assert_jobs_count(1, only=Service._gather)
                while trap.enqueued_jobs:
                    trap.perform_enqueued_jobs()
            self.assertEqual(run.state, "done")
            self.assertEqual(len(run.line_ids), count)
        self.assertEqual(queries[1], queries[2], "the same queries at 2 and 40 quotations")

    def test_refused_while_another_run_holds_the_quotations(self):
        held = self._quotation(self.deco, 40)
        other = self._quotation(self.azure, 40, level=1, last=days_ago(5))  # too recent
        with trap_jobs() as trap:
            run = self._run_of(self._wizard().action_send())
            for step in ("queued, not gathered yet", "gathered, its batch not sent"):
                with self.subTest(step), self.assertRaisesRegex(UserError, re.escape(run.name)):
                    self._wizard().action_send()
                if trap.enqueued_jobs[0].method_name == "_gather":
                    trap.enqueued_jobs.pop(0).perform()
            self.assertEqual(self._line(run, held).outcome, "planned")
            # a run on quotations the other does not hold goes
            alone = self._run_of(self._wizard(order_ids=other.ids).action_send())
            self.assertEqual(alone.state, "queued")
            while trap.enqueued_jobs:
                trap.perform_enqueued_jobs()
        self.assertEqual(self._outcomes(run, held), {held: ("queued", 1, "")})
        self.assertEqual(self._runs()[-1:].state, "done")
        self._send()  # once both are through, a new run goes (nothing due: done)
        self.assertEqual(self._runs()[-1:].state, "done")

    def test_the_scheduled_run_waits_for_the_previous_one(self):
        """The weekly run while the last one still works: left for next time, with
        a warning, instead of failing the scheduled action."""
        order = self._quotation(self.deco, 40)
        with trap_jobs():
            run = self._run_of(self._wizard().action_send())
            with self.assertLogs(service_module.__name__, "WARNING") as logs:
                self.env["sale.order"]._cron_relance_signature(as_of=AS_OF)
        self.assertIn(run.name, logs.output[0])
        self.assertEqual(self._runs(), run, "no second run of this company")
        self.assertFalse(self._mails(order))

    def test_a_gathering_given_up_fails_the_run(self):
        """queue_job gives up the gathering: the run failed, its user told, and
        it no longer holds the quotations."""
        self._quotation(self.deco, 40)
        run = self._run_of(self._wizard().action_send())  # its job stored in queue_job
        job = self.env["queue.job"].search([("method_name", "=", "_gather")])
        self.assertEqual(job.args[0], run)
        job.write({"state": "failed", "exc_info": "boom"})
        self.assertEqual(run.state, "failed")
        self.assertEqual(self._send().state, "done", "a new run goes")


@tagged("post_install", "-at_install")
class TestQueryCount(SignatureCase):
    def _assert_gathering_queries(self, expected, count, **filters):
        options = self._wizard(**filters)._options()
        gather = self.env["relance.signature.service"]._propose
        gather(self.company, options)  # warm the company's thresholds and the user's tz
        with self.assertQueryCount(expected):
            proposal = gather(self.company, options)
        self.assertEqual(len(proposal), count)

    def test_gathering_does_not_grow_with_the_quotations(self):
        filters = {
            "date_from": days_ago(400),
            "template_ids": self.purchase_contract.ids,
            "category_ids": self.tag.ids,
            "partner_ids": self.deco.ids,
            "condition": "draft",
        }
        created = 0
        for count in (2, 30):
            for age in range(created, count):
                self._quotation(self.contact if age % 2 else self.azure, 30 + age)
            created = count
            with self.subTest(count=count):
                # one query reads every quotation with its filters and partners
                self._assert_gathering_queries(1, count)
                # + child_of walks the customer's tree: Deco Addict, then Jean Dupont
                self._assert_gathering_queries(3, count, **filters)

    def _assert_sending_queries(self, expected, orders):
        wizard = self._wizard()
        with trap_jobs() as trap:
            run = self._run_of(wizard.action_send())
            trap.enqueued_jobs.pop().perform()  # the gathering
            self.assertEqual(run.progress_total, len(orders))
            trap.assert_jobs_count(1)
            self.env.invalidate_all()  # as in the job's transaction: nothing cached
            with self.assertQueryCount(expected):
                trap.perform_enqueued_jobs()
        self.assertEqual(run.done_count, len(orders))
        self.assertEqual(len(self._mails(orders)), len(orders))

    def test_sending_does_not_grow_with_the_quotations(self):
        """Levels, messages, mails, notifications and lines: a fixed number of
        queries per batch, whatever the number of quotations and customers."""
        self._quotation(self.deco, 45)  # warms what the first run reads once (views, rules)
        self._send()
        for count in (3, 60):
            customers = [
                self._partner(f"Client {count}-{n}", email=f"c{count}-{n}@example.com")
                for n in range(count // 3)
            ]
            orders = self.env["sale.order"].concat(
                *(self._quotation(customers[n % len(customers)], 40 + n) for n in range(count))
            )
            with self.subTest(count=count):
                self._assert_sending_queries(59, orders)


@tagged("post_install", "-at_install")
class TestSignatureDelivery(SignatureCase):
    """A reminder is "queued" until its mail leaves, then "sent" (or "failed")."""

    def _deliver(self, mails, refuse=()):
        with mail_gateway(self.env, refuse):
            mails.send()

    def test_queued_until_the_mail_leaves(self):
        order = self._quotation(self.deco, 40)
        run = self._send()
        line = self._line(run, order)
        self.assertEqual((line.outcome, line.mail_id.state), ("queued", "outgoing"))
        self._deliver(line.mail_id)
        self.assertEqual(line.outcome, "sent")

    def test_failed_mail_gives_the_quotation_its_level_back(self):
        order = self._quotation(self.deco, 70, level=1, last=days_ago(40))
        kept = self._quotation(self.azure, 40)
        run = self._send()
        self.assertEqual(order.relance_sign_level, 2)
        self._deliver(run.line_ids.mail_id, refuse=["deco@example.com"])
        line = self._line(run, order)
        self.assertEqual(line.outcome, "failed")
        self.assertIn("mailbox unavailable", line.reason)
        self.assertEqual((order.relance_sign_level, order.relance_sign_date), (1, days_ago(40)))
        self.assertEqual((self._line(run, kept).outcome, kept.relance_sign_level), ("sent", 1))

"""Email dunning end to end: real invoice PDFs, Odoo's mail queue, an SMTP server on loopback."""

from email import message_from_bytes, policy
from unittest import mock

from aiosmtpd.controller import Controller

from odoo.modules import module
from odoo.tests import tagged

from .common import TODAY, RelanceCommon, jobs_performed, own_registry_lock


class Inbox:
    """aiosmtpd handler keeping what the server receives: (envelope recipients, message)."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((sorted(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class LoopbackSmtp(Controller):
    """aiosmtpd on 127.0.0.1, on the port the system gives it when it binds: no
    window between choosing a free port and binding it for another process to take it."""

    def __init__(self, handler):
        super().__init__(handler, hostname="127.0.0.1", port=0)

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]  # bound: now tell the port
        super()._trigger_server()


@tagged("post_install", "-at_install")
class TestSmtpEndToEnd(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.martin = cls._customer("Boulangerie Martin", ref="C0001", lang="fr_FR")
        cls.martin_accounts = cls._invoice_contact(
            cls.martin, "Service comptable Martin", "compta@boulangerie-martin.example.com"
        )
        cls.brown = cls._customer(
            "Brown & Partners LLP", ref="C0018", email="accounts@brown-partners.example.com"
        )
        cls.martin_invoices = cls._invoice(cls.martin, 480.0, 20) | cls._invoice(
            cls.martin, 95.5, 40
        )
        cls.brown_invoices = cls._invoice(cls.brown, 1250.0, 5)
        cls.mail_server = cls.env["ir.mail_server"].create(
            {
                "name": "Loopback SMTP",
                "sequence": 1,
                "smtp_host": "127.0.0.1",
                "smtp_port": 25,  # the port the server binds, set when it starts
                "smtp_encryption": "none",
            }
        )

    def setUp(self):
        super().setUp()
        own_registry_lock(self)  # wkhtmltopdf fetches the invoice report's CSS from Odoo
        # Odoo's test runner skips SMTP (pytest-odoo does not): deliver for real either way
        patcher = mock.patch.object(module, "current_test", None)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.inbox = Inbox()
        self._start_smtp()
        self.addCleanup(lambda: self.smtp.stop(no_assert=True))

    def _start_smtp(self):
        self.smtp = LoopbackSmtp(self.inbox)
        self.smtp.start()
        self.mail_server.smtp_port = self.smtp.port

    def _process_queue(self, run):
        self.env["mail.mail"].process_email_queue(ids=run.line_ids.mail_id.ids)

    def _attachments(self, message):
        return {
            part.get_filename(): (part.get_content_type(), part.get_content())
            for part in message.iter_attachments()
        }

    def _levels(self, moves):
        return [(move.relance_level, move.relance_date) for move in moves]

    def test_dunning_mails_reach_the_smtp_server(self):
        wizard = self.env["relance.edition"].create({"date": TODAY})
        wizard.action_review()
        wizard.action_switch_mode()
        # the jobs print the invoices for real too (tests render reports as HTML otherwise)
        mailer = type(self.env["relance.mailer"])
        keys = (*mailer._job_prepare_context_before_enqueue_keys(self.env["relance.mailer"]),)
        with (
            mock.patch.object(
                mailer,
                "_job_prepare_context_before_enqueue_keys",
                return_value=(*keys, "force_report_rendering"),
            ),
            jobs_performed(),
        ):
            action = wizard.with_context(force_report_rendering=True).action_send_emails()
        run = self.env["relance.run"].browse(action["params"]["next"]["res_id"])
        self.assertEqual(self.inbox.received, [], "queued, not sent while recording")

        self._process_queue(run)

        self.assertEqual(len(self.inbox.received), 2, "one mail per customer")
        received = {tuple(rcpt): message for rcpt, message in self.inbox.received}
        martin = received[("compta@boulangerie-martin.example.com",)]
        brown = received[("accounts@brown-partners.example.com",)]
        self.assertEqual(
            martin["To"].addresses[0].addr_spec, "compta@boulangerie-martin.example.com"
        )
        self.assertEqual(martin["From"].addresses[0].addr_spec, self.env.user.email)
        self.assertEqual(martin["Subject"], "Mise en demeure - factures échues")
        self.assertEqual(brown["Subject"], "Premier rappel - factures échues")
        for message, invoices in ((martin, self.martin_invoices), (brown, self.brown_invoices)):
            body = message.get_body(("html",)).get_content()
            attachments = self._attachments(message)
            self.assertEqual(
                set(attachments), {move._get_invoice_report_filename() for move in invoices}
            )
            for move in invoices:
                self.assertIn(move.name, body)
                self.assertIn(f"/my/invoices/{move.id}?access_token=", body)
                content_type, pdf = attachments[move._get_invoice_report_filename()]
                self.assertEqual(content_type, "application/pdf")
                self.assertTrue(pdf.startswith(b"%PDF"), "a real PDF, printed by wkhtmltopdf")
        self.assertEqual(set(run.line_ids.mapped("outcome")), {"sent"})
        self.assertEqual(self._levels(self.martin_invoices), [(2, TODAY), (3, TODAY)])

        # the server goes down: the next reminder fails, is kept, and leaves once it is back
        self.smtp.stop()
        action = self.martin.action_relance_compose()
        composer = self.env["relance.composer"].browse(action["res_id"])
        composer.write(
            {
                "email_cc": "direction@boulangerie-martin.example.com",
                "subject": "Mise en demeure",
            }
        )
        composer.with_context(force_report_rendering=True).action_send()
        reminder = self.env["relance.run"].search([], limit=1)
        self._process_queue(reminder)

        lines = reminder.line_ids
        mail = lines.mail_id
        self.assertEqual(set(lines.mapped("outcome")), {"failed"})
        self.assertIn("refused", lines[0].reason.lower())
        self.assertEqual(mail.state, "exception", "kept in the queue's failures")
        self.assertEqual(
            self._levels(self.martin_invoices), [(2, TODAY), (3, TODAY)], "levels not raised"
        )
        self.assertEqual(len(self.inbox.received), 2)

        self._start_smtp()
        reminder.action_resend_failed()
        self._process_queue(reminder)

        self.assertEqual(len(self.inbox.received), 3)
        recipients, message = self.inbox.received[-1]
        self.assertEqual(
            recipients,
            ["compta@boulangerie-martin.example.com", "direction@boulangerie-martin.example.com"],
        )
        self.assertEqual(message["Cc"], "direction@boulangerie-martin.example.com")
        self.assertEqual(message["Subject"], "Mise en demeure")
        self.assertEqual(len(self._attachments(message)), 2)
        self.assertEqual(set(lines.mapped("outcome")), {"sent"})
        self.assertEqual([level for level, _date in self._levels(self.martin_invoices)], [3, 3])

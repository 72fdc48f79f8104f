"""Shared test data: a company with three levels, customers and open invoices."""

import contextlib
import threading
from contextlib import contextmanager
from datetime import date, timedelta
from unittest import mock

from odoo import Command
from odoo.modules.registry import Registry
from odoo.tests import tagged
from odoo.tests.common import new_test_user
from odoo.tools import mute_logger

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.addons.base.models.ir_mail_server import MailDeliveryException
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.tests.common import trap_jobs

TODAY = date(2026, 3, 31)


def own_registry_lock(test):
    """Give ``test`` a registry lock of its own, as Odoo's test mode does for HttpCase.

    Odoo's runner (odoo-bin --test-enable) holds Registry._lock while it runs the
    tests, and every thread that opens the registry waits for it: the HTTP request
    that serves wkhtmltopdf a report's CSS (a real PDF would wait forever), or a
    thread playing a second user. pytest-odoo holds no such lock."""
    patcher = mock.patch.object(Registry, "_lock", threading.RLock())
    patcher.start()
    test.addCleanup(patcher.stop)


def load_french(env):
    """French active, with this module's French, whatever languages the database
    was installed with: a test loads what it reads."""
    env["res.lang"]._activate_lang("fr_FR")
    env["ir.module.module"]._load_module_terms(["relance_atys"], ["fr_FR"], overwrite=True)


def run_jobs(jobs):
    """Perform ``jobs`` (queue_job ``Job`` objects, or a ``trap_jobs`` trap, whose
    enqueued jobs are taken) as the job runner would: by priority, a job that asks
    to be retried later (the closing job of a run whose batches are not through)
    performed again after the others."""
    if hasattr(jobs, "enqueued_jobs"):  # a trap: its jobs, taken out of it
        trap = jobs
        jobs, trap.enqueued_jobs = trap.enqueued_jobs, []
    pending = sorted(jobs, key=lambda job: job.priority)
    while pending:
        retry = []
        for job in pending:
            try:
                job.perform()
            except RetryableJobError:
                retry.append(job)
        if retry == pending:
            raise AssertionError(f"jobs retried for ever: {retry}")
        pending = retry


@contextmanager
def jobs_performed():
    """Jobs enqueued inside the block are performed when it ends, as the job
    runner would, one after the other, in this transaction."""
    with trap_jobs() as trap:
        yield trap
        while trap.enqueued_jobs:
            run_jobs(trap)


@contextmanager
def trapped_batches(module, *constants):
    """Jobs trapped (the trap), the ``constants`` of the addon's ``module`` (as
    ``models.relance_call``) set to 1: its size from which a run goes to the
    background and its batch size, so that each customer is a job of its own."""
    path = f"odoo.addons.relance_atys.{module}"
    with contextlib.ExitStack() as stack:
        for name in constants:
            stack.enter_context(mock.patch(f"{path}.{name}", 1))
        yield stack.enter_context(trap_jobs())


@contextmanager
def mail_gateway(env, refuse=()):
    """A fake SMTP server, inside the block, that refuses the mails to the
    addresses in ``refuse`` and takes the others."""
    IrMailServer = type(env["ir.mail_server"])
    send_email = IrMailServer.send_email

    def fake_send_email(server, message, *args, **kwargs):
        if any(address in message["To"] for address in refuse):
            raise MailDeliveryException("Mail Delivery Failed", "550 5.1.1 mailbox unavailable")
        return send_email(server, message, *args, **kwargs)

    with (
        mock.patch.object(
            IrMailServer, "connect", return_value=mock.Mock(from_filter=False, smtp_from=False)
        ),
        mock.patch.object(IrMailServer, "send_email", autospec=True, side_effect=fake_send_email),
        mute_logger("odoo.addons.mail.models.mail_mail"),
    ):
        yield


def perform_stored_jobs(env):
    """Perform the jobs stored in queue_job (by requests of a browser test), as the
    job runner would."""
    stored = env["queue.job"].sudo().search([("state", "=", "pending")], order="id")
    run_jobs([Job.load(env, job.uuid) for job in stored])


@tagged("post_install", "-at_install")
class RelanceCommon(AccountTestInvoicingCommon):
    """A company with levels 1 [1, 15], 2 [16, 30], 3 [31, 9999], sequential rule off."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.company.relance_rule = "bounds"
        cls.env["relance.level"].search([("company_id", "=", cls.company.id)]).unlink()
        cls.levels = cls.env["relance.level"].create(
            [
                cls._level_vals(1, "Premier rappel", 1, 15),
                cls._level_vals(2, "Deuxième relance", 16, 30),
                cls._level_vals(3, "Mise en demeure", 31, 9999),
            ]
        )
        cls.customer_tag = cls.env["res.partner.category"].create({"name": "Grands comptes"})

    @classmethod
    def _level_vals(cls, number, name, lower, upper):
        return {
            "company_id": cls.company.id,
            "number": number,
            "name": name,
            "lower_bound": lower,
            "upper_bound": upper,
            "mail_subject": f"{name} - factures échues",
            "header": f"<p>En-tête niveau {number}</p>",
            "footer": f"<p>Pied niveau {number}</p>",
        }

    @classmethod
    def _customer(cls, name, **vals):
        return cls.env["res.partner"].create(
            {
                "name": name,
                "is_company": True,
                "email": f"{name.lower().replace(' ', '.')}@example.com",
                "customer_rank": 1,
                **vals,
            }
        )

    @classmethod
    def _new_dunning_user(cls, login, role="user", **kwargs):
        """A user who invoices and duns, ``role`` "user" or "manager" of the dunning;
        ``kwargs`` as ``new_test_user`` takes them (its companies)."""
        groups = f"account.group_account_invoice,relance_atys.group_relance_{role}"
        return new_test_user(cls.env, login=login, groups=groups, **kwargs)

    @classmethod
    def _instalment_invoice(cls, partner, invoice_days, later_days):
        """A posted invoice of 1,000 to ``partner`` dated ``invoice_days`` days before
        TODAY, payable 30 % at once and 70 % ``later_days`` days later, no tax."""
        term = cls.env["account.payment.term"].create(
            {
                "name": f"30 % now, 70 % at {later_days} days",
                "line_ids": [
                    Command.create({"value": "percent", "value_amount": 30, "nb_days": 0}),
                    Command.create({"value": "percent", "value_amount": 70, "nb_days": later_days}),
                ],
            }
        )
        move = cls.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": TODAY - timedelta(days=invoice_days),
                "invoice_payment_term_id": term.id,
                "invoice_line_ids": [
                    Command.create(
                        {"name": "Prestation", "quantity": 1, "price_unit": 1000.0, "tax_ids": []}
                    )
                ],
            }
        )
        move.action_post()
        return move

    @classmethod
    def _invoice_contact(cls, customer, name, email):
        """The invoicing address of ``customer``: a contact ``name`` at ``email``."""
        return cls.env["res.partner"].create(
            {"name": name, "type": "invoice", "parent_id": customer.id, "email": email}
        )

    @classmethod
    def _invoice(cls, partner, amount, due, move_type="out_invoice", currency=None, post=True):
        """A customer invoice (or credit note) of ``amount`` due on ``due``, no tax."""
        due = due if isinstance(due, date) else TODAY - timedelta(days=due)
        move = cls.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": partner.id,
                "invoice_date": due - timedelta(days=30),
                "invoice_date_due": due,
                "currency_id": (currency or cls.company.currency_id).id,
                "invoice_line_ids": [
                    Command.create(
                        {"name": "Prestation", "quantity": 1, "price_unit": amount, "tax_ids": []}
                    )
                ],
            }
        )
        if post:
            move.action_post()
        return move

    @classmethod
    def _write_move_levels(cls, moves_levels, date):
        """Give documents ({move id: level}) a level and date on all their échéances,
        as a run does."""
        moves = cls.env["account.move"].browse(list(moves_levels))
        cls.env["relance.service"]._write_levels(
            {line.id: moves_levels[line.move_id.id] for line in moves._relance_receivable_lines()},
            date,
        )

    @classmethod
    def _pay(cls, invoice, amount):
        """Register a partial (or full) payment on ``invoice``."""
        return (
            cls.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"amount": amount, "payment_date": invoice.invoice_date})
            ._create_payments()
        )


class ComposerCase(RelanceCommon):
    """A dunning manager who writes reminders by hand to « Menuiserie Bois » (its
    mails in English), owing an invoice of 800 ten days late."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env,
            "composer.manager",
            groups="base.group_user,base.group_partner_manager,account.group_account_invoice,"
            "relance_atys.group_relance_manager",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.customer = cls._customer("Menuiserie Bois", lang="en_US")
        cls.invoice = cls._invoice(cls.customer, 800.0, 10)

    def _composer(self, partner=None, moves=None, user=None, **vals):
        """The composer of ``partner`` (the customer), ``moves`` ticked (all), opened
        by ``user`` (the manager), ``vals`` written."""
        Composer = self.env["relance.composer"].with_user(user or self.manager)
        composer = Composer.browse(
            Composer.action_open_for_partner(partner or self.customer, moves)["res_id"]
        )
        composer.write(vals)
        return composer

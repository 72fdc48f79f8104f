"""Signature reminders of quotations (Atys "Relance signature pièces", seed 000).

One service, two front doors: the wizard ``relance.signature`` and the weekly
cron both call `_relance_signature_process`. The gathering reads a company's
quotations waiting for a signature in one query, `relance_atys.signature`
decides, then each batch locks its quotations, decides again on their current
level and writes, per quotation and in one savepoint, the new level and date
with the queued mail: a run killed half-way never sends twice once resumed.
"""

import logging
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

import pytz

from odoo import Command, api, fields, models, modules, tools
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL, clean_context, split_every
from odoo.tools.safe_eval import safe_eval
from odoo.tools.safe_eval import time as safe_time

from .. import signature
from .relance_service import as_company

_logger = logging.getLogger(__name__)

BATCH_SIZE = 200
MAIL_TEMPLATE = "relance_atys.mail_template_relance_signature"
LAYOUT = "mail.mail_notification_layout_with_responsible_signature"


class Candidate(NamedTuple):
    """A quotation waiting for a signature, as the gathering reads it."""

    order_id: int
    partner_id: int
    commercial_id: int
    created: date
    level: int
    last_date: date | None
    recipient_id: int | None
    send_doc: bool
    selected: bool


class SaleOrder(models.Model):
    _inherit = "sale.order"

    relance_sign_level = fields.Integer(
        string="Signature reminders",
        default=0,
        copy=False,
        readonly=True,
        help="How many signature reminders this quotation has had.",
    )
    relance_sign_date = fields.Date(string="Last signature reminder", copy=False, readonly=True)
    relance_sign_line_ids = fields.One2many(
        "relance.run.line", "order_id", string="Signature reminder history", readonly=True
    )

    # -- gathering -----------------------------------------------------------

    @api.model
    def _relance_signature_domain(self, company):
        """Quotations of ``company`` waiting for their customer's signature."""
        return [
            ("company_id", "=", company.id),
            ("require_signature", "=", True),
            ("signature", "=", False),
            ("state", "in", ("draft", "sent")),
        ]

    @api.model
    def _relance_signature_tz(self):
        return pytz.timezone(self.env.context.get("tz") or self.env.user.tz or "UTC")

    @api.model
    def _relance_signature_day_start(self, day):
        """The UTC instant a local ``day`` starts at, to compare with create_date."""
        start = self._relance_signature_tz().localize(datetime.combine(day, time.min))
        return start.astimezone(pytz.UTC).replace(tzinfo=None)

    @api.model
    def _relance_signature_filter_domain(self, options):
        """The run's filters; quotations failing them are reported "filtered out"."""
        domain = []
        if options.get("date_from"):
            start = self._relance_signature_day_start(options["date_from"])
            domain.append(("create_date", ">=", start))
        if options.get("date_to"):
            end = self._relance_signature_day_start(options["date_to"] + timedelta(days=1))
            domain.append(("create_date", "<", end))
        if options.get("template_ids"):
            domain.append(("sale_order_template_id", "in", options["template_ids"].ids))
        if options.get("category_ids"):
            categories = options["category_ids"].ids
            domain.append(("partner_id.commercial_partner_id.category_id", "in", categories))
        if options.get("partner_ids"):
            domain.append(("partner_id", "child_of", options["partner_ids"].ids))
        if options.get("condition") in ("draft", "sent"):
            domain.append(("state", "=", options["condition"]))
        return domain

    @api.model
    def _relance_signature_candidates(self, company, options):
        """Every quotation of ``company`` waiting for a signature, in one query.

        With ``order_ids`` in the options, only those. The recipient is the
        quotation's partner when it has an email, else its commercial partner.
        """
        domain = self._relance_signature_domain(company)
        if options.get("order_ids"):
            domain = expression.AND([domain, [("id", "in", options["order_ids"].ids)]])
        query = self._search(domain, order="id")
        Partner = self.env["res.partner"]
        partner = self._relance_signature_join_partner(query, self, "sale_order", "partner_id")
        commercial = self._relance_signature_join_partner(
            query, Partner, partner, "commercial_partner_id"
        )
        filters = self._relance_signature_filter_domain(options)
        rows = self.env.execute_query(
            query.select(
                SQL.identifier("sale_order", "id"),
                SQL.identifier(partner, "id"),
                SQL.identifier(commercial, "id"),
                SQL(
                    "(%s AT TIME ZONE 'UTC' AT TIME ZONE %s)::date",
                    self._field_to_sql("sale_order", "create_date", query),
                    self._relance_signature_tz().zone,
                ),
                SQL(
                    "COALESCE(%s, 0)", self._field_to_sql("sale_order", "relance_sign_level", query)
                ),
                self._field_to_sql("sale_order", "relance_sign_date", query),
                SQL(
                    "CASE WHEN %s > '' THEN %s WHEN %s > '' THEN %s END",
                    Partner._field_to_sql(partner, "email", query),
                    SQL.identifier(partner, "id"),
                    Partner._field_to_sql(commercial, "email", query),
                    SQL.identifier(commercial, "id"),
                ),
                SQL(
                    "COALESCE(%s, FALSE)",
                    Partner._field_to_sql(commercial, "relance_send_doc", query),
                ),
                SQL("sale_order.id IN %s", self._search(filters).subselect())
                if filters
                else SQL("TRUE"),
            )
        )
        return [Candidate(*row) for row in rows]

    @api.model
    def _relance_signature_join_partner(self, query, model, alias, fname):
        """JOIN res_partner on ``alias.fname``, a field flushed before the query runs."""
        joined = query.make_alias(alias, fname)
        condition = SQL(
            "%s = %s", SQL.identifier(joined, "id"), model._field_to_sql(alias, fname, query)
        )
        query.add_join("JOIN", joined, "res_partner", condition)
        return joined

    # -- deciding ------------------------------------------------------------

    @api.model
    def _relance_signature_thresholds(self, company):
        return signature.Thresholds(
            first=company.relance_sign_first_days,
            second=company.relance_sign_second_days,
            repeat=company.relance_sign_repeat_days,
            min_interval=company.relance_sign_min_interval,
        )

    @api.model
    def _relance_signature_decision(self, candidate, as_of, thresholds):
        reason = signature.screen(
            candidate.selected, bool(candidate.recipient_id), candidate.send_doc
        )
        if reason:
            return signature.Decision(reason=reason)
        return signature.decide(
            candidate.created, candidate.level, candidate.last_date, as_of, thresholds
        )

    @api.model
    def _relance_signature_proposal(self, company, options):
        """What a run with ``options`` would do: [(candidate, decision)]."""
        thresholds = self._relance_signature_thresholds(company)
        return [
            (candidate, self._relance_signature_decision(candidate, options["date"], thresholds))
            for candidate in self._relance_signature_candidates(company, options)
        ]

    @api.model
    def _relance_signature_reasons(self):
        return {
            signature.R_FILTERED: self.env._("outside the filters"),
            signature.R_NO_EMAIL: self.env._("no email address"),
            signature.R_NO_SEND_DOC: self.env._("customer without 'Send documents by email'"),
            signature.R_NOT_DUE: self.env._("not due yet"),
            signature.R_TOO_RECENT: self.env._("last reminder too recent"),
            signature.R_NOT_WAITING: self.env._("no longer waiting for a signature"),
        }

    # -- processing ----------------------------------------------------------

    @api.model
    def _relance_signature_process(self, company, options, proposal, on_batch=None):
        """Send the reminders ``proposal`` holds as due; return the run reporting it.

        Skipped quotations are recorded first, then the due ones are sent in
        batches of BATCH_SIZE, ``on_batch(count)`` being called after each.
        """
        run = self._relance_signature_create_run(company, options)
        reasons = self._relance_signature_reasons()
        self._relance_signature_record(
            run,
            [
                self._relance_signature_line_vals(candidate, decision, options["date"], reasons)
                for candidate, decision in proposal
                if not decision.due
            ],
        )
        due = [candidate for candidate, decision in proposal if decision.due]
        small_tables = self._relance_signature_small_tables()
        for batch in split_every(BATCH_SIZE, due):
            self._relance_signature_send_batch(run, batch, options)
            # what a batch wrote is in the database: let the next start light
            self.env.flush_all()
            self.env.invalidate_all()
            if small_tables:
                self.env["relance.service"]._refresh_statistics(small_tables)
                small_tables = ()
            if on_batch:
                on_batch(len(batch))
        run.state = "done"
        return run

    @api.model
    def _relance_signature_small_tables(self):
        """The mail tables too small yet for PostgreSQL to look rows up by index.

        PostgreSQL checks the foreign keys of each new mail, notification and
        run line with a plan made once, when the mail queue was nearly empty
        (as it is where mails are deleted once sent), and keeps it: a scan of
        the whole queue per row, so that a run of thousands of reminders took
        minutes in these checks alone. Their statistics refreshed after the
        first batch, it plans index lookups for the rest of the run. Return
        the names of their models.
        """
        models_by_table = {
            self.env[name]._table: name
            for name in ("mail.mail", "mail.message", "mail.notification")
        }
        self.env.cr.execute(
            "SELECT relname FROM pg_class WHERE relname IN %s AND relkind = 'r' AND reltuples < %s",
            [tuple(models_by_table), BATCH_SIZE * 50],
        )
        return tuple(models_by_table[name] for (name,) in self.env.cr.fetchall())

    @api.model
    def _relance_signature_create_run(self, company, options):
        Run = self.env["relance.run"].sudo()
        return Run.create(
            {
                "run_type": "signature",
                "company_id": company.id,
                "date": options["date"],
                "state": "running",
                "parameters": self.env["relance.service"]._parameters_text(options),
            }
        )

    @api.model
    def _relance_signature_lock(self, company, order_ids):
        """Lock the quotations still waiting; their current level and last date."""
        query = self._search(
            expression.AND([self._relance_signature_domain(company), [("id", "in", order_ids)]])
        )
        rows = self.env.execute_query(
            SQL(
                "%s FOR UPDATE OF sale_order",
                query.select(
                    SQL.identifier("sale_order", "id"),
                    SQL(
                        "COALESCE(%s, 0)",
                        self._field_to_sql("sale_order", "relance_sign_level", query),
                    ),
                    self._field_to_sql("sale_order", "relance_sign_date", query),
                ),
            )
        )
        return {order_id: (level, last_date) for order_id, level, last_date in rows}

    @api.model
    def _relance_signature_redecide(self, company, candidates, as_of):
        """Lock the batch and decide again on the level each quotation has now."""
        current = self._relance_signature_lock(company, [c.order_id for c in candidates])
        thresholds = self._relance_signature_thresholds(company)
        decided = []
        for candidate in candidates:
            if candidate.order_id in current:
                level, last_date = current[candidate.order_id]
                candidate = candidate._replace(level=level, last_date=last_date)
                decision = self._relance_signature_decision(candidate, as_of, thresholds)
            else:
                decision = signature.Decision(reason=signature.R_NOT_WAITING)
            decided.append((candidate, decision))
        return decided

    @api.model
    def _relance_signature_send_batch(self, run, candidates, options):
        """Send one batch and record its lines.

        The batch is sent whole, in a fixed number of queries; should any of
        its quotations fail, it is sent again one quotation at a time, so that
        the failing one is recorded as failed and the others go.
        """
        as_of = options["date"]
        report = options.get("attach_pdf") and options.get("report_id")
        template = self._relance_signature_template()
        reasons = self._relance_signature_reasons()
        decided = self._relance_signature_redecide(run.company_id, candidates, as_of)
        due = [(candidate, decision) for candidate, decision in decided if decision.due]
        sent = {}
        if due:
            try:
                with self.env.cr.savepoint():
                    sent = self.with_context(relance_batch_send=True)._relance_signature_send_all(
                        due, as_of, template, report
                    )
            except Exception:  # one quotation never stops the run: one by one then
                _logger.info("Signature reminders: a batch failed, sent one by one", exc_info=True)
                sent = {}
        lines = []
        for candidate, decision in decided:
            vals = self._relance_signature_line_vals(candidate, decision, as_of, reasons)
            if decision.due:
                order = self.browse(candidate.order_id)
                vals.update(
                    sent.get(candidate.order_id)
                    or order._relance_signature_send(
                        candidate, decision.level, as_of, template, report
                    )
                )
            lines.append(vals)
        self._relance_signature_link_mails(lines)
        self._relance_signature_record(run, lines)

    @api.model
    def _relance_signature_template(self):
        template = self.env.ref(MAIL_TEMPLATE, raise_if_not_found=False)
        if not template:
            raise UserError(
                self.env._(
                    "The signature reminder mail template is missing: upgrade the "
                    "Dunning module to restore it."
                )
            )
        return template

    @api.model
    def _relance_signature_send_all(self, due, as_of, template, report):
        """Record the levels and queue the mails of ``due``, [(candidate, decision)].

        What `message_post` does for one quotation, done for all of them at once:
        the template and the layout rendered per quotation, the messages, mails
        and notifications created in one go each. Only the recipient is
        notified, by email; a recipient who reads Odoo's inbox instead is left
        to `message_post` (one by one). Return {order_id: line values}.
        """
        recipients = self._relance_signature_recipients_data(due)
        plain = [
            (candidate, decision)
            for candidate, decision in due
            if recipients[candidate.recipient_id]["notif"] == "email"
        ]
        if not plain:
            return {}
        orders = self.browse([candidate.order_id for candidate, _decision in plain])
        recipient_ids = [candidate.recipient_id for candidate, _decision in plain]
        by_level = {}
        for candidate, decision in plain:
            by_level.setdefault(decision.level, []).append(candidate.order_id)
        for level, order_ids in by_level.items():
            self.browse(order_ids).write({"relance_sign_level": level, "relance_sign_date": as_of})
        for order in orders:
            order._portal_ensure_token()
        rendered = template.with_env(self.env)._generate_template(
            orders.ids, ("subject", "body_html", "email_from", "lang")
        )
        attachments = {}
        if report:
            attachments = {
                order.id: order._relance_signature_pdf(report, order) for order in orders
            }
        messages = self._relance_signature_messages(
            orders, recipient_ids, rendered, template, attachments
        )
        mails = self._relance_signature_mails(
            orders, recipient_ids, messages, rendered, recipients, template
        )
        return {
            order.id: {"message_id": message.id, "mail_id": mail.id}
            for order, message, mail in zip(orders, messages, mails, strict=True)
        }

    @api.model
    def _relance_signature_recipients_data(self, due):
        """How each recipient is notified, as `message_post` would see it: one query."""
        recipient_ids = {candidate.recipient_id for candidate, _decision in due}
        return self.env["mail.followers"]._get_recipient_data(
            None, "comment", self.env.ref("mail.mt_comment").id, pids=list(recipient_ids)
        )[0]

    @api.model
    def _relance_signature_messages(self, orders, recipient_ids, rendered, template, attachments):
        """The chatter messages of ``orders``, in their order, authored as
        `message_post` authors them: per sender, its author and reply-to."""
        by_sender = {}
        for order in orders:
            by_sender.setdefault(rendered[order.id].get("email_from"), []).append(order.id)
        authors, reply_tos = {}, {}
        for sender, order_ids in by_sender.items():
            author_id, email_from = self._message_compute_author(None, sender)
            reply_tos.update(self.browse(order_ids)._notify_get_reply_to(default=email_from))
            authors.update(dict.fromkeys(order_ids, (author_id, email_from)))
        alias_domains = orders.sudo()._mail_get_alias_domains(default_company=self.env.company)
        companies = orders._mail_get_companies(default=self.env.company)
        subtype_id = self.env.ref("mail.mt_comment").id
        vals_list = []
        for order, recipient_id in zip(orders, recipient_ids, strict=True):
            values = rendered[order.id]
            author_id, email_from = authors[order.id]
            attachment = attachments.get(order.id)
            vals_list.append(
                {
                    "model": self._name,
                    "res_id": order.id,
                    "record_name": order.sudo().display_name,
                    "message_type": "comment",
                    "subtype_id": subtype_id,
                    "author_id": author_id,
                    "email_from": email_from,
                    "reply_to": reply_tos[order.id],
                    "subject": values.get("subject") or False,
                    "body": values.get("body_html") or "",
                    "partner_ids": [Command.link(recipient_id)],
                    "record_alias_domain_id": alias_domains[order.id].id,
                    "record_company_id": companies[order.id].id,
                    "email_layout_xmlid": LAYOUT,
                    "email_add_signature": False,
                    "mail_server_id": template.mail_server_id.id,
                    "attachment_ids": [Command.link(attachment.id)] if attachment else [],
                }
            )
        messages = self.env["mail.message"].sudo().create(vals_list)
        self._relance_signature_subscribe_authors(orders, messages)
        return messages

    @api.model
    def _relance_signature_subscribe_authors(self, orders, messages):
        """Who posts follows the quotation, to get the answers (as `message_post`)."""
        if self.env.user.active:
            orders._message_subscribe(partner_ids=self.env.user.partner_id.ids)
            return
        by_author = {}
        for order, message in zip(orders, messages):
            if message.author_id.active:
                by_author.setdefault(message.author_id.id, []).append(order.id)
        for author_id, order_ids in by_author.items():
            self.browse(order_ids)._message_subscribe(partner_ids=[author_id])

    @api.model
    def _relance_signature_prepare_signup(self, orders):
        """Give the customers their sign-up type in one write, as each mail's
        "Accept & Sign" button would ask for it one customer at a time."""
        if self.env["res.users"].sudo()._get_signup_invitation_scope() != "b2c":
            return
        orders.partner_id.sudo().filtered(
            lambda partner: not partner.user_ids and partner.signup_type != "signup"
        ).signup_prepare()

    @api.model
    def _relance_signature_mails(
        self, orders, recipient_ids, messages, rendered, recipients, template
    ):
        """Each message's mail in the layout of Odoo's notifications, queued; the
        mails in the order of ``orders``."""
        model_descriptions = {}
        mail_vals = []
        self._relance_signature_prepare_signup(orders)
        for order, recipient_id, message in zip(orders, recipient_ids, messages, strict=True):
            lang = rendered[order.id].get("lang") or self.env.lang
            order = order.with_context(lang=lang)
            if lang not in model_descriptions:
                model_descriptions[lang] = order._get_model_description(self._name)
            msg_vals = {
                "model": self._name,
                "res_id": order.id,
                "author_id": message.author_id.id,
                "email_add_signature": False,
                "email_layout_xmlid": LAYOUT,
                "message_type": "comment",
                "subtype_id": message.subtype_id.id,
                "record_name": message.record_name,
                "partner_ids": [recipient_id],
                "tracking_value_ids": [],
            }
            recipient = dict(recipients[recipient_id], lang=lang)
            render_values = order._notify_by_email_prepare_rendering_context(
                message,
                msg_vals=msg_vals,
                model_description=model_descriptions[lang],
                force_email_lang=lang,
            )
            base = order._notify_by_email_get_base_mail_values(
                message, additional_values={"auto_delete": template.auto_delete}
            )
            for group in order._notify_get_recipients_classify(
                message, [recipient], model_descriptions[lang], msg_vals=msg_vals
            ):
                if not group["recipients"]:
                    continue
                body = order._notify_by_email_render_layout(
                    message, group, msg_vals=msg_vals, render_values=render_values
                )
                mail_vals.append(
                    order._notify_by_email_get_final_mail_values(
                        group["recipients"], base, additional_values={"body_html": body}
                    )
                )
        mails = self.env["mail.mail"].sudo().with_context(clean_context(self.env.context))
        mails = mails.create(mail_vals)
        self.env["mail.notification"].sudo().create(
            [
                {
                    "author_id": mail.author_id.id,
                    "is_read": True,
                    "mail_mail_id": mail.id,
                    "mail_message_id": mail.mail_message_id.id,
                    "notification_status": "ready",
                    "notification_type": "email",
                    "res_partner_id": partner.id,
                }
                for mail in mails
                for partner in mail.recipient_ids
            ]
        )
        return mails

    def _relance_signature_send(self, candidate, level, as_of, template, report):
        """Record ``level`` and queue the mail, both or neither; return line values."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                self.write({"relance_sign_level": level, "relance_sign_date": as_of})
                message = self._relance_signature_post(candidate.recipient_id, template, report)
        except Exception as error:  # one quotation never stops the run
            _logger.warning("Signature reminder of %s failed", self.name, exc_info=True)
            return {
                "outcome": "failed",
                "channel": "none",
                "level_after": candidate.level,
                "date_after": candidate.last_date,
                "reason": str(error),
            }
        return {"message_id": message.id}

    def _relance_signature_post(self, recipient_id, template, report):
        """Post the reminder on the quotation's chatter, its mail in the queue."""
        self.ensure_one()
        attachments = self._relance_signature_pdf(report) if report else self.env["ir.attachment"]
        return self.message_post_with_source(
            template,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            email_layout_xmlid=LAYOUT,
            partner_ids=[recipient_id],
            attachment_ids=attachments.ids,
            force_send=False,
        )

    def _relance_signature_pdf(self, report, owner=None):
        """The quotation printed by ``report``: an attachment of ``owner``, else
        of the composer (which gives it to the quotation when it posts)."""
        self.ensure_one()
        content, _format = self.env["ir.actions.report"]._render_qweb_pdf(report, self.ids)
        name = (
            safe_eval(report.print_report_name, {"object": self, "time": safe_time})
            if report.print_report_name
            else self._get_report_base_filename()
        )
        return self.env["ir.attachment"].create(
            {
                "name": f"{name}.pdf",
                "raw": content,
                "mimetype": "application/pdf",
                "res_model": owner._name if owner else "mail.compose.message",
                "res_id": owner.id if owner else 0,
            }
        )

    # -- recording -----------------------------------------------------------

    @api.model
    def _relance_signature_line_vals(self, candidate, decision, as_of, reasons):
        return {
            "order_id": candidate.order_id,
            "partner_id": candidate.commercial_id,
            "level_before": candidate.level,
            "level_after": decision.level if decision.due else candidate.level,
            "date_before": candidate.last_date,
            "date_after": as_of if decision.due else candidate.last_date,
            "channel": "email" if decision.due else "none",
            "outcome": "sent" if decision.due else "skipped",
            "reason": reasons.get(decision.reason, False),
        }

    @api.model
    def _relance_signature_link_mails(self, lines):
        """Add to each line sent one by one the queued mail of its message, in one
        search (the lines sent in a batch know theirs)."""
        by_message = {
            line["message_id"]: line
            for line in lines
            if line.get("message_id") and not line.get("mail_id")
        }
        if not by_message:
            return
        mails = self.env["mail.mail"].sudo().search([("mail_message_id", "in", list(by_message))])
        for mail in mails:
            by_message[mail.mail_message_id.id]["mail_id"] = mail.id

    @api.model
    def _relance_signature_record(self, run, lines):
        self.env["relance.service"]._insert_run_lines(run, lines)

    # -- scheduled action ----------------------------------------------------

    @api.model
    def _cron_relance_signature(self, as_of=None):
        """Every company's reminders with the wizard's defaults, committed per batch.

        Killed half-way, the next call closes the interrupted run and goes on:
        quotations already reminded are then too recent to be sent again.
        """
        as_of = as_of or fields.Date.context_today(self)
        companies = self.env["res.company"].search([])  # pylint: disable=no-search-all
        plans = [
            as_company(self, company)._relance_signature_plan(company, as_of)
            for company in companies
        ]
        total = sum(decision.due for _c, _o, proposal in plans for _q, decision in proposal)
        on_batch = self._relance_signature_cron_progress(total)
        for company, options, proposal in plans:
            as_company(self, company)._relance_signature_process(
                company, options, proposal, on_batch=on_batch
            )

    @api.model
    def _relance_signature_plan(self, company, as_of):
        """What the scheduled run does in ``company``, with the wizard's defaults."""
        self._relance_signature_close_interrupted(company)
        wizard = self.env["relance.signature"].create({"company_id": company.id, "date": as_of})
        options = wizard._options()
        return company, options, self._relance_signature_proposal(company, options)

    @api.model
    def _relance_signature_cron_progress(self, total):
        """The callback that reports progress and commits after each batch."""
        done = 0

        def on_batch(count):
            nonlocal done
            done += count
            self.env["ir.cron"]._notify_progress(done=done, remaining=total - done)
            if self._relance_signature_can_commit():
                self.env.cr.commit()  # pylint: disable=invalid-commit

        return on_batch

    @api.model
    def _relance_signature_can_commit(self):
        # pytest-odoo does not set current_test under Odoo 18, test_enable it does
        return not modules.module.current_test and not tools.config["test_enable"]

    @api.model
    def _relance_signature_close_interrupted(self, company):
        runs = (
            self.env["relance.run"]
            .sudo()
            .search(
                [
                    ("run_type", "=", "signature"),
                    ("state", "=", "running"),
                    ("company_id", "=", company.id),
                ]
            )
        )
        for run in runs:
            run.message_post(
                body=self.env._(
                    "Interrupted before its end: the next scheduled run went on with "
                    "the quotations left."
                )
            )
        runs.state = "done"

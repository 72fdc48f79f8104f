"""The one email service behind the edition's email mode and the reminder composer.

Both front doors hand it a customer and the lines of its documents. It renders
the mail template in the customer's language, attaches the invoice PDFs and
queues one ``mail.mail`` per customer, posted on the customer's chatter, whose
id the run lines keep. Levels are recorded when the mail is queued; once the
queue has tried it, `mail.mail` reports back: a mail that failed marks its run
lines failed and gives the documents their previous level, and
`_resend_failed` queues it again and records the levels again.
"""

import json
import re
from collections import defaultdict

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import email_normalize

from .. import engine
from ..guard import check_manager
from ..text import reminded_text, totals_per_currency, without_invisible
from . import relance_service
from .mail_template import RELANCE_TYPES
from .relance_service import as_company

MAX_FILES = 15
MAX_SIZE_MB = 15
DEFAULT_TEMPLATES = {
    "notice": "relance_atys.mail_template_relance_notice",
    "dunning": "relance_atys.mail_template_relance_dunning",
    "thanks": "relance_atys.mail_template_relance_thanks",
}
MAIL_LAYOUT = "relance_atys.mail_layout"
# What the writer of a reminder by hand chooses (the composer's fields), as
# _send_composed takes it
COMPOSED_FIELDS = (
    *("relance_type", "template_id", "sender_id", "email_to", "email_cc", "subject", "body"),
    *("attachment_ids", "attach_invoices", "attach_statement", "count_as_step", "next_level_id"),
)


class RelanceMailer(models.AbstractModel):
    _name = "relance.mailer"
    _description = "Dunning mailer"

    # -- recipients and templates ------------------------------------------------

    @api.model
    def _mail_partner(self, partner):
        """The invoicing contact of ``partner`` that has an email, else ``partner``."""
        contact = partner.child_ids.filtered(lambda child: child.type == "invoice" and child.email)
        return contact[:1] or partner

    @api.model
    def _split_addresses(self, text):
        """The addresses in ``text`` (separated by commas, semicolons or lines)."""
        addresses = [chunk.strip() for chunk in re.split(r"[,;\n]", text or "") if chunk.strip()]
        invalid = [address for address in addresses if not email_normalize(address)]
        if invalid:
            raise UserError(
                self.env._("These email addresses are not valid: %s", ", ".join(invalid))
            )
        return addresses

    @api.model
    def _default_template(self, relance_type):
        # its id from ir.model.data's cache: no query a mail (env.ref asks the table)
        template_id = self.env["ir.model.data"]._xmlid_to_res_id(
            DEFAULT_TEMPLATES[relance_type], raise_if_not_found=False
        )
        template = self.env["mail.template"].browse(template_id)
        if template and template.relance_type == relance_type:
            return template
        return self.env["mail.template"].search(
            [("model", "=", "res.partner"), ("relance_type", "=", relance_type)], limit=1
        )

    @api.model
    def _reminder_defaults(self, relance_type):
        """A reminder by hand of ``relance_type``: its default template; a dunning
        counts as a dunning step by default, a notice or a thanks does not."""
        return {
            "template_id": self._default_template(relance_type),
            "count_as_step": relance_type == "dunning",
        }

    # -- content -------------------------------------------------------------------

    @api.model
    def _template_values(self, lines, level):
        """What the templates read besides ``object``: documents, totals per currency, level."""
        self._ensure_access_tokens(lines.move_id.filtered(lambda move: move.is_invoice()))
        return {
            "lines": lines,
            "totals": totals_per_currency(lines),
            "level": level,
        }

    def _ensure_access_tokens(self, moves):
        """Portal access tokens of the invoices linked from the mail, in one query."""
        missing = moves.filtered(lambda move: not move.access_token)
        if missing:
            self.env.cr.execute(
                "UPDATE account_move SET access_token = gen_random_uuid()::text "
                "WHERE id = ANY(%s) AND access_token IS NULL",
                [missing.ids],
            )
            missing.invalidate_recordset(["access_token"])
            missing.fetch(["access_token"])

    @api.model
    def _render(self, template, partner, values):
        """Subject, body and language of ``template`` written to ``partner``."""
        lang = template._render_lang(partner.ids)[partner.id] or partner.lang or self.env.lang
        installed = dict(self.env["res.lang"].get_installed())
        if lang not in installed:  # its words and its dates in one language
            lang = partner.company_id.partner_id.lang or self.env.company.partner_id.lang
            lang = lang if lang in installed else self.env.lang
        template = template.with_context(lang=lang)
        lines = values.get("lines")
        relance = dict(
            values,
            level=values["level"].with_context(lang=lang),
            history=reminded_text(lines.with_context(lang=lang)) if lines else "",
        )
        subject, body = (
            template._render_field(field, partner.ids, add_context={"relance": relance})[partner.id]
            for field in ("subject", "body_html")
        )
        return subject, without_invisible(body), lang

    @api.model
    def _level_subject(self, level, partner, lines, date):
        """The level's own subject (fixed or from placeholders), if it has one."""
        if not (level.mail_subject or level.subject_template):
            return False
        documents = lines.filtered(lambda line: not line.is_deduction).move_id
        return level._subject(partner, documents.mapped("name"), date)

    @api.model
    def _layout(self, partner, body, lang, company, title=None):
        """``body`` in the dunning mail layout: company logo, ``title`` (the
        reminder's level), the company's contacts, no "Powered by" line."""
        env = self.with_context(lang=lang).env
        html = env["ir.qweb"]._render(
            MAIL_LAYOUT,
            {"body": body, "title": title, "company": company, "lang": lang},
            minimal_qcontext=True,
        )
        return env["mail.render.mixin"]._replace_local_links(html)

    # -- attachments ---------------------------------------------------------------

    @api.model
    def _invoice_attachments(self, moves):
        """The PDF of each invoice: its own, printed and stored on it first if it has none."""
        return moves._relance_invoice_pdfs()

    @api.model
    def _check_attachments(self, attachments):
        """At most MAX_FILES files and MAX_SIZE_MB megabytes in one mail."""
        if len(attachments) > MAX_FILES:
            raise UserError(
                self.env._(
                    "A reminder carries at most %(max)s files; this one has %(count)s. "
                    "Remove attachments or untick documents.",
                    max=MAX_FILES,
                    count=len(attachments),
                )
            )
        size = sum(attachments.sudo().mapped("file_size"))
        if size > MAX_SIZE_MB * 1024 * 1024:
            raise UserError(
                self.env._(
                    "A reminder carries at most %(max)s MB of attachments; these weigh "
                    "%(size).1f MB. Remove attachments or untick documents.",
                    max=MAX_SIZE_MB,
                    size=size / 1024 / 1024,
                )
            )

    # -- queueing ------------------------------------------------------------------

    @api.model
    def _queue_mail(self, partner, values):
        """One mail to ``partner``, posted on its chatter, left in the mail queue."""
        return self._create_mails({partner: values})

    @api.model
    def _create_mails(self, values):
        """The mails of ``values`` ({customer: its mail's values}), each posted on its
        customer's chatter, left in the mail queue; created at once, their reply-to
        addresses read at once (mail.message would read them one mail at a time)."""
        partners = self.env["res.partner"].union(*values)
        subtype_id = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment")
        reply_to = {}
        for email_from, group in partners.grouped(lambda p: values[p].get("email_from")).items():
            reply_to.update(group.sudo()._notify_get_reply_to(default=email_from))
        return (
            self.env["mail.mail"]
            .sudo()
            .create(
                [
                    {
                        "model": "res.partner",
                        "res_id": partner.id,
                        "record_name": partner.display_name,
                        "message_type": "comment",
                        "subtype_id": subtype_id,
                        "is_notification": True,
                        "auto_delete": True,
                        "reply_to": reply_to[partner.id],
                        **partner_values,
                    }
                    for partner, partner_values in values.items()
                ]
            )
        )

    def _check_customer(self, company, partner):
        """A reminder by hand goes to a customer (commercial entity) the user reads,
        of ``company``."""
        partner.check_access("read")
        if partner != partner.commercial_partner_id:
            raise UserError(
                self.env._(
                    "%(contact)s is a contact of %(customer)s: write to the customer.",
                    contact=partner.display_name,
                    customer=partner.commercial_partner_id.display_name,
                )
            )
        self.env["relance.service"]._check_partners_company(company, partner)

    def _reminder_template_allowed(self, template, relance_type):
        """Whether ``template`` writes customer reminders of ``relance_type``."""
        template = template.sudo()
        return (
            bool(template)
            and template.model == "res.partner"
            and template.relance_type == relance_type
        )

    def _check_reminder_template(self, template, relance_type):
        """Refuse a mail template that writes no customer reminder of ``relance_type``."""
        if template and not self._reminder_template_allowed(template, relance_type):
            field = self.env["mail.template"]._fields["relance_type"]
            raise UserError(
                self.env._(
                    "The mail template %(template)s is not a customer reminder of type '%(type)s'.",
                    template=template.sudo().display_name,
                    type=dict(field._description_selection(self.env))[relance_type],
                )
            )

    def _reminder_level(self, company, lines, next_level):
        """The level a reminder by hand about ``lines`` speaks for, whose texts its
        template prints: ``next_level`` if chosen, else the one after the documents'
        highest, at most the last."""
        if next_level:
            return next_level
        levels = self.env["relance.service"]._get_levels(company)
        number = max(lines.mapped("level_before"), default=0) + 1
        return levels.filtered(lambda level: level.number == number) or levels[-1:]

    def _reminder_content(self, company, partner, lines, choice):
        """(subject, body) of a reminder by hand to ``partner`` about ``lines``, as
        its writer chose it (``choice``: ``relance_type``, ``template_id``,
        ``next_level_id``): the template rendered for its level (``_reminder_level``);
        a dunning takes its level's own subject, if any (a formal notice says so).
        None when the template writes no customer reminder of the type."""
        template, relance_type = choice["template_id"], choice["relance_type"]
        if not self._reminder_template_allowed(template, relance_type):
            return None
        level = self._reminder_level(company, lines, choice["next_level_id"])
        subject, body, lang = self._render(template, partner, self._template_values(lines, level))
        if relance_type == "dunning":
            today = fields.Date.context_today(self)
            level = level.with_context(lang=lang)
            subject = self._level_subject(level, partner, lines, today) or subject
        return subject, body

    def _reminder_mail_values(self, company, partner, lines, mail):
        """The mail of a reminder by hand to ``partner``, from what its writer gave
        (``mail``: ``sender_id``, ``email_to`` and ``email_cc`` as typed,
        ``subject``, ``body``, its files ``attachment_ids``, ``attach_invoices``: the PDFs of the
        invoices of ``lines`` too, ``attach_statement``: the customer's statement
        of account at today): at least one recipient, valid addresses, a subject,
        the files readable and within the limits."""
        email_to = self._split_addresses(mail["email_to"])
        if not email_to:
            raise UserError(self.env._("Give at least one recipient address."))
        email_cc = self._split_addresses(mail["email_cc"])
        if not (mail["subject"] or "").strip():
            raise UserError(self.env._("The mail has no subject."))
        attachments = mail["attachment_ids"]
        attachments.check("read")
        if mail["attach_invoices"]:
            pdfs = self._invoice_attachments(lines.move_id)
            attachments |= self.env["ir.attachment"].union(*pdfs.values())
        if mail.get("attach_statement"):
            today = fields.Date.context_today(self)
            statement = self.env["relance.statement"]._attachments(company, partner, today)
            attachments |= statement[partner]
        self._check_attachments(attachments)
        lang = partner.lang or self.env.lang
        return {
            "author_id": mail["sender_id"].id,
            "email_from": self._sender_address(mail["sender_id"]),
            "email_to": ", ".join(email_to),
            "email_cc": ", ".join(email_cc),
            "subject": mail["subject"],
            "body": mail["body"],
            "body_html": self._layout(partner, mail["body"], lang, company),
            "attachment_ids": attachments.ids,
        }

    def _check_reminder_choice(self, company, choice):
        """A reminder by hand written with a customer mail template of its type,
        moving documents to a level (if any) of ``company`` (``choice``: its
        ``template_id``, ``relance_type`` and ``next_level_id``)."""
        self._check_reminder_template(choice["template_id"], choice["relance_type"])
        self.env["relance.service"]._check_level_company(company, choice["next_level_id"])

    def _send_composed(self, company, partner, mail, lines):
        """Use case: one reminder written by hand to ``partner`` (the composer's),
        everything checked before anything is recorded. ``mail`` is what its writer
        chose: ``relance_type``, ``template_id``, ``next_level_id`` and
        ``count_as_step`` (the levels, ``_send_reminder``), and the mail
        (``_reminder_mail_values``); ``lines`` the document lines shown, still as they
        were (``relance.service._check_as_shown``), those ``selected`` its documents.
        Files uploaded in the dialog (a transient record's) move to the customer.
        Returns the run."""
        ticked = lines.filtered("selected")
        self._check_customer(company, partner)
        self._check_sender(company, mail["sender_id"])
        self._check_reminder_choice(company, mail)
        service = self.env["relance.service"]
        service._check_documents_of(company, partner, lines.move_id)
        service._check_as_shown(company, partner, lines)
        self._check_reminder(partner, mail["relance_type"], mail["count_as_step"], ticked)
        mail_values = self._reminder_mail_values(company, partner, ticked, mail)
        uploaded = mail["attachment_ids"].filtered(
            lambda file: file.res_model in self.env and self.env[file.res_model]._transient
        )
        uploaded.sudo().write({"res_model": "res.partner", "res_id": partner.id})
        options = self._reminder_options(partner, mail)
        return self._send_reminder(company, partner, options, ticked, mail_values)

    def _reminder_options(self, partner, mail):
        """What the run of a reminder by hand keeps of it (``count_as_step`` and
        ``next_level`` tell ``_send_reminder`` the levels to give)."""
        return {
            "composer": partner.display_name,
            "type": dict(RELANCE_TYPES)[mail["relance_type"]],
            "template": mail["template_id"].display_name,
            "sender": mail["sender_id"].display_name,
            "email_to": mail["email_to"],
            "email_cc": mail["email_cc"],
            "count_as_step": mail["count_as_step"],
            "next_level": mail["next_level_id"].number,
        }

    def _send_reminder(self, company, partner, options, lines, mail_values):
        """Use case: one reminder written by hand to ``partner`` (the composer's):
        the mail queued, posted on the customer's chatter, and its run.

        ``lines`` are the document lines ticked (none: a mail about no document);
        when ``options['count_as_step']``, they move to ``options['next_level']``,
        else each one level up (at most the last level), recorded as a dunning
        step. ``options`` are the run's parameters too. Returns the run.
        """
        mail = self._queue_mail(partner, mail_values)
        date = fields.Date.context_today(self)
        run_lines = self._reminder_lines(company, partner, options, lines, date)
        links = {"mail_id": mail.id, "message_id": mail.mail_message_id.id}
        run_lines = [dict(line, **links) for line in run_lines]
        level = max(
            (line["level_after"] for line in run_lines if line["outcome"] == "queued"), default=0
        )
        service = self.env["relance.service"]
        run_vals = {
            "run_type": "email",
            "company_id": company.id,
            "date": date,
            "level": level,
            "parameters": service._parameters_text(options),
        }
        if not options.get("count_as_step"):
            return service._create_run(run_vals, run_lines)
        return service._record_definitive(company, run_vals, run_lines, {partner.id: level})

    def _reminder_lines(self, company, partner, options, lines, date):
        """The run lines of a reminder: the customer's level and date before on each,
        so that cancelling a mail that moved nothing gives back what was there."""
        service = self.env["relance.service"]
        state = service._get_partner_states(company, partner.ids)[partner.id]
        before = {"partner_level_before": state.level, "partner_date_before": state.last_date}
        if not lines:
            return [
                {
                    "partner_id": partner.id,
                    "channel": "email",
                    "outcome": "queued",
                    "level_before": state.level,
                    "level_after": state.level,
                    "date_before": state.last_date,
                    "date_after": state.last_date,
                    **before,
                }
            ]
        top = service._get_levels(company)[-1:].number or engine.MAX_LEVEL
        counted = bool(options.get("count_as_step"))
        return [
            dict(
                line,
                partner_id=partner.id,
                date_after=date if counted and not line["is_deduction"] else line["date_before"],
                outcome="skipped" if line["is_deduction"] else "queued",
                level_after=line["level_before"]
                if not counted or line["is_deduction"]
                else options.get("next_level") or min(line["level_before"] + 1, top),
                **before,
            )
            for line in service._line_values(lines, "queued", "email")
        ]

    def _check_reminder(self, partner, relance_type, count_as_step, lines):
        """A reminder by hand goes to a customer that takes documents by email (and,
        for a dunning, is not excluded from it); as a dunning step, about documents."""
        if not partner.relance_send_doc:
            raise UserError(
                self.env._(
                    "%s takes no documents by email ('Send documents by email' is off).",
                    partner.name,
                )
            )
        if relance_type == "dunning" and partner.relance_excluded:
            raise UserError(self.env._("%s is excluded from dunning.", partner.name))
        if count_as_step and not lines.filtered(lambda line: not line.is_deduction):
            raise UserError(self.env._("Tick the documents this dunning step is about."))

    def _check_sender(self, company, sender):
        """A reminder is sent by its user, another internal user of ``company``, or
        ``company`` itself."""
        colleagues = sender.sudo().user_ids.filtered(
            lambda user: not user.share and company in user.company_ids
        )
        if sender not in self.env.user.partner_id | company.partner_id and not colleagues:
            raise UserError(
                self.env._(
                    "%s cannot send this reminder: the sender is you, another user of "
                    "the company, or the company itself.",
                    sender.sudo().display_name,
                )
            )

    @api.model
    def _default_sender(self, company):
        """Who a composed reminder comes from unless the user picks another: the
        company's contact for questions, else the company itself, when it has an
        email address; else the user."""
        for sender in (company.relance_contact_id.partner_id, company.partner_id):
            if sender.email:
                return sender
        return self.env.user.partner_id

    @api.model
    def _sender_address(self, sender):
        if not sender.email:
            raise UserError(
                self.env._(
                    "%s has no email address to send the reminders from: set one first.",
                    sender.display_name,
                )
            )
        return sender.email_formatted

    @api.model
    def _company_sender_address(self, company):
        """Dunning mails leave from the company (its accounts address), signed by
        the user who sends them; from the user only when the company has no email."""
        if company.email:
            return company.partner_id.email_formatted
        return self._sender_address(self.env.user.partner_id)

    # -- email mode: a run sent by jobs ------------------------------------------------

    @api.model
    def _send_edition(self, company, options, edition):
        """Use case: dun by email the customers the review ``edition`` ticked, in
        the background. Up to ``_background_planning_from`` customers the run is
        planned in the click (``_send_run``); beyond, by a job (the click checks,
        records the run "planning" and returns: ``_start_planning``)."""
        service = self.env["relance.service"]
        nothing = self.env._("No customer is ticked: nothing to send.")
        partner_ids = service._definitive_customers(company, options, edition, nothing)
        if len(partner_ids) <= service._background_planning_from():
            lines = service._ticked_lines(edition, partner_ids)
            return self._send_run(company, options, service._line_values(lines, "planned", "email"))
        self._check_mailable(company, partner_ids)
        return service._start_planning(company, "email", options, edition, partner_ids)

    @api.model
    def _check_mailable(self, company, partner_ids):
        """Refuse a run none of whose customers can receive a mail, or whose company
        has no address to send from; {customer id: why it gets no mail, or False}."""
        self._company_sender_address(company)  # checked before anything is recorded
        partners = self.env["res.partner"].browse(partner_ids)
        reasons = {partner.id: self._no_mail_reason(partner) for partner in partners}
        if all(reasons.values()):
            raise UserError(
                self.env._(
                    "None of the ticked customers can receive an email (no address, or "
                    "'Send documents by email' off): nothing sent."
                )
            )
        return reasons

    @api.model
    def _skip_unmailable(self, lines, reasons=None):
        """Run line values ``lines`` by email: those of customers that get no mail
        skipped with the reason, their levels kept."""
        if reasons is None:
            partners = self.env["res.partner"].browse({line["partner_id"] for line in lines})
            reasons = {partner.id: self._no_mail_reason(partner) for partner in partners}
        for line in lines:
            line["channel"] = "email"
            reason = reasons[line["partner_id"]]
            if reason:
                line.update(
                    outcome="skipped",
                    reason=reason,
                    level_after=line["level_before"],
                    date_after=line.get("date_before") or False,
                )
        return lines

    @api.model
    def _send_run(self, company, options, lines):
        """Use case: dun by email the customers of ``lines``, in the background.

        ``lines`` are run line values of the chosen documents (``outcome``
        ``planned``; deductions ``skipped``). Customers without an address, or
        that take no documents by email, are recorded skipped with the reason.
        The run is recorded queued, its documents guarded; one job per batch of
        customers renders and queues their mails and writes their levels
        (``_send_batch``). Returns the run.
        """
        reasons = self._check_mailable(company, list({line["partner_id"] for line in lines}))
        self._skip_unmailable(lines, reasons)
        service = self.env["relance.service"]
        run = service._plan_run(company, "email", options, lines)
        service._enqueue_run(
            run, self, "_send_batch", "root.relance.email", self.env._("dunning mails")
        )
        return run

    @api.model
    def _no_mail_reason(self, partner):
        """Why ``partner`` gets no dunning mail, or False."""
        if not self._mail_partner(partner).email:
            return self.env._("no email address")
        if not partner.relance_send_doc:
            return self.env._("customer without 'Send documents by email'")
        return False

    @api.model
    def _switch_to_email(self, edition):
        """The review ``edition`` switching to email mode: a manager's only (only a
        manager sends the mails: no dead end), checked before anything of it is read;
        the customers no mail reaches (``_no_mail_reason``) unticked."""
        self.env["relance.service"]._check_definitive_manager()
        for pline in edition.partner_line_ids.filtered("selected"):
            if self._no_mail_reason(pline.partner_id):
                pline.selected = False

    def _send_batch(self, run, batch):
        """Job: the mails of one batch of customers of ``run``, and their levels.

        Idempotent: only customers whose lines are still to do are mailed, so a
        batch run again (after its worker died) mails nobody twice and writes
        no level twice. A customer whose mail cannot be made gets no level and
        its lines failed with the reason.
        """
        service = self.env["relance.service"]
        lines = service._batch_lines(run, batch)
        todo = lines.filtered(lambda line: line.outcome == "planned")
        if not todo:
            return "nothing left to do"
        mail_lines = lines.filtered(lambda line: line.partner_id in todo.partner_id)
        mails, failures = self._batch_mails(run, mail_lines)
        by_partner = mail_lines.grouped("partner_id")
        for partner, reason in failures.items():
            service._fail_lines(by_partner[partner] & todo, reason)
        for partner, mail in mails.items():
            by_partner[partner].write({"mail_id": mail.id, "message_id": mail.mail_message_id.id})
        mailed = {partner.id for partner in mails}
        done = todo.filtered(lambda line: line.partner_id.id in mailed)
        done.outcome = "queued"
        service._write_run_levels(run, done)
        self._trigger_mail_queue()
        service._hasten_end(run)
        return f"{len(mails)} mail(s) queued"

    @api.model
    def _batch_mails(self, run, lines):
        """({customer: its mail, queued}, {customer: why its mail could not be made})
        for the customers of ``lines`` (a batch of ``run``): the invoice PDFs first, in
        as few wkhtmltopdf calls as can be; each mail rendered in its customer's
        language; then the mails created together. The queries do not grow with
        the customers nor the documents (but for the PDFs printed: see
        ``account.move._relance_invoice_pdfs``)."""
        service = self.env["relance.service"]
        levels = {level.number: level for level in service._get_levels(run.company_id)}
        self._ensure_access_tokens(lines.move_id.filtered(lambda move: move.is_invoice()))
        pdfs = self._invoice_attachments(lines.move_id)
        statements = self._statement_attachments(run, lines.partner_id)
        sender = {
            "author_id": self.env.user.partner_id.id,
            "email_from": self._company_sender_address(run.company_id),
        }
        # the customers and their invoicing contacts read at once, not one by one as
        # the templates ask
        lines.partner_id.mapped("lang")
        lines.partner_id.child_ids.mapped("email")
        values, failures = {}, {}
        for partner, partner_lines in lines.grouped("partner_id").items():
            try:
                mail = self._run_mail_values(run, partner, partner_lines, levels, pdfs)
            except psycopg2.Error:
                raise  # the database's (a serialization failure): queue_job runs the batch again
            except Exception as error:  # this customer's mail cannot be made: the others go
                failures[partner] = str(error)
                continue
            if partner in statements:
                mail["attachment_ids"].append(statements[partner].id)
            values[partner] = dict(sender, **mail)
        mails, failed = self._queue_mails(values)
        return mails, failures | failed

    @api.model
    def _queue_mails(self, values):
        """({customer: its mail}, {customer: why not}) of ``values`` ({customer: its
        mail's values}): created together; if that fails, one by one, so that only
        the customers whose mail cannot be created are left out."""
        try:
            with self.env.cr.savepoint():
                mails = self._create_mails(values)
        except psycopg2.Error:
            raise
        except Exception:
            mails = None  # one of them cannot be created: which, is found out one by one
        if mails is not None:
            return dict(zip(values, mails, strict=True)), {}
        mails, failures = {}, {}
        for partner, partner_values in values.items():
            try:
                with self.env.cr.savepoint():
                    mails[partner] = self._queue_mail(partner, partner_values)
            except psycopg2.Error:
                raise
            except Exception as error:
                failures[partner] = str(error)
        return mails, failures

    @api.model
    def _statement_attachments(self, run, partners):
        """{customer: its statement of account at the run's date} when the run's
        options ask for it (one wkhtmltopdf call for the batch), else {}."""
        if not json.loads(run.parameters or "{}").get("statement"):
            return {}
        return self.env["relance.statement"]._attachments(run.company_id, partners, run.date)

    @api.model
    def _run_mail_values(self, run, partner, lines, levels, pdfs):
        """The mail of one customer: its level's template and subject, in its language."""
        number = max(lines.filtered(lambda line: not line.is_deduction).mapped("level_after"))
        level = levels.get(number, self.env["relance.level"])
        recipient = self._mail_partner(partner)
        values = self._template_values(lines, level)
        subject, body, lang = self._render(self._level_template(level, number), partner, values)
        level_subject = self._level_subject(level.with_context(lang=lang), partner, lines, run.date)
        return {
            "subject": level_subject or subject,
            "body": body,
            "body_html": self._layout(
                partner, body, lang, run.company_id, title=level.with_context(lang=lang).name
            ),
            "recipient_ids": recipient.ids,
            "partner_ids": recipient.ids,
            "attachment_ids": [pdfs[move.id].id for move in lines.move_id if move.id in pdfs],
        }

    @api.model
    def _trigger_mail_queue(self):
        """Have the mail queue send what was just queued, not at its next hourly run."""
        cron = self.env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()

    @api.model
    def _level_template(self, level, number):
        template = level.mail_template_id or self._default_template("dunning")
        if not template:
            raise UserError(
                self.env._(
                    "No dunning mail template for level %s: choose one on the level.", number
                )
            )
        return template

    # -- what the mail queue reports -----------------------------------------------------

    @api.model
    def _mails_processed(self, mails, failure_reason=False, failure_type=None):
        """Mark the run lines of ``mails`` sent or failed; failed ones give their levels back.

        Dunning mails (on the customer) and signature reminders (on the quotation)
        are recorded "queued" and become "sent" here, when the mail leaves.
        """
        mails = mails.filtered(lambda mail: mail.model in ("res.partner", "sale.order"))
        if not mails:
            return
        lines = (
            self.env["relance.run.line"]
            .sudo()
            .search(
                [
                    ("mail_id", "in", mails.ids),
                    ("run_type", "in", ("email", "signature")),
                    ("outcome", "=", "queued"),
                ]
            )
        )
        failed_mails = lines.mail_id.filtered(lambda mail: mail.state == "exception")
        lines.filtered(lambda line: line.mail_id not in failed_mails).outcome = "sent"
        for mail in failed_mails:
            mail_lines = lines.filtered(lambda line, mail=mail: line.mail_id == mail)
            # in the language of the run's company, as the history is written
            mailer = as_company(self, mail_lines.run_id[:1].company_id)
            mail_lines.write(
                {
                    "outcome": "failed",
                    "reason": mailer._failure_reason(mail, failure_reason, failure_type),
                }
            )
        if failed_mails:
            failed_mails.auto_delete = False  # kept to be sent again from the run
            failed = lines.filtered(lambda line: line.mail_id in failed_mails)
            self._give_levels_back(failed.filtered(lambda line: line.run_type == "email"))
            self.env["relance.signature.service"]._mails_failed(
                failed.filtered(lambda line: line.run_type == "signature")
            )
            self._settle_runs(lines.run_id.filtered(lambda run: run.run_type == "email"))

    @api.model
    def _settle_runs(self, runs):
        """The level and state of email ``runs`` after their mails failed or were
        queued again (see ``relance.service._refresh_run_states``)."""
        self.env["relance.service"]._refresh_run_states(runs)

    @api.model
    def _failure_reason(self, mail, failure_reason, failure_type):
        if failure_type in ("mail_email_invalid", "mail_email_missing"):
            labels = dict(mail._fields["failure_type"]._description_selection(self.env))
            return labels[failure_type]
        return self._failure_sentence(
            failure_type or mail.failure_type, failure_reason or mail.failure_reason
        )

    @api.model
    def _failure_sentence(self, failure_type, detail):
        """What went wrong, in a sentence of the reader's language; the mail
        server's own words (e.g. "111 Connection refused") in brackets."""
        _ = self.env._
        detail = " ".join(str(detail or "").split())
        lowered = detail.lower()
        if failure_type == "mail_smtp" or "connection refused" in lowered:
            if "refused" in lowered or lowered.startswith("111"):
                sentence = _("The outgoing mail server refused the connection")
            elif "timed out" in lowered or "timeout" in lowered:
                sentence = _("The outgoing mail server did not answer in time")
            elif "name or service not known" in lowered or "getaddrinfo" in lowered:
                sentence = _("The outgoing mail server's address could not be found")
            elif "authentication" in lowered or "535" in lowered or "password" in lowered:
                sentence = _("The outgoing mail server refused its user name or password")
            elif "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
                sentence = _("The secure connection to the outgoing mail server failed")
            else:
                sentence = _("The outgoing mail server could not be reached")
        elif failure_type in ("mail_from_invalid", "mail_from_missing"):
            sentence = _("The outgoing mail server does not accept the sender's address")
        elif "recipient" in lowered:
            sentence = _("The outgoing mail server refused the recipient's address")
        else:
            sentence = _("The mail could not be delivered")
        return f"{sentence} ({detail})." if detail else f"{sentence}."

    @staticmethod
    def _counted(lines):
        """The lines whose run changed a document's level or date."""
        return lines.filtered(
            lambda line: (
                line.move_line_id
                and (line.level_after, line.date_after) != (line.level_before, line.date_before)
            )
        )

    def _give_levels_back(self, lines):
        """Previous levels of the documents and customers of failed ``lines``, unless
        something changed them since the run gave them theirs."""
        counted = self._counted(lines)
        service = self.env["relance.service"]
        self.env.flush_all()
        current = service._current_levels(counted.move_line_id.ids)
        rows = [
            (line.move_line_id.id, line.level_before, line.date_before or None)
            for line in counted
            if current[line.move_line_id.id] == (line.level_after, line.date_after or None)
        ]
        for date, moves_levels in service._by_date(rows).items():
            service._write_levels(moves_levels, date)
        for run, run_lines in counted.grouped("run_id").items():
            self._set_partner_levels(run, run_lines, restore=True)

    def _set_partner_levels(self, run, lines, restore):
        """Customers back to their level before ``run`` (``restore``), or to the one
        ``run`` gave them again; only those still where the other way left them."""
        given = defaultdict(int)
        for line in lines:
            given[line.partner_id.id] = max(given[line.partner_id.id], line.level_after)
        before = {
            line.partner_id.id: (line.partner_level_before, line.partner_date_before or None)
            for line in lines
        }
        after = {partner_id: (level, run.date) for partner_id, level in given.items()}
        expected, target = (after, before) if restore else (before, after)
        service = self.env["relance.service"]
        self.env.flush_all()
        states = service._get_partner_states(run.company_id, list(given))
        rows = [
            (partner_id, *target[partner_id])
            for partner_id, state in states.items()
            if (state.level, state.last_date) == expected[partner_id]
        ]
        for date, partner_levels in service._by_date(rows).items():
            service._write_partner_levels(run.company_id, partner_levels, date)

    # -- sending again ---------------------------------------------------------------

    @api.model
    def _resend_failed(self, runs):
        """Queue the failed mails of ``runs`` again and record their levels again."""
        check_manager(self.env, self.env._("Only dunning managers can send failed mails again."))
        lines = runs.sudo().line_ids.filtered(
            lambda line: (
                line.outcome == "failed"
                and line.mail_id
                and line.run_type == "email"
                and line.run_id.state in ("done", "partial", "failed")
            )
        )
        if not lines:
            raise UserError(
                self.env._(
                    "No failed dunning mail to send again in %s.", ", ".join(runs.mapped("name"))
                )
            )
        service = self.env["relance.service"]
        if len(lines) > relance_service.BACKGROUND_LINES_FROM:
            message = self.env._("Sending the failed mails again in the background: %s.")
            return service._in_background(runs, "_resend_lines", message, lines, model=self)
        return self._resend_lines(lines)

    @api.model
    def _resend_lines(self, lines):
        """Queue the failed mails of ``lines`` again and record their levels again."""
        self._give_levels_again(lines)
        lines.mail_id.write(
            {
                "state": "outgoing",
                "auto_delete": True,
                "failure_reason": False,
                "failure_type": False,
            }
        )
        lines.write({"outcome": "queued", "reason": False})
        self._settle_runs(lines.run_id)
        for run, run_lines in lines.grouped("run_id").items():
            run.message_post(
                body=self.env._("%s failed mail(s) queued again.", len(run_lines.mail_id))
            )
        self._trigger_mail_queue()
        return True

    def _give_levels_again(self, lines):
        """The levels failed ``lines`` had given, if nothing moved the documents since."""
        counted = self._counted(lines)
        service = self.env["relance.service"]
        service._lock_documents(counted.move_id.ids)
        service._check_unchanged(
            [
                {
                    "move_line_id": line.move_line_id.id,
                    "level_before": line.level_before,
                    "date_before": line.date_before,
                }
                for line in counted
            ]
        )
        rows = [(line.move_line_id.id, line.level_after, line.date_after) for line in counted]
        for date, moves_levels in service._by_date(rows).items():
            service._write_levels(moves_levels, date)
        for run, run_lines in counted.grouped("run_id").items():
            self._set_partner_levels(run, run_lines, restore=False)

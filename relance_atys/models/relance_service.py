"""The one dunning service behind every wizard and scheduled action.

It gathers a company's open items in a few set-based queries, hands them to the
pure engine (``relance_atys.engine``) and writes what the engine decided. The
edition wizard, the email mode, the composer and the cron only call it.
"""

import contextlib
import gc
import json
import logging
from collections import defaultdict
from contextlib import contextmanager

import psycopg2
from psycopg2 import errors as pg_errors

from odoo import Command, fields, models, modules, tools
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL, format_date
from odoo.tools.pdf import merge_pdf

from .. import engine
from ..guard import check_manager
from ..text import sort_key, totals_text
from odoo.addons.queue_job.exception import RetryableJobError

# Runs that record levels, and so can be cancelled.
LEVEL_RUN_TYPES = ("letter", "email", "manual", "call")
# Background runs: customers per job (a job is one transaction; 50 customers'
# mails, their invoice PDFs included, take well under 60 s), and how often the
# job closing a run looks again whether its batches are all through.
BATCH_SIZE = 50
# An email run's job also stops at this many documents: printing their invoice PDFs
# is most of its time (about 50 ms an invoice on an idle core, five times that on
# a busy one), and a job must end well inside limit_time_real.
EMAIL_BATCH_DOCUMENTS = 100
# Cancelling runs, or sending their failed mails again, over more lines than
# this is done by a job (the click returns at once).
BACKGROUND_LINES_FROM = 2000
# A definitive edition of more customers than this prints its letters in the
# background, by batches; a smaller one prints in the click (a few seconds).
BACKGROUND_LETTERS_FROM = 200
# An email run of a review of more customers than this is planned by a job: the
# click checks, records the run "planning" with the customers it holds, enqueues
# the planning job (``_plan_job``: lines, guards, batches) and returns at once.
# A definitive edition printed in the background is always planned by a job.
BACKGROUND_PLANNING_FROM = 50
# Batch PDFs of a letter run up to this size are merged in one file at the end
# (PyPDF2 holds them all in memory); beyond, the run keeps one PDF per batch.
MERGE_MAX_BYTES = 64 * 1024 * 1024
FINISH_RETRY_SECONDS = 3
# The jobs of dunning runs: each holds an advisory lock named after it while it works,
# so that one left 'started' by a worker that died is found and run again.
RUN_JOB_METHODS = {
    "relance.mailer": ("_send_batch",),
    "relance.service": ("_plan_job", "_print_batch", "_finish_run"),
    "relance.signature.service": ("_gather", "_send_batch"),
    "relance.penalty.invoice": ("_invoice_batch",),
    "relance.call": ("_create_calls_batch",),
}
# a started job that holds nothing after this long was left by a dead worker
DEAD_JOB_SECONDS = 10
# the first key of the advisory locks the jobs of dunning runs hold ("REL")
JOB_LOCK_SPACE = 0x52454C
# the échéances excluded on their own that a proposal's left-out text names
ECHEANCES_NAMED = 20
# what the review reads of its customers (their lines, their order)
REVIEW_PARTNER_FIELDS = [
    "name", "ref", "zip", "user_id", "relance_collector_id", "relance_level", "relance_date",
]  # fmt: skip

_logger = logging.getLogger(__name__)

# The proposal's options a user chooses among: its customers' orders (keys of
# _sorted_partners) and the engine's selections of documents.
SORTS = [
    ("name", "Customer name"),
    ("zip", "Zip code"),
    ("ref", "Customer reference"),
    ("user", "Salesperson"),
    ("collector", "Collector"),
]
SELECTIONS = [
    (engine.SELECT_NEVER, "Never dunned documents (level 0)"),
    (engine.SELECT_PREVIOUS, "Documents of the previous level only"),
    (engine.SELECT_LOWER, "Documents of every lower level"),
]
# The proposal's many2many filters (record ids, _get_open_items_filters), named as
# the edition's fields: each checked readable by its user.
FILTERS = (
    "partner_ids",
    "category_ids",
    "user_ids",
    "payment_method_line_ids",
    "payment_term_ids",
    "collector_ids",
)

# A company's open receivable lines (posted, not reconciled), ``lp`` their partner
# and ``p`` its commercial entity: the deductions of the open items below and the
# statement of account (``relance.statement``) read the same ones.
OPEN_RECEIVABLE_LINES = """
      FROM account_move_line l
      JOIN account_move m ON m.id = l.move_id
      JOIN account_account a ON a.id = l.account_id
      JOIN res_partner lp ON lp.id = l.partner_id
      JOIN res_partner p ON p.id = lp.commercial_partner_id
     WHERE l.company_id = %(company)s
       AND l.parent_state = 'posted'
       AND a.account_type = 'asset_receivable'
       AND NOT l.reconciled
"""

# Open items of a company: the open échéances of posted customer invoices and
# credit notes (their receivable lines, one per instalment of the payment terms,
# each with its due date and residual in the document's currency, whatever Odoo's
# reconciliation allocated to it), plus receivable lines of payments and other
# entries that nothing has reconciled yet (deductions, one per entry).
OPEN_ITEMS_SQL = """
    SELECT l.id, m.commercial_partner_id, m.currency_id,
           COALESCE(l.date_maturity, m.invoice_date_due, m.invoice_date, m.date),
           l.amount_residual_currency,
           COALESCE(l.relance_level, 0), l.relance_date,
           COALESCE(m.relance_excluded, false) OR COALESCE(l.relance_excluded, false),
           m.payment_state = 'blocked', m.id
      FROM account_move m
      JOIN account_move_line l ON l.move_id = m.id
     WHERE m.company_id = %(company)s
       AND m.state = 'posted'
       AND m.move_type IN ('out_invoice', 'out_refund')
       AND m.payment_state IN ('not_paid', 'partial', 'blocked')
       AND m.amount_residual > 0
       AND l.display_type = 'payment_term'
       AND NOT l.reconciled
       AND l.amount_residual_currency != 0
       {move_filter}
    UNION ALL
    SELECT MIN(l.id), p.id, l.currency_id, MIN(l.date),
           SUM(l.amount_residual_currency), 0, NULL, false, false, l.move_id
    {open_lines}
       AND m.move_type NOT IN ('out_invoice', 'out_refund')
       AND l.amount_residual_currency < 0
       {line_filter}
     GROUP BY l.move_id, p.id, l.currency_id
"""

# Partial indexes holding what OPEN_ITEMS_SQL reads of the open documents, their
# open échéances and the open credits of a ledger (created by ``init`` of
# account.move and account.move.line): PostgreSQL reads the items from these small
# indexes alone, documents and échéances merged in the order of the documents' ids,
# instead of the whole journal (at 100,000 invoices: 0.12 s instead of 0.5 s). Each
# WHERE is one the query's conditions imply; each column list is every column the
# query reads of the table (a column missing sends PostgreSQL back to the table).
OPEN_ITEMS_INDEXES = {
    "account_move": [
        """CREATE INDEX IF NOT EXISTS account_move_relance_open_idx
               ON account_move (company_id, id)
          INCLUDE (commercial_partner_id, currency_id, invoice_date_due, invoice_date,
                   date, payment_state, relance_excluded)
            WHERE move_type IN ('out_invoice', 'out_refund') AND state = 'posted'
              AND payment_state IN ('not_paid', 'partial', 'blocked')
              AND amount_residual > 0""",
    ],
    "account_move_line": [
        """CREATE INDEX IF NOT EXISTS account_move_line_relance_echeance_idx
               ON account_move_line (move_id)
          INCLUDE (id, date_maturity, amount_residual_currency, relance_level,
                   relance_date, relance_excluded)
            WHERE display_type = 'payment_term' AND NOT reconciled
              AND amount_residual_currency != 0""",
        """CREATE INDEX IF NOT EXISTS account_move_line_relance_credit_idx
               ON account_move_line (move_id)
          INCLUDE (id, company_id, account_id, partner_id, currency_id, date,
                   amount_residual_currency)
            WHERE parent_state = 'posted' AND NOT reconciled
              AND amount_residual_currency < 0""",
    ],
}

# Level and date of échéances, and in the same statement their documents' highest
# level and latest date (``account.move._compute_relance_level``): the documents'
# part reads the échéances as they were, the new values taken from ``v``.
WRITE_LEVELS_SQL = """
    WITH v AS (SELECT unnest(%(ids)s::int[]) AS id, unnest(%(levels)s::int[]) AS level),
    echeances AS (
        UPDATE account_move_line l
           SET relance_level = v.level, relance_date = %(date)s,
               write_date = now() at time zone 'UTC', write_uid = %(uid)s
          FROM v
         WHERE l.id = v.id
     RETURNING l.move_id
    )
    UPDATE account_move m
       SET relance_level = d.level, relance_date = d.date
      FROM (SELECT l.move_id,
                   MAX(CASE WHEN v.id IS NULL THEN COALESCE(l.relance_level, 0)
                            ELSE v.level END) AS level,
                   MAX(CASE WHEN v.id IS NULL THEN l.relance_date
                            ELSE %(date)s::date END) AS date
              FROM account_move_line l
              LEFT JOIN v ON v.id = l.id
             WHERE l.display_type = 'payment_term'
               AND l.move_id IN (SELECT move_id FROM echeances)
             GROUP BY l.move_id) d
     WHERE m.id = d.move_id
"""

PARTNERS_SQL = """
    WITH holds AS (
        -- the customers' promises and pauses not kept (kind, date, invoices,
        -- échéances), read in one pass: a subquery per customer would read the
        -- table once per customer when its statistics say it is empty (promises
        -- just made: with 2,000 promises for 20,000 customers the bench's proposal
        -- took 5.6 to 7.3 s instead of 0.7 s)
        SELECT h.partner_id,
               json_agg(json_build_array(
                   h.kind, h.date,
                   ARRAY(SELECT r.move_id FROM relance_promise_account_move_rel r
                          WHERE r.promise_id = h.id),
                   ARRAY(SELECT e.line_id FROM relance_promise_echeance_rel e
                          WHERE e.promise_id = h.id))) AS holds
          FROM relance_promise h
         WHERE h.partner_id = ANY(%(ids)s) AND h.company_id = %(company)s
           AND h.active AND h.state != 'kept'
         GROUP BY h.partner_id
    )
    SELECT p.id, COALESCE((p.relance_level->>%(company_key)s)::int, 0),
           (p.relance_date->>%(company_key)s)::date,
           COALESCE(p.relance_enabled, false), COALESCE(p.relance_excluded, false),
           COALESCE(p.relance_mode = 'manual', false), holds.holds
      FROM res_partner p
      LEFT JOIN holds ON holds.partner_id = p.id
     WHERE p.id = ANY(%(ids)s)
"""

# Company-dependent level and date of customers, as the ORM flushes them: merged
# into the JSON by company, values equal to the company's fallback dropped.
PARTNER_LEVELS_SQL = """
    UPDATE res_partner p
       SET relance_level = (
               SELECT jsonb_object_agg(d.key, d.value)
                 FROM jsonb_each(COALESCE(p.relance_level, '{}'::jsonb)
                                 || jsonb_build_object(%(company)s, v.level)) d
                 JOIN jsonb_each(%(level_fallbacks)s::jsonb) f
                   ON d.key = f.key AND d.value != f.value),
           relance_date = (
               SELECT jsonb_object_agg(d.key, d.value)
                 FROM jsonb_each(COALESCE(p.relance_date, '{}'::jsonb)
                                 || jsonb_build_object(%(company)s, %(date)s::text)) d
                 JOIN jsonb_each(%(date_fallbacks)s::jsonb) f
                   ON d.key = f.key AND d.value != f.value),
           write_date = now() at time zone 'UTC', write_uid = %(uid)s
      FROM (SELECT unnest(%(ids)s::int[]) AS id, unnest(%(levels)s::int[]) AS level) v
     WHERE p.id = v.id
"""


@contextmanager
def _gc_paused():
    """Hold CPython's garbage collector while the engine runs.

    A proposal makes a few objects per document, none of them in a cycle; past
    100,000 documents, the full collections their number sets off, each walking
    the whole heap (Odoo's registry included), took a third of the time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def fetch_stored(records):
    """Read every stored field of ``records`` in one query (the ORM would read a
    thousand at a time)."""
    records.fetch([name for name, field in records._fields.items() if field.store])


def as_company(records, company):
    """``records`` as a scheduled run of ``company`` works with them: in that
    company, and in its language, which the history's reasons and notes are
    written in (the scheduler's own user reads English)."""
    lang = company.partner_id.lang or records.env.lang
    return records.with_company(company).with_context(lang=lang)


def _rounded(currency, amount):
    amount = float(amount or 0.0)
    return currency.round(amount) if currency else amount


def days_late(due_date, as_of):
    """Days late as every screen and file shows them: a document not due yet (a
    level may start before the due date) is 0 days late, never a negative count."""
    return max(engine.days_between(due_date, as_of), 0)


class RelanceService(models.AbstractModel):
    _name = "relance.service"
    _description = "Dunning service"

    # -- configuration ---------------------------------------------------------

    def _get_levels(self, company):
        return self.env["relance.level"].search([("company_id", "=", company.id)], order="number")

    def _engine_params(self, company, options):
        """Build engine parameters from a wizard's or cron's ``options`` dict."""
        levels = self._get_levels(company)
        if not levels:
            raise UserError(
                self.env._(
                    "No dunning level is configured for %s: add some in "
                    "Accounting > Configuration > Dunning levels.",
                    company.name,
                )
            )
        min_amount = options.get("min_amount") or 0.0
        min_amounts = self._thresholds_by_currency(company, min_amount, options["date"])
        return engine.Params(
            as_of=options["date"],
            rule=options.get("rule") or company.relance_rule,
            levels=levels._to_engine(),
            level=options.get("level") or None,
            selection=options.get("selection") or engine.SELECT_LOWER,
            min_amount=min_amount if min_amount > 0 else None,
            min_amounts=min_amounts,
            repeat_days=company.relance_repeat_days,
            due_from=options.get("due_from") or None,
            due_to=options.get("due_to") or None,
            chosen=frozenset(options.get("partner_ids") or ()),
        )

    def _thresholds_by_currency(self, company, min_amount, date):
        """The amount threshold (in the company's currency) in every active currency."""
        if min_amount <= 0:
            return None
        currencies = self.env["res.currency"].search([("id", "!=", company.currency_id.id)])
        return {
            currency.id: company.currency_id._convert(min_amount, currency, company, date)
            for currency in currencies
        }

    def _check_options(self, company, options):
        """Refuse options a proposal cannot be made on, with a clear message."""
        _ = self.env._
        due_from, due_to = options.get("due_from"), options.get("due_to")
        if due_from and due_to and due_from > due_to:
            raise UserError(_("The due-date range is inverted: 'Due from' is after 'Due to'."))
        if (options.get("min_amount") or 0) < 0:
            raise UserError(_("The amount threshold cannot be negative."))
        level = options.get("level")
        if options.get("rule") == engine.RULE_SEQUENTIAL and not level:
            raise UserError(_("Choose the dunning level to send (sequential rule)."))
        if level and not engine.MIN_LEVEL <= level <= engine.MAX_LEVEL:
            raise UserError(
                _(
                    "The dunning level must be between %(min)s and %(max)s.",
                    min=engine.MIN_LEVEL,
                    max=engine.MAX_LEVEL,
                )
            )
        partners = self.env["res.partner"].browse(options.get("partner_ids") or [])
        self._check_partners_company(company, partners)

    def _check_review_lines(self, lines):
        """Refuse review ``lines`` (of a ``relance.edition``) at a level that does not
        exist, or whose document is not an open item of their customer line's
        customer in the edition's company."""
        if any(not 0 <= line.level_after <= engine.MAX_LEVEL for line in lines):
            raise UserError(self.env._("The new level must be between 0 and %s.", engine.MAX_LEVEL))
        for pline, plines in lines.sudo().grouped("partner_line_id").items():
            if plines.edition_id != pline.edition_id or plines.partner_id != pline.partner_id:
                raise UserError(self.env._("A document line must belong to its customer's line."))
            self._check_documents_of(
                pline.edition_id.company_id, pline.partner_id, plines.with_env(self.env).move_id
            )

    def _check_wizard_documents(self, lines, wizard_field, partners_field):
        """Refuse the document ``lines`` of a wizard (their field ``wizard_field``)
        whose document is not an open item of the wizard's customers (its field
        ``partners_field``) in the wizard's company (``_check_documents_of``)."""
        for wizard, wizard_lines in lines.grouped(wizard_field).items():
            partners = wizard[partners_field]
            self._check_documents_of(wizard.company_id, partners, wizard_lines.move_id)

    def _check_review_partners(self, partner_lines):
        """Refuse review customer lines (``relance.edition.partner``) of a customer
        the user cannot read, or of another company than their edition's."""
        for edition, plines in partner_lines.grouped("edition_id").items():
            if not self.env.su:
                plines.partner_id.check_access("read")
            self._check_partners_company(edition.company_id, plines.partner_id)

    def _check_partners_company(self, company, partners):
        """Refuse customers that belong to another company than ``company``."""
        foreign = partners.filtered(lambda p: p.company_id and p.company_id != company)
        if foreign:
            raise UserError(
                self.env._(
                    "These customers belong to another company: %s",
                    ", ".join(foreign.mapped("name")),
                )
            )

    def _check_level_company(self, company, level):
        """Refuse a dunning ``level`` (if any) of another company than ``company``."""
        if level and level.sudo().company_id != company:
            raise UserError(self.env._("This level belongs to another company."))

    def _check_definitive_date(self, company, date, edition, partner_ids):
        """Refuse a definitive dunning on ``date`` that the company's dunning dates
        refuse, or before the last dunning of one of ``partner_ids`` (customers
        the review ``edition`` ticked, as it showed them): a run cannot go back in
        time. One query, whatever the number of customers."""
        company._relance_check_date(date)
        self.env["relance.edition.partner"].flush_model()
        self.env.cr.execute(
            """
            SELECT partner_id FROM relance_edition_partner
             WHERE edition_id = %s AND selected AND "current_date" > %s
               AND partner_id = ANY(%s)
             ORDER BY sequence, id
            """,
            [edition.id, date, partner_ids],
        )
        late = self.env["res.partner"].browse([row[0] for row in self.env.cr.fetchall()])
        if late:
            raise UserError(
                self.env._(
                    "The dunning date %(date)s is before the last dunning of %(partners)s: "
                    "a definitive edition cannot go back in time.",
                    date=format_date(self.env, date),
                    partners=", ".join(late.mapped("name")),
                )
            )

    def _ticked_customers(self, edition, message):
        """The customers the review ``edition`` ticked that have a ticked document
        (not only deductions), in its order; none: ``message`` refuses. One query."""
        self.env["relance.edition.partner"].flush_model()
        self.env["relance.edition.line"].flush_model()
        self.env.cr.execute(
            """
            SELECT p.partner_id FROM relance_edition_partner p
             WHERE p.edition_id = %s AND p.selected
               AND EXISTS (SELECT 1 FROM relance_edition_line l
                            WHERE l.partner_line_id = p.id AND l.selected
                              AND l.is_deduction IS NOT TRUE)
             ORDER BY p.sequence, p.id
            """,
            [edition.id],
        )
        partner_ids = [row[0] for row in self.env.cr.fetchall()]
        if not partner_ids:
            raise UserError(message)
        return partner_ids

    def _check_definitive_manager(self):
        """Refuse a definitive dunning (letters or mails, whose levels are written
        by SQL) to anyone but a dunning manager: before anything of it is read."""
        message = self.env._("Only dunning managers can record a definitive dunning.")
        check_manager(self.env, message)

    def _definitive_customers(self, company, options, edition, message):
        """The click of a definitive run from the review ``edition``: a manager's
        (``_check_definitive_manager``), its ticked customers (none: ``message``),
        checked against the run's date."""
        self._check_definitive_manager()
        partner_ids = self._ticked_customers(edition, message)
        self._check_definitive_date(company, options["date"], edition, partner_ids)
        return partner_ids

    def _ticked_lines(self, edition, partner_ids):
        """The ticked document lines (deductions too) of the customers ``partner_ids``
        of the review ``edition``, in the review's order."""
        self.env.cr.execute(
            """
            SELECT l.id FROM relance_edition_line l
              JOIN relance_edition_partner p ON p.id = l.partner_line_id
             WHERE l.edition_id = %s AND l.selected AND p.selected AND p.partner_id = ANY(%s)
             ORDER BY p.sequence, p.id, l.is_deduction IS TRUE, l.due_date, l.id
            """,
            [edition.id, partner_ids],
        )
        return self.env["relance.edition.line"].browse([row[0] for row in self.env.cr.fetchall()])

    def _review_ticked_lines(self, edition, message, partner_ids=None):
        """What a draft (letters, calls) of the review ``edition`` takes: the
        ticked document lines (``_ticked_lines``) of its customers ticked with a
        ticked document (``partner_ids`` if read already, else
        ``_ticked_customers``; none: ``message`` refuses), read in a few queries
        however many."""
        partner_ids = partner_ids or self._ticked_customers(edition, message)
        lines = self._ticked_lines(edition, partner_ids)
        fetch_stored(lines)
        return lines

    def _ticked_line_values(self, edition, partner_ids, channel):
        """``_line_values`` of ``_ticked_lines``, ``planned``, read in one query
        (the ORM takes a minute over the 70,000 lines of a large review)."""
        self.env.cr.execute(
            """
            SELECT l.move_id, l.move_line_id, l.currency_id, l.due_date,
                   COALESCE(l.residual, 0), COALESCE(l.level_before, 0), l.date_before,
                   COALESCE(l.days_late, 0), l.is_deduction IS TRUE, p.partner_id,
                   COALESCE(l.level_after, 0)
              FROM relance_edition_line l
              JOIN relance_edition_partner p ON p.id = l.partner_line_id
             WHERE l.edition_id = %s AND l.selected AND p.selected AND p.partner_id = ANY(%s)
             ORDER BY p.sequence, p.id, l.is_deduction IS TRUE, l.due_date, l.id
            """,
            [edition.id, partner_ids],
        )
        deduction = self.env._("deduction")
        names = ("move_id", "move_line_id", "currency_id", "due_date", "residual")
        names += ("level_before", "date_before", "days_late", "is_deduction", "partner_id")
        lines = []
        for row in self.env.cr.fetchall():
            line = dict(zip(names, row), channel=channel, outcome="planned", reason=False)
            line["level_after"] = row[-1]
            if line["is_deduction"]:
                line.update(outcome="skipped", reason=deduction, level_after=line["level_before"])
            lines.append(line)
        return lines

    # -- gathering -------------------------------------------------------------

    def _get_open_items_filters(self, options):
        """SQL conditions of the open items: on their customer (``{customer}``, its
        id), on the document ``m`` of an échéance, on the line ``l`` of a deduction."""
        customer, moves, lines, args = [], [], [], {}
        if options.get("partner_ids"):
            customer.append("{customer} = ANY(%(partners)s)")
            args["partners"] = list(options["partner_ids"])
        if options.get("user_ids"):
            customer.append(
                "{customer} IN (SELECT id FROM res_partner WHERE user_id = ANY(%(users)s))"
            )
            args["users"] = list(options["user_ids"])
        if options.get("collector_ids"):
            customer.append(
                "{customer} IN (SELECT id FROM res_partner "
                "WHERE relance_collector_id = ANY(%(collectors)s))"
            )
            args["collectors"] = list(options["collector_ids"])
        if options.get("category_ids"):
            customer.append(
                "EXISTS (SELECT 1 FROM res_partner_res_partner_category_rel r "
                "WHERE r.partner_id = {customer} AND r.category_id = ANY(%(categs)s))"
            )
            args["categs"] = list(options["category_ids"])
        if options.get("move_ids"):
            moves.append("m.id = ANY(%(moves)s)")
            lines.append("l.move_id = ANY(%(moves)s)")
            args["moves"] = list(options["move_ids"])
        if options.get("payment_method_line_ids"):
            moves.append("m.preferred_payment_method_line_id = ANY(%(pmls)s)")
            args["pmls"] = list(options["payment_method_line_ids"])
        if options.get("payment_term_ids"):
            moves.append("m.invoice_payment_term_id = ANY(%(terms)s)")
            args["terms"] = list(options["payment_term_ids"])
        return customer, moves, lines, args

    def _get_open_items(self, company, options):
        """Return the company's open items as engine items, in one query."""
        customer, moves, lines, args = self._get_open_items_filters(options)
        moves += [cond.format(customer="m.commercial_partner_id") for cond in customer]
        lines += [cond.format(customer="p.id") for cond in customer]
        query = OPEN_ITEMS_SQL.format(
            open_lines=OPEN_RECEIVABLE_LINES,
            move_filter="".join(f" AND {cond}" for cond in moves),
            line_filter="".join(f" AND {cond}" for cond in lines),
        )
        self.env.flush_all()
        self.env.cr.execute(query, dict(args, company=company.id))
        return list(map(engine.Item._make, self.env.cr.fetchall()))

    def _get_partner_states(self, company, partner_ids):
        """Customers as the engine sees them: levels, profile, promises and pauses."""
        self.env["relance.promise"].flush_model()
        self.env.cr.execute(
            PARTNERS_SQL,
            {"company_key": str(company.id), "company": company.id, "ids": list(partner_ids)},
        )
        return {row[0]: self._engine_partner(*row) for row in self.env.cr.fetchall()}

    @staticmethod
    def _engine_partner(*row):
        holds = tuple(
            engine.Hold(
                kind,
                fields.Date.to_date(until),
                frozenset(move_ids or ()),
                line_ids=frozenset(line_ids or ()),
            )
            for kind, until, move_ids, line_ids in row[-1] or ()
        )
        return engine.Partner(*row[:-1], holds=holds)

    def _propose(self, company, options):
        """The engine's proposal for ``company`` under ``options``."""
        params = self._engine_params(company, options)
        with _gc_paused():
            items = self._get_open_items(company, options)
            partners = self._get_partner_states(company, {item.partner_id for item in items})
            return engine.propose(items, partners, params)

    def _partner_documents(self, company, partner, moves, today):
        """Document line values of every open item of ``partner``, deductions last:
        ``moves`` ticked, if given; else the deductions and the documents past due,
        never those excluded from dunning or in dispute."""
        items = self._get_open_items(company, {"partner_ids": partner.ids})
        items = sorted(items, key=lambda item: (item.residual < 0, item.due_date, item.id))
        return [
            {
                "move_id": item.move_id,
                "move_line_id": item.id,
                "currency_id": item.currency_id,
                "due_date": item.due_date,
                "days_late": days_late(item.due_date, today),
                "residual": item.residual,
                "level_before": item.level,
                "date_before": item.last_date,
                "is_deduction": item.residual < 0,
                "selected": item.move_id in moves.ids if moves else self._ticked(item, today),
            }
            for item in items
        ]

    @staticmethod
    def _ticked(item, today):
        """Ticked by default: a deduction, or a document past due neither excluded
        from dunning nor in dispute."""
        if item.excluded or item.blocked:
            return False
        return item.residual < 0 or engine.days_between(item.due_date, today) > 0

    def _check_documents_of(self, company, partners, moves):
        """Refuse ``moves`` of another company than ``company``, or of another
        customer than ``partners`` (one or several), or that the user cannot read.
        Nothing of them is named: they may be another company's."""
        customers = partners.sudo().commercial_partner_id

        def stranger(move):
            if move.company_id != company:
                return True
            if move.commercial_partner_id in customers:
                return False
            # a payment or an entry: its receivable lines name the customer
            return move.is_invoice(include_receipts=True) or not (
                customers & move.line_ids.partner_id.commercial_partner_id
            )

        strangers = moves.sudo().filtered(stranger)
        if strangers:
            raise UserError(
                self.env._(
                    "%(count)s document(s) are not open items of this customer in %(company)s: "
                    "only its own documents can be listed.",
                    count=len(strangers),
                    company=company.sudo().name,
                )
            )
        if not self.env.su:
            moves.check_access("read")

    def _check_as_shown(self, company, partner, lines):
        """Refuse document ``lines`` that no longer show an open item of ``partner``
        as it is now (paid, dunned or no longer open since they were listed)."""
        if not lines:
            return
        options = {"partner_ids": partner.ids, "move_ids": lines.move_id.ids}
        items = {item.id: item for item in self._get_open_items(company, options)}

        def shown(line, item):
            return bool(item) and (
                (line.level_before, line.date_before or None) == (item.level, item.last_date)
                and not line.currency_id.compare_amounts(line.residual, item.residual)
            )

        changed = lines.filtered(lambda line: not shown(line, items.get(line.move_line_id.id)))
        if changed:
            raise UserError(
                self.env._(
                    "These documents changed since the reminder was opened (paid, "
                    "dunned or no longer open): %s. Open the reminder again.",
                    ", ".join(changed.move_id.mapped("display_name")),
                )
            )

    # -- review ---------------------------------------------------------------------

    def _review(self, company, options, edition):
        """Use case: the proposal under ``options``, as the review lines of
        ``edition`` (a ``relance.edition``): one line per customer, sorted by
        ``options['sort_by']``, one per document, in one INSERT each. Returns
        what was left out and why, a line per reason; nothing to dun raises."""
        edition.partner_line_ids.unlink()  # an earlier review's
        proposal = self._propose(company, options)
        if not proposal.groups:
            message = self.env._("Nothing to dun with these parameters.")
            skipped = self._skipped_text(proposal)
            raise UserError(f"{message}\n{skipped}" if skipped else message)
        groups = self._group_by_partner(proposal)
        partners = self.env["res.partner"].browse(list(groups)).with_company(company)
        # in one query: the ORM reads them a thousand customers at a time
        partners.fetch(REVIEW_PARTNER_FIELDS)
        partners = self._sorted_partners(partners, options.get("sort_by") or "name")
        partner_lines = self._insert(
            "relance.edition.partner",
            [
                self._review_partner_vals(edition, partner, groups[partner.id], sequence)
                for sequence, partner in enumerate(partners)
            ],
        )
        self._refresh_statistics(["relance.edition.partner"])  # before the lines point to them
        line_vals = []
        for pline, partner in zip(partner_lines, partners):
            collector = {"collector_id": partner.relance_collector_id.id}
            for group in groups[partner.id]:
                line_vals += [
                    dict(vals, **collector)
                    for vals in self._review_line_vals(group, options["date"], edition, pline)
                ]
        self._insert("relance.edition.line", line_vals)
        return self._skipped_text(proposal)

    @staticmethod
    def _review_partner_vals(edition, partner, groups, sequence):
        return {
            "edition_id": edition.id,
            "partner_id": partner.id,
            "sequence": sequence,
            "selected": any(group.selected for group in groups),
            "new_level": max(group.level for group in groups),
            "current_level": partner.relance_level,
            "current_date": partner.relance_date,
            "collector_id": partner.relance_collector_id.id,
            "broken_promise": max(
                (group.broken_promise for group in groups if group.broken_promise), default=None
            ),
        }

    def _review_line_vals(self, group, date, edition, pline):
        """The review lines of ``group`` (one customer's), as the run lines' values."""

        def vals(item, level, days, deduction):
            return dict(
                self._item_line(group.partner_id, item, level),
                edition_id=edition.id,
                partner_line_id=pline.id,
                days_late=days,
                is_deduction=deduction,
                selected=True,
            )

        rows = [vals(p.item, p.level, max(p.days_late, 0), False) for p in group.proposed]
        rows += [vals(item, 0, days_late(item.due_date, date), True) for item in group.deductions]
        return rows

    def _review_summary(self, lines, partner_lines):
        """What the review's ``lines`` (``relance.edition.line``) hold that are ticked
        and of the ticked ones of ``partner_lines`` (as the user ticks them in the
        form, not saved yet): customers, documents, totals per currency."""
        fetch_stored(lines)
        # ids in a set: a recordset's `in` is linear (84,400 lines × 17,600 customers)
        ticked = set(self._ticked_partner_lines(partner_lines)._origin.ids)
        lines = lines.filtered(lambda line: line.selected and line.partner_line_id.id in ticked)
        if not lines:
            return self.env._("No customer ticked")
        return self.env._(
            "%(partners)s customer(s), %(docs)s document(s): %(totals)s",
            partners=len(lines.partner_line_id),
            docs=len(lines.filtered(lambda line: not line.is_deduction)),
            totals=totals_text(lines),
        )

    def _review_partner_totals(self, lines):
        """What a review customer line shows of its document ``lines`` that are
        ticked: its documents (deductions aside), its lines, totals per currency."""
        lines = lines.filtered("selected")
        return {
            "doc_count": len(lines.filtered(lambda line: not line.is_deduction)),
            "doc_count_text": self.env._("%s document(s)", len(lines)),
            "totals_text": totals_text(lines),
        }

    @staticmethod
    def _ticked_partner_lines(partner_lines):
        """The ticked ones of a review's customer lines, their ticks read in one
        query when they are saved (the ORM reads a thousand at a time); in the
        form, as the user ticks them, they are not saved yet."""
        if all(isinstance(id_, int) for id_ in partner_lines._ids):
            fetch_stored(partner_lines)
        return partner_lines.filtered("selected")

    @staticmethod
    def _sorted_partners(partners, sort_by):
        keys = {
            "name": lambda p: sort_key(p.name),
            "zip": lambda p: (p.zip or "", sort_key(p.name)),
            "ref": lambda p: (p.ref or "", sort_key(p.name)),
            "user": lambda p: (sort_key(p.user_id.name), sort_key(p.name)),
            "collector": lambda p: (sort_key(p.relance_collector_id.name), sort_key(p.name)),
        }
        return partners.sorted(keys[sort_by])

    def _skipped_text(self, proposal):
        """What ``proposal`` left out, a line per reason, the most frequent first;
        then a line per customer held by a promise or a pause, with its date."""
        counts, holds = defaultdict(int), defaultdict(int)
        for skipped in proposal.skipped:
            counts[skipped.reason] += 1
            if skipped.until:
                holds[skipped.partner_id, skipped.reason, skipped.until] += 1
        labels = self._reason_labels()
        text = [
            self.env._("%(count)s document(s): %(reason)s", count=count, reason=labels[reason])
            for reason, count in sorted(counts.items(), key=lambda kv: -kv[1])
        ]
        excluded = [s.item_id for s in proposal.skipped if s.reason == engine.R_EXCLUDED]
        return "\n".join(text + self._excluded_echeances_text(excluded) + self._holds_text(holds))

    def _excluded_echeances_text(self, line_ids):
        """The échéances among ``line_ids`` (left out as excluded) that are
        excluded on their own, their invoice not: "FAC/2026/00012, instalment due
        15/01/2027: instalment excluded from dunning", the first twenty."""
        if not line_ids:
            return []
        self.env.cr.execute(
            """
            SELECT m.name, l.date_maturity
              FROM account_move_line l
              JOIN account_move m ON m.id = l.move_id
             WHERE l.id = ANY(%s) AND l.relance_excluded AND NOT COALESCE(m.relance_excluded, false)
             ORDER BY l.date_maturity, m.name
            """,
            [line_ids],
        )
        rows = self.env.cr.fetchall()
        text = [
            self.env._(
                "%(document)s, instalment due %(date)s: instalment excluded from dunning",
                document=name,
                date=format_date(self.env, due),
            )
            for name, due in rows[:ECHEANCES_NAMED]
        ]
        if len(rows) > ECHEANCES_NAMED:
            text.append(
                self.env._("... and %s more instalment(s) excluded", len(rows) - ECHEANCES_NAMED)
            )
        return text

    def _holds_text(self, holds):
        """ "Customer: payment promised on 12/12/2026 (2 document(s))", per customer
        ``holds`` ({(partner id, reason, date): documents}) keeps out."""
        if not holds:
            return []
        names = dict(
            self.env["res.partner"]
            .browse({key[0] for key in holds})
            .mapped(lambda p: (p.id, p.name))
        )
        promise = self.env["relance.promise"]
        kinds = {engine.R_PROMISED: engine.HOLD_PROMISE, engine.R_PAUSED: engine.HOLD_PAUSE}
        return [
            self.env._(
                "%(partner)s: %(hold)s (%(count)s document(s))",
                partner=names.get(partner_id, ""),
                hold=promise._hold_text(kinds[reason], until),
                count=count,
            )
            for (partner_id, reason, until), count in sorted(
                holds.items(), key=lambda kv: (sort_key(names.get(kv[0][0], "")), kv[0][2])
            )
        ]

    def _reason_labels(self):
        """Why the engine left a document out, by its reason code."""
        _ = self.env._
        return {
            engine.R_PARTNER_EXCLUDED: _("customer excluded from dunning"),
            engine.R_PARTNER_DISABLED: _("customer without 'Dunning letters'"),
            engine.R_PARTNER_LEVEL: _("customer not at the previous level"),
            engine.R_EXCLUDED: _("document excluded from dunning"),
            engine.R_BLOCKED: _("payment blocked (dispute)"),
            engine.R_DUE_RANGE: _("due date outside the range"),
            engine.R_NOT_DUE: _("not due yet"),
            engine.R_NO_LEVEL: _("no level for these days late"),
            engine.R_ALREADY: _("already dunned at this level"),
            engine.R_TOO_RECENT: _("last dunning too recent"),
            engine.R_SELECTION: _("document level not selected"),
            engine.R_OTHER_LEVEL: _("due for another level"),
            engine.R_BELOW_AMOUNT: _("customer total below the threshold"),
            engine.R_NOTHING_TO_DUN: _("credit with nothing to dun"),
            engine.R_PROMISED: _("payment promised"),
            engine.R_PAUSED: _("dunning paused"),
            engine.R_MANUAL_ONLY: _("customer dunned by hand only"),
        }

    @staticmethod
    def _group_by_partner(proposal):
        """Engine groups (per partner and currency) gathered per partner."""
        by_partner = defaultdict(list)
        for group in proposal.groups:
            by_partner[group.partner_id].append(group)
        return by_partner

    # -- recording -------------------------------------------------------------

    def _lock_documents(self, move_ids, run=None):
        """Lock the documents of a definitive run, or say which run holds them.

        A document is held by another transaction (NOWAIT), or by a background
        run that has not processed it yet (a line of it still to do, or its
        customer held by a run being planned; ``run``, the one planned here,
        aside): either is refused at once, with the run's name when there is one.
        """
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    """
                    SELECT COALESCE(
                        (SELECT r.name FROM relance_run_line l
                           JOIN relance_run r ON r.id = l.run_id
                          WHERE l.move_id = m.id AND l.outcome = 'planned' LIMIT 1),
                        (SELECT r.name FROM relance_run_held_partner_rel h
                           JOIN relance_run r ON r.id = h.run_id
                          WHERE h.partner_id = m.commercial_partner_id
                            AND r.company_id = m.company_id
                            AND r.state = 'planning' AND r.id != %s LIMIT 1))
                      FROM account_move m
                     WHERE m.id = ANY(%s)
                       FOR UPDATE OF m NOWAIT
                    """,
                    [run.id if run else 0, list(move_ids)],
                    log_exceptions=False,  # a busy lock is an answer, not an error
                )
                held = sorted({name for (name,) in self.env.cr.fetchall() if name})
        except pg_errors.LockNotAvailable as err:
            raise UserError(
                self.env._(
                    "Another definitive dunning is recording some of these documents "
                    "right now. Wait until it has finished, then run the proposal again."
                )
            ) from err
        except pg_errors.SerializationFailure as err:
            # another edition committed these documents since this one began
            raise UserError(
                self.env._(
                    "Another definitive dunning has just recorded some of these documents. "
                    "Run the proposal again."
                )
            ) from err
        message = self.env._(
            "Run %s is dunning some of these documents in the background: wait "
            "until it has finished, then run the proposal again."
        )
        self._refuse_held(held, message)

    @staticmethod
    def _refuse_held(held, message):
        """Refuse what the runs at work ``held`` (their names) hold: ``message``,
        translated, names them at its ``%s``."""
        if held:
            raise UserError(message % ", ".join(held))

    def _check_unchanged(self, lines):
        """Refuse when an échéance's level moved since the proposal was made."""
        current = self._current_levels([line.get("move_line_id") for line in lines])
        changed = [
            line["move_line_id"]
            for line in lines
            if line.get("move_line_id") in current
            and current[line["move_line_id"]]
            != (line["level_before"], line.get("date_before") or None)
        ]
        if changed:
            run = (
                self.env["relance.run.line"]
                .search([("move_line_id", "in", changed)], order="id desc", limit=1)
                .run_id
            )
            raise UserError(
                self.env._(
                    "%(count)s document(s) were dunned since this proposal was made "
                    "(run %(run)s). Run the proposal again.",
                    count=len(changed),
                    run=run.name or "?",
                )
            )

    def _current_levels(self, line_ids):
        """{échéance id: (level, date)} as the database has them now."""
        self.env.cr.execute(
            "SELECT id, COALESCE(relance_level, 0), relance_date FROM account_move_line "
            "WHERE id = ANY(%s)",
            [[line_id for line_id in line_ids if line_id]],
        )
        return {row[0]: (row[1], row[2]) for row in self.env.cr.fetchall()}

    def _write_levels(self, lines_levels, date):
        """Set level and date on échéances ({move line id: level}), and their
        documents' highest level and latest date: one statement for all of them."""
        if not lines_levels:
            return
        self.env.cr.execute(
            WRITE_LEVELS_SQL,
            {
                "ids": list(lines_levels),
                "levels": list(lines_levels.values()),
                "date": date or None,
                "uid": self.env.uid,
            },
        )
        self.env["account.move.line"].invalidate_model(["relance_level", "relance_date"])
        self.env["account.move"].invalidate_model(["relance_level", "relance_date"])

    def _write_partner_levels(self, company, partner_levels, date):
        """Partner level and date (company dependent) in one UPDATE.

        The ORM's own SQL for company-dependent values (one equal to the company's
        fallback is not kept), without ``res.partner.write``: its per-customer
        synchronisation of commercial fields, which these are not, takes seconds
        on 20,000 customers.
        """
        if not partner_levels:
            return
        fallbacks = self.env["ir.default"]._get_field_column_fallbacks
        self.env.cr.execute(
            PARTNER_LEVELS_SQL,
            {
                "company": str(company.id),
                "date": fields.Date.to_string(date) or None,
                "uid": self.env.uid,
                "ids": list(partner_levels),
                "levels": list(partner_levels.values()),
                "level_fallbacks": fallbacks("res.partner", "relance_level"),
                "date_fallbacks": fallbacks("res.partner", "relance_date"),
            },
        )
        self.env["res.partner"].invalidate_model(["relance_level", "relance_date"])

    def _create_run(self, vals, line_vals, run=None):
        """A run and its lines, through the ORM (other modules' overrides and
        constraints apply). ``run``: the run a planning job records (recorded
        "planning" by the click), done now, its lines in one INSERT as a planned
        run's (``_plan_run``: a job must end well inside the server's time limit)."""
        if run:
            run.write({"state": "done", "level": vals["level"], "progress_total": 0})
            self._release_hold(run)
            self._insert_run_lines(run, line_vals)
            return run
        run = self.env["relance.run"].sudo().create(vals)
        self.env["relance.run.line"].sudo().create(
            [dict(line, run_id=run.id) for line in line_vals]
        )
        return run

    def _insert_run_lines(self, run, line_vals):
        """Add ``run`` its lines in one INSERT."""
        # the lines' stored related fields, given as the ORM would compute them
        shared = {
            "run_id": run.id,
            "company_id": run.company_id.id,
            "run_type": run.run_type,
            "date": run.date,
        }
        return self._insert(
            "relance.run.line",
            [dict(line, level_moved=self._moved(line), **shared) for line in line_vals],
        )

    @staticmethod
    def _moved(line):
        """Whether a run line's values change its document's (or customer's) level or date."""
        return (line.get("level_after"), line.get("date_after") or None) != (
            line.get("level_before"),
            line.get("date_before") or None,
        )

    def _refresh_statistics(self, model_names):
        """ANALYZE the tables of ``model_names``, just filled in this transaction.

        PostgreSQL checks each foreign key of new rows with a plan it makes
        once and keeps until the table's statistics change. Made while the
        referenced table looked empty (it was, or autovacuum has just counted
        it so), that plan scans the whole table for each new row: inserting
        70,000 review lines pointing to 17,600 customer lines took 100 s
        instead of 4. ANALYZE counts the rows this transaction inserted, and
        the plans made after it look rows up by index. ANALYZE holds a lock
        that conflicts with itself until the transaction ends: a table another
        transaction is analyzing (two reviews at once) is skipped, not waited
        for.
        """
        tables = SQL(", ").join(SQL.identifier(self.env[name]._table) for name in model_names)
        self.env.cr.execute(SQL("ANALYZE (SKIP_LOCKED) %s", tables))

    def _insert(self, model_name, vals_list):
        """Create records of ``model_name`` in one INSERT; return them.

        ``create`` spends a third of a millisecond per record in Python and one
        INSERT per hundred records: seconds and a thousand queries for the lines
        of a 100,000-document proposal. This writes the same rows (the values, the
        model's defaults for the other fields, who and when) in two queries. Only
        for plain values (no x2many, translated or company-dependent field) of
        models without ``create`` override; stored computed fields not given are
        left to the ORM to compute.
        """
        Model = self.env[model_name]
        if not vals_list:
            return Model
        names, rows = self._with_defaults(Model, vals_list)
        self.env.cr.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Model._table, len(rows)],
        )
        records = Model.browse([row[0] for row in self.env.cr.fetchall()])
        columns = {"id": ("int4", records.ids)}
        columns.update((name, self._column(Model, name, rows)) for name in names)
        who, now = [self.env.uid] * len(rows), [self.env.cr.now()] * len(rows)
        columns.update(
            (name, (Model._fields[name].column_type[0], values))
            for name, values in zip(models.LOG_ACCESS_COLUMNS, (who, now, who, now))
        )
        self.env.cr.execute(
            SQL(
                "INSERT INTO %s (%s) SELECT * FROM unnest(%s)",
                SQL.identifier(Model._table),
                SQL(", ").join(SQL.identifier(name) for name in columns),
                SQL(", ").join(
                    SQL("%s::%s[]", values, SQL(kind)) for kind, values in columns.values()
                ),
            )
        )
        self._after_insert(records, names)
        return records

    @staticmethod
    def _with_defaults(Model, vals_list):
        """The fields to write and every row's values, defaults included."""
        given = {name for vals in vals_list for name in vals}
        defaults = Model.default_get(
            [name for name, field in Model._fields.items()
             if field.store and name not in given and name not in models.MAGIC_COLUMNS]
        )  # fmt: skip
        names = sorted(given | set(defaults))
        return names, [dict(dict.fromkeys(given), **defaults, **vals) for vals in vals_list]

    def _column(self, Model, name, rows):
        """(SQL type, values) of column ``name``, converted as ``create`` does."""
        field = Model._fields[name]
        if field.type in ("one2many", "many2many") or field.translate or field.company_dependent:
            raise ValueError(f"{Model._name}.{name}: not a plain column, use create()")
        if field.type != "monetary":
            return field.column_type[0], [
                field.convert_to_column_insert(row[name], Model, row) for row in rows
            ]
        # Monetary.convert_to_column_insert makes a new record per row to find its
        # currency: the same rounding, with one record per currency
        currency_name = field.get_currency_field(Model)
        currencies = {row[currency_name] for row in rows}
        currencies = {key: self.env["res.currency"].browse(key) for key in currencies}
        return field.column_type[0], [
            _rounded(currencies[row[currency_name]], row[name]) for row in rows
        ]

    def _after_insert(self, records, names):
        """What ``create`` does after its INSERT: stored computed fields to compute,
        one2many fields of the records' parents to read again."""
        for field in records._fields.values():
            if field.store and field.compute and field.name not in names:
                self.env.add_to_compute(field, records)
        for name in names:
            for inverse in self.pool.field_inverses[records._fields[name]]:
                self.env[inverse.model_name].invalidate_model([inverse.name])

    def _record_definitive(self, company, run_vals, lines, partner_levels, run=None):
        """Record a definitive edition: levels on documents and partners, a run
        (``run``: the one a planning job records, ``_create_run``).

        ``lines`` are run line values (with ``move_id``, ``level_before``,
        ``level_after``, ``date_before``); ``partner_levels`` maps partner to
        its new level. Locks first, checks nothing moved, then writes.
        """
        date = run_vals["date"]
        done = [
            line
            for line in lines
            if line.get("move_line_id")
            and line.get("outcome") not in ("skipped", "failed")
            # a call besides the letter keeps the level and date it found
            and self._moved(dict(line, date_after=line.get("date_after", date)))
        ]
        self._lock_documents({line["move_id"] for line in done}, run)
        self._check_unchanged(lines)
        partner_before = self._get_partner_states(company, partner_levels)
        for line in lines:
            state = partner_before.get(line["partner_id"])
            if state:
                line.setdefault("partner_level_before", state.level)
                line.setdefault("partner_date_before", state.last_date)
            line.setdefault("date_after", date)
        self._write_levels({line["move_line_id"]: line["level_after"] for line in done}, date)
        self._write_partner_levels(company, partner_levels, date)
        return self._create_run(run_vals, lines, run)

    def _record_run(self, company, run_type, options, lines):
        """Record a definitive run made in the click (letters already printed):
        ``lines`` are run line values, their ``outcome`` set (documents printed,
        deductions skipped, customers whose letter failed failed); the levels
        of the documents done and of their customers are written with the run."""
        done = [line for line in lines if line["outcome"] not in ("skipped", "failed")]
        return self._record_definitive(
            company,
            self._run_vals(company, run_type, options, done),
            lines,
            self._partner_levels(done),
        )

    def _run_vals(self, company, run_type, options, done_lines):
        return {
            "run_type": run_type,
            "company_id": company.id,
            "date": options["date"],
            "level": max((line["level_after"] for line in done_lines), default=0),
            "parameters": self._parameters_text(options),
        }

    @staticmethod
    def _by_date(rows):
        """{date: {record id: level}} of (record id, level, date) ``rows``: levels are
        written one date at a time (``_write_levels``, ``_write_partner_levels``)."""
        by_date = defaultdict(dict)
        for record_id, level, date in rows:
            by_date[date][record_id] = level
        return by_date

    @staticmethod
    def _partner_levels(lines):
        """Highest level per customer among the documents of ``lines`` (deductions
        give none)."""
        levels = defaultdict(int)
        for line in lines:
            if not line.get("is_deduction"):
                partner_id = line["partner_id"]
                levels[partner_id] = max(levels[partner_id], line["level_after"])
        return levels

    def _proposal_lines(self, proposal):
        """Run line values of every document of ``proposal``'s customers that have
        something due: documents to do, deductions skipped (listed, no level)."""
        groups = self._group_by_partner(proposal)
        deduction = self.env._("deduction")
        lines = []
        for partner_id, partner_groups in groups.items():
            if not any(group.selected for group in partner_groups):
                continue
            for group in partner_groups:
                for proposed in group.proposed:
                    item = proposed.item
                    lines.append(
                        self._item_line(partner_id, item, proposed.level)
                        | {"days_late": max(proposed.days_late, 0), "outcome": "planned"}
                    )
                for item in group.deductions:
                    lines.append(
                        self._item_line(partner_id, item, item.level)
                        | {"is_deduction": True, "outcome": "skipped", "reason": deduction}
                    )
        return lines

    @staticmethod
    def _item_line(partner_id, item, level_after):
        return {
            "partner_id": partner_id,
            "move_id": item.move_id,
            "move_line_id": item.id,
            "currency_id": item.currency_id,
            "due_date": item.due_date,
            "residual": item.residual,
            "level_before": item.level,
            "date_before": item.last_date,
            "level_after": level_after,
        }

    def _line_values(self, lines, outcome, channel="letter"):
        """Run line values of document ``lines`` (a review's or a composer's), their
        ``outcome`` given: deductions listed, skipped, their level kept; a review's
        lines carry their customer and proposed level."""
        deduction = self.env._("deduction")
        return [
            {
                "move_id": line.move_id.id,
                "move_line_id": line.move_line_id.id,
                "currency_id": line.currency_id.id,
                "due_date": line.due_date,
                "residual": line.residual,
                "level_before": line.level_before,
                "date_before": line.date_before,
                "days_late": line.days_late,
                "is_deduction": line.is_deduction,
                "channel": channel,
                "outcome": "skipped" if line.is_deduction else outcome,
                "reason": deduction if line.is_deduction else False,
                "level_after": line.level_before,
            }
            | self._line_proposal(line)
            for line in lines
        ]

    @staticmethod
    def _line_proposal(line):
        """The customer and the level a review's line proposes (none on a composer's)."""
        vals = {"partner_id": line.partner_id.id} if "partner_id" in line._fields else {}
        if "level_after" in line._fields and not line.is_deduction:
            vals["level_after"] = line.level_after
        return vals

    def _file_name(self, company, options, kind, extension):
        """A file of a dunning: "letters_My_Company_level_2_2026-03-31.pdf"."""
        name = self.env._(
            "%(kind)s_%(company)s_level_%(level)s_%(date)s",
            kind=kind,
            company="".join(ch if ch.isalnum() else "_" for ch in company.name),
            level=options.get("level") or self.env._("all"),
            date=options["date"],
        )
        return f"{name}.{extension}"

    def _check_level_manager(self):
        """Refuse a change of levels by hand (written by SQL) to anyone but a dunning
        manager: before anything of it is read."""
        check_manager(self.env, self.env._("Only dunning managers can change levels by hand."))

    def _check_level_change(self, company, options):
        """Refuse a change of levels by hand that cannot be made: no customer
        (``options['partners']``), one of another company, a level out of range,
        an inverted date range, a date the company refuses; anyone but a dunning
        manager (``_check_level_manager``)."""
        _ = self.env._
        self._check_level_manager()
        partners = options["partners"]
        if not partners:
            raise UserError(_("Choose at least one customer."))
        for partner in partners.filtered(lambda p: p.company_id and p.company_id != company):
            raise UserError(
                _(
                    "%(partner)s belongs to the company %(company)s, not to %(current)s.",
                    partner=partner.display_name,
                    company=partner.company_id.name,
                    current=company.name,
                )
            )
        top = engine.MAX_LEVEL
        if not -1 <= options["current_level"] <= top:
            raise UserError(
                _("The current level must be between 0 and %s, or -1 for any level.", top)
            )
        if not 0 <= options["new_level"] <= top:
            raise UserError(_("The new level must be between 0 and %s.", top))
        date_from, date_to = options["date_from"], options["date_to"]
        if date_from and date_to and date_from > date_to:
            raise UserError(
                _("The date range is inverted: 'Documents from' is after 'Documents to'.")
            )
        company._relance_check_date(options["date"])

    def _level_documents(self, company, options):
        """The level management's line values of the open échéances of customer
        invoices and credit notes of ``options['partners']`` whose level a manager
        may change: at ``options['current_level']`` (-1: any), invoiced from
        ``date_from`` to ``date_to``; by customer, date and due date."""
        domain = [
            ("company_id", "=", company.id),
            ("move_id.commercial_partner_id", "in", options["partners"].commercial_partner_id.ids),
            ("move_id.move_type", "in", ("out_invoice", "out_refund")),
            ("parent_state", "=", "posted"),
            ("move_id.payment_state", "in", ("not_paid", "partial", "blocked")),
            ("display_type", "=", "payment_term"),
            ("reconciled", "=", False),
            ("amount_residual_currency", "!=", 0),
        ]
        if options.get("current_level", -1) >= 0:
            domain.append(("relance_level", "=", options["current_level"]))
        if options.get("date_from"):
            domain.append(("move_id.invoice_date", ">=", options["date_from"]))
        if options.get("date_to"):
            domain.append(("move_id.invoice_date", "<=", options["date_to"]))
        names = ["move_id", "date_maturity", "amount_residual_currency", "currency_id"]
        names += ["relance_level", "relance_date"]
        lines = self.env["account.move.line"].search_fetch(domain, names)
        lines.move_id.fetch(["commercial_partner_id", "invoice_date", "name"])
        lines = lines.sorted(self._level_order)
        return [
            {
                "partner_id": line.move_id.commercial_partner_id.id,
                "move_id": line.move_id.id,
                "move_line_id": line.id,
                "invoice_date": line.move_id.invoice_date,
                "due_date": line.date_maturity or line.move_id.invoice_date_due,
                "residual": line.amount_residual_currency,
                "currency_id": line.currency_id.id,
                "level": line.relance_level,
                "level_date": line.relance_date,
            }
            for line in lines
        ]

    def _documents_to_change(self, company, options):
        """The level management's documents ready to be ticked
        (``_level_documents``); none: refused."""
        documents = self._level_documents(company, options)
        if not documents:
            raise UserError(self.env._("No open document matches these filters."))
        return documents

    @staticmethod
    def _level_order(line):
        """The level management's order: by customer, document, due date."""
        move = line.move_id
        due = line.date_maturity or move.invoice_date
        return (move.commercial_partner_id.id, move.invoice_date, move.name, move.id, due, line.id)

    def _change_levels(self, company, options, lines):
        """Use case: change levels by hand. The documents of ``lines`` (a level
        management's ticked lines) get ``options['new_level']`` on
        ``options['date']``, the customers' levels left as they are (as in Atys); a
        manual run records it, with ``options`` (the filters used) as its parameters."""
        if not lines:
            raise UserError(self.env._("Tick the documents whose level changes."))
        level, date = options["new_level"], options["date"]
        self._lock_documents(lines.move_id.ids)
        self._check_open_echeances(lines.move_line_id)
        run_lines = [
            {
                "partner_id": line.move_id.commercial_partner_id.id,
                "move_id": line.move_id.id,
                "move_line_id": line.move_line_id.id,
                "due_date": line.due_date,
                "level_before": line.move_line_id.relance_level,  # read once locked
                "date_before": line.move_line_id.relance_date,
                "level_after": level,
                "date_after": date,
                "residual": line.residual,
                "currency_id": line.currency_id.id,
                "channel": "none",
                "outcome": "changed",
            }
            for line in lines
        ]
        self._write_levels(dict.fromkeys(lines.move_line_id.ids, level), date)
        run_vals = {
            "run_type": "manual",
            "company_id": company.id,
            "date": date,
            "level": level,
            "parameters": self._parameters_text(options),
        }
        return self._create_run(run_vals, run_lines)

    def _check_open_echeances(self, echeances):
        """Refuse a level by hand on an échéance already paid (or no longer open)."""
        echeances.invalidate_recordset(["reconciled", "amount_residual_currency"])
        paid = echeances.filtered(
            lambda line: line.reconciled or line.currency_id.is_zero(line.amount_residual_currency)
        )
        if paid:
            raise UserError(
                self.env._(
                    "These instalments are already paid: their dunning level cannot be "
                    "changed: %s.",
                    ", ".join(
                        f"{line.move_id.display_name} ({format_date(self.env, line.date_maturity)})"
                        for line in paid
                    ),
                )
            )

    # -- background runs (queue_job) ----------------------------------------------

    def _plan_run(self, company, run_type, options, lines, run=None):
        """Record a run to be done in the background, and nothing else yet.

        ``lines`` are run line values; those whose ``outcome`` is ``planned``
        are the jobs' to do. Their documents are guarded first (locked, or held
        by another background run: refused at once); their customers are cut
        in batches (``_batches``). The run is queued, its lines keep the levels
        before (the customers' too) and after; no level is written here.
        ``run``: the run a planning job plans (recorded by the click), else a
        new one.
        """
        todo = [line for line in lines if line["outcome"] == "planned"]
        self._lock_documents({line["move_id"] for line in todo if line.get("move_id")}, run)
        self._check_unchanged(todo)
        batches = self._batches(todo, EMAIL_BATCH_DOCUMENTS if run_type == "email" else None)
        before = self._get_partner_states(company, {line["partner_id"] for line in lines})
        for line in lines:
            state = before.get(line["partner_id"])
            if state:
                line.setdefault("partner_level_before", state.level)
                line.setdefault("partner_date_before", state.last_date)
            line.setdefault("date_after", options["date"])
            if line["partner_id"] in batches:
                line["batch"] = batches[line["partner_id"]]
        vals = dict(
            self._run_vals(company, run_type, options, todo),
            state="queued",
            progress_total=len(set(batches)),
        )
        if run:
            run.write({name: vals[name] for name in ("state", "level", "progress_total")})
            self._release_hold(run)
        else:
            run = self.env["relance.run"].sudo().create(vals)
        # in one INSERT, not create's third of a millisecond a line (4,400 lines for
        # 1,000 customers by email); the lines have no create override nor constraint
        self._insert_run_lines(run, lines)
        return run

    # what a planning job enqueues, by run type: (model, batch method, channel, label)
    def _run_jobs(self, run):
        if run.run_type == "email":
            label = self.env._("dunning mails")
            return self.env["relance.mailer"], "_send_batch", "root.relance.email", label
        return self, "_print_batch", "root.relance.letter", self.env._("letters")

    def _background_planning_from(self):
        """Customers above which an email run is planned by a job:
        BACKGROUND_PLANNING_FROM, or the system parameter
        ``relance_atys.background_planning_from``."""
        return self._count_parameter("background_planning_from", BACKGROUND_PLANNING_FROM)

    def _count_parameter(self, name, default):
        """The system parameter ``relance_atys.<name>`` as a whole number, else ``default``."""
        value = self.env["ir.config_parameter"].sudo().get_param(f"relance_atys.{name}")
        return int(value) if value and value.isdigit() else default

    def _start_planning(self, company, run_type, options, edition, partner_ids):
        """The click of a large background run from the review ``edition``: refused
        at once when another run at work holds one of ``partner_ids`` (its ticked
        customers); else the run recorded "planning", holding them, and its
        planning job enqueued (``_plan_job``). A few queries, whatever the number
        of customers. Returns the run."""
        self._check_not_held(company, partner_ids)
        run = (
            self.env["relance.run"]
            .sudo()
            .create(
                dict(
                    self._run_vals(company, run_type, options, []),
                    state="planning",
                    progress_total=len(partner_ids),
                )
            )
        )
        self.env.cr.execute(
            "INSERT INTO relance_run_held_partner_rel (run_id, partner_id) "
            "SELECT %s, unnest(%s::int[])",
            [run.id, partner_ids],
        )
        run.invalidate_recordset(["held_partner_ids"])
        self.with_delay(
            channel="root.relance",
            priority=5,  # before the batches of the runs already at work
            identity_key=f"relance.run({run.id}).plan",
            description=self.env._("%s: planning", run.name),
        )._plan_job(run, edition)
        return run

    def _check_not_held(self, company, partner_ids):
        """Refuse at once customers that a run of ``company`` at work holds: one
        being planned (its customers), or one with a line of theirs still to do."""
        self.env["relance.run.line"].flush_model(["partner_id", "outcome", "run_id"])
        self.env.cr.execute(
            """
            SELECT r.name FROM relance_run r
             WHERE r.state IN ('planning', 'queued', 'running') AND r.company_id = %(company)s
               AND r.id IN (SELECT h.run_id FROM relance_run_held_partner_rel h
                             WHERE h.partner_id = ANY(%(partners)s)
                             UNION
                            SELECT l.run_id FROM relance_run_line l
                             WHERE l.partner_id = ANY(%(partners)s) AND l.outcome = 'planned')
             ORDER BY r.id
            """,
            {"company": company.id, "partners": partner_ids},
        )
        held = [row[0] for row in self.env.cr.fetchall()]
        message = self.env._(
            "Run %s is dunning some of these customers in the background: wait "
            "until it has finished, then run the proposal again."
        )
        self._refuse_held(held, message)

    def _release_hold(self, run):
        """The customers a run being planned held: its lines hold them from now on
        (or the run failed)."""
        self.env.cr.execute("DELETE FROM relance_run_held_partner_rel WHERE run_id = %s", [run.id])
        run.invalidate_recordset(["held_partner_ids"])

    def _plan_job(self, run, edition):
        """Job: plan ``run`` (recorded "planning" by the click) from the review
        ``edition``: its lines, the guards of the click made small (documents
        locked, levels unchanged), its batches' jobs and its closing job, all in
        this job's transaction. Run again (its worker killed, or queue_job
        retrying), it plans what is not planned yet: nothing twice. Refused (a
        document dunned since the review, say): the run fails with the reason."""
        self._hold_job()
        self.env.cr.execute("SELECT state FROM relance_run WHERE id = %s FOR UPDATE", [run.id])
        run.invalidate_recordset()
        if run.state != "planning":
            return "already planned"
        if not edition.exists():
            reason = self.env._("the review it came from no longer exists: review again")
            return self._fail_planning(run, reason)
        self.env.cr.execute(
            "SELECT partner_id FROM relance_run_held_partner_rel WHERE run_id = %s", [run.id]
        )
        held = {row[0] for row in self.env.cr.fetchall()}
        partner_ids = self._ticked_customers(edition, self.env._("No customer is ticked."))
        partner_ids = [partner_id for partner_id in partner_ids if partner_id in held]
        lines = self._ticked_line_values(edition, partner_ids, run.run_type)
        try:
            with self.env.cr.savepoint():
                self._plan_lines(run, lines)
        except UserError as error:
            if isinstance(error.__cause__, pg_errors.LockNotAvailable):
                # a definitive run of a few customers is recording in a click: soon done
                raise RetryableJobError("documents locked", seconds=5) from error
            return self._fail_planning(run, str(error))
        if run.run_type == "call":
            return f"{len(partner_ids)} customer(s): calls planned"
        self._enqueue_run(run, *self._run_jobs(run))
        return f"{run.progress_total} customer(s) planned"

    def _plan_lines(self, run, lines):
        """What a planning job records of ``run`` from its ``lines``: its calls (the
        use case itself, done in the job: ``relance.call._plan_calls``), else its
        lines planned for the batch jobs (``_plan_run``)."""
        options = {"date": run.date}
        if run.run_type == "call":
            self.env["relance.call"]._plan_calls(run.company_id, options, lines, run)
            return
        if run.run_type == "email":
            self.env["relance.mailer"]._skip_unmailable(lines)
        self._plan_run(run.company_id, run.run_type, options, lines, run)

    def _fail_planning(self, run, reason):
        """A run whose planning was refused: failed with the reason, nothing recorded,
        its customers free again; the user who started it told."""
        self._release_hold(run)
        run.write({"state": "failed"})
        message = self.env._("Not planned: %s", reason)
        run.message_post(body=message)
        run.user_id._bus_send(
            "simple_notification",
            {
                "type": "danger",
                "title": self.env._("Dunning run %s", run.name),
                "message": message,
                "sticky": True,
            },
        )
        return message

    def _batches(self, lines, max_documents=None):
        """{customer id: its batch number} for the customers of ``lines``, in
        their order: BATCH_SIZE customers a batch, a smaller run in two so that
        two job workers share it, and a batch closed before it would pass
        ``max_documents`` documents (a customer with more has a batch of its own)."""
        documents = defaultdict(int)
        for line in lines:
            documents[line["partner_id"]] += bool(line.get("move_id"))
        size = min(self._batch_size(), max(-(-len(documents) // 2), 1))
        batches, number, customers, count = {}, 1, 0, 0
        for partner_id, partner_documents in documents.items():
            full = customers >= size or (
                max_documents and count + partner_documents > max_documents
            )
            if customers and full:
                number, customers, count = number + 1, 0, 0
            batches[partner_id] = number
            customers, count = customers + 1, count + partner_documents
        return batches

    def _batch_size(self):
        """Customers per job: BATCH_SIZE, or the system parameter
        ``relance_atys.batch_size``."""
        return max(self._count_parameter("batch_size", BATCH_SIZE), 1)

    def _background_letters_from(self):
        """Customers above which a definitive edition prints in the background:
        BACKGROUND_LETTERS_FROM, or the system parameter
        ``relance_atys.background_letters_from``."""
        return self._count_parameter("background_letters_from", BACKGROUND_LETTERS_FROM)

    def _print_letters(self, company, options, edition):
        """Use case: the definitive letters of the customers the review ``edition``
        ticked (their ticked documents), their levels and a run.

        Beyond ``_background_letters_from`` customers the run is planned and
        printed in the background (``_start_planning``): the click returns at
        once. Else the letters are printed in the click and recorded with the
        run, all or nothing, but for the customers whose letter fails: their
        lines are recorded failed, no level. ``options`` are the run's (the
        ``template`` and ``subtotal_due`` among them). Returns the run.
        """
        nothing = self.env._("No customer is ticked: nothing to print.")
        partner_ids = self._definitive_customers(company, options, edition, nothing)
        if len(partner_ids) > self._background_letters_from():
            return self._start_planning(company, "letter", options, edition, partner_ids)
        lines = self._ticked_lines(edition, partner_ids)
        letters = self.env["relance.letter"]
        pdf, failures = letters._render(
            letters._letters(company, options["date"], lines), options, definitive=True
        )
        printed = lines.filtered(lambda line: line.partner_id not in failures)
        vals = self._line_values(printed, "printed") + self._failed_letter_values(lines, failures)
        run = self._record_run(company, "letter", options, vals)
        name = self._file_name(company, options, self.env._("letters"), "pdf")
        run.attachment_id = self._run_file(run, name, pdf)
        done = [line for line in vals if line["outcome"] == "printed"]
        self._post_letters(run, self._partner_levels(done), run.attachment_id)
        return run

    def _failed_letter_values(self, lines, failures):
        """The run line values of the ``lines`` of the customers whose letter failed
        (``failures``: {customer: error}): failed with the error, no level."""
        vals = []
        for partner, error in failures.items():
            failed = lines.filtered(lambda line, p=partner: line.partner_id == p)
            vals += [
                dict(line, level_after=line["level_before"], reason=error[:500])
                for line in self._line_values(failed, "failed")
            ]
        return vals

    def _post_letters(self, run, partner_levels, attachment):
        """A note with the letters on each customer's chatter ({partner id: level}),
        all logged at once. A dunning manager may not edit customers: the notes are
        logged as sudo, signed by the user."""
        body = self.env._("Dunning letter (level %(level)s) recorded by run %(run)s.")
        bodies = {
            partner_id: body % {"level": level, "run": run.name}
            for partner_id, level in partner_levels.items()
        }
        partners = self.env["res.partner"].browse(list(partner_levels))
        messages = partners._message_log_batch(bodies, author_id=self.env.user.partner_id.id)
        messages.attachment_ids = [Command.link(attachment.id)]

    def _print_batch(self, run, batch):
        """Job: the letters of one batch of customers of ``run`` (one PDF attached
        to the run), and their levels. Idempotent as ``_send_batch``: customers
        already printed or failed are skipped. A customer whose letter fails gets
        no level; its lines are failed with the error."""
        lines = self._batch_lines(run, batch)
        todo = lines.filtered(lambda line: line.outcome == "planned")
        if not todo:
            return "nothing left to do"
        letters = self.env["relance.letter"]
        todo_lines = lines.filtered(lambda line: line.partner_id in todo.partner_id)
        try:
            pdf, failures = letters._render(
                letters._letters(run.company_id, run.date, todo_lines),
                json.loads(run.parameters or "{}"),
                definitive=True,
            )
        except UserError as error:  # no letter at all, or wkhtmltopdf made nothing
            self._fail_lines(todo, str(error))
            return "no letter produced"
        for partner, error in failures.items():
            self._fail_lines(todo.filtered(lambda line, p=partner: line.partner_id == p), error)
        printed = todo.filtered(lambda line: line.partner_id not in failures)
        printed.outcome = "printed"
        name = f"{self._letters_file_prefix(run)}-{batch:04d}.pdf"
        attachment = self._run_file(run, name, pdf)
        self._post_letters(run, self._write_run_levels(run, printed), attachment)
        return f"{len(printed.partner_id)} letter(s) printed"

    def _run_file(self, run, name, data):
        """``data`` attached to ``run`` as the file ``name``."""
        return self.env["ir.attachment"].create(
            {"name": name, "raw": data, "res_model": "relance.run", "res_id": run.id}
        )

    @staticmethod
    def _letters_file_prefix(run):
        return run.name.replace("/", "_")

    def _merge_letters(self, run):
        """The run's document: its batches' PDFs in one file, when they are not
        too large to merge in memory; else the run keeps one PDF per batch (its
        attachments), the document left empty."""
        prefix = self._letters_file_prefix(run)
        parts = self.env["ir.attachment"].search(
            [
                ("res_model", "=", "relance.run"),
                ("res_id", "=", run.id),
                ("name", "=like", f"{prefix}-%"),
            ],
            order="name",
        )
        if len(parts) == 1:
            run.attachment_id = parts
        elif parts and sum(parts.mapped("file_size")) <= MERGE_MAX_BYTES:
            # the batches' PDFs stay: each customer's note links its own
            run.attachment_id = self._run_file(run, f"{prefix}.pdf", merge_pdf(parts.mapped("raw")))

    def _enqueue_run(self, run, job_model, method_name, channel, label):
        """One job per batch of ``run`` (``job_model.method_name(run, batch)``), and
        the job that closes the run once every batch is through."""
        batches = sorted(set(run.line_ids.mapped("batch")) - {0})
        for batch in batches:
            key = f"relance.run({run.id}).{batch}"
            delayable = self._batch_job(
                job_model, run, key, (label, batch, len(batches)), channel=channel, priority=10
            )
            getattr(delayable, method_name)(run, batch)
        self.with_delay(
            channel="root.relance",
            # before the batches: it takes a free slot as soon as its next look is due
            # (every FINISH_RETRY_SECONDS), so that a batch a dead worker left is
            # queued again while the others work, not once they are all done
            priority=5,
            identity_key=f"relance.run({run.id}).end",
            description=self.env._("%s: end of the run", run.name),
        )._finish_run(run)

    def _enqueue_batches(self, run, model, method_name, key, label, items, size):
        """``items`` in batches of ``size``, one job ``model.method_name(run, batch,
        number, count)`` each, keyed ``relance.run(<id>).<key>.<number>`` so that
        a batch is enqueued once however many clicks; the number of batches."""
        batches = [items[start : start + size] for start in range(0, len(items), size)]
        for number, batch in enumerate(batches, 1):
            identity_key = f"relance.run({run.id}).{key}.{number}"
            delayable = self._batch_job(
                model, run, identity_key, (label, number, len(batches)), channel="root.relance"
            )
            getattr(delayable, method_name)(run, batch, number, len(batches))
        return len(batches)

    def _batch_job(self, model, run, identity_key, batch, **options):
        """``model`` delayed for one batch of ``run``, enqueued once
        (``identity_key``): ``batch`` is (label, number, count), the job's name
        after the run's; ``options`` as ``with_delay`` takes them."""
        label, number, count = batch
        description = self.env._(
            "%(run)s: %(label)s, batch %(batch)s / %(count)s",
            run=run.name,
            label=label,
            batch=number,
            count=count,
        )
        return model.with_delay(identity_key=identity_key, description=description, **options)

    def _batch_lines(self, run, batch):
        """The lines of one batch of ``run``, locking this job's row (see
        ``_requeue_dead_jobs``) and marking the run running."""
        self._hold_job()
        self._requeue_dead_jobs()  # a batch of this run or another one a dead worker left
        if run.state == "queued":
            self._mark_running(run)
        return (
            self.env["relance.run.line"]
            .sudo()
            .search([("run_id", "=", run.id), ("batch", "=", batch)])
        )

    @contextmanager
    def _own_transaction(self):
        """A cursor committed on its own, apart from the job's transaction (the
        test's own cursor in tests, where nothing is committed)."""
        if self._in_test_mode():
            yield self.env.cr
            return
        with self.env.registry.cursor() as cr:
            yield cr

    def _hold_job(self):
        """Hold an advisory lock named after the job being performed until its
        transaction ends (PostgreSQL drops it if the worker dies). Not a lock on
        its queue_job row: queue_job postpones a job to retry from another
        cursor while this transaction still runs, and would wait for it."""
        uuid = self.env.context.get("job_uuid")
        if uuid:
            self.env.cr.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [JOB_LOCK_SPACE, uuid]
            )

    def _mark_running(self, run):
        """Say a run is at work, in a transaction of its own committed at once:
        several jobs of the run start together, and one that kept the run's row
        until its end would make the others fail (concurrent update)."""
        with self._own_transaction() as cr:
            cr.execute(
                "UPDATE relance_run SET state = 'running' WHERE id = %s AND state = 'queued'",
                [run.id],
            )
        run.invalidate_recordset(["state"])

    def _write_run_levels(self, run, lines):
        """The levels ``lines`` (done by a job of ``run``) give their documents and
        customers; returns the customers' ({partner id: level})."""
        done = lines.filtered(lambda line: not line.is_deduction)
        self._write_levels({line.move_line_id.id: line.level_after for line in done}, run.date)
        partner_levels = self._partner_levels(
            [{"partner_id": line.partner_id.id, "level_after": line.level_after} for line in done]
        )
        self._write_partner_levels(run.company_id, partner_levels, run.date)
        return partner_levels

    def _fail_lines(self, lines, reason):
        """Lines whose document could not be produced: failed with the reason, their
        levels as they were."""
        for line in lines:
            line.write(
                {
                    "outcome": "failed",
                    "reason": (reason or "")[:500],
                    "level_after": line.level_before,
                    "date_after": line.date_before,
                }
            )

    def _finish_run(self, run):
        """Job: close ``run`` once no line is left to do; until then, run again
        what dead workers left and look again a little later."""
        self._hold_job()
        self._requeue_dead_jobs()
        lines = self.env["relance.run.line"].sudo()
        if lines.search_count([("run_id", "=", run.id), ("outcome", "=", "planned")], limit=1):
            raise RetryableJobError(
                "batches still at work", seconds=FINISH_RETRY_SECONDS, ignore_retry=True
            )
        if run.run_type == "letter":
            self._merge_letters(run)
        self._refresh_run_states(run, closing=True)
        self._notify_end(run)
        return run.state

    def _hasten_end(self, run):
        """A batch of ``run`` is through: once this job's transaction is committed,
        the job closing the run is due at once (queue_job's runner hears of the
        change), not at its next look, up to FINISH_RETRY_SECONDS later. After the
        commit and in a transaction of its own: the end job rewrites its row at
        each look, which the batch's older snapshot could not update (serialization
        failure); if it is being rewritten right then, it looks again soon anyway."""
        key = f"relance.run({run.id}).end"

        def wake():
            with contextlib.suppress(psycopg2.Error), self._own_transaction() as cr:
                cr.execute(
                    "UPDATE queue_job SET eta = NULL WHERE identity_key = %s"
                    " AND state = 'pending' AND eta IS NOT NULL",
                    [key],
                )

        self.env.cr.postcommit.add(wake)

    def _refresh_run_states(self, runs, closing=False):
        """State and level of ``runs`` from their lines: the highest level still
        recorded; done, done with failures, or failed when nothing was recorded
        (its mails all failed). Runs at work are left to their closing job
        (``closing``)."""
        for run in runs.sudo():
            working = run.state in ("planning", "queued", "running")
            if run.state == "cancelled" or (working and not closing):
                continue
            outcomes = set(run.line_ids.mapped("outcome"))
            if "planned" in outcomes:
                continue
            recorded = run.line_ids.filtered(
                lambda line: line.move_id and line.outcome in ("queued", "sent", "printed")
            )
            failed = "failed" in outcomes
            state = "partial" if failed and recorded else "failed" if failed else "done"
            vals = {
                "state": state,
                "level": max(recorded.mapped("level_after"), default=0),
                "progress_done": run.progress_total,
            }
            if any(run[name] != value for name, value in vals.items()):
                run.write(vals)

    def _notify_end(self, run):
        """Tell the user who started ``run`` that it is over."""
        _ = self.env._
        kind = {"done": "success", "partial": "warning", "failed": "danger"}[run.state]
        run.user_id._bus_send(
            "simple_notification",
            {
                "type": kind,
                "title": _("Dunning run %s", run.name),
                "message": _(
                    "%(state)s: %(done)s done, %(failed)s failed.",
                    state=dict(run._fields["state"]._description_selection(self.env))[run.state],
                    done=run.done_count,
                    failed=run.failed_count,
                ),
                "sticky": run.state != "done",
            },
        )
        run.message_post(body=_("Run over: %s.", run.progress_text or run.state))

    def _requeue_dead_jobs(self):
        """Put back in the queue the jobs of dunning runs that a dead worker left
        'started' (SIGKILL, out of memory, a server that crashed).

        A job of a run holds an advisory lock named after it while it works
        (``_hold_job``); PostgreSQL releases the locks of a connection whose
        process died. A started job whose lock nobody holds is such a job: it runs
        again, and being idempotent (lines already done are skipped), does only
        what the dead one had not committed. Committed at once, in a transaction
        of its own. queue_job 18.0.1.6.1 leaves such jobs 'started' for ever.

        Each time counts as a try (queue_job's ``retry``): a job killed as many
        times as its ``max_retries`` (a batch longer than the server's time limit,
        a worker out of memory at each try) is given up instead of run for ever:
        failed, its customers failed on the run with the reason, as when
        queue_job gives up a job that raised.
        """
        with self._own_transaction() as cr:
            cr.execute(
                """
                WITH started AS MATERIALIZED (
                    SELECT id, uuid, retry, max_retries FROM queue_job
                     WHERE state = 'started' AND model_name || '.' || method_name = ANY(%s)
                       AND date_started < (now() at time zone 'UTC') - make_interval(secs => %s)
                )
                SELECT id, uuid, retry + 1 >= COALESCE(NULLIF(max_retries, 0), 2147483647)
                  FROM started
                 WHERE pg_try_advisory_xact_lock(%s, hashtext(uuid))
                """,
                [self._run_job_names(), DEAD_JOB_SECONDS, JOB_LOCK_SPACE],
            )
            dead = cr.fetchall()
            self._queue_again(cr, [row for row in dead if not row[2]])
        self._give_up_jobs([row for row in dead if row[2]])
        return len(dead)

    @staticmethod
    def _run_job_names():
        """The jobs of dunning runs, as "model.method" (``RUN_JOB_METHODS``)."""
        return [f"{model}.{name}" for model, names in RUN_JOB_METHODS.items() for name in names]

    @staticmethod
    def _queue_again(cr, rows):
        """Put the dead jobs of ``rows`` (id, uuid, ...) back in the queue, one try
        more (``_requeue_dead_jobs``)."""
        if not rows:
            return
        cr.execute(
            "UPDATE queue_job SET state = 'pending', date_enqueued = NULL, "
            "date_started = NULL, worker_pid = NULL, retry = retry + 1 "
            "WHERE id = ANY(%s)",
            [[row[0] for row in rows]],
        )
        _logger.warning(
            "Dunning jobs left started by a dead worker, queued again: %s",
            ", ".join(row[1] for row in rows),
        )

    def _give_up_jobs(self, rows):
        """Fail the jobs of ``rows`` (id, uuid, ...) the server killed at each of
        their tries: the write fails their customers on the run (``queue.job``)."""
        if not rows:
            return
        _logger.error(
            "Dunning jobs stopped by the server at each try, given up: %s",
            ", ".join(row[1] for row in rows),
        )
        reason = self.env._("stopped by the server at each of its tries (time limit or crash)")
        self.env["queue.job"].sudo().browse([row[0] for row in rows]).write(
            {"state": "failed", "exc_name": "WorkerKilled", "exc_message": reason}
        )

    def _jobs_failed(self, jobs):
        """queue_job gave up a batch: its customers not done are failed on the run
        with the reason (their levels were never written: the batch's transaction
        was rolled back); the other batches go on."""
        for job in jobs:
            if (job.model_name, job.method_name) == ("relance.service", "_plan_job"):
                run = job.args[0] if job.args else self.env["relance.run"]
                if run.exists() and run.state == "planning":
                    reason = job.exc_message or job.exc_name or self.env._("the job failed")
                    self._fail_planning(run, reason)
                continue
            batch_job = (job.model_name, job.method_name) in (
                ("relance.mailer", "_send_batch"),
                ("relance.service", "_print_batch"),
            )
            if not batch_job or len(job.args or ()) != 2:
                continue
            run, batch = job.args
            lines = (
                self.env["relance.run.line"]
                .sudo()
                .search(
                    [("run_id", "=", run.id), ("batch", "=", batch), ("outcome", "=", "planned")]
                )
            )
            reason = job.exc_message or job.exc_name or self.env._("the job failed")
            self._fail_lines(lines, self.env._("Job failed: %s", reason))

    def _cron_requeue_dead_jobs(self):
        self._requeue_dead_jobs()

    @staticmethod
    def _parameters_text(options):
        """Readable JSON of what the user asked, kept on the run."""

        def plain(value):
            if isinstance(value, models.BaseModel):
                return value.mapped("display_name")
            if hasattr(value, "isoformat"):
                return value.isoformat()
            return value

        return json.dumps(
            {
                key: plain(value)
                for key, value in options.items()
                if value is not None
                and value is not False
                and not (isinstance(value, str | list | tuple) and not value)
            },
            ensure_ascii=False,
            indent=1,
            default=str,
        )

    # -- scheduled dunning ------------------------------------------------------

    def _cron_relance_email(self, as_of=None):
        """Send the due dunning emails of every company that asked for it.

        The same use case as a user's email mode (``_send_scheduled_emails``).
        One company refused does not stop the others: the refusal is logged as
        a warning with its reason; each company commits on its own.
        """
        for company in self.env["res.company"].search([("relance_auto_email", "=", True)]):
            try:
                with self.env.cr.savepoint():
                    as_company(self, company)._send_scheduled_emails(company, as_of)
            except UserError as error:
                _logger.warning("Scheduled email dunning of %s refused: %s", company.name, error)
            if not self._in_test_mode():
                self.env.cr.commit()  # pylint: disable=invalid-commit

    def _send_scheduled_emails(self, company, as_of):
        """Use case: the scheduled email dunning of ``company`` on ``as_of``.

        The proposal, the customers that can receive a mail, one run sent by jobs.
        Under the sequential rule, which sends one level at a time, each level N
        goes to the customers at level N-1, every level in the same run.
        Returns the run, or None when nothing is due.
        """
        # the rule is kept on the run: its parameters say which one it followed
        options = {"date": as_of or fields.Date.context_today(self), "rule": company.relance_rule}
        if company.relance_rule == "sequential":
            numbers = self._get_levels(company).mapped("number")
        else:
            numbers = [None]
        mailer = self.env["relance.mailer"]
        lines = []
        for number in numbers:
            proposal = self._propose(company, dict(options, level=number))
            lines += self._proposal_lines(proposal)
        lines, calls = self.env["relance.call"]._split_calls(company, lines)
        if calls:  # the levels that are a phone call: the collectors' activities
            self.env["relance.call"]._plan_calls(company, dict(options, scheduled=True), calls)
        partners = self.env["res.partner"].browse({line["partner_id"] for line in lines})
        sendable = {partner.id for partner in partners if not mailer._no_mail_reason(partner)}
        lines = [line for line in lines if line["partner_id"] in sendable]
        if not any(line["outcome"] == "planned" for line in lines):
            _logger.info("Scheduled email dunning of %s: nothing due", company.name)
            return None
        return mailer._send_run(company, dict(options, mode="email", scheduled=True), lines)

    @staticmethod
    def _in_test_mode():
        return bool(modules.module.current_test or tools.config["test_enable"])

    # -- cancelling -----------------------------------------------------------

    def _cancel_runs(self, runs):
        """Use case: cancel ``runs``, the latest first (managers only); runs of more
        than BACKGROUND_LINES_FROM lines are cancelled by a job."""
        check_manager(self.env, self.env._("Only dunning managers can cancel a run."))
        if len(runs.sudo().line_ids) > BACKGROUND_LINES_FROM:
            for run in runs:
                self._check_cancellable(run)
            return self._in_background(
                runs, "_cancel_runs_now", self.env._("Cancelling in the background: %s."), runs
            )
        return self._cancel_runs_now(runs)

    def _cancel_runs_now(self, runs):
        """Cancel ``runs`` here, the latest first (the job of a large cancellation:
        calling ``_cancel_runs`` again would enqueue itself for ever)."""
        for run in runs.sorted("id", reverse=True):
            self._cancel_run(run)
        return True

    def _in_background(self, runs, method_name, message, *args, model=None):
        """Enqueue ``model.method_name(*args)`` as one job of ``runs`` (enqueued once
        however many clicks); tell the user."""
        names = ", ".join(runs.mapped("name"))
        delayable = (self if model is None else model).with_delay(
            channel="root.relance",
            identity_key=f"relance.run({','.join(map(str, runs.ids))}).{method_name}",
            description=f"{names}: {method_name}",
        )
        getattr(delayable, method_name)(*args)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "info", "message": message % names, "sticky": False},
        }

    def _check_cancellable(self, run):
        if run.state not in ("done", "partial") or run.run_type not in LEVEL_RUN_TYPES:
            raise UserError(
                self.env._(
                    "Run %s cannot be cancelled: only done runs that recorded levels can.",
                    run.name,
                )
            )

    def _cancel_run(self, run):
        """Give documents and partners back the level they had before ``run``."""
        self._check_cancellable(run)
        lines = run.line_ids.filtered(
            lambda line: line.outcome not in ("skipped", "failed") and line.level_moved
        )
        self._lock_documents(lines.move_id.ids)
        later = self._get_later_line(run, lines)
        if later:
            raise UserError(
                self.env._(
                    "Run %(run)s cannot be cancelled: run %(later)s has changed the level "
                    "of the same documents or customers since. Cancel %(later)s first.",
                    run=run.name,
                    later=later.run_id.name,
                )
            )
        self.env["relance.penalty.invoice"]._check_cancellable(run)
        self._restore_documents(lines)
        self.env["relance.penalty.invoice"]._cancel_moves(run)
        if run.run_type != "manual":
            self._restore_partners(run.company_id, lines)
        self._stop_queued_mails(run)
        self.env["relance.call"]._cancel_run_calls(run)
        run.write(
            {
                "state": "cancelled",
                "cancelled_by_id": self.env.uid,
                "cancel_date": fields.Datetime.now(),
            }
        )
        run.message_post(body=self.env._("Run cancelled: previous levels restored."))
        self._post_cancellation(run, lines)

    def _stop_queued_mails(self, run):
        """The mails of ``run`` still waiting in the queue do not leave any more; their
        lines say so (« Annulé »), not « En file d'attente » for ever."""
        mails = run.line_ids.mail_id.sudo().filtered(lambda mail: mail.state == "outgoing")
        mails.write({"state": "cancel"})
        run.line_ids.filtered(
            lambda line: line.outcome == "queued" and line.mail_id in mails
        ).outcome = "cancelled"

    def _post_cancellation(self, run, lines):
        """A note on the chatter of every customer of ``run``, logged all at once,
        as its letters or mails were: the cancellation shows beside them."""
        partners = lines.partner_id
        if not partners:
            return
        body = self.env._(
            "Dunning run %(run)s cancelled by %(user)s: the levels it had recorded "
            "were given back.",
            run=run.name,
            user=self.env.user.name,
        )
        partners._message_log_batch(
            dict.fromkeys(partners.ids, body), author_id=self.env.user.partner_id.id
        )

    def _get_later_line(self, run, lines):
        """A line of a later, not cancelled run that moved a level ``lines`` recorded.

        Documents are checked for every run; customers only when ``run`` set
        their level (not a manual run), against later runs that set it too.
        """
        touched = [("move_line_id", "in", lines.move_line_id.ids)]
        if run.run_type != "manual":
            touched = expression.OR(
                [
                    touched,
                    [("partner_id", "in", lines.partner_id.ids), ("run_type", "!=", "manual")],
                ]
            )
        domain = [
            ("run_id", ">", run.id),
            ("company_id", "=", run.company_id.id),
            ("run_id.state", "!=", "cancelled"),
            ("run_type", "in", LEVEL_RUN_TYPES),
            ("outcome", "not in", ("skipped", "failed")),
            ("level_moved", "=", True),
        ]
        return (
            self.env["relance.run.line"]
            .sudo()
            .search(expression.AND([domain, touched]), order="run_id", limit=1)
        )

    def _restore_documents(self, lines):
        """Échéances' previous level and date: one UPDATE per previous date."""
        rows = [
            (line.move_line_id.id, line.level_before, line.date_before or None)
            for line in lines.filtered("move_line_id")
        ]
        for date, moves_levels in self._by_date(rows).items():
            self._write_levels(moves_levels, date)

    def _restore_partners(self, company, lines):
        """Customers' previous level and date: one write per previous level and date."""
        rows = [
            (line.partner_id.id, line.partner_level_before, line.partner_date_before)
            for line in lines.filtered("partner_id")
        ]
        for date, partner_levels in self._by_date(rows).items():
            self._write_partner_levels(company, partner_levels, date)

    def _resend_failed(self, runs):
        return self.env["relance.mailer"]._resend_failed(runs)

"""The one dunning service behind every wizard and scheduled action.

It gathers a company's open items in a few set-based queries, hands them to the
pure engine (``relance_atys.engine``) and writes what the engine decided. The
edition wizard, the email mode, the composer and the cron only call it.
"""

import gc
import json
import logging
from collections import defaultdict
from contextlib import contextmanager

from psycopg2 import errors as pg_errors

from odoo import fields, models, modules, tools
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL

from .. import engine

# Runs that record levels, and so can be cancelled.
LEVEL_RUN_TYPES = ("letter", "email", "manual")

_logger = logging.getLogger(__name__)

# Open documents of a company: posted customer invoices and credit notes with a
# residual (in their own currency), plus receivable lines of payments and other
# entries that nothing has reconciled yet (deductions).
OPEN_ITEMS_SQL = """
    SELECT m.id, m.commercial_partner_id, m.currency_id,
           COALESCE(m.invoice_date_due, m.invoice_date, m.date),
           CASE WHEN m.move_type = 'out_refund' THEN -m.amount_residual
                ELSE m.amount_residual END,
           COALESCE(m.relance_level, 0), m.relance_date,
           COALESCE(m.relance_excluded, false), m.payment_state = 'blocked'
      FROM account_move m
      JOIN res_partner p ON p.id = m.commercial_partner_id
     WHERE m.company_id = %(company)s
       AND m.state = 'posted'
       AND m.move_type IN ('out_invoice', 'out_refund')
       AND m.payment_state IN ('not_paid', 'partial', 'blocked')
       AND m.amount_residual > 0
       {move_filter}
    UNION ALL
    SELECT l.move_id, p.id, l.currency_id, MIN(l.date),
           SUM(l.amount_residual_currency), 0, NULL, false, false
      FROM account_move_line l
      JOIN account_move m ON m.id = l.move_id
      JOIN account_account a ON a.id = l.account_id
      JOIN res_partner lp ON lp.id = l.partner_id
      JOIN res_partner p ON p.id = lp.commercial_partner_id
     WHERE l.company_id = %(company)s
       AND l.parent_state = 'posted'
       AND a.account_type = 'asset_receivable'
       AND NOT l.reconciled
       AND m.move_type NOT IN ('out_invoice', 'out_refund')
       AND l.amount_residual_currency < 0
       {line_filter}
     GROUP BY l.move_id, p.id, l.currency_id
"""

PARTNERS_SQL = """
    SELECT p.id, COALESCE((p.relance_level->>%(company_key)s)::int, 0),
           (p.relance_date->>%(company_key)s)::date,
           COALESCE(p.relance_enabled, false), COALESCE(p.relance_excluded, false)
      FROM res_partner p
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


def as_company(records, company):
    """``records`` as a scheduled run of ``company`` works with them: in that
    company, and in its language, which the history's reasons and notes are
    written in (the scheduler's own user reads English)."""
    lang = company.partner_id.lang or records.env.lang
    return records.with_company(company).with_context(lang=lang)


def _rounded(currency, amount):
    amount = float(amount or 0.0)
    return currency.round(amount) if currency else amount


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

    # -- gathering -------------------------------------------------------------

    def _get_open_items_filters(self, options):
        """SQL conditions (on ``m`` the move, ``p`` the commercial partner)."""
        conds, lconds, args = [], [], {}
        if options.get("partner_ids"):
            conds.append("p.id = ANY(%(partners)s)")
            lconds.append("p.id = ANY(%(partners)s)")
            args["partners"] = list(options["partner_ids"])
        if options.get("move_ids"):
            conds.append("m.id = ANY(%(moves)s)")
            lconds.append("l.move_id = ANY(%(moves)s)")
            args["moves"] = list(options["move_ids"])
        if options.get("user_ids"):
            cond = "p.user_id = ANY(%(users)s)"
            conds.append(cond)
            lconds.append(cond)
            args["users"] = list(options["user_ids"])
        if options.get("category_ids"):
            cond = (
                "EXISTS (SELECT 1 FROM res_partner_res_partner_category_rel r "
                "WHERE r.partner_id = p.id AND r.category_id = ANY(%(categs)s))"
            )
            conds.append(cond)
            lconds.append(cond)
            args["categs"] = list(options["category_ids"])
        if options.get("payment_method_line_ids"):
            conds.append("m.preferred_payment_method_line_id = ANY(%(pmls)s)")
            args["pmls"] = list(options["payment_method_line_ids"])
        if options.get("payment_term_ids"):
            conds.append("m.invoice_payment_term_id = ANY(%(terms)s)")
            args["terms"] = list(options["payment_term_ids"])
        return conds, lconds, args

    def _get_open_items(self, company, options):
        """Return the company's open items as engine items, in one query."""
        conds, lconds, args = self._get_open_items_filters(options)
        query = OPEN_ITEMS_SQL.format(
            move_filter="".join(f" AND {c}" for c in conds),
            line_filter="".join(f" AND {c}" for c in lconds),
        )
        self.env.flush_all()
        self.env.cr.execute(query, dict(args, company=company.id))
        return [engine.Item(*row) for row in self.env.cr.fetchall()]

    def _get_partner_states(self, company, partner_ids):
        self.env.cr.execute(
            PARTNERS_SQL, {"company_key": str(company.id), "ids": list(partner_ids)}
        )
        return {row[0]: engine.Partner(*row) for row in self.env.cr.fetchall()}

    def _propose(self, company, options):
        """The engine's proposal for ``company`` under ``options``."""
        params = self._engine_params(company, options)
        with _gc_paused():
            items = self._get_open_items(company, options)
            partners = self._get_partner_states(company, {item.partner_id for item in items})
            return engine.propose(items, partners, params)

    @staticmethod
    def _group_by_partner(proposal):
        """Engine groups (per partner and currency) gathered per partner."""
        by_partner = defaultdict(list)
        for group in proposal.groups:
            by_partner[group.partner_id].append(group)
        return by_partner

    # -- recording -------------------------------------------------------------

    def _lock_documents(self, move_ids):
        """Lock the documents of a definitive run, or say another run holds them."""
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    "SELECT id FROM account_move WHERE id = ANY(%s) FOR UPDATE NOWAIT",
                    [list(move_ids)],
                    log_exceptions=False,  # a busy lock is an answer, not an error
                )
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

    def _check_unchanged(self, lines):
        """Refuse when a document's level moved since the proposal was made."""
        self.env.cr.execute(
            "SELECT id, COALESCE(relance_level, 0), relance_date FROM account_move "
            "WHERE id = ANY(%s)",
            [[line["move_id"] for line in lines if line.get("move_id")]],
        )
        current = {row[0]: (row[1], row[2]) for row in self.env.cr.fetchall()}
        changed = [
            line["move_id"]
            for line in lines
            if line.get("move_id") in current
            and current[line["move_id"]] != (line["level_before"], line.get("date_before") or None)
        ]
        if changed:
            run = (
                self.env["relance.run.line"]
                .search([("move_id", "in", changed)], order="id desc", limit=1)
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

    def _write_levels(self, moves_levels, date):
        """Set level and date on documents: one UPDATE for all of them."""
        if not moves_levels:
            return
        self.env.cr.execute(
            """
            UPDATE account_move m
               SET relance_level = v.level, relance_date = %s,
                   write_date = now() at time zone 'UTC', write_uid = %s
              FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::int[]) AS level) v
             WHERE m.id = v.id
            """,
            [date, self.env.uid, list(moves_levels), list(moves_levels.values())],
        )
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

    def _create_run(self, vals, line_vals):
        run = self.env["relance.run"].sudo().create(vals)
        self._insert_run_lines(run, line_vals)
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

    def _record_definitive(self, company, run_vals, lines, partner_levels):
        """Record a definitive edition: levels on documents and partners, a run.

        ``lines`` are run line values (with ``move_id``, ``level_before``,
        ``level_after``, ``date_before``); ``partner_levels`` maps partner to
        its new level. Locks first, checks nothing moved, then writes.
        """
        date = run_vals["date"]
        moves = {
            line["move_id"]: line["level_after"]
            for line in lines
            if line.get("move_id") and line.get("outcome") not in ("skipped", "failed")
        }
        self._lock_documents(moves)
        self._check_unchanged(lines)
        partner_before = self._get_partner_states(company, partner_levels)
        for line in lines:
            state = partner_before.get(line["partner_id"])
            if state:
                line.setdefault("partner_level_before", state.level)
                line.setdefault("partner_date_before", state.last_date)
            line.setdefault("date_after", date)
        self._write_levels(moves, date)
        self._write_partner_levels(company, partner_levels, date)
        return self._create_run(run_vals, lines)

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

        The same path as a user's email mode: proposal, customers with an address
        ticked, one mail per customer, levels recorded, a run in the history. One
        company failing does not stop the others; each company commits on its own.
        """
        for company in self.env["res.company"].search([("relance_auto_email", "=", True)]):
            try:
                with self.env.cr.savepoint():
                    as_company(self, company)._send_scheduled_emails(company, as_of)
            except UserError as error:
                _logger.info("Scheduled dunning of %s: %s", company.name, error)
            if not self._in_test_mode():
                self.env.cr.commit()  # pylint: disable=invalid-commit

    def _send_scheduled_emails(self, company, as_of):
        edition = (
            self.env["relance.edition"]
            .with_company(company)
            .create({"company_id": company.id, "date": as_of or fields.Date.context_today(self)})
        )
        edition.action_review()
        edition.action_switch_mode()
        if edition._selected_partner_lines():
            edition.action_send_emails()

    @staticmethod
    def _in_test_mode():
        return bool(modules.module.current_test or tools.config["test_enable"])

    # -- cancelling -----------------------------------------------------------

    def _cancel_runs(self, runs):
        """Cancel ``runs``, the latest first (managers only)."""
        if not self.env.user.has_group("relance_atys.group_relance_manager"):
            raise UserError(self.env._("Only dunning managers can cancel a run."))
        for run in runs.sorted("id", reverse=True):
            self._cancel_run(run)
        return True

    def _cancel_run(self, run):
        """Give documents and partners back the level they had before ``run``."""
        if run.state != "done" or run.run_type not in LEVEL_RUN_TYPES:
            raise UserError(
                self.env._(
                    "Run %s cannot be cancelled: only done runs that recorded levels can.",
                    run.name,
                )
            )
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
        self._restore_documents(lines)
        if run.run_type != "manual":
            self._restore_partners(run.company_id, lines)
        # mails of the run still waiting in the queue do not leave any more
        run.line_ids.mail_id.sudo().filtered(lambda mail: mail.state == "outgoing").write(
            {"state": "cancel"}
        )
        run.write(
            {
                "state": "cancelled",
                "cancelled_by_id": self.env.uid,
                "cancel_date": fields.Datetime.now(),
            }
        )
        run.message_post(body=self.env._("Run cancelled: previous levels restored."))
        self._post_cancellation(run, lines)

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
        touched = [("move_id", "in", lines.move_id.ids)]
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
        """Documents' previous level and date: one UPDATE per previous date."""
        by_date = defaultdict(dict)
        for line in lines.filtered("move_id"):
            by_date[line.date_before or None][line.move_id.id] = line.level_before
        for date, moves_levels in by_date.items():
            self._write_levels(moves_levels, date)

    def _restore_partners(self, company, lines):
        """Customers' previous level and date: one write per previous level and date."""
        by_date = defaultdict(dict)
        for line in lines.filtered("partner_id"):
            by_date[line.partner_date_before][line.partner_id.id] = line.partner_level_before
        for date, partner_levels in by_date.items():
            self._write_partner_levels(company, partner_levels, date)

    def _resend_failed(self, runs):
        return self.env["relance.mailer"]._resend_failed(runs)

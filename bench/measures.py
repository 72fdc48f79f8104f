"""What the bench times: relance_atys's hot paths and, beside them, OCA's credit control.

Each measure has up to three parts:

* ``prepare(env)``: state several runs share (a reviewed proposal, the peer's
  credit lines), built once and committed, its ids kept in a parameter;
* ``setup(env, prepared)``: per run, not timed (a fresh wizard);
* ``run(env, state)``: the timed call, as the user's click makes it, flushed.

Every run has its own cursor and is rolled back, so that each starts from the
same ledger. Queries are those of this thread (not of the HTTP server serving
wkhtmltopdf its CSS); memory is how far the process's peak RSS rose over its
size before the first run.
"""

import cProfile
import gc
import io
import json
import pstats
import re
import resource
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from unittest import mock

import ledger
from lxml import etree

from odoo import SUPERUSER_ID, api, sql_db
from odoo.tools import SQL
from odoo.tools.pdf import PdfFileReader, merge_pdf

PREPARED_KEY = "relance_bench.prepared.{}"
BUDGET = 240  # seconds: no further run of a measure once its runs took that long
PROFILE_LINES = 40
STATEMENT_CHARS = 110
LIST_LIMIT = 40  # rows the web client reads of a one2many list in a form
# A one-page PDF: the definitive edition is timed without wkhtmltopdf.
ONE_PAGE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type /Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type /Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type /Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
PEER_REPORT = "account_credit_control.report_credit_control_summary"
# Email mode: 20 customers with about 8 invoices each (issue 12's 160), and up to 1,000
EMAIL_FEW, EMAIL_FEW_DOCUMENTS, EMAIL_MANY = 20, 8, 1000
PAGE = re.compile(rb"/Type\s*/Page\b(?!s)")


@dataclass
class Measure:
    label: str
    run: Callable
    setup: Callable | None = None
    prepare: Callable | None = None
    count: Callable | None = None  # (env, state, value) -> what was done, after the timer
    traced: bool = False  # also report the Python heap's peak (tracemalloc), in one more run


# -- environments ---------------------------------------------------------------------


def user_env(cr):
    """The accountant's environment: admin, in French, on the bench company."""
    env = api.Environment(cr, SUPERUSER_ID, {})
    admin = env.ref("base.user_admin")
    company = env.ref("base.main_company")
    context = dict(admin.context_get(), allowed_company_ids=[company.id])
    return env(user=admin.id, context=context)


def company_and_date(env):
    return env.company, ledger.as_of(env)


# -- shared state, built once ---------------------------------------------------------


def prepared(env, name, build):
    """Ids kept under ``name``, built and committed by ``build(env)`` on first use."""
    params = env["ir.config_parameter"].sudo()
    kept = params.get_param(PREPARED_KEY.format(name))
    if kept:
        return json.loads(kept)
    value = build(env)
    params.set_param(PREPARED_KEY.format(name), json.dumps(value))
    env.cr.commit()
    return value


def reviewed_proposal(env):
    """The whole company's proposal under the bounds rule, reviewed, letters definitive."""

    def build(env):
        company, as_of = company_and_date(env)
        wizard = env["relance.edition"].create(
            {"company_id": company.id, "date": as_of, "output": "letters", "definitive": True}
        )
        wizard.action_review()
        return wizard.id

    return prepared(env, "wizard_all", build)


def reviewed_letters(env, count):
    """A proposal restricted to the first ``count`` customers of the whole one."""

    def build(env):
        whole = env["relance.edition"].browse(reviewed_proposal(env))
        partners = ticked_partner_lines(whole)[:count].partner_id
        wizard = env["relance.edition"].create(
            {
                "company_id": whole.company_id.id,
                "date": whole.date,
                "output": "letters",
                "partner_ids": [(6, 0, partners.ids)],
            }
        )
        wizard.action_review()
        return wizard.id

    return prepared(env, f"wizard_letters_{count}", build)


def email_edition(env, customers, documents=None):
    """An email-mode review of ``customers`` customers of the whole proposal that can
    receive mails, those with about ``documents`` documents each when given."""

    def build(env):
        whole = env["relance.edition"].browse(reviewed_proposal(env))
        mailer = env["relance.mailer"]
        plines = ticked_partner_lines(whole).filtered(
            lambda pline: not mailer._no_mail_reason(pline.partner_id)
        )
        if documents:
            plines = plines.sorted(lambda pline: (abs(pline.doc_count - documents), pline.id))
        wizard = env["relance.edition"].create(
            {
                "company_id": whole.company_id.id,
                "date": whole.date,
                "output": "letters",
                "partner_ids": [(6, 0, plines[:customers].partner_id.ids)],
            }
        )
        wizard.action_review()
        wizard.action_switch_mode()
        return wizard.id

    return prepared(env, f"wizard_email_{customers}", build)


def peer_policy(env):
    """A credit control policy with our three levels, the company's default."""

    def build(env):
        company = env.company
        template = env.ref("account_credit_control.email_template_credit_control_base")
        levels = env["relance.level"].search([("company_id", "=", company.id)], order="number")
        policy = env["credit.control.policy"].create(
            {
                "name": "Relances (bench)",
                "company_id": company.id,
                "account_ids": [
                    (6, 0, env["account.account"].search(
                        [("account_type", "=", "asset_receivable")]
                    ).ids)
                ],
                "level_ids": [
                    (0, 0, {
                        "name": level.name,
                        "level": level.number,
                        "computation_mode": "net_days",
                        "delay_days": level.lower_bound,
                        "channel": "letter",
                        "email_template_id": template.id,
                        "custom_text": "Sauf erreur de notre part, les factures ci-dessous "
                        "restent impayées.",
                        "custom_mail_text": "<p>Sauf erreur de notre part...</p>",
                    })
                    for level in levels
                ],
            }
        )  # fmt: skip
        company.credit_policy_id = policy
        return policy.id

    return prepared(env, "peer_policy", build)


def peer_letter_lines(env, count):
    """The peer's credit lines of the customers of our ``count`` letters, from one run."""

    def build(env):
        run = env["credit.control.run"].create(peer_run_setup(env, None))
        run.generate_credit_lines()
        ours = env["relance.edition"].browse(reviewed_letters(env, count))
        partners = ticked_partner_lines(ours).partner_id
        return run.line_ids.filtered(lambda line: line.partner_id in partners).ids

    return prepared(env, f"peer_lines_{count}", build)


# -- relance_atys -----------------------------------------------------------------


def propose(rule):
    def run(env, _state):
        company, as_of = company_and_date(env)
        options = {"date": as_of, "rule": rule}
        if rule == "sequential":
            options.update(level=1, selection="lower")
        proposal = env["relance.service"]._propose(company, options)
        return {
            "customers": len({group.partner_id for group in proposal.groups}),
            "documents": sum(len(group.proposed) for group in proposal.groups),
            "deductions": sum(len(group.deductions) for group in proposal.groups),
            "skipped": len(proposal.skipped),
        }

    return run


def promises_on_tenth(env, _prepared):
    """Issue 17's load: one customer in ten with open invoices has a payment promise or
    a pause (a quarter pauses; a third on one invoice only; one in twenty broken,
    dated before the as-of date), and one in thirty is dunned by hand only."""
    company, as_of = company_and_date(env)
    args = {"company": company.id, "as_of": as_of, "currency": company.currency_id.id}
    customers = """
        SELECT DISTINCT commercial_partner_id AS id FROM account_move
         WHERE company_id = %(company)s AND move_type = 'out_invoice' AND state = 'posted'
           AND amount_residual > 0
    """
    env.cr.execute(
        f"""
        INSERT INTO relance_promise (kind, partner_id, company_id, date, state, active,
                                     amount, due_amount, currency_id, create_uid,
                                     create_date, write_uid, write_date)
        SELECT CASE WHEN id %% 4 = 0 THEN 'pause' ELSE 'promise' END, id, %(company)s,
               %(as_of)s::date + CASE WHEN id %% 20 = 0 THEN -5 ELSE 10 END, 'open', true,
               0, 0, %(currency)s, 1, now(), 1, now()
          FROM ({customers}) c WHERE id %% 10 = 0
        """,
        args,
    )
    env.cr.execute(
        """
        INSERT INTO relance_promise_account_move_rel (promise_id, move_id)
        SELECT h.id, (SELECT m.id FROM account_move m
                       WHERE m.commercial_partner_id = h.partner_id
                         AND m.move_type = 'out_invoice' AND m.amount_residual > 0
                       ORDER BY m.id LIMIT 1)
          FROM relance_promise h WHERE h.id % 3 = 0
        """
    )
    env.cr.execute(
        f"UPDATE res_partner SET relance_mode = 'manual' "
        f"WHERE id IN ({customers}) AND id %% 30 = 7",
        args,
    )
    env.invalidate_all()


def new_edition(env, _prepared):
    company, as_of = company_and_date(env)
    return env["relance.edition"].create(
        {"company_id": company.id, "date": as_of, "output": "letters", "definitive": True}
    )


def open_review(env, wizard):
    """The user's click on "Review": the proposal, then the form the client reads."""
    wizard.action_review()
    wizard.invalidate_recordset()
    [values] = wizard.web_read(form_spec(wizard))
    return {"customers": len(values["partner_line_ids"]), "summary": values["summary"]}


def form_spec(record):
    """The ``web_read`` specification the web client sends for ``record``'s form."""
    views = record.get_views([(False, "form")])
    arch = etree.fromstring(views["views"]["form"]["arch"])
    return _node_spec(arch, record._name, views["models"])


def _node_spec(node, model, models):
    spec = {}
    for child in node:
        if child.tag != "field":
            spec.update(_node_spec(child, model, models))
            continue
        info = models[model]["fields"][child.get("name")]
        sub = {}
        if info["type"] in ("many2one", "one2many", "many2many"):
            sub["fields"] = {"display_name": {}}
            lists = child.findall("list")
            if lists:
                sub = {
                    "fields": _node_spec(lists[0], info["relation"], models),
                    "limit": LIST_LIMIT,
                }
        spec[child.get("name")] = sub
    return spec


def review_count(env, wizard, values):
    return dict(values, documents=len(wizard.line_ids.filtered(lambda ln: not ln.is_deduction)))


def prepared_wizard(env, wizard_id):
    return env["relance.edition"].browse(wizard_id)


def export_xlsx(env, wizard):
    action = wizard.action_export_xlsx()
    return int(action["url"].split("/")[3].split("?")[0])


def xlsx_count(env, wizard, attachment_id):
    return {
        "rows": sum(1 for _row in env["relance.control.list"]._rows(wizard)),
        "bytes": env["ir.attachment"].browse(attachment_id).file_size,
    }


def ticked_lines(wizard):
    """The review's ticked documents of its ticked customers, as its letters take them."""
    return wizard.env["relance.service"]._review_ticked_lines(wizard, "no customer ticked")


def ticked_partner_lines(wizard):
    """The review's customer lines ticked with a ticked document, in its order."""
    ticked = set(wizard.env["relance.service"]._ticked_customers(wizard, "no customer ticked"))
    return wizard.partner_line_ids.filtered(lambda pline: pline.partner_id.id in ticked)


def render_letters(env, wizard):
    letters = env["relance.letter"]
    lines = ticked_lines(wizard)
    pdf, failures = letters._render(
        letters._letters(wizard.company_id, wizard.date, lines),
        wizard._run_options(),
        definitive=True,
    )
    if failures:
        raise AssertionError(f"letters failed: {failures}")
    return pdf


def notices_setup(env, wizard_id):
    """The same letters as formal notices with their penalties, each followed by its
    customer's statement of account (the settings rolled back with the run)."""
    wizard = env["relance.edition"].browse(wizard_id)
    env["relance.level"].search([("company_id", "=", wizard.company_id.id)]).formal_notice = True
    wizard.company_id.write({"relance_penalties": True, "relance_indemnity": True})
    wizard.attach_statement = True
    return wizard


def pdf_count(env, wizard, pdf):
    return {
        "letters": len(ticked_partner_lines(wizard)),
        # read, not counted in the bytes: the page numbers rewrite pages in an update
        "pages": len(PdfFileReader(io.BytesIO(pdf), strict=False).pages),
        "bytes": len(pdf),
    }


def definitive(env, wizard):
    """Levels, dates, history, chatter: all of the definitive edition but wkhtmltopdf."""
    letters = type(env["relance.letter"])
    with mock.patch.object(letters, "_render", return_value=(ONE_PAGE_PDF, {})):
        wizard.action_print_definitive()
    return env["relance.run"].search([], order="id desc", limit=1)


def definitive_count(env, wizard, run):
    return {"customers": len(run.line_ids.partner_id), "run_lines": len(run.line_ids)}


def signature_setup(env, _prepared):
    company, as_of = company_and_date(env)
    options = dict(env["relance.signature.service"]._default_options(as_of), attach_pdf=False)
    last_mail = env["mail.mail"].sudo().search([], order="id desc", limit=1)
    return company, options, last_mail.id or 0


def signature(env, state):
    """Every pending quotation of the company: decide, record, queue the mails,
    the batches' jobs run one after the other in this process."""
    company, options, _last_mail = state
    service = env["relance.signature.service"].with_context(queue_job__no_delay=True)
    return service._remind(company, options)


def signature_click(env, _prepared):
    """The click on "Send" of the signature reminders: the run recorded, its jobs queued."""
    company, as_of = company_and_date(env)
    service = env["relance.signature.service"]
    return service._remind(company, dict(service._default_options(as_of), attach_pdf=False))


def email_click(env, wizard_id):
    """The click on "Send the emails" of a reviewed email-mode edition: the run
    recorded, its jobs queued."""
    env["relance.edition"].browse(wizard_id).action_send_emails()
    return env["relance.run"].search([], order="id desc", limit=1)


def definitive_click(env, wizard_id):
    """The click on "Print definitive letters" for the whole reviewed proposal: the
    run recorded, its jobs (letters printed by batches of customers) queued."""
    env["relance.edition"].browse(wizard_id).action_print_definitive()
    return env["relance.run"].search([], order="id desc", limit=1)


# the clicks of the background runs (bench/jobs.py), each committed as a request is:
# name: (what the user prepared before, untimed and committed; the click)
CLICKS = {
    "signature": (None, signature_click),
    "email_few": (lambda env: email_edition(env, EMAIL_FEW, EMAIL_FEW_DOCUMENTS), email_click),
    "email": (lambda env: email_edition(env, EMAIL_MANY, EMAIL_FEW_DOCUMENTS), email_click),
    "definitive": (reviewed_proposal, definitive_click),
}


def click(registry, name):
    """Click ``name`` as the accountant and commit; the run's id and the click's time."""
    prepare, act = CLICKS[name]
    with registry.cursor() as cr:
        env = user_env(cr)
        state = prepare(env) if prepare else None
        env.invalidate_all()
        thread = threading.current_thread()
        thread.query_count, thread.query_time = 0, 0.0
        started, start = time.time(), time.perf_counter()
        run = act(env, state)
        env.flush_all()
        cr.commit()
        seconds = time.perf_counter() - start
        return {
            "run_id": run.id,
            "started": started,
            "seconds": seconds,
            "queries": thread.query_count,
        }


def signature_count(env, state, run):
    return {
        "quotations": len(run.line_ids),
        "sent": run.done_count,
        "skipped": run.skipped_count,
        "failed": run.failed_count,
        "mails_queued": env["mail.mail"].sudo().search_count([("id", ">", state[2])]),
    }


class Printed:
    """Counts the wkhtmltopdf calls made inside it (and lets them run)."""

    def __init__(self, env):
        self.report, self.calls = type(env["ir.actions.report"]), 0

    def __enter__(self):
        run_wkhtmltopdf = self.report._run_wkhtmltopdf

        def counted(report, *args, **kwargs):
            self.calls += 1
            return run_wkhtmltopdf(report, *args, **kwargs)

        self.patch = mock.patch.object(self.report, "_run_wkhtmltopdf", counted)
        self.patch.start()
        return self

    def __exit__(self, *exc):
        self.patch.stop()


def email_setup(env, wizard_id):
    wizard = env["relance.edition"].browse(wizard_id)
    invoices = ticked_lines(wizard).move_id.filtered(lambda move: move.is_invoice())
    if invoices.invoice_pdf_report_id:
        raise AssertionError("the measure is about invoices without a stored PDF")
    last_mail = env["mail.mail"].sudo().search([], order="id desc", limit=1).id or 0
    last_job = (  # 0, not False, when there is none: "id > False" matches nothing
        env["queue.job"].sudo().search([], order="id desc", limit=1).id or 0
        if ("queue.job" in env)
        else 0
    )
    return wizard, invoices, last_mail, last_job


def email_mode(env, state):
    """The user's click on "Send the emails", then what it left to the background.

    ``click``: until the click returns. The whole (timed around this function):
    until every mail is in Odoo's mail queue with its invoice PDFs (not sent: the
    mail queue's cron does that, for OCA as for us). While the sending runs inside
    the click, both are the same; once the click only enqueues queue_job jobs,
    ``run_background_jobs`` performs them here, one after the other (two job
    workers would share them).
    """
    wizard, _invoices, _last_mail, last_job = state
    started = time.perf_counter()
    with Printed(env) as printed:
        action = wizard.action_send_emails()
        click = time.perf_counter() - started
        jobs = run_background_jobs(env, last_job)
    return {"click": click, "run": action.get("res_id"), "jobs": jobs, "pdf_calls": printed.calls}


def run_background_jobs(env, after_id):
    """Perform the queue_job jobs enqueued after ``after_id``, and those they enqueue."""
    if "queue.job" not in env:
        return 0
    from odoo.addons.queue_job.job import Job  # only when the addon is installed

    done = 0
    while (
        jobs := env["queue.job"]
        .sudo()
        .search([("id", ">", after_id), ("state", "in", ("pending", "enqueued"))], order="id")
    ):
        for record in jobs:
            job = Job.load(env, record.uuid)
            job.set_started()
            job.perform()
            job.set_done()
            job.store()
            done += 1
    return done


def email_count(env, state, value):
    wizard, invoices, last_mail, _last_job = state
    mails = env["mail.mail"].sudo().search([("id", ">", last_mail)])
    return {
        "click_seconds": round(value["click"], 3),
        "customers": len(ticked_partner_lines(wizard)),
        "invoices": len(invoices),
        "mails_queued": len(mails),
        "attachments": len(mails.attachment_ids),
        "pdfs_stored": len(invoices.invoice_pdf_report_id),
        "wkhtmltopdf_calls": value["pdf_calls"],
        "jobs": value["jobs"],
    }


# -- the peer: OCA account_credit_control --------------------------------------------


def peer_run_setup(env, _prepared):
    company, as_of = company_and_date(env)
    return {"date": as_of, "company_id": company.id, "policy_ids": [(6, 0, [peer_policy(env)])]}


def peer_run(env, vals):
    run = env["credit.control.run"].create(vals)
    run.generate_credit_lines()
    return run


def peer_run_count(env, vals, run):
    return {"credit_lines": len(run.line_ids), "customers": len(run.line_ids.partner_id)}


def peer_letters(env, line_ids):
    """The peer's print wizard on those lines, then its summary report, one PDF.

    Odoo hands wkhtmltopdf one document per letter in a single call, which
    Debian's wkhtmltopdf (unpatched Qt) refuses for more than one ("Exit with
    code 1"): the peer's letters are made one call each, then merged.
    """
    printer = env["credit.control.printer"].create({"line_ids": [(6, 0, line_ids)]})
    action = printer.print_lines()
    comms = env["credit.control.communication"].browse(action["context"]["active_ids"])
    reports = env["ir.actions.report"]
    pdfs = [reports._render_qweb_pdf(PEER_REPORT, comm.ids)[0] for comm in comms]
    return len(comms), merge_pdf(pdfs)


def peer_email_lines(env, customers):
    """The peer's credit lines of the customers of our email measure, to send by email."""

    def build(env):
        ours = env["relance.edition"].browse(email_edition(env, customers, EMAIL_FEW_DOCUMENTS))
        partners = ticked_partner_lines(ours).partner_id
        domain = [("partner_id", "in", partners.ids), ("state", "in", ("draft", "to_be_sent"))]
        if not env["credit.control.line"].search_count(domain):
            env["credit.control.run"].create(peer_run_setup(env, None)).generate_credit_lines()
        lines = env["credit.control.line"].search(domain)
        lines.write({"channel": "email", "state": "to_be_sent"})
        return lines.ids

    return prepared(env, f"peer_email_lines_{customers}", build)


def peer_email(env, line_ids):
    """The peer's "Send emails" on those lines: one mail per customer and level, with its
    summary PDF (the template's report), queued."""
    last_mail = env["mail.mail"].sudo().search([], order="id desc", limit=1).id or 0
    comms = env["credit.control.communication"]
    last_comm = comms.search([], order="id desc", limit=1).id or 0
    emailer = env["credit.control.emailer"].create({"line_ids": [(6, 0, line_ids)]})
    with Printed(env) as printed:
        emailer.email_lines()
    return {
        "communications": comms.search_count([("id", ">", last_comm)]),
        "pdf_calls": printed.calls,
        "last_mail": last_mail,
    }


def peer_email_count(env, line_ids, value):
    lines = env["credit.control.line"].browse(line_ids)
    mails = env["mail.mail"].sudo().search([("id", ">", value["last_mail"])])
    return {
        "customers": len(lines.partner_id),
        "invoices": len(lines.invoice_id),
        "communications": value["communications"],
        "mails_queued": len(mails),
        "attachments": len(mails.attachment_ids),
        "wkhtmltopdf_calls": value["pdf_calls"],
    }


def peer_pdf_count(env, line_ids, value):
    letters, pdf = value
    return {"letters": letters, "pages": len(PAGE.findall(pdf)), "bytes": len(pdf)}


# -- the collection dashboard ------------------------------------------------------

DASHBOARD_RUNS = 1000
# the groupings the pivot views ask on their first load: each row and column
# header's, and the cells'
PIVOTS = {
    "relance.collection.due": (
        ["residual:sum"], [[], ["currency_id"], ["currency_id", "level"], ["age"],
                           ["currency_id", "age"], ["currency_id", "level", "age"]],
    ),
    "relance.collection.recovery": (
        ["dunned_15:sum", "paid_15:sum", "rate_15:avg", "rate_30:avg"],
        [[], ["currency_id"], ["currency_id", "level"], ["channel"],
         ["currency_id", "channel"], ["currency_id", "level", "channel"]],
    ),
}  # fmt: skip


def dunning_history(env):
    """DASHBOARD_RUNS past runs and their lines on the ledger, built once."""
    return prepared(env, "history", lambda env: ledger.dunning_history(env, DASHBOARD_RUNS))


def open_dashboard(env, _history):
    """The menu's click: the dashboard recorded, then its form read by the client."""
    action = env["relance.dashboard"].action_open()
    dashboard = env["relance.dashboard"].browse(action["res_id"])
    [values] = dashboard.web_read(form_spec(dashboard))
    return {name: len(value) for name, value in values.items() if name.endswith("_html")}


def dashboard_count(env, history, value):
    return dict(history, html_chars=value)


def open_pivots(env, _history):
    """The first load of the two pivot views: their read_groups, as the client asks."""
    groups = 0
    for model, (measures_, groupbys) in PIVOTS.items():
        for groupby in groupbys:
            groups += len(env[model].read_group([], measures_, groupby, lazy=False))
    return groups


def measures(letters):
    return {
        "proposal_bounds": Measure("Proposal, bounds rule", propose("bounds")),
        "proposal_sequential": Measure("Proposal, sequential rule", propose("sequential")),
        "proposal_promises": Measure(
            "Proposal, bounds rule, promises and profiles on 10 % of customers",
            propose("bounds"), setup=promises_on_tenth,
        ),
        "review": Measure("Review screen", open_review, setup=new_edition, count=review_count),
        "xlsx": Measure(
            "XLSX control list", export_xlsx, setup=prepared_wizard,
            prepare=reviewed_proposal, count=xlsx_count, traced=True,
        ),
        "letters": Measure(
            f"{letters:,} letters, one PDF", render_letters, setup=prepared_wizard,
            prepare=lambda env: reviewed_letters(env, letters), count=pdf_count,
        ),
        "notices": Measure(
            f"{letters:,} formal notices with penalties and statements, one PDF",
            render_letters, setup=notices_setup,
            prepare=lambda env: reviewed_letters(env, letters), count=pdf_count,
        ),
        "definitive": Measure(
            "Definitive edition (no PDF)", definitive, setup=prepared_wizard,
            prepare=reviewed_proposal, count=definitive_count,
        ),
        "signature": Measure(
            "Signature reminders", signature, setup=signature_setup, count=signature_count
        ),
        "email_few": Measure(
            f"Email mode, {EMAIL_FEW} customers (invoice PDFs printed)", email_mode,
            setup=email_setup, count=email_count,
            prepare=lambda env: email_edition(env, EMAIL_FEW, EMAIL_FEW_DOCUMENTS),
        ),
        "email_many": Measure(
            f"Email mode, up to {EMAIL_MANY:,} customers (invoice PDFs printed)", email_mode,
            setup=email_setup, count=email_count,
            prepare=lambda env: email_edition(env, EMAIL_MANY),
        ),
        "peer_run": Measure(
            "OCA credit control run", peer_run, setup=peer_run_setup, prepare=peer_policy,
            count=peer_run_count,
        ),
        "peer_letters": Measure(
            f"OCA summary letters ({letters:,})", peer_letters, setup=lambda env, ids: ids,
            prepare=lambda env: peer_letter_lines(env, letters), count=peer_pdf_count,
        ),
        "peer_email": Measure(
            f"OCA credit control emails ({EMAIL_FEW} customers)", peer_email,
            setup=lambda env, ids: ids, prepare=lambda env: peer_email_lines(env, EMAIL_FEW),
            count=peer_email_count,
        ),
        "dashboard": Measure(
            f"Dashboard ({DASHBOARD_RUNS:,} runs)", open_dashboard, prepare=dunning_history,
            setup=lambda env, history: history, count=dashboard_count,
        ),
        "dashboard_pivots": Measure(
            f"Dashboard pivots, first load ({DASHBOARD_RUNS:,} runs)", open_pivots,
            prepare=dunning_history, setup=lambda env, history: history,
            count=lambda env, history, groups: dict(history, groups=groups),
        ),
    }  # fmt: skip


# -- running ------------------------------------------------------------------------


def describe(registry):
    """What the ledger holds (and the peer's policy, set up) before any measure."""
    with registry.cursor() as cr:
        env = user_env(cr)
        peer_policy(env)
        return ledger.describe(env)


def prepare(registry, name, letters):
    """The state ``name``'s runs share: built and committed by the first call, in a
    process of its own so that the measuring one starts clean; read back after."""
    spec = measures(int(letters))[name]
    with registry.cursor() as cr:
        return spec.prepare(user_env(cr)) if spec.prepare else None


def measure(registry, name, runs, letters):
    """Median wall time of up to ``runs`` runs (within BUDGET), queries, peak memory."""
    spec = measures(int(letters))[name]
    prepared_state = prepare(registry, name, letters)
    load_before = _load()
    rss_start = _reset_peak_rss()
    results, started = [], time.perf_counter()
    while len(results) < int(runs) and (not results or time.perf_counter() - started < BUDGET):
        results.append(_run_once(registry, spec, prepared_state))
    peak = _status_mb("VmHWM")
    median = sorted(results, key=lambda result: result["seconds"])[len(results) // 2]
    out = {
        "label": spec.label,
        "seconds": median["seconds"],
        "cpu_seconds": median["cpu_seconds"],
        "children_cpu_seconds": round(median.get("children_cpu_seconds", 0), 2),
        "runs": [round(result["seconds"], 3) for result in results],
        "queries": results[-1]["queries"],
        "rss_mb": round(peak - rss_start, 1),
        "rss_peak_mb": round(peak, 1),
        "child_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "counts": median["counts"],
        "load": [load_before, _load()],
    }
    if spec.traced:
        out["python_peak_mb"] = _run_once(registry, spec, prepared_state, traced=True)["traced"]
    return out


def profile(registry, name, letters):
    """One run of ``name`` under cProfile: the functions that took the time."""
    spec = measures(int(letters))[name]
    prepared_state = prepare(registry, name, letters)
    profiler, statements = cProfile.Profile(), Counter()
    execute = sql_db.Cursor.execute

    def counted(cr, query, params=None, log_exceptions=True):
        text = query.code if isinstance(query, SQL) else str(query)
        statements[" ".join(text.split())[:STATEMENT_CHARS]] += 1
        return execute(cr, query, params, log_exceptions)

    with mock.patch.object(sql_db.Cursor, "execute", counted):
        result = _run_once(registry, spec, prepared_state, profiler=profiler)
    out = io.StringIO()
    out.write("Queries by statement:\n")
    for statement, count in statements.most_common(PROFILE_LINES):
        out.write(f"{count:8} {statement}\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(PROFILE_LINES)
    stats.sort_stats("tottime").print_stats(PROFILE_LINES)
    return {"seconds": result["seconds"], "queries": result["queries"], "profile": out.getvalue()}


def _run_once(registry, spec, prepared_state, traced=False, profiler=None):
    cr = registry.cursor()
    try:
        env = user_env(cr)
        state = spec.setup(env, prepared_state) if spec.setup else None
        env.flush_all()
        gc.collect()
        if traced:
            tracemalloc.start()
        thread = threading.current_thread()
        thread.query_count, thread.query_time = 0, 0.0
        start, cpu_start = time.perf_counter(), time.process_time()
        children_start = _children_cpu()
        if profiler:
            profiler.enable()
        value = spec.run(env, state)
        env.flush_all()
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        if profiler:
            profiler.disable()
        result = {
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "children_cpu_seconds": _children_cpu() - children_start,  # wkhtmltopdf's
            "queries": thread.query_count,
        }
        if traced:
            result["traced"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.stop()
        result["counts"] = spec.count(env, state, value) if spec.count else value
        return result
    finally:
        cr.rollback()
        cr.close()


def _children_cpu():
    """CPU seconds of the finished child processes (wkhtmltopdf), user and system."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reset_peak_rss():
    """Make the process's peak RSS its current one (Linux); return it in MB."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return _status_mb("VmRSS")


def _status_mb(key):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(f"{key}:"))
    return int(line.split()[1]) / 1024


def _load():
    with open("/proc/loadavg") as loadavg:
        return float(loadavg.read().split()[0])

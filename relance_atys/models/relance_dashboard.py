from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models

from ..text import without_invisible
from .relance_collection_recovery import RATES, WINDOWS

CHANNEL_ORDER = ["letter", "email", "call"]
# Promises "due this week": those whose date is within this many days from today.
PROMISE_DAYS = 7
# DSO: the receivables of today over the sales of the last DSO_DAYS days, times DSO_DAYS.
DSO_DAYS = 90


# A transient model for its form (one per opening, vacuumed), but no wizard: it
# gathers no options and runs nothing, it reads figures (issue 13 keeps wizard/ thin).
class RelanceDashboard(models.TransientModel):  # pylint: disable=no-wizard-in-models
    """The collection dashboard: a few figures of the user's current companies,
    each computed by SQL aggregates on the dashboard's views (their record rules
    applied), and links to their pivot views."""

    _name = "relance.dashboard"
    _description = "Dunning dashboard"

    date = fields.Date(string="As of", default=fields.Date.context_today, readonly=True)
    collector_id = fields.Many2one(
        "res.users",
        domain=[("share", "=", False)],
        help="Only the customers this user collects; empty: every customer.",
    )
    due_html = fields.Html(string="Amounts due", compute="_compute_figures", sanitize=False)
    dso_html = fields.Html(string="DSO", compute="_compute_figures", sanitize=False)
    recovery_html = fields.Html(
        string="Recovery after dunning", compute="_compute_figures", sanitize=False
    )
    promise_html = fields.Html(
        string="Payment promises", compute="_compute_figures", sanitize=False
    )

    def _compute_display_name(self):
        for dashboard in self:
            dashboard.display_name = self.env._("Collection dashboard")

    @api.model
    def action_open(self):
        """The dashboard, as of today (the menu's server action)."""
        dashboard = self.create({})
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Collection dashboard"),
            "res_model": self._name,
            "res_id": dashboard.id,
            "view_mode": "form",
            "target": "current",
        }

    @api.depends("collector_id")
    def _compute_figures(self):
        for dashboard in self:
            render = dashboard._render
            values = {"dashboard": dashboard, "ages": dashboard._age_labels()}
            due = dashboard._due_figures()
            dashboard.due_html = render("relance_atys.dashboard_due", {**values, "tables": due})
            dashboard.dso_html = render(
                "relance_atys.dashboard_dso", {**values, "rows": dashboard._dso_figures(due)}
            )
            dashboard.recovery_html = render(
                "relance_atys.dashboard_recovery",
                {**values, "tables": dashboard._recovery_figures(), "windows": WINDOWS},
            )
            dashboard.promise_html = render(
                "relance_atys.dashboard_promises", {**values, **dashboard._promise_figures()}
            )

    def _render(self, template, values):
        """The template's HTML, its negative amounts without the invisible character
        Odoo's formatting puts after the minus (copied, "-50,00" stays a number)."""
        return Markup(without_invisible(self.env["ir.qweb"]._render(template, values)))

    def _age_labels(self):
        """{age bucket: its label}, in the buckets' order and the reader's language."""
        field = self.env["relance.collection.due"]._fields["age"]
        return dict(field._description_selection(self.env))

    # -- figures ----------------------------------------------------------------------

    def _due_domain(self):
        """The open items the dashboard counts: those of the current companies (the
        record rules say so too, but not to the superuser, whose cron may read it), and
        of the chosen collector's customers."""
        return [("company_id", "in", self.env.companies.ids), *self._collector_domain()]

    def _collector_domain(self, path="collector_id"):
        """Only the chosen collector's customers (``path``: the collector's field)."""
        return [(path, "=", self.collector_id.id)] if self.collector_id else []

    def _recovery_domain(self):
        """The dunnings the dashboard counts: those of the current companies (and of
        the chosen collector's customers)."""
        return [("company_id", "in", self.env.companies.ids), *self._collector_domain()]

    def _due_figures(self):
        """{currency: {"levels": {level: {age: amount}}, "credits": {age: amount},
        "total": {age: amount}}}: open invoices by dunning level and age, credit notes
        and payments not yet allocated apart, per currency."""
        groups = self.env["relance.collection.due"]._read_group(
            self._due_domain(), ["currency_id", "kind", "level", "age"], ["residual:sum"]
        )
        tables = {}
        for currency, kind, level, age, amount in groups:
            table = tables.setdefault(
                currency, {"levels": defaultdict(dict), "credits": {}, "total": {}}
            )
            cells = table["levels"][level] if kind == "invoice" else table["credits"]
            for row in (cells, table["total"]):
                row[age] = row.get(age, 0.0) + amount
                row["all"] = row.get("all", 0.0) + amount
        for table in tables.values():
            table["levels"] = dict(sorted(table["levels"].items()))
        return self._by_currency(tables)

    def _by_currency(self, tables):
        """``tables`` ({currency: table}) in the order shown: the company's currency
        first, then by name."""
        return dict(sorted(tables.items(), key=lambda item: self._currency_key(item[0])))

    def _currency_key(self, currency):
        return (currency != self.env.company.currency_id, currency.name)

    def _dso_figures(self, due=None):
        """[(currency, receivables, sales, dso)] per currency: DSO = receivables today
        (open invoices net of credit notes and payments not yet allocated: the net due
        of ``due``, the amounts due) / sales of the last 90 days (invoices net of
        credit notes, taxes included) x 90; None when the period has no sales."""
        due = self._due_figures() if due is None else due
        receivables = {currency: table["total"]["all"] for currency, table in due.items()}
        sales = dict(
            self.env["account.move"]._read_group(
                self._sales_domain(), ["currency_id"], ["amount_total_in_currency_signed:sum"]
            )
        )
        rows = []
        for currency in sorted(set(receivables) | set(sales), key=self._currency_key):
            due, sold = receivables.get(currency, 0.0), sales.get(currency, 0.0)
            dso = due / sold * DSO_DAYS if currency.compare_amounts(sold, 0) > 0 else None
            rows.append((currency, due, sold, dso))
        return rows

    def _sales_domain(self):
        """Customer invoices and credit notes posted with an invoice date in the last
        90 days, today included."""
        start = self.date - timedelta(days=DSO_DAYS - 1)
        return [
            ("move_type", "in", ("out_invoice", "out_refund")),
            ("state", "=", "posted"),
            ("invoice_date", ">=", start),
            ("invoice_date", "<=", self.date),
            ("company_id", "in", self.env.companies.ids),
            *self._collector_domain("commercial_partner_id.relance_collector_id"),
        ]

    def _recovery_figures(self):
        """{currency: {"level": [(level, figures)], "channel": [(channel, figures)]}},
        figures {dunned_15, paid_15, rate_15, dunned_30, paid_30, rate_30, runs}: what
        dunning brought in within 15 and 30 days, per level and per channel, per
        currency, from one query grouped by run (a run counted once per row)."""
        names = [name for pair in RATES.values() for name in pair]
        groups = self.env["relance.collection.recovery"]._read_group(
            self._recovery_domain(),
            ["currency_id", "level", "channel", "run_id"],
            [f"{name}:sum" for name in names],
        )
        tables = {}
        for currency, level, channel, run, *sums in groups:
            table = tables.setdefault(currency, {"level": {}, "channel": {}})
            for groupby, key in (("level", level), ("channel", channel)):
                figures = table[groupby].setdefault(key, {"runs": set(), **dict.fromkeys(names, 0)})
                figures["runs"].add(run.id)
                for name, amount in zip(names, sums, strict=True):
                    figures[name] += amount
        for table in tables.values():
            for groupby, order in (("level", None), ("channel", CHANNEL_ORDER.index)):
                rows = sorted(
                    table[groupby].items(), key=lambda item, order=order: (order or int)(item[0])
                )
                table[groupby] = [(key, self._with_rates(figures)) for key, figures in rows]
        return self._by_currency(tables)

    @api.model
    def _with_rates(self, figures):
        """``figures`` with their rates (paid / dunned in %, None when nothing was
        dunned long enough ago) and their number of runs."""
        figures = dict(figures, runs=len(figures["runs"]))
        for rate, (paid, dunned) in RATES.items():
            figures[rate] = figures[paid] / figures[dunned] * 100 if figures[dunned] else None
        return figures

    def _promise_figures(self):
        """{"week": {currency: (count, amount)}, "broken": {...}}: the payment promises
        still open whose date is within the next 7 days, today included, and those
        not kept (their date passed, unpaid), with the amounts they were made for."""
        figures = {}
        for key, domain in (("week", self._week_domain()), ("broken", [("state", "=", "broken")])):
            groups = self.env["relance.promise"]._read_group(
                self._promise_domain() + domain, ["currency_id"], ["__count", "due_amount:sum"]
            )
            figures[key] = self._by_currency(
                {cur: (count, amount) for cur, count, amount in groups}
            )
        return figures

    def _promise_domain(self):
        """Payment promises (pauses aside) of the current companies and collector."""
        return [
            ("kind", "=", "promise"),
            ("company_id", "in", self.env.companies.ids),
            *self._collector_domain("partner_id.relance_collector_id"),
        ]

    def _week_domain(self):
        return [
            ("state", "=", "open"),
            ("date", ">=", self.date),
            ("date", "<=", self.date + timedelta(days=PROMISE_DAYS)),
        ]

    # -- the pivot views -------------------------------------------------------------------

    def action_open_due(self):
        return self._open_view("relance_atys.action_relance_collection_due", self._due_domain())

    def action_open_recovery(self):
        return self._open_view(
            "relance_atys.action_relance_collection_recovery", self._recovery_domain()
        )

    def action_open_promises_week(self):
        return self._open_view(
            "relance_atys.action_relance_promise",
            self._promise_domain() + self._week_domain(),
            context={},  # not its default filter on open promises only: the domain says
        )

    def action_open_promises_broken(self):
        return self._open_view(
            "relance_atys.action_relance_promise",
            [*self._promise_domain(), ("state", "=", "broken")],
            context={},
        )

    def _open_view(self, xml_id, domain, context=None):
        """The action ``xml_id`` on ``domain`` (and ``context`` instead of its own)."""
        action = self.env["ir.actions.act_window"]._for_xml_id(xml_id)
        action["domain"] = domain
        if context is not None:
            action["context"] = context
        return action

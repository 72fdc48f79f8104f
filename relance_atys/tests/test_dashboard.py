"""The collection dashboard on a ledger built for it: every expected figure is
worked out by hand below, per currency, from the documents and payments made."""

from datetime import timedelta

from odoo import Command, fields
from odoo.tests import new_test_user, tagged
from odoo.tools import formatLang

from .common import RelanceCommon

BILLING = "base.group_user,base.group_partner_manager,account.group_account_invoice"
DUNNING_USER = f"{BILLING},relance_atys.group_relance_user"


def dunning_user(env, login, company):
    return new_test_user(
        env, login, groups=DUNNING_USER, company_id=company.id,
        company_ids=[Command.set(company.ids)],
    )  # fmt: skip


@tagged("post_install", "-at_install")
class TestDashboard(RelanceCommon):
    """Company currency USD, and CHF (1 USD = 2 CHF).

    Open today (USD): I1 1,000 due 10 days ago (level 1); I2 400 due in 5 days
    (level 0); I3 600 due 45 days ago, 100 paid (level 2); I4 300 due 100 days ago
    (level 3); a credit note of 50 not allocated; R3 800 with 200 paid (level 2,
    due 130 days ago). Open (CHF): I5 2,000 due 70 days ago (level 2); I6 1,000 due
    in 10 days; R5 1,000 with 500 paid (level 1, due 130 days ago).

    Runs: L, letters at level 1, 60 days ago (D1): R1 1,000 USD (300 paid D1+10,
    200 D1+20, 500 D1+40), R2 500 USD (paid on D1 itself), R5 1,000 CHF (250 paid
    D1+14, 250 D1+30), R3 skipped. E, emails at level 2, 20 days ago (D2): R3 800
    USD (200 paid D2+5), R4 400 USD (a credit note of 400 applied D2+3). C, a
    cancelled letter run on D1 with R1.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.context_today(cls.env.user)
        cls.chf = cls.setup_other_currency("CHF", rates=[("2020-01-01", 2.0)])
        cls.usd = cls.company.currency_id
        cls.user_a = dunning_user(cls.env, "dashboard.user.a", cls.company)
        cls.customer = cls._customer("Client Tableau", company_id=cls.company.id)
        cls._open_documents()
        cls._runs()

    @classmethod
    def _days(cls, days):
        """The date ``days`` days from today (negative: ago)."""
        return cls.today + timedelta(days=days)

    @classmethod
    def _doc(cls, amount, due_in, level=0, currency=None, move_type="out_invoice"):
        move = cls._invoice(
            cls.customer, amount, cls._days(due_in), move_type=move_type, currency=currency
        )
        move.sudo().relance_level = level  # levels are the runs' to write
        return move

    @classmethod
    def _pay_on(cls, invoice, amount, days):
        return (
            cls.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"amount": amount, "payment_date": cls._days(days)})
            ._create_payments()
        )

    @classmethod
    def _open_documents(cls):
        cls.i1 = cls._doc(1000.0, -10, level=1)
        cls.i2 = cls._doc(400.0, 5)
        cls.i3 = cls._doc(600.0, -45, level=2)
        cls._pay_on(cls.i3, 100.0, -30)
        cls.i4 = cls._doc(300.0, -100, level=3)
        cls.refund = cls._doc(50.0, -20, move_type="out_refund")  # dated 50 days ago
        cls.i5 = cls._doc(2000.0, -70, level=2, currency=cls.chf)
        cls.i6 = cls._doc(1000.0, 10, currency=cls.chf)

    @classmethod
    def _runs(cls):
        d1, d2 = -60, -20
        r1, r2 = cls._doc(1000.0, -130), cls._doc(500.0, -130)
        r3 = cls._doc(800.0, -130, level=2)
        r4 = cls._doc(400.0, -130)
        r5 = cls._doc(1000.0, -130, level=1, currency=cls.chf)
        for invoice, amount, day in (
            (r1, 300.0, d1 + 10), (r1, 200.0, d1 + 20), (r1, 500.0, d1 + 40),
            (r2, 500.0, d1), (r5, 250.0, d1 + 14), (r5, 250.0, d1 + 30), (r3, 200.0, d2 + 5),
        ):  # fmt: skip
            cls._pay_on(invoice, amount, day)
        # dated D2+3 (the helper dates a document 30 days before its due date)
        note = cls._invoice(cls.customer, 400.0, cls._days(d2 + 33), move_type="out_refund")
        (note + r4).line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        ).reconcile()
        cls._run("letter", 1, d1, [(r1, 1000.0), (r2, 500.0), (r5, 1000.0), (r3, 800.0, "skipped")])
        cls._run("email", 2, d2, [(r3, 800.0), (r4, 400.0)])
        cls._run("letter", 1, d1, [(r1, 1000.0)], state="cancelled")

    @classmethod
    def _run(cls, channel, level, day, lines, state="done"):
        outcome = "printed" if channel == "letter" else "sent"
        return cls.env["relance.run"].sudo().create(
            {
                "run_type": channel, "date": cls._days(day), "level": level, "state": state,
                "line_ids": [
                    Command.create({
                        "partner_id": cls.customer.id, "move_id": move.id,
                        "level_before": level - 1, "level_after": level, "residual": residual,
                        "currency_id": move.currency_id.id, "channel": channel,
                        "outcome": rest[0] if rest else outcome,
                    })
                    for move, residual, *rest in lines
                ],
            }
        )  # fmt: skip

    def _dashboard(self, user=None):
        return self.env["relance.dashboard"].with_user(user or self.user_a).create({})

    def test_amounts_due_by_level_and_age_per_currency(self):
        tables = self._dashboard()._due_figures()
        usd, chf = tables[self.usd], tables[self.chf]
        self.assertEqual(
            usd["levels"],
            {
                0: {"0_not_due": 400.0, "all": 400.0},
                1: {"1_30": 1000.0, "all": 1000.0},
                2: {"2_60": 500.0, "4_over_90": 600.0, "all": 1100.0},
                3: {"4_over_90": 300.0, "all": 300.0},
            },
        )
        self.assertEqual(usd["credits"], {"1_30": -50.0, "all": -50.0})
        self.assertEqual(
            usd["total"],
            {"0_not_due": 400.0, "1_30": 950.0, "2_60": 500.0, "4_over_90": 900.0, "all": 2750.0},
        )
        self.assertEqual(
            chf["levels"],
            {
                0: {"0_not_due": 1000.0, "all": 1000.0},
                1: {"4_over_90": 500.0, "all": 500.0},
                2: {"3_90": 2000.0, "all": 2000.0},
            },
        )
        self.assertEqual(chf["total"]["all"], 3500.0)  # never added to the dollars

    def test_dso_per_currency(self):
        """USD: receivables 2,750; sales of the last 90 days I1 1,000 + I2 400 + I3 600
        - credit note 50 - credit note 400 = 1,550; DSO = 2,750 / 1,550 x 90 = 159.68.
        CHF: receivables 3,500; sales I6 1,000 (I5 and R5 are older); DSO 315."""
        rows = {row[0]: row[1:] for row in self._dashboard()._dso_figures()}
        due, sales, dso = rows[self.usd]
        self.assertEqual((due, sales), (2750.0, 1550.0))
        self.assertAlmostEqual(dso, 159.68, places=2)
        self.assertEqual(rows[self.chf], (3500.0, 1000.0, 315.0))

    def test_recovery_per_level_and_channel(self):
        """USD level 1 (letters, D1 60 days ago): dunned 1,500; 300 paid within 15
        days (R2's payment on the dunning date itself does not count): 20 %; 500
        within 30 days: 33.3 %. USD level 2 (emails, 20 days ago): dunned 1,200, 200
        paid within 15 days (R4's credit note is no payment): 16.7 %; its 30 days not
        past yet. CHF level 1: 250 of 1,000 within 15 days (D1+14), 500 within 30."""
        tables = self._dashboard()._recovery_figures()
        usd = dict(tables[self.usd]["level"])
        self.assertEqual(
            {k: usd[1][k] for k in ("dunned_15", "paid_15", "dunned_30", "paid_30", "runs")},
            {
                "dunned_15": 1500.0,
                "paid_15": 300.0,
                "dunned_30": 1500.0,
                "paid_30": 500.0,
                "runs": 1,
            },
        )
        self.assertAlmostEqual(usd[1]["rate_15"], 20.0)
        self.assertAlmostEqual(usd[1]["rate_30"], 100 * 500 / 1500)
        self.assertEqual((usd[2]["dunned_15"], usd[2]["paid_15"]), (1200.0, 200.0))
        self.assertAlmostEqual(usd[2]["rate_15"], 100 * 200 / 1200)
        self.assertEqual((usd[2]["dunned_30"], usd[2]["rate_30"]), (0.0, None))
        channels = dict(tables[self.usd]["channel"])
        self.assertEqual(channels["letter"]["rate_15"], usd[1]["rate_15"])
        self.assertEqual(channels["email"]["rate_15"], usd[2]["rate_15"])
        chf = dict(tables[self.chf]["level"])[1]
        self.assertEqual((chf["rate_15"], chf["rate_30"]), (25.0, 50.0))

    def test_pivot_rates_are_ratios_of_sums_within_one_currency(self):
        """The pivot's rate of a group: its paid sum over its dunned sum; a group of
        several currencies shows none (nor any amount)."""
        Recovery = self.env["relance.collection.recovery"].with_user(self.user_a)
        by_currency = Recovery.read_group(
            [], ["rate_15:avg", "rate_30:avg"], ["currency_id"], lazy=False
        )
        rates = {group["currency_id"][0]: group for group in by_currency}
        usd = rates[self.usd.id]
        self.assertAlmostEqual(usd["rate_15"], 100 * (300 + 200) / (1500 + 1200))
        self.assertAlmostEqual(usd["rate_30"], 100 * 500 / 1500)  # emails' 30 days not past
        self.assertEqual(rates[self.chf.id]["rate_15"], 25.0)
        (mixed,) = Recovery.read_group([("level", "=", 1)], ["rate_15:avg", "paid_15"], ["level"])
        self.assertEqual((mixed["rate_15"], mixed["paid_15"]), (False, False))
        # the pivot's grand total (no groupby) mixes the two currencies: no figure
        (total,) = Recovery.read_group([], ["rate_15:avg", "dunned_15:sum"], [])
        self.assertEqual((total["rate_15"], total["dunned_15"]), (False, False))
        Due = self.env["relance.collection.due"].with_user(self.user_a)
        self.assertIs(Due.read_group([], ["residual:sum"], [])[0]["residual"], False)
        (usd_total,) = Due.read_group([("currency_id", "=", self.usd.id)], ["residual:sum"], [])
        self.assertEqual(usd_total["residual"], 2750.0)
        runs = Recovery.read_group([], ["rate_15:avg"], ["run_id"])
        self.assertEqual(len(runs), 2, "the cancelled run is left out")

    def test_dashboard_form_shows_the_figures(self):
        """The menu's action opens a dashboard whose form reads the figures."""
        Dashboard = self.env["relance.dashboard"].with_user(self.user_a)
        action = Dashboard.action_open()
        view = Dashboard.get_views([(False, "form")])["views"]["form"]["arch"]
        names = ("due_html", "dso_html", "recovery_html")
        self.assertTrue(all(f'name="{name}"' in view for name in names))
        (values,) = Dashboard.browse(action["res_id"]).web_read({name: {} for name in names})
        env = Dashboard.env
        self.assertIn(formatLang(env, 2750 / 1550 * 90, digits=1), values["dso_html"])
        self.assertIn("CHF", values["due_html"])
        self.assertIn(formatLang(env, 100 * 500 / 1500, digits=1), values["recovery_html"])
        recovery = Dashboard.browse(action["res_id"]).action_open_recovery()
        self.assertEqual(recovery["res_model"], "relance.collection.recovery")
        # the credit notes' "-50,00": a minus that a spreadsheet, once pasted, reads
        # (Odoo's formatting puts an invisible character after it, as in the letters)
        self.assertIn("-50", values["due_html"])
        for html in values.values():
            self.assertNotIn("\N{ZERO WIDTH NO-BREAK SPACE}", str(html))


@tagged("post_install", "-at_install")
class TestDashboardInstalments(RelanceCommon):
    """An invoice of 1,000 on "30 % now, 70 % at 120 days" terms, dated 170 days ago,
    dunned 40 days ago instalment by instalment (one run line each, 300 and 700);
    300 paid 5 days after: the 30 %'s (Odoo settles the oldest instalment first)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        today = fields.Date.context_today(cls.env.user)
        term = cls.env["account.payment.term"].create(
            {
                "name": "30 % now, 70 % at 120 days",
                "line_ids": [
                    Command.create({"value": "percent", "value_amount": 30, "nb_days": 0}),
                    Command.create({"value": "percent", "value_amount": 70, "nb_days": 120}),
                ],
            }
        )
        customer = cls._customer("Client Échéances", company_id=cls.company.id)
        line = {"name": "Prestation", "quantity": 1, "price_unit": 1000.0, "tax_ids": []}
        cls.invoice = cls.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": customer.id,
                "invoice_date": today - timedelta(days=170),
                "invoice_payment_term_id": term.id,
                "invoice_line_ids": [Command.create(line)],
            }
        )
        cls.invoice.action_post()
        cls.first, cls.second = cls.invoice.relance_echeance_ids.sorted("date_maturity")
        dunned_on = today - timedelta(days=40)
        cls.env["relance.run"].sudo().create(
            {
                "run_type": "letter", "date": dunned_on, "level": 1,
                "line_ids": [
                    Command.create({
                        "partner_id": customer.id, "move_id": cls.invoice.id,
                        "move_line_id": echeance.id, "residual": echeance.amount_currency,
                        "currency_id": cls.invoice.currency_id.id, "channel": "letter",
                        "outcome": "printed", "level_after": 1,
                    })
                    for echeance in (cls.first, cls.second)
                ],
            }
        )  # fmt: skip
        cls.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=cls.invoice.ids
        ).create(
            {"amount": 300.0, "payment_date": dunned_on + timedelta(days=5)}
        )._create_payments()

    def test_each_instalment_recovers_its_own_payments(self):
        rows = self.env["relance.collection.recovery"].search([("move_id", "=", self.invoice.id)])
        paid = {row.move_line_id: (row.dunned, row.paid_15, row.paid_30) for row in rows}
        self.assertEqual(paid, {self.first: (300.0, 300.0, 300.0), self.second: (700.0, 0.0, 0.0)})
        dashboard = self.env["relance.dashboard"].create({})
        (level_1,) = [
            figures
            for _level, figures in dashboard._recovery_figures()[self.invoice.currency_id]["level"]
        ]
        self.assertEqual(level_1["rate_15"], 30.0)  # 300 of 1,000, not the 300 counted twice


@tagged("post_install", "-at_install")
class TestDashboardAccess(RelanceCommon):
    """The views are SQL views: their multi-company record rules keep each user to
    the rows of their current companies, in the dashboard and in the pivots."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.setup_other_company(name="Société B")["company"]
        cls.user_a = dunning_user(cls.env, "dash.a", cls.company)
        cls.user_b = dunning_user(cls.env, "dash.b", cls.company_b)
        cls.both = dunning_user(cls.env, "dash.both", cls.company)
        cls.both.company_ids = [Command.set((cls.company + cls.company_b).ids)]
        cls.customer_a = cls._customer("Client A", company_id=cls.company.id)
        cls.customer_b = cls._customer("Client B", company_id=cls.company_b.id)
        cls.invoice_a = cls._invoice(cls.customer_a, 100.0, 20)
        cls.invoice_b = cls._invoice_b(700.0)
        cls.run_b = cls.env["relance.run"].sudo().create(
            {
                "run_type": "letter", "date": cls.invoice_b.invoice_date_due,
                "company_id": cls.company_b.id, "level": 1,
                "line_ids": [Command.create({
                    "partner_id": cls.customer_b.id, "move_id": cls.invoice_b.id,
                    "residual": 700.0, "currency_id": cls.invoice_b.currency_id.id,
                    "channel": "letter", "outcome": "printed", "level_after": 1,
                })],
            }
        )  # fmt: skip

    @classmethod
    def _invoice_b(cls, amount):
        line = {"name": "Prestation", "quantity": 1, "price_unit": amount, "tax_ids": []}
        move = (
            cls.env["account.move"]
            .with_company(cls.company_b)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": cls.customer_b.id,
                    "invoice_date": fields.Date.today() - timedelta(days=40),
                    "invoice_line_ids": [Command.create(line)],
                }
            )
        )
        move.action_post()
        return move

    def _totals(self, user, companies=None):
        env_user = self.env["relance.dashboard"].with_user(user)
        if companies:
            env_user = env_user.with_context(allowed_company_ids=companies.ids)
        dashboard = env_user.create({})
        return {
            "due": {cur.name: t["total"]["all"] for cur, t in dashboard._due_figures().items()},
            "runs": sum(
                figures["runs"]
                for table in dashboard._recovery_figures().values()
                for _level, figures in table["level"]
            ),
        }

    def test_each_user_sees_their_company_only(self):
        self.assertEqual(self._totals(self.user_a), {"due": {"USD": 100.0}, "runs": 0})
        b_currency = self.company_b.currency_id.name
        self.assertEqual(self._totals(self.user_b), {"due": {b_currency: 700.0}, "runs": 1})
        # a user of both companies, working in A only, sees A only
        self.assertEqual(self._totals(self.both, self.company), {"due": {"USD": 100.0}, "runs": 0})

    def test_pivot_rows_of_the_other_company_hidden(self):
        for model in ("relance.collection.due", "relance.collection.recovery"):
            with self.subTest(model=model):
                rows = self.env[model].with_user(self.user_a).search([])
                self.assertFalse(rows.filtered(lambda row: row.company_id == self.company_b))
                groups = (
                    self.env[model]
                    .with_user(self.user_a)
                    .read_group([], ["company_id"], ["company_id"])
                )
                self.assertNotIn(self.company_b.id, [g["company_id"][0] for g in groups])
        own = self.env["relance.collection.recovery"].with_user(self.user_b).search([])
        self.assertEqual(own.move_id, self.invoice_b)


@tagged("post_install", "-at_install")
class TestDashboardCollector(RelanceCommon):
    """Customer A collected by a collector, customer B by nobody, 100 and 300 USD due;
    A promised 100 within 3 days, B's promise of 50 three days ago was not kept."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.context_today(cls.env.user)
        cls.user = dunning_user(cls.env, "dash.collector.reader", cls.company)
        cls.collector = dunning_user(cls.env, "dash.collector", cls.company)
        cls.alpha = cls._customer(
            "Client Suivi", company_id=cls.company.id, relance_collector_id=cls.collector.id
        )
        cls.beta = cls._customer("Client Autre", company_id=cls.company.id)
        cls._invoice(cls.alpha, 100.0, cls.today - timedelta(days=10))
        cls._invoice(cls.beta, 300.0, cls.today - timedelta(days=10))
        Promise = cls.env["relance.promise"]
        Promise.create(
            {"partner_id": cls.alpha.id, "date": cls.today + timedelta(days=3), "amount": 100.0}
        )
        broken = Promise.create(
            {"partner_id": cls.beta.id, "date": cls.today + timedelta(days=1), "amount": 50.0}
        )
        broken.flush_recordset()
        cls.env.cr.execute(  # its date passed unpaid, as the nightly refresh finds it
            "UPDATE relance_promise SET date = %s, state = 'broken' WHERE id = %s",
            [cls.today - timedelta(days=3), broken.id],
        )
        broken.invalidate_recordset()

    def _figures(self, collector=None):
        dashboard = (
            self.env["relance.dashboard"]
            .with_user(self.user)
            .create({"collector_id": collector.id if collector else False})
        )
        usd = self.company.currency_id
        return dashboard._due_figures()[usd]["total"]["all"], dashboard._promise_figures()

    def test_promises_of_the_week_and_not_kept(self):
        usd = self.company.currency_id
        due, promises = self._figures()
        self.assertEqual(due, 400.0)
        self.assertEqual(promises, {"week": {usd: (1, 100.0)}, "broken": {usd: (1, 50.0)}})

    def test_a_collector_sees_their_customers(self):
        usd = self.company.currency_id
        due, promises = self._figures(self.collector)
        self.assertEqual(due, 100.0)
        self.assertEqual(promises, {"week": {usd: (1, 100.0)}, "broken": {}})

"""Demo data: a French company with a receivable ledger worth dunning.

Built by code rather than XML so that dates follow the day of installation
(a demo installed in a year still shows invoices 5, 20 and 45 days late).
"""

import random
from datetime import timedelta

from odoo import Command, api, fields, models

from .. import engine

CUSTOMERS = [
    # name, ref, zip, city, tag, email, language, special
    ("Boulangerie Martin", "C0001", "69002", "Lyon", "Commerce", True, "fr", None),
    ("Garage Dupont & Fils", "C0002", "69003", "Lyon", "Artisan", True, "fr", None),
    ("Transports Rhône Alpes", "C0003", "38000", "Grenoble", "PME", True, "fr", None),
    ("Cabinet Lefèvre Avocats", "C0004", "75008", "Paris", "Profession libérale", True, "fr", None),
    ("Menuiserie Bernard", "C0005", "42000", "Saint-Étienne", "Artisan", False, "fr", None),
    ("Hôtel du Parc", "C0006", "74000", "Annecy", "Commerce", True, "fr", None),
    ("Pharmacie Centrale", "C0007", "13001", "Marseille", "Commerce", True, "fr", None),
    ("Agence Immobilière Moreau", "C0008", "31000", "Toulouse", "PME", True, "fr", None),
    (
        "Clinique Vétérinaire Roux",
        "C0009",
        "33000",
        "Bordeaux",
        "Profession libérale",
        True,
        "fr",
        None,
    ),
    ("Imprimerie Fournier", "C0010", "44000", "Nantes", "PME", True, "fr", "excluded"),
    ("Restaurant Chez Paul", "C0011", "67000", "Strasbourg", "Commerce", True, "fr", "disabled"),
    ("Électricité Girard", "C0012", "59000", "Lille", "Artisan", True, "fr", None),
    ("Laboratoires Mercier", "C0013", "21000", "Dijon", "PME", True, "fr", "blocked"),
    ("Société Générale de Nettoyage", "C0014", "06000", "Nice", "PME", True, "fr", "credit"),
    ("Plomberie Lambert", "C0015", "34000", "Montpellier", "Artisan", True, "fr", "partial"),
    ("Ferme des Bonnet", "C0016", "63000", "Clermont-Ferrand", "Agriculteur", True, "fr", None),
    ("Alpine Trading Ltd", "C0017", "1201", "Genève", "Export", True, "en", "usd"),
    ("Brown & Partners LLP", "C0018", "EC1A", "London", "Export", True, "en", None),
    (
        "Coopérative Agricole du Forez",
        "C0019",
        "42600",
        "Montbrison",
        "Agriculteur",
        True,
        "fr",
        None,
    ),
    ("Atelier Faure Design", "C0020", "69006", "Lyon", "Profession libérale", True, "fr", "paid"),
]
# Countries of the customers outside France, by city.
FOREIGN_CITIES = {"Genève": "base.ch", "London": "base.uk"}
# The demo company's dollar: 1 EUR = 1.08 USD.
USD_PER_EUR = 1.08
# Days past the due date of each customer's invoices (negative: not yet due).
DELAYS = [-20, -3, 3, 8, 12, 18, 25, 35, 50, 75, 120]


class RelanceDemo(models.AbstractModel):
    _name = "relance.demo"
    _description = "Dunning demo data"

    @api.model
    def _load_demo(self):
        fr_active = bool(self.env["res.lang"]._lang_get("fr_FR"))
        if fr_active:  # so that the new company's levels are copied with their French
            self.env["ir.module.module"]._load_module_terms(["relance_atys"], ["fr_FR"])
        # the English-speaking customers read English letters and mails
        self.env["res.lang"]._activate_lang("en_US")
        company = self._demo_company()
        self = self.with_company(company).with_context(
            allowed_company_ids=[company.id], tracking_disable=True
        )
        partners = self._demo_partners(company, fr_active)
        invoices = self._demo_invoices(company, partners)
        self._demo_history(company, invoices)
        self._demo_quotations(company, partners)
        admin = self.env.ref("base.user_admin")
        admin.write({"company_ids": [Command.link(company.id)], "company_id": company.id})
        if fr_active:
            admin.lang = "fr_FR"

    def _demo_company(self):
        company = self.env["res.company"].create(
            {
                "name": "Relances Démo SAS",
                "street": "12 rue de la République",
                "zip": "69002",
                "city": "Lyon",
                "country_id": self.env.ref("base.fr").id,
                "currency_id": self.env.ref("base.EUR").id,
                "phone": "+33 4 72 00 00 00",
                "email": "compta@relances-demo.example",
                "company_registry": "123 456 789 00012",
                "relance_rule": engine.RULE_BOUNDS,
                "logo": False,  # rather no logo than Odoo's "Your logo" on the letters
            }
        )
        # _load: try_loading warns when called while modules are still loading
        self.env.ref("base.EUR").active = True
        self.env["account.chart.template"]._load("generic_coa", company, install_demo=False)
        company.currency_id = self.env.ref("base.EUR")  # the chart sets its own
        self._demo_letter_settings(company)
        return company

    def _demo_letter_settings(self, company):
        """What the letters print: bank details, signatory, contact, legal mentions."""
        bank = self.env["res.bank"].create({"name": "Banque Démo Lyon", "bic": "BDEMFRPPXXX"})
        self.env["res.partner.bank"].create(
            {
                "partner_id": company.partner_id.id,
                "acc_number": "FR76 3000 4000 0312 3456 7890 143",
                "bank_id": bank.id,
                "company_id": company.id,
            }
        )
        accountant = self.env["res.users"].create(
            {
                "name": "Claire Martin",
                "login": "claire.martin@relances-demo.example",
                "email": "claire.martin@relances-demo.example",
                "phone": "+33 4 72 00 00 12",
                "function": "Responsable du recouvrement",
                "company_id": company.id,
                "company_ids": [Command.link(company.id)],
            }
        )
        company.write(
            {
                "relance_signatory_id": accountant.id,
                "relance_contact_id": accountant.id,
                "relance_payment_methods": "Virement bancaire ou chèque à l'ordre de "
                "Relances Démo SAS",
                "relance_legal_form": "SAS",
                "relance_share_capital": "50 000 €",
                "relance_rcs": "RCS Lyon 123 456 789",
                "vat": "FR32123456789",
            }
        )
        self._demo_penalty_settings(company)

    def _demo_penalty_settings(self, company):
        """The product and account the penalties of a run are invoiced on (no tax)."""
        product = self.env["product.product"].create(
            {
                "name": "Pénalités de retard et indemnité de recouvrement",
                "type": "service",
                "company_id": company.id,
                "taxes_id": [Command.clear()],
            }
        )
        account = self.env["account.account"].create(
            {
                "code": "763100",
                "name": "Pénalités de retard et indemnités de recouvrement",
                "account_type": "income_other",
                "company_ids": [Command.link(company.id)],
            }
        )
        company.write(
            {"relance_penalty_product_id": product.id, "relance_penalty_account_id": account.id}
        )

    def _demo_partners(self, company, fr_active):
        tags = {}
        users = self.env["res.users"].create(
            [
                {
                    "name": name,
                    "login": login,
                    "company_id": company.id,
                    "company_ids": [Command.set(company.ids)],
                }
                for name, login in (("Claire Rousseau", "claire.demo"), ("Marc Vidal", "marc.demo"))
            ]
        )
        vals = []
        for index, (name, ref, zip_code, city, tag, email, lang, special) in enumerate(CUSTOMERS):
            if tag not in tags:
                tags[tag] = self.env["res.partner.category"].create({"name": tag})
            slug = ref.lower()
            vals.append(
                {
                    "name": name,
                    "ref": ref,
                    "is_company": True,
                    "customer_rank": 1,
                    "street": f"{3 + index * 7} avenue Jean Jaurès",
                    "zip": zip_code,
                    "city": city,
                    "country_id": self.env.ref(FOREIGN_CITIES.get(city, "base.fr")).id,
                    "email": f"compta.{slug}@example.com" if email else False,
                    "lang": "fr_FR" if lang == "fr" and fr_active else "en_US",
                    "category_id": [Command.link(tags[tag].id)],
                    "user_id": users[index % 2].id,
                    "relance_excluded": special == "excluded",
                    "relance_enabled": special != "disabled",
                    "company_id": company.id,
                }
            )
        return self.env["res.partner"].create(vals)

    def _demo_invoices(self, company, partners):
        rng = random.Random(42)
        today = fields.Date.context_today(self)
        usd = self.env.ref("base.USD")
        usd.active = True
        # a rate of its own, older than every invoice: without it the company reads
        # a dollar as a euro ("$ 2 307,00" due = "2 307,00 €" in Amount Due)
        self.env["res.currency.rate"].create(
            {
                "currency_id": usd.id,
                "company_id": company.id,
                "name": today - timedelta(days=400),
                "rate": USD_PER_EUR,
            }
        )
        vals, specials = [], []
        for partner, spec in zip(partners, CUSTOMERS, strict=True):
            special = spec[7]
            for delay in rng.sample(DELAYS, 5):
                due = today - timedelta(days=delay)
                amount = rng.choice([180, 240, 420, 960, 1250, 2300, 4800]) + rng.randint(0, 99)
                vals.append(
                    self._invoice_vals(
                        company, partner, due, amount, usd if special == "usd" else None
                    )
                )
                specials.append(special)
        invoices = self.env["account.move"].create(vals)
        invoices.action_post()
        self._demo_specials(partners, invoices, specials, today)
        return invoices | self._demo_instalments(company, partners[:3], today)

    def _demo_instalments(self, company, partners, today):
        """Invoices on instalment terms, each instalment dunned on its own: 30 % at
        the order and 70 % at 120 days, the first overdue and the next not due (then
        both overdue), and a payment in three times, all three overdue."""
        term_30_70 = self._demo_term("30 % à la commande, 70 % à 120 jours", [(30, 0), (70, 120)])
        thirds = self._demo_term("Paiement en 3 fois", [(33.33, 0), (33.33, 30), (33.34, 60)])
        rows = [(term_30_70, 60, 2400), (thirds, 75, 1500), (term_30_70, 200, 3600)]
        vals = []
        for partner, (term, days_ago, amount) in zip(partners, rows, strict=True):
            invoice = self._invoice_vals(company, partner, today, amount, None)
            invoice.pop("invoice_date_due")
            invoice["invoice_date"] = today - timedelta(days=days_ago)
            vals.append(dict(invoice, invoice_payment_term_id=term.id))
        invoices = self.env["account.move"].create(vals)
        invoices.action_post()
        return invoices

    def _demo_term(self, name, instalments):
        """Payment terms of (percent, days after the invoice date) instalments."""
        return self.env["account.payment.term"].create(
            {
                "name": name,
                "line_ids": [
                    Command.create({"value": "percent", "value_amount": percent, "nb_days": days})
                    for percent, days in instalments
                ],
            }
        )

    def _invoice_vals(self, company, partner, due, amount, currency, move_type="out_invoice"):
        return {
            "move_type": move_type,
            "company_id": company.id,
            "partner_id": partner.id,
            "invoice_date": due - timedelta(days=30),
            "invoice_date_due": due,
            "currency_id": (currency or company.currency_id).id,
            "invoice_line_ids": [
                Command.create(
                    {
                        "name": "Prestations de services",
                        "quantity": 1,
                        "price_unit": amount,
                        "tax_ids": [],
                    }
                )
            ],
        }

    def _demo_specials(self, partners, invoices, specials, today):
        """Partial payments, a credit note, a dispute, a customer fully paid."""
        by_special = {}
        for invoice, special in zip(invoices, specials, strict=True):
            by_special.setdefault(special, self.env["account.move"])
            by_special[special] |= invoice
        for invoice in by_special["blocked"][:2]:
            invoice.action_toggle_block_payment()
        for invoice in by_special["partial"][:3]:
            self._register_payment(invoice, invoice.amount_total / 2)
        for invoice in by_special["paid"]:
            self._register_payment(invoice, invoice.amount_total)
        credit_partner = by_special["credit"][:1].partner_id
        refund = self.env["account.move"].create(
            self._invoice_vals(
                credit_partner.company_id,
                credit_partner,
                today - timedelta(days=10),
                350.0,
                None,
                "out_refund",
            )
        )
        refund.action_post()

    def _register_payment(self, invoice, amount):
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"amount": amount, "payment_date": invoice.invoice_date_due})._create_payments()

    def _demo_history(self, company, invoices):
        """Three past definitive editions, so documents stand at levels 1, 2 and 3."""
        service = self.env["relance.service"]
        today = fields.Date.context_today(self)
        some = invoices.commercial_partner_id[:6].ids
        for days_ago, partner_ids in ((30, None), (10, None), (5, some)):
            date = today - timedelta(days=days_ago)
            options = {"date": date, "rule": engine.RULE_BOUNDS, "partner_ids": partner_ids}
            lines = service._proposal_lines(service._propose(company, options))
            for line in lines:
                line["channel"] = "letter"
                if line["outcome"] == "planned":
                    line["outcome"] = "printed"
            if lines:
                service._record_run(company, "letter", options, lines)

    def _demo_quotations(self, company, partners):
        """Quotations awaiting a signature, created 25 to 100 days ago."""
        product = self.env["product.product"].create(
            {
                "name": "Contrat de maintenance annuel",
                "list_price": 1200.0,
                "company_id": company.id,
            }
        )
        ages = [10, 25, 29, 31, 45, 59, 61, 75, 89, 91, 120, 150]
        orders = self.env["sale.order"].create(
            [
                {
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "require_signature": True,
                    "order_line": [
                        Command.create({"product_id": product.id, "product_uom_qty": 1})
                    ],
                }
                for partner in partners[: len(ages)]
            ]
        )
        orders[: len(ages) // 2].action_quotation_sent()
        self.env.flush_all()
        for order, age in zip(orders, ages, strict=True):
            self.env.cr.execute(
                "UPDATE sale_order SET create_date = now() - %s * interval '1 day' WHERE id = %s",
                [age, order.id],
            )
        orders.invalidate_recordset(["create_date"])

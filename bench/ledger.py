"""The bench's ledger: one seed block built through the ORM, cloned in SQL, then verified.

The seed block is what Odoo itself produces: customers (some with an invoicing
contact), posted invoices over a year on several payment terms, partial and
full payments through ``account.payment.register``, credit notes (some applied
to an invoice), payments not yet allocated, disputed and excluded invoices,
invoices already dunned, and quotations waiting for a signature.

Cloning copies every row of the block K-1 times in one INSERT ... SELECT per
table, shifting ids (and every foreign key into the block) by a per-copy
offset, and renumbering documents within their sequence. Foreign keys are
read from PostgreSQL's catalog, so no column is forgotten; ``verify`` then
asks Odoo to recompute a sample and checks the whole ledger in SQL.
"""

import json
import random
from datetime import date, datetime, time, timedelta

from odoo import SUPERUSER_ID, Command, api

AS_OF_KEY = "relance_bench.as_of"
BLOCK_KEY = "relance_bench.block"
DOCUMENT_NUMBER = "[A-Z0-9]+/[0-9]{4}/[0-9]+"  # FAC/2026/00012, PBNK1/2026/00003
CONTEXT = {"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True}

# Tables a block is made of (rows created by the seed), and the many2many
# tables linking them, copied with them.
CLONED = [
    "res_partner",
    "account_move",
    "account_move_line",
    "account_partial_reconcile",
    "account_full_reconcile",
    "account_payment",
    "sale_order",
    "sale_order_line",
]
RELATIONS = [
    "res_partner_res_partner_category_rel",
    "account_move_line_account_tax_rel",
    "account_account_tag_account_move_line_rel",
    "account_move__account_payment",
    "account_tax_sale_order_line_rel",
]

SALESPERSONS = [
    "Sophie Garnier", "Julien Roche", "Camille Morel", "Nicolas Perrin",
    "Élodie Fabre", "Thomas Lemaire", "Claire Vidal", "Antoine Masson",
]  # fmt: skip
TAGS = ["Grands comptes", "PME", "Artisan", "Commerce", "Export", "Collectivité"]
ACTIVITIES = [
    "Boulangerie", "Garage", "Transports", "Cabinet", "Menuiserie", "Hôtel", "Pharmacie",
    "Agence", "Clinique", "Imprimerie", "Restaurant", "Électricité", "Laboratoires",
    "Plomberie", "Ferme", "Atelier", "Librairie", "Fromagerie", "Quincaillerie", "Maçonnerie",
]  # fmt: skip
SURNAMES = [
    "Martin", "Dupont", "Lefèvre", "Bernard", "Moreau", "Roux", "Fournier", "Girard",
    "Mercier", "Lambert", "Bonnet", "Faure", "Rousseau", "Blanc", "Guérin", "Muller",
    "Henry", "Gauthier", "Chevalier", "Robin", "Clément", "Morin", "Nicolas", "Mathieu",
]  # fmt: skip
CITIES = [
    ("69002", "Lyon"), ("75008", "Paris"), ("13001", "Marseille"), ("31000", "Toulouse"),
    ("33000", "Bordeaux"), ("44000", "Nantes"), ("59000", "Lille"), ("67000", "Strasbourg"),
    ("38000", "Grenoble"), ("21000", "Dijon"), ("06000", "Nice"), ("35000", "Rennes"),
]  # fmt: skip
TERMS = [
    "account_payment_term_immediate",
    "account_payment_term_30days",
    "account_payment_term_45days",
    "account_payment_term_end_following_month",
]
# a fifth of the invoices are payable in two or three instalments
INSTALMENT_SHARE = 0.2
INSTALMENTS = [
    ("30 % à la commande, 70 % à 60 jours", [(30, 0), (70, 60)]),
    ("Paiement en 3 fois", [(33.33, 0), (33.33, 30), (33.34, 60)]),
]


def _env(cr):
    return api.Environment(cr, SUPERUSER_ID, dict(CONTEXT))


def as_of(env):
    return date.fromisoformat(env["ir.config_parameter"].sudo().get_param(AS_OF_KEY))


# -- seed --------------------------------------------------------------------------


def seed(registry, invoices):
    """Build one block of ``invoices`` open invoices (about five per customer)."""
    invoices = int(invoices)
    rng = random.Random(20260331)
    with registry.cursor() as cr:
        env = _env(cr)
        today = date.today()
        env["ir.config_parameter"].set_param(AS_OF_KEY, today.isoformat())
        refs = _setup(env, today)
        env.flush_all()
        starts = {table: _max_id(cr, table) + 1 for table in CLONED}
        partners = _partners(env, rng, invoices // 5, refs)
        block = Block(env, rng, today, refs, partners)
        block.build(invoices)
        _quotations(env, rng, partners, invoices // 2, today, refs)
        env.flush_all()
        ranges = {table: [starts[table], _max_id(cr, table)] for table in CLONED}
        env["ir.config_parameter"].set_param(BLOCK_KEY, json.dumps(ranges))
        return {table: hi - lo + 1 for table, (lo, hi) in ranges.items()}


def _max_id(cr, table):
    cr.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
    return cr.fetchone()[0]


def _setup(env, today):
    """Company, chart, salespersons, tags, product: what a real one has."""
    company = _company(env, today)
    _accountant(env)
    tax = company.account_sale_tax_id
    journals = env["account.journal"].search([("company_id", "=", company.id)])
    return {
        "company": company,
        "usd": env.ref("base.USD"),
        "users": _salespersons(env),
        "tags": env["res.partner.category"].create([{"name": name} for name in TAGS]),
        "terms": [env.ref(f"account.{xmlid}") for xmlid in TERMS],
        "instalments": _instalment_terms(env),
        "tax": tax,
        "sale_journal": journals.filtered(lambda journal: journal.type == "sale")[:1],
        "bank_journal": journals.filtered(lambda journal: journal.type == "bank")[:1],
        "product": env["product.product"].create(
            {
                "name": "Prestation de service",
                "type": "service",
                "list_price": 450.0,
                "taxes_id": [Command.set(tax.ids)],
            }
        ),
    }


def _instalment_terms(env):
    """Terms of two and three instalments (a deposit, "paiement en 3 fois"): each
    instalment an échéance of its own, dunned when it falls due."""
    return env["account.payment.term"].create(
        [
            {
                "name": name,
                "line_ids": [
                    Command.create({"value": "percent", "value_amount": percent, "nb_days": days})
                    for percent, days in instalments
                ],
            }
            for name, instalments in INSTALMENTS
        ]
    )


def _company(env, today):
    """A French company in euros on Odoo's generic chart, with a dollar rate."""
    company = env.ref("base.main_company")
    eur, usd = env.ref("base.EUR"), env.ref("base.USD")
    (eur | usd).active = True
    env["res.lang"]._activate_lang("en_US")
    if not company.chart_template:
        env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)
    company.currency_id = eur
    company.account_sale_tax_id.write({"name": "TVA collectée 20 %", "amount": 20.0})
    company.write(
        {
            "name": "Atys Bench SAS",
            "street": "12 rue de la République",
            "zip": "69002",
            "city": "Lyon",
            "country_id": env.ref("base.fr").id,
            "email": "compta@atys-bench.example.fr",
            "phone": "+33 4 72 00 00 00",
            "company_registry": "123 456 789 00012",
            "relance_rule": "bounds",
            "external_report_layout_id": env.ref("web.external_layout_standard").id,
        }
    )
    env["res.currency.rate"].create(
        {"currency_id": usd.id, "name": today - timedelta(days=500), "rate": 1.08}
    )
    return company


def _accountant(env):
    """The bench's user: admin, in French, dunning and accounting manager."""
    env.ref("base.user_admin").write(
        {
            "lang": "fr_FR",
            "tz": "Europe/Paris",
            "groups_id": [
                Command.link(env.ref("relance_atys.group_relance_manager").id),
                Command.link(env.ref("account.group_account_manager").id),
                Command.link(env.ref("sales_team.group_sale_manager").id),
            ],
        }
    )


def _salespersons(env):
    salesman = env.ref("sales_team.group_sale_salesman")
    return (
        env["res.users"]
        .with_context(no_reset_password=True)
        .create(
            [
                {
                    "name": name,
                    "login": name.lower().replace(" ", ".").replace("é", "e").replace("É", "e"),
                    "email": f"{name.split()[0].lower()}@atys-bench.example.fr",
                    "groups_id": [Command.set(salesman.ids)],
                }
                for name in SALESPERSONS
            ]
        )
    )


def _partners(env, rng, count, refs):
    """``count`` customers: salespersons, tags, languages, some excluded or disabled."""
    users, tags = refs["users"], refs["tags"]
    vals = []
    for index in range(count):
        activity = ACTIVITIES[index % len(ACTIVITIES)]
        surname = SURNAMES[(index * 7 + index // len(ACTIVITIES)) % len(SURNAMES)]
        zip_code, city = CITIES[index % len(CITIES)]
        slug = f"{activity}-{surname}".lower().encode("ascii", "ignore").decode()
        export = index % 25 == 4
        vals.append(
            {
                "name": f"{activity} {surname}",
                "is_company": True,
                "customer_rank": 1,
                "ref": f"C{index + 1:05d}",
                "street": f"{rng.randint(1, 120)} avenue Jean Jaurès",
                "zip": zip_code,
                "city": city,
                "country_id": env.ref("base.fr").id,
                "email": f"compta@{slug}.example.fr" if index % 12 else False,
                "lang": "en_US" if export else "fr_FR",
                "user_id": users[index % len(users)].id if index % 10 else False,
                "category_id": [Command.set(_tags_of(index, tags, export))],
                "relance_enabled": index % 50 != 7,
                "relance_excluded": index % 97 == 3,
                "relance_send_doc": index % 20 != 9,
                "child_ids": [
                    Command.create(
                        {
                            "type": "invoice",
                            "name": "Service comptabilité",
                            "email": f"factures@{slug}.example.fr",
                        }
                    )
                ]
                if index % 6 == 1
                else [],
            }
        )
    return env["res.partner"].create(vals)


def _tags_of(index, tags, export):
    if export:
        return tags.filtered(lambda tag: tag.name == "Export").ids
    return [tags[index % 4].id] + ([tags[5].id] if index % 9 == 0 else [])


class Block:
    """The accounting part of a seed block, through the ORM as a user would."""

    def __init__(self, env, rng, today, refs, partners):
        self.env, self.rng, self.today, self.refs = env, rng, today, refs
        self.partners = partners

    def build(self, open_count):
        weights = [1.0 / (1 + index % 20) for index in range(len(self.partners))]
        owners = list(self.partners) + self.rng.choices(
            self.partners, weights=weights, k=open_count - len(self.partners)
        )
        paid_count, refund_count = open_count // 20, open_count // 20
        moves = self.env["account.move"].create(
            [self._invoice_vals(partner) for partner in owners]
            + [self._invoice_vals(self.rng.choice(owners)) for _ in range(paid_count)]
            + [self._refund_vals(self.rng.choice(owners)) for _ in range(refund_count)]
        )
        moves.action_post()
        invoices = moves[:open_count]
        self._pay(moves[open_count : open_count + paid_count], full=True)
        payable = invoices.filtered(lambda inv: inv.currency_id == self.refs["company"].currency_id)
        self._pay(payable[: open_count // 5], full=False)
        self._apply_refunds(moves[open_count + paid_count :], payable[open_count // 5 :])
        self._unallocated_payments(open_count // 50)
        self._disputes_and_exclusions(payable[-open_count // 50 :])
        self._dunned_before(invoices)

    def _invoice_vals(self, partner):
        export = partner.lang == "en_US"
        currency = self.refs["usd"] if export and self.rng.random() < 0.5 else None
        return {
            "move_type": "out_invoice",
            "partner_id": partner.id,
            "journal_id": self.refs["sale_journal"].id,
            "invoice_date": self.today - timedelta(days=self._age()),
            "invoice_payment_term_id": self._terms().id,
            "invoice_user_id": partner.user_id.id,
            "currency_id": (currency or self.refs["company"].currency_id).id,
            "invoice_line_ids": [
                Command.create(
                    {
                        "name": f"Prestation {self.rng.choice(ACTIVITIES).lower()}",
                        "quantity": self.rng.randint(1, 10),
                        "price_unit": round(self.rng.uniform(40, 900), 2),
                        "tax_ids": [Command.set(self.refs["tax"].ids)],
                    }
                )
                for _ in range(self.rng.randint(1, 3))
            ],
        }

    def _terms(self):
        if self.rng.random() < INSTALMENT_SHARE:
            return self.rng.choice(self.refs["instalments"])
        return self.rng.choice(self.refs["terms"])

    def _refund_vals(self, partner):
        vals = self._invoice_vals(partner)
        vals.update(
            move_type="out_refund",
            currency_id=self.refs["company"].currency_id.id,
            invoice_payment_term_id=self.refs["terms"][0].id,  # a credit note: one échéance
        )
        vals["invoice_line_ids"] = vals["invoice_line_ids"][:1]
        return vals

    def _age(self):
        """Days since the invoice date: most open invoices are recent, a tail is old."""
        draw = self.rng.random()
        if draw < 0.45:
            return self.rng.randint(0, 45)
        if draw < 0.75:
            return self.rng.randint(46, 120)
        if draw < 0.95:
            return self.rng.randint(121, 270)
        return self.rng.randint(271, 400)

    def _pay(self, invoices, full):
        for invoice in invoices:
            share = 1.0 if full else self.rng.uniform(0.2, 0.7)
            paid_on = min(
                invoice.invoice_date + timedelta(days=self.rng.randint(5, 40)), self.today
            )
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoice.ids
            ).create(
                {
                    "amount": invoice.currency_id.round(invoice.amount_residual * share),
                    "payment_date": paid_on,
                    "journal_id": self.refs["bank_journal"].id,
                }
            )._create_payments()

    def _apply_refunds(self, refunds, invoices):
        """Half the credit notes are applied to a larger invoice of their customer."""
        for refund in refunds[: len(refunds) // 2]:
            target = invoices.filtered(
                lambda inv, refund=refund: (
                    inv.commercial_partner_id == refund.commercial_partner_id
                    and inv.amount_residual > refund.amount_total * 1.2
                )
            )[:1]
            line = refund.line_ids.filtered(lambda ln: ln.account_type == "asset_receivable")
            if target:
                target.js_assign_outstanding_line(line.id)

    def _unallocated_payments(self, count):
        payments = self.env["account.payment"].create(
            [
                {
                    "payment_type": "inbound",
                    "partner_type": "customer",
                    "partner_id": self.rng.choice(self.partners).id,
                    "amount": round(self.rng.uniform(50, 600), 2),
                    "date": self.today - timedelta(days=self.rng.randint(1, 60)),
                    "journal_id": self.refs["bank_journal"].id,
                    "memo": "Virement reçu",
                }
                for _ in range(count)
            ]
        )
        payments.action_post()

    def _disputes_and_exclusions(self, invoices):
        for invoice in invoices[: len(invoices) // 2]:
            invoice.action_toggle_block_payment()
        invoices[len(invoices) // 2 :].relance_excluded = True

    def _dunned_before(self, invoices):
        """A third of the invoices late by 16 days or more already had a reminder."""
        by_partner = {}
        for invoice in invoices:
            late = (self.today - invoice.invoice_date_due).days
            if late < 16 or self.rng.random() > 0.33:
                continue
            level = 2 if late > 45 else 1
            dunned_on = self.today - timedelta(days=self.rng.randint(8, 15))
            invoice.write({"relance_level": level, "relance_date": dunned_on})
            partner = invoice.commercial_partner_id
            best = by_partner.get(partner, (0, dunned_on))
            by_partner[partner] = (max(best[0], level), max(best[1], dunned_on))
        for partner, (level, dunned_on) in by_partner.items():
            partner.write({"relance_level": level, "relance_date": dunned_on})


def _quotations(env, rng, partners, count, today, refs):
    """``count`` quotations waiting for a signature, created over five months."""
    orders = env["sale.order"].create(
        [
            {
                "partner_id": rng.choice(partners).id,
                "require_signature": True,
                "order_line": [
                    Command.create(
                        {
                            "product_id": refs["product"].id,
                            "product_uom_qty": rng.randint(1, 20),
                        }
                    )
                ],
            }
            for _ in range(count)
        ]
    )
    env.flush_all()
    for order in orders:
        age = rng.randint(0, 150)
        created = datetime.combine(today - timedelta(days=age), time(9, 30))
        level = 0
        if age >= 30 and rng.random() < 0.2:
            level = 2 if age >= 60 and rng.random() < 0.3 else 1
        env.cr.execute(
            "UPDATE sale_order SET create_date = %s, date_order = %s, state = %s, "
            "relance_sign_level = %s, relance_sign_date = %s WHERE id = %s",
            [
                created,
                created,
                "sent" if rng.random() < 0.3 else "draft",
                level,
                today - timedelta(days=rng.randint(8, 25)) if level else None,
                order.id,
            ],
        )
    env.invalidate_all()


# -- clone -------------------------------------------------------------------------


def clone(registry, blocks):
    """Copy the seed block until the ledger holds ``blocks`` of them."""
    with registry.cursor() as cr:
        env = _env(cr)
        ranges = json.loads(env["ir.config_parameter"].get_param(BLOCK_KEY))
        cloner = Cloner(cr, ranges, int(blocks) - 1)
        if cloner.copies:
            cloner.run()
            env.invalidate_all()
            _follow_sale_sequence(env)
        return {table: _max_id(cr, table) for table in CLONED}


class Cloner:
    """Copies ``copies`` times every row of the block's ``ranges`` (table: [lo, hi]).

    Copy ``k`` (1..copies) of row ``id`` gets ``id + shift + k * span``: the
    copies are laid after the table's last row, one block after the other.
    """

    def __init__(self, cr, ranges, copies):
        self.cr, self.ranges, self.copies = cr, ranges, copies
        self.span = {table: hi - lo + 1 for table, (lo, hi) in ranges.items()}
        self.shift = {table: _max_id(cr, table) - hi for table, (lo, hi) in ranges.items()}
        self.foreign = self._foreign_keys()

    def run(self):
        self.cr.execute("SET LOCAL session_replication_role = replica")  # circular FKs
        self._name_map()
        for table in CLONED:
            self._copy_table(table)
        for table in RELATIONS:
            self._copy_relation(table)
        for table in CLONED:
            self.cr.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}"
            )
        self.cr.execute(
            """
            UPDATE account_move m SET invoice_partner_display_name = p.complete_name
              FROM res_partner p
             WHERE p.id = m.partner_id AND m.id > %s
            """,
            [self.ranges["account_move"][1] + self.shift["account_move"]],
        )
        self.cr.execute("SET LOCAL session_replication_role = DEFAULT")

    def _foreign_keys(self):
        """{table: {column: referenced table}} for references into the block's tables."""
        self.cr.execute(
            """
            SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text
              FROM pg_constraint c
              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
             WHERE c.contype = 'f' AND c.confrelid::regclass::text = ANY(%s)
            """,
            [CLONED],
        )
        foreign = {}
        for table, column, target in self.cr.fetchall():
            foreign.setdefault(table, {})[column] = target
        return foreign

    def _offset(self, table):
        return f"({self.shift[table]} + g.k * {self.span[table]})"

    def _remap(self, table, column):
        target = self.foreign.get(table, {}).get(column)
        if column == "id":
            return f"src.id + {self._offset(table)}"
        if not target:
            return f'src."{column}"'
        lo, hi = self.ranges[target]
        return (
            f'CASE WHEN src."{column}" BETWEEN {lo} AND {hi} '
            f'THEN src."{column}" + {self._offset(target)} ELSE src."{column}" END'
        )

    def _columns(self, table):
        self.cr.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            [table],
        )
        return [row[0] for row in self.cr.fetchall()]

    def _copy_table(self, table):
        overrides, joins = self._overrides(table)
        columns = self._columns(table)
        exprs = [overrides.get(column) or self._remap(table, column) for column in columns]
        lo, hi = self.ranges[table]
        self.cr.execute(
            f"""
            INSERT INTO {table} ({", ".join(f'"{column}"' for column in columns)})
            SELECT {", ".join(exprs)}
              FROM {table} src CROSS JOIN generate_series(1, {self.copies}) AS g(k) {joins}
             WHERE src.id BETWEEN {lo} AND {hi}
            """
        )

    def _copy_relation(self, table):
        columns = self._columns(table)
        owner = next(column for column in columns if column in self.foreign.get(table, {}))
        lo, hi = self.ranges[self.foreign[table][owner]]
        self.cr.execute(
            f"""
            INSERT INTO {table} ({", ".join(columns)})
            SELECT {", ".join(self._remap(table, column) for column in columns)}
              FROM {table} src CROSS JOIN generate_series(1, {self.copies}) AS g(k)
             WHERE src.{owner} BETWEEN {lo} AND {hi}
            """
        )

    def _name_map(self):
        """bench_names(k, id, old_name, new_name, new_number): documents renumbered
        within their sequence, copy k numbered after k - 1."""
        lo, hi = self.ranges["account_move"]
        self.cr.execute(
            f"""
            CREATE TEMP TABLE bench_names ON COMMIT DROP AS
            SELECT g.k, m.id, m.name AS old_name, n.number AS new_number,
                   m.sequence_prefix || lpad(n.number::text,
                       greatest(length(m.name) - length(m.sequence_prefix),
                                length(n.number::text)), '0') AS new_name
              FROM account_move m
              JOIN (SELECT journal_id, sequence_prefix, MAX(sequence_number) AS top
                      FROM account_move GROUP BY journal_id, sequence_prefix) s
                   USING (journal_id, sequence_prefix)
             CROSS JOIN generate_series(1, {self.copies}) AS g(k)
             CROSS JOIN LATERAL (SELECT m.sequence_number + g.k * s.top AS number) n
             WHERE m.id BETWEEN {lo} AND {hi} AND m.name <> '/';
            CREATE INDEX ON bench_names (k, id);
            CREATE INDEX ON bench_names (k, old_name);
            ANALYZE bench_names;
            """
        )

    def _renamed(self, alias, column):
        """A text column naming a document ("Paiement FAC/2026/00012"): the copy's name."""
        join = (
            f"LEFT JOIN bench_names {alias} ON {alias}.k = g.k "
            f"AND {alias}.old_name = substring(src.{column} from '{DOCUMENT_NUMBER}')"
        )
        return (
            f"CASE WHEN {alias}.old_name IS NULL THEN src.{column} "
            f"ELSE replace(src.{column}, {alias}.old_name, {alias}.new_name) END",
            join,
        )

    def _overrides(self, table):
        """({column: expression}, joins) where a copy differs from a shifted original."""
        return getattr(self, f"_overrides_{table}", lambda: ({}, ""))()

    def _overrides_res_partner(self):
        companies = self._count("res_partner", "is_company AND ref IS NOT NULL")
        number = f"(substring(src.ref from '[0-9]+$')::int + g.k * {companies})"
        return {
            "name": "CASE WHEN src.is_company THEN src.name || ' ' || g.k ELSE src.name END",
            "complete_name": "CASE WHEN src.parent_id IS NULL THEN src.name || ' ' || g.k "
            "ELSE parent.name || ' ' || g.k || ', ' || src.name END",
            "commercial_company_name": "src.commercial_company_name || ' ' || g.k",
            "ref": f"'C' || lpad({number}::text, greatest(5, length({number}::text)), '0')",
            "email": "replace(src.email, '@', '+' || g.k || '@')",
            "email_normalized": "replace(src.email_normalized, '@', '+' || g.k || '@')",
        }, "LEFT JOIN res_partner parent ON parent.id = src.parent_id"

    def _overrides_account_move(self):
        reference, join_reference = self._renamed("pr", "payment_reference")
        ref, join_ref = self._renamed("rf", "ref")
        return {
            "name": "COALESCE(nm.new_name, src.name)",
            "sequence_number": "COALESCE(nm.new_number, src.sequence_number)",
            "payment_reference": reference,
            "ref": ref,
            "access_token": "NULL",
        }, f"LEFT JOIN bench_names nm ON nm.k = g.k AND nm.id = src.id {join_reference} {join_ref}"

    def _overrides_account_move_line(self):
        name, join_name = self._renamed("ln", "name")
        ref, join_ref = self._renamed("lr", "ref")
        partial, full = (
            self._offset("account_partial_reconcile"),
            self._offset("account_full_reconcile"),
        )
        return {
            "move_name": "COALESCE(mn.new_name, src.move_name)",
            "name": name,
            "ref": ref,
            "matching_number": f"""CASE
                WHEN src.matching_number ~ '^P[0-9]+$'
                THEN 'P' || (substr(src.matching_number, 2)::int + {partial})
                WHEN src.matching_number ~ '^[0-9]+$'
                THEN (src.matching_number::int + {full})::text
                ELSE src.matching_number END""",
        }, f"LEFT JOIN bench_names mn ON mn.k = g.k AND mn.id = src.move_id {join_name} {join_ref}"

    def _overrides_account_payment(self):
        name, join_name = self._renamed("pn", "name")
        memo, join_memo = self._renamed("pm", "memo")
        reference, join_reference = self._renamed("pr", "payment_reference")
        return {
            "name": name,
            "memo": memo,
            "payment_reference": reference,
        }, f"{join_name} {join_memo} {join_reference}"

    def _overrides_sale_order(self):
        lo, hi = self.ranges["sale_order"]
        top = f"(SELECT MAX(substring(name from '[0-9]+$')::int) FROM sale_order WHERE id <= {hi})"
        number = f"(substring(src.name from '[0-9]+$')::int + g.k * {top})"
        return {
            "name": f"regexp_replace(src.name, '[0-9]+$', '') || "
            f"lpad({number}::text, greatest(5, length({number}::text)), '0')",
            "access_token": "NULL",
        }, ""

    def _count(self, table, where):
        lo, hi = self.ranges[table]
        self.cr.execute(f"SELECT COUNT(*) FROM {table} WHERE id BETWEEN {lo} AND {hi} AND {where}")
        return self.cr.fetchone()[0]


def _follow_sale_sequence(env):
    """Next quotation numbers after the copies' ones."""
    env.cr.execute("SELECT MAX(substring(name from '[0-9]+$')::int) FROM sale_order")
    top = env.cr.fetchone()[0] or 0
    sequence = env["ir.sequence"].search([("code", "=", "sale.order")], limit=1)
    sequence.number_next = top + 1


# -- verify and describe --------------------------------------------------------------

OPEN_INVOICES = """
    SELECT COUNT(*) FROM account_move
     WHERE move_type = 'out_invoice' AND state = 'posted' AND amount_residual > 0
"""
SAMPLE = 300


def verify(registry, size):
    """Raise unless the ledger is one Odoo accepts; return what was checked."""
    cr = registry.cursor()
    try:
        env = _env(cr)
        # the tables were just filled by the clone: without their statistics, the
        # checks' correlated subqueries were planned as scans (one ran 12 minutes)
        cr.execute("ANALYZE account_move, account_move_line, account_account")
        checks = _sql_checks(cr, int(size))
        sample = _sample(env)
        checks.update(_recomputed(env, sample))
        checks.update(_still_works(env, sample))
        return checks
    finally:
        cr.rollback()
        cr.close()


def _sql_checks(cr, size):
    """Whole-ledger checks: count, balance of every move, unique numbers."""
    cr.execute(OPEN_INVOICES)
    open_invoices = cr.fetchone()[0]
    cr.execute(
        """
        SELECT COUNT(*) FROM (
            SELECT move_id FROM account_move_line GROUP BY move_id
            HAVING ROUND(SUM(debit) - SUM(credit), 2) <> 0
                OR ROUND(SUM(balance), 2) <> 0) unbalanced
        """
    )
    unbalanced = cr.fetchone()[0]
    cr.execute(
        """
        SELECT COUNT(*) FROM (
            SELECT 1 FROM account_move WHERE state = 'posted'
             GROUP BY journal_id, name HAVING COUNT(*) > 1) twice
        """
    )
    duplicates = cr.fetchone()[0]
    cr.execute(
        """
        SELECT COUNT(*) FROM account_move m
         WHERE m.move_type IN ('out_invoice', 'out_refund') AND m.state = 'posted'
           AND m.amount_residual <> (
               SELECT ABS(SUM(l.amount_residual_currency)) FROM account_move_line l
                 JOIN account_account a ON a.id = l.account_id
                WHERE l.move_id = m.id AND a.account_type = 'asset_receivable')
        """
    )
    residual_mismatch = cr.fetchone()[0]
    checks = {
        "open_invoices": open_invoices,
        "unbalanced_moves": unbalanced,
        "duplicate_numbers": duplicates,
        "invoice_vs_line_residuals": residual_mismatch,
    }
    if (open_invoices, unbalanced, duplicates, residual_mismatch) != (size, 0, 0, 0):
        raise AssertionError(f"the cloned ledger is wrong: {checks}")
    return checks


def _sample(env):
    """Invoices, credit notes and payments from the last copies, taken at random."""
    env.cr.execute(
        """
        SELECT id FROM account_move
         WHERE state = 'posted' AND id > (SELECT MAX(id) / 2 FROM account_move)
         ORDER BY random() LIMIT %s
        """,
        [SAMPLE],
    )
    return env["account.move"].browse([row[0] for row in env.cr.fetchall()])


def _recomputed(env, moves):
    """Odoo recomputes residuals, payment states and matchings equal to the stored ones."""
    lines = moves.line_ids
    line_fields = ["amount_residual", "amount_residual_currency", "reconciled"]
    move_fields = ["amount_total", "amount_residual", "payment_state"]
    stored = {(rec._name, rec.id): rec.read(names)[0] for rec, names in (
        *((line, line_fields) for line in lines),
        *((move, move_fields) for move in moves),
    )}  # fmt: skip
    for records, names in ((lines, line_fields), (moves, move_fields)):
        for name in names:
            env.add_to_compute(records._fields[name], records)
    wrong = [
        key
        for key, values in stored.items()
        if {name: env[key[0]].browse(key[1])[name] for name in values if name != "id"}
        != {name: value for name, value in values.items() if name != "id"}
    ]
    if wrong:
        raise AssertionError(f"Odoo recomputes other values for {wrong[:10]}")
    lines._constrains_matching_number()
    if moves._get_unbalanced_moves({"records": moves}):
        raise AssertionError("Odoo finds unbalanced moves")
    return {"recomputed_moves": len(moves), "recomputed_lines": len(lines)}


def _still_works(env, moves):
    """Odoo goes on from the copies: next number, a payment settling a copied invoice."""
    invoice = moves.filtered(lambda move: move.payment_state == "partial")[:1]
    if not invoice:
        return {}
    env.cr.execute(
        "SELECT MAX(sequence_number) FROM account_move WHERE journal_id = %s "
        "AND sequence_prefix = %s",
        [invoice.journal_id.id, invoice.sequence_prefix],
    )
    top = env.cr.fetchone()[0]
    new = invoice.copy({"invoice_date": invoice.invoice_date})
    new.action_post()
    env["account.payment.register"].with_context(
        active_model="account.move", active_ids=invoice.ids
    ).create({})._create_payments()
    if new.sequence_number != top + 1 or invoice.payment_state not in ("paid", "in_payment"):
        raise AssertionError(
            f"Odoo cannot go on: {new.name} after number {top}, {invoice.payment_state}"
        )
    return {"next_number": new.name, "settled": invoice.name}


def describe(env):
    """What the ledger holds, for the results."""
    queries = {
        "open_invoices": OPEN_INVOICES,
        "customers": "SELECT COUNT(*) FROM res_partner WHERE is_company AND customer_rank > 0",
        "partial_payments": "SELECT COUNT(*) FROM account_move WHERE move_type = 'out_invoice' "
        "AND payment_state = 'partial'",
        "open_credit_notes": "SELECT COUNT(*) FROM account_move WHERE move_type = 'out_refund' "
        "AND state = 'posted' AND amount_residual > 0",
        "payments": "SELECT COUNT(*) FROM account_payment",
        "journal_items": "SELECT COUNT(*) FROM account_move_line",
        "salespersons": "SELECT COUNT(DISTINCT user_id) FROM res_partner",
    }
    orders = env["sale.order"]
    description = {
        "as_of": as_of(env).isoformat(),
        "quotations_to_sign": orders.search_count(
            env["relance.signature.service"]._domain(env.company)
        ),
    }
    for key, query in queries.items():
        env.cr.execute(query)
        description[key] = env.cr.fetchone()[0]
    return description


# -- dunning history (the dashboard's runs) ----------------------------------------------

# The ``runs`` most recent dunnings of a batch of customers (a fifth of them, by id)
# at level 1 seven days after the due date, level 2 at 22 days, level 3 at 37 days:
# one run each (two batches by email, the others by letter), its lines the
# invoices' échéances late at that level on that date and still unpaid then, each
# with its residual then (the reconciliations dated up to the run's date taken off).
HISTORY = """
    WITH candidates AS (
        SELECT l.move_id, l.id AS move_line_id, m.company_id,
               m.commercial_partner_id AS partner_id, l.currency_id,
               l.amount_currency AS amount, k.level, m.commercial_partner_id %% 5 AS batch,
               l.date_maturity + (7 + 15 * (k.level - 1)) AS run_date
          FROM account_move_line l
          JOIN account_move m ON m.id = l.move_id
         CROSS JOIN generate_series(1, 3) k(level)
         WHERE m.move_type = 'out_invoice' AND m.state = 'posted'
           AND l.display_type = 'payment_term'
           AND m.company_id = %(company)s
           AND l.date_maturity + (7 + 15 * (k.level - 1)) < %(as_of)s
    ), keys AS (
        SELECT run_date, level, batch FROM candidates
         GROUP BY run_date, level, batch ORDER BY run_date DESC, level, batch LIMIT %(runs)s
    ), runs AS (
        INSERT INTO relance_run (name, run_type, company_id, user_id, date, level, state,
                                 progress_total, progress_done, parameters,
                                 create_uid, create_date, write_uid, write_date)
        SELECT 'BENCH/' || lpad(row_number() OVER (ORDER BY run_date, level, batch)::text,
                                4, '0'),
               CASE WHEN batch < 2 THEN 'email' ELSE 'letter' END, %(company)s, %(uid)s,
               run_date, level, 'done', 0, 0, '{"batch": ' || batch || '}',
               %(uid)s, now(), %(uid)s, now()
          FROM keys
        RETURNING id, date, level, run_type, parameters
    )
    INSERT INTO relance_run_line (run_id, company_id, run_type, date, partner_id, move_id,
                                  move_line_id, level_before, level_after, level_moved,
                                  residual, currency_id, channel, outcome,
                                  create_uid, create_date, write_uid, write_date)
    SELECT r.id, c.company_id, r.run_type, r.date, c.partner_id, c.move_id, c.move_line_id,
           c.level - 1, c.level, true, c.amount - COALESCE(paid.amount, 0),
           c.currency_id, r.run_type,
           CASE WHEN r.run_type = 'email' THEN 'sent' ELSE 'printed' END,
           %(uid)s, now(), %(uid)s, now()
      FROM candidates c
      JOIN runs r ON r.date = c.run_date AND r.level = c.level
                 AND r.parameters = '{"batch": ' || c.batch || '}'
      LEFT JOIN LATERAL (
           SELECT SUM(pr.debit_amount_currency) AS amount
             FROM account_partial_reconcile pr
            WHERE pr.debit_move_id = c.move_line_id AND pr.max_date <= c.run_date) paid ON true
     WHERE c.amount - COALESCE(paid.amount, 0) > 0
"""


def dunning_history(env, runs):
    """``runs`` past dunning runs and their lines, written in SQL from the ledger
    (see HISTORY); returns how many runs and lines the ledger then holds."""
    env.cr.execute(
        HISTORY,
        {"company": env.company.id, "as_of": as_of(env), "runs": int(runs), "uid": env.uid},
    )
    env.cr.execute("ANALYZE relance_run, relance_run_line")
    env.cr.execute(
        "SELECT (SELECT COUNT(*) FROM relance_run), (SELECT COUNT(*) FROM relance_run_line)"
    )
    return dict(zip(("runs", "run_lines"), env.cr.fetchone(), strict=True))

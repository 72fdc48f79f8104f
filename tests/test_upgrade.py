"""Upgrading a database made with the first published version (18.0.1.0.0).

Users have data: every later version must upgrade it without losing what they
recorded. The first version's code is taken from the git history (the last
commit before the manifest's version moved on), installed with its demo data
(customers, invoices at levels 1 to 3, two past definitive editions) in a
database of the test cluster; the state a user sees is read, the checkout's code
upgrades the database (``-u relance_atys``), and the same state is read again.
Then a run recorded by the old version is cancelled with the new code: the
levels and dates it recorded must come back exactly as they were before it.

A test of the deployment, beside bin/dev's own tests: it runs Odoo in
subprocesses on the configuration ``bin/dev test`` wrote (pytest-odoo's
``--odoo-config``), in a database of its own, dropped at the end.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import psycopg2

from odoo.tools import config

BASE_VERSION = "18.0.1.0.0"
REPO = Path(__file__).resolve().parent.parent
MANIFEST = "relance_atys/__manifest__.py"
MARK = "UPGRADE-STATE "

# Read through the ORM as the superuser, in the old code and the new alike.
READ_STATE = """
import json
moves = env["account.move"].search([("move_type", "in", ("out_invoice", "out_refund"))])
partners = env["res.partner"].with_context(active_test=False).search([])
state = {
    "moves": {m.id: [m.relance_level, str(m.relance_date), m.relance_excluded] for m in moves},
    "partners": {
        f"{c.id}-{p.id}": [p.with_company(c).relance_level, str(p.with_company(c).relance_date),
                           p.relance_excluded]
        for c in env["res.company"].search([]) for p in partners
    },
    "runs": {r.id: [r.name, r.run_type, r.state, str(r.date), len(r.line_ids)]
             for r in env["relance.run"].search([])},
    "lines": {l.id: [l.run_id.id, l.partner_id.id, l.move_id.id, l.level_before, l.level_after,
                     str(l.date_before), str(l.date_after), l.outcome]
              for l in env["relance.run.line"].search([])},
}
print(MARK + json.dumps(state), flush=True)
"""

# With the new code: cancel the latest definitive letter run the old version
# recorded, as a dunning manager, and read what came back (nothing committed).
CANCEL_OLD_RUN = """
import json
run = env["relance.run"].search([("run_type", "=", "letter"), ("state", "=", "done")],
                                order="id desc", limit=1)
manager = env.ref("base.user_admin")
assert manager.has_group("relance_atys.group_relance_manager")
lines = run.line_ids.filtered("move_id")
expected = {l.move_id.id: [l.level_before, str(l.date_before)] for l in lines}
partners = {(l.partner_id.id, run.company_id.id): [l.partner_level_before,
            str(l.partner_date_before)] for l in run.line_ids if l.partner_id}
run.with_user(manager).with_company(run.company_id).action_cancel()
env.invalidate_all()
got = {m.id: [m.relance_level, str(m.relance_date)] for m in lines.move_id}
got_partners = {
    key: [env["res.partner"].browse(key[0]).with_company(key[1]).relance_level,
          str(env["res.partner"].browse(key[0]).with_company(key[1]).relance_date)]
    for key in partners
}
print(MARK + json.dumps({
    "run": run.name, "state": run.state, "lines": len(lines),
    "expected": expected, "got": got,
    "partners_expected": [[list(k), v] for k, v in partners.items()],
    "partners_got": [[list(k), v] for k, v in got_partners.items()],
}), flush=True)
env.cr.rollback()
"""


def git(*args):
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout


def version_at(commit):
    return ast.literal_eval(git("show", f"{commit}:{MANIFEST}"))["version"]


def base_commit():
    """The last commit of BASE_VERSION: the parent of the first commit past it."""
    for commit in git("rev-list", "--reverse", "HEAD", "--", MANIFEST).split():
        if version_at(commit) != BASE_VERSION:
            return f"{commit}^"
    raise AssertionError(f"the manifest never left {BASE_VERSION}")


@unittest.skipUnless(config.rcfile and config.get("db_host"), "needs bin/dev test's config")
class TestUpgradeFromFirstVersion(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = f"relance_upgrade_{os.getpid()}"
        cls.tmp = Path(tempfile.mkdtemp(prefix="relance-upgrade-"))
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.addClassCleanup(cls._drop)  # run even when setUpClass fails
        cls.old_addons = cls.tmp / "old"
        cls.old_addons.mkdir()
        archive = subprocess.run(
            ["git", "archive", base_commit(), "relance_atys"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(cls.old_addons)], input=archive, check=True)
        assert ast.literal_eval((cls.old_addons / MANIFEST).read_text())["version"] == (
            BASE_VERSION
        )
        cls._drop()

    @classmethod
    def _connect(cls, db="postgres"):
        conn = psycopg2.connect(
            dbname=db, host=config["db_host"], port=config["db_port"], user=config["db_user"]
        )
        conn.autocommit = True
        return conn

    @classmethod
    def _drop(cls):
        conn = cls._connect()
        try:  # not ``with conn``: psycopg2 opens a transaction there, even in autocommit
            conn.cursor().execute(f'DROP DATABASE IF EXISTS "{cls.db}" WITH (FORCE)')
        finally:
            conn.close()

    def odoo(self, *args, addons=None, stdin=None, log_name="odoo"):
        """Run Odoo (bin/odoo-run) on the test configuration; fail with its log."""
        odoo_root = Path(sys.modules["odoo"].__file__).resolve().parent.parent
        paths = [odoo_root / "addons", odoo_root / "odoo" / "addons", addons or REPO]
        command = list(args[:1]) if args and not args[0].startswith("-") else []
        log = self.tmp / f"{log_name}.log"
        cmd = [
            sys.executable,
            str(REPO / "bin" / "odoo-run"),
            *command,
            "-c",
            config.rcfile,
            "--addons-path",
            ",".join(str(p) for p in paths if p.exists()),
            "-d",
            self.db,
            "--no-http",
            f"--logfile={log}",
            "--log-level=warn",
            *args[len(command) :],
        ]
        proc = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, check=False, timeout=1200
        )
        problems = (
            [
                line
                for line in log.read_text(errors="replace").splitlines()
                if " ERROR " in line or " CRITICAL " in line
            ]
            if log.exists()
            else []
        )
        self.assertEqual(
            (proc.returncode, problems),
            (0, []),
            f"{' '.join(cmd)}\n{proc.stderr[-3000:]}\n" + "\n".join(problems[:40]),
        )
        return proc.stdout

    def shell(self, script, name, addons=None):
        script = f"MARK = {MARK!r}\n{script}"
        out = self.odoo(
            "shell", "--shell-interface=python", stdin=script, log_name=name, addons=addons
        )
        lines = [line for line in out.splitlines() if line.startswith(MARK)]
        self.assertEqual(len(lines), 1, out[-3000:])
        return json.loads(lines[0][len(MARK) :])

    def _fetch(self, query, params=None):
        """The rows of ``query`` on the test's database."""
        conn = self._connect(self.db)
        try:
            cr = conn.cursor()
            cr.execute(query, params)
            return cr.fetchall()
        finally:
            conn.close()

    def module_versions(self):
        return self._fetch(
            "SELECT name, state, latest_version FROM ir_module_module"
            " WHERE name IN ('relance_atys', 'queue_job') ORDER BY name"
        )

    def test_upgrade_keeps_what_users_recorded_and_cancel_still_restores(self):
        # the first version, with its demo data (two definitive editions recorded)
        self.odoo(
            "-i",
            "relance_atys",
            "--stop-after-init",
            "--load-language=fr_FR",
            addons=self.old_addons,
            log_name="install-old",
        )
        self.assertIn(("relance_atys", "installed", BASE_VERSION), self.module_versions())
        before = self.shell(READ_STATE, "read-old", addons=self.old_addons)
        self.assertTrue(before["runs"], "the old demo recorded no run: nothing to check")
        self.assertTrue(any(v[0] for v in before["moves"].values()), "no level to keep")

        # the checkout's code upgrades it (queue_job, a new dependency, comes with it)
        self.odoo("-u", "relance_atys", "--stop-after-init", log_name="upgrade")
        current = ast.literal_eval((REPO / MANIFEST).read_text())["version"]
        modules = {name: (state, version) for name, state, version in self.module_versions()}
        self.assertEqual(modules["relance_atys"], ("installed", current))
        self.assertEqual(modules["queue_job"][0], "installed")
        after = self.shell(READ_STATE, "read-new")
        for part in ("moves", "partners", "runs", "lines"):
            self.assertEqual(after[part], before[part], f"{part} changed by the upgrade")
        # 18.0.2.2.0: the indexes the proposal reads its open items from
        self.assertEqual(
            self._indexes(),
            [
                ("account_move", "account_move_relance_open_idx"),
                ("account_move_line", "account_move_line_relance_credit_idx"),
                ("account_move_line", "account_move_line_relance_echeance_idx"),
            ],
        )

        # a second upgrade changes nothing
        self.odoo("-u", "relance_atys", "--stop-after-init", log_name="upgrade-again")
        self.assertEqual(self.shell(READ_STATE, "read-again"), after)

        # a run the old version recorded is cancelled by the new code: levels back
        cancel = self.shell(CANCEL_OLD_RUN, "cancel")
        self.assertEqual(cancel["state"], "cancelled", cancel)
        self.assertGreater(cancel["lines"], 0, cancel)
        self.assertEqual(cancel["got"], cancel["expected"], cancel)
        self.assertEqual(cancel["partners_got"], cancel["partners_expected"], cancel)

    def _indexes(self):
        """(table, index) of the addon's indexes on Odoo's journal tables."""
        return self._fetch(
            "SELECT tablename, indexname FROM pg_indexes WHERE indexname LIKE %s "
            "AND tablename IN ('account_move', 'account_move_line') ORDER BY 1, 2",
            ["%relance%idx"],
        )

    # -- 18.0.2.0.0: dunning per échéance (issue 15) ---------------------------------

    def _echeances(self, move_id):
        """(level, date, excluded, paid) of an invoice's échéances, first due first."""
        return self._fetch(
            "SELECT COALESCE(relance_level, 0), relance_date::text, "
            "COALESCE(relance_excluded, false), reconciled FROM account_move_line "
            "WHERE move_id = %s AND display_type = 'payment_term' ORDER BY date_maturity, id",
            [move_id],
        )

    def _history(self, move_id):
        """(run, échéance's due date, level before, level after, residual) of the history
        lines of an invoice, each linked to one of its échéances."""
        return self._fetch(
            "SELECT r.run_id, l.date_maturity::text, r.level_before, r.level_after, "
            "r.residual::float FROM relance_run_line r "
            "JOIN account_move_line l ON l.id = r.move_line_id AND l.move_id = r.move_id "
            "WHERE r.move_id = %s ORDER BY r.run_id, l.date_maturity",
            [move_id],
        )

    def test_upgrade_moves_levels_onto_echeances(self):
        """18.0.2.0.0 duns per échéance: what 18.0.1.0.0 recorded on invoices on
        instalment terms goes onto their open échéances, the history lines point to
        them, a second run of the migration changes nothing, and cancelling the old
        runs gives each échéance back its level."""
        self.db = f"{type(self).db}_echeances"
        self.addCleanup(self._drop_own)
        self._drop_own()
        self.odoo(
            "-i",
            "relance_atys",
            "--stop-after-init",
            "--without-demo=all",
            addons=self.old_addons,
            log_name="echeances-install-old",
        )
        ids = self.shell(ECHEANCES_BEFORE, "echeances-old", addons=self.old_addons)
        self.odoo("-u", "relance_atys", "--stop-after-init", log_name="echeances-upgrade")
        d1, d2 = ids["d1"], ids["d2"]
        # each invoice's level and date on its open échéances (the paid one: none)
        self.assertEqual(self._echeances(ids["a"]), [(2, d2, False, False)] * 2)
        self.assertEqual(self._echeances(ids["b"]), [(1, d1, False, False)])
        self.assertEqual(self._echeances(ids["e"]), [(0, None, False, True), (1, d1, False, False)])
        self.assertEqual([row[2] for row in self._echeances(ids["c"])], [True, True], "excluded")
        # an invoice dunned whole with two open échéances: a line for each, the
        # residual recorded once (the runs' totals unchanged)
        history = self._history(ids["a"])
        self.assertEqual(
            [row[2:] for row in history],
            [(0, 1, 1000.0), (0, 1, 0.0), (1, 2, 1000.0), (1, 2, 0.0)],
        )
        self.assertEqual([row[0] for row in history], [ids["run_1"]] * 2 + [ids["run_2"]] * 2)
        self.assertEqual([row[2:] for row in self._history(ids["e"])], [(0, 1, 1400.0)])
        after = self.shell(f"ids = {json.dumps(ids)}\n{ECHEANCES_AFTER}", "echeances-new")
        self.assertTrue(after["again_unchanged"], "a second run of the migration changed data")
        self.assertEqual(after["a_after_cancel_2"], [1, d1, [1, d1], [1, d1]])
        self.assertEqual(
            after["after_cancel_1"],
            [[0, "", [0, ""], [0, ""]], [0, "", [0, ""]], [0, "", [0, ""], [0, ""]]],
        )

    def _drop_own(self):
        conn = self._connect()
        try:
            conn.cursor().execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        finally:
            conn.close()


# -- 18.0.2.0.0: dunning per échéance (issue 15) -------------------------------------
# In the old code: an invoice on terms "30 % now, 70 % at 120 days" both due (a), one
# on a single due date (b), one on instalments excluded from dunning (c), one on
# instalments whose first is paid (e); two letter runs recorded by that version's
# service: a, b and e at level 1, then a at level 2.
ECHEANCES_BEFORE = """
import json
from datetime import timedelta
from odoo import Command, fields
today = fields.Date.today()
company = env.company
if not company.chart_template:
    env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)
term = env["account.payment.term"].create({
    "name": "30/70",
    "line_ids": [
        Command.create({"value": "percent", "value_amount": 30, "nb_days": 0}),
        Command.create({"value": "percent", "value_amount": 70, "nb_days": 120}),
    ],
})
partner = env["res.partner"].create({"name": "Client échéances", "is_company": True})
def invoice(days_ago, amount, terms=None):
    move = env["account.move"].create({
        "move_type": "out_invoice",
        "partner_id": partner.id,
        "invoice_date": today - timedelta(days=days_ago),
        "invoice_payment_term_id": terms and terms.id,
        "invoice_line_ids": [Command.create({"name": "Service", "quantity": 1,
                                             "price_unit": amount, "tax_ids": []})],
    })
    move.action_post()
    return move
a, b = invoice(200, 1000, term), invoice(60, 500)
c, e = invoice(200, 800, term), invoice(200, 2000, term)
c.relance_excluded = True
env["account.payment.register"].with_context(active_model="account.move", active_ids=e.ids).create(
    {"amount": 600, "payment_date": today})._create_payments()
service = env["relance.service"]
def run(days_ago, level, moves):
    date = today - timedelta(days=days_ago)
    lines = [{
        "partner_id": partner.id, "move_id": m.id, "level_before": m.relance_level,
        "date_before": m.relance_date, "level_after": level, "residual": m.amount_residual,
        "currency_id": m.currency_id.id, "channel": "letter", "outcome": "printed",
    } for m in moves]
    vals = {"run_type": "letter", "company_id": company.id, "date": date, "level": level}
    return service._record_definitive(company, vals, lines, {partner.id: level})
run_1 = run(20, 1, a + b + e)
run_2 = run(5, 2, a)
env.cr.commit()
print(MARK + json.dumps({
    "a": a.id, "b": b.id, "c": c.id, "e": e.id, "run_1": run_1.id, "run_2": run_2.id,
    "d1": str(run_1.date), "d2": str(run_2.date),
}))
"""

# In the new code: the migration run again changes nothing; the old runs cancelled,
# latest first (rolled back).
ECHEANCES_AFTER = """
import importlib.util, json, sys
from odoo.modules.module import get_module_path
path = get_module_path("relance_atys") + "/migrations/18.0.2.0.0/post-echeances.py"
spec = importlib.util.spec_from_file_location("post_echeances", path)
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)
def snapshot():
    env.cr.execute(
        "SELECT array_agg((id, relance_level, relance_date, relance_excluded) ORDER BY id)"
        " FROM account_move_line WHERE move_id = ANY(%s)", [[ids[k] for k in "abce"]])
    lines = env.cr.fetchone()[0]
    env.cr.execute(
        "SELECT array_agg((id, move_id, move_line_id, level_before, level_after, residual)"
        " ORDER BY id) FROM relance_run_line")
    return [lines, env.cr.fetchone()[0]]
before = snapshot()
script.migrate(env.cr, "18.0.1.0.0")
again = snapshot() == before
def state(key):
    move = env["account.move"].browse(ids[key])
    move.invalidate_recordset()
    return [move.relance_level, str(move.relance_date or "")] + [
        [line.relance_level, str(line.relance_date or "")]
        for line in move.relance_echeance_ids.sorted("date_maturity")]
service = env["relance.service"]
runs = env["relance.run"].browse([ids["run_2"], ids["run_1"]])
service._cancel_runs_now(runs[0])
after_run_2 = state("a")
service._cancel_runs_now(runs[1])
after_run_1 = [state("a"), state("b"), state("e")]
env.cr.rollback()
print(MARK + json.dumps({
    "again_unchanged": again, "a_after_cancel_2": after_run_2, "after_cancel_1": after_run_1,
}))
"""

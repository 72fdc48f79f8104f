"""Benchmark of relance_atys on receivable ledgers of 1,000 to 100,000 open invoices.

Run through ``bin/dev bench [--sizes 1000,10000,100000]``, which starts the
private PostgreSQL cluster and passes ``--config`` and ``--odoo-root``.

This process only orchestrates: every Odoo step runs in a fresh
``bench/worker.py`` subprocess (so that each measurement's peak memory is its
own), and databases are copied from templates built once:

    bench_seed      both addons installed and a seed ledger built through the ORM
    bench_tpl_<N>   bench_seed cloned in SQL up to N open invoices, verified
    bench_run_<N>   a throw-away copy of bench_tpl_<N> the measurements run on
"""

import argparse
import configparser
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import jobs
import psycopg2
import report

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEER_DIR = REPO / ".local" / "bench-addons"
PEER_SPEC = "odoo-addon-account-credit-control==18.0.*"
PEER_ADDON = "account_credit_control"
ADDON = "relance_atys"
ADDONS = f"{ADDON},{PEER_ADDON}"
LOG = REPO / ".local" / "bench-odoo.log"
SEED_DB = "bench_seed"
# Bump when the ledger builder changes: templates of another version are rebuilt.
LEDGER_VERSION = "5"  # 5: a fifth of the invoices on two or three instalments (issue 15)
BUILT_KEY = "relance_bench.built"
SEED_INVOICES = 500  # open invoices of one seed block; N is a multiple of it

# In this order: the peer's letters commit a credit control run of their own,
# which the peer's run, measured before, must not find.
MEASURES = [
    "proposal_bounds",
    "proposal_sequential",
    "proposal_promises",
    "review",
    "xlsx",
    "letters",
    "notices",
    "definitive",
    "signature",
    "dashboard",
    "dashboard_pivots",
    "email_few",
    "email_many",
    "peer_run",
    "peer_letters",
    "peer_email",
]


def say(msg):
    print(f"[bench] {msg}", flush=True)


# -- the peer ----------------------------------------------------------------


def ensure_peer():
    """OCA account_credit_control under .local/bench-addons, for the bench only."""
    if (PEER_DIR / PEER_ADDON / "__manifest__.py").exists():
        return PEER_DIR
    wheels = PEER_DIR / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    say(f"downloading {PEER_SPEC}")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), PEER_SPEC],
        check=True,
    )
    wheel = max(wheels.glob("odoo_addon_account_credit_control-*.whl"))
    prefix = f"odoo/addons/{PEER_ADDON}/"
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                target = PEER_DIR / name[len("odoo/addons/") :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
    say(f"peer addon extracted from {wheel.name}")
    return PEER_DIR


# -- PostgreSQL ---------------------------------------------------------------


class Postgres:
    """The bench cluster, reached as Odoo reaches it (from the Odoo config)."""

    def __init__(self, config):
        parser = configparser.ConfigParser()
        parser.read(config)
        options = parser["options"]
        self.dsn = {
            "host": options["db_host"],
            "port": options["db_port"],
            "user": options["db_user"],
            "dbname": "postgres",
        }

    def run(self, sql, params=None, db="postgres"):
        conn = psycopg2.connect(**dict(self.dsn, dbname=db))
        conn.autocommit = True
        try:
            with conn.cursor() as cr:
                cr.execute(sql, params)
                return cr.fetchall() if cr.description else None
        finally:
            conn.close()

    def exists(self, db):
        return bool(self.run("SELECT 1 FROM pg_database WHERE datname = %s", [db]))

    def drop(self, db):
        self.run(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    def copy(self, template, db):
        self.drop(db)
        self.run(f'CREATE DATABASE "{db}" TEMPLATE "{template}"')

    def mark(self, db, value):
        """Say ``db`` is a finished template of ``value`` (ledger version and size)."""
        self.run(
            "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [BUILT_KEY, value],
            db=db,
        )

    def mark_of(self, db):
        if not self.exists(db):
            return None
        rows = self.run("SELECT value FROM ir_config_parameter WHERE key = %s", [BUILT_KEY], db=db)
        return rows[0][0] if rows else None

    def server_version(self):
        return self.run("SHOW server_version")[0][0]


# -- Odoo subprocesses ----------------------------------------------------------


class Odoo:
    def __init__(self, args, addons_path):
        self.config = args.config
        self.addons_path = addons_path
        # Odoo importable from its root even when it is not pip-installed (ODOO_SRC)
        path = [args.odoo_root, os.environ.get("PYTHONPATH")]
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, path)))

    def install(self, db):
        say(f"installing {ADDONS} in {db} (log: {LOG})")
        self._cli(db, "-i", ADDONS, "--without-demo=all", "--load-language=fr_FR")

    def update(self, db):
        """Bring ``db`` to the addon's current code (others change it as we go)."""
        say(f"updating {ADDON} in {db} (log: {LOG})")
        self._cli(db, "-u", ADDON)

    def _cli(self, db, *args):
        launcher = "import sys, odoo.cli; sys.argv[0] = 'odoo'; odoo.cli.main()"
        cmd = [
            sys.executable, "-c", launcher, "-c", self.config, "-d", db,
            f"--addons-path={self.addons_path}", *args, "--stop-after-init",
            "--log-level=warn", f"--logfile={LOG}",
        ]  # fmt: skip
        subprocess.run(cmd, check=True, env=self.env)

    def worker(self, db, task, *task_args):
        """Run ``bench/worker.py`` on ``db``; return the JSON it writes."""
        out = BENCH / "results" / f"{db}-{task}.tmp"
        out.parent.mkdir(exist_ok=True)
        out.unlink(missing_ok=True)
        cmd = [
            sys.executable, str(BENCH / "worker.py"), "--config", self.config,
            "--addons-path", self.addons_path, "--db", db, "--out", str(out),
            task, *map(str, task_args),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, cwd=REPO, env=self.env)
        result = json.loads(out.read_text())
        out.unlink()
        return result


# -- templates ------------------------------------------------------------------


def ensure_seed(pg, odoo, rebuild):
    if not rebuild and pg.mark_of(SEED_DB) == LEDGER_VERSION:
        return
    started = time.time()
    pg.drop(SEED_DB)
    odoo.install(SEED_DB)
    info = odoo.worker(SEED_DB, "seed", SEED_INVOICES)
    pg.mark(SEED_DB, LEDGER_VERSION)
    say(f"{SEED_DB}: seed ledger built in {time.time() - started:.0f} s: {info}")


def ensure_template(pg, odoo, size, rebuild):
    """``bench_tpl_<size>``: the seed cloned to ``size`` open invoices, verified,
    on the addon's current code (updated, not rebuilt, when only the code moved)."""
    template, ledger = f"bench_tpl_{size}", f"{LEDGER_VERSION}-{size}"
    mark, current = pg.mark_of(template) or "", f"{ledger}-{addon_hash()}"
    if not rebuild and mark == current:
        return template
    started = time.time()
    if rebuild or not mark.startswith(f"{ledger}-"):
        pg.copy(SEED_DB, template)
        odoo.update(template)
        odoo.worker(template, "clone", size // SEED_INVOICES)
        checks = odoo.worker(template, "verify", size)
        say(f"{template}: built and verified in {time.time() - started:.0f} s: {checks}")
    else:
        odoo.update(template)
    pg.run("VACUUM ANALYZE", db=template)
    pg.mark(template, current)
    return template


def addon_hash():
    """A digest of the addon's code and data (its tests aside)."""
    digest = hashlib.sha1()
    for path in sorted((REPO / ADDON).rglob("*")):
        if path.is_file() and "tests" not in path.parts and path.suffix != ".pyc":
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# -- measuring --------------------------------------------------------------------


def machine(pg):
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    wk = subprocess.run(["wkhtmltopdf", "--version"], capture_output=True, text=True).stdout
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024**2),
        "python": platform.python_version(),
        "postgresql": pg.server_version(),
        "wkhtmltopdf": wk.strip(),
    }


def measure_size(pg, odoo, template, size, args):
    """Time ``args.only`` on a copy of ``template``, into the size's results (kept
    for the measures not run this time)."""
    db = f"bench_run_{size}"
    pg.copy(template, db)
    result = report.load(size) or {"measures": {}}
    result.update(n=size, date=time.strftime("%Y-%m-%d %H:%M"), machine=machine(pg))
    try:
        result["ledger"] = odoo.worker(db, "describe")
        for name in args.only:
            if name in jobs.JOB_MEASURES:
                continue
            odoo.worker(db, "prepare", name, args.letters)
            if args.profile:
                profile(odoo, db, size, name, args)
                continue
            say(f"N={size:,}: {name}")
            measured = odoo.worker(db, "measure", name, args.runs, args.letters)
            measured["date"] = time.strftime("%Y-%m-%d %H:%M")
            result["measures"][name] = measured
            say(
                f"N={size:,}: {name}: {measured['seconds']:.2f} s, "
                f"{measured['queries']} queries, +{measured['rss_mb']:.0f} MB"
            )
    finally:
        if not args.keep:
            pg.drop(db)
    for name in args.only:
        if name in jobs.JOB_MEASURES and not args.profile:
            result["measures"][name] = measure_jobs(pg, odoo, template, size, name)
    return result


def measure_jobs(pg, odoo, template, size, name):
    """A background run on its own copy of ``template`` (it commits), with a real
    server's job workers (bench/jobs.py)."""
    db = f"bench_jobs_{size}"
    pg.copy(template, db)
    say(f"N={size:,}: {name} (a server with {jobs.WORKERS} job workers)")
    try:
        measured = jobs.measure(pg, odoo, db, name)
    finally:
        pg.drop(db)
    measured["date"] = time.strftime("%Y-%m-%d %H:%M")
    say(
        f"N={size:,}: {name}: click {measured['click_seconds']:.2f} s, whole "
        f"{measured['seconds']:.1f} s, {measured['jobs']} jobs (longest "
        f"{measured['job_max_seconds']:.1f} s), server CPU {measured['server_cpu_seconds']:.1f} s, "
        f"worker peak {measured['worker_rss_peak_mb']:.0f} MB, load {measured['load'][0]:.1f}"
    )
    return measured


def profile(odoo, db, size, name, args):
    profiled = odoo.worker(db, "profile", name, args.letters)
    path = report.RESULTS / f"profile-{name}-{size}.txt"
    path.write_text(
        f"{name} at N = {size:,}: {profiled['seconds']:.2f} s, {profiled['queries']} queries "
        f"(under cProfile)\n\n{profiled['profile']}"
    )
    say(f"N={size:,}: {name} profiled into {path.relative_to(REPO)}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="Odoo config (written by bin/dev)")
    parser.add_argument("--odoo-root", required=True)
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help=f"open invoices per ledger, multiples of {SEED_INVOICES}",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per measure (median kept)")
    parser.add_argument("--letters", type=int, default=1000, help="letters in the PDF")
    parser.add_argument(
        "--only", default=",".join([*MEASURES, *jobs.JOB_MEASURES]), help="measures to run"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the templates")
    parser.add_argument("--keep", action="store_true", help="keep bench_run_<N> afterwards")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite RESULTS.md")
    parser.add_argument("--profile", action="store_true", help="profile --only, do not time")
    args = parser.parse_args()  # fmt: skip
    args.sizes = [int(size) for size in args.sizes.split(",")]
    args.only = [name for name in [*MEASURES, *jobs.JOB_MEASURES] if name in args.only.split(",")]
    bad = [size for size in args.sizes if size % SEED_INVOICES]
    if bad:
        parser.error(f"sizes must be multiples of {SEED_INVOICES}: {bad}")
    return args


def main():
    args = parse_args()
    addons_path = ",".join(
        str(path)
        for path in (
            Path(args.odoo_root) / "addons",
            Path(args.odoo_root) / "odoo" / "addons",
            REPO,
            ensure_peer(),
        )
    )
    pg = Postgres(args.config)
    odoo = Odoo(args, addons_path)
    ensure_seed(pg, odoo, args.rebuild)
    for size in args.sizes:
        template = ensure_template(pg, odoo, size, args.rebuild)
        result = measure_size(pg, odoo, template, size, args)
        if args.profile:
            continue
        path = report.save(result)
        say(f"N={size:,}: written to {path.relative_to(REPO)}")
    if not args.no_report and not args.profile:
        say(f"table written to {report.write_markdown().relative_to(REPO)}")


if __name__ == "__main__":
    main()

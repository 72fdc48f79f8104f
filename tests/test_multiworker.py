"""An email run in the background on a real multi-worker Odoo, one worker killed midway.

A test of the deployment, beside bin/dev's own tests, not an Odoo test case: it
starts a server of its own as production runs it (``bin/odoo-run`` in workers
mode, queue_job loaded server-wide with its job runner) on a copy of the freshly
installed test database, in the test cluster: ``bin/dev test`` makes the template
copy (a database nobody connects to) and tells its socket. Odoo's own runner has
neither: its test database is in use, so it cannot be copied, and the test would
only be skipped there. A real SMTP server on loopback; the run is driven over
JSON-RPC as a dunning manager who is not the administrator. The copy is dropped
at the end.

The server has more HTTP workers than job slots (``--workers=4``, channels
``root:2``): jobs run in the HTTP workers (the job runner calls them over HTTP),
so with as many slots as workers the user's own requests wait behind the jobs.
"""

import asyncio
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from collections import Counter
from datetime import date, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import db_copy  # pytest puts this folder on the path
import requests
from aiosmtpd.smtp import SMTP

from odoo.tools import config

CUSTOMERS = 50
BATCH = 5  # customers per job here (50 in production): many jobs, one of them killed
CLICK_LIMIT = 2.0  # seconds, the server's time for the click's request (its log line)
TIMEOUT = 600  # seconds at most for the whole run to end (polled, not waited)
WORKERS, JOB_SLOTS = 4, 2  # two workers always free for the user's requests
REPO = Path(__file__).resolve().parent.parent
# werkzeug's line for a request, with Odoo's perf info: queries, their time, the rest
REQUEST_LINE = re.compile(r'"POST (\S+) HTTP/[\d.]+" (\d+) - (\d+) ([\d.]+) ([\d.]+)')


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what, check, timeout, every=0.1):
    """Poll ``check`` until it returns something true; fail after ``timeout`` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Inbox:
    """aiosmtpd handler keeping the envelope recipients of what it receives."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((tuple(sorted(envelope.rcpt_tos)), message["Subject"]))
        return "250 Message accepted for delivery"


class SmtpServer:
    """An SMTP server on 127.0.0.1, on a port the system chose (bound, then told)."""

    def __init__(self):
        self.inbox = Inbox()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            self.loop.create_server(lambda: SMTP(self.inbox), sock=self.sock)
        )
        self.loop.run_forever()
        server.close()

    def start(self):
        self.thread.start()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Rpc:
    """JSON-RPC as a logged-in user."""

    def __init__(self, url, db, login, password):
        self.url, self.session = url, requests.Session()
        self._post("/web/session/authenticate", {"db": db, "login": login, "password": password})

    def _post(self, path, params):
        response = self.session.post(
            self.url + path, json={"jsonrpc": "2.0", "method": "call", "params": params}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        if body.get("error"):
            raise AssertionError(body["error"]["data"]["message"])
        return body["result"]

    def __call__(self, model, method, *args, **kwargs):
        return self._post(
            f"/web/dataset/call_kw/{model}/{method}",  # as the web client: named in the log
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )


@unittest.skipUnless(
    os.environ.get("RELANCE_DB_SOCKET") and os.environ.get("RELANCE_DB_TEMPLATE"),
    "needs the test cluster of bin/dev test",
)
class TestMultiWorkerEmailRun(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's, per command
        cls.socket_dir = os.environ["RELANCE_DB_SOCKET"]
        cls.db = f"relance_mw_{os.getpid()}"
        cls.tmp = Path(tempfile.mkdtemp(prefix="relance-mw-"))
        db_copy.create(cls.db)
        cls.addClassCleanup(cls._drop_database)
        cls.smtp = SmtpServer()
        cls.smtp.start()
        cls.addClassCleanup(cls.smtp.stop)
        cls.port = free_port()
        cls.server = cls._start_server()
        cls.addClassCleanup(cls._stop_server)
        cls.url = f"http://127.0.0.1:{cls.port}"
        wait_for("the server", cls._server_up, timeout=120, every=0.5)

    # -- the database, the server ---------------------------------------------------

    @classmethod
    def _drop_database(cls):
        db_copy.drop(cls.db)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def _start_server(cls):
        conf = cls.tmp / "odoo.conf"
        conf.write_text(
            "[options]\n"
            f"addons_path = {config['addons_path']}\n"
            f"db_host = {cls.socket_dir}\n"
            f"db_port = {config['db_port']}\n"
            f"db_user = {config['db_user']}\n"
            f"data_dir = {config['data_dir']}\n"
            f"\n[queue_job]\nchannels = root:{JOB_SLOTS}\n"
        )
        # bin/dev's launcher, a real script: in workers mode, Odoo starts its gevent
        # process by running sys.argv[0] again
        cmd = [
            sys.executable, str(REPO / "bin" / "odoo-run"), "-c", str(conf), "-d", cls.db,
            "--db-filter", f"^{cls.db}$", f"--workers={WORKERS}", "--max-cron-threads=1",
            "--load=base,web,queue_job", f"--http-port={cls.port}",
            f"--gevent-port={free_port()}", "--http-interface=127.0.0.1",
            "--smtp=127.0.0.1", f"--smtp-port={cls.smtp.port}",
            # generous: the suite runs on a busy machine (production: 120 and 60)
            "--limit-time-real=300", "--limit-time-cpu=150",
            f"--logfile={cls.tmp / 'odoo.log'}", "--log-level=info",
        ]  # fmt: skip
        return subprocess.Popen(cmd, start_new_session=True)

    @classmethod
    def _stop_server(cls):
        if cls.server.poll() is None:
            os.killpg(cls.server.pid, signal.SIGTERM)
            try:
                cls.server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(cls.server.pid, signal.SIGKILL)
                cls.server.wait(10)

    @classmethod
    def _server_up(cls):
        if cls.server.poll() is not None:
            raise AssertionError(f"the server stopped; see {cls.tmp / 'odoo.log'}")
        try:
            return requests.get(f"{cls.url}/web/login", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def _sql(self, query, args=()):
        conn = db_copy.connect(self.db)
        try:
            with conn.cursor() as cr:
                cr.execute(query, args)
                return cr.fetchall()
        finally:
            conn.close()

    # -- the data --------------------------------------------------------------------

    def _customers_with_overdue_invoices(self, admin):
        """CUSTOMERS new customers, each with an invoice 20 days overdue and its PDF."""
        partner_ids = admin(
            "res.partner",
            "create",
            [
                {
                    "name": f"Client Parallele {index:02d}",
                    "is_company": True,
                    "email": f"client{index:02d}@parallele.example.com",
                    "customer_rank": 1,
                }
                for index in range(CUSTOMERS)
            ],
        )
        due = date.today() - timedelta(days=20)
        move_ids = admin(
            "account.move",
            "create",
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": partner_id,
                    "invoice_date": (due - timedelta(days=30)).isoformat(),
                    "invoice_date_due": due.isoformat(),
                    "invoice_line_ids": [
                        (0, 0, {"name": "Prestation", "quantity": 1, "price_unit": 100.0})
                    ],
                }
                for partner_id in partner_ids
            ],
        )
        admin("account.move", "action_post", move_ids)
        return partner_ids, move_ids

    # -- the test ----------------------------------------------------------------------

    def _server_time(self, path):
        """The server's time for the last request to ``path``: from the moment a
        worker took it to its answer (Odoo's perf info on werkzeug's log line: the
        time in queries plus the rest), not the time it waited for a free worker."""

        def logged():
            found = [
                match
                for match in REQUEST_LINE.finditer((self.tmp / "odoo.log").read_text())
                if match[1] == path
            ]
            return found and found[-1]

        match = wait_for(f"the log line of {path}", logged, timeout=30)
        self.assertEqual(match[2], "200")
        return float(match[4]) + float(match[5])

    def _dunning_manager(self, admin):
        """A credit controller: invoicing and dunning manager rights, not an admin."""
        groups = [
            admin("ir.model.data", "check_object_reference", module, name)[1]
            for module, name in (
                ("account", "group_account_invoice"),
                ("relance_atys", "group_relance_manager"),
                ("base", "group_user"),
            )
        ]
        admin(
            "res.users",
            "create",
            {
                "name": "Credit Controller",
                "login": "controller",
                "password": "controller-pw",
                "email": "controller@parallele.example.com",
                "groups_id": [(6, 0, groups)],
            },
        )
        return Rpc(self.url, self.db, "controller", "controller-pw")

    def test_email_run_survives_a_killed_worker(self):
        admin = Rpc(self.url, self.db, "admin", "admin")
        admin("ir.config_parameter", "set_param", "relance_atys.batch_size", str(BATCH))
        partner_ids, move_ids = self._customers_with_overdue_invoices(admin)
        user = self._dunning_manager(admin)
        wizard = user("relance.edition", "create", {"partner_ids": [(6, 0, partner_ids)]})
        user("relance.edition", "action_review", [wizard])
        user("relance.edition", "action_switch_mode", [wizard])

        started = time.monotonic()
        action = user("relance.edition", "action_send_emails", [wizard])
        wall = time.monotonic() - started
        click = self._server_time("/web/dataset/call_kw/relance.edition/action_send_emails")
        self.assertLessEqual(
            click, CLICK_LIMIT, f"the click took {click:.2f} s at the server ({wall:.2f} s here)"
        )
        run_id = action["params"]["next"]["res_id"]

        # a worker running a batch of this run is killed in the middle of it
        victim = self._kill_a_worker_mid_batch(run_id)
        progress = self._watch_progress(user, run_id)

        run = user("relance.run", "read", [run_id], ["state", "progress_text"])[0]
        print(  # shown by pytest -rP (bin/dev test -rP)
            f"click {click:.2f} s at the server ({wall:.2f} s at the client); progress seen "
            f"{progress}; batch {victim} killed mid-way; run {run['state']} "
            f"{run['progress_text']}; load {os.getloadavg()[0]:.1f}"
        )
        self.assertEqual(run["state"], "done")
        self.assertEqual(run["progress_text"], f"{CUSTOMERS} / {CUSTOMERS} customers")
        self.assertTrue(
            any(0 < done < CUSTOMERS for done in progress), f"progress seen: {progress}"
        )
        # the batch the killed worker held ran again, to its end, on another worker
        self.assertEqual(
            self._sql("SELECT state FROM queue_job WHERE uuid = %s", [victim]), [("done",)]
        )

        # every customer got exactly one mail at the SMTP server
        expected = {(f"client{index:02d}@parallele.example.com",) for index in range(CUSTOMERS)}
        wait_for(
            "every mail at the SMTP server",
            lambda: expected <= {rcpt for rcpt, _subject in self.smtp.inbox.received},
            timeout=60,
            every=0.5,
        )
        counts = Counter(rcpt for rcpt, _subject in self.smtp.inbox.received if rcpt in expected)
        self.assertEqual(set(counts.values()), {1}, "nobody mailed twice")

        # levels written once: one line per invoice, done once, one message per customer
        def lines_sent():  # the mail queue marks them once its transaction commits
            lines = user(
                "relance.run.line",
                "search_read",
                [("run_id", "=", run_id)],
                ["move_id", "outcome", "level_after"],
            )
            return {line["outcome"] for line in lines} == {"sent"} and lines

        lines = wait_for("every line sent", lines_sent, timeout=60, every=0.5)
        self.assertEqual(sorted(line["move_id"][0] for line in lines), sorted(move_ids))
        levels = user("account.move", "read", move_ids, ["relance_level"])
        after = {line["move_id"][0]: line["level_after"] for line in lines}
        self.assertEqual({move["id"]: move["relance_level"] for move in levels}, after)
        messages = self._sql(
            "SELECT res_id, COUNT(*) FROM mail_message WHERE model = 'res.partner' "
            "AND message_type = 'comment' AND res_id = ANY(%s) GROUP BY res_id",
            [partner_ids],
        )
        self.assertEqual(sorted(messages), [(partner_id, 1) for partner_id in sorted(partner_ids)])

    def _kill_a_worker_mid_batch(self, run_id):
        """SIGKILL the worker of a batch of the run while it works; return the job's
        uuid. A batch that ended before the signal came does not count: try the next."""
        killed = set()
        end = time.monotonic() + 90
        while time.monotonic() < end:
            rows = self._sql(
                "SELECT uuid, worker_pid FROM queue_job WHERE state = 'started' "
                "AND method_name = '_send_batch' AND worker_pid IS NOT NULL "
                "AND identity_key LIKE %s",
                [f"relance.run({run_id}).%"],
            )
            for uuid, pid in rows:
                if uuid in killed:
                    continue
                os.kill(pid, signal.SIGKILL)
                killed.add(uuid)
                time.sleep(0.5)
                state = self._sql("SELECT state FROM queue_job WHERE uuid = %s", [uuid])
                if state and state[0][0] in ("started", "pending", "enqueued"):
                    return uuid  # the worker died with the batch in hand
            time.sleep(0.02)
        raise AssertionError(f"no batch caught in the middle (tried {len(killed)})")

    def _watch_progress(self, user, run_id):
        """The customers done, as the run shows them, until it is over."""
        seen = []

        def over():
            try:
                run = user("relance.run", "read", [run_id], ["state", "progress_text"])[0]
            except requests.ConnectionError:  # the worker killed above was answering it
                return False
            if run["progress_text"]:
                done = int(run["progress_text"].split(" / ")[0])
                if not seen or seen[-1] != done:
                    seen.append(done)
            return run["state"] not in ("planning", "queued", "running")

        wait_for("the end of the run", over, timeout=TIMEOUT, every=0.3)
        self.assertEqual(seen, sorted(seen), "progress never goes back")
        return seen

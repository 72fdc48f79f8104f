#!/usr/bin/env python3
"""Watch an email dunning of about 1,000 customers run in the demo, in a browser.

    bin/dev demo --port 8110 &            # workers, queue_job and its job runner
    python3 bench/watch_email_run.py --url http://127.0.0.1:8110 --customers 1000

What it does, as a person would:

1. starts an SMTP server on 127.0.0.1 (aiosmtpd, on a port the system chooses)
   and points the demo's outgoing mail server at it (an ``ir.mail_server`` made
   first in the list);
2. over JSON-RPC as admin, adds ``--customers`` customers with an email address,
   each with one or two invoices 20 to 60 days overdue (posted, no PDF printed
   yet, as after an import), and a French dunning user (invoicing, dunning
   manager) unless it exists;
3. in headless Chromium (Playwright, the system's ``/usr/bin/chromium``), logs in
   as that user, opens *Relances ▸ Édition*, runs the proposal, switches to email
   mode, sends, confirms, follows the run it opens, and takes a screenshot every
   ``--every`` seconds until the run is no longer queued or running;
4. says what it saw: the click's time, the progress read on the screen, the
   run's end state, and the mails counted at the SMTP server per recipient.

Screenshots and a summary (``summary.json``) go to ``--out``. It creates data in
the demo database each time it runs (new customers, named after the run).
"""

import argparse
import asyncio
import json
import random
import re
import socket
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import requests
from aiosmtpd.smtp import SMTP

REPO = Path(__file__).resolve().parent.parent
LOGIN, PASSWORD = "credit.controller", "relance-demo"


class Inbox:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        for rcpt in envelope.rcpt_tos:
            self.received.append((rcpt.lower(), str(message["Subject"])))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1, on a port bound first and then told."""

    def __init__(self, port=0):
        self.inbox = Inbox()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(
            self.loop.create_server(lambda: SMTP(self.inbox), sock=self.sock)
        )
        self.loop.run_forever()


class Rpc:
    def __init__(self, url, db, login, password):
        self.url, self.session = url, requests.Session()
        self._post("/web/session/authenticate", {"db": db, "login": login, "password": password})

    def _post(self, path, params):
        response = self.session.post(
            self.url + path,
            json={"jsonrpc": "2.0", "method": "call", "params": params},
            timeout=600,
        )
        response.raise_for_status()
        body = response.json()
        if body.get("error"):
            raise RuntimeError(body["error"]["data"]["message"])
        return body["result"]

    def __call__(self, model, method, *args, **kwargs):
        return self._post(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )


def say(msg):
    print(f"[watch] {time.strftime('%H:%M:%S')} {msg}", flush=True)


def setup(admin, smtp_port, customers, tag, reuse):
    """The SMTP server first in the list, the customers and their invoices (unless
    ``reuse``, those of an earlier run of this script), the user."""
    admin(
        "ir.mail_server",
        "create",
        {
            "name": f"SMTP sink {tag}",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "smtp_encryption": "none",
            "sequence": 0,
        },
    )
    others = admin("ir.mail_server", "search", [("smtp_port", "!=", smtp_port)])
    admin("ir.mail_server", "write", others, {"active": False})
    if reuse:
        return {f"client{n:04d}.{tag}@sink.example.com" for n in range(customers)}
    rng = random.Random(tag)
    partner_ids = []
    for start in range(0, customers, 250):
        partner_ids += admin(
            "res.partner",
            "create",
            [
                {
                    "name": f"Client {tag} {n:04d}",
                    "is_company": True,
                    "email": f"client{n:04d}.{tag}@sink.example.com",
                    "customer_rank": 1,
                    "lang": "fr_FR",
                }
                for n in range(start, min(start + 250, customers))
            ],
        )
    say(f"{len(partner_ids)} customers created")
    today = date.today()
    moves = []
    for partner_id in partner_ids:
        for _ in range(rng.choice((1, 1, 2))):
            due = today - timedelta(days=rng.randint(20, 60))
            moves.append(
                {
                    "move_type": "out_invoice",
                    "partner_id": partner_id,
                    "invoice_date": (due - timedelta(days=30)).isoformat(),
                    "invoice_date_due": due.isoformat(),
                    "invoice_line_ids": [
                        (
                            0,
                            0,
                            {
                                "name": "Prestation",
                                "quantity": 1,
                                "price_unit": rng.randint(100, 5000),
                            },
                        )
                    ],
                }
            )
    move_ids = []
    for start in range(0, len(moves), 200):
        ids = admin("account.move", "create", moves[start : start + 200])
        admin("account.move", "action_post", ids)
        move_ids += ids
    say(f"{len(move_ids)} invoices posted")
    if not admin("res.users", "search", [("login", "=", LOGIN)]):
        groups = [
            admin("ir.model.data", "check_object_reference", module, name)[1]
            for module, name in (
                ("base", "group_user"),
                ("account", "group_account_invoice"),
                ("relance_atys", "group_relance_manager"),
            )
        ]
        admin(
            "res.users",
            "create",
            {
                "name": "Claire Recouvrement",
                "login": LOGIN,
                "password": PASSWORD,
                "email": "claire@atys.example.com",
                "lang": "fr_FR",
                "tz": "Europe/Paris",
                "groups_id": [(6, 0, groups)],
            },
        )
    return {f"client{n:04d}.{tag}@sink.example.com" for n in range(customers)}


def watch(url, db, out, every, timeout, run_id=None):
    """The clicks in Chromium, then the run watched until its end; what was seen.
    With ``run_id``, that run (started before) is only watched."""
    from playwright.sync_api import sync_playwright

    seen = {"shots": [], "progress": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="fr-FR")
        page.set_default_timeout(600_000)  # the proposal of 1,000 customers is long
        page.goto(f"{url}/web/login?db={db}")
        page.fill("input[name=login]", LOGIN)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector(".o_main_navbar")
        if run_id:
            page.goto(f"{url}/odoo/relance.run/{run_id}")
            page.wait_for_selector(".o_form_view .o_field_widget[name=run_type]")
            seen["run_url"] = page.url
            follow(page, out, every, timeout, time.time(), seen, 2)
            browser.close()
            return seen
        page.goto(f"{url}/odoo/action-relance_atys.action_relance_edition")
        dialog = ".o_dialog"
        page.click(f"{dialog} button[name=action_review]")
        started = time.time()
        page.wait_for_selector(f"{dialog} .o_field_widget[name=partner_line_ids] .o_data_row")
        seen["review_seconds"] = round(time.time() - started, 1)
        say(f"proposal shown in {seen['review_seconds']} s")
        page.click(f"{dialog} button[name=action_switch_mode]")
        page.wait_for_selector(f"{dialog} button[name=action_send_emails]")
        shot(page, out, "01-mode-email", seen)
        page.click(f"{dialog} button[name=action_send_emails]")
        # the confirmation, a dialog above the edition's (whose footer has its own
        # primary button)
        confirm = page.locator(".modal-footer button.btn-primary:visible", has_text="Ok")
        confirm.wait_for()
        clicked = time.time()
        confirm.click()
        page.wait_for_selector(".o_form_view .o_field_widget[name=run_type]")
        seen["click_to_run_form_seconds"] = round(time.time() - clicked, 2)
        say(f"the run's form opened {seen['click_to_run_form_seconds']} s after the click")
        seen["run_url"] = page.url
        shot(page, out, "02-run-opened", seen)
        follow(page, out, every, timeout, clicked, seen, 3)
        browser.close()
    return seen


def follow(page, out, every, timeout, clicked, seen, index):
    """Screenshots of the run's form until the run is no longer at work."""
    end = time.time() + timeout
    while time.time() < end:
        state = page.inner_text(".o_form_view .o_statusbar_status .o_arrow_button_current")
        progress = page.locator(".o_form_view .o_field_widget[name=progress_text]").first
        text = progress.inner_text() if progress.count() else ""
        elapsed = round(time.time() - clicked, 1)
        seen["progress"].append((elapsed, state.strip(), text.strip()))
        say(f"{elapsed:7.1f} s  {state.strip():20}  {text.strip()}")
        if state.strip() not in ("En préparation", "En file d'attente", "En cours"):
            break
        shot(page, out, f"{index:02d}-progress-{int(elapsed):04d}s", seen)
        index += 1
        time.sleep(every)
    seen["end_seconds"] = round(time.time() - clicked, 1)
    page.wait_for_timeout(2500)  # the form's own reload after the last job
    shot(page, out, f"{index:02d}-end", seen)


def shot(page, out, name, seen):
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    seen["shots"].append(path.name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8110")
    parser.add_argument("--db", default="relance_demo")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between screenshots")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--out", default=str(REPO / ".local" / "watch"))
    parser.add_argument("--smtp-port", type=int, default=0, help="0: the system chooses")
    parser.add_argument("--run-id", type=int, help="only watch this run, started before")
    parser.add_argument(
        "--reuse", metavar="TAG", help="the customers an earlier run made (their names' tag)"
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    smtp = SmtpServer(args.smtp_port)
    say(f"SMTP server on 127.0.0.1:{smtp.port}")
    admin = Rpc(args.url, args.db, "admin", "admin")
    tag = args.reuse or time.strftime("%H%M%S")
    if args.run_id:  # its mail server kept (the port given again with --smtp-port)
        expected = {f"client{n:04d}.{tag}@sink.example.com" for n in range(args.customers)}
    else:
        expected = setup(admin, smtp.port, args.customers, tag, bool(args.reuse))
    seen = watch(args.url, args.db, out, args.every, args.timeout, args.run_id)
    run_id = int(re.search(r"relance\.run/(\d+)", seen["run_url"])[1])
    run = admin("relance.run", "read", [run_id], ["name", "state", "progress_text"])[0]
    # mails leave with the mail queue (Odoo's scheduler) after the jobs queued them:
    # wait until no line of the run is still "queued" (its mail not gone yet)
    started, end = time.time(), time.time() + args.timeout
    while time.time() < end:
        waiting = admin(
            "relance.run.line",
            "search_count",
            [("run_id", "=", run_id), ("outcome", "=", "queued")],
        )
        if not waiting:
            break
        time.sleep(10)
    seen["mails_left_seconds_after_run"] = round(time.time() - started, 1)
    time.sleep(5)  # the last answers of the SMTP server
    counts = Counter(rcpt for rcpt, _subject in smtp.inbox.received if rcpt in expected)
    seen.update(
        run=run,
        customers=len(expected),
        mails_at_smtp=sum(counts.values()),
        recipients_mailed=len(counts),
        recipients_mailed_twice=sorted(rcpt for rcpt, n in counts.items() if n > 1),
        recipients_not_mailed=len(expected - set(counts)),
    )
    (out / "summary.json").write_text(json.dumps(seen, indent=1, ensure_ascii=False))
    say(
        f"{run['name']}: {run['state']}, {run['progress_text']}; at the SMTP server "
        f"{seen['mails_at_smtp']} mails to {len(counts)} of {len(expected)} customers, "
        f"{len(seen['recipients_mailed_twice'])} twice"
    )
    return 0 if run["state"] == "done" and counts and set(counts.values()) == {1} else 1


if __name__ == "__main__":
    sys.exit(main())

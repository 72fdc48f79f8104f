#!/usr/bin/env python3
"""A full dunning campaign in French, clicked through as a credit controller would.

    bin/dev demo --port 8140 --reset &          # the demo, in French
    python3 bench/campaign.py --url http://localhost:8140 --out /tmp/campaign [--steps a,b]

Playwright (Python) drives the system's Chromium, headless, 1440x900, logged in as the
demo's admin (French). Each step starts from a menu, clicks what a user clicks, saves a
screenshot per screen (``OUT/NN-step-what.png``) and prints what it read (banner,
totals, files): the PNGs are to be looked at. Downloads (XLSX, PDF) are saved in OUT,
the XLSX read back with openpyxl, the PDFs turned into PNG with pdftoppm.

The steps change the demo database (definitive letters, emails, levels, a cancelled
run): replay them on a fresh demo (``bin/dev demo --reset``). Not run by the test suite
(it needs a running demo); the screens it walks have their tours in
``relance_atys/static/tests/tours``.
"""

import argparse
import email
import email.policy
import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

DB = "relance_demo"
STEPS = []


def step(function):
    STEPS.append(function)
    return function


class Walk:
    def __init__(self, page, url, out):
        self.page, self.url, self.out = page, url, out
        # numbering goes on from an earlier invocation's screenshots in OUT
        self.shots = max((int(p.name[:2]) for p in out.glob("[0-9][0-9]-*.png")), default=0)
        self.notes = []

    # -- helpers -------------------------------------------------------------
    def shot(self, name):
        self.page.wait_for_timeout(400)
        self.shots += 1
        path = self.out / f"{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        print(f"  [shot] {path.name}")
        return path

    def note(self, text):
        print(f"  {text}")
        self.notes.append(text)

    def settle(self, ms=700):
        """Wait for the page, then for the web client to be idle (no block UI)."""
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(ms)
        self.page.wait_for_function("!document.querySelector('.o_blockUI, .o_loading_indicator')")

    def goto(self, path):
        self.page.goto(self.url + path)
        self.settle()

    def menu(self, app, *entries):
        """Home menu ▸ app ▸ top menu entries, by their French names."""
        self.goto("/odoo")
        self.page.locator(".o_navbar_apps_menu button").click()
        self.page.locator(".o_app", has_text=app).first.click()
        self.settle()
        for index, entry in enumerate(entries):
            exact = re.compile(rf"^\s*{re.escape(entry)}\s*$")
            where = ".o_menu_sections > *" if index == 0 else ".o-dropdown--menu .dropdown-item"
            self.page.locator(where).filter(has_text=exact).first.click()
            self.settle()

    def dialog(self):
        return self.page.locator(".o_dialog").last

    def click_button(self, text, scope=None):
        scope = scope or self.page
        scope.get_by_role("button", name=text, exact=True).first.click()
        self.settle()

    def confirm(self):
        """Odoo's confirmation dialog: its OK (« Ok »)."""
        self.page.locator(".modal-footer .btn-primary").last.click()
        self.settle()

    def download(self, text, scope=None, name=None):
        scope = scope or self.page
        with self.page.expect_download(timeout=120_000) as info:
            scope.get_by_role("button", name=text, exact=True).first.click()
        download = info.value
        path = self.out / (name or download.suggested_filename)
        download.save_as(path)
        self.settle()
        print(f"  [file] {path.name} ({path.stat().st_size} bytes)")
        return path

    def pdf_pages(self, pdf, prefix, first=1, last=2):
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "60",
                "-f",
                str(first),
                "-l",
                str(last),
                str(pdf),
                str(self.out / prefix),
            ],
            check=True,
        )
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        (self.out / f"{prefix}.txt").write_text(text)
        pages = text.count("\f")
        print(f"  [pdf] {pdf.name}: {pages} pages, text in {prefix}.txt")
        return text

    def rpc(self, model, method, *args, **kwargs):
        """JSON-RPC as the logged-in user (setup only: the SMTP server, the job runner)."""
        cookies = {c["name"]: c["value"] for c in self.page.context.cookies()}
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        }
        request = urllib.request.Request(
            f"{self.url}/web/dataset/call_kw/{model}/{method}",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", "Cookie": f"session_id={cookies['session_id']}"},
        )
        answer = json.load(urllib.request.urlopen(request, timeout=120))
        if "error" in answer:
            raise RuntimeError(answer["error"]["data"]["message"])
        return answer["result"]


def login(walk):
    walk.goto("/web/login")
    walk.page.fill("input[name=login]", "admin")
    walk.page.fill("input[name=password]", "admin")
    walk.page.click("button[type=submit]")
    walk.page.wait_for_url(re.compile(r".*/odoo.*"))
    walk.settle()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:8140")
    parser.add_argument("--out", default="/tmp/campaign")
    parser.add_argument("--steps", help="comma-separated step names (default: all, in order)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = args.steps.split(",") if args.steps else [s.__name__ for s in STEPS]
    by_name = {s.__name__: s for s in STEPS}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, headless=True)
        context = browser.new_context(
            viewport={"width": 1440, "height": 900}, locale="fr-FR", accept_downloads=True
        )
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        walk = Walk(page, args.url.rstrip("/"), out)
        login(walk)
        for name in wanted:
            print(f"== {name}")
            by_name[name](walk)
        browser.close()
    if errors:
        print("JavaScript errors:", *errors, sep="\n  ")
    return 1 if errors else 0


# -- the campaign -------------------------------------------------------------------


@step
def home(walk):
    walk.goto("/odoo")
    walk.page.locator(".o_navbar_apps_menu button").click()
    walk.settle()
    walk.shot("home")
    apps = walk.page.locator(".o_app").all_inner_texts()
    walk.note(f"apps: {apps}")


@step
def menus(walk):
    walk.menu("Facturation", "Clients")
    walk.shot("menu-clients")
    entries = walk.page.locator(".o-dropdown--menu").last.inner_text()
    walk.note("Clients menu: " + " | ".join(entries.split("\n")))


def open_edition(walk):
    walk.menu("Facturation", "Clients", "Édition des relances")
    expect(walk.dialog().locator(".o_form_view")).to_be_visible()


def review(walk):
    walk.click_button("Examiner la proposition", walk.dialog())
    expect(
        walk.dialog().locator(".o_field_widget[name=partner_line_ids] .o_data_row").first
    ).to_be_visible()


def banner(walk):
    return walk.dialog().locator(".alert").first.inner_text().replace("\n", " ")


def rows(walk, selector):
    return [r.replace("\n", " | ") for r in walk.page.locator(selector).all_inner_texts()]


@step
def edition_params(walk):
    open_edition(walk)
    walk.shot("edition-parametres")
    walk.note(
        "fields: " + " | ".join(walk.dialog().locator(".o_form_label, label").all_inner_texts())
    )


@step
def edition_review(walk):
    open_edition(walk)
    review(walk)
    walk.shot("edition-proposition")
    walk.note("banner: " + banner(walk))
    for row in rows(walk, ".o_dialog .o_field_widget[name=partner_line_ids] .o_data_row"):
        walk.note("  " + row)
    walk.note("skipped: " + walk.dialog().locator("[name=skipped_text]").inner_text())
    walk.dialog().locator(".modal-body").evaluate("el => el.scrollTo(0, el.scrollHeight)")
    walk.shot("edition-proposition-bas")


@step
def edition_customer(walk):
    """Open a customer of the review, untick a document, back; untick a customer."""
    open_edition(walk)
    review(walk)
    table = ".o_dialog .o_field_widget[name=partner_line_ids] .o_data_row"
    walk.page.locator(table).filter(has_text="Brown & Partners").locator(
        "button[name=action_open]"
    ).click()
    walk.settle()
    walk.shot("edition-client-pieces")
    for row in rows(walk, ".o_dialog .o_field_widget[name=line_ids] .o_data_row"):
        walk.note("  " + row)
    walk.note("footer: " + walk.dialog().locator("tfoot").inner_text().replace("\n", " "))
    walk.dialog().locator(".o_field_widget[name=line_ids] .o_data_row").first.locator(
        ".o_boolean_toggle, .form-check-input"
    ).first.click()
    walk.settle()
    walk.shot("edition-client-decoche")
    walk.click_button("Retour à la proposition", walk.dialog())
    walk.note("banner after a document unticked: " + banner(walk))
    walk.page.locator(table).filter(has_text="Alpine Trading").locator(
        ".o_boolean_toggle, .form-check-input"
    ).first.click()
    walk.settle()
    walk.note("banner after Alpine unticked: " + banner(walk))
    walk.shot("edition-client-alpine-decoche")


@step
def control_list(walk):
    open_edition(walk)
    walk.dialog().get_by_text("Liste de contrôle", exact=True).click()
    review(walk)
    walk.click_button("Liste de contrôle à l'écran", walk.dialog())
    walk.shot("liste-controle-ecran")
    walk.note("groups: " + " || ".join(rows(walk, ".o_group_header")))
    walk.page.locator(".o_group_header").first.click()
    walk.settle()
    walk.page.locator(".o_group_header").nth(1).click()
    walk.settle()
    walk.shot("liste-controle-ecran-ouverte")
    for row in rows(walk, ".o_list_view .o_data_row")[:12]:
        walk.note("  " + row)
    walk.note("breadcrumb: " + walk.page.locator(".o_breadcrumb").inner_text().replace("\n", " > "))
    walk.page.go_back()
    walk.settle()
    walk.shot("liste-controle-retour-navigateur")
    walk.menu("Facturation", "Clients", "Édition des relances")
    walk.shot("liste-controle-menu-apres-retour")


def read_xlsx(walk, path):
    import openpyxl

    book = openpyxl.load_workbook(path)
    for sheet in book.worksheets:
        walk.note(
            f"sheet {sheet.title!r}: {sheet.max_row} rows x {sheet.max_column} cols, "
            f"landscape={sheet.page_setup.orientation}, fitToWidth={sheet.page_setup.fitToWidth}, "
            f"print_title_rows={sheet.print_title_rows}, freeze={sheet.freeze_panes}, "
            f"autofilter={sheet.auto_filter.ref}, footer={sheet.oddFooter.center.text!r}"
        )
        for row in sheet.iter_rows(values_only=True):
            cells = ["" if v is None else str(v) for v in row]
            walk.note("  | " + " | ".join(cells))
    return book


@step
def control_xlsx(walk):
    open_edition(walk)
    walk.dialog().get_by_text("Liste de contrôle", exact=True).click()
    review(walk)
    path = walk.download("Liste de contrôle (XLSX)", walk.dialog())
    read_xlsx(walk, path)
    walk.shot("liste-controle-xlsx-telechargee")


@step
def letters_draft(walk):
    open_edition(walk)
    review(walk)
    path = walk.download(
        "Imprimer les courriers brouillon", walk.dialog(), "courriers-brouillon.pdf"
    )
    text = walk.pdf_pages(path, "courriers-brouillon", 1, 3)
    walk.note("first page text:\n" + text.split("\f")[0])
    walk.shot("courriers-brouillon-apres")


@step
def letters_definitive(walk):
    open_edition(walk)
    walk.dialog().locator("div[name=definitive] input").check()
    review(walk)
    walk.shot("courriers-definitifs-proposition")
    walk.dialog().get_by_role(
        "button", name="Imprimer les courriers définitifs", exact=True
    ).click()
    walk.settle()
    walk.shot("courriers-definitifs-confirmation")
    walk.confirm()
    walk.settle(1500)
    walk.shot("courriers-definitifs-run")
    walk.note("run: " + walk.page.locator(".o_form_view .o_form_sheet").inner_text()[:1500])


def open_run(walk, name=None):
    """Historique ▸ the run named ``name`` (else the latest)."""
    walk.menu("Facturation", "Clients", "Historique")
    row = walk.page.locator(".o_list_view .o_data_row")
    if name:
        row = row.filter(has_text=name)
    row.first.locator("td.o_data_cell").first.click()
    walk.settle()


@step
def history(walk):
    walk.menu("Facturation", "Clients", "Historique")
    walk.shot("historique-liste")
    for row in rows(walk, ".o_list_view .o_data_row"):
        walk.note("  " + row)
    open_run(walk)
    walk.shot("historique-passage")
    walk.page.get_by_role("tab", name="Paramètres").click()
    walk.settle()
    walk.shot("historique-parametres")
    walk.note("parameters: " + walk.page.locator(".o_notebook .tab-pane.active").inner_text())
    path = walk.download("Lignes (XLSX)", name="passage-lignes.xlsx")
    read_xlsx(walk, path)


@step
def cancel_run(walk):
    open_run(walk)
    walk.note("run: " + walk.page.locator(".o_form_sheet h1, .oe_title").first.inner_text())
    walk.click_button("Annuler le passage")
    walk.shot("annulation-confirmation")
    walk.confirm()
    walk.settle(1000)
    walk.shot("annulation-faite")
    walk.note("statusbar: " + walk.page.locator(".o_statusbar_status").inner_text())


def open_customer(walk, name):
    walk.menu("Facturation", "Clients", "Clients")
    walk.page.locator(".o_searchview_input").fill(name)
    walk.page.keyboard.press("Enter")
    walk.settle()
    walk.page.locator(".o_kanban_record, .o_data_row").first.click()
    walk.settle()


@step
def customer_chatter(walk):
    open_customer(walk, "Boulangerie Martin")
    walk.shot("client-fiche")
    walk.page.locator(".o-mail-Chatter").scroll_into_view_if_needed()
    walk.shot("client-chatter")
    walk.note("chatter: " + walk.page.locator(".o-mail-Thread").first.inner_text()[:800])


@step
def manage_levels(walk):
    walk.menu("Facturation", "Clients", "Gestion des niveaux")
    dialog = walk.dialog()
    walk.shot("niveaux-gestion")
    for name in ("Alpine Trading", "Boulangerie Martin"):
        field = dialog.locator("div[name=partner_ids] input")
        field.fill(name)
        walk.page.wait_for_timeout(800)
        walk.page.locator(".o-autocomplete--dropdown-item").first.click()
        walk.settle()
    walk.shot("niveaux-clients-choisis")
    walk.click_button("Afficher les pièces", dialog)
    walk.shot("niveaux-consultation")
    for row in rows(walk, ".o_dialog .o_field_widget[name=line_ids] .o_data_row"):
        walk.note("  " + row)
    walk.note("footer: " + dialog.locator("tfoot").inner_text().replace("\n", " "))
    walk.click_button("Choisir les pièces à changer", dialog)
    dialog.locator(".o_field_widget[name=line_ids] .o_data_row").first.locator(
        "td.o_data_cell"
    ).first.click()
    walk.settle()
    walk.shot("niveaux-modification")
    dialog.locator("div[name=new_level] input").fill("2")
    walk.click_button("Valider", dialog)
    walk.shot("niveaux-confirmation")
    walk.confirm()
    walk.settle(1000)
    walk.shot("niveaux-valides")


class Sink:
    """A local SMTP server that keeps what it receives (aiosmtpd)."""

    def __init__(self, port):
        from aiosmtpd.controller import Controller

        self.messages = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"

    def stop(self):
        self.controller.stop()


SMTP_PORT = 8141


def mail_heads(message):
    return f"  From: {message['From']} To: {message['To']} Subject: {message['Subject']}"


def mail_server(walk):
    """An outgoing mail server pointing at the sink (set up once, by RPC)."""
    found = walk.rpc("ir.mail_server", "search", [["smtp_port", "=", SMTP_PORT]])
    if not found:
        walk.rpc(
            "ir.mail_server",
            "create",
            {
                "name": "Sink 127.0.0.1",
                "smtp_host": "127.0.0.1",
                "smtp_port": SMTP_PORT,
                "smtp_encryption": "none",
                "sequence": 1,
            },
        )


def wait_run_done(walk, seconds=240):
    """The run's form refreshes itself: wait for a final state in its statusbar,
    without reloading the page, noting the progress it shows on the way."""
    final = ("Terminé", "Terminé avec des échecs", "En échec")
    deadline = time.time() + seconds
    seen = []
    current = walk.page.locator(".o_statusbar_status button.o_arrow_button_current")
    while time.time() < deadline:
        state = current.inner_text().strip()
        progress = walk.page.locator(".o_form_view div[name=progress_text]").first
        shown = f"{state} {progress.inner_text() if progress.count() else ''}".strip()
        if not seen or seen[-1] != shown:
            seen.append(shown)
        if state in final:
            break
        walk.page.wait_for_timeout(2000)
    else:
        seen.append("timeout")
    walk.note("the run's form showed, refreshing itself: " + " -> ".join(seen))
    return seen[-1]


@step
def email_refused(walk):
    """Email mode with no server listening (nothing on SMTP_PORT): the run fails,
    says why in a sentence, and records no level."""
    mail_server(walk)
    open_edition(walk)
    review(walk)
    walk.click_button("Passer en mode email", walk.dialog())
    walk.click_button("Envoyer les emails", walk.dialog())
    walk.confirm()
    walk.settle(1500)
    walk.note("state: " + wait_run_done(walk))
    walk.page.wait_for_timeout(8000)
    walk.page.reload()
    walk.settle()
    walk.shot("email-refuse-passage")
    walk.note(
        "form: " + walk.page.locator(".o_form_sheet").first.inner_text()[:300].replace("\n", " | ")
    )
    for row in rows(walk, ".o_field_widget[name=line_ids] .o_data_row")[:4]:
        walk.note("  " + row)


@step
def email_mode(walk):
    sink = Sink(SMTP_PORT)
    try:
        mail_server(walk)
        open_edition(walk)
        review(walk)
        walk.click_button("Passer en mode email", walk.dialog())
        walk.shot("email-proposition")
        walk.note("banner: " + banner(walk))
        for row in rows(walk, ".o_dialog .o_field_widget[name=partner_line_ids] .o_data_row"):
            walk.note("  " + row)
        walk.click_button("Envoyer les emails", walk.dialog())
        walk.shot("email-confirmation")
        walk.confirm()
        walk.settle(1500)
        walk.shot("email-passage-en-file")
        walk.note("state: " + wait_run_done(walk))
        walk.page.wait_for_timeout(8000)  # the mail queue's cron, triggered by the jobs
        walk.page.reload()
        walk.settle()
        walk.shot("email-passage-termine")
        for row in rows(walk, ".o_field_widget[name=line_ids] .o_data_row")[:10]:
            walk.note("  " + row)
        walk.note(f"mails received by the sink: {len(sink.messages)}")
        for envelope in sink.messages[:3]:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            walk.note(mail_heads(message))
            body = message.get_body(("html", "plain"))
            walk.note("  body: " + re.sub(r"<[^>]+>|\s+", " ", body.get_content())[:1200])
            walk.note(
                "  attachments: "
                + ", ".join(part.get_filename() or "?" for part in message.iter_attachments())
            )
        (walk.out / "mails").mkdir(exist_ok=True)
        for index, envelope in enumerate(sink.messages):
            (walk.out / "mails" / f"{index:02d}.eml").write_bytes(envelope.content)
    finally:
        sink.stop()


@step
def composer(walk):
    sink = Sink(SMTP_PORT)
    try:
        mail_server(walk)
        open_customer(walk, "Pharmacie Centrale")
        walk.click_button("Envoyer une relance")
        walk.shot("composeur")
        dialog = walk.dialog()
        walk.note("amount field: " + repr(dialog.locator("div[name=amount]").inner_text()))
        walk.note("footer: " + repr(dialog.locator("tfoot").inner_text()))
        walk.note("subject: " + dialog.locator("div[name=subject] input").input_value())
        step_box = dialog.locator("div[name=count_as_step] input")
        walk.note(f"count as step: {step_box.is_checked()}")
        for row in rows(walk, ".o_dialog .o_field_widget[name=line_ids] .o_data_row"):
            walk.note("  " + row)
        body = dialog.locator("div[name=body]").inner_text()
        walk.note("body: " + body[:1500])
        bad = [hex(ord(c)) for c in body + dialog.inner_text() if c in "\ufeff\u200b"]
        walk.note(f"invisible characters on screen: {bad}")
        dialog.locator("div[name=body]").scroll_into_view_if_needed()
        walk.shot("composeur-corps")
        walk.click_button("Envoyer", dialog)
        walk.settle(1500)
        walk.shot("composeur-envoye")
        walk.page.wait_for_timeout(5000)
        walk.note(f"mails received: {len(sink.messages)}")
        for envelope in sink.messages:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            walk.note(mail_heads(message))
    finally:
        sink.stop()


@step
def signature(walk):
    walk.menu("Facturation", "Clients", "Relances de signature")
    walk.shot("signature-parametres")
    walk.click_button("Aperçu", walk.dialog())
    walk.shot("signature-apercu")
    walk.note("banner: " + walk.dialog().locator(".alert").first.inner_text())
    for row in rows(walk, ".o_dialog .o_field_widget[name=line_ids] .o_data_row"):
        walk.note("  " + row)
    walk.click_button("Envoyer", walk.dialog())
    walk.settle(1500)
    walk.shot("signature-passage")
    walk.note("state: " + wait_run_done(walk, 120))
    walk.page.reload()
    walk.settle()
    walk.shot("signature-passage-fin")
    for row in rows(walk, ".o_field_widget[name=line_ids] .o_data_row")[:8]:
        walk.note("  " + row)


@step
def open_invoices(walk):
    walk.menu("Facturation", "Clients", "Factures ouvertes par niveau")
    walk.shot("factures-par-niveau")
    walk.note("groups: " + " || ".join(rows(walk, ".o_group_header")))
    walk.page.locator(".o_group_header").first.click()
    walk.settle()
    walk.shot("factures-par-niveau-ouvert")
    for row in rows(walk, ".o_list_view .o_data_row")[:10]:
        walk.note("  " + row)


@step
def settings(walk):
    walk.goto("/odoo/settings#account")
    walk.page.get_by_text("Règle de relance").first.scroll_into_view_if_needed()
    walk.settle()
    walk.shot("parametres-relances")
    walk.menu("Facturation", "Configuration", "Niveaux de relance")
    walk.shot("niveaux-liste")
    for row in rows(walk, ".o_list_view .o_data_row"):
        walk.note("  " + row)
    walk.page.locator(".o_list_view .o_data_row td.o_data_cell").first.click()
    walk.settle()
    walk.shot("niveau-fiche")


@step
def history_lines(walk):
    walk.menu("Facturation", "Clients", "Lignes d'historique")
    walk.shot("lignes-historique")
    for row in rows(walk, ".o_list_view .o_data_row")[:15]:
        walk.note("  " + row)
    open_customer(walk, "Alpine Trading")
    walk.page.locator(".oe_stat_button", has_text="Relances").click()
    walk.settle()
    walk.shot("client-historique-relances")
    for row in rows(walk, ".o_list_view .o_data_row, .o_group_header")[:15]:
        walk.note("  " + row)


@step
def customer_picker(walk):
    """The customer pickers: the edition's list of customers to add, and the level
    management's suggestions, in French order."""
    open_edition(walk)
    walk.dialog().locator("div[name=partner_ids] .o_field_x2many_list_row_add a").click()
    walk.settle()
    walk.shot("clients-a-ajouter")
    names = walk.page.locator(".o_dialog .o_list_view .o_data_row td[name=name]")
    walk.note("edition picker: " + " | ".join(names.all_inner_texts()))
    walk.page.keyboard.press("Escape")
    walk.settle()
    walk.menu("Facturation", "Clients", "Gestion des niveaux")
    field = walk.dialog().locator("div[name=partner_ids] input")
    field.fill("e")
    walk.page.wait_for_timeout(1500)
    walk.shot("niveaux-suggestions")
    items = walk.page.locator(".o-autocomplete--dropdown-item").all_inner_texts()
    walk.note("level management suggestions: " + " | ".join(items))


PLAIN_LOGIN, PLAIN_PASSWORD = "utilisateur.relances", "utilisateur"


@step
def plain_user(walk):
    """A plain dunning "Utilisateur" (no manager): what it is offered, what it can finish."""
    found = walk.rpc("res.users", "search", [("login", "=", PLAIN_LOGIN)])
    if not found:
        groups = []
        for xmlid in (
            "base.group_user",
            "account.group_account_invoice",
            "sales_team.group_sale_salesman",
            "relance_atys.group_relance_user",
        ):
            module, name = xmlid.split(".")
            groups += walk.rpc(
                "ir.model.data",
                "search_read",
                [("module", "=", module), ("name", "=", name)],
                ["res_id"],
            )
        walk.rpc(
            "res.users",
            "create",
            {
                "name": "Julie Utilisateur",
                "login": PLAIN_LOGIN,
                "password": PLAIN_PASSWORD,
                "email": "julie@relances-demo.example",
                "lang": "fr_FR",
                "groups_id": [(6, 0, [g["res_id"] for g in groups])],
            },
        )
    browser = walk.page.context.browser
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="fr-FR", accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    user = Walk(page, walk.url, walk.out)
    user.shots = walk.shots
    user.goto("/web/login")
    page.fill("input[name=login]", PLAIN_LOGIN)
    page.fill("input[name=password]", PLAIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/odoo.*"))
    user.settle()
    user.menu("Facturation", "Clients")
    user.shot("utilisateur-menu-clients")
    user.note(
        "menu: " + " | ".join(page.locator(".o-dropdown--menu .dropdown-item").all_inner_texts())
    )
    page.keyboard.press("Escape")
    open_edition(user)
    review(user)
    user.shot("utilisateur-proposition")
    user.note(
        "buttons: " + " | ".join(user.dialog().locator(".modal-footer button").all_inner_texts())
    )
    user.dialog().get_by_text("Courriers", exact=True).count()
    path = user.download(
        "Imprimer les courriers brouillon", user.dialog(), name="utilisateur-brouillon.pdf"
    )
    user.pdf_pages(path, "utilisateur-brouillon", 1, 1)
    user.click_button("Liste de contrôle à l'écran", user.dialog())
    user.shot("utilisateur-liste-controle")
    user.menu("Facturation", "Clients", "Historique")
    user.shot("utilisateur-historique")
    page.locator(".o_list_view .o_data_row td.o_data_cell").first.click()
    user.settle()
    user.shot("utilisateur-passage")
    user.note(
        "run buttons: "
        + " | ".join(page.locator(".o_form_view .o_statusbar_buttons button").all_inner_texts())
    )
    open_customer(user, "Boulangerie Martin")
    user.shot("utilisateur-client")
    compose = page.locator("button[name=action_relance_compose]")
    user.note(f"composer button on the customer: {compose.count()}")
    if compose.count():
        compose.first.click()
        user.settle()
        user.shot("utilisateur-composeur")
        user.note("sender: " + user.dialog().locator("div[name=sender_id]").inner_text())
        page.keyboard.press("Escape")
    walk.shots = user.shots
    context.close()


if __name__ == "__main__":
    sys.exit(main())

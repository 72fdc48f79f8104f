from unittest.mock import patch

from odoo import fields
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestCampaignTours(HttpCase):
    """What a second full campaign in French met on the screens, at 1440 px
    (bench/campaign.py replays the whole campaign on a running demo)."""

    browser_size = "1440x900"

    def test_backend_styles_compile(self):
        """The addon's SCSS compiles with Odoo's compiler (libsass): a CSS error shows
        the whole web client in a fallback style ("A css error occured")."""
        bundle = self.env["ir.qweb"]._get_asset_bundle("web.assets_backend", js=False)
        bundle.preprocess_css()
        self.assertEqual(bundle.css_errors, [])

    def test_email_review_and_control_list(self):
        """Email mode: names and addresses whole in the wide dialog; the control list's
        groups write a dollar total in dollars."""
        self.start_tour(
            "/odoo/action-relance_atys.action_relance_edition",
            "relance_atys_campaign_email_review_tour",
            login="admin",
        )

    def test_composer_headers(self):
        pharmacy = self.env["res.partner"].search([("name", "=", "Pharmacie Centrale")], limit=1)
        self.assertTrue(pharmacy, "the demo data is installed with the tests")
        self.start_tour(
            f"/odoo/res.partner/{pharmacy.id}", "relance_atys_campaign_composer_tour", login="admin"
        )

    def test_signature_run_form(self):
        """A signature run: no dunning level, no empty file field, states in French."""
        admin = self.env.ref("base.user_admin")
        run = self.env["relance.run"].create(
            {
                "run_type": "signature",
                "company_id": admin.company_id.id,
                "date": fields.Date.today(),
            }
        )
        self.start_tour(
            f"/odoo/action-relance_atys.action_relance_run/{run.id}",
            "relance_atys_campaign_run_tour",
            login="admin",
        )

    def test_run_form_follows_its_jobs(self):
        """The form of a run at work reloads itself every 2 s (its progress and state
        move as its jobs work): while the tour stays 6 s on it, the form reads the run
        again. It read it once and never again: the widget tested a method as a flag."""
        admin = self.env.ref("base.user_admin")
        run = self.env["relance.run"].create(
            {
                "run_type": "email",
                "company_id": admin.company_id.id,
                "date": fields.Date.today(),
                "state": "running",
            }
        )
        Run = type(self.env["relance.run"])
        reads = []
        web_read = Run.web_read

        def counted(records, *args, **kwargs):
            reads.append(records.ids)
            return web_read(records, *args, **kwargs)

        with patch.object(Run, "web_read", counted):
            self.start_tour(
                f"/odoo/action-relance_atys.action_relance_run/{run.id}",
                "relance_atys_campaign_run_refresh_tour",
                login="admin",
            )
        self.assertGreaterEqual(reads.count(run.ids), 2, "read again while it works")

    def test_history_list_reads_whole(self):
        """The history's names ("REL/2026/…"), types ("Modification manuelle de …"),
        users and progress were cut at 1440 px once a manual run and an email run
        were listed."""
        admin = self.env.ref("base.user_admin")
        for run_type in ("manual", "email"):
            self.env["relance.run"].create(
                {
                    "run_type": run_type,
                    "company_id": admin.company_id.id,
                    "date": fields.Date.today(),
                    "user_id": admin.id,
                }
            )
        self.start_tour(
            "/odoo/action-relance_atys.action_relance_run",
            "relance_atys_campaign_history_tour",
            login="admin",
        )

    def test_customer_picker_in_french_order(self):
        """The edition's customer picker (SQL order) put "Électricité Girard" after every
        plain name, and cut its "Niveau de relance" and "Dernière relance" headers."""
        self.start_tour(
            "/odoo/action-relance_atys.action_relance_edition",
            "relance_atys_campaign_picker_tour",
            login="admin",
        )

    def _refused_mail_run(self, user, invoice, **line):
        """A failed email run of ``user``'s company with one line: ``invoice``'s mail,
        level 1 before, refused by the server; ``line``, the line's other values."""
        run = self.env["relance.run"].create(
            {
                "run_type": "email",
                "company_id": user.company_id.id,
                "date": fields.Date.today(),
                "state": "failed",
            }
        )
        self.env["relance.run.line"].create(
            {
                "run_id": run.id,
                "partner_id": invoice.partner_id.id,
                "move_id": invoice.id,
                "level_before": 1,
                "channel": "email",
                "outcome": "failed",
                "reason": "Le serveur d'envoi a refusé la connexion (111 Connection refused).",
                **line,
            }
        )
        return run

    def test_a_failed_mail_shows_no_level_after_it(self):
        """A mail the server refused: its line read "Niveau avant 1, Niveau après 2,
        En échec" though the document stayed at level 1."""
        admin = self.env.ref("base.user_admin")
        invoice = self.env["account.move"].search(
            [("move_type", "=", "out_invoice"), ("state", "=", "posted")], limit=1
        )
        run = self._refused_mail_run(admin, invoice, level_after=2)
        self.start_tour(
            f"/odoo/action-relance_atys.action_relance_run/{run.id}",
            "relance_atys_campaign_failed_run_tour",
            login="admin",
        )

    def test_run_lines_read_whole(self):
        """Since the due date column came, a long reason (a refused mail) took the
        room of the run's lines: "FAC/2026…" at 1440 px, the customer cut at 1280 px."""
        admin = self.env.ref("base.user_admin")
        partner = self.env["res.partner"].search(
            [("name", "=", "Agence Immobilière Moreau")], limit=1
        )
        invoice = self.env["account.move"].search(
            [("partner_id", "=", partner.id), ("move_type", "=", "out_invoice")], limit=1
        )
        self.assertTrue(invoice, "the demo data is installed with the tests")
        run = self._refused_mail_run(
            admin, invoice, level_after=1, due_date=invoice.invoice_date_due
        )
        for size in ("1440x900", "1280x800"):
            with self.subTest(size=size):
                self.browser_size = size
                self.start_tour(
                    f"/odoo/action-relance_atys.action_relance_run/{run.id}",
                    "relance_atys_campaign_run_lines_tour",
                    login="admin",
                )

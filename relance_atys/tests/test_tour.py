from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestTours(HttpCase):
    """The main flows clicked through in the web client, in French, on the demo data."""

    def test_edition_tour(self):
        company = self.env.ref("base.user_admin").company_id
        runs_before = self.env["relance.run"].search_count([])
        self.start_tour(
            "/odoo/action-relance_atys.action_relance_edition",
            "relance_atys_edition_tour",
            login="admin",
        )
        xlsx = self.env["ir.attachment"].search(
            [("res_model", "=", "relance.edition"), ("name", "like", ".xlsx")]
        )
        self.assertTrue(xlsx, "the control list was produced")
        run = self.env["relance.run"].search([], order="id desc", limit=1)
        self.assertEqual(self.env["relance.run"].search_count([]), runs_before + 1)
        self.assertEqual((run.run_type, run.company_id), ("letter", company))
        self.assertTrue(run.attachment_id.raw.startswith(b"%PDF"))

from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestScreenTours(HttpCase):
    """What the screens show, clicked through in French on the demo data (1440 px wide,
    as an accountant's screen: Odoo's tours run at 1366 px by default)."""

    browser_size = "1440x900"

    def test_screens_tour(self):
        self.start_tour(
            "/odoo/action-relance_atys.action_relance_edition",
            "relance_atys_screens_tour",
            login="admin",
        )

    def test_open_invoices_tour(self):
        self.start_tour(
            "/odoo/action-relance_atys.action_relance_open_invoices",
            "relance_atys_open_invoices_tour",
            login="admin",
        )

    def test_history_screens_tour(self):
        self.start_tour(
            "/odoo/action-relance_atys.action_relance_run",
            "relance_atys_history_screens_tour",
            login="admin",
        )

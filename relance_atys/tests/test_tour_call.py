from odoo import fields
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestCallTour(HttpCase):
    """A call step in the web client, in French on the demo data: planned from a review
    (here, by the service), then the collector records a promise."""

    def test_call_tour(self):
        admin = self.env.ref("base.user_admin")
        env = self.env(user=admin)
        company = admin.company_id
        env["relance.level"].search([("company_id", "=", company.id)]).call_step = "only"
        wizard = env["relance.edition"].create({"date": fields.Date.context_today(admin)})
        wizard.action_review()
        first = wizard.partner_line_ids[:1]
        (wizard.partner_line_ids - first).write({"selected": False})
        first.partner_id.relance_collector_id = admin
        wizard.action_plan_calls()
        call = env["relance.call"].search([("partner_id", "=", first.partner_id.id)])
        self.assertEqual(call.activity_ids.user_id, admin)
        self.start_tour(
            "/odoo/action-relance_atys.action_relance_call", "relance_atys_call_tour", login="admin"
        )
        self.assertEqual((call.state, call.result), ("done", "promise"))
        self.assertEqual(call.promise_id.partner_id, first.partner_id)
        self.assertIn("virement", call.promise_id.note)
        self.assertFalse(call.activity_ids)

"""The review screen of the dunning edition, as the credit controller's tools extend
it: a filter and a sort by collector, the collector and a promise not kept on each
customer, and the button that plans the calls. The edition wizard only gathers
these options; the service fills the columns (``relance.service._review``) and
plans the calls (``relance.call._plan_calls``)."""

from odoo import fields, models

from ..guard import check_readable


class RelanceEdition(models.TransientModel):
    _inherit = "relance.edition"

    collector_ids = fields.Many2many(
        "res.users", "relance_edition_collector_rel", string="Collectors"
    )
    sort_by = fields.Selection(
        selection_add=[("collector", "Collector")], ondelete={"collector": "set default"}
    )

    def _check_input(self):
        result = super()._check_input()
        check_readable(self, ("collector_ids",))
        return result

    def _options(self):
        return dict(super()._options(), collector_ids=self.collector_ids.ids)

    def action_plan_calls(self):
        """The calls of the ticked customers due a level with a phone call."""
        nothing = self.env._("No customer is ticked: no call to plan.")
        lines = self._lines_of(self._ticked_partner_lines(nothing))
        return self.env["relance.call"]._plan_review_calls(
            self.company_id, self._run_options(), lines
        )


class RelanceEditionPartner(models.TransientModel):
    _inherit = "relance.edition.partner"

    collector_id = fields.Many2one("res.users", readonly=True)
    broken_promise = fields.Date(string="Promise not kept", readonly=True)


class RelanceEditionLine(models.TransientModel):
    _inherit = "relance.edition.line"

    collector_id = fields.Many2one("res.users", readonly=True)

from odoo import api, models

from ..guard import check_dunning_write


class RelanceDunningGuard(models.AbstractModel):
    """The dunning state (level, date, exclusion) of the models that carry it
    (documents, their échéances, customers) created and written only as
    ``guard.check_dunning_write`` allows."""

    _name = "relance.dunning.guard"
    _description = "Dunning: guarded dunning state"

    @api.model_create_multi
    def create(self, vals_list):
        check_dunning_write(self, vals_list, create=True)
        return super().create(vals_list)

    def write(self, vals):
        check_dunning_write(self, [vals])
        return super().write(vals)

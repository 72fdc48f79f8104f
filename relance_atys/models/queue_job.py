from odoo import models


class QueueJob(models.Model):
    _inherit = "queue.job"

    def write(self, vals):
        result = super().write(vals)
        if vals.get("state") == "failed":
            # a batch of a dunning run that queue_job gave up: its customers failed
            self.env["relance.service"].sudo()._jobs_failed(self)
            self.env["relance.signature.service"].sudo()._jobs_failed(self)
        return result

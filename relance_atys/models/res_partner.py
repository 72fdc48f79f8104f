from odoo import api, fields, models
from odoo.exceptions import AccessError

from ..actions import download_action
from ..guard import check_dunning_write, service_writes


class ResPartner(models.Model):
    _inherit = "res.partner"

    relance_enabled = fields.Boolean(
        string="Dunning letters",
        default=True,
        help="Atys 'Édition relance': only these customers are dunned.",
    )
    relance_send_doc = fields.Boolean(
        string="Send documents by email",
        default=True,
        help="Atys 'Envoi doc': documents and reminders may be emailed to this customer.",
    )
    relance_excluded = fields.Boolean(
        string="Excluded from dunning",
        help="Level 'NA': this customer is kept out of every dunning.",
    )
    relance_level = fields.Integer(
        string="Dunning level",
        company_dependent=True,
        readonly=True,
        aggregator=False,
        help="Level of the last definitive dunning of this customer.",
    )
    relance_date = fields.Date(string="Last dunning", company_dependent=True, readonly=True)
    relance_run_line_ids = fields.One2many(
        "relance.run.line", "partner_id", string="Dunning history"
    )
    relance_run_count = fields.Integer(compute="_compute_relance_run_count")

    @api.model
    def _commercial_fields(self):
        return super()._commercial_fields() + [
            "relance_enabled",
            "relance_send_doc",
            "relance_excluded",
        ]

    @api.model_create_multi
    def create(self, vals_list):
        check_dunning_write(self, vals_list, create=True)
        return super().create(vals_list)

    def write(self, vals):
        check_dunning_write(self, [vals])
        return super().write(vals)

    def _commercial_sync_from_company(self):
        """A contact takes its company's exclusion, whoever attaches it."""
        with service_writes():
            return super()._commercial_sync_from_company()

    def _commercial_sync_to_children(self, fields_to_sync=None):
        """Contacts follow their company's exclusion, once a manager has changed it."""
        with service_writes():
            return super()._commercial_sync_to_children(fields_to_sync)

    @api.depends_context("relance_sender")
    def _compute_display_name(self):
        """As a reminder's sender, a person reads as its name and address, not as a
        contact of a company the reminder is not sent for."""
        super()._compute_display_name()
        if not self.env.context.get("relance_sender"):
            return
        for partner in self.filtered(lambda partner: not partner.is_company):
            email = f" <{partner.email}>" if partner.email else ""
            partner.display_name = f"{partner.name or ''}{email}"

    def _compute_relance_run_count(self):
        groups = self.env["relance.run.line"]._read_group(
            [("partner_id", "in", self.ids)], ["partner_id"], ["run_id:count_distinct"]
        )
        counts = {partner.id: count for partner, count in groups}
        for partner in self:
            partner.relance_run_count = counts.get(partner.id, 0)

    def action_relance_runs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("relance_atys.action_relance_run")
        action["domain"] = [("line_ids.partner_id", "child_of", self.commercial_partner_id.id)]
        return action

    def action_relance_compose(self):
        self.ensure_one()
        return self.env["relance.composer"].action_open_for_partner(self.commercial_partner_id)

    def action_relance_statement_pdf(self):
        """The customer's statement of account at today, as a PDF to download."""
        return self._relance_statement("pdf")

    def action_relance_statement_xlsx(self):
        """The customer's statement of account at today, as an XLSX to download."""
        return self._relance_statement("xlsx")

    def _relance_statement(self, extension):
        self.ensure_one()
        if not self.env.user.has_group("relance_atys.group_relance_user"):
            raise AccessError(self.env._("Only dunning users can print a statement of account."))
        self.check_access("read")
        service = self.env["relance.statement"]
        company, today = self.env.company, fields.Date.context_today(self)
        if extension == "pdf":
            data = service._pdf(company, self.commercial_partner_id, today)
        else:
            data = service._xlsx(company, self.commercial_partner_id, today)
        attachment = self.env["ir.attachment"].create(
            {
                "name": service._file_name(self.commercial_partner_id, today, extension),
                "raw": data,
            }
        )
        return download_action(attachment)

    def signup_prepare(self, signup_type="signup"):
        """In a batch of signature reminders, each mail's "Accept & Sign" button
        asks again for its customer's sign-up type: write it only where it
        changes (the token does not depend on the write), not once a mail."""
        if self.env.context.get("relance_batch_send") and all(
            partner.signup_type == signup_type for partner in self
        ):
            return True
        return super().signup_prepare(signup_type=signup_type)

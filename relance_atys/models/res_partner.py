from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import SQL
from odoo.tools.sql import create_index

from ..actions import download_action
from ..guard import service_writes
from ..text import french_collation


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "relance.dunning.guard"]

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
    # the credit controller's tools: who collects, how, promises and pauses
    relance_collector_id = fields.Many2one(
        "res.users",
        string="Collector",
        compute="_compute_relance_collector_id",
        store=True,
        readonly=False,
        index="btree_not_null",
        help="Who collects this customer's payments: the calls of its dunning go to "
        "them. By default the salesperson.",
    )
    relance_mode = fields.Selection(
        [("auto", "Follows the company's levels"), ("manual", "Manual only")],
        string="Dunning mode",
        default="auto",
        help="Manual only: never in a scheduled dunning nor in a proposal, unless "
        "named in the edition's customers.",
    )
    relance_by_call = fields.Boolean(
        string="Phone calls",
        default=True,
        help="The levels that are a phone call plan a call to this customer.",
    )
    relance_promise_ids = fields.One2many(
        "relance.promise", "partner_id", string="Payment promises and pauses"
    )
    relance_promise_count = fields.Integer(compute="_compute_relance_promise_count")

    def init(self):
        collation = french_collation(self.env.cr)
        if collation:  # Odoo's customer lists, in the order below, read off an index
            create_index(
                self.env.cr,
                "res_partner__complete_name_relance_fr_index",
                self._table,
                [f'complete_name COLLATE "{collation}"', "id DESC"],
            )
        return super().init()

    def _order_field_to_sql(self, alias, field_name, direction, nulls, query):
        """Names in dictionary order, as French readers sort them (accents and
        case only break ties), wherever customers are listed by name: pickers,
        lists, groups. Kept as the database sorts when it lacks the collation."""
        collation = field_name in ("complete_name", "name") and french_collation(self.env.cr)
        if not collation:
            return super()._order_field_to_sql(alias, field_name, direction, nulls, query)
        sql_field = self._field_to_sql(alias, field_name, query)
        if query.groupby:
            query.groupby = SQL("%s, %s", query.groupby, sql_field)
        return SQL("%s COLLATE %s %s %s", sql_field, SQL.identifier(collation), direction, nulls)

    @api.model
    def _commercial_fields(self):
        return super()._commercial_fields() + [
            "relance_enabled",
            "relance_send_doc",
            "relance_excluded",
            "relance_collector_id",
            "relance_mode",
            "relance_by_call",
        ]

    @api.depends("user_id")
    def _compute_relance_collector_id(self):
        """The salesperson, until someone else is named."""
        for partner in self:
            partner.relance_collector_id = partner.relance_collector_id or partner.user_id

    @api.constrains("relance_collector_id", "company_id")
    def _check_relance_collector(self):
        """A collector works in the customer's company (the current one for a
        customer shared by every company)."""
        for partner in self.filtered("relance_collector_id"):
            company = partner.company_id or self.env.company
            if company not in partner.relance_collector_id.sudo().company_ids:
                raise ValidationError(
                    self.env._(
                        "%(user)s cannot collect the payments of %(partner)s: they do not "
                        "work in the company %(company)s.",
                        user=partner.relance_collector_id.sudo().name,
                        partner=partner.display_name,
                        company=company.name,
                    )
                )

    def _relance_counts(self, model, aggregate):
        """{partner id: ``aggregate``} of the ``model`` records of these partners."""
        groups = self.env[model]._read_group(
            [("partner_id", "in", self.ids)], ["partner_id"], [aggregate]
        )
        return {partner.id: count for partner, count in groups}

    def _compute_relance_promise_count(self):
        counts = self._relance_counts("relance.promise", "__count")
        for partner in self:
            partner.relance_promise_count = counts.get(partner.id, 0)

    def action_relance_promises(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "relance_atys.action_relance_promise"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {"default_partner_id": self.commercial_partner_id.id}
        return action

    def action_relance_promise_new(self):
        self.ensure_one()
        return self.env["relance.promise"].action_new(self)

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
        counts = self._relance_counts("relance.run.line", "run_id:count_distinct")
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

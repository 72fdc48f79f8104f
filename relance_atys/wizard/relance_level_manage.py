"""Manual dunning level management (Atys "Gestion des niveaux de relance"): the user
consults the open documents of one or several customers, ticks those whose level
changes and validates, after a confirmation (``relance.service._change_levels``)."""

from odoo import api, fields, models

from .. import engine
from ..models.relance_wizard import CUSTOMERS_DOMAIN


class RelanceLevelManage(models.TransientModel):
    _name = "relance.level.manage"
    _inherit = ["relance.wizard"]
    _description = "Dunning level management"

    state = fields.Selection(
        [("consult", "Consultation"), ("modify", "Modification")],
        default="consult",
        required=True,
    )
    partner_ids = fields.Many2many(
        "res.partner",
        string="Customers",
        required=True,
        domain=CUSTOMERS_DOMAIN,
        help="Search by customer reference or name; several customers may be chosen.",
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        compute="_compute_partner_id",
        inverse="_inverse_partner_id",
        help="One customer only: the first chosen; set, it is the only one chosen.",
    )
    current_level = fields.Integer(
        default=-1, help="Level of the documents to change; -1 takes documents of any level."
    )
    current_level_choice = fields.Selection(
        [("all", "All")] + [(str(n), str(n)) for n in range(engine.MAX_LEVEL + 1)],
        string="Current level",
        compute="_compute_current_level_choice",
        inverse="_inverse_current_level_choice",
        readonly=False,
        help="Level of the documents to change, or all of them.",
    )
    new_level = fields.Integer(required=True, default=0)
    date = fields.Date(
        required=True,
        default=fields.Date.context_today,
        help="Dunning date recorded with the new level.",
    )
    date_from = fields.Date(string="Documents from", help="Invoice date of the first document.")
    date_to = fields.Date(string="Documents to", help="Invoice date of the last document.")
    line_ids = fields.One2many("relance.level.manage.line", "wizard_id", string="Documents")

    @api.depends("partner_ids")
    def _compute_partner_id(self):
        for wizard in self:
            wizard.partner_id = wizard.partner_ids[:1]

    def _inverse_partner_id(self):
        for wizard in self:
            wizard.partner_ids = wizard.partner_id

    @api.depends("current_level")
    def _compute_current_level_choice(self):
        for wizard in self:
            level = wizard.current_level
            wizard.current_level_choice = str(level) if level >= 0 else "all"

    def _inverse_current_level_choice(self):
        for wizard in self:
            choice = wizard.current_level_choice
            wizard.current_level = -1 if choice in ("all", False) else int(choice)

    def _options(self):
        """What the user asked, checked (``relance.service._check_level_change``)."""
        service = self.env["relance.service"]
        service._check_level_manager()
        names = ("current_level", "new_level", "date", "date_from", "date_to")
        options = {"partners": self.partner_ids, **self._gather(names)}
        service._check_level_change(self.company_id, options)
        return options

    def _reopen(self):
        return self._reopen_wide(self.env._("Dunning level management"))

    def action_consult(self):
        """Show the matching documents, greyed: nothing can be ticked yet."""
        service = self.env["relance.service"]
        return self._show("consult", service._level_documents(self.company_id, self._options()))

    def action_modify(self):
        """Show the matching documents again, ready to be ticked."""
        service = self.env["relance.service"]
        return self._show("modify", service._documents_to_change(self.company_id, self._options()))

    def action_validate(self):
        """Give the ticked documents the new level and date, and record a manual run."""
        options = self._options()  # a manager's, before anything is read
        lines = self.line_ids.filtered("selected")
        run = self.env["relance.service"]._change_levels(self.company_id, options, lines)
        return dict(run._get_form_action(), views=[(False, "form")])


class RelanceLevelManageLine(models.TransientModel):
    _name = "relance.level.manage.line"
    _description = "Dunning level management: document"
    _order = "id"  # the documents' order, customer by customer

    wizard_id = fields.Many2one(
        "relance.level.manage", required=True, ondelete="cascade", index=True
    )
    state = fields.Selection(related="wizard_id.state")
    selected = fields.Boolean(string="Change")
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    move_id = fields.Many2one("account.move", string="Document", required=True, readonly=True)
    move_line_id = fields.Many2one("account.move.line", string="Instalment", readonly=True)
    invoice_date = fields.Date(string="Date", readonly=True)
    due_date = fields.Date(readonly=True)
    residual = fields.Monetary(currency_field="currency_id", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    level = fields.Integer(string="Current level", readonly=True, aggregator=False)
    level_date = fields.Date(string="Level date", readonly=True)

    @api.constrains("move_id", "wizard_id")
    def _check_document_owner(self):
        """A document of the wizard's customers, in the wizard's company."""
        self.env["relance.service"]._check_wizard_documents(self, "wizard_id", "partner_ids")

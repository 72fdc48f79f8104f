from odoo import api, fields, models

from ..actions import download_action, reopen_action
from ..guard import check_company, check_readable

# The customers a wizard offers to choose: customers (commercial entities) of its
# company or shared, companies and individuals alike
CUSTOMERS_DOMAIN = (
    "[('customer_rank', '>', 0), ('company_id', 'in', (company_id, False)), "
    "'|', ('is_company', '=', True), ('parent_id', '=', False)]"
)


class RelanceWizard(models.AbstractModel):
    """What the dunning wizards share: their company, checked by every action, the
    options they gather, the lines they show, and the files they give to download."""

    _name = "relance.wizard"
    _description = "Dunning wizard"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )

    @api.constrains("company_id")
    def _check_company_allowed(self):
        """A wizard of a company its user works in, checked again by every action."""
        for wizard in self:
            check_company(wizard)

    @api.model
    def _active_records(self, model):
        """The records of ``model`` the wizard was opened on (a list's selection)."""
        context = self.env.context
        ids = context.get("active_ids") if context.get("active_model") == model else []
        return self.env[model].browse(ids)

    def _check_wizard(self, readable=()):
        """One wizard, of a company its user works in, whose many2many filters
        ``readable`` (field names) its user reads."""
        self.ensure_one()
        check_company(self)
        check_readable(self, readable)

    def _gather(self, names, readable=()):
        """The fields ``names`` as a use case's options take them, checked
        (``_check_wizard``)."""
        self._check_wizard(readable)
        return {name: self[name] for name in names}

    def _show(self, state, lines=()):
        """This wizard again (``_reopen``) in ``state``, its ``line_ids`` replaced by
        new lines of the values ``lines``."""
        field = self._fields["line_ids"]
        self.line_ids.unlink()
        self.env[field.comodel_name].create(
            [dict(vals, **{field.inverse_name: self.id}) for vals in lines]
        )
        self.state = state
        return self._reopen()

    def _reopen_wide(self, title):
        """This wizard again, in a dialog titled ``title`` wide enough for its lines
        (the proposal's columns and the customers' names fit at 1440 px)."""
        return reopen_action(self, title, context={"dialog_size": "extra-large"})

    def _download(self, data, name):
        """The action that downloads ``data`` as the file ``name``, kept on the wizard."""
        attachment = self.env["ir.attachment"].create(
            {"name": name, "raw": data, "res_model": self._name, "res_id": self.id}
        )
        return download_action(attachment)


class RelanceDocumentLine(models.AbstractModel):
    """An open document as the review screen and the composer list it, tickable."""

    _name = "relance.document.line"
    _inherit = ["relance.currency.totals", "relance.echeance.line"]
    _description = "Dunning: document line"

    selected = fields.Boolean(default=True)
    invoice_date = fields.Date(related="move_id.invoice_date", string="Date")
    due_date = fields.Date(readonly=True)
    days_late = fields.Integer(string="Days late", readonly=True, aggregator=False)
    residual = fields.Monetary(readonly=True, aggregator="sum")
    level_before = fields.Integer(string="Current level", readonly=True, aggregator=False)
    date_before = fields.Date(string="Last dunning", readonly=True)
    is_deduction = fields.Boolean(string="Deduction", readonly=True)

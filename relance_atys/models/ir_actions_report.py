from odoo import models


class IrActionsReport(models.Model):
    """wkhtmltopdf's wait for scripts, shortened for the invoice batches.

    Odoo has wkhtmltopdf wait ``report.print_delay`` (1 s) after each page is
    loaded, for scripts and web fonts to finish. The invoice batches of the
    dunning mails run no script and are set in a system font (see
    ``report/relance_invoice_pdf.py``): under the context key
    ``relance_javascript_delay`` (milliseconds) they wait that long instead.
    """

    _inherit = "ir.actions.report"

    def _build_wkhtmltopdf_args(self, *args, **kwargs):
        command_args = super()._build_wkhtmltopdf_args(*args, **kwargs)
        delay = self.env.context.get("relance_javascript_delay")
        if delay is not None and "--javascript-delay" in command_args:
            command_args[command_args.index("--javascript-delay") + 1] = str(int(delay))
        return command_args

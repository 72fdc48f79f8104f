from lxml import etree

from odoo import models


class IrQweb(models.AbstractModel):
    """Compile a mail template's body once for all the records it is sent on.

    Odoo renders a mail template's QWeb body from a new tree for each record,
    so compiles it again for each: 3 to 4 ms a mail, most of the time of a
    run of thousands of reminders. Under the context key
    ``relance_batch_send``, the code compiled from one source is reused
    for the rest of the transaction's cursor.
    """

    _inherit = "ir.qweb"

    def _compile(self, template):
        if not (self.env.context.get("relance_batch_send") and etree.iselement(template)):
            return super()._compile(template)
        key = (
            "relance_atys.compiled",
            etree.tostring(template),
            tuple(self.env.context.get(name) for name in self._get_template_cache_keys()),
        )
        compiled = self.env.cr.cache.get(key)
        if compiled is None:
            compiled = self.env.cr.cache[key] = super()._compile(template)
        return compiled

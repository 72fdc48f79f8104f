import ast
from datetime import date, datetime

import babel.dates
from lxml import etree
from markupsafe import Markup

from odoo import models
from odoo.tools.misc import babel_locale_parse, get_lang, posix_to_ldml

from odoo.addons.base.models.res_lang import intersperse


class IrQweb(models.AbstractModel):
    """Compile a mail template's body once for all the records it is sent on;
    format the amounts and dates of the letters fast.

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

    # -- amounts and dates of the letters ------------------------------------------

    def _get_widget(self, value, expression, tagName, field_options, values):
        """The letters' and statements' amounts and dates (``relance_letters`` in the
        context) formatted as Odoo's monetary and date widgets do, from the
        language's data read once per transaction instead of at each value (a
        thousand letters show 40,000 of them: a third of their rendering)."""
        content = self.env.context.get("relance_letters") and self._relance_widget(
            value, field_options
        )
        if content is None or content is False:
            return super()._get_widget(value, expression, tagName, field_options, values)
        attributes = {"data-oe-type": field_options["widget"], "data-oe-expression": expression}
        return attributes, content, None

    def _relance_widget(self, value, options):
        """The widget's content, or None when it is not a plain amount or date."""
        widget, keys = options.get("widget"), set(options)
        plain_amount = keys <= {"widget", "display_currency"} and isinstance(value, int | float)
        if widget == "monetary" and plain_amount and options.get("display_currency"):
            return self._relance_amount(value, options["display_currency"])
        plain_date = isinstance(value, date) and not isinstance(value, datetime)
        if widget == "date" and keys == {"widget"} and plain_date:
            lang = self._relance_lang()
            return babel.dates.format_date(value, format=lang["date"], locale=lang["locale"])
        return None

    def _relance_amount(self, value, currency):
        """As ``ir.qweb.field.monetary.value_to_html`` writes it."""
        lang = self._relance_lang()
        parts = f"{currency.round(value):.{currency.decimal_places}f}".split(".")
        parts[0] = intersperse(parts[0], lang["grouping"], lang["thousands_sep"])[0]
        amount = lang["decimal_point"].join(parts)
        amount = amount.replace(" ", "\N{NO-BREAK SPACE}").replace(
            "-", "-\N{ZERO WIDTH NO-BREAK SPACE}"
        )
        pre = post = ""
        if currency.position == "before":
            pre = f"{currency.symbol or ''}\N{NO-BREAK SPACE}"
        else:
            post = f"\N{NO-BREAK SPACE}{currency.symbol or ''}"
        return Markup('{pre}<span class="oe_currency_value">{0}</span>{post}').format(
            amount, pre=pre, post=post
        )

    def _relance_lang(self):
        """What formatting needs of the language of the environment, read once."""
        key = ("relance_atys.lang", self.env.lang)
        data = self.env.cr.cache.get(key)
        if data is None:
            lang = get_lang(self.env)
            locale = babel_locale_parse(lang.code)
            data = self.env.cr.cache[key] = {
                "grouping": ast.literal_eval(lang.grouping),
                "thousands_sep": lang.thousands_sep or "",
                "decimal_point": lang.decimal_point,
                "locale": locale,
                "date": posix_to_ldml(lang.date_format, locale=locale),
            }
        return data

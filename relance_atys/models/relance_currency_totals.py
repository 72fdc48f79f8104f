from odoo import api, models


class RelanceCurrencyTotals(models.AbstractModel):
    """Group totals of amounts only within one currency.

    A grouped list sums each amount column of a group; a group whose documents are
    in several currencies (a customer billed in EUR and USD) would add euros and
    dollars. Such a group shows no total for those amounts instead: the totals per
    currency are where the currency is known (review banner, XLSX, letters).
    """

    _name = "relance.currency.totals"
    _description = "Dunning: totals per currency in grouped lists"

    _currency_count_alias = "relance_currency_count"

    @api.model
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        monetary = self._summed_monetary_fields(fields)
        if not monetary or not groupby:
            return super().read_group(domain, fields, groupby, offset, limit, orderby, lazy)
        count = f"{self._currency_count_alias}:count_distinct(currency_id)"
        groups = super().read_group(domain, [*fields, count], groupby, offset, limit, orderby, lazy)
        for group in groups:
            if group.pop(self._currency_count_alias, 0) > 1:
                group.update(dict.fromkeys(monetary, False))
        return groups

    @api.model
    def _summed_monetary_fields(self, specs):
        """The monetary fields in ``specs`` ("residual", "residual:sum") in currency_id."""
        names = []
        for spec in specs:
            name = spec.split(":")[0]
            field = self._fields.get(name)
            if (
                field
                and field.type == "monetary"
                and field.get_currency_field(self) == "currency_id"
            ):
                names.append(name)
        return names

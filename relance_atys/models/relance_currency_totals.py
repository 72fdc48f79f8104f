from odoo import api, fields, models


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
    _currency_id_alias = "relance_currency_max"

    # set on the groups only, by read_group below; a list shows it as a hidden column
    relance_group_currency = fields.Integer(
        compute="_compute_relance_group_currency", string="Currency of the group"
    )

    def _compute_relance_group_currency(self):
        for record in self:
            record.relance_group_currency = record.currency_id.id

    @api.model
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        monetary = self._summed_monetary_fields(fields)
        if not monetary:  # without groupby too: a pivot's or a graph's grand total
            return super().read_group(domain, fields, groupby, offset, limit, orderby, lazy)
        count = f"{self._currency_count_alias}:count_distinct(currency_id)"
        currency = f"{self._currency_id_alias}:max(currency_id)"
        groups = super().read_group(
            domain, [*fields, count, currency], groupby, offset, limit, orderby, lazy
        )
        for group in groups:
            currency_id = group.pop(self._currency_id_alias, False)
            if group.pop(self._currency_count_alias, 0) > 1:
                group.update(dict.fromkeys(monetary, False))
                currency_id = False
            group["relance_group_currency"] = currency_id or False
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

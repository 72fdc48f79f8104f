/** @odoo-module **/
// A group of a dunning list in one currency writes its totals with that currency's
// symbol: the server names the currency in the group (relance_group_currency, a
// hidden column, see relance.currency.totals); Odoo writes group totals bare.
import { patch } from "@web/core/utils/patch";
import { ListRenderer } from "@web/views/list/list_renderer";
import { formatMonetary } from "@web/views/fields/formatters";

export const GROUP_CURRENCY = "relance_group_currency";

patch(ListRenderer.prototype, {
    formatAggregateValue(group, column) {
        const currencyId = group.aggregates[GROUP_CURRENCY];
        const field = this.props.list.fields[column.name];
        if (currencyId && field && field.type === "monetary" && column.name in group.aggregates) {
            return formatMonetary(group.aggregates[column.name], { currencyId });
        }
        return super.formatAggregateValue(group, column);
    },
});

/** A dunning call clicked through: the collector opens the call, records a promise. */
import { registry } from "@web/core/registry";
import { formatDate } from "@web/core/l10n/dates";

const { DateTime } = luxon;

registry.category("web_tour.tours").add("relance_atys_call_tour", {
    url: "/odoo/action-relance_atys.action_relance_call",
    steps: () => [
        {
            content: "Open the call to make",
            trigger: ".o_list_view .o_data_row:first .o_data_cell[name=partner_id]",
            run: "click",
        },
        {
            content: "The activity waits on the call, for its collector",
            trigger: ".o-mail-Activity",
        },
        {
            content: "The documents to speak of are listed",
            trigger: ".o_form_view .o_field_widget[name=summary] li",
        },
        {
            content: "The customer promises to pay",
            trigger: ".o_form_view .o_field_widget[name=result] input[data-value=promise]",
            run: "click",
        },
        {
            content: "On a date a week from now",
            trigger: ".o_form_view .o_field_widget[name=promise_date] input",
            run: `edit ${formatDate(DateTime.now().plus({ days: 7 }))}`,
        },
        {
            content: "What the customer said",
            trigger: ".o_form_view .o_field_widget[name=note] textarea",
            run: "edit Paiera par virement vendredi",
        },
        {
            content: "Record the result",
            trigger: ".o_form_view button[name=action_record_result]",
            run: "click",
        },
        {
            content: "The call is done, its promise recorded",
            trigger: ".o_form_view .o_field_widget[name=promise_id] a, .o_form_view .o_field_widget[name=promise_id] span",
        },
        {
            content: "Its activity is done",
            trigger: ".o_form_view:not(:has(.o-mail-Activity))",
        },
    ],
});

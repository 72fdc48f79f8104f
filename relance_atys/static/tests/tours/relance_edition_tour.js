/** Dunning edition in the web client: control list, then definitive letters. */
import { registry } from "@web/core/registry";

const dialog = ".o_dialog";

function review() {
    return [
        {
            content: "Review the proposal",
            trigger: `${dialog} button[name=action_review]`,
            run: "click",
        },
        {
            content: "The proposal lists customers",
            trigger: `${dialog} .o_field_widget[name=partner_line_ids] .o_data_row`,
        },
        {
            content: "The documents left out are listed under their heading",
            trigger: `${dialog} .o_relance_skipped:contains(Pièces écartées de la proposition)`,
        },
    ];
}

registry.category("web_tour.tours").add("relance_atys_edition_tour", {
    url: "/odoo/action-relance_atys.action_relance_edition",
    steps: () => [
        {
            content: "Choose the control list",
            trigger: `${dialog} .o_field_widget[name=output] input[data-value=control]`,
            run: "click",
        },
        ...review(),
        {
            content: "Download the control list",
            trigger: `${dialog} button[name=action_export_xlsx]:visible`,
            run: "click",
        },
        {
            content: "Back to the parameters",
            trigger: `${dialog} button[name=action_back]`,
            run: "click",
        },
        {
            content: "Choose letters",
            trigger: `${dialog} .o_field_widget[name=output] input[data-value=letters]`,
            run: "click",
        },
        {
            content: "Definitive",
            trigger: `${dialog} .o_field_widget[name=definitive] input`,
            run: "click",
        },
        ...review(),
        {
            content: "Print the definitive letters",
            trigger: `${dialog} button[name=action_print_definitive]`,
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal-footer .btn-primary:contains(Ok)",
            run: "click",
        },
        {
            content: "The recorded run opens, with its letters",
            trigger: ".o_form_view .o_field_widget[name=attachment_id]:not(:has(.o_field_empty))",
        },
    ],
});

registry.category("web_tour.tours").add("relance_atys_email_tour", {
    url: "/odoo/action-relance_atys.action_relance_edition",
    steps: () => [
        ...review(),
        {
            content: "Switch to email mode",
            trigger: `${dialog} button[name=action_switch_mode]:contains(email)`,
            run: "click",
        },
        {
            content: "The screen says so, and shows the addresses",
            trigger: `${dialog} .alert:contains(Mode email)`,
        },
        {
            trigger: `${dialog} .o_field_widget[name=partner_line_ids] td[name=email]:contains(@)`,
        },
        {
            content: "Each customer's own reminder can be written from its row",
            trigger: `${dialog} .o_field_widget[name=partner_line_ids] button[name=action_compose]`,
        },
        {
            content: "Send",
            trigger: `${dialog} button[name=action_send_emails]`,
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal-footer .btn-primary:contains(Ok)",
            run: "click",
        },
        {
            content: "The email run opens",
            trigger: ".o_form_view .o_field_widget[name=run_type]:contains(Email)",
        },
    ],
});

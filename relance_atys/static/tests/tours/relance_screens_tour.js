/** What the dunning screens show, in French: the review banner follows the ticks,
 * the control list's headers fit, and its way back to the proposal. */
import { registry } from "@web/core/registry";

const dialog = ".o_dialog";
const toggles = `${dialog} .o_field_widget[name=partner_line_ids] .o_data_row .o_boolean_toggle input`;

/** Fail the tour when a column header of the list is cut (ellipsis). */
function headersFit() {
    const cut = [...document.querySelectorAll(".o_list_view thead th .text-truncate")].filter(
        (span) => span.textContent.trim() && span.scrollWidth > span.clientWidth + 1
    );
    if (cut.length) {
        throw new Error(`Cut column headers: ${cut.map((span) => span.textContent.trim())}`);
    }
}

registry.category("web_tour.tours").add("relance_atys_screens_tour", {
    url: "/odoo/action-relance_atys.action_relance_edition",
    steps: () => [
        {
            content: "Choose the control list",
            trigger: `${dialog} .o_field_widget[name=output] input[data-value=control]`,
            run: "click",
        },
        {
            content: "Review the proposal",
            trigger: `${dialog} button[name=action_review]`,
            run: "click",
        },
        {
            content: "The banner counts the ticked customers",
            trigger: `${dialog} .alert-info:contains(client):contains(pièce)`,
        },
        {
            content: "The proposal's headers fit",
            trigger: `${dialog} .o_field_widget[name=partner_line_ids] .o_data_row`,
            run() {
                const cut = [
                    ...document.querySelectorAll(`${dialog} thead th .text-truncate`),
                ].filter((span) => span.textContent.trim() && span.scrollWidth > span.clientWidth + 1);
                if (cut.length) {
                    throw new Error(`Cut column headers: ${cut.map((s) => s.textContent.trim())}`);
                }
            },
        },
        {
            content: "Untick every customer",
            trigger: toggles,
            run() {
                for (const input of document.querySelectorAll(toggles)) {
                    if (input.checked) {
                        input.click();
                    }
                }
            },
        },
        {
            content: "Nothing ticked: the banner says so, no total left",
            trigger: `${dialog} .alert-info:contains(Aucun client coché)`,
        },
        {
            content: "Tick the first customer again",
            trigger: `${toggles}:first`,
            run: "click",
        },
        {
            content: "The banner counts it, with its total",
            trigger: `${dialog} .alert-info:contains(1 client):contains(€)`,
        },
        {
            content: "The control list on screen",
            trigger: `${dialog} button[name=action_control_list]`,
            run: "click",
        },
        {
            content: "Grouped by customer, headers whole",
            trigger: ".o_list_view .o_group_header",
            run: headersFit,
        },
        {
            content: "Back to the proposal",
            trigger: ".o_control_panel button[name=action_back_to_proposal]",
            run: "click",
        },
        {
            content: "The proposal is there, as it was left: one customer ticked",
            trigger: `${dialog} .alert-info:contains(1 client)`,
        },
        {
            content: "Its customers listed",
            trigger: `${dialog} .o_field_widget[name=partner_line_ids] .o_data_row`,
        },
    ],
});

registry.category("web_tour.tours").add("relance_atys_open_invoices_tour", {
    url: "/odoo/action-relance_atys.action_relance_open_invoices",
    steps: () => [
        {
            content: "Grouped by level, each group named by its level, not a sum of levels",
            trigger: ".o_list_view .o_group_header .o_group_name",
            run() {
                const names = [...document.querySelectorAll(".o_list_view .o_group_name")].map(
                    (cell) => cell.textContent.trim()
                );
                const wrong = names.filter((name) => !/^[0-5] \(\d+\)$/.test(name));
                if (!names.length || wrong.length) {
                    throw new Error(`Groups not named by their level: ${wrong}`);
                }
            },
        },
        {
            content: "Headers whole",
            trigger: ".o_list_view thead",
            run: headersFit,
        },
    ],
});

registry.category("web_tour.tours").add("relance_atys_history_screens_tour", {
    url: "/odoo/action-relance_atys.action_relance_run",
    steps: () => [
        {
            content: "The runs, headers whole",
            trigger: ".o_list_view .o_data_row",
            run: headersFit,
        },
        {
            content: "Open the oldest letter run",
            trigger: ".o_list_view .o_data_row:last .o_data_cell[name=name]",
            run: "click",
        },
        {
            content: "Its lines, headers whole",
            trigger: ".o_form_view .o_field_widget[name=line_ids] .o_data_row",
            run: headersFit,
        },
        {
            content: "Its parameters",
            trigger: ".o_notebook .nav-link:contains(Paramètres)",
            run: "click",
        },
        {
            content: "Labelled in French, no raw record",
            trigger: ".o_relance_parameters th:contains(Date de relance)",
            run() {
                const text = document.querySelector(".o_relance_parameters").textContent;
                if (text.includes("{") || text.includes("partner_ids") || text.includes('"date"')) {
                    throw new Error(`Raw parameters shown: ${text}`);
                }
            },
        },
    ],
});

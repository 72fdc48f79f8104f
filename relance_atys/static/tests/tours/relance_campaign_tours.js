/** What a second campaign in French met on the screens (bench/campaign.py walks it
 * all): cut names and headers in the wide dialogs, a dollar total written bare among
 * euro totals, an empty "Pièce" on a run without a file, a state left in English. */
import { registry } from "@web/core/registry";

const dialog = ".o_dialog";
const tours = registry.category("web_tour.tours");

/** Fail when a header, or a cell of ``names``, is cut (its text wider than its box). */
function nothingCut(scope, names = []) {
    const headers = [...document.querySelectorAll(`${scope} thead th .text-truncate`)];
    const cells = names.flatMap((name) => [
        ...document.querySelectorAll(`${scope} .o_data_row td.o_data_cell[name=${name}]`),
    ]);
    const cut = [...headers, ...cells].filter(
        (el) => el.textContent.trim() && el.scrollWidth > el.clientWidth + 1
    );
    if (cut.length) {
        throw new Error(`Cut: ${cut.map((el) => el.textContent.trim()).join(" | ")}`);
    }
}

tours.add("relance_atys_campaign_email_review_tour", {
    url: "/odoo/action-relance_atys.action_relance_edition",
    steps: () => [
        {
            content: "Review the proposal",
            trigger: `${dialog} button[name=action_review]`,
            run: "click",
        },
        {
            content: "The proposal's headers read whole",
            trigger: `${dialog} .o_field_widget[name=partner_line_ids] .o_data_row`,
            run: () => nothingCut(`${dialog} .o_field_widget[name=partner_line_ids]`),
        },
        {
            content: "Open a customer's documents",
            trigger: `${dialog} .o_data_row:first button[name=action_open]`,
            run: "click",
        },
        {
            content: "Its documents' headers read whole",
            trigger: `${dialog} .o_field_widget[name=line_ids] .o_data_row`,
            run: () => nothingCut(`${dialog} .o_field_widget[name=line_ids]`, ["move_id"]),
        },
        {
            content: "Back to the proposal",
            trigger: `${dialog} button[name=action_back_to_review]`,
            run: "click",
        },
        {
            content: "Switch to email mode",
            trigger: `${dialog} button[name=action_switch_mode]`,
            run: "click",
        },
        {
            content: "Email mode: the customers' names, addresses and headers read whole",
            trigger: `${dialog} .alert-info:contains(Mode email)`,
            run: () =>
                nothingCut(`${dialog} .o_field_widget[name=partner_line_ids]`, [
                    "partner_id",
                    "email",
                    "totals_text",
                ]),
        },
        {
            content: "The control list on screen",
            trigger: `${dialog} button[name=action_control_list]`,
            run: "click",
        },
        {
            content: "The dollar customer's total in dollars, a euro customer's in euros",
            trigger: ".o_list_view .o_group_header:contains(Alpine Trading)",
            run() {
                const alpine = this.anchor.textContent;
                const euro = [...document.querySelectorAll(".o_list_view .o_group_header")].find(
                    (row) => row.textContent.includes("Boulangerie")
                ).textContent;
                if (!alpine.includes("$") || alpine.includes("€")) {
                    throw new Error(`Alpine's group total: ${alpine}`);
                }
                if (!euro.includes("€")) {
                    throw new Error(`A euro group's total: ${euro}`);
                }
            },
        },
    ],
});

tours.add("relance_atys_campaign_composer_tour", {
    steps: () => [
        {
            content: "Write a reminder from the customer",
            trigger: ".o_form_view button[name=action_relance_compose]",
            run: "click",
        },
        {
            content: "Its documents' headers read whole",
            trigger: `${dialog} .o_field_widget[name=line_ids] .o_data_row`,
            run: () => nothingCut(`${dialog} .o_field_widget[name=line_ids]`, ["move_id"]),
        },
    ],
});

tours.add("relance_atys_campaign_run_tour", {
    steps: () => [
        {
            content: "A run without a file shows no empty file field, its states in French",
            trigger: ".o_form_view .o_statusbar_status",
            run() {
                const form = document.querySelector(".o_form_view");
                if (form.querySelector(".o_field_widget[name=attachment_id]")) {
                    throw new Error("An empty file field is shown");
                }
                const states = this.anchor.textContent;
                if (!states.includes("En file d'attente") || states.includes("Queued")) {
                    throw new Error(`States: ${states}`);
                }
                const labels = [...form.querySelectorAll(".o_form_label")].map((label) =>
                    label.textContent.trim()
                );
                if (labels.includes("Niveau")) {
                    throw new Error("A signature run shows a dunning level");
                }
            },
        },
    ],
});

tours.add("relance_atys_campaign_run_refresh_tour", {
    steps: () => [
        {
            content: "A run at work, its progress shown",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains(En cours)",
        },
        {
            content: "Stay on it a few seconds: the form reloads itself (the test counts)",
            trigger: ".o_form_view",
            async run() {
                await new Promise((resolve) => setTimeout(resolve, 6000));
            },
        },
    ],
});

tours.add("relance_atys_campaign_history_tour", {
    url: "/odoo/action-relance_atys.action_relance_run",
    steps: () => [
        {
            content: "The runs' names, types, users and progress read whole at 1440 px",
            trigger: ".o_list_view .o_data_row td[name=run_type]:contains(Modification manuelle de niveau)",
            run: () => {
                nothingCut(".o_list_view", ["name", "run_type", "user_id", "progress_text"]);
                const list = document.querySelector(".o_list_view .o_list_renderer");
                if (list.scrollWidth > list.clientWidth + 1) {
                    throw new Error(`The list is wider than the screen: ${list.scrollWidth} px`);
                }
            },
        },
    ],
});

tours.add("relance_atys_campaign_picker_tour", {
    url: "/odoo/action-relance_atys.action_relance_edition",
    steps: () => [
        {
            content: "Add customers to the edition",
            trigger: `${dialog} div[name=partner_ids] .o_field_x2many_list_row_add a`,
            run: "click",
        },
        {
            content: "The picker lists customers in French order, its headers whole",
            trigger: `${dialog} .o_list_view .o_data_row td[name=name]:contains(Électricité Girard)`,
            run: () => {
                nothingCut(dialog, ["name", "user_id"]);
                const names = [
                    ...document.querySelectorAll(`${dialog} .o_list_view .o_data_row td[name=name]`),
                ].map((cell) => cell.textContent.trim());
                const [deco, electricity, farm] = [
                    "Deco Addict",
                    "Électricité Girard",
                    "Ferme des Bonnet",
                ].map((name) => names.indexOf(name));
                if (!(deco >= 0 && deco < electricity && electricity < farm)) {
                    throw new Error(`Not in French order: ${names.join(" | ")}`);
                }
            },
        },
    ],
});

tours.add("relance_atys_campaign_failed_run_tour", {
    steps: () => [
        {
            content: "A failed mail's line shows no level after it (nothing was recorded)",
            trigger: ".o_form_view .o_field_widget[name=line_ids] .o_data_row:contains(En échec)",
            run() {
                const after = this.anchor.querySelector("td[name=level_after]");
                if (after && after.textContent.trim()) {
                    throw new Error(`Level after a failed mail: ${after.textContent.trim()}`);
                }
                const before = this.anchor.querySelector("td[name=level_before]");
                if (before.textContent.trim() !== "1") {
                    throw new Error(`Level before: ${before.textContent.trim()}`);
                }
            },
        },
    ],
});

tours.add("relance_atys_campaign_run_lines_tour", {
    steps: () => [
        {
            content: "A run's lines: customer, document, due date, levels and balance read whole",
            trigger: ".o_form_view .o_field_widget[name=line_ids] .o_data_row:contains(En échec)",
            run: () =>
                nothingCut(".o_form_view .o_field_widget[name=line_ids]", [
                    "partner_id",
                    "move_id",
                    "due_date",
                    "level_before",
                    "residual",
                    "outcome",
                ]),
        },
    ],
});

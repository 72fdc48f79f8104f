/** The other dunning screens in the web client, on the demo data, in French. */
import { registry } from "@web/core/registry";

const dialog = ".o_dialog";
const tours = registry.category("web_tour.tours");

tours.add("relance_atys_level_tour", {
    url: "/odoo/action-relance_atys.action_relance_level",
    steps: () => [
        {
            content: "Open the first level",
            trigger: ".o_list_view .o_data_row:first .o_data_cell[name=name]",
            run: "click",
        },
        {
            content: "Its French name shows",
            trigger: ".o_form_view .o_field_widget[name=name] input:value(Premier rappel)",
        },
        {
            content: "Change the upper bound",
            trigger: ".o_form_view .o_field_widget[name=upper_bound] input",
            run: "edit 14",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_view .o_form_saved",
        },
    ],
});

tours.add("relance_atys_manage_tour", {
    url: "/odoo/action-relance_atys.action_relance_level_manage",
    steps: () => [
        {
            content: "Any current level: 'Tous', not -1",
            trigger: `${dialog} .o_field_widget[name=current_level_choice] select`,
            run() {
                const label = this.anchor.selectedOptions[0]?.textContent.trim();
                if (label !== "Tous") {
                    throw new Error(`Current level shows "${label}", not "Tous"`);
                }
            },
        },
        {
            content: "Pick a first customer",
            trigger: `${dialog} .o_field_widget[name=partner_ids] input`,
            run: "edit Boulangerie",
        },
        {
            content: "Choose it",
            trigger: ".o-autocomplete--dropdown-item:contains(Boulangerie Martin)",
            run: "click",
        },
        {
            content: "Pick a second customer",
            trigger: `${dialog} .o_field_widget[name=partner_ids]:has(.o_tag:contains(Boulangerie Martin)) input`,
            run: "edit Garage",
        },
        {
            content: "Choose it",
            trigger: ".o-autocomplete--dropdown-item:contains(Garage Dupont)",
            run: "click",
        },
        {
            content: "New level 2",
            trigger: `${dialog} .o_field_widget[name=new_level] input`,
            run: "edit 2",
        },
        {
            content: "Show the documents",
            trigger: `${dialog} button[name=action_consult]:contains(Afficher les pièces)`,
            run: "click",
        },
        {
            content: "Documents of both customers listed",
            trigger: `${dialog} .o_field_widget[name=line_ids] .o_data_row:contains(Garage Dupont)`,
        },
        {
            content: "… and of the first one",
            trigger: `${dialog} .o_field_widget[name=line_ids] .o_data_row:contains(Boulangerie Martin)`,
        },
        {
            content: "Choose the documents to change",
            trigger: `${dialog} button[name=action_modify]:contains(Choisir les pièces à changer)`,
            run: "click",
        },
        {
            content: "The documents can be ticked now",
            trigger: `${dialog} .o_statusbar_status .o_arrow_button_current:contains(Modification)`,
        },
        {
            content: "Select the first document's row",
            trigger: `${dialog} .o_field_widget[name=line_ids] .o_data_row:first .o_data_cell[name=move_id]`,
            run: "click",
        },
        {
            content: "Tick it",
            trigger: `${dialog} .o_field_widget[name=line_ids] .o_data_row:first .o_data_cell[name=selected] input:enabled`,
            run: "click",
        },
        {
            content: "Validate",
            trigger: `${dialog} button[name=action_validate]`,
            run: "click",
        },
        {
            content: "Asked first: confirm",
            trigger: ".modal-footer .btn-primary:contains(Ok)",
            run: "click",
        },
        {
            content: "The manual run opens",
            trigger: ".o_form_view .o_field_widget[name=run_type]:contains(manuel)",
        },
    ],
});

tours.add("relance_atys_cancel_tour", {
    url: "/odoo/action-relance_atys.action_relance_run",
    steps: () => [
        {
            content: "Open the latest run",
            trigger: ".o_list_view .o_data_row:first .o_data_cell[name=name]",
            run: "click",
        },
        {
            content: "Cancel it",
            trigger: ".o_form_view button[name=action_cancel]",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal-footer .btn-primary:contains(Ok)",
            run: "click",
        },
        {
            content: "Marked cancelled",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Annulé)",
        },
    ],
});

tours.add("relance_atys_signature_tour", {
    url: "/odoo/action-relance_atys.action_relance_signature",
    steps: () => [
        {
            content: "Preview",
            trigger: `${dialog} button[name=action_preview]`,
            run: "click",
        },
        {
            content: "Quotations listed, headers whole",
            trigger: `${dialog} .o_data_row`,
            run() {
                const cut = [...document.querySelectorAll(`${dialog} thead th .text-truncate`)]
                    .filter((span) => span.textContent.trim())
                    .filter((span) => span.scrollWidth > span.clientWidth + 1)
                    .map((span) => span.textContent.trim());
                if (cut.length) {
                    throw new Error(`Cut column headers: ${cut}`);
                }
            },
        },
        {
            content: "Send",
            trigger: `${dialog} button[name=action_send]`,
            run: "click",
        },
        {
            content: "The run report opens, queued: its job gathers the quotations",
            trigger: ".o_form_view .o_field_widget[name=run_type]:contains(signature)",
        },
    ],
});

tours.add("relance_atys_signature_run_tour", {
    steps: () => [
        {
            content: "Its lines name the quotations, none says sent, no balance",
            trigger: ".o_form_view .o_field_widget[name=line_ids] .o_data_row",
            run() {
                const list = document.querySelector(".o_form_view .o_field_widget[name=line_ids]");
                const headers = [...list.querySelectorAll("thead th")].map((th) =>
                    th.textContent.trim()
                );
                const problems = [];
                if (!headers.includes("Devis")) {
                    problems.push(`no quotation column: ${headers}`);
                }
                if (headers.includes("Solde")) {
                    problems.push("a balance column");
                }
                const outcomes = [...list.querySelectorAll(".o_data_cell[name=outcome]")].map(
                    (cell) => cell.textContent.trim()
                );
                // nothing has left yet: no line may say "Envoyée" (sent)
                if (!outcomes.length || outcomes.includes("Envoyée")) {
                    problems.push(`outcomes ${outcomes}`);
                }
                if (problems.length) {
                    throw new Error(problems.join("; "));
                }
            },
        },
    ],
});

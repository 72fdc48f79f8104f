/** @odoo-module **/
// The form of a dunning run reloads itself every 2 seconds while its jobs work
// (state planning, queued or running), so "x / y customers" moves under the user's eyes.
import { Component, onMounted, onWillUnmount } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

const WORKING = ["planning", "queued", "running"];

export class RunAutoRefresh extends Component {
    static template = "relance_atys.RunAutoRefresh";
    static props = { ...standardFieldProps };

    setup() {
        onMounted(() => {
            this.timer = setInterval(() => this.refresh(), 2000);
        });
        onWillUnmount(() => clearInterval(this.timer));
    }

    async refresh() {
        const record = this.props.record;
        // record.dirty, not record.isDirty: that one is a method (always truthy),
        // which kept the form from ever reloading
        if (!WORKING.includes(record.data.state) || record.dirty) {
            return;
        }
        await record.model.load();
    }
}

registry.category("fields").add("relance_run_autorefresh", {
    component: RunAutoRefresh,
    supportedTypes: ["selection"],
});

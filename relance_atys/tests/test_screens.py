"""What the lists and screens show: totals per currency, levels never summed, counts,
the review banner, level management for several customers, the way back to a proposal."""

import io

import openpyxl
from lxml import etree

from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from .common import TODAY, RelanceCommon


@tagged("post_install", "-at_install")
class TestScreens(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = cls._new_dunning_user("relance_screens_manager", "manager")
        cls.dunner = cls._new_dunning_user("relance_screens_user", "user")
        cls.chf = cls.setup_other_currency("CHF", rates=[("2020-01-01", 2.0)])
        cls.alpha = cls._customer("Alpha SARL")
        cls.beta = cls._customer("Beta SA")
        cls.alpha_home = cls._invoice(cls.alpha, 100.0, 40)
        cls.alpha_home_2 = cls._invoice(cls.alpha, 250.0, 35)
        cls.alpha_chf = cls._invoice(cls.alpha, 300.0, 40, currency=cls.chf)
        cls.alpha_refund = cls._invoice(cls.alpha, 30.0, 40, move_type="out_refund")
        cls.beta_home = cls._invoice(cls.beta, 200.0, 20)
        cls.beta_home_2 = cls._invoice(cls.beta, 50.0, 18)

    # -- what the web client asks a grouped list for ---------------------------------

    def _list_arch(self, xmlid):
        view = self.env.ref(xmlid)
        return etree.fromstring(self.env[view.model].get_view(view.id, "list")["arch"].encode())

    def _grouped(self, model, arch, domain, groupby):
        """The groups of a list as the web client reads them: every field of the list
        with an aggregator is aggregated (relational_model.js)."""
        names = {node.get("name") for node in arch.iter("field")}
        fields = self.env[model].fields_get(list(names), ["aggregator"])
        specs = [f"{name}:{d['aggregator']}" for name, d in fields.items() if d.get("aggregator")]
        return self.env[model].web_read_group(domain, specs, [groupby])["groups"]

    # -- 8. open invoices by level -------------------------------------------------------

    def test_open_invoices_groups_show_the_level_not_a_sum(self):
        self._write_move_levels(
            {self.alpha_home.id: 2, self.alpha_home_2.id: 2, self.alpha_chf.id: 2}, TODAY
        )
        action = self.env.ref("relance_atys.action_relance_open_invoices")
        arch = self._list_arch(action.view_id.xml_id)
        domain = [("id", "in", (self.alpha_home | self.alpha_home_2 | self.alpha_chf).ids)]
        (group,) = self._grouped("account.move", arch, domain, "relance_level")
        self.assertEqual(group["relance_level"], 2, "the level, not 2 + 2 + 2")
        self.assertEqual(group["relance_level_count"], 3)

    def test_open_invoices_amounts_summed_in_one_currency_only(self):
        """Each amount the list (or its groups) sums is in the company currency: a
        document-currency amount shows on its line only."""
        action = self.env.ref("relance_atys.action_relance_open_invoices")
        arch = self._list_arch(action.view_id.xml_id)
        Move = self.env["account.move"]
        summed = []
        for node in arch.iter("field"):
            field = Move._fields[node.get("name")]
            if field.type != "monetary":
                continue
            aggregator = Move.fields_get([field.name], ["aggregator"])[field.name].get("aggregator")
            if aggregator or node.get("sum"):
                summed.append(field.name)
                self.assertEqual(field.get_currency_field(Move), "company_currency_id", field.name)
        self.assertIn("amount_residual_signed", summed)
        self.assertIn("relance_residual", [node.get("name") for node in arch.iter("field")])
        self.assertEqual(self.alpha_refund.relance_residual, -30.0)
        self.assertEqual(self.alpha_chf.relance_residual, 300.0)
        self.assertEqual(self.alpha_chf.currency_id, self.chf)

    # -- 9. control list on screen -------------------------------------------------------

    def _review(self, **vals):
        wizard = self.env["relance.edition"].create({"date": TODAY, "output": "control", **vals})
        wizard.action_review()
        return wizard

    def test_control_list_sums_amounts_per_customer_and_currency_only(self):
        wizard = self._review()
        arch = self._list_arch("relance_atys.relance_edition_line_view_list")
        # grouped as the screen opens it: by the review's customer line
        plines = {pline.id: pline.partner_id.id for pline in wizard.partner_line_ids}
        groups = {
            plines[group["partner_line_id"][0]]: group
            for group in self._grouped(
                "relance.edition.line", arch, [("edition_id", "=", wizard.id)], "partner_line_id"
            )
        }
        alpha, beta = groups[self.alpha.id], groups[self.beta.id]
        for name in ("days_late", "level_before", "level_after", "amount_total"):
            self.assertNotIn(name, alpha, f"{name} is not summed")
        self.assertFalse(alpha["residual"], "dollars and francs are not added")
        self.assertEqual(beta["residual"], 250.0)
        # a group in one currency names it, for the web client to write its symbol
        # (static/src/list/group_currency.js); a group in two names none
        self.assertFalse(alpha["relance_group_currency"])
        self.assertEqual(beta["relance_group_currency"], self.beta_home.currency_id.id)
        names = {node.get("name"): node for node in arch.iter("field")}
        self.assertEqual(names["relance_group_currency"].get("column_invisible"), "True")
        residual = next(node for node in arch.iter("field") if node.get("name") == "residual")
        self.assertFalse(residual.get("sum"), "no grand total across currencies")

    # -- 10. history counts ------------------------------------------------------------------

    def test_history_counts_each_customer_once(self):
        run = self.env["relance.service"]._create_run(
            {"run_type": "letter", "company_id": self.company.id, "date": TODAY, "level": 3},
            [
                {"partner_id": self.alpha.id, "move_id": self.alpha_home.id, "outcome": "printed"},
                {"partner_id": self.alpha.id, "move_id": self.alpha_chf.id, "outcome": "printed"},
                {
                    "partner_id": self.alpha.id,
                    "move_id": self.alpha_refund.id,
                    "outcome": "skipped",
                },
                {"partner_id": self.beta.id, "move_id": self.beta_home.id, "outcome": "printed"},
            ],
        )
        self.assertEqual(
            (run.partner_count, run.done_count, run.skipped_count, run.failed_count), (2, 3, 1, 0)
        )

    def test_history_lines_newest_run_first_then_as_written(self):
        """Dunning lines list: the newest run first, its lines in the order the run wrote
        them (customer by customer), not the database's reverse order."""
        service = self.env["relance.service"]
        runs = [
            service._create_run(
                {"run_type": "letter", "company_id": self.company.id, "date": TODAY, "level": 3},
                [
                    {"partner_id": self.alpha.id, "move_id": self.alpha_home.id},
                    {"partner_id": self.beta.id, "move_id": self.beta_home.id},
                ],
            )
            for _index in range(2)
        ]
        arch = self._list_arch("relance_atys.relance_run_line_view_list")
        lines = self.env["relance.run.line"].search(
            [("run_id", "in", [run.id for run in runs])], order=arch.get("default_order")
        )
        self.assertEqual(lines.run_id.ids, [runs[1].id, runs[0].id])
        self.assertEqual(lines[:2].partner_id.ids, [self.alpha.id, self.beta.id])

    # -- 13. review banner -------------------------------------------------------------------

    def test_review_banner_follows_the_ticks(self):
        wizard = self._review()
        self.assertIn("2 customer(s), 5 document(s)", wizard.summary)
        with Form(wizard) as form:
            for index in range(len(form.partner_line_ids)):
                with form.partner_line_ids.edit(index) as line:
                    line.selected = False
            self.assertEqual(form.summary, "No customer ticked")
            with form.partner_line_ids.edit(1) as line:  # Beta SA, sorted by name
                line.selected = True
            self.assertRegex(form.summary, r"^1 customer\(s\), 2 document\(s\): \S+\s250[.,]00$")
        self.assertRegex(wizard.summary, r"^1 customer\(s\), 2 document\(s\): \S+\s250[.,]00$")

    # -- 22. no dead end for a dunning user -------------------------------------------------

    def test_dunning_user_is_not_offered_the_email_mode(self):
        wizard = self._review().with_user(self.dunner)
        view = wizard.get_view(view_type="form")["arch"]
        self.assertNotIn("Switch to email mode", view)
        self.assertIn(
            "Switch to email mode",
            self._review().with_user(self.manager).get_view(view_type="form")["arch"],
        )
        with self.assertRaisesRegex(UserError, "Only dunning managers"):
            wizard.action_switch_mode()
        self.assertEqual(wizard.mode, "letter")

    # -- 23. level management ----------------------------------------------------------------

    def test_level_management_several_customers_any_level(self):
        Wizard = self.env["relance.level.manage"].with_user(self.manager)
        with Form(Wizard) as form:
            form.partner_ids.add(self.alpha)
            form.partner_ids.add(self.beta)
            self.assertEqual(form.current_level_choice, "all")
            form.new_level = 2
        wizard = form.record
        self.assertEqual(wizard.current_level, -1)
        wizard.action_consult()
        self.assertEqual(
            set(wizard.line_ids.move_id),
            {
                self.alpha_home,
                self.alpha_home_2,
                self.alpha_chf,
                self.alpha_refund,
                self.beta_home,
                self.beta_home_2,
            },
        )
        self.assertEqual(wizard.line_ids.partner_id, self.alpha | self.beta)
        with Form(wizard) as form:
            form.current_level_choice = "1"
        self.assertEqual(wizard.current_level, 1)
        wizard.action_consult()
        self.assertFalse(wizard.line_ids)
        selection = dict(
            Wizard.with_context(lang="fr_FR")
            ._fields["current_level_choice"]
            ._description_selection(Wizard.with_context(lang="fr_FR").env)
        )
        self.assertEqual(selection["all"], "Tous")

    def test_level_management_asks_before_validating(self):
        arch = etree.fromstring(
            self.env["relance.level.manage"].get_view(view_type="form")["arch"].encode()
        )
        (button,) = arch.xpath("//button[@name='action_validate']")
        self.assertTrue(button.get("confirm"))

    # -- 25. the way back from the control list --------------------------------------------

    def test_back_from_the_control_list_reopens_the_proposal(self):
        wizard = self._review()
        action = wizard.action_control_list()
        Line = self.env["relance.edition.line"].with_context(**action["context"])
        back = Line.action_back_to_proposal()
        self.assertEqual((back["res_model"], back["res_id"]), ("relance.edition", wizard.id))
        self.assertEqual(wizard.state, "review")
        # the menu too, after the browser's Back, say: the proposal once, then a new one
        wizard.action_control_list()
        reopened = self.env["relance.control.list"]._menu_action()
        self.assertEqual(reopened.get("res_id"), wizard.id)
        fresh = self.env["relance.control.list"]._menu_action()
        self.assertFalse(fresh.get("res_id"))
        self.assertEqual(fresh["res_model"], "relance.edition")
        # a proposal left longer ago is not reopened: the ledger may have moved since
        wizard.action_control_list()
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE relance_edition SET write_date = write_date - interval '31 minutes' "
            "WHERE id = %s",
            [wizard.id],
        )
        wizard.invalidate_recordset()
        self.assertFalse(self.env["relance.control.list"]._menu_action().get("res_id"))
        wizard.unlink()
        with self.assertRaisesRegex(UserError, "no longer kept"):
            Line.action_back_to_proposal()

    def test_the_control_list_on_screen_shows_what_is_ticked(self):
        """On screen as in the XLSX: a customer unticked and a document unticked are
        not listed by default (found in use: an unticked customer listed with its
        lines on, a group total with an unticked échéance); the filter removed, they
        are, greyed."""
        wizard = self._review()
        first, second = wizard.partner_line_ids[:2]
        first.selected = False
        unticked = second.line_ids.filtered(lambda line: not line.is_deduction)[:1]
        unticked.selected = False
        action = wizard.action_control_list()
        self.assertEqual(action["context"].get("search_default_listed"), 1)
        search = self.env["relance.edition.line"].get_view(view_type="search")["arch"]
        (listed,) = etree.fromstring(search.encode()).xpath("//filter[@name='listed']")
        shown = self.env["relance.edition.line"].search(
            action["domain"] + safe_eval(listed.get("domain"))
        )
        ticked = wizard.line_ids.filtered(
            lambda line: line.selected and line.partner_line_id.selected
        )
        self.assertEqual(shown, ticked)
        self.assertFalse(shown & (first.line_ids | unticked))
        self.assertEqual(self.env["relance.edition.line"].search(action["domain"]), wizard.line_ids)

    # -- 27. the XLSX files -------------------------------------------------------------------

    def _book(self, action, data_only=False):
        attachment = self.env["ir.attachment"].browse(
            int(action["url"].split("/")[3].split("?")[0])
        )
        return openpyxl.load_workbook(io.BytesIO(attachment.raw), data_only=data_only).active

    def _assert_print_setup(self, sheet, title):
        self.assertEqual(sheet.page_setup.orientation, "landscape")
        self.assertEqual(sheet.page_setup.paperSize, 9, "A4")
        self.assertTrue(sheet.sheet_properties.pageSetUpPr.fitToPage)
        # one page wide (1, the default, is left out of the file), as many pages tall as needed
        self.assertIn(sheet.page_setup.fitToWidth, (None, 1))
        self.assertEqual(sheet.page_setup.fitToHeight, 0)
        self.assertEqual(sheet.print_title_rows, "$3:$3", "the header row on every page")
        self.assertIn(title, sheet.oddFooter.left.text)
        self.assertEqual(sheet.oddFooter.right.text, "&P / &N")

    def test_control_list_xlsx_prints_and_totals_follow_the_filter(self):
        wizard = self._review()
        action = wizard.action_export_xlsx()
        sheet = self._book(action)
        self._assert_print_setup(sheet, "Dunning control list")
        self.assertTrue(sheet.column_dimensions["Q"].hidden)
        rows = list(sheet.iter_rows(min_row=4, values_only=True))
        documents = [row for row in rows if row[15] in ("Document", "Deduction")]
        for index, row in enumerate(rows, start=4):
            if row in documents:
                self.assertEqual(row[16], f"=SUBTOTAL(103,B{index})", "1 while shown")
        refund = next(row for row in documents if row[4] == self.alpha_refund.name)
        self.assertIsNone(refund[7], "a credit note is not late")
        invoice = next(row for row in documents if row[4] == self.alpha_home.name)
        self.assertEqual(invoice[7], 40)
        totals = [row for row in rows if row[1] and str(row[1]).startswith("Grand total")]
        self.assertEqual([row[14] for row in totals], ["CHF", "USD"], "one per currency")
        for row in totals:
            self.assertIn("Q4:Q", row[9], "only the rows the filter shows")
            self.assertIn(f'"{row[14]}"', row[9])
        cached = {
            row[14]: row[9]
            for row in self._book(action, data_only=True).iter_rows(min_row=4, values_only=True)
            if row[1] and str(row[1]).startswith("Grand total")
        }
        self.assertEqual(cached, {"CHF": 300.0, "USD": 570.0})  # 100 + 250 - 30 + 200 + 50

    def test_run_xlsx_has_totals_and_a_readable_sheet(self):
        run = self.env["relance.service"]._create_run(
            {"run_type": "letter", "company_id": self.company.id, "date": TODAY, "level": 3},
            [
                {
                    "partner_id": move.partner_id.id,
                    "move_id": move.id,
                    "outcome": "printed",
                    "residual": amount,
                    "currency_id": move.currency_id.id,
                }
                for move, amount in (
                    (self.alpha_home, 100.0),
                    (self.alpha_chf, 300.0),
                    (self.beta_home, 200.0),
                )
            ]
            + [
                {
                    "partner_id": self.beta_home.partner_id.id,
                    "move_id": self.beta_home.id,
                    "due_date": self.beta_home.invoice_date_due,
                    "outcome": "failed",
                    "level_before": 1,
                    "level_after": 1,
                    "residual": 0.0,
                    "currency_id": self.beta_home.currency_id.id,
                }
            ],
        )
        action = run.action_export_xlsx()
        sheet = self._book(action)
        self.assertEqual(sheet.title, run.name.replace("/", "-"))
        self._assert_print_setup(sheet, run.name)
        rows = list(self._book(action, data_only=True).iter_rows(min_row=4, values_only=True))
        totals = {row[6]: row[5] for row in rows if row[0] and str(row[0]).startswith("Total ")}
        self.assertEqual(totals, {"CHF": 300.0, "USD": 300.0})
        # a failed mail recorded nothing: no level after it; the échéance's due date is shown
        failed_label = dict(
            self.env["relance.run.line"]._fields["outcome"]._description_selection(self.env)
        )["failed"]
        failed = [row for row in rows if row[8] == failed_label]
        self.assertEqual(len(failed), 1)
        self.assertIsNone(failed[0][4])
        self.assertEqual(failed[0][2].date(), self.beta_home.invoice_date_due)
        formulas = [
            row[5]
            for row in sheet.iter_rows(min_row=4, values_only=True)
            if row[0] and str(row[0]).startswith("Total ")
        ]
        self.assertTrue(all(f.startswith("=SUMIFS(") for f in formulas))

    # -- 21. settings and a run's parameters, in the user's words ----------------------------

    def test_settings_speak_plainly(self):
        labels = dict(self.env["res.company"]._fields["relance_rule"].selection)
        for label in labels.values():
            for product in ("Atys", "Akuiteo", "RELCLI"):
                self.assertNotIn(product, label)
        arch = etree.fromstring(
            self.env["res.config.settings"].get_view(view_type="form")["arch"].encode()
        )
        for name in (
            "relance_repeat_days",
            "relance_sign_first_days",
            "relance_sign_second_days",
            "relance_sign_repeat_days",
            "relance_sign_min_interval",
        ):
            (node,) = arch.xpath(f"//field[@name='{name}']")
            unit = node.getnext()
            self.assertEqual((unit.tag, unit.text), ("span", "days"), name)
            # a <setting> shows only its field unless the unit sits with it in a block
            self.assertEqual(node.getparent().tag, "div", name)

    def test_run_parameters_as_labelled_fields_in_french(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(["relance_atys"], ["fr_FR"])
        wizard = self.env["relance.edition"].create(
            {
                "date": TODAY,
                "due_to": TODAY,
                "partner_ids": [(6, 0, (self.alpha | self.beta).ids)],
                "min_amount": 10.0,
            }
        )
        options = wizard._options() | {"mode": "letter", "sort_by": "name", "template": None}
        run = self.env["relance.service"]._create_run(
            {
                "run_type": "letter",
                "company_id": self.company.id,
                "date": TODAY,
                "parameters": self.env["relance.service"]._parameters_text(options),
            },
            [],
        )
        self.assertIn('"partner_ids"', run.parameters)
        shown = run.with_context(lang="fr_FR").parameters_display
        for expected in (
            "Date de relance",
            "31/03/2026",
            "Par jours de retard",
            "Alpha SARL, Beta SA",
            "Mode courrier",
        ):
            self.assertIn(expected, shown)
        for raw in ("partner_ids", "due_to", "bounds", "2026-03-31", "{"):
            self.assertNotIn(raw, shown)

"""The control list of a review (Atys' "liste de contrôle") as an XLSX file."""

from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date

from .relance_xlsx import write_control_list

# the menu reopens a proposal whose control list was left less than this ago
REOPEN_MINUTES = 30


class RelanceControlList(models.AbstractModel):
    _name = "relance.control.list"
    _description = "Dunning control list"

    def _xlsx(self, edition):
        """Use case: the ticked lines of ``edition`` (a reviewed ``relance.edition``)
        as an XLSX file, in the review's order. Returns (data, file name).

        The rows are read from the cursor as the sheet is written (a ledger of
        100,000 invoices gives 70,000 of them), the penalties' sheet once they are
        all written: neither the review's lines nor all the rows are held at once."""
        moves, listed = self._check_readable(edition)
        company, date = edition.company_id, edition.date
        data = write_control_list(
            self._rows(edition),
            subtotal_due=edition.subtotal_due,
            labels=self._labels(),
            title=self._title(edition),
            penalties=lambda: self.env["relance.penalty"]._control_list_sheet(
                company, moves, date, listed
            ),
        )
        options = {"date": date, "level": edition.level_id.number}
        name = self.env["relance.service"]._file_name(
            company, options, self.env._("control_list"), "xlsx"
        )
        return data, name

    def _screen_action(self, edition):
        """The control list of ``edition`` on screen, grouped by customer, in the
        place of its dialog: its "Back to the proposal" button reopens the proposal
        (``_back_to_proposal``), and so does the menu afterwards (``_menu_action``:
        after the browser's Back, say)."""
        edition.ensure_one()
        edition.control_list_open = True
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Control list"),
            "res_model": "relance.edition.line",
            "view_mode": "list",
            "domain": [("edition_id", "=", edition.id)],
            "context": {
                "search_default_group_partner": 1,
                # what is ticked, as the XLSX and the letters take it (the filter
                # removed, the unticked lines too, greyed)
                "search_default_listed": 1,
                "relance_edition_id": edition.id,
            },
            "target": "current",
        }

    def _back_to_proposal(self, edition_id):
        """The proposal (``relance.edition`` id) a control list shows, in its dialog again."""
        edition = self.env["relance.edition"].browse(edition_id)
        if not edition.exists():
            raise UserError(
                self.env._("This proposal is no longer kept: review the dunning again.")
            )
        return edition._reopen()

    @api.model
    def _menu_action(self):
        """The menu: the proposal whose control list was left a moment ago (the
        browser's Back, say), else a new edition: an older one may no longer say
        what the ledger says (a promise archived since, an invoice paid)."""
        recent = fields.Datetime.now() - timedelta(minutes=REOPEN_MINUTES)
        pending = self.env["relance.edition"].search(
            [
                ("create_uid", "=", self.env.uid),
                ("state", "=", "review"),
                ("control_list_open", "=", True),
                ("write_date", ">=", recent),
            ],
            order="id desc",
            limit=1,
        )
        if pending:
            return pending._reopen()
        return self.env["ir.actions.act_window"]._for_xml_id("relance_atys.action_relance_edition")

    def _check_readable(self, edition):
        """Refuse the list when the user may not read one of its documents or
        customers (their company and customer were checked when the review was
        written); return the documents (deductions aside) and {document id: ids of
        its échéances listed} (``relance.penalty._listed``: its penalties are those
        of the échéances listed, as its letters' are, not of an instalment left out
        or unticked), read in one query."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT array_agg(DISTINCT l.move_id), array_agg(DISTINCT l.partner_id),
                   array_agg(DISTINCT l.move_id) FILTER (WHERE NOT l.is_deduction),
                   array_agg(ARRAY[l.move_id, l.move_line_id])
                       FILTER (WHERE NOT l.is_deduction AND l.move_line_id IS NOT NULL)
              FROM relance_edition_line l
              JOIN relance_edition_partner pl ON pl.id = l.partner_line_id
             WHERE l.edition_id = %s AND l.selected AND pl.selected
            """,
            [edition.id],
        )
        move_ids, partner_ids, document_ids, echeances = self.env.cr.fetchone()
        self._check_access_read(self.env["account.move"].browse(move_ids or []))
        self._check_access_read(self.env["res.partner"].browse(partner_ids or []))
        listed = {}
        for move_id, line_id in echeances or []:
            listed.setdefault(move_id, set()).add(line_id)
        return self.env["account.move"].browse(document_ids or []), listed

    @staticmethod
    def _check_access_read(records):
        """``records.check_access("read")`` with the record rules applied in SQL:
        the ORM applies them in Python, on every field the rules name, fetched for
        each record (20 s for 70,000 invoices). The records the rules hide are
        then checked by the ORM, which raises its usual error."""
        records.browse().check_access("read")  # the model's access rights
        if records.env.su or not records:
            return
        visible = records.with_context(active_test=False).search([("id", "in", records.ids)])
        (records - visible).check_access("read")

    def _rows(self, edition, chunk=2000):
        """Rows for the XLSX, in the review order, read in one query and handed
        out ``chunk`` at a time: of documents and customers the ORM lets the user
        read; an invoice's row is one of its échéances (its due date, amount and
        residual). The cursor runs no other query until they are all read."""
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            """
            SELECT p.ref, p.name, p.zip, COALESCE(up.name, ''), m.name,
                   m.invoice_date, l.due_date, l.days_late,
                   CASE WHEN m.move_type IN ('out_invoice', 'out_refund')
                        THEN COALESCE(e.amount_currency,
                                      CASE WHEN m.move_type = 'out_refund' THEN -m.amount_total
                                           ELSE m.amount_total END)
                        ELSE l.residual END,
                   l.residual, l.level_before, l.date_before, l.level_after,
                   COALESCE(p.email, ''), c.name, l.is_deduction, pl.id
              FROM relance_edition_line l
              JOIN relance_edition_partner pl ON pl.id = l.partner_line_id
              JOIN res_partner p ON p.id = l.partner_id
              JOIN account_move m ON m.id = l.move_id
              LEFT JOIN account_move_line e ON e.id = l.move_line_id  -- the échéance
              JOIN res_currency c ON c.id = l.currency_id
              LEFT JOIN res_users u ON u.id = p.user_id
              LEFT JOIN res_partner up ON up.id = u.partner_id
             WHERE l.edition_id = %s AND l.selected AND pl.selected
             ORDER BY pl.sequence, c.name, l.is_deduction, l.due_date, l.id
            """,
            [edition.id],
        )
        while rows := cr.fetchmany(chunk):
            yield from rows

    def _title(self, edition):
        level = edition.level_id.display_name or self.env._("all levels")
        return self.env._(
            "Dunning control list - %(company)s - %(level)s - %(date)s",
            company=edition.company_id.name,
            level=level,
            date=format_date(self.env, edition.date),
        )

    @api.model
    def _labels(self):
        _ = self.env._
        return {
            "columns": [
                _("Customer ref."),
                _("Customer"),
                _("Zip"),
                _("Salesperson"),
                _("Document"),
                _("Date"),
                _("Due date"),
                _("Days late"),
                _("Amount"),
                _("Residual"),
                _("Current level"),
                _("Last dunning"),
                _("Proposed level"),
                _("Email"),
                _("Currency"),
            ],
            "subtotal": _("Subtotal"),
            "subtotal_due": _("Subtotal due"),
            "total": _("Grand total"),
            "type": _("Type"),
            "document": _("Document"),
            "deduction": _("Deduction"),
            "shown": _("Shown"),
            "sheet": _("Dunning"),
        }

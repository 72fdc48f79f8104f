"""The dunning control list as an XLSX file (xlsxwriter, constant memory).

Plain Python: it takes rows already read from the database, in print order, and
writes them one by one, so memory stays flat however long the ledger is.
Subtotals are SUBTOTAL() formulas (which skip each other and filtered rows)
with their value cached, so the sheet reads right in any spreadsheet.
"""

import io
from datetime import datetime
from itertools import groupby

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

# Row layout of ``rows``, as relance.edition._control_list_rows returns them.
(
    REF,
    NAME,
    ZIP,
    SALESPERSON,
    DOCUMENT,
    DATE,
    DUE,
    DAYS,
    AMOUNT,
    RESIDUAL,
    LEVEL,
    LEVEL_DATE,
    NEW_LEVEL,
    EMAIL,
    CURRENCY,
    DEDUCTION,
    GROUP,
) = range(17)
COLUMNS = tuple(range(CURRENCY + 1))  # the columns shown, REF to CURRENCY
WIDTHS = (12, 30, 9, 20, 18, 11, 11, 8, 14, 14, 8, 12, 9, 28, 8, 12)
COL_AMOUNT, COL_RESIDUAL, COL_CURRENCY, COL_TYPE = 8, 9, 14, 15


class _Sheet:
    def __init__(self, workbook, labels, title):
        self.book = workbook
        self.sheet = workbook.add_worksheet(labels.get("sheet", "Relances")[:31])
        self.labels = labels
        self.fmt = self._formats(workbook)
        self.row = 0
        self.title = title

    @staticmethod
    def _formats(book):
        money = "#,##0.00;[Red]-#,##0.00"
        return {
            "title": book.add_format({"bold": True, "font_size": 13}),
            "head": book.add_format(
                {
                    "bold": True,
                    "bg_color": "#D9E1F2",
                    "border": 1,
                    "text_wrap": True,
                    "valign": "top",
                }
            ),
            "date": book.add_format({"num_format": "dd/mm/yyyy"}),
            "int": book.add_format({"num_format": "0"}),
            "money": book.add_format({"num_format": money}),
            "sub": book.add_format({"bold": True, "top": 1}),
            "sub_money": book.add_format({"bold": True, "top": 1, "num_format": money}),
            "total": book.add_format({"bold": True, "top": 2, "bg_color": "#FFF2CC"}),
            "total_money": book.add_format(
                {"bold": True, "top": 2, "bg_color": "#FFF2CC", "num_format": money}
            ),
        }

    def header(self):
        self.sheet.write(0, 0, self.title, self.fmt["title"])
        self.row = 2
        for col, label in enumerate([*self.labels["columns"], self.labels["type"]]):
            self.sheet.write(self.row, col, label, self.fmt["head"])
        for col, width in enumerate(WIDTHS):
            self.sheet.set_column(col, col, width)
        self.sheet.freeze_panes(self.row + 1, 0)
        self.row += 1

    def line(self, rec):
        write, fmt, row = self.sheet.write, self.fmt, self.row
        for col, key in enumerate(COLUMNS):
            value = rec[key]
            if value is None or value == "":
                continue
            if key in (DATE, DUE, LEVEL_DATE):
                self.sheet.write_datetime(row, col, _as_datetime(value), fmt["date"])
            elif key in (AMOUNT, RESIDUAL):
                self.sheet.write_number(row, col, float(value), fmt["money"])
            elif key in (DAYS, LEVEL, NEW_LEVEL):
                self.sheet.write_number(row, col, int(value), fmt["int"])
            else:
                write(row, col, value)
        kind = self.labels["deduction"] if rec[DEDUCTION] else self.labels["document"]
        write(row, COL_TYPE, kind)
        self.row += 1

    def subtotal(self, label, first, last, values, style="sub"):
        """A SUBTOTAL row over data rows first..last (0-based, inclusive)."""
        fmt = self.fmt[style]
        self.sheet.write(self.row, 1, label, fmt)
        for col, value in ((COL_AMOUNT, values[0]), (COL_RESIDUAL, values[1])):
            letter = xl_col_to_name(col)
            self.sheet.write_formula(
                self.row,
                col,
                f"=SUBTOTAL(9,{letter}{first + 1}:{letter}{last + 1})",
                self.fmt[style + "_money"],
                round(value, 2),
            )
        self.sheet.write(self.row, COL_TYPE, self.labels["subtotal"], fmt)
        self.row += 1

    def grand_total(self, currency, first, last, values):
        fmt = self.fmt["total"]
        self.sheet.write(self.row, 1, f"{self.labels['total']} {currency}", fmt)
        for col, value in ((COL_AMOUNT, values[0]), (COL_RESIDUAL, values[1])):
            letter, cur, kind = (xl_col_to_name(c) for c in (col, COL_CURRENCY, COL_TYPE))
            rng = f"{first + 1}:{{}}{last + 1}"
            formula = (
                f'=SUMIFS({letter}{rng.format(letter)},{cur}{rng.format(cur)},"{currency}",'
                f'{kind}{rng.format(kind)},"<>{self.labels["subtotal"]}")'
            )
            self.sheet.write_formula(
                self.row, col, formula, self.fmt["total_money"], round(value, 2)
            )
        self.sheet.write(self.row, COL_CURRENCY, currency, fmt)
        self.row += 1


def _as_datetime(value):
    return datetime(value.year, value.month, value.day)


def _sums(records):
    return (
        sum(float(r[AMOUNT] or 0) for r in records),
        sum(float(r[RESIDUAL] or 0) for r in records),
    )


def write_control_list(rows, subtotal_due=False, labels=None, title=""):
    """Return the XLSX bytes of the control list for ``rows`` (in print order)."""
    labels = {
        "columns": [
            "Ref",
            "Customer",
            "Zip",
            "Salesperson",
            "Document",
            "Date",
            "Due date",
            "Days late",
            "Amount",
            "Residual",
            "Level",
            "Last dunning",
            "Proposed level",
            "Email",
            "Currency",
        ],
        "subtotal": "Subtotal",
        "subtotal_due": "Subtotal due",
        "total": "Grand total",
        "type": "Type",
        "document": "Document",
        "deduction": "Deduction",
        **(labels or {}),
    }
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"constant_memory": True, "in_memory": False, "tmpdir": None}
    )
    sheet = _Sheet(book, labels, title)
    sheet.header()
    data_first = sheet.row
    totals = {}
    # plain itertools.groupby on rows already sorted: this module has no ORM
    for _key, group in groupby(rows, key=lambda r: (r[GROUP], r[CURRENCY])):  # pylint: disable=bad-builtin-groupby
        group = list(group)
        first = sheet.row
        for due, same_due in groupby(group, key=lambda r: (r[DEDUCTION], r[DUE])):  # pylint: disable=bad-builtin-groupby
            same_due = list(same_due)
            start = sheet.row
            for rec in same_due:
                sheet.line(rec)
            if subtotal_due and not due[0]:
                label = f"{labels['subtotal_due']} {due[1].strftime('%d/%m/%Y')}"
                sheet.subtotal(label, start, sheet.row - 1, _sums(same_due))
        head = group[0]
        sheet.subtotal(
            f"{labels['subtotal']} {head[NAME]} ({head[CURRENCY]})",
            first,
            sheet.row - 1,
            _sums(group),
        )
        amount, residual = _sums(group)
        acc = totals.setdefault(head[CURRENCY], [0.0, 0.0])
        acc[0] += amount
        acc[1] += residual
    data_last = max(sheet.row - 1, data_first)
    sheet.sheet.autofilter(data_first - 1, 0, data_last, COL_TYPE)
    sheet.row += 1
    for currency in sorted(totals):
        sheet.grand_total(currency, data_first, data_last, totals[currency])
    book.close()
    return buffer.getvalue()


def write_run_lines(rows, columns, title=""):
    """Return the XLSX bytes of a run's lines: ``rows`` of plain values, in order.

    ``columns`` are (label, kind) with kind one of "text", "int", "money", "date".
    """
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": False})
    sheet = _Sheet(book, {"sheet": title[:31] or "Run"}, title)
    sheet.sheet.write(0, 0, title, sheet.fmt["title"])
    for col, (label, _kind) in enumerate(columns):
        sheet.sheet.write(2, col, label, sheet.fmt["head"])
        sheet.sheet.set_column(col, col, 16 if col else 30)
    sheet.sheet.freeze_panes(3, 0)
    for row_index, row in enumerate(rows, start=3):
        for col, (value, (_label, kind)) in enumerate(zip(row, columns, strict=True)):
            if value is None or value is False or value == "":
                continue
            if kind == "date":
                sheet.sheet.write_datetime(row_index, col, _as_datetime(value), sheet.fmt[kind])
            elif kind in ("int", "money"):
                sheet.sheet.write_number(row_index, col, value, sheet.fmt[kind])
            else:
                sheet.sheet.write(row_index, col, value)
    sheet.sheet.autofilter(2, 0, max(2 + len(rows), 3), len(columns) - 1)
    book.close()
    return buffer.getvalue()

"""The dunning control list as an XLSX file (xlsxwriter, constant memory).

Plain Python: it takes rows already read from the database, in print order, and
writes them one by one, so memory stays flat however long the ledger is.
Subtotals are SUBTOTAL() formulas (which skip each other and filtered rows)
with their value cached, so the sheet reads right in any spreadsheet. The grand
totals, one per currency, follow the filter too: a hidden column tells, row by
row, SUBTOTAL(103) whether the row is shown, and the totals add only those.
Printed, a sheet is landscape, one page wide, its header row on every page and
its title and page number at the foot.
"""

import io
from datetime import datetime
from itertools import groupby

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

# Row layout of ``rows``, as relance.control.list._rows returns them.
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
COL_AMOUNT, COL_RESIDUAL, COL_CURRENCY, COL_TYPE, COL_SHOWN = 8, 9, 14, 15, 16
INVALID_SHEET_CHARS = str.maketrans(dict.fromkeys("[]:*?/\\", "-"))


def sheet_name(name):
    """``name`` as Excel accepts a sheet name: no []:*?/\\, 31 characters at most."""
    return (name or "").translate(INVALID_SHEET_CHARS).strip("'")[:31] or "Sheet1"


def print_setup(sheet, header_row, title, last_col):
    """Landscape A4, one page wide, the header row repeated, title and page at the foot."""
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(header_row)
    sheet.print_area(0, 0, 1048575, last_col)
    sheet.set_footer(f"&L{title.replace('&', '&&')}&R&P / &N")


class _Sheet:
    def __init__(self, workbook, labels, title):
        self.book = workbook
        self.sheet = workbook.add_worksheet(sheet_name(labels.get("sheet", "Relances")))
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
        # shown: 1 when the row is not filtered out (SUBTOTAL skips filtered rows)
        self.sheet.write(self.row, COL_SHOWN, self.labels["shown"], self.fmt["head"])
        self.sheet.set_column(COL_SHOWN, COL_SHOWN, 8, None, {"hidden": True})
        self.sheet.freeze_panes(self.row + 1, 0)
        print_setup(self.sheet, self.row, self.title, COL_TYPE)
        self.row += 1

    def line(self, rec):
        write, fmt, row = self.sheet.write, self.fmt, self.row
        for col, key in enumerate(COLUMNS):
            value = rec[key]
            if value is None or value == "":
                continue
            if key == DAYS and rec[DEDUCTION]:
                continue  # a credit note or a payment is not late
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
        self.sheet.write_formula(row, COL_SHOWN, f"=SUBTOTAL(103,B{row + 1})", fmt["int"], 1)
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
        """The documents of ``currency`` still shown by the filter (a document row,
        not a subtotal, whose hidden "shown" cell says 1)."""
        fmt = self.fmt["total"]
        self.sheet.write(self.row, 1, f"{self.labels['total']} {currency}", fmt)
        for col, value in ((COL_AMOUNT, values[0]), (COL_RESIDUAL, values[1])):
            letter, cur, kind, shown = (
                xl_col_to_name(c) for c in (col, COL_CURRENCY, COL_TYPE, COL_SHOWN)
            )
            rng = f"{first + 1}:{{}}{last + 1}"
            formula = (
                f'=SUMIFS({letter}{rng.format(letter)},{cur}{rng.format(cur)},"{currency}",'
                f'{kind}{rng.format(kind)},"<>{self.labels["subtotal"]}",'
                f"{shown}{rng.format(shown)},1)"
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


def write_control_list(rows, subtotal_due=False, labels=None, title="", penalties=None):
    """Return the XLSX bytes of the control list for ``rows`` (in print order).

    ``penalties``, when given, is a second sheet: a dict with its ``rows``, its
    ``columns`` ((label, kind) as write_run_lines takes them), its ``title``,
    ``sheet`` name, ``total_label`` and ``currency_col``.
    """
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
        "shown": "Shown",
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
    if penalties:
        _write_table(
            book,
            penalties["rows"],
            penalties["columns"],
            penalties["title"],
            sheet_name(penalties["sheet"]),
            penalties["total_label"],
            penalties["currency_col"],
        )
    book.close()
    return buffer.getvalue()


def write_run_lines(rows, columns, title="", sheet="", total_label="Total", currency_col=None):
    """Return the XLSX bytes of a run's lines: ``rows`` of plain values, in order.

    ``columns`` are (label, kind) with kind one of "text", "int", "money", "date".
    With ``currency_col`` (the index of the currency column), a total per currency
    of each money column follows the lines (and the filter, as the control list's).
    """
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": False})
    _write_table(book, rows, columns, title, sheet or title or "Run", total_label, currency_col)
    book.close()
    return buffer.getvalue()


def _write_table(book, rows, columns, title, sheet, total_label, currency_col):
    """A sheet of ``rows`` under ``columns``, with totals per currency (see write_run_lines)."""
    out = _Sheet(book, {"sheet": sheet}, title)
    ws, fmt, shown_col = out.sheet, out.fmt, len(columns)
    ws.write(0, 0, title, fmt["title"])
    for col, (label, _kind) in enumerate(columns):
        ws.write(2, col, label, fmt["head"])
        ws.set_column(col, col, 16 if col else 30)
    ws.set_column(shown_col, shown_col, 8, None, {"hidden": True})
    ws.freeze_panes(3, 0)
    print_setup(ws, 2, title, len(columns) - 1)
    totals = {}
    for row_index, row in enumerate(rows, start=3):
        for col, (value, (_label, kind)) in enumerate(zip(row, columns, strict=True)):
            if value is None or value is False or value == "":
                continue
            if kind == "date":
                ws.write_datetime(row_index, col, _as_datetime(value), fmt[kind])
            elif kind in ("int", "money"):
                ws.write_number(row_index, col, value, fmt[kind])
            else:
                ws.write(row_index, col, value)
        ws.write_formula(row_index, shown_col, f"=SUBTOTAL(103,A{row_index + 1})", fmt["int"], 1)
        if currency_col is not None and row[currency_col]:
            acc = totals.setdefault(row[currency_col], [0.0] * len(columns))
            for col, (_label, kind) in enumerate(columns):
                if kind == "money" and row[col] not in (None, False, ""):
                    acc[col] += row[col]
    last = max(2 + len(rows), 3)
    ws.autofilter(2, 0, last, len(columns) - 1)
    row_index = last + 2
    for currency in sorted(totals):
        ws.write(row_index, 0, f"{total_label} {currency}", fmt["total"])
        for col, (_label, kind) in enumerate(columns):
            if kind != "money":
                continue
            letter, cur, shown = (xl_col_to_name(c) for c in (col, currency_col, shown_col))
            formula = (
                f'=SUMIFS({letter}4:{letter}{last + 1},{cur}4:{cur}{last + 1},"{currency}",'
                f"{shown}4:{shown}{last + 1},1)"
            )
            ws.write_formula(
                row_index, col, formula, fmt["total_money"], round(totals[currency][col], 2)
            )
        ws.write(row_index, currency_col, currency, fmt["total"])
        row_index += 1
    return ws, row_index


def write_statement(title, columns, rows, aged_columns, aged_rows, sheet, total_label):
    """Return the XLSX bytes of a statement of account: its open items (as
    write_run_lines writes them, the currency last), then its aged balance, one
    row per currency."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": False, "in_memory": True})
    ws, row = _write_table(book, rows, columns, title, sheet, total_label, len(columns) - 1)
    head = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
    money = book.add_format({"num_format": "#,##0.00;[Red]-#,##0.00"})
    row += 1
    for col, label in enumerate(aged_columns):
        ws.write(row, col, label, head)
    for values in aged_rows:
        row += 1
        ws.write(row, 0, values[0])
        for col, value in enumerate(values[1:], start=1):
            ws.write_number(row, col, value, money)
    book.close()
    return buffer.getvalue()

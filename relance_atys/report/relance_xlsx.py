"""The dunning control list as an XLSX file (xlsxwriter, constant memory).

Plain Python: it takes rows already read from the database, in print order, and
writes them one by one, so memory stays flat however long the ledger is.
Subtotals are SUBTOTAL() formulas (which skip each other and filtered rows)
with their value cached, so the sheet reads right in any spreadsheet. The grand
totals, one per currency, follow the filter too: a hidden column tells, row by
row, SUBTOTAL(103) whether the row is shown, and the totals add only those.
Printed, a sheet is landscape, one page wide, its header row on every page and
its title and page number at the foot.

Data rows are written by ``_RowXml``: each row's XML at once, as xlsxwriter
writes it cell by cell (the same cells, formats and XML), five to ten times
faster; 100,000 invoices make about 1.6 million cells.
"""

import io
import re
from datetime import datetime
from itertools import groupby

import xlsxwriter
from xlsxwriter.utility import datetime_to_excel_datetime, xl_col_to_name

# what xlsxwriter's write() would not write as a plain string: a formula, a link
NOT_PLAIN = re.compile(r"=|\{=.*\}$|(ftp|http)s?://|mailto:|(in|ex)ternal:", re.S)
# as xlsxwriter escapes an in-line string (worksheet._write_cell, xmlwriter)
ESCAPED_SEQUENCE = re.compile("(_x[0-9a-fA-F]{4}_)")
CONTROL_CHAR = re.compile(r"([\x00-\x08\x0b-\x1f])")
EDGE_SPACE = re.compile(r"^\s|\s$")
XML_SPECIAL = re.compile('["&<>\n]')
MAX_STRING = 32767  # Excel's longest string: xlsxwriter cuts longer ones
# the kinds of cells _RowXml writes
CELL_TEXT, CELL_NUMBER, CELL_DATE, CELL_FORMULA = range(4)
# a run's columns' kinds (write_run_lines) as cells
CELL_KINDS = {"text": CELL_TEXT, "int": CELL_NUMBER, "money": CELL_NUMBER, "date": CELL_DATE}

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


def _is_plain(value):
    """Whether write() writes ``value`` as a string, in one piece."""
    return (
        type(value) is str
        and len(value) <= MAX_STRING
        and not (value.startswith(("=", "{=")) or (":" in value and NOT_PLAIN.match(value)))
    )


def _escape(text):
    if not XML_SPECIAL.search(text):
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _RowXml:
    """Whole rows of a constant_memory worksheet written as XML at once.

    ``cells`` are (column, kind, value, format[, cached result]) in column order,
    kind CELL_TEXT, CELL_NUMBER, CELL_DATE or CELL_FORMULA: what write_string, write_number,
    write_datetime and write_formula would store, and written as xlsxwriter's
    constant_memory mode writes it (``Worksheet._write_single_row``): in-line
    strings, no spans. A row with a string write() would not keep plain (a
    formula, a link) goes through write() as before.
    """

    def __init__(self, sheet):
        self.sheet = sheet
        self.texts, self.dates, self.styles = {}, {}, {}
        self.columns = [xl_col_to_name(col) for col in range(64)]
        self.fast = (
            sheet.constant_memory
            and sheet.excel_version != 2010
            and sheet.default_row_height == sheet.original_row_height
        )

    def put(self, row, cells):
        ws = self.sheet
        if not self.fast or row in ws.set_rows:
            return self._write_cells(row, cells)
        if row > ws.previous_row:
            ws._write_single_row(row)  # what the API wrote before, then this row's turn
        number = str(row + 1)
        parts = [f'<row r="{number}">']
        texts, styles, columns = self.texts, self.styles, self.columns
        for col, kind, value, fmt, *result in cells:
            style = styles.get(fmt) if fmt is not None else ""
            if style is None:
                style = styles[fmt] = f' s="{fmt._get_xf_index()}"'
            if kind == CELL_TEXT:
                text = texts.get(value) if type(value) is str else False
                if text is None:
                    text = self._text(value)
                if not text:  # not a plain string: write() knows what it is
                    return self._write_cells(row, cells)
                parts.append(f'<c r="{columns[col]}{number}"{style} t="inlineStr">{text}</c>')
            elif kind == CELL_FORMULA:
                formula = _escape(value)
                parts.append(
                    f'<c r="{columns[col]}{number}"{style}><f>{formula}</f><v>{result[0]}</v></c>'
                )
            else:
                value = self._serial(value) if kind == CELL_DATE else value
                parts.append(f'<c r="{columns[col]}{number}"{style}><v>{value:.16G}</v></c>')
        parts.append("</row>")
        ws._check_dimensions(row, cells[0][0])
        ws._check_dimensions(row, cells[-1][0])
        ws.fh.write("".join(parts))

    def _write_cells(self, row, cells):
        ws = self.sheet
        for col, kind, value, fmt, *result in cells:
            if kind == CELL_TEXT:
                ws.write(row, col, value, fmt)
            elif kind == CELL_NUMBER:
                ws.write_number(row, col, value, fmt)
            elif kind == CELL_DATE:
                ws.write_datetime(row, col, _as_datetime(value), fmt)
            else:
                ws.write_formula(row, col, f"={value}", fmt, result[0])

    def _text(self, text):
        """The in-line string's XML of ``text``; "" when write() would not write it
        as a plain string."""
        if len(self.texts) > 50000:
            self.texts.clear()
        if not _is_plain(text):
            self.texts[text] = ""
            return ""
        escaped = ESCAPED_SEQUENCE.sub(r"_x005F\1", text)
        escaped = CONTROL_CHAR.sub(lambda m: f"_x{ord(m.group(1)):04X}_", escaped)
        escaped = escaped.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
        if escaped.startswith("<r>") and escaped.endswith("</r>"):
            xml = f"<is>{escaped}</is>"  # a rich string, as xlsxwriter takes it
        else:
            space = ' xml:space="preserve"' if EDGE_SPACE.search(escaped) else ""
            xml = f"<is><t{space}>{_escape(escaped)}</t></is>"
        self.texts[text] = xml
        return xml

    def _serial(self, day):
        serial = self.dates.get(day)
        if serial is None:
            serial = self.dates[day] = datetime_to_excel_datetime(
                _as_datetime(day), self.sheet.date_1904, self.sheet.remove_timezone
            )
        return serial


class _Sheet:
    def __init__(self, workbook, labels, title):
        self.book = workbook
        self.sheet = workbook.add_worksheet(sheet_name(labels.get("sheet", "Relances")))
        self.rows = _RowXml(self.sheet)
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
        fmt, cells = self.fmt, []
        for col, key in enumerate(COLUMNS):
            value = rec[key]
            if value is None or value == "":
                continue
            if key == DAYS and rec[DEDUCTION]:
                continue  # a credit note or a payment is not late
            if key in (DATE, DUE, LEVEL_DATE):
                cells.append((col, CELL_DATE, value, fmt["date"]))
            elif key in (AMOUNT, RESIDUAL):
                cells.append((col, CELL_NUMBER, float(value), fmt["money"]))
            elif key in (DAYS, LEVEL, NEW_LEVEL):
                cells.append((col, CELL_NUMBER, int(value), fmt["int"]))
            else:
                cells.append((col, CELL_TEXT, value, None))
        kind = self.labels["deduction"] if rec[DEDUCTION] else self.labels["document"]
        cells.append((COL_TYPE, CELL_TEXT, kind, None))
        cells.append((COL_SHOWN, CELL_FORMULA, f"SUBTOTAL(103,B{self.row + 1})", fmt["int"], 1))
        self.rows.put(self.row, cells)
        self.row += 1

    def subtotal(self, label, first, last, values, style="sub"):
        """A SUBTOTAL row over data rows first..last (0-based, inclusive)."""
        fmt = self.fmt[style]
        cells = [(1, CELL_TEXT, label, fmt)]
        for col, value in ((COL_AMOUNT, values[0]), (COL_RESIDUAL, values[1])):
            letter = xl_col_to_name(col)
            formula = f"SUBTOTAL(9,{letter}{first + 1}:{letter}{last + 1})"
            cells.append((col, CELL_FORMULA, formula, self.fmt[style + "_money"], round(value, 2)))
        cells.append((COL_TYPE, CELL_TEXT, self.labels["subtotal"], fmt))
        self.rows.put(self.row, cells)
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

    ``rows`` may be an iterator (read as the sheet is written). ``penalties``,
    when given, is a second sheet: a dict with its ``rows``, its ``columns``
    ((label, kind) as write_run_lines takes them), its ``title``, ``sheet`` name,
    ``total_label`` and ``currency_col``; or a function returning it (or None),
    called once the first sheet is written.
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
    if callable(penalties):
        penalties = penalties()
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
    totals, row_index, kinds = {}, 2, [CELL_KINDS[kind] for _label, kind in columns]
    formats = [fmt.get(kind) for _label, kind in columns]
    for row_index, row in enumerate(rows, start=3):
        cells = [
            (col, kinds[col], value, formats[col])
            for col, value in enumerate(row)
            if not (value is None or value is False or value == "")
        ]
        cells.append((shown_col, CELL_FORMULA, f"SUBTOTAL(103,A{row_index + 1})", fmt["int"], 1))
        out.rows.put(row_index, cells)
        if currency_col is not None and row[currency_col]:
            acc = totals.setdefault(row[currency_col], [0.0] * len(columns))
            for col, (_label, kind) in enumerate(columns):
                if kind == "money" and row[col] not in (None, False, ""):
                    acc[col] += row[col]
    last = max(row_index, 3)
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

"""The control list's rows written as XML at once (``relance_xlsx._RowXml``) give
the very file xlsxwriter's own cell-by-cell writes give."""

import io
import zipfile
from datetime import date
from unittest import mock

from odoo.tests import BaseCase, tagged

from ..report import relance_xlsx

NAMES = [
    "Acme",
    "Brown & Co <Ltd>",
    " leading space",
    "trailing space ",
    "=SUM(A1)",  # write() makes it a formula
    "http://example.com",  # and this a link
    "control\x01char",
    "_x0041_ as such",
    "Électricité Girard",
    "two\nlines",
    'a "quote"',
]


def _rows():
    rows = []
    for group, name in enumerate(NAMES * 3):
        currency = ("EUR", "USD")[group % 2]
        for doc in range(group % 4 + 1):
            deduction = doc == 3
            rows.append(
                (
                    f"C{group:03}" if group % 3 else None,
                    name,
                    "69002" if group % 2 else None,
                    "" if group % 2 else "Marc Demo",
                    f"FAC/2026/{group * 10 + doc:05}",
                    date(2026, 1, 5),
                    date(2026, 1 + doc, 10 + group % 15),
                    40 - doc * 10,
                    -120.5 if deduction else 1000.25 + doc,
                    -120.5 if deduction else 300.1 * (doc + 1),
                    doc % 3 or None,
                    date(2026, 3, 3) if doc % 2 else None,
                    doc % 3 + 1,
                    "" if group % 3 else "compta@example.com",
                    currency,
                    deduction,
                    group,
                )
            )
    return rows


def _penalties():
    rows = [
        [
            f"R{i}" if i % 3 else "",
            NAMES[i % len(NAMES)],
            f"FAC/2026/{i:05}",
            date(2026, 1, 1 + i % 27) if i % 5 else None,
            i if i % 5 else None,
            100.5 + i,
            1.23 * i,
            40.0 if i % 2 else None,
            ("EUR", "USD")[i % 2],
        ]
        for i in range(30)
    ]
    columns = [("Ref", "text"), ("Customer", "text"), ("Document", "text")]
    columns += [("Due", "date"), ("Days", "int"), ("Unpaid", "money"), ("Penalties", "money")]
    columns += [("Indemnity", "money"), ("Currency", "text")]
    return {
        "rows": rows,
        "columns": columns,
        "title": "Pénalités & <indemnités>",
        "sheet": "Pénalités",
        "total_label": "Total",
        "currency_col": 8,
    }


def _parts(data):
    """The file's parts, its properties (the time it was made) aside."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {
        name: archive.read(name) for name in archive.namelist() if not name.startswith("docProps")
    }


@tagged("post_install", "-at_install")
class TestRowXml(BaseCase):
    def _both(self, write):
        fast = write()
        with mock.patch.object(relance_xlsx._RowXml, "put", relance_xlsx._RowXml._write_cells):
            slow = write()
        return _parts(fast), _parts(slow)

    def test_control_list_as_xlsxwriter_writes_it(self):
        for subtotal_due in (False, True):
            fast, slow = self._both(
                lambda due=subtotal_due: relance_xlsx.write_control_list(
                    iter(_rows()), subtotal_due=due, title="Liste & <contrôle>",
                    penalties=lambda: _penalties(),
                )
            )  # fmt: skip
            with self.subTest(subtotal_due=subtotal_due):
                self.assertEqual(fast.keys(), slow.keys())
                for name in slow:
                    self.assertEqual(fast[name], slow[name], name)
                sheet = fast["xl/worksheets/sheet1.xml"].decode()
                self.assertIn("<f>SUM(A1)</f>", sheet)  # the formula-like name, as write() did
                self.assertIn("_x0001_", sheet)

    def test_run_lines_as_xlsxwriter_writes_them(self):
        penalties = _penalties()
        fast, slow = self._both(
            lambda: relance_xlsx.write_run_lines(
                penalties["rows"], penalties["columns"], title="Run", currency_col=8
            )
        )
        self.assertEqual(fast, slow)

"""The bench's measures, run for real on a copy of the test database (its demo ledger).

No test ran the bench, so a method it calls could be renamed in the addon and the
bench break silently, found only at the next long bench session. Here each
relance_atys measure of ``bench/measures.py`` runs once, as ``bench.py`` runs it
in its worker (``measures.measure``: prepared state committed, the timed call,
its counts), on a throw-away copy of the freshly installed demo database that
``bin/dev test`` templates (so the commits of the prepared state stay there).
wkhtmltopdf is not called (a one-page PDF instead, which the letters' check that
their documents are in the PDF is told to accept): the letters' HTML is still
rendered. The measures run as the demo's administrator, in the demo's company.
The peer's measures (OCA's addon is not installed here) and the
background runs of ``bench/jobs.py`` (a multi-worker server) are left out.
"""

import io
import os
import sys
import unittest
from pathlib import Path
from unittest import mock

import db_copy  # pytest puts this folder on the path

import odoo
from odoo.tools import config
from odoo.tools.pdf import PdfFileWriter

BENCH = Path(__file__).resolve().parent.parent / "bench"


def demo_user_env(cr):
    """The accountant's environment as the bench's ``measures.user_env`` makes it,
    in the demo's company (the administrator's)."""
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    admin = env.ref("base.user_admin")
    context = dict(admin.context_get(), allowed_company_ids=admin.company_id.ids)
    return env(user=admin.id, context=context)


@unittest.skipUnless(
    os.environ.get("RELANCE_DB_SOCKET") and os.environ.get("RELANCE_DB_TEMPLATE"),
    "needs the test cluster of bin/dev test",
)
class TestBenchMeasures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, str(BENCH))
        cls.addClassCleanup(sys.path.remove, str(BENCH))
        import ledger  # bench/ is on the path from here on
        import measures

        cls.ledger, cls.measures = ledger, measures
        cls.db = f"relance_bench_{os.getpid()}"
        db_copy.create(cls.db)
        cls.addClassCleanup(cls._drop)
        # loaded as the bench's worker loads it: not as a test run (no at_install tests)
        with mock.patch.dict(config.options, {"test_enable": False}):
            cls.registry = odoo.modules.registry.Registry(cls.db)
        with cls.registry.cursor() as cr:  # the ledger's date, as ledger.seed sets it
            env = measures.user_env(cr)
            env["ir.config_parameter"].set_param(ledger.AS_OF_KEY, str(odoo.fields.Date.today()))

    @classmethod
    def _drop(cls):
        odoo.modules.registry.Registry.delete(cls.db)
        db_copy.drop(cls.db)

    def test_every_measure_of_ours_runs(self):
        """Each measure runs once and reports its time, queries and counts."""
        report = self.registry["ir.actions.report"]  # the model class
        writer = PdfFileWriter()
        writer.add_blank_page(595, 842)
        buffer = io.BytesIO()
        writer.write(buffer)
        pdf = buffer.getvalue()  # a blank page that PyPDF2 reads back
        # the demo's ledger is its administrator's company's, not base.main_company
        self.enterContext(mock.patch.object(self.measures, "user_env", demo_user_env))
        # every measure of relance_atys (the peer's need OCA's addon, not installed here)
        ours = [name for name in self.measures.measures(5) if not name.startswith("peer_")]
        self.assertIn("xlsx", ours)
        letter = self.registry["relance.letter"]
        with (
            mock.patch.object(report, "_run_wkhtmltopdf", return_value=pdf),
            # the one-page PDF lists no document: the letters' check would refuse it
            mock.patch.object(letter, "_check_in_pdf", return_value=None),
        ):
            for name in ours:
                with self.subTest(measure=name):
                    result = self.measures.measure(self.registry, name, 1, 5)
                    self.assertGreater(result["queries"], 0)
                    self.assertTrue(result["counts"])

"""Invoice PDFs for dunning mails: many per wkhtmltopdf call, each cut back to its own pages."""

import io
import re
import subprocess
from unittest import mock

import lxml.html

from odoo import Command
from odoo.tests import tagged
from odoo.tools.pdf import PdfFileReader

from ..models import account_move
from ..report import relance_invoice_pdf
from ..report.relance_letter import wkhtmltopdf_patched
from .common import RelanceCommon, own_registry_lock


def page_texts(pdf):
    """The text of each page of ``pdf``, as poppler's pdftotext reads it."""
    count = len(PdfFileReader(io.BytesIO(pdf), strict=False).pages)
    return [
        subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), "-", "-"],
            input=pdf,
            capture_output=True,
            check=True,
        ).stdout.decode()
        for page in range(1, count + 1)
    ]


def font_names(pdf):
    """The base names of the fonts ``pdf``'s pages use (text drawn as paths uses none)."""
    names = set()
    for page in PdfFileReader(io.BytesIO(pdf), strict=False).pages:
        fonts = (page.get("/Resources") or {}).get("/Font") or {}
        names.update(str(font.getObject().get("/BaseFont")) for font in fonts.getObject().values())
    return names


@tagged("post_install", "-at_install")
class TestInvoicePdf(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")  # one batch, two languages
        cls.martin = cls._customer("Boulangerie Martin", lang="fr_FR")
        cls.brown = cls._customer("Brown & Partners LLP")
        long_invoice = cls._invoice(cls.brown, 10.0, 20, post=False)
        long_invoice.invoice_line_ids = [  # enough lines for two pages or more
            Command.create({"name": f"Article {n}", "quantity": 1, "price_unit": n, "tax_ids": []})
            for n in range(1, 70)
        ]
        long_invoice.action_post()
        cls.invoices = (
            cls._invoice(cls.martin, 480.0, 20)
            | long_invoice
            | cls._invoice(cls.martin, 50.0, 10, move_type="out_refund")
            | cls._invoice(cls.brown, 1250.0, 5)
        )

    def setUp(self):
        super().setUp()
        own_registry_lock(self)  # wkhtmltopdf fetches the invoice report's CSS from Odoo

    def _count_calls(self):
        """A mock that counts the wkhtmltopdf calls and lets them run."""
        report = type(self.env["ir.actions.report"])
        return mock.patch.object(
            report, "_run_wkhtmltopdf", autospec=True, side_effect=report._run_wkhtmltopdf
        )

    def _print(self, moves):
        return moves.with_context(force_report_rendering=True)._relance_invoice_pdfs()

    def _alone(self, move):
        """The invoice printed alone, the way Odoo prints it, in the batch's font on
        Debian's build: there Odoo's Lato (when Odoo's HTTP server serves it, as it
        does under Odoo's runner) is drawn as paths, with no text to compare."""
        report = self.env["ir.actions.report"].with_context(
            force_report_rendering=True, report_pdf_no_attachment=True
        )
        if wkhtmltopdf_patched():
            return report._render_qweb_pdf("account.account_invoices", move.ids)[0]
        run = type(report)._run_wkhtmltopdf
        font = relance_invoice_pdf.with_system_font

        def in_system_font(self, bodies, *args, header=None, footer=None, **kwargs):
            bodies = [font(body) for body in bodies]
            return run(self, bodies, *args, header=font(header), footer=font(footer), **kwargs)

        with mock.patch.object(type(report), "_run_wkhtmltopdf", in_system_font):
            return report._render_qweb_pdf("account.account_invoices", move.ids)[0]

    def test_each_invoice_gets_its_own_pages_from_one_call(self):
        with self._count_calls() as run:
            pdfs = self._print(self.invoices)
        self.assertEqual(run.call_count, 1, "the four invoices in one wkhtmltopdf call")
        names = self.invoices.mapped("name")
        for move in self.invoices:
            attachment = pdfs[move.id]
            self.assertEqual(attachment, move.invoice_pdf_report_id)
            pages = page_texts(attachment.raw)
            self.assertIn(move.name, pages[0], "the invoice starts on its first page")
            for text in pages:
                others = [
                    name
                    for name in names
                    if name != move.name and re.search(rf"(?<!\w){re.escape(name)}\b", text)
                ]
                self.assertFalse(others, f"{move.name}: a page shows {others}")
            alone = page_texts(self._alone(move))
            self.assertIn(move.name, alone[0], "the invoice alone is read as text too")
            self.assertEqual(len(pages), len(alone), f"{move.name}: as many pages as alone")
            # a table row cut by a page break may be read on both pages: words, not counts
            self.assertEqual(
                set(" ".join(pages).split()),
                set(" ".join(alone).split()),
                f"{move.name}: the same words as printed alone",
            )
        self.assertGreaterEqual(len(page_texts(pdfs[self.invoices[1].id].raw)), 2)

    def test_markers_are_taken_off_the_pages(self):
        pdf = self._print(self.invoices[:2])[self.invoices[0].id].raw
        for page in PdfFileReader(io.BytesIO(pdf), strict=False).pages:
            uris = [
                str((annotation.getObject().get("/A") or {}).get("/URI", ""))
                for annotation in (page.get("/Annots") or [])
            ]
            self.assertFalse([uri for uri in uris if relance_invoice_pdf.MARKER_URL in uri])

    def test_printed_pdfs_are_stored_on_the_invoices_and_reused(self):
        self._print(self.invoices)
        for move in self.invoices:
            attachment = move.invoice_pdf_report_id
            self.assertEqual(
                (attachment.res_model, attachment.res_id, attachment.res_field),
                ("account.move", move.id, "invoice_pdf_report_file"),
            )
            self.assertEqual(attachment.name, move._get_invoice_report_filename())
            self.assertTrue(attachment.raw.startswith(b"%PDF"))
        stored = {move.id: move.invoice_pdf_report_id for move in self.invoices}
        self.invoices.invalidate_recordset()
        with self._count_calls() as run:
            again = self._print(self.invoices)
        self.assertEqual(run.call_count, 0, "a second dunning prints nothing")
        self.assertEqual(again, stored)

    def test_batches_of_print_batch_invoices(self):
        with self._count_calls() as run, mock.patch.object(account_move, "PRINT_BATCH", 3):
            pdfs = self._print(self.invoices)
        self.assertEqual(run.call_count, 2, "4 invoices in calls of 3: two calls")
        self.assertEqual(set(pdfs), set(self.invoices.ids))
        for move in self.invoices:
            self.assertIn(move.name, page_texts(pdfs[move.id].raw)[0])

    def test_pdf_not_cut_right_falls_back_to_one_call_each(self):
        with (
            self._count_calls() as run,
            mock.patch.object(relance_invoice_pdf, "split_marked", return_value=None),
        ):
            pdfs = self._print(self.invoices[:2])
        self.assertEqual(run.call_count, 3, "the batch, then each invoice on its own")
        for move in self.invoices[:2]:
            self.assertIn(move.name, page_texts(pdfs[move.id].raw)[0])

    def test_split_refuses_markers_out_of_order(self):
        bodies = [
            relance_invoice_pdf.mark_articles(
                f'<html><body><div class="article" data-oe-model="account.move" '
                f'data-oe-id="{res_id}">document {res_id}</div></body></html>',
                "account.move",
            ).decode()
            for res_id in (7, 9)
        ]
        report = self.env["ir.actions.report"]
        pdf = report._run_wkhtmltopdf([relance_invoice_pdf.one_body(bodies)])
        pdfs = relance_invoice_pdf.split_marked(pdf, [7, 9])
        texts = [[text.strip() for text in page_texts(pdfs[res_id])] for res_id in (7, 9)]
        self.assertEqual(texts, [["document 7"], ["document 9"]])
        self.assertIsNone(relance_invoice_pdf.split_marked(pdf, [9, 7]))
        self.assertIsNone(relance_invoice_pdf.split_marked(pdf, [7]))

    def test_batch_text_in_a_system_font_on_debians_build(self):
        """Debian's wkhtmltopdf draws the web font's text as paths, glyph by glyph
        (slow, heavy, not searchable): the batch is set in a system font, as text."""
        if wkhtmltopdf_patched():
            self.skipTest("a patched Qt build writes web fonts as fonts")
        with self._count_calls() as run:
            pdfs = self._print(self.invoices[:2])
        report, (body,) = run.call_args.args[:2]
        self.assertIn(relance_invoice_pdf.SYSTEM_FONT_CSS, body, "the font handed to wkhtmltopdf")
        self.assertEqual(
            report.env.context.get("relance_javascript_delay"), account_move.PRINT_DELAY
        )
        for move in self.invoices[:2]:
            fonts = font_names(pdfs[move.id].raw)
            self.assertTrue(fonts, f"{move.name}: its text is written as text")
            self.assertTrue(
                all("Liberation" in font or "DejaVu" in font for font in fonts),
                f"{move.name}: system fonts only, not {fonts}",
            )
            self.assertIn("Total", page_texts(pdfs[move.id].raw)[-1])

    def test_system_font_style_comes_after_the_reports_stylesheets(self):
        html = (
            '<!DOCTYPE html><html><head><link rel="stylesheet" href="/web/assets/report.css"/>'
            '</head><body><div class="article o_company_1_layout">x</div></body></html>'
        )
        head = lxml.html.document_fromstring(relance_invoice_pdf.with_system_font(html)).head
        self.assertEqual([node.tag for node in head], ["link", "style"])
        self.assertIn("Liberation Sans", head[-1].text)
        self.assertIn("!important", head[-1].text)
        self.assertEqual(relance_invoice_pdf.with_system_font(""), "")

    def test_javascript_delay_shortened_only_when_asked(self):
        report = self.env["ir.actions.report"]
        paper = self.env.ref("base.paperformat_euro")

        def delay(args):
            return args[args.index("--javascript-delay") + 1]

        self.env["ir.config_parameter"].sudo().set_param("report.print_delay", "1000")
        self.assertEqual(delay(report._build_wkhtmltopdf_args(paper, False)), "1000")
        shortened = report.with_context(relance_javascript_delay=100)
        self.assertEqual(delay(shortened._build_wkhtmltopdf_args(paper, False)), "100")

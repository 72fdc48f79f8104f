"""The dunning letters: each customer's letter rendered on its own, all in one PDF.

The one letter path, for a review's draft and definitive letters and for a
background run's batches: the letters are built from document lines (a review's
or a run's) with plain arguments, never from a wizard. Also: the scale of the
letters on the installed wkhtmltopdf build, and what their PDF shows.
"""

import functools
import io
import shutil
import subprocess

from markupsafe import Markup
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from odoo import api, models
from odoo.exceptions import UserError
from odoo.tools import format_date
from odoo.tools.pdf import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfFileReader,
    PdfFileWriter,
)

from ..text import reminded_text, reminders_sent, without_invisible
from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

# Measured: Debian's wkhtmltopdf (unpatched Qt) prints CSS lengths at 0.768 of
# their size, whatever --dpi, --zoom or --disable-smart-shrinking say; a CSS
# zoom of 1/0.768 puts the address exactly in the envelope window. A build with
# patched Qt prints them at their size.
UNPATCHED_QT_ZOOM = 1.302
DEFAULT_TEMPLATE = "relance_atys.letter_document"
LETTER_PAPERFORMAT = "relance_atys.paperformat_relance_letter"
PAGE_BREAK = '<div style="page-break-after: always;"></div>'


@functools.cache
def wkhtmltopdf_version():
    """What ``wkhtmltopdf --version`` says, or '' when it cannot run."""
    try:
        return subprocess.run(
            [_get_wkhtmltopdf_bin(), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def wkhtmltopdf_patched():
    """Whether the build has patched Qt: several documents per call, headers, footers."""
    return "patched qt" in wkhtmltopdf_version()


def letter_zoom():
    """The CSS zoom that makes 1 mm in a letter 1 mm on paper."""
    if not wkhtmltopdf_version() or wkhtmltopdf_patched():
        return 1.0
    return UNPATCHED_QT_ZOOM


@functools.lru_cache(maxsize=2)
def pdf_text(pdf):
    """The text of ``pdf``, a form feed after each page: poppler's pdftotext when
    installed, else PyPDF2. The last PDFs read are remembered: the check that
    every letter is in the PDF and the page numbers read the same text."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext:
        return subprocess.run(
            [pdftotext, "-q", "-", "-"], input=pdf, capture_output=True, timeout=600, check=False
        ).stdout.decode(errors="replace")
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return "".join((page.extract_text() or "") + "\f" for page in reader.pages)


def pdf_words(pdf):
    """The words of ``pdf``."""
    return pdf_text(pdf).split()


def missing_from_pdf(pdf, letters):
    """The keys of ``letters`` ({key: the words a letter must show}) whose words
    are not all in ``pdf``.

    A word is looked up among the PDF's words, then, should a narrow column have
    broken it, in the PDF's text without spaces.
    """
    words = pdf_words(pdf)
    known = set(words)
    joined = None
    missing = []
    for key, needed in letters.items():
        for word in needed:
            if word in known:
                continue
            joined = joined if joined is not None else "".join(words)
            if "".join(word.split()) not in joined:
                missing.append(key)
                break
    return missing


class Letter:
    """One customer's letter as the letter templates read it (``pline``): its
    customer, company and date, and the document lines it lists (a review's
    ticked lines or a run's lines: the same fields)."""

    def __init__(self, company, date, partner, lines, levels=None):
        self.env = lines.env
        self.company_id = company
        self.date = date
        self.partner_id = partner
        self.line_ids = lines
        self._levels = levels  # {number: level} of the company, shared by its letters

    def _mail_partner(self):
        """The invoicing contact of the customer, else the customer itself."""
        return self.env["relance.mailer"]._mail_partner(self.partner_id)

    def _documents(self):
        return self.line_ids.filtered(lambda line: not line.is_deduction)

    def _letter_sections(self, subtotal_due):
        """Per currency: documents (with optional subtotals per due date), deductions, total."""
        # by due date, then document
        lines = self.line_ids.sorted(lambda line: (line.due_date, line.move_id.id))
        return [
            {
                "currency": currency,
                "rows": _rows_with_subtotals(
                    [line for line in lines if not line.is_deduction], subtotal_due
                ),
                "deductions": [line for line in lines if line.is_deduction],
                "total": currency.round(sum(line.residual for line in lines)),
            }
            for currency, lines in sorted(
                lines.grouped("currency_id").items(), key=lambda kv: kv[0].name
            )
        ]

    def _letter_broken_promise(self):
        """A sentence on the payment promise the customer did not keep since its last
        dunning, in the letter's language, or ''."""
        promises = self.env["relance.promise"].with_context(lang=self._letter_lang())
        return promises._broken_sentence(self.company_id, self.partner_id, self.date)

    def _letter_lang(self):
        """The customer's language when it is installed, else the company's: the
        words and the dates of a letter are always in one language."""
        installed = {code for code, _name in self.env["res.lang"].get_installed()}
        for lang in (self.partner_id.lang, self.company_id.partner_id.lang, self.env.user.lang):
            if lang in installed:
                return lang
        return next(iter(sorted(installed)), "en_US")

    def _letter_level(self):
        """The level whose texts the letter carries (the highest proposed), in its language."""
        number = max(self._documents().mapped("level_after"), default=0)
        if self._levels is None:
            levels = self.env["relance.level"].search([("company_id", "=", self.company_id.id)])
            self._levels = {level.number: level for level in levels}
        level = self._levels.get(number, self.env["relance.level"])
        return level.with_context(lang=self._letter_lang())

    def _letter_history(self):
        """The sentence saying which of the letter's documents were reminded before."""
        lines = self.line_ids.with_context(lang=self._letter_lang())
        return reminded_text(lines, self._letter_reminders())

    def _letter_reminders(self):
        """{line id: date of its document's last reminder sent} (text.reminders_sent),
        read once."""
        if not hasattr(self, "_reminders"):
            self._reminders = reminders_sent(self.line_ids)
        return self._reminders

    def _letter_address(self, partner):
        """Postal lines of ``partner``; the country only when it is not the company's."""
        lines = [
            partner.street,
            partner.street2,
            " ".join(filter(None, [partner.zip, partner.city])),
            partner.country_id.name if partner.country_id != self.company_id.country_id else False,
        ]
        return [line for line in lines if line]

    def _letter_subject(self):
        names = self._documents().move_id.mapped("name")
        return self._letter_level()._subject(self.partner_id, names, self.date)

    def _letter_place_date(self):
        """'Paris, le 31 mars 2026' in the customer's language."""
        lang = self._letter_lang()
        env = self.env(context=dict(self.env.context, lang=lang))
        day = format_date(env, self.date, lang_code=lang, date_format="long")
        if not self.company_id.city:
            return day
        return env._("%(city)s, %(date)s", city=self.company_id.city, date=day)


def _rows_with_subtotals(docs, subtotal_due):
    rows = []
    for index, line in enumerate(docs):
        rows.append(("line", line))
        last_of_date = index + 1 == len(docs) or docs[index + 1].due_date != line.due_date
        if subtotal_due and last_of_date:
            same = [d.residual for d in docs if d.due_date == line.due_date]
            rows.append(("subtotal", (line.due_date, sum(same))))
    return rows


class RelanceLetter(models.AbstractModel):
    _name = "relance.letter"
    _description = "Dunning letters"

    @api.model
    def _relance_letter_templates(self):
        """Keys of the QWeb templates that print a dunning letter: the only ones
        offered and printed. A module adds its own by extending this method."""
        return [DEFAULT_TEMPLATE]

    @api.model
    def _letter_templates(self):
        """[(key, name)] of the letter templates, the standard one named in the
        user's language (a view's name is not translated)."""
        keys = self._relance_letter_templates()
        views = (
            self.env["ir.ui.view"]
            .sudo()
            .search([("type", "=", "qweb"), ("key", "in", keys)])
            .sorted(lambda view: keys.index(view.key))
        )
        names = {DEFAULT_TEMPLATE: self.env._("Standard letter")}
        return [(view.key, names.get(view.key, view.name)) for view in views]

    def _check_template(self, key):
        if key not in dict(self._letter_templates()):
            raise UserError(self.env._("%s is not a dunning letter template.", key))

    @api.model
    def _letters(self, company, date, lines):
        """One letter per customer of ``lines`` (document lines), in their order."""
        levels = self.env["relance.level"].search([("company_id", "=", company.id)])
        levels = {level.number: level for level in levels}
        return [
            Letter(company, date, partner, partner_lines, levels)
            for partner, partner_lines in lines.grouped("partner_id").items()
        ]

    @api.model
    def _render(self, letters, options, definitive):
        """One PDF of ``letters``, in one wkhtmltopdf call.

        Each letter is rendered on its own first, so that one that fails (a broken
        custom template, say) is left out, with its error, instead of stopping the
        others. ``options`` carry the ``template`` and ``subtotal_due``. Returns
        the PDF and {customer: error}.
        """
        html, failures = self._html(letters, options, definitive)
        if not html:
            raise UserError(self._failures_message(failures))
        report = self.env["ir.actions.report"].new(
            {"paperformat_id": self.env.ref(LETTER_PAPERFORMAT).id}
        )
        page = report._render_template(
            "relance_atys.letters_standalone",
            {"letters": Markup(PAGE_BREAK.join(html)), "zoom": letter_zoom()},
        )
        pdf = report._run_wkhtmltopdf([page.decode()])
        if not pdf or not pdf.startswith(b"%PDF") or b"/Type /Page" not in pdf:
            raise UserError(
                self.env._("The letters could not be produced (empty PDF): nothing recorded.")
            )
        printed = [letter for letter in letters if letter.partner_id not in failures]
        self._check_in_pdf(pdf, printed, options)
        counts = letter_page_counts(pdf)  # the same text as the check's, read once
        pdf = number_letter_pages(pdf, counts)
        if options.get("invoices"):
            pdf = self._with_invoices(pdf, counts, printed, options)
        return pdf, failures

    def _with_invoices(self, pdf, counts, letters, options):
        """``pdf`` (of ``letters``, whose parts have ``counts`` pages) with the PDF of
        each invoice a letter lists right after the letter (and its statement):
        each invoice's own PDF, printed and stored on it first if it has none, as
        the dunning mails attach them."""
        per_letter = 2 if options.get("statement") else 1
        if len(counts) != per_letter * len(letters):
            raise UserError(
                self.env._(
                    "The invoices cannot be put after each letter: the letter template "
                    "does not mark where each letter starts. Print them without the invoices."
                )
            )
        moves = self.env["account.move"].union(*(letter._documents().move_id for letter in letters))
        attachments = moves._relance_invoice_pdfs()
        extras = []
        for letter in letters:
            extras += [[]] * (per_letter - 1)
            documents = letter._documents().move_id
            extras.append([attachments[m.id].raw for m in documents if m.id in attachments])
        return insert_after_parts(pdf, counts, extras)

    @api.model
    def _html(self, letters, options, definitive):
        """The HTML of each letter that renders, and {customer: error} of the others."""
        template = options.get("template") or DEFAULT_TEMPLATE
        self._check_template(template)
        report = self.env["ir.actions.report"]
        penalties = self.env["relance.penalty"]._for_letters(letters)
        statements = options.get("statement") and self._statement_rows(letters)
        html, failures = [], {}
        for letter in letters:
            values = {
                "pline": letter,
                "sections": letter._letter_sections(options.get("subtotal_due")),
                "draft": not definitive,
                "penalties": penalties,
            }
            try:
                with self.env.cr.savepoint():
                    page = report.with_context(
                        lang=letter._letter_lang(), relance_letters=True
                    )._render_template(template, values)
            except Exception as error:  # any template error: kept, per letter
                failures[letter.partner_id] = str(error).strip() or type(error).__name__
                continue
            page = without_invisible(page.decode())
            if statements:
                page += PAGE_BREAK + self._statement_html(letter, statements)
            html.append(page)
        return html, failures

    def _statement_rows(self, letters):
        """{customer id: open items} of the customers of ``letters``, read at once."""
        if not letters:
            return {}
        partners = self.env["res.partner"].union(*(letter.partner_id for letter in letters))
        return self.env["relance.statement"]._rows(letters[0].company_id, partners)

    def _statement_html(self, letter, rows):
        """The statement of account of ``letter``'s customer at the letter's date
        (``rows``: the open items of the letters' customers)."""
        partner = letter.partner_id.commercial_partner_id
        statement = self.env["relance.statement"]._html(
            letter.company_id, partner, letter.date, rows[partner.id]
        )
        return without_invisible(str(statement))

    def _check_in_pdf(self, pdf, letters, options):
        """Refuse a PDF that lacks a customer's letter: each letter lists the
        documents it duns, so their numbers must all be in the PDF's text."""
        missing = missing_from_pdf(
            pdf, {letter: letter._documents().move_id.mapped("name") for letter in letters}
        )
        if missing:
            template = options.get("template") or DEFAULT_TEMPLATE
            raise UserError(
                self.env._(
                    "The PDF does not show the letters of %(partners)s (their documents are "
                    "not in it): nothing recorded. Check the letter template '%(template)s'.",
                    partners=", ".join(letter.partner_id.display_name for letter in missing),
                    template=dict(self._letter_templates()).get(template, template),
                )
            )

    def _failures_message(self, failures):
        lines = [f"{partner.display_name}: {error}" for partner, error in failures.items()]
        return self.env._("These letters could not be produced:\n%s", "\n".join(lines))

    @api.model
    def _print_review_draft(self, company, options, edition):
        """Use case: the draft letters of the customers the review ``edition``
        ticked, their ticked documents (``_print_draft``)."""
        nothing = self.env._("No customer is ticked: nothing to print.")
        lines = self.env["relance.service"]._review_ticked_lines(edition, nothing)
        return self._print_draft(company, options, lines)

    def _print_draft(self, company, options, lines):
        """Use case: the draft letters of ``lines`` (document lines): (the PDF,
        marked BROUILLON / DRAFT, its file name); nothing recorded, no letter left out."""
        pdf, failures = self._render(
            self._letters(company, options["date"], lines), options, definitive=False
        )
        if failures:
            raise UserError(self._failures_message(failures))
        name = self.env["relance.service"]._file_name(
            company, options, self.env._("draft_letters"), "pdf"
        )
        return pdf, name


# Printed, white and tiny, at the top of each letter: where each one starts in
# the PDF of a run, for page numbers (Debian's wkhtmltopdf prints no footer).
LETTER_START = "relance-letter-start"


def letter_page_counts(pdf):
    """The number of pages of each letter of ``pdf``, in order (the pages whose
    text has LETTER_START begin a letter)."""
    pages = pdf_text(pdf).split("\f")
    if pages and not pages[-1].strip():
        pages.pop()  # each page ends with a form feed
    if not pages or LETTER_START not in pages[0]:
        return [1] * len(pages)  # a template without the mark: pages left alone
    counts = []
    for page in pages:
        if LETTER_START in page:
            counts.append(1)
        else:
            counts[-1] += 1
    return counts


def insert_after_parts(pdf, counts, extras):
    """``pdf``, whose parts have ``counts`` pages, with the pages of the PDFs of
    ``extras[i]`` after its part i (pages copied as they are, none parsed)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    writer = PdfFileWriter()
    index = 0
    for count, others in zip(counts, extras, strict=True):
        for number in range(index, index + count):
            writer.addPage(reader.getPage(number))
        index += count
        for other in others:
            for page in PdfFileReader(io.BytesIO(other), strict=False).pages:
                writer.addPage(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def split_parts(pdf, counts):
    """The PDFs of the parts of ``pdf`` whose pages ``counts`` gives, in order."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    parts, index = [], 0
    for count in counts:
        writer = PdfFileWriter()
        for number in range(index, index + count):
            writer.addPage(reader.getPage(number))
        index += count
        out = io.BytesIO()
        writer.write(out)
        parts.append(out.getvalue())
    return parts


def number_letter_pages(pdf, counts=None):
    """``pdf`` with "Page x / y" at the foot of every page of its letters longer
    than one page (the others are left as they are); ``counts``: its letters'
    page counts, when already read.

    The number is a small content stream added after each page's own, which is
    wrapped in q/Q so that whatever state it leaves does not move the number:
    nothing of the page is parsed. The stamped pages are appended to the PDF as
    an incremental update (PDF 1.7, 7.5.6): the file is not rewritten (PyPDF2's
    writer hashes every object of it: a minute for a thousand letters)."""
    counts = counts or letter_page_counts(pdf)
    if all(count == 1 for count in counts):
        return pdf
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    if not _classic_xref(pdf):
        return _number_by_rewriting(reader, counts)
    update = _Update(pdf, reader)
    save = update.add(_stream_bytes(b"q\n"))
    font = update.add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    index = 0
    for count in counts:
        for number in range(1, count + 1):
            if count > 1:
                page = reader.pages[index]
                stamp = update.add(_stream_bytes(_stamp_ops(page, f"Page {number} / {count}")))
                update.replace(page.indirect_reference, _stamped_page(page, save, stamp, font))
            index += 1
    return update.bytes()


def _classic_xref(pdf):
    """Whether ``pdf`` ends with a classic cross-reference table (wkhtmltopdf's)."""
    tail = pdf[-1024:]
    offset = tail.rfind(b"startxref")
    if offset < 0:
        return False
    start = int(tail[offset + 9 :].split()[0])
    return pdf[start : start + 4] == b"xref"


def _stream_bytes(data):
    return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)


def _stamp_ops(page, text):
    """Restore the state the page's content left, then ``text`` at its foot,
    right-aligned 15 mm from the edge."""
    width = float(page.mediabox.width)
    x = width - 15 * mm - stringWidth(text, "Helvetica", 8)
    return f"Q\nq BT /RLPageNo 8 Tf 0.33 g {x:.2f} {8 * mm:.2f} Td ({text}) Tj ET Q".encode()


def _stamped_page(page, save, stamp, font):
    """A copy of ``page``'s dictionary drawing ``save``, its own content, then
    ``stamp``, with the font ``font`` (references) among its resources."""
    page = DictionaryObject(page)
    contents = page.get("/Contents")
    own = contents.get_object() if contents is not None else None
    own = list(own) if isinstance(own, ArrayObject) else [page.raw_get("/Contents")]
    page[NameObject("/Contents")] = ArrayObject([save, *own, stamp])
    resources = page["/Resources"].get_object() if "/Resources" in page else {}
    resources = DictionaryObject(resources)
    fonts = resources.get("/Font")
    fonts = DictionaryObject(fonts.get_object() if fonts is not None else {})
    fonts[NameObject("/RLPageNo")] = font
    resources[NameObject("/Font")] = fonts
    page[NameObject("/Resources")] = resources
    return page


class _Update:
    """An incremental update of a PDF: objects added or replaced, a new xref
    section and trailer appended after the original bytes."""

    def __init__(self, pdf, reader):
        self.pdf, self.reader = pdf, reader
        self.next_number = int(reader.trailer["/Size"])
        self.objects = {}  # number: (generation, bytes)

    def add(self, body):
        number = self.next_number
        self.next_number += 1
        self.objects[number] = (0, body)
        return IndirectObject(number, 0, self.reader)

    def replace(self, reference, obj):
        out = io.BytesIO()
        obj.write_to_stream(out, None)
        self.objects[reference.idnum] = (reference.generation, out.getvalue())

    def bytes(self):
        out = io.BytesIO()
        out.write(self.pdf if self.pdf.endswith(b"\n") else self.pdf + b"\n")
        offsets = {}
        for number, (generation, body) in sorted(self.objects.items()):
            offsets[number] = out.tell()
            out.write(b"%d %d obj\n%s\nendobj\n" % (number, generation, body))
        xref = out.tell()
        out.write(b"xref\n")
        for number, offset in sorted(offsets.items()):
            generation = self.objects[number][0]
            out.write(b"%d 1\n%010d %05d n\r\n" % (number, offset, generation))
        out.write(b"trailer\n")
        self._trailer().write_to_stream(out, None)
        out.write(b"\nstartxref\n%d\n%%%%EOF\n" % xref)
        return out.getvalue()

    def _trailer(self):
        previous = self.pdf[self.pdf.rfind(b"startxref") + 9 :].split()[0]
        trailer = DictionaryObject(
            {
                NameObject("/Size"): NumberObject(self.next_number),
                NameObject("/Prev"): NumberObject(int(previous)),
            }
        )
        for key in ("/Root", "/Info", "/ID"):
            if key in self.reader.trailer:
                trailer[NameObject(key)] = self.reader.trailer.raw_get(key)
        return trailer


def _number_by_rewriting(reader, counts):
    """number_letter_pages for a PDF whose xref is a stream: the file rewritten."""
    writer = PdfFileWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    save = writer._add_object(_stream(b"q\n"))
    index = 0
    for count in counts:
        for number in range(1, count + 1):
            page = reader.getPage(index)
            if count > 1:
                _stamp(writer, page, font, save, f"Page {number} / {count}")
            writer.addPage(page)
            index += 1
    for rest in range(index, reader.getNumPages()):
        writer.addPage(reader.getPage(rest))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _stream(data):
    stream = DecodedStreamObject()
    stream.set_data(data)
    return stream


def _stamp(writer, page, font, save, text):
    """Add ``text`` at the foot of ``page``, right-aligned 15 mm from the edge."""
    width = float(page.mediabox.width)
    x = width - 15 * mm - stringWidth(text, "Helvetica", 8)
    restore = _stream(
        f"\nQ\nq BT /RLPageNo 8 Tf 0.33 g {x:.2f} {8 * mm:.2f} Td ({text}) Tj ET Q\n".encode()
    )
    contents = page.get("/Contents")
    contents = contents.get_object() if contents is not None else None
    own = list(contents) if isinstance(contents, ArrayObject) else [page.raw_get("/Contents")]
    page[NameObject("/Contents")] = ArrayObject([save, *own, writer._add_object(restore)])
    resources = page["/Resources"].get_object() if "/Resources" in page else DictionaryObject()
    fonts = resources.get("/Font")
    fonts = fonts.get_object() if fonts is not None else DictionaryObject()
    fonts[NameObject("/RLPageNo")] = font
    resources[NameObject("/Font")] = fonts
    page[NameObject("/Resources")] = resources

"""Invoice PDFs printed many per wkhtmltopdf call, then cut back into one PDF each.

Odoo prints each invoice of a multi-record call as its own document and cuts the
PDF at the outline of each one's heading. Debian's wkhtmltopdf (unpatched Qt)
makes neither: several documents in one call give an empty PDF, and it writes no
outline. So each invoice's article starts with an invisible link to a marker
address (a link annotation on the page where the invoice starts, with no text on
the page), the articles go into one document, a page break before each, and the
PDF is cut at the pages that carry a marker; the markers are taken off the pages.

Debian's build also draws the text of a web font (the report's Lato, loaded by
``@font-face``) as vector paths, glyph by glyph: 50 invoices take 12 s and weigh
megabytes, their text not even searchable. Text in a font the system has
(fontconfig's) is written as text with the font embedded, in a tenth of the
time. So on that build the batch's pages use the system's Liberation Sans
(Arial's metrics, within 2 % of Lato's widths), else DejaVu Sans.
"""

import io
import re

import lxml.html

from odoo.tools.pdf import ArrayObject, NameObject, PdfFileReader, PdfFileWriter

MARKER_URL = "https://relance-atys.invalid/invoice/"
MARKER_RE = re.compile(re.escape(MARKER_URL) + r"(\d+)$")
ARTICLE_XPATH = "//div[contains(concat(' ', normalize-space(@class), ' '), ' article ')]"


def mark_articles(html, model):
    """``html`` (a report of ``model``) with a marker at the start of each record's article."""
    root = lxml.html.fromstring(html, parser=lxml.html.HTMLParser(encoding="utf-8"))
    for article in root.xpath(ARTICLE_XPATH):
        _mark(article, model)
    return lxml.html.tostring(root, encoding="utf-8", doctype="<!DOCTYPE html>")


def _mark(article, model):
    if article.get("data-oe-model") == model and article.get("data-oe-id"):
        marker = lxml.html.Element(
            "a",
            href=f"{MARKER_URL}{int(article.get('data-oe-id'))}",
            style="display: block; position: absolute; width: 1px; height: 1px;",
        )
        article.insert(0, marker)


def articles(html, model, marked=False):
    """(content, paperformat arguments, language) of ``html``, a report of ``model``:
    its articles one after the other, each after the first on a new page (as
    ``one_body`` joins Odoo's bodies), each marked if ``marked``; the ``data-report-*``
    arguments of its root, as Odoo's ``_prepare_html`` reads them; the language of
    its first article. One parse of the report, not one per article."""
    root = lxml.html.fromstring(html, parser=lxml.html.HTMLParser(encoding="utf-8"))
    nodes = root.xpath(ARTICLE_XPATH)
    for number, article in enumerate(nodes):
        if marked:
            _mark(article, model)
        if number:
            article.set("style", f"page-break-before: always; {article.get('style') or ''}")
    content = "".join(lxml.html.tostring(node, encoding="unicode") for node in nodes)
    paper = {key: value for key, value in root.items() if key.startswith("data-report-")}
    return content, paper, nodes[0].get("data-oe-lang") if nodes else None


# what the company's report layout and the body set in Lato
SYSTEM_FONT_CSS = (
    'body, [class*="o_company_"], [class*="o_report_layout"] '
    '{ font-family: "Liberation Sans", Arial, "DejaVu Sans", sans-serif !important; }'
)


def with_system_font(html):
    """``html`` (a report page) whose text is set in a font the system has."""
    if not html:
        return html
    root = lxml.html.document_fromstring(html)
    style = lxml.html.Element("style")
    style.text = SYSTEM_FONT_CSS
    root.head.append(style)  # after the report's stylesheets: it overrides them
    return lxml.html.tostring(root, encoding="unicode", doctype="<!DOCTYPE html>")


def one_body(bodies):
    """The page of ``bodies[0]`` holding the content of every body, each on a new page."""
    root = lxml.html.document_fromstring(str(bodies[0]))
    body = root.body
    for other in bodies[1:]:
        content = lxml.html.document_fromstring(str(other)).body
        for node in content:
            if node.get("class") and "article" in node.get("class").split():
                node.set("style", f"page-break-before: always; {node.get('style') or ''}")
            body.append(node)
    return lxml.html.tostring(root, encoding="unicode", doctype="<!DOCTYPE html>")


def _marker(annotation):
    action = annotation.getObject().get("/A") or {}
    match = MARKER_RE.match(str(action.get("/URI", "")))
    return int(match.group(1)) if match else None


def split_marked(pdf, res_ids):
    """{res id: PDF of its pages} from the marked ``pdf`` of ``res_ids``, in that order.

    None when the markers do not name ``res_ids`` in that order, once each, the
    first on the first page: the caller then prints them one by one.
    """
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    starts = []
    for number, page in enumerate(reader.pages):
        annotations = page.get("/Annots")
        annotations = annotations.getObject() if annotations else []
        markers = [res_id for res_id in map(_marker, annotations) if res_id]
        starts.extend((res_id, number) for res_id in markers)
        if markers:
            kept = [annotation for annotation in annotations if not _marker(annotation)]
            page[NameObject("/Annots")] = ArrayObject(kept)
    if not starts or [res_id for res_id, _page in starts] != list(res_ids) or starts[0][1]:
        return None
    bounds = [page for _res_id, page in starts] + [len(reader.pages)]
    if any(first >= after for first, after in zip(bounds, bounds[1:], strict=False)):
        return None
    return {
        res_id: _pages(reader, first, after)
        for (res_id, first), after in zip(starts, bounds[1:], strict=False)
    }


def _pages(reader, first, after):
    writer = PdfFileWriter()
    for number in range(first, after):
        writer.addPage(reader.getPage(number))
    stream = io.BytesIO()
    writer.write(stream)
    return stream.getvalue()

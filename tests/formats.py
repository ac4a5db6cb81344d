"""Word, HTML and EPUB files for the tests, with known text: written by python-docx, by hand and by EbookLib."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

# A web page as sites write them: head, banner, menus, cookie notice, sidebar and footer around one article.
ARTICLE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>The Danube &ndash; Rivers of Europe</title>
<style>body { font-family: serif } .hidden { display: none }</style>
<script>window.dataLayer = []; document.write("<p>tracking</p>");</script>
</head>
<body>
<a class="skip-link" href="#content">Skip to content</a>
<header class="site-header"><a href="/">Rivers of Europe</a>
  <nav><ul><li><a href="/">Home</a></li><li><a href="/rivers">Rivers</a></li></ul></nav>
  <form action="/search"><input name="q"><button>Search</button></form>
</header>
<div id="cookie-consent" role="dialog">We use cookies to improve your experience. <button>Accept all</button></div>
<main id="content">
<article>
<header><h1>The Danube</h1><p class="byline">By Ana Vidal, 3 May 2024</p></header>
<p>The Danube is Europe&#8217;s second-longest river,
   flowing 2,850&nbsp;km from the Black Forest
   to the Black Sea.</p>
<h2>Course</h2>
<p>It passes through four capitals: Vienna, Bratislava, Budapest and Belgrade.<sup>1</sup></p>
<ul><li>Upper Danube</li><li>Middle <em>Danube</em></li><li>Lower Danube</li></ul>
<table><caption>Bridges</caption>
<thead><tr><th>City</th><th>Bridge</th></tr></thead>
<tbody><tr><td>Budapest</td><td>Chain Bridge</td></tr><tr><td>Novi Sad</td><td><p>Liberty</p><p>Bridge</p></td></tr></tbody>
</table>
<pre>km 0    Donaueschingen
km 2850 Sulina</pre>
<p>Address:<br>Danube Commission<br>Budapest</p>
<div hidden>Hidden editor note.</div><p style="display: none">Invisible text.</p>
<aside class="pullquote">Related: the Rhine</aside>
<footer><p>Filed under Geography.</p></footer>
</article>
<div class="share"><a href="#">Share on social media</a></div>
</main>
<aside id="sidebar"><h3>Popular</h3><ul><li>The Rhine</li><li>The Volga</li></ul></aside>
<footer class="site-footer"><p>&copy; 2024 Rivers of Europe. All rights reserved.</p></footer>
<noscript>Enable JavaScript.</noscript>
</body></html>
"""

ARTICLE_TEXT = (
    "The Danube\n\nBy Ana Vidal, 3 May 2024\n\n"
    "The Danube is Europe\u2019s second-longest river, flowing 2,850 km from the Black Forest to the Black Sea.\n\n"
    "Course\n\nIt passes through four capitals: Vienna, Bratislava, Budapest and Belgrade.1\n\n"
    "Upper Danube\n\nMiddle Danube\n\nLower Danube\n\n"
    "Bridges\n\nCity | Bridge\n\nBudapest | Chain Bridge\n\nNovi Sad | Liberty Bridge\n\n"
    "km 0 Donaueschingen\n\nkm 2850 Sulina\n\n"
    "Address: Danube Commission Budapest\n\nFiled under Geography."
)

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def write_docx(path: Path, *, footnotes: list[str] | None = None) -> Path:
    """A Word document with a header, footer, comment, headings, a list, a table between paragraphs,
    a tracked insertion, a text box (with Word's legacy copy of it) and, optionally, footnotes."""
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = "CONFIDENTIAL running header"
    section.footer.paragraphs[0].text = "Page footer text"
    document.add_heading("Harbor Railway", level=1)
    intro = document.add_paragraph("The Northport Harbor Railway opened in 1887. ")
    intro.add_run("It carried coal").bold = True
    intro.add_run(" and timber\tto the docks.")
    document.add_comment(intro.runs[0], text="Check this date", author="Reviewer")
    document.add_heading("Stations", level=2)
    for name in ("Quay Street", "Mill Lane", "North Pier"):
        document.add_paragraph(name, style="List Bullet")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([("Station", "Opened", "Closed"), ("Quay Street", "1887", "1961"), ("Mill Lane", "1890", "")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(2, 2).add_paragraph("still open")
    document.add_paragraph("The line closed in 1961, after the docks were rebuilt.")
    tracked = document.add_paragraph("Trains ran ")
    tracked._p.append(parse_xml(f'<w:ins {W_NS} w:id="1" w:author="A"><w:r><w:t xml:space="preserve">every hour </w:t></w:r></w:ins>'))
    tracked._p.append(parse_xml(f'<w:del {W_NS} w:id="2" w:author="A"><w:r><w:delText>daily </w:delText></w:r></w:del>'))
    tracked.add_run("until noon.")
    boxed = document.add_paragraph("A map hangs here.")
    boxed._p.append(parse_xml(_TEXT_BOX))
    if footnotes:
        _add_footnotes(document, footnotes)
    document.save(str(path))
    return path


_TEXT_BOX = (
    f'<w:r {W_NS} xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    ' xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" xmlns:v="urn:schemas-microsoft-com:vml">'
    '<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:wsp><wps:txbx><w:txbxContent>'
    "<w:p><w:r><w:t>Map of the harbor, 1890.</w:t></w:r></w:p></w:txbxContent></wps:txbx></wps:wsp></w:drawing></mc:Choice>"
    "<mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent>"
    "<w:p><w:r><w:t>Map of the harbor, 1890.</w:t></w:r></w:p></w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback>"
    "</mc:AlternateContent></w:r>"
)


def _add_footnotes(document, notes: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Footnotes as Word writes them (python-docx has no API for them): a part, its relationship, references."""
    from docx.opc.constants import CONTENT_TYPE as CT
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part
    from docx.oxml import parse_xml

    body = "".join(
        f'<w:footnote w:id="{i}"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> {text}</w:t></w:r></w:p></w:footnote>'
        for i, text in enumerate(notes, start=1)
    )
    xml = (
        f'<w:footnotes {W_NS}><w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
        f'<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:footnote>{body}</w:footnotes>'
    )
    part = Part(PackURI("/word/footnotes.xml"), CT.WML_FOOTNOTES, xml.encode(), document.part.package)
    document.part.relate_to(part, RT.FOOTNOTES)
    first = document.paragraphs[1]._p
    for i in range(1, len(notes) + 1):
        first.append(parse_xml(f'<w:r {W_NS}><w:footnoteReference w:id="{i}"/></w:r>'))


DOCX_TEXT = (
    "Harbor Railway\n\n"
    "The Northport Harbor Railway opened in 1887. It carried coal and timber to the docks.\n\n"
    "Stations\n\nQuay Street\n\nMill Lane\n\nNorth Pier\n\n"
    "Station | Opened | Closed\n\nQuay Street | 1887 | 1961\n\nMill Lane | 1890 | still open\n\n"
    "The line closed in 1961, after the docks were rebuilt.\n\n"
    "Trains ran every hour until noon.\n\n"
    "A map hangs here.\n\nMap of the harbor, 1890."
)


def chapter(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<h1>{title}</h1>{body}"


def write_epub(path: Path, chapters: list[tuple[str, list[str]]], *, title: str = "Rivers") -> Path:
    """An EPUB 3 written by EbookLib: one XHTML document per chapter, a nav document and an NCX."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("docqa-test")
    book.set_title(title)
    book.set_language("en")
    items = []
    for i, (heading, paragraphs) in enumerate(chapters, start=1):
        item = epub.EpubHtml(title=heading, file_name=f"chap_{i}.xhtml", lang="en")
        item.content = chapter(heading, paragraphs)
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(str(path), book)
    return path


def zip_bytes(members: dict[str, bytes | str], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive of `members`, in order (an EPUB's mimetype first)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>'
)


def opf(documents: list[str]) -> str:
    items = "".join(f'<item id="d{i}" href="{name}" media-type="application/xhtml+xml"/>' for i, name in enumerate(documents))
    refs = "".join(f'<itemref idref="d{i}"/>' for i in range(len(documents)))
    return (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        f"<metadata/><manifest>{items}</manifest><spine>{refs}</spine></package>"
    )

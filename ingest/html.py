"""HTML pages -> cleaned text: the page's own text, without scripts, navigation and other page furniture.

selectolax's Lexbor parser (an HTML5 parser in C) builds the tree; this module decides
what of it is text (bench/html_extraction.py measures it against lxml and trafilatura, BENCHMARKS.md):

- left out: script, style, noscript, template, form controls and forms (unless one holds
  the page's content), embedded objects and drawings, nav and aside; the header and footer
  of the page, by tag, class or id (an article's or a section's own header, holding its
  title, stays); elements hidden by `hidden`, `aria-hidden="true"` or an inline
  `display: none`; landmark roles that are not content (navigation, banner, contentinfo,
  complementary, search, dialog); and elements whose class or id is a cookie banner's,
  a menu's, a sidebar's or a share bar's (`class="cookie-banner"`, `id="sidebar"`).
- when the page marks its main content (`<main>`, `role="main"`, or a single `<article>`),
  only that is read.
- the <title> starts the text unless the page's first heading (h1-h3) says it already.
- structure where it helps passages: headings, paragraphs, list items and other blocks
  are paragraphs (separated by a blank line, which the splitter treats as a paragraph
  break); a table row is one paragraph, its cells joined by " | "; each line of a <pre> is a
  paragraph; <br> is a line break (a space in the stored text, as in a text file; two in a
  row make a paragraph break). Other whitespace collapses as a browser collapses it.

EPUB's chapters are XHTML documents read by the same `render` (ingest/epub.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ingest.clean import clean
from ingest.converted import ConversionError, Converted
from ingest.options import IngestOptions

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser, LexborNode

# Elements whose content is never the page's text.
_DROPPED_TAGS = [
    "script", "style", "noscript", "template", "nav", "aside", "button", "select", "textarea",
    "input", "datalist", "iframe", "object", "embed", "canvas", "svg", "audio", "video", "map", "rp", "dialog",
]
# Landmark roles of page furniture (WAI-ARIA).
_DROPPED_ROLES = "navigation banner contentinfo complementary search dialog alertdialog menu menubar".split()
# Class or id words of common page furniture: exact words ("nav", "sidebar"), or words that
# begin so ("cookie-notice", "consent-banner").
_FURNITURE = re.compile(
    r"(?:cookie|consent|gdpr)\S*|nav|navbar|navigation|menu|breadcrumbs?|sidebar|skip-?link|"
    r"site-?(?:header|footer|nav)|share|social|ads?|advert(?:isement)?",
    re.IGNORECASE,
)
# A page's header and footer by class or id; inside an article, main or section they are its own.
_PAGE_PARTS = re.compile(r"header|footer|masthead|(?:page|global)-?(?:header|footer)", re.IGNORECASE)
_SECTIONING = ("article", "main", "section")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# Elements that are their own paragraph (CSS display block, list-item or table in a browser).
_BLOCKS = frozenset(
    "address article aside blockquote body caption center dd details div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hgroup hr html legend li main menu ol p section summary table "
    "tbody thead tfoot ul search frameset frame".split()
)
# What a form holding the page's content has (an ASP.NET page wraps the whole body in one form).
_CONTENT = "main, article, h1, [role=main]"
# HTML's own whitespace (not U+00A0, which a page writes to keep words together).
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
# Where a page or an XHTML document names its encoding (the HTML standard's prescan of the first bytes).
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([-\w.:]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]+encoding\s*=\s*[\"']([-\w.:]+)", re.IGNORECASE)
_PRESCAN = 4096
# An XHTML document's self-closed elements ("<title/>", "<div/>") are start tags to an HTML
# parser, which would read the rest of the document into them; they are opened and closed.
_SELF_CLOSED = re.compile(r"<([A-Za-z][\w:.-]*)((?:\s[^<>]*?)?)/>")
_VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())
NO_TEXT = "no text once scripts, navigation, headers, footers, forms and hidden elements are left out"


def convert_html(data: bytes, options: IngestOptions) -> Converted:
    """The cleaned text of an HTML page (see the module docstring)."""
    warnings: list[str] = []
    text = clean(render(decode_html(data, warnings, options.encoding, "binary file, not HTML: another kind of file named .html")))
    if not text:
        raise ConversionError(f"HTML page with {NO_TEXT}")
    return Converted(text, None, warnings)


def decode_html(data: bytes, warnings: list[str], encoding: str, binary: str) -> str:
    """The characters of an HTML or XHTML document's bytes.

    In the encoding its byte-order mark names, else the one its <meta charset> (or XML
    declaration) names, else as ingest/text.py reads a text file (UTF-8, ingest.encoding,
    detection). A document that decodes to control characters is binary data: ConversionError(binary).
    """
    from ingest.text import decode, looks_binary

    declared = None if data[:4].startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) else _declared_encoding(data[:_PRESCAN], warnings)
    text = None
    if declared is not None:
        label, codec = declared
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            warnings.append(f"not {label} as it declares ({exc.reason} at byte {exc.start}); read as undeclared text")
    if text is None:
        text = decode(data, warnings, encoding)
    if looks_binary(text):
        raise ConversionError(binary)
    return text


def _declared_encoding(head: bytes, warnings: list[str]) -> tuple[str, str] | None:
    """(label, Python codec) of the encoding a document's first bytes declare."""
    import codecs

    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    if match is None:
        return None
    label = match.group(1).decode("ascii", "replace")
    try:
        name = codecs.lookup(label).name
    except LookupError:
        warnings.append(f"unknown charset {label!r} declared; read as undeclared text")
        return None
    if name in ("latin-1", "iso8859-1", "ascii"):
        return label, "cp1252"  # what browsers read these labels as (the Encoding standard)
    if name.startswith(("utf-16", "utf-32")):
        return None  # a declaration readable as ASCII is not UTF-16; the BOM says when it is
    return label, name


def render(markup: str, *, title: bool = True, book: bool = False) -> str:
    """The text of an HTML document, with "\\n\\n" between its blocks; not yet cleaned.

    `book`: an EPUB's XHTML chapter, whose <aside>s are its footnotes rather than a site's sidebars.
    """
    from selectolax.lexbor import LexborHTMLParser

    if book:
        markup = _SELF_CLOSED.sub(lambda m: m.group(0) if m.group(1).lower() in _VOID else f"<{m.group(1)}{m.group(2)}></{m.group(1)}>", markup)
    tree = LexborHTMLParser(markup)
    title_node = tree.css_first("title") if title else None
    heading = _collapse(title_node.text()) if title_node is not None else ""
    _remove_furniture(tree, book)
    root = _main_content(tree)
    if root is None:
        return ""
    body = _text(root, flat=False)
    first = root.css_first("h1, h2, h3")
    if heading and first is not None and _collapse(first.text()).lower() in heading.lower():
        heading = ""  # "Article - Site" above the article's own "Article"
    return f"{heading}\n\n{body}" if heading else body


def _remove_furniture(tree: LexborHTMLParser, book: bool) -> None:
    tree.strip_tags([tag for tag in _DROPPED_TAGS if not (book and tag == "aside")])
    doomed: list[LexborNode] = []
    for node in tree.css("header, footer"):
        if not _inside(node, _SECTIONING):
            doomed.append(node)
    for node in tree.css("form"):
        if node.css_first(_CONTENT) is None:
            doomed.append(node)
    roles = ", ".join(f"[role={role}]" for role in _DROPPED_ROLES)
    doomed.extend(tree.css(f"[hidden], [aria-hidden=true], {roles}"))
    doomed.extend(node for node in tree.css("[style]") if _HIDDEN_STYLE.search(node.attributes.get("style") or ""))
    for node in tree.css("[class], [id]"):
        if node.tag in ("html", "body", "main", "article"):
            continue
        words = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}".split()
        if any(_FURNITURE.fullmatch(word) for word in words):
            doomed.append(node)
        elif any(_PAGE_PARTS.fullmatch(word) for word in words) and not _inside(node, _SECTIONING):
            doomed.append(node)
    # Only the outermost are removed, all chosen before any is: a node removed with its
    # ancestor is freed, and touching it again would crash.
    ids = {node.mem_id for node in doomed}
    outermost = {node.mem_id: node for node in doomed if not _inside_any(node, ids)}
    for node in outermost.values():
        node.decompose()


def _ancestors(node: LexborNode) -> Iterator[LexborNode]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _inside(node: LexborNode, tags: tuple[str, ...]) -> bool:
    return any(parent.tag in tags for parent in _ancestors(node))


def _inside_any(node: LexborNode, ids: set[int]) -> bool:
    return any(parent.mem_id in ids for parent in _ancestors(node))


def _main_content(tree: LexborHTMLParser) -> LexborNode | None:
    """What the page marks as its main content (<main>, role=main, its only <article>), else the body."""
    main = tree.css_first("main, [role=main]")
    if main is not None:
        return main
    articles = tree.css("article")
    if len(articles) == 1:
        return articles[0]
    return tree.body


def _text(root: LexborNode, flat: bool) -> str:
    """The text under `root`, blocks separated by "\\n\\n" (by " " when `flat`, inside a table cell).

    Iterative, so a page nested thousands of elements deep cannot exhaust the stack.
    """
    gap = " " if flat else "\n\n"
    out: list[str] = []
    stack: list[LexborNode | str] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        tag = item.tag
        if tag == "-text":
            out.append(_HTML_SPACE.sub(" ", item.text_content or ""))
        elif tag.startswith("-"):
            continue  # comments, doctype
        elif tag == "br":
            out.append("\n")
        elif tag == "pre":
            lines = [line for line in (item.text(deep=True) or "").splitlines() if line.strip()]
            out.append(gap + gap.join(lines) + gap)
        elif tag == "tr":
            cells = (_collapse(_text(cell, flat=True)) for cell in item.iter() if cell.tag in ("td", "th"))
            out.append(gap + " | ".join(cell for cell in cells if cell) + gap)
        else:
            children = list(item.iter(include_text=True))
            if tag in _BLOCKS:
                out.append(gap)
                stack.append(gap)
            stack.extend(reversed(children))
    return "".join(out)


def _collapse(text: str | None) -> str:
    return " ".join((text or "").split())

"""Word documents (.docx) -> cleaned text: the body in document order, then footnotes and endnotes.

python-docx opens the package (the zip, its relationships and parts); the body's XML is
walked here rather than through python-docx's Paragraph and Table objects, because those
miss text a reader sees: tracked insertions (runs inside <w:ins>), content controls
(<w:sdt>, which hold tables of contents and form fields), and text boxes.

- Every paragraph (headings, list items, body text) is a paragraph of the text, separated
  by a blank line, which the splitter treats as a paragraph break. A list's numbers and
  bullets are Word's rendering, not text, and are not in it.
- A table row is one paragraph, its non-empty cells joined by " | "; a cell's own
  paragraphs and nested tables are joined by spaces. Rows and paragraphs keep their order.
- A text box's paragraphs follow the paragraph that anchors it; the legacy copy Word
  keeps of each drawing for old readers (mc:Fallback) is skipped, so nothing is read twice.
- Deleted text of tracked changes (w:delText) and field codes (w:instrText) are not text;
  a field's shown result is. An equation (Office Math) is its characters in order
  ("E=mc2"), which python-docx leaves out.
- Headers, footers and comments are left out (they live in parts of their own; a running
  header repeated into every passage costs answers, as it does in PDFs). Footnotes and
  endnotes, which python-docx does not expose, are read from their parts and follow the
  body, each a paragraph, so none interrupts the sentence that refers to it.

Pages are Word's rendering too, so a DOCX has none (`pages` is None).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from ingest.archive import OLE_MAGIC, check_unzipped_size, open_zip
from ingest.clean import clean
from ingest.converted import ConversionError, Converted, one_line
from ingest.options import IngestOptions

if TYPE_CHECKING:
    from docx.document import Document
    from lxml.etree import _Element

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# Text of a run, and of an equation's run (Office Math): equations are read as their characters in order.
_TEXT = frozenset((f"{_W}t", "{http://schemas.openxmlformats.org/officeDocument/2006/math}t"))
# Run content that stands for a character.
_CHARACTERS = {f"{_W}tab": "\t", f"{_W}br": "\n", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-", f"{_W}ptab": "\t"}
# Containers in the body whose children are the blocks they wrap (content controls, custom XML, ...).
_WRAPPERS = frozenset(f"{_W}{name}" for name in ("sdt", "sdtContent", "customXml", "ins", "moveTo", "smartTag"))
# Footnotes and endnotes of these types are Word's separator lines, not notes.
_SEPARATORS = frozenset(("separator", "continuationSeparator", "continuationNotice"))


def convert_docx(data: bytes, options: IngestOptions) -> Converted:
    """The cleaned text of a .docx file (see the module docstring)."""
    document = _open(data, options)
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml.parser import parse_xml

    blocks = _blocks(document.element.body)
    warnings: list[str] = []
    for reltype, note in ((RT.FOOTNOTES, "footnote"), (RT.ENDNOTES, "endnote")):
        for rel in document.part.rels.values():
            if rel.reltype != reltype or rel.is_external:
                continue
            try:
                notes = parse_xml(rel.target_part.blob)
            except Exception as exc:  # lxml's XMLSyntaxError and kin: the notes are damaged, the body is not
                warnings.append(f"{note}s left out: their part is damaged ({type(exc).__name__}: {one_line(exc)})")
                continue
            for element in notes.iterchildren(f"{_W}{note}"):
                if element.get(f"{_W}type") not in _SEPARATORS:
                    blocks.append(" ".join(_blocks(element)))
    text = clean("\n\n".join(blocks))
    if not text:
        raise ConversionError("DOCX with no text: nothing in its body, tables, text boxes or notes")
    return Converted(text, None, warnings)


def _open(data: bytes, options: IngestOptions) -> Document:
    """The python-docx Document of `data`, or ConversionError saying what the file is instead."""
    if data.startswith(OLE_MAGIC):
        # Word saves a password-protected .docx as an OLE file holding the encrypted package.
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise ConversionError("password-protected DOCX: save a copy without the password (Word: File > Info > Protect Document) and index that")
        if "WordDocument".encode("utf-16-le") in data:
            raise ConversionError(
                "an old Word .doc file named .docx: save it as .docx (Word: Save As; or "
                "`libreoffice --headless --convert-to docx FILE`) and index that"
            )
        raise ConversionError("an Office binary (OLE) file, not a DOCX: save it as .docx and index that")
    archive = open_zip(data, "DOCX")
    with archive:
        names = set(archive.namelist())
        if "[Content_Types].xml" not in names or not any(name.startswith("word/") for name in names):
            raise ConversionError("not a DOCX (a zip archive without a Word document in it): another kind of file named .docx")
        # python-docx reads every part of the package into memory.
        check_unzipped_size(archive.infolist(), "DOCX", options)
    import docx

    try:
        return docx.Document(io.BytesIO(data))
    except ValueError as exc:
        if "is not a Word file" in str(exc):
            kind = str(exc).rsplit("content type is ", 1)[-1]
            raise ConversionError(f"not a Word document (its main part's content type is {kind}): save it as .docx and index that") from None
        raise ConversionError(f"corrupt DOCX (ValueError: {one_line(exc)}): if Word opens it, save it again and index the copy") from None
    except Exception as exc:  # python-docx and lxml report damage with many types (KeyError, XMLSyntaxError, BadZipFile, ...)
        raise ConversionError(f"corrupt DOCX ({type(exc).__name__}: {one_line(exc)}): if Word opens it, save it again and index the copy") from None


def _blocks(container: _Element) -> list[str]:
    """The paragraphs and table rows under `container` (the body, a cell, a note), in document order."""
    blocks: list[str] = []
    stack = list(reversed(container))
    while stack:
        element = stack.pop()
        tag = element.tag
        if tag == f"{_W}p":
            boxes: list[_Element] = []
            blocks.append(_paragraph_text(element, boxes))
            for box in boxes:
                blocks.extend(_blocks(box))
        elif tag == f"{_W}tbl":
            for row in element.iterchildren(f"{_W}tr"):
                cells = (" ".join(" ".join(_blocks(cell)).split()) for cell in _cells(row))
                blocks.append(" | ".join(cell for cell in cells if cell))
        elif tag in _WRAPPERS:
            stack.extend(reversed(element))
    return blocks


def _cells(row: _Element) -> list[_Element]:
    # A cell may sit inside a content control of the row.
    cells = []
    for child in row:
        if child.tag == f"{_W}tc":
            cells.append(child)
        elif child.tag in _WRAPPERS:
            cells.extend(_cells(child))
    return cells


def _paragraph_text(paragraph: _Element, boxes: list[_Element]) -> str:
    """A paragraph's text; the text boxes anchored in it are added to `boxes`."""
    parts: list[str] = []
    stack = list(reversed(paragraph))
    while stack:
        element = stack.pop()
        tag = element.tag
        if tag in _TEXT:
            parts.append(element.text or "")
        elif tag in _CHARACTERS:
            parts.append(_CHARACTERS[tag])
        elif tag == f"{_W}txbxContent":
            boxes.append(element)
        elif tag == _MC_FALLBACK or not isinstance(tag, str):
            continue  # the legacy copy of a drawing; comments and processing instructions
        else:
            stack.extend(reversed(element))
    return "".join(parts)

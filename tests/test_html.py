from __future__ import annotations

import codecs
from pathlib import PurePath

import pytest

from ingest.convert import ConversionError, convert
from ingest.split import split_text
from tests.formats import ARTICLE_PAGE, ARTICLE_TEXT


def text_of(markup: str | bytes, name: str = "page.html") -> str:
    data = markup.encode() if isinstance(markup, str) else markup
    return convert(PurePath(name), data).text


def test_an_article_page_keeps_its_text_and_structure_without_the_furniture():
    converted = convert(PurePath("danube.html"), ARTICLE_PAGE.encode())
    assert (converted.text, converted.pages, converted.warnings) == (ARTICLE_TEXT, None, [])
    for furniture in ("Skip to content", "Home", "Search", "cookies", "Related", "Popular", "Rhine", "rights reserved",
                      "JavaScript", "tracking", "Hidden editor note", "Invisible", "Share", "font-family", "Rivers of Europe"):
        assert furniture not in converted.text


def test_offsets_of_passages_and_of_a_known_sentence_are_exact():
    text = text_of(ARTICLE_PAGE)
    assert text.index("It passes through four capitals") == 149
    assert text[149:149 + 75] == "It passes through four capitals: Vienna, Bratislava, Budapest and Belgrade."
    assert text.index("Novi Sad | Liberty Bridge") == 319
    splits = split_text(text, 12, 3)
    assert [s.start for s in splits] == [0, 42, 105, 152, 215, 279, 328, 392]
    assert all(text[s.start : s.start + len(s.text)] == s.text for s in splits)


def test_htm_is_html_too():
    assert text_of("<p>Short page.</p>", "old.HTM") == "Short page."


def test_title_starts_the_text_unless_the_first_heading_says_it():
    assert text_of("<title>Minutes of May</title><p>We met.</p>") == "Minutes of May\n\nWe met."
    assert text_of("<title>Minutes - Club site</title><h2>Minutes</h2><p>We met.</p>") == "Minutes\n\nWe met."


def test_header_and_footer_of_the_page_go_those_of_an_article_or_section_stay():
    page = (
        "<header>Site name</header><section><header><h2>Part one</h2></header><p>Body.</p><footer>Notes of part one.</footer></section>"
        "<footer>Site footer</footer><div id='header'>Logo</div><div class='footer'>Links</div>"
    )
    assert text_of(page) == "Part one\n\nBody.\n\nNotes of part one."


def test_main_content_is_read_alone_when_the_page_marks_it():
    assert text_of("<div>Menu text</div><div role='main'><p>Main text.</p></div>") == "Main text."
    assert text_of("<div>Teaser</div><article><p>The one article.</p></article>") == "The one article."
    assert text_of("<article><p>First.</p></article><article><p>Second.</p></article><div>Both kept.</div>") == "First.\n\nSecond.\n\nBoth kept."


def test_hidden_elements_roles_forms_and_class_names_of_furniture_are_left_out():
    page = (
        "<p>Kept.</p><p hidden>a</p><p aria-hidden='true'>b</p><p style='color: red; DISPLAY : none'>c</p>"
        "<p style='visibility:hidden'>d</p><div role='navigation'>e</div><div role='contentinfo'>f</div>"
        "<div class='cookie-notice'>g</div><div class='post sidebar'>h</div><ul class='menu'><li>i</li></ul>"
        "<form><label>Name</label><input></form><select><option>j</option></select><button>k</button>"
        "<template><p>l</p></template><iframe src='x'></iframe><svg><text>m</text></svg>"
        "<p class='sidebar-note'>Kept too: a class is matched word by word.</p>"
    )
    assert text_of(page) == "Kept.\n\nKept too: a class is matched word by word."


def test_a_form_that_holds_the_page_is_kept():
    # ASP.NET pages wrap the whole body in one form.
    assert text_of("<form id='aspnetForm'><h1>Report</h1><p>Findings.</p><input type='submit'></form>") == "Report\n\nFindings."


def test_lists_tables_pre_and_line_breaks():
    page = (
        "<ul><li>One <b>bold</b> item</li><li><p>Two</p><ul><li>Nested</li></ul></li></ul>"
        "<table><tr><th>A</th><td></td><td>B <i>c</i></td></tr><tr><td><table><tr><td>x</td><td>y</td></tr></table></td><td>z</td></tr></table>"
        "<pre>  def f():\n      return 1\n\n\n  f()</pre>"
        "<p>Line one<br>line two<br/><br>new paragraph</p><dl><dt>Term</dt><dd>Meaning</dd></dl>"
    )
    assert text_of(page) == (
        "One bold item\n\nTwo\n\nNested\n\nA | B c\n\nx | y | z\n\n"
        "def f():\n\nreturn 1\n\nf()\n\n"
        "Line one line two\n\nnew paragraph\n\nTerm\n\nMeaning"
    )


def test_whitespace_collapses_as_in_a_browser_and_entities_are_decoded():
    page = "<p>A\n\n\n  paragraph   over\tlines &amp; entities: &eacute;&#233;&#xE9; caf&eacute;&nbsp;au&nbsp;lait, co&shy;operate</p>"
    assert text_of(page) == "A paragraph over lines & entities: ééé café au lait, cooperate"
    assert text_of("<p>in<b>line</b> <span>words</span>, <a href=x>link</a>.</p>") == "inline words, link."


def test_a_page_nested_deeper_than_pythons_stack_is_read():
    assert text_of("<div>" * 5000 + "Deep text." + "</div>" * 5000) == "Deep text."


@pytest.mark.parametrize(
    ("head", "encoding"),
    [
        ('<meta charset="windows-1252">', "cp1252"),
        ("<meta charset=iso-8859-1>", "cp1252"),  # read as windows-1252, as browsers do: \x93 is a quote
        ('<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-15">', "iso8859_15"),
        ('<?xml version="1.0" encoding="cp1250"?><html>', "cp1250"),
        ('<meta charset="shift_jis">', "shift_jis"),
    ],
)
def test_the_declared_encoding_is_used(head, encoding):
    words = {"cp1252": "\u201ccaf\u00e9\u201d", "iso8859_15": "\u20ac 5 caf\u00e9", "cp1250": "Za\u017c\u00f3\u0142\u0107", "shift_jis": "\u65e5\u672c\u8a9e"}[encoding]
    converted = convert(PurePath("a.html"), f"{head}<p>{words}</p>".encode(encoding))
    assert (converted.text, converted.warnings) == (words, [])


def test_a_bom_wins_over_the_declaration_and_undeclared_pages_are_read_as_text_files_are():
    page = '<meta charset="iso-8859-1"><p>\u00e9t\u00e9 \u4e2d\u6587</p>'
    assert text_of(codecs.BOM_UTF16_LE + page.encode("utf-16-le")) == "\u00e9t\u00e9 \u4e2d\u6587"
    assert text_of(codecs.BOM_UTF8 + page.encode("utf-8")) == "\u00e9t\u00e9 \u4e2d\u6587"
    french = "<p>" + "Caf\u00e9 au lait, na\u00efve fa\u00e7ade, tr\u00e8s bien. " * 3 + "</p>"
    converted = convert(PurePath("a.html"), french.encode("cp1252"))
    assert converted.text == ("Caf\u00e9 au lait, na\u00efve fa\u00e7ade, tr\u00e8s bien. " * 3).strip()
    assert converted.warnings == ["not UTF-8; read as cp1252"]


def test_a_wrong_declaration_is_said_and_the_page_read_as_undeclared_text():
    converted = convert(PurePath("a.html"), '<meta charset="utf-8"><p>caf\u00e9 cr\u00e8me</p>'.encode("cp1252"))
    assert converted.text == "caf\u00e9 cr\u00e8me"
    assert converted.warnings[0] == "not utf-8 as it declares (invalid continuation byte at byte 28); read as undeclared text"
    unknown = convert(PurePath("a.html"), b'<meta charset="x-klingon"><p>plain</p>')
    assert (unknown.text, unknown.warnings) == ("plain", ["unknown charset 'x-klingon' declared; read as undeclared text"])


def test_binary_data_named_html_and_a_page_without_text_are_refused_with_the_reason():
    with pytest.raises(ConversionError) as err:
        convert(PurePath("photo.html"), b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16)
    assert str(err.value) == "binary file, or text in an unknown encoding: save it as UTF-8"
    with pytest.raises(ConversionError) as err:
        convert(PurePath("junk.html"), b"\x01\x02\x03\x04 words " * 500)
    assert str(err.value) == "binary file, not HTML: another kind of file named .html"
    with pytest.raises(ConversionError) as err:
        convert(PurePath("shell.html"), b"<html><head><title></title><script>app()</script></head><body><nav>Home</nav><div id='root'></div></body></html>")
    assert str(err.value) == "HTML page with no text once scripts, navigation, headers, footers, forms and hidden elements are left out"

"""HTML extraction: docqa's converter (selectolax + page-furniture rules) against lxml and trafilatura.

Each article of the SQuAD public half (its title and first paragraphs, real prose) is put
into four page templates a user meets: a news site with HTML5 landmarks, an older site of
nested divs named by class and id, a wiki page with an infobox and ARIA roles, a plain
saved document, and a reference page of linked terms with their definitions. All four carry the usual furniture (menus of dozens of links, a cookie
notice, a sidebar of related headlines, footers, scripts, styles) except the plain one.

Quality is measured on words, lower-cased, as a bag: recall is the share of the page's own
words (title, paragraphs, table cells) found in the extracted text, precision the share of
extracted words that are the page's own (CleanEval's view of boilerplate removal). Speed is
the median time per page over `--repeats` passes, as a ratio against docqa's converter;
"docqa, before clean()" is its time without ingest/clean.py's clean(), which the text of every
converter goes through (and trafilatura's would too).

    python bench/html_extraction.py [--squad ../shared/data/squad/dev-v1.1-public.json] [--articles 12-23]
    python bench/html_extraction.py --real '/usr/share/doc/**/*.html'

`--real GLOB` reads real pages instead (Debian's /usr/share/doc holds a few hundred: manuals,
API references, READMEs), which have no ground truth: it reports the share of each page's
words (all its text but scripts and styles) that an extractor keeps, how many pages lose
more than half, and the median time per page. Pages that lose much are worth reading: the
words lost are the menus an extractor should drop, or content it should not.

trafilatura is optional (`pip install trafilatura`); without it its rows are left out.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

_WORD = re.compile(r"\w+")
MENU = "".join(f'<li><a href="/section/{i}">Section {w}</a></li>' for i, w in enumerate("world politics business markets technology science health sport culture travel opinion video podcasts weather".split()))
RELATED = "".join(f'<li><a href="/story/{i}">Story about {w} that readers also liked</a></li>' for i, w in enumerate("elections harvest satellites football budget festival".split()))
FOOTER_LINKS = "".join(f'<a href="/{w}">{w.title()}</a> ' for w in "about careers contact privacy terms accessibility advertise newsletters archive sitemap".split())
COOKIE = "We and our partners use cookies to personalise content and ads, and to analyse our traffic. Accept all or manage your choices."
SCRIPT = "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}gtag('js',new Date());</script>"
STYLE = "<style>body{margin:0;font-family:Georgia,serif}.menu li{display:inline-block}</style>"


def news(title: str, paragraphs: list[str], table: list[list[str]]) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)} | Daily Planet</title>{STYLE}{SCRIPT}</head><body>'
        f'<header class="masthead"><a href="/" class="logo">Daily Planet</a><nav><ul class="menu">{MENU}</ul></nav>'
        f'<form role="search"><input name="q" placeholder="Search"><button>Go</button></form></header>'
        f'<div class="cookie-banner">{COOKIE}<button>Accept</button></div>'
        f'<main><article><header><h1>{html.escape(title)}</h1><p class="byline">By Staff Reporter</p></header>{body}</article>'
        f'<section class="comments-cta"><a href="#">Sign in to comment</a></section></main>'
        f'<aside><h2>Most read</h2><ol>{RELATED}</ol></aside>'
        f"<footer><p>{FOOTER_LINKS}</p><p>&copy; 2024 Daily Planet Media Group. All rights reserved.</p></footer>{SCRIPT}</body></html>"
    )


def divs(title: str, paragraphs: list[str], table: list[list[str]]) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>{html.escape(title)}</title>{STYLE}</head><body>'
        f'<div id="wrapper"><div id="header"><div class="logo">Old Town Gazette</div><div class="menu"><ul>{MENU}</ul></div></div>'
        f'<div id="cookie-notice">{COOKIE}</div>'
        f'<div id="main-column"><div class="post"><h2 class="post-title">{html.escape(title)}</h2><div class="entry">{body}</div>'
        f'<div class="share">Share this: Facebook Twitter Email</div></div></div>'
        f'<div id="sidebar"><h3>Recent posts</h3><ul>{RELATED}</ul><h3>Archives</h3><ul><li>May 2024</li><li>April 2024</li></ul></div>'
        f'<div id="footer">{FOOTER_LINKS} Powered by WordPress</div></div>{SCRIPT}</body></html>'
    )


def wiki(title: str, paragraphs: list[str], table: list[list[str]]) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table)
    return (
        f'<!DOCTYPE html><html><head><meta charset="UTF-8"><title>{html.escape(title)} - Wikipedia</title>{SCRIPT}</head><body>'
        f'<a class="mw-jump-link" href="#content">Jump to content</a>'
        f'<div id="mw-navigation"><div role="navigation" class="vector-menu"><ul>{MENU}</ul></div>'
        f'<div id="p-search" role="search"><input name="search"></div></div>'
        f'<div id="content" class="mw-body" role="main"><h1 id="firstHeading">{html.escape(title)}</h1>'
        f'<div id="siteSub">From Wikipedia, the free encyclopedia</div>'
        f'<table class="infobox">{rows}</table>{body}'
        f'<div class="navbox" role="navigation"><ul>{RELATED}</ul></div></div>'
        f'<div id="footer" role="contentinfo"><ul><li>This page was last edited on 3 May 2024.</li><li>{FOOTER_LINKS}</li></ul></div></body></html>'
    )


def plain(title: str, paragraphs: list[str], table: list[list[str]]) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table)
    return f"<html><head><title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}<table>{rows}</table></body></html>"


def docs(title: str, paragraphs: list[str], table: list[list[str]]) -> str:
    """A reference page: terms that link to their sections, each defined by a paragraph, and a listing."""
    terms = "".join(f'<dt><a href="#t{i}">{html.escape(p.split()[0])} {html.escape(p.split()[1])}</a></dt><dd>{html.escape(p)}</dd>' for i, p in enumerate(paragraphs))
    listing = "\n".join(f"{row[0]:<12}{row[1]}" for row in table)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)} reference</title>{STYLE}</head><body>'
        f'<nav class="toc"><ul>{MENU}</ul></nav><h1>{html.escape(title)}</h1><dl>{terms}</dl><pre>{html.escape(listing)}</pre>'
        f'<footer>{FOOTER_LINKS}</footer></body></html>'
    )


# The page's own text in each template: the wiki page's subtitle is the site's, the infobox is content.
TEMPLATES: dict[str, tuple[Callable[[str, list[str], list[list[str]]], str], bool]] = {
    "news (HTML5 landmarks)": (news, False),
    "divs (class and id names)": (divs, False),
    "wiki (ARIA roles, infobox)": (wiki, True),
    "plain saved document": (plain, True),
    "docs (linked terms, listing)": (docs, True),
}


def docqa_extract(page: str) -> str:
    from ingest.convert import convert

    return convert(Path("page.html"), page.encode()).text


def docqa_render(page: str) -> str:
    """docqa's converter before ingest/clean.py's clean(), which every converter's text goes through."""
    from ingest.html import decode_html, render

    return render(decode_html(page.encode(), [], "auto", "binary"))


def lxml_all_text(page: str) -> str:
    """lxml's HTML parser, scripts and styles dropped, every other text kept: the baseline."""
    import lxml.html

    root = lxml.html.document_fromstring(page)
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    return root.text_content()


def selectolax_all_text(page: str) -> str:
    """selectolax's parser, scripts and styles dropped, every other text kept."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(page)
    tree.strip_tags(["script", "style"])
    return tree.body.text(separator=" ") if tree.body is not None else ""


def trafilatura_extract(page: str) -> str:
    import trafilatura

    return trafilatura.extract(page, include_tables=True, include_comments=False) or ""


def words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in _WORD.findall(text))


def score(extracted: str, truth: str) -> tuple[float, float]:
    got, want = words(extracted), words(truth)
    common = sum((got & want).values())
    return common / max(1, sum(want.values())), common / max(1, sum(got.values()))


def real_pages(pattern: str) -> int:
    import glob
    import hashlib
    import os

    extractors: dict[str, Callable[[str], str]] = {"docqa (selectolax + rules)": docqa_extract}
    try:
        import trafilatura  # noqa: F401

        extractors["trafilatura 2 extract()"] = trafilatura_extract
    except ImportError:
        print("trafilatura not installed: its rows are left out", file=sys.stderr)
    pages, seen = [], set()
    for name in sorted(glob.glob(pattern, recursive=True)):
        if not os.path.isfile(name):
            continue
        data = Path(name).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen or len(data) < 3000:  # copies, and redirect stubs
            continue
        seen.add(digest)
        from ingest.html import decode_html

        pages.append((name, decode_html(data, [], "auto", "binary")))
    kept: dict[str, list[float]] = {name: [] for name in extractors}
    seconds: dict[str, list[float]] = {name: [] for name in extractors}
    lost: dict[str, list[str]] = {name: [] for name in extractors}
    for path, page in pages:
        everything = selectolax_all_text(page)
        for name, extract in extractors.items():
            started = time.perf_counter()
            try:
                out = extract(page)
            except Exception:  # a page with no text left: nothing kept
                out = ""
            seconds[name].append(time.perf_counter() - started)
            share = score(out, everything)[0]
            kept[name].append(share)
            if share < 0.5:
                lost[name].append(path)
    print(f"{len(pages)} distinct pages of {pattern}, {sum(len(p) for _, p in pages) / 2**20:.1f} MB")
    print("\n| extractor | words kept, median | mean | pages keeping < 50% | ms/page, median |\n|---|---:|---:|---:|---:|")
    for name in extractors:
        print(f"| {name} | {statistics.median(kept[name]):.3f} | {statistics.mean(kept[name]):.3f} | {len(lost[name])} | {statistics.median(seconds[name]) * 1000:.1f} |")
    for name, paths in lost.items():
        print(f"\n{name} keeps < 50% of: " + ", ".join(paths[:40]))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", default=str(REPO.parent / "shared/data/squad/dev-v1.1-public.json"))
    parser.add_argument("--articles", default="12-23", help="articles of the file, first-last (0-11 tune, 12-23 report)")
    parser.add_argument("--paragraphs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--real", help="a glob of real HTML pages to read instead (recursive **)")
    args = parser.parse_args()
    if args.real:
        return real_pages(args.real)
    first, last = (int(x) for x in args.articles.split("-"))
    data = json.loads(Path(args.squad).read_text())["data"][first : last + 1]

    extractors: dict[str, Callable[[str], str]] = {
        "docqa (selectolax + rules)": docqa_extract,
        "docqa, before clean()": docqa_render,
        "selectolax, all text": selectolax_all_text,
        "lxml, all text": lxml_all_text,
    }
    try:
        import trafilatura  # noqa: F401

        extractors["trafilatura 2 extract()"] = trafilatura_extract
    except ImportError:
        print("trafilatura not installed: its rows are left out", file=sys.stderr)

    pages = []
    for article in data:
        title = article["title"].replace("_", " ")
        paragraphs = [p["context"] for p in article["paragraphs"][: args.paragraphs]]
        table = [["Subject", title], ["Paragraphs", str(len(article["paragraphs"]))], ["Source", "SQuAD v1.1 dev"]]
        for template, (write, table_is_content) in TEMPLATES.items():
            truth = " ".join([title, *paragraphs, *(c for row in table for c in row)] if table_is_content else [title, *paragraphs])
            pages.append((template, write(title, paragraphs, table), truth))

    rows: dict[tuple[str, str], list[tuple[float, float]]] = {}
    times: dict[str, list[float]] = {name: [] for name in extractors}
    for repeat in range(args.repeats):
        for name, extract in extractors.items():  # alternating: each pass times every extractor
            started = time.perf_counter()
            outputs = [extract(page) for _, page, _ in pages]
            times[name].append((time.perf_counter() - started) / len(pages))
            if repeat == 0:
                for (template, _, truth), out in zip(pages, outputs):
                    rows.setdefault((name, template), []).append(score(out, truth))

    print(f"{len(data)} articles x {len(TEMPLATES)} templates = {len(pages)} pages, "
          f"median of {args.repeats} passes; mean page {statistics.mean(len(p) for _, p, _ in pages) / 1024:.1f} KB")
    print("\n| extractor | page | recall | precision |\n|---|---|---:|---:|")
    for (name, template), scores in rows.items():
        if name == "docqa, before clean()":
            continue  # the same words as docqa's; timed only
        print(f"| {name} | {template} | {statistics.mean(r for r, _ in scores):.3f} | {statistics.mean(p for _, p in scores):.3f} |")
    base = statistics.median(times["docqa (selectolax + rules)"])
    print("\n| extractor | ms/page | vs docqa |\n|---|---:|---:|")
    for name, samples in times.items():
        print(f"| {name} | {statistics.median(samples) * 1000:.2f} | {statistics.median(samples) / base:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

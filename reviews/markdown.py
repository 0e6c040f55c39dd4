"""Markdown to safe HTML: GitHub Flavored Markdown by cmark-gfm, then an allow-list sanitiser (nh3).

Everything people write is rendered here (pages, previews, the feed, the API, broadcast email), so
the cost of one render must stay linear in the text whatever it holds. cmark-gfm parses in linear
time; what is left to bound is what it hands the sanitiser. html5ever (inside nh3) spends time in
proportion to the depth of open elements for each element it opens, so a few bytes per level
("> > > …", an unclosed raw <div> per line) cost quadratic time there, and a table whose header is
wider than its rows is padded with empty cells, thousands per line of input. These guards keep the
HTML proportional to the text and its depth bounded:

- a document nesting blocks deeper than MAX_NESTING, or whose HTML would be more than
  MAX_HTML_GROWTH times its length, is shown as written, in a code block;
- raw HTML opening more than MAX_RAW_HTML_ELEMENTS elements is shown as written (as text) rather
  than interpreted;
- when tables could hold more cells than the text has characters, tables stay plain text.

GFM has no abbreviations, definition lists, attribute lists or Markdown inside HTML blocks (the
Python-Markdown "extra" features ybiyri rendered before): they read as the text that was written.
Footnotes are GFM's own. Raw HTML is parsed (cmark's unsafe option) because nh3 sanitises it
afterwards with the same allow-list as ever.

cmarkgfm's own Python functions never free the parsed tree nor the rendered HTML (megabytes per
call for a long narrative), so this module calls the cmark-gfm library its wheel ships through
ctypes and frees both.
"""

import ctypes
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import nh3
from cmarkgfm import _cmark
from cmarkgfm.cmark import Options
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "input", "ins", "kbd", "li", "ol", "p",
    "pre", "s", "section", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title"},
    "input": {"checked"},
    "ol": {"start"},
    "td": {"align"},
    "th": {"align"},
    "code": {"class"},
}
# Task list items ("- [x] done") are the only inputs: whatever an <input> was, it becomes this.
FORCED_ATTRIBUTES = {"input": {"type": "checkbox", "disabled": "disabled"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"

# Deep enough for any document people write (a list in a list in a quote is 6), shallow enough that
# the sanitiser's per-element walk over the open elements stays a small constant.
MAX_NESTING = 32
# Raw HTML elements left open deepen every element after them; void ones (<br>, <img>) never do.
MAX_RAW_HTML_ELEMENTS = 64
VOID_ELEMENTS = {
    b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta", b"param",
    b"source", b"track", b"wbr",
}  # fmt: skip
START_TAG = re.compile(rb"<([A-Za-z][A-Za-z0-9-]*)")
MAYBE_START_TAG = re.compile(r"<[A-Za-z]")
# A line that could be a table's delimiter row ("|---|:--:|"): its pipes bound the table's columns.
TABLE_DELIMITER_LINE = re.compile(r"^[ \t]*(?:[-:]+[ \t]*)?\|[-:| \t]*$", re.MULTILINE)
# Rendered HTML is rarely more than twice its Markdown; "> > > a" and the like reach twenty-five times.
MAX_HTML_GROWTH = 6
# A line starting with more container markers and indentation than MAX_NESTING.
DEEP_PREFIX = re.compile(rf"^(?:[ >*+\-0-9.)]|\[\^[^\]\n]*\]:){{{MAX_NESTING + 1},}}", re.MULTILINE)
AS_WRITTEN_NOTICE = "Shown as written: this text nests too deeply, or would grow too large, to be formatted."

OPTIONS = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_FOOTNOTES
EXTENSIONS = ("table", "strikethrough", "autolink", "tasklist")

# cmark-gfm's node types and iterator events (cmark-gfm.h).
NODE_BLOCK_QUOTE, NODE_LIST, NODE_ITEM, NODE_HTML_BLOCK = 0x8002, 0x8003, 0x8004, 0x8006
NODE_CODE_BLOCK, NODE_FOOTNOTE_DEFINITION = 0x8005, 0x800B
NODE_DOCUMENT, NODE_TEXT, NODE_HTML_INLINE = 0x8001, 0xC001, 0xC005
NODE_CUSTOM_INLINE, NODE_LINK, NODE_IMAGE = 0xC006, 0xC009, 0xC00A
CONTAINER_BLOCKS = {NODE_DOCUMENT, NODE_BLOCK_QUOTE, NODE_LIST, NODE_ITEM, NODE_FOOTNOTE_DEFINITION}
EVENT_DONE, EVENT_ENTER = 1, 2


class _CmarkMem(ctypes.Structure):
    _fields_ = [
        ("calloc", ctypes.c_void_p),
        ("realloc", ctypes.c_void_p),
        ("free", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
    ]


_library = ctypes.CDLL(_cmark.__file__)
_Node = ctypes.c_void_p


def _function(name: str, restype: object, *argtypes: object) -> Callable:
    function = getattr(_library, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


_parser_new = _function("cmark_parser_new", ctypes.c_void_p, ctypes.c_int)
_parser_attach = _function(
    "cmark_parser_attach_syntax_extension", ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p
)
_parser_feed = _function("cmark_parser_feed", None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t)
_parser_finish = _function("cmark_parser_finish", _Node, ctypes.c_void_p)
_parser_extensions = _function("cmark_parser_get_syntax_extensions", ctypes.c_void_p, ctypes.c_void_p)
_parser_free = _function("cmark_parser_free", None, ctypes.c_void_p)
_render_html = _function("cmark_render_html", ctypes.c_void_p, _Node, ctypes.c_int, ctypes.c_void_p)
_node_free = _function("cmark_node_free", None, _Node)
_node_new = _function("cmark_node_new", _Node, ctypes.c_int)
_node_type = _function("cmark_node_get_type", ctypes.c_int, _Node)
_node_set_type = _function("cmark_node_set_type", ctypes.c_int, _Node, ctypes.c_int)
_node_first_child = _function("cmark_node_first_child", _Node, _Node)
_node_next = _function("cmark_node_next", _Node, _Node)
_node_append_child = _function("cmark_node_append_child", ctypes.c_int, _Node, _Node)
_node_literal = _function("cmark_node_get_literal", ctypes.c_char_p, _Node)
_node_set_literal = _function("cmark_node_set_literal", ctypes.c_int, _Node, ctypes.c_char_p)
_node_url = _function("cmark_node_get_url", ctypes.c_char_p, _Node)
_node_set_url = _function("cmark_node_set_url", ctypes.c_int, _Node, ctypes.c_char_p)
_node_title = _function("cmark_node_get_title", ctypes.c_char_p, _Node)
_node_set_title = _function("cmark_node_set_title", ctypes.c_int, _Node, ctypes.c_char_p)
_node_set_on_enter = _function("cmark_node_set_on_enter", ctypes.c_int, _Node, ctypes.c_char_p)
_node_set_on_exit = _function("cmark_node_set_on_exit", ctypes.c_int, _Node, ctypes.c_char_p)
_iter_new = _function("cmark_iter_new", ctypes.c_void_p, _Node)
_iter_next = _function("cmark_iter_next", ctypes.c_int, ctypes.c_void_p)
_iter_node = _function("cmark_iter_get_node", _Node, ctypes.c_void_p)
_iter_free = _function("cmark_iter_free", None, ctypes.c_void_p)
# The rendered HTML is allocated by the default allocator and must be released by it.
_free = _function("cmark_get_default_mem_allocator", ctypes.POINTER(_CmarkMem))().contents.free

# Registration is global and not thread-safe: done once, at import.
_function("cmark_gfm_core_extensions_ensure_registered", None)()
_find_extension = _function("cmark_find_syntax_extension", ctypes.c_void_p, ctypes.c_char_p)
_EXTENSIONS = {name: _find_extension(name.encode()) for name in EXTENSIONS}


@contextmanager
def _parsed(text: str, extensions: tuple[str, ...]) -> Iterator[tuple[int, int]]:
    """The document's syntax tree and its parser (needed to render), both freed afterwards."""
    data = text.encode("utf-8", "replace")  # a lone surrogate becomes "?" instead of an error
    parser = _parser_new(OPTIONS)
    document = None
    try:
        for name in extensions:
            _parser_attach(parser, _EXTENSIONS[name])
        _parser_feed(parser, data, len(data))
        document = _parser_finish(parser)
        yield document, parser
    finally:
        if document:
            _node_free(document)
        _parser_free(parser)


def _render(document: int, parser: int) -> str:
    html = _render_html(document, OPTIONS, _parser_extensions(parser))
    try:
        return ctypes.string_at(html).decode("utf-8", "replace")
    finally:
        _free(html)


def _walk(document: int) -> Iterator[tuple[int, int, int]]:
    """Every node as (event, node, type), in document order, entering and exiting containers."""
    iterator = _iter_new(document)
    try:
        while (event := _iter_next(iterator)) != EVENT_DONE:
            node = _iter_node(iterator)
            yield event, node, _node_type(node)
    finally:
        _iter_free(iterator)


def _nests_deeper_than(document: int, limit: int) -> bool:
    """Whether container blocks (quotes, lists, items) nest more than `limit` deep. Visits blocks
    only, and stops at the limit."""
    stack = [(document, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        child = _node_first_child(node)
        while child:
            if _node_type(child) in CONTAINER_BLOCKS:
                stack.append((child, depth + 1))
            child = _node_next(child)
    return False


def _may_nest_too_deep(text: str) -> bool:
    """A quick bound on nesting from the text alone. A line opens at most one level per character of
    its leading markers and indentation (">", "- ", "1. ", two spaces under an item, "[^note]:"),
    except a tab, which can stand for four columns."""
    return "\t" in text or DEEP_PREFIX.search(text) is not None


def _tables_stay_small(text: str) -> bool:
    """Whether every table together has at most as many cells as the text has characters, bounded
    by the widest delimiter row times the number of lines (rows shorter than the header are padded)."""
    if "|" not in text:
        return True
    widest = max((line.count("|") + 1 for line in TABLE_DELIMITER_LINE.findall(text)), default=0)
    return widest * (text.count("\n") + 1) <= len(text) + 10_000


def _raw_html_as_written(document: int) -> None:
    """Raw HTML opening too many elements is shown as the text it is, not interpreted."""
    raw = []
    opened = 0
    for event, node, kind in _walk(document):
        if event == EVENT_ENTER and kind in (NODE_HTML_BLOCK, NODE_HTML_INLINE):
            literal = _node_literal(node) or b""
            raw.append((node, kind, literal))
            opened += sum(1 for name in START_TAG.findall(literal) if name.lower() not in VOID_ELEMENTS)
    if opened <= MAX_RAW_HTML_ELEMENTS:
        return
    for node, kind, literal in raw:
        _node_set_type(node, NODE_CODE_BLOCK if kind == NODE_HTML_BLOCK else NODE_TEXT)
        _node_set_literal(node, literal)


def _served_by(origin: str) -> Callable[[str], bool]:
    """Whether a URL is on `origin` ("https://host[:port]"): absolute on it, or a path on it. Anything
    a browser or mail client might read as another host (//host, backslashes, control characters,
    "https:host") is not."""

    def served(url: str) -> bool:
        if "\\" in url or not url.isprintable():
            return False
        return url.startswith(origin + "/") or (url.startswith("/") and not url.startswith("//"))

    return served


def _link_foreign_images(document: int, served: Callable[[str], bool]) -> None:
    """Images from elsewhere become links to them, their alt text (or URL) as the link's text; inside
    a link, where a link cannot go, the alt text alone."""
    links_open = 0
    for event, node, kind in _walk(document):
        if kind == NODE_LINK:
            links_open += 1 if event == EVENT_ENTER else -1
        if kind != NODE_IMAGE or event != EVENT_ENTER:
            continue
        url, title = _node_url(node) or b"", _node_title(node) or b""
        if served(url.decode("utf-8", "replace")):
            continue
        if links_open:
            _node_set_type(node, NODE_CUSTOM_INLINE)
            _node_set_on_enter(node, b"")
            _node_set_on_exit(node, b"")
        else:
            _node_set_type(node, NODE_LINK)  # frees the URL and title, so set them again
            _node_set_url(node, url)
            _node_set_title(node, title)
            links_open += 1  # its exit is reported as a link's
        if not _node_first_child(node):
            text = _node_new(NODE_TEXT)
            _node_set_literal(text, url)
            _node_append_child(node, text)


def _as_written(text: str) -> str:
    return f"<p><em>{AS_WRITTEN_NOTICE}</em></p><pre><code>{escape(text)}</code></pre>"


def gfm_html(text: str, *, own_origin: str | None = None) -> str:
    """The HTML cmark-gfm renders from `text`, not yet sanitised. With `own_origin` (email), images
    not served from that origin become links to them."""
    text = text or ""
    extensions = EXTENSIONS if _tables_stay_small(text) else tuple(e for e in EXTENSIONS if e != "table")
    with _parsed(text, extensions) as (document, parser):
        if len(MAYBE_START_TAG.findall(text)) > MAX_RAW_HTML_ELEMENTS:
            _raw_html_as_written(document)
        if own_origin is not None and "![" in text:
            _link_foreign_images(document, _served_by(own_origin))
        html = _render(document, parser)
        if len(html) > MAX_HTML_GROWTH * len(text) + 100_000 or (
            _may_nest_too_deep(text) and _nests_deeper_than(document, MAX_NESTING)
        ):
            return _as_written(text)
        return html


def sanitise_html(html: str, *, own_origin: str | None = None) -> str:
    """`html` with only the allowed tags, attributes and URL schemes. With `own_origin` (email),
    relative URLs are made absolute on it and raw <img> from elsewhere lose their source."""
    email_options: dict[str, Any] = {}
    if own_origin is not None:
        served = _served_by(own_origin)
        email_options = {
            "attribute_filter": lambda tag, name, value: (
                None if tag == "img" and name == "src" and not served(value) else value
            ),
            "url_relative": ("rewrite_with_base", own_origin + "/"),
        }
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        set_tag_attribute_values=FORCED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel=LINK_REL,
        **email_options,
    )


def site_origin() -> str:
    """SITE_URL's scheme and host ("https://ybiyri.example.org"): what ybiyri itself serves."""
    site = urlsplit(settings.SITE_URL)
    return f"{site.scheme}://{site.netloc}"


def render_markdown(text: str, *, external_images: bool = True) -> SafeString:
    """Render Markdown written by people into HTML that is safe to embed in pages, mails and feeds.

    With external_images=False (email, where an image from elsewhere tells its host who read the
    mail and when), only images served by ybiyri itself (SITE_URL's origin) stay images; the others
    become links to them, and relative URLs are made absolute on SITE_URL.
    """
    own_origin = None if external_images else site_origin()
    html = sanitise_html(gfm_html(text, own_origin=own_origin), own_origin=own_origin)
    return mark_safe(html)  # noqa: S308 — sanitised by nh3 just above

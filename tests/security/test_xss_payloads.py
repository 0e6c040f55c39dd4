"""The XSS corpus and its checker: the checker must catch every payload left raw, and accept the
same payloads once escaped or sanitised."""

import nh3
import pytest
from django.utils.html import escape

from tests.security.xss_payloads import ALL_XSS_PAYLOADS, XSS_PAYLOADS, assert_inert, dangerous_fragments


def test_the_corpus_holds_at_least_thirty_distinct_payloads():
    assert len(set(XSS_PAYLOADS)) >= 30
    assert len(set(ALL_XSS_PAYLOADS)) == len(ALL_XSS_PAYLOADS)


# "<scr<script>ipt>" is aimed at filters that delete "<script>" once; left alone, a browser reads
# it as an unknown "scr<script" element, so raw it is harmless and the checker rightly passes it.
RAW_HTML_PAYLOADS = [p for p in XSS_PAYLOADS if p.startswith("<") and not p.startswith("<scr<")]


@pytest.mark.parametrize("payload", RAW_HTML_PAYLOADS)
def test_the_checker_catches_raw_html_payloads(payload):
    assert dangerous_fragments(f"<p>{payload}</p>")


@pytest.mark.parametrize("payload", ALL_XSS_PAYLOADS)
def test_escaped_payloads_are_inert(payload):
    assert_inert(f'<p title="{escape(payload)}">{escape(payload)}</p>')


@pytest.mark.parametrize("payload", ALL_XSS_PAYLOADS)
def test_sanitised_payloads_are_inert(payload):
    assert_inert(nh3.clean(payload))


def test_the_pages_own_scripts_pass_only_with_the_responses_nonce():
    page = '<script src="/static/js/app.js" nonce="abc123" defer></script>'
    assert_inert(page, nonce="abc123")
    assert dangerous_fragments(page, nonce="other")
    assert dangerous_fragments("<script>alert(1)</script>", nonce="abc123")

"""Content Security Policy (issue 10, item 13): scripts and styles only from the product's static files.

The header forbids inline script, inline style and event-handler attributes, so the templates must hold
none (the sandbox is a separate application with its own pages and is not checked here). The browser walk
in test_pages_fit_browser.py fails on any CSP violation the pages still cause.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(p for p in ROOT.glob("**/templates/**/*.html")
                   if ".venv" not in p.parts and "sandbox" not in p.relative_to(ROOT).parts[:1])
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.I)
STYLE_ELEMENT = re.compile(r"<style[\s>]", re.I)


@pytest.mark.django_db
def test_pages_carry_a_policy_without_unsafe_inline(admin_client):
    response = admin_client.get("/")
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in policy
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "Content-Security-Policy" in admin_client.get("/accounts/login/")


def test_templates_hold_no_inline_script_style_or_handler():
    assert len(TEMPLATES) > 50
    found = []
    for path in TEMPLATES:
        text = path.read_text()
        for name, pattern in (("inline <script>", INLINE_SCRIPT), ("on* handler", HANDLER),
                              ("style attribute", STYLE_ATTRIBUTE), ("<style> element", STYLE_ELEMENT)):
            found += [f"{path.relative_to(ROOT)}: {name}" for _ in pattern.finditer(text)]
    assert not found, "\n".join(found)


def test_the_django_52_fallback_sends_the_same_header(rf, settings):
    from django.http import HttpResponse

    from config.csp import ContentSecurityPolicyMiddleware, policy_header

    response = ContentSecurityPolicyMiddleware(lambda request: HttpResponse("ok"))(rf.get("/"))
    assert response["Content-Security-Policy"] == policy_header(settings.SECURE_CSP)
    assert response["Content-Security-Policy"].startswith("default-src 'self'; script-src 'self'")

"""The README's first integration, walked at a desktop, a laptop and a phone width.

Every page must fit its viewport (wide tables scroll inside themselves, never the page), have a heading,
and log no console errors (a missing favicon or a script blocked by the Content Security Policy counts).
Screenshots of every page at every width are kept under var/artifacts/ for a human to look at.
"""

from __future__ import annotations

from typing import Any

import pytest

from connections.models import Route, Task, Transformer
from tests.connections.routes.sandbox_support import copy_route, run_inline
from tests.fixtures.browser import screenshot
from tests.fixtures.sandbox import grant_client

WIDTHS = (1440, 1024, 390)


def _pages(route: Route) -> list[tuple[str, str]]:
    """(name, path) of every page the first integration visits, in the README's order."""
    run = route.runs.order_by("-pk").first()
    task = Task.objects.filter(run_id=run.run_id).order_by("pk").first() if run else None
    incoming, outgoing, client = route.incoming, route.outgoing, route.incoming.http_client
    transformer = route.ordered_transformers()[0]
    nested = Transformer.objects.create(name="Big orders", steps=[{"type": "conditional", "params": {
        "condition": "Amount > `1000`", "then": [{"type": "set_value", "params": {"path": "Big", "value": True}}],
        "else": []}}])
    pages = [
        ("dashboard", "/"),
        ("clients", "/clients/"),
        ("client", f"/clients/{client.pk}/"),
        ("client-edit", f"/clients/{client.pk}/edit/"),
        ("incoming-list", "/connections/incoming/"),
        ("incoming-create", "/connections/incoming/create/"),
        ("incoming", f"/connections/incoming/{incoming.pk}/"),
        ("transformers", "/connections/transformers/"),
        ("transformer", f"/connections/transformers/{transformer.pk}/"),
        ("transformer-nested", f"/connections/transformers/{nested.pk}/"),
        ("dry-run", f"/connections/routes/{route.pk}/dry-run/?limit=5"),
        ("outgoing-list", "/connections/outgoing/"),
        ("outgoing-create", "/connections/outgoing/create/"),
        ("outgoing", f"/connections/outgoing/{outgoing.pk}/"),
        ("routes", "/connections/routes/"),
        ("route-create", "/connections/routes/create/"),
        ("route", f"/connections/routes/{route.pk}/"),
        ("tasks", "/connections/tasks/"),
        ("task-previews", "/connections/tasks/?scope=previews"),
        ("auth-log", "/clients/logs/auth/"),
        ("request-log", "/clients/logs/requests/"),
        ("users", "/users/"),
        ("two-factor", "/accounts/2fa/"),
    ]
    if run:
        pages.append(("run", f"/connections/runs/{run.run_id}/"))
    if task:
        pages.append(("task", f"/connections/tasks/{task.pk}/"))
    return pages


def _check_page(page: Any, url: str, name: str, width: int, errors: list[str]) -> list[str]:
    """Open one page; return what is wrong with it."""
    errors.clear()
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    problems: list[str] = []
    if response is None or response.status >= 400:
        problems.append(f"{name}: HTTP {response.status if response else '?'}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        culprit = page.evaluate("""() => {
            const w = window.innerWidth; let worst = null;
            for (const el of document.querySelectorAll('body *')) {
              const r = el.getBoundingClientRect();
              if (r.right > w + 1 && (!worst || r.width < worst.width))
                worst = {tag: el.tagName, cls: el.className, width: r.width};
            }
            return worst ? `${worst.tag}.${worst.cls}` : '';
        }""")
        problems.append(f"{name}@{width}: document {overflow}px wider than the viewport ({culprit})")
    if page.locator("h1").count() == 0 or not page.locator("h1").first.inner_text().strip():
        problems.append(f"{name}@{width}: no heading")
    problems.extend(f"{name}@{width}: console: {error}" for error in errors)
    screenshot(page, f"walk-{width}-{name}")
    return problems


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_first_integration_fits_every_width(chromium, live_server, admin_user, sandbox):
    source, target = sandbox.divisions
    client = grant_client(sandbox, "Exact Online sandbox", unlimited=True)
    route = copy_route(client, source, target, name="first integration")
    run_inline(route)
    pages = _pages(route)
    problems: list[str] = []
    for width in WIDTHS:
        context = chromium.new_context(viewport={"width": width, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message, errors=errors: errors.append(message.text)
                if message.type == "error" else None)
        page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
        problems += _check_page(page, f"{live_server.url}/accounts/login/", "login", width, errors)
        page.fill("input[name=login]", admin_user.username)
        page.fill("input[name=password]", "correct-horse-battery-staple")
        page.click("button[type=submit]")
        page.wait_for_selector("nav.sidenav")
        for name, path in pages:
            problems += _check_page(page, f"{live_server.url}{path}", name, width, errors)
        if width == 390:
            # The navigation is folded away on a phone and opens with its button.
            if page.locator("nav.sidenav ul").first.is_visible():
                problems.append("nav@390: the navigation is not folded away")
            else:
                page.click("[data-testid=nav-toggle]")
                if not page.locator("nav.sidenav ul").first.is_visible():
                    problems.append("nav@390: the navigation button does not open it")
                screenshot(page, "walk-390-nav-open")
        context.close()
    assert not problems, "\n".join(problems)

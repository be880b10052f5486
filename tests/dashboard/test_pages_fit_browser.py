"""The README's first integration, walked at a desktop, a laptop and a phone width.

Every page must fit its viewport (wide tables scroll inside themselves, never the page), have a heading,
and log no console errors (a missing favicon or a script blocked by the Content Security Policy counts).
Screenshots of every page at every width are kept under var/artifacts/ for a human to look at.
"""

from __future__ import annotations

import time
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
        ("incoming-edit", f"/connections/incoming/{incoming.pk}/edit/"),  # its URL preview with the long $select
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
        ("api-tokens", "/account/api-tokens/"),
        ("variables", "/settings/variables/"),
        ("export-import", "/settings/configuration/"),
    ]
    pages += _alert_pages(route)
    pages += _webhook_pages(route)
    if run:
        pages.append(("run", f"/connections/runs/{run.run_id}/"))
    if task:
        pages.append(("task", f"/connections/tasks/{task.pk}/"))
    return pages


def _alert_pages(route: Route) -> list[tuple[str, str]]:
    """Alerts, rules, channels and maintenance windows, each with a row (a long subject, a broken channel)."""
    from datetime import timedelta

    from django.utils import timezone

    from alerts.models import Alert, Channel, MaintenanceWindow, Notification, Rule

    channel = Channel.objects.create(name="Operations on Slack", kind=Channel.Kind.SLACK, daily_digest=True,
                                     last_error_at=timezone.now(), last_error="The webhook at hooks.slack.com answered "
                                     "HTTP 404.")
    rule = Rule.objects.create(name="Failed tasks in the first integration", kind=Rule.Kind.TASKS_FAILED,
                               route=route, threshold=5, percent=20)
    rule.channels.add(channel)
    alert = Alert.objects.create(rule=rule, key=f"route:{route.pk}", url=route.get_absolute_url(),
                                 subject=f"Route {route.name}: 11 of 11 tasks failed in run 1",
                                 detail="11 of 11 tasks failed (100%).")
    Notification.objects.create(alert=alert, channel=channel, channel_name=channel.name, event="fired", ok=False,
                                error=channel.last_error)
    MaintenanceWindow.objects.create(http_client=route.outgoing.http_client, starts_at=timezone.now(),
                                     ends_at=timezone.now() + timedelta(hours=2), reason="Exact Online upgrade")
    return [("alerts", "/alerts/"), ("alert", f"/alerts/{alert.pk}/"), ("alert-rules", "/alerts/rules/"),
            ("alert-rule-create", "/alerts/rules/create/"), ("alert-channels", "/alerts/channels/"),
            ("maintenance", "/alerts/maintenance/")]


def _webhook_pages(route: Route) -> list[tuple[str, str]]:
    """Connections → Webhooks: a hook with a failed delivery (a long error, a wide body), and the Exact client's hook
    with its subscriptions as Exact lists them."""
    import json

    from exact_online.webhooks import webhook_for
    from webhooks.models import Delivery, Rejection, Webhook

    hook = Webhook.objects.create(name="Shop orders", parser_config={"items_path": "orders"},
                                  validation={"hmac": {"header": "X-Signature", "prefix": "sha256="}})
    body = json.dumps({"orders": [{"id": i, "note": "x" * 300} for i in range(3)]}).encode()
    delivery = Delivery.objects.create(webhook=hook, body=body, size=len(body), content_type="application/json",
                                       status=Delivery.Status.FAILED, attempts=1,
                                       error="Parsing failed: " + "no items at orders[].lines; " * 12)
    Rejection.objects.create(webhook=hook, status=401, count=3, last_reason="bad signature")
    exact = webhook_for(route.incoming.http_client, create=True)
    assert exact is not None
    exact.config = {**exact.config, "divisions": [101001], "subscriptions": [
        {"id": "3f2b0c1e-0000-4000-8000-000000000001", "topic": "SalesInvoices", "division": 101001,
         "callback": exact.url, "ours": True}]}
    exact.save()
    return [("webhooks", "/connections/webhooks/"), ("webhook-create", "/connections/webhooks/create/"),
            ("webhook", hook.get_absolute_url()), ("delivery", delivery.get_absolute_url()),
            ("webhook-exact", exact.get_absolute_url())]


def _long_select(route: Route) -> None:
    """A $select of every Account property (item 5 of the consultant's day: it made the run page 15,000 px wide),
    on the Incoming and in its run's log as the reader writes it."""
    from connections.models import RunLogEntry
    from exact_online.catalog import catalog

    fields = ",".join(catalog()["crm/Accounts"].scalar_property_names)
    assert fields.count(",") >= 100
    incoming = route.incoming
    incoming.query = {**incoming.query, "$select": fields}
    incoming.save(update_fields=["query"])
    run = route.runs.order_by("-pk").first()
    line = f"Division 101001: reading crm/Accounts (full read) with $select={fields}&$top=1000"
    RunLogEntry.objects.create(run_id=run.run_id, level=20, message=line)


_SIDE_BY_SIDE = """() => {
    const steps = document.querySelector('.tf-layout > :first-child'), tester = document.querySelector('.tf-tester');
    if (!steps || !tester) return 'no editor or tester';
    const a = steps.getBoundingClientRect(), b = tester.getBoundingClientRect();
    return b.left >= a.right - 1 && b.top < a.bottom ? '' : `tester at ${b.left},${b.top}; steps end at ${a.right}`;
}"""


# One round trip per check: how far the document overflows the viewport, the narrowest element sticking out
# (the likely culprit), and the first heading's text.
_MEASURE = """() => {
    const w = window.innerWidth;
    const overflow = document.documentElement.scrollWidth - w;
    let culprit = '';
    if (overflow > 0) {
      let worst = null;
      for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.right > w + 1 && (!worst || r.width < worst.width))
          worst = {tag: el.tagName, cls: el.className, width: r.width};
      }
      culprit = worst ? `${worst.tag}.${worst.cls}` : '';
    }
    const h1 = document.querySelector('h1');
    return {overflow, culprit, heading: h1 ? h1.innerText.trim() : ''};
}"""


class Traffic:
    """Counts the page's requests in flight, so a check waits for htmx partials without networkidle's 500 ms."""

    def __init__(self, page: Any) -> None:
        self.in_flight = 0
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, request: Any) -> None:
        self.in_flight += 1

    def _ended(self, request: Any) -> None:
        self.in_flight = max(0, self.in_flight - 1)

    def settle(self, page: Any, timeout: float = 15.0) -> None:
        """Wait until no request has been in flight for two short looks in a row (htmx ``load`` triggers)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.in_flight} requests still in flight after {timeout:.0f} s")
            page.wait_for_timeout(50)  # lets Playwright deliver the request events
            quiet = quiet + 1 if self.in_flight == 0 else 0


def _check_widths(page: Any, traffic: Traffic, url: str, name: str, errors: list[str]) -> list[str]:
    """Open one page once, then look at it at every width; return what is wrong with it.

    The layout is recomputed on every viewport change (media queries; no script depends on the width), so
    one load per page serves all widths; console errors are those of that load.
    """
    errors.clear()
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    response = page.goto(url)
    traffic.settle(page)
    problems: list[str] = []
    if response is None or response.status >= 400:
        problems.append(f"{name}: HTTP {response.status if response else '?'}")
    for width in WIDTHS:
        if width != WIDTHS[0]:
            page.set_viewport_size({"width": width, "height": 900})
        found = page.evaluate(_MEASURE)
        if found["overflow"] > 0:
            problems.append(f"{name}@{width}: document {found['overflow']}px wider than the viewport "
                            f"({found['culprit']})")
        if not found["heading"]:
            problems.append(f"{name}@{width}: no heading")
        screenshot(page, f"walk-{width}-{name}")
    problems.extend(f"{name}: console: {error}" for error in errors)
    return problems


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_first_integration_fits_every_width(chromium, live_server, admin_user, sandbox):
    source, target = sandbox.divisions
    client = grant_client(sandbox, "Exact Online sandbox", unlimited=True)
    route = copy_route(client, source, target, name="first integration")
    # A dozen accounts (1 and 10-19) fill every page as well as 300 would, in a fraction of the time.
    route.incoming.query["$filter"] = "startswith(Email,'info1') and length(Email) le 22"
    route.incoming.save(update_fields=["query"])
    route_run = run_inline(route)
    assert route_run.status == route_run.Status.SUCCEEDED, route_run.status
    assert Task.objects.filter(run_id=route_run.run_id).count() == 11
    _long_select(route)
    pages = _pages(route)
    problems: list[str] = []
    context = chromium.new_context(viewport={"width": WIDTHS[0], "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    traffic = Traffic(page)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    problems += _check_widths(page, traffic, f"{live_server.url}/accounts/signup/", "signup-closed", errors)
    problems += _check_widths(page, traffic, f"{live_server.url}/accounts/login/", "login", errors)
    page.fill("input[name=login]", admin_user.username)
    page.fill("input[name=password]", "correct-horse-battery-staple")
    page.click("button[type=submit]")
    page.wait_for_selector("nav.sidenav")
    for name, path in pages:
        problems += _check_widths(page, traffic, f"{live_server.url}{path}", name, errors)
        if name == "transformer":  # the tester stays beside the steps on a laptop (item 7)
            page.set_viewport_size({"width": 1024, "height": 900})
            if beside := page.evaluate(_SIDE_BY_SIDE):
                problems.append(f"{name}@1024: the tester is not beside the steps ({beside})")
    # The navigation is folded away on a phone and opens with its button (the last page is still at 390 px).
    assert page.viewport_size["width"] == 390
    if page.locator("nav.sidenav ul").first.is_visible():
        problems.append("nav@390: the navigation is not folded away")
    else:
        page.click("[data-testid=nav-toggle]")
        if not page.locator("nav.sidenav ul").first.is_visible():
            problems.append("nav@390: the navigation button does not open it")
        screenshot(page, "walk-390-nav-open")
    context.close()
    assert not problems, "\n".join(problems)

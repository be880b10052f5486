"""The side navigation, mirroring the product's menus; entries whose view does not exist are left out."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

from .roles import Role

# (section, label, url name, lowest role)
NAVIGATION: list[tuple[str, str, str, Role]] = [
    ("", "Dashboard", "dashboard:home", Role.VIEWER),
    ("Clients", "HTTP Clients", "clients:list", Role.VIEWER),
    ("Connections", "Routes", "connections:route_list", Role.VIEWER),
    ("Connections", "Incoming", "connections:incoming_list", Role.VIEWER),
    ("Connections", "Outgoing", "connections:outgoing_list", Role.VIEWER),
    ("Connections", "Transformers", "connections:transformer_list", Role.VIEWER),
    ("Connections", "Webhooks", "webhooks:list", Role.VIEWER),
    ("Connections", "Storages", "connections:storage_list", Role.VIEWER),
    ("", "Tasks", "connections:task_list", Role.VIEWER),
    ("Alerts", "Alert history", "alerts:alert_list", Role.VIEWER),
    ("Alerts", "Rules", "alerts:rule_list", Role.VIEWER),
    ("Alerts", "Channels", "alerts:channel_list", Role.VIEWER),
    ("Alerts", "Maintenance windows", "alerts:maintenance_list", Role.VIEWER),
    ("Logs", "Auth log", "clients:auth_log", Role.ADMINISTRATOR),
    ("Logs", "Request log", "clients:request_log", Role.ADMINISTRATOR),
    ("Logs", "Audit trail", "audit:list", Role.ADMINISTRATOR),
    ("", "Users", "dashboard:users", Role.ADMINISTRATOR),
    ("Settings", "Environment variables", "configuration:variable_list", Role.VIEWER),
    ("Settings", "Export and import", "configuration:exchange", Role.EDITOR),
]


def navigation_for(role: Role, current_path: str) -> list[dict[str, Any]]:
    sections: list[dict[str, Any]] = []
    for section, label, url_name, needed in NAVIGATION:
        if role < needed:
            continue
        try:
            href = reverse(url_name)
        except NoReverseMatch:
            continue
        if not sections or sections[-1]["title"] != section or not section:
            sections.append({"title": section, "items": []})
        sections[-1]["items"].append({"label": label, "href": href, "active": False})
    _mark_active(sections, current_path)
    return sections


def _mark_active(sections: list[dict[str, Any]], current_path: str) -> None:
    """Highlight one item: the longest link the path starts with (the auth log is not also "HTTP Clients")."""
    items = [item for section in sections for item in section["items"]]
    matches = [item for item in items
               if (current_path == item["href"] if item["href"] == "/" else current_path.startswith(item["href"]))]
    if matches:
        max(matches, key=lambda item: len(item["href"]))["active"] = True

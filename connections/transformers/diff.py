"""What a step changed: a flat list of added, removed and changed paths between two JSON values."""

from __future__ import annotations

from typing import Any

__all__ = ["json_diff"]


def json_diff(before: Any, after: Any, *, limit: int = 200) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []

    def walk(old: Any, new: Any, where: str) -> None:
        if len(changes) >= limit:
            return
        if isinstance(old, dict) and isinstance(new, dict):
            for key, value in old.items():
                path = f"{where}.{key}" if where else str(key)
                if key not in new:
                    changes.append({"op": "remove", "path": path, "before": value})
                else:
                    walk(value, new[key], path)
            for key, value in new.items():
                if key not in old:
                    changes.append({"op": "add", "path": f"{where}.{key}" if where else str(key), "after": value})
            return
        if isinstance(old, list) and isinstance(new, list):
            for index in range(max(len(old), len(new))):
                path = f"{where}.{index}" if where else str(index)
                if index >= len(new):
                    changes.append({"op": "remove", "path": path, "before": old[index]})
                elif index >= len(old):
                    changes.append({"op": "add", "path": path, "after": new[index]})
                else:
                    walk(old[index], new[index], path)
            return
        if old != new or type(old) is not type(new):
            changes.append({"op": "change", "path": where, "before": old, "after": new})

    walk(before, after, "")
    return changes[:limit]

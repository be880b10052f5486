"""Evaluating the rules (beat, on a worker): open an alert once per incident, repeat it at most every
``repeat_minutes`` while it lasts, resolve it when it clears; tell every channel of the rule each time.

Each channel is tried on its own: a failure is recorded (``Notification.ok=False``, ``Channel.last_error``)
and the others still get the message. A rule whose evaluation fails is logged and skipped; the rest go on.
What a maintenance window covers neither fires nor resolves while the window lasts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .channels import ChannelError, Message, send
from .maintenance import window_for
from .models import Alert, Channel, Notification, Rule
from .rules import findings_for

__all__ = ["evaluate", "evaluate_rule", "notify", "send_digest", "send_test"]

log = logging.getLogger(__name__)

Sender = Callable[[Channel, Message], None]


def _message(alert: Alert, event: str) -> Message:
    return Message(event=event, subject=alert.subject, detail=alert.detail, url=alert.url, rule=alert.rule.name,
                   kind=alert.rule.kind, alert_id=alert.pk, key=alert.key,
                   at=alert.resolved_at if event == Notification.Event.RESOLVED else timezone.now())


def deliver(channel: Channel, message: Message, *, alert: Alert | None = None, sender: Sender = send) -> Notification:
    """Send to one channel and record the outcome; never raises for the channel's own failure."""
    now = timezone.now()
    try:
        sender(channel, message)
    except ChannelError as exc:
        error = str(exc)
    except Exception as exc:  # an unexpected failure of one channel must not stop the others; recorded
        log.exception("alert channel %s failed", channel.pk)
        error = f"Unexpected error: {type(exc).__name__}"
    else:
        Channel.objects.filter(pk=channel.pk).update(last_ok_at=now)
        return Notification.objects.create(alert=alert, channel=channel, channel_name=channel.name,
                                           event=message.event, ok=True)
    Channel.objects.filter(pk=channel.pk).update(last_error_at=now, last_error=error[:2000])
    return Notification.objects.create(alert=alert, channel=channel, channel_name=channel.name, event=message.event,
                                       ok=False, error=error[:2000])


def notify(alert: Alert, event: str, *, sender: Sender = send) -> list[Notification]:
    """Tell every enabled channel of the alert's rule."""
    message = _message(alert, event)
    return [deliver(channel, message, alert=alert, sender=sender)
            for channel in alert.rule.channels.filter(enabled=True).order_by("pk")]


def _suppressed(route_ids: list[int], client_ids: list[int], now: datetime) -> bool:
    return window_for(route_ids=route_ids, client_ids=client_ids, at=now) is not None


def evaluate_rule(rule: Rule, now: datetime | None = None, *, sender: Sender = send) -> dict[str, int]:
    """Open, repeat and resolve the alerts of one rule from what it sees now."""
    now = now or timezone.now()
    counts = {"fired": 0, "repeated": 0, "resolved": 0, "suppressed": 0}
    findings = {f.key: f for f in findings_for(rule, now)}
    open_alerts = {a.key: a for a in rule.alerts.open()}
    held = set()  # keys in a maintenance window: leave their alerts as they are
    for key, finding in list(findings.items()):
        if _suppressed(finding.route_ids, finding.client_ids, now):
            held.add(key)
            counts["suppressed"] += 1
            del findings[key]
    for key, finding in findings.items():
        alert = open_alerts.get(key)
        if alert is None:
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(rule=rule, key=key, subject=finding.subject[:300],
                                                 detail=finding.detail, url=finding.url[:500], opened_at=now,
                                                 scope={"routes": finding.route_ids, "clients": finding.client_ids},
                                                 last_seen_at=now, last_notified_at=now, notified_count=1)
            except IntegrityError:  # another evaluation opened it a moment ago
                continue
            notify(alert, Notification.Event.FIRED, sender=sender)
            counts["fired"] += 1
            continue
        Alert.objects.filter(pk=alert.pk).update(last_seen_at=now, subject=finding.subject[:300], detail=finding.detail)
        alert.subject, alert.detail = finding.subject[:300], finding.detail
        due = rule.repeat_minutes and (alert.last_notified_at is None
                                       or alert.last_notified_at <= now - timedelta(minutes=rule.repeat_minutes))
        # Claim the repeat (one filtered UPDATE), so two evaluations at once do not both send it.
        if due and Alert.objects.filter(pk=alert.pk, last_notified_at=alert.last_notified_at).update(
                last_notified_at=now, notified_count=alert.notified_count + 1):
            notify(alert, Notification.Event.REPEAT, sender=sender)
            counts["repeated"] += 1
    for key, alert in open_alerts.items():
        if key in findings or key in held or _suppressed(alert.scope.get("routes", []),
                                                         alert.scope.get("clients", []), now):
            continue  # still there, or in a window: it resolves (and says so) once the window is over
        if Alert.objects.filter(pk=alert.pk, status=Alert.Status.OPEN).update(status=Alert.Status.RESOLVED,
                                                                            resolved_at=now):
            alert.status, alert.resolved_at = Alert.Status.RESOLVED, now
            if rule.notify_resolved:
                notify(alert, Notification.Event.RESOLVED, sender=sender)
            counts["resolved"] += 1
    return counts


def evaluate(now: datetime | None = None, *, sender: Sender = send) -> dict[str, int]:
    """Every enabled rule once (the beat job); a rule that fails to evaluate is logged and the rest go on."""
    total = {"rules": 0, "fired": 0, "repeated": 0, "resolved": 0, "suppressed": 0, "errors": 0}
    for rule in Rule.objects.filter(enabled=True).select_related("route").order_by("pk"):
        try:
            counts = evaluate_rule(rule, now, sender=sender)
        except Exception:  # one rule's bug must not silence every other rule; logged with its traceback
            log.exception("alert rule %s could not be evaluated", rule.pk)
            total["errors"] += 1
            continue
        total["rules"] += 1
        for name, n in counts.items():
            total[name] += n
    # Rules that were switched off or deleted leave no alert open for ever.
    Alert.objects.open().filter(rule__enabled=False).update(status=Alert.Status.RESOLVED, resolved_at=timezone.now())
    return total


def send_test(channel: Channel, *, sender: Sender = send) -> Notification:
    """The *Send test* button: one message through the channel, recorded like any other."""
    message = Message(event=Notification.Event.TEST, subject=f"Test message from Exact Dash to {channel.name}",
                      detail="If you can read this, alerts reach this channel.", url="/alerts/",
                      at=timezone.now())
    return deliver(channel, message, sender=sender)


def send_digest(now: datetime | None = None, *, sender: Sender = send) -> int:
    """The daily digest: what opened, what is still open and what resolved in the last 24 hours, to every
    channel that asked for it. Returns how many channels were sent to."""
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    opened = list(Alert.objects.filter(opened_at__gte=since).select_related("rule")[:50])
    still_open = list(Alert.objects.open().filter(opened_at__lt=since).select_related("rule")[:50])
    resolved = Alert.objects.filter(resolved_at__gte=since).count()
    lines = [f"{len(opened)} alert(s) opened, {resolved} resolved in the last 24 hours; "
             f"{Alert.objects.open().count()} open now."]
    lines += [f"• {'OPEN' if a.is_open else 'resolved'}: {a.subject}" for a in opened]
    lines += [f"• still open since {timezone.localtime(a.opened_at):%Y-%m-%d %H:%M}: {a.subject}" for a in still_open]
    message = Message(event=Notification.Event.DIGEST, subject="Exact Dash · alerts of the last 24 hours",
                      detail="\n".join(lines), url="/alerts/", at=now)
    channels = list(Channel.objects.filter(enabled=True, daily_digest=True).order_by("pk"))
    for channel in channels:
        deliver(channel, message, sender=sender)
    return len(channels)

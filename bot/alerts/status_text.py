"""How an alert's progress and the list of alerts read to coordinators, in chat and at the
terminal."""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from bot.alerts.status import AlertStatus
from bot.core.i18n import Catalog, format_when
from bot.reach.suppression import DEFAULT_K, Suppressor


def progress_text(
    catalog: Catalog, language: str, status: AlertStatus, tz: ZoneInfo, k: int = DEFAULT_K
) -> str:
    """The coordinator's view of an alert going out: sent, failed, remaining, ETA."""

    def t(key: str, **params: object) -> str:
        return catalog.text(language, key, **params)

    def n(count: int) -> str:
        return html.escape(Suppressor(k).count(count).text(language))

    eta = ""
    if status.state == "sending" and status.remaining and status.eta_seconds is not None:
        eta = t("alerts.eta", minutes=max(1, round(status.eta_seconds / 60)))
    elif status.state == "scheduled":
        eta = t("alerts.starts_at", when=format_when(status.deliver_at, language, tz))
    dropped = sum(status.dropped.values())
    return t(
        "alerts.progress",
        id=status.id,
        topic=t(f"topic.{status.topic}"),
        state=t(f"alerts.state_{status.state}"),
        recipients=n(status.recipients),
        sent=n(status.sent),
        failed=n(status.failed),
        remaining=n(status.remaining),
        dropped=n(dropped),
        acks=n(status.acknowledged),
        eta=eta,
    )


def list_text(
    catalog: Catalog,
    language: str,
    alerts: list[AlertStatus],
    tz: ZoneInfo,
    k: int = DEFAULT_K,
) -> str:
    """Recent alerts, one line each."""
    suppressor = Suppressor(k)
    if not alerts:
        return catalog.text(language, "alerts.list_empty")
    lines = [catalog.text(language, "alerts.list_title")]
    for status in alerts:
        lines.append(
            catalog.text(
                language,
                "alerts.list_line",
                id=status.id,
                topic=catalog.text(language, f"topic.{status.topic}"),
                state=catalog.text(language, f"alerts.state_{status.state}"),
                when=format_when(status.deliver_at, language, tz),
                sent=html.escape(suppressor.count(status.sent).text(language)),
                recipients=html.escape(suppressor.count(status.recipients).text(language)),
                acks=html.escape(suppressor.count(status.acknowledged).text(language)),
            )
        )
    return "\n".join(lines)

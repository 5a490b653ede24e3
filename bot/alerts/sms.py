"""Alerts as SMS: a short text per language, its cost in parts, and who gets it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.sms.parts import MAX_PARTS, parts
from bot.core.i18n import Catalog
from bot.delivery.outbox import SMS, reachable
from bot.residents.models import Resident

# A coordinator's own SMS text may use the channel's ceiling; Sabai's cut of the full text
# must fit two parts, or it would say too little for what it costs.
AUTO_MAX_PARTS = 2
PREFIX = "sms:"


class SmsTextError(ValueError):
    """No SMS text can be made for `language`; `key` names the message explaining why."""

    def __init__(self, key: str, language: str, parts: int) -> None:
        super().__init__(key)
        self.key = key
        self.language = language
        self.parts = parts


def sms_text(
    catalog: Catalog, language: str, topic: str, urgent: bool, full: str, short: str | None
) -> str:
    """The SMS residents of `language` get: the coordinator's short text, else the full one."""
    key = "sms.alert_urgent" if urgent else "sms.alert"
    head = catalog.text(language, key, topic=catalog.text(language, f"topic.{topic}"), text="")
    if short is not None and short.strip():
        text = f"{head}{short.strip()}"
        if parts(text) > MAX_PARTS:
            raise SmsTextError("alerts.sms_too_long", language, parts(text))
        return text
    text = f"{head}{' '.join(full.split())}"
    if parts(text) > AUTO_MAX_PARTS:
        raise SmsTextError("alerts.sms_needed", language, parts(text))
    return text


def sms_texts(
    catalog: Catalog,
    topic: str,
    urgent: bool,
    texts: Mapping[str, str],
    short: Mapping[str, str],
) -> dict[str, str]:
    """{"sms:bn": …, "sms:en": …} for every language the alert is written in."""
    return {
        PREFIX + language: sms_text(catalog, language, topic, urgent, text, short.get(language))
        for language, text in texts.items()
        if text.strip()
    }


@dataclass(frozen=True)
class SmsCost:
    """SMS an alert costs in one language: recipients × parts."""

    language: str
    recipients: int
    parts: int

    @property
    def messages(self) -> int:
        return self.recipients * self.parts


async def sms_cost(
    session: AsyncSession,
    audience: Sequence[ColumnElement[bool]],
    payloads: Mapping[str, str],
    fallback: str = "bn",
) -> list[SmsCost]:
    """Per language, how many SMS residents the alert reaches and how many SMS that makes."""
    query = (
        select(Resident.language, func.count())
        .where(*reachable(SMS), *audience)
        .group_by(Resident.language)
    )
    by_language: dict[str, int] = {}
    for language, count in await session.execute(query):
        key: str = language if language and PREFIX + language in payloads else fallback
        by_language[key] = by_language.get(key, 0) + int(count)
    return [
        SmsCost(language, count, parts(payloads[PREFIX + language]))
        for language, count in sorted(by_language.items())
        if PREFIX + language in payloads
    ]

"""Incoming SMS: keywords first, then the same conversation Telegram residents talk to.

The conversation (bot/residents/conversation.py) keeps deciding what a reply means; this
module only turns its state into short SMS prompts, since Telegram's screens (buttons, long
notices, slash commands) do not fit one SMS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas.tree import describe
from bot.channels.sms.identity import chat_id_of
from bot.channels.sms.keywords import Keyword, keyword_of
from bot.channels.sms.render import fit, plain
from bot.channels.sms.reports import drop_pending_for
from bot.core.base import utcnow
from bot.core.i18n import format_when, localize_digits
from bot.core.screens import Reply
from bot.delivery.outbox import UNREACHABLE
from bot.residents.conversation import Context, Conversation, Expired
from bot.residents.events import EventKind, record
from bot.residents.models import Resident
from bot.residents.routing import TypedText
from bot.residents.service import TelegramUser

log = logging.getLogger("sabai.sms")

# Longer than 10 concatenated parts is no answer to anything Sabai asks.
MAX_INCOMING = 1600
STOPPED = "stopped"
DROPPED_STOP = "stopped by resident"


@dataclass
class Answer:
    """What to send back to one incoming SMS (possibly nothing)."""

    number: str
    texts: list[str] = field(default_factory=list)


class SmsInbox:
    """Answers SMS from residents, one short transaction per message."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], ctx: Context, typing: TypedText
    ) -> None:
        self.sessions = sessions
        self.ctx = ctx
        self.typing = typing

    async def receive(self, number: str, text: str, now: datetime | None = None) -> Answer:
        """Handle `text` from the normalized `number`; the caller sends the answer afterwards."""
        now = now or utcnow()
        text = text.strip()
        if not text:
            log.warning("empty SMS ignored")
            return Answer(number)
        async with self.sessions() as session:
            resident = await session.scalar(
                select(Resident).where(Resident.phone == number, Resident.channel == "sms")
            )
            conversation = Conversation(
                session, self.ctx, TelegramUser(0, phone=number), resident, now, False
            )
            if len(text) > MAX_INCOMING:
                log.warning("overlong SMS ignored", extra={"chars": len(text)})
                texts = [conversation.t("sms.too_long")]
            else:
                texts = await self._answer(conversation, text)
            await session.commit()
        return Answer(number, [fit(plain(t)) for t in texts if t])

    async def _answer(self, conversation: Conversation, text: str) -> list[str]:
        resident = conversation.resident
        keyword = keyword_of(text)
        if keyword is Keyword.STOP:
            return await self._stop(conversation)
        if keyword is Keyword.START:
            await self._resume_shared(conversation)
        if resident is not None and resident.status == UNREACHABLE:
            # A message from the number shows it works again after failed deliveries.
            resident.status, resident.sms_failures = "active", 0
            record(conversation.session, EventKind.UNBLOCKED_BOT, resident)
        if resident is not None and resident.status == STOPPED:
            if keyword is Keyword.START:
                resident.status = "active"
                record(conversation.session, EventKind.UNBLOCKED_BOT, resident)
                return [conversation.t("sms.resumed")]
            return []  # STOP means nothing more, not even a reminder, until START
        if keyword is not None and keyword not in (Keyword.START, Keyword.JOIN):
            return await self._keyword(conversation, keyword)
        if keyword is not None or resident is None:
            if conversation.onboarded:
                return [conversation.t("sms.help")]
            if resident is None and keyword is None:
                # Any first message starts sign-up; a language word or number picks it at once.
                return await self._typed(conversation, text)
            return self._prompt(conversation, Reply())
        return await self._typed(conversation, text)

    async def _typed(self, conversation: Conversation, text: str) -> list[str]:
        before = conversation.resident
        was_onboarded = conversation.onboarded
        awaiting = before.awaiting or "" if before is not None else ""
        language = conversation.language
        wanted_area = (
            before is not None
            and before.language is not None
            and (awaiting.startswith(("br:", "pk:")) or not _area_known(before))
        )
        try:
            routed = await self.typing.route(conversation, text)
        except Expired:
            return [conversation.t("sms.not_understood")]
        r = conversation.resident
        if before is not None and r is None:
            key = "sms.deleted" if was_onboarded else "sms.declined"
            return [self.ctx.catalog.text(language, key)]
        if r is None:
            return self._prompt(conversation, routed.reply)
        if not was_onboarded and conversation.onboarded:
            return [conversation.t("sms.joined")]
        if wanted_area and (r.awaiting or "").startswith("br:"):
            query = text[:40]
            return [
                conversation.t("sms.area_not_found", query=query),
                conversation.t("sms.area_prompt"),
            ]
        if not was_onboarded:
            return self._prompt(conversation, routed.reply)
        if awaiting == "fg":
            return [conversation.t("sms.kept")]
        if awaiting == "lg" and r.awaiting != "lg":
            return [plain(routed.reply.screens[0].text)] if routed.reply.screens else []
        if wanted_area and r.awaiting is None:
            return [conversation.t("sms.area_set", place=self._place(conversation))]
        if (r.awaiting or "").startswith("pk:") or r.awaiting == "lg":
            return self._prompt(conversation, routed.reply)
        return [conversation.t("sms.not_understood")]

    def _prompt(self, conversation: Conversation, reply: Reply) -> list[str]:
        """The question the resident's state asks next."""
        r = conversation.resident
        if r is None or r.language is None or r.awaiting == "lg":
            return [self.ctx.catalog.text(self.ctx.catalog.default_language, "sms.welcome")]
        awaiting = r.awaiting or ""
        if awaiting.startswith("pk:") and reply.screens:
            pick = reply.screens[-1]
            areas = [o for o in pick.options() if o.action.startswith("as:")]
            lines = [conversation.t("sms.area_pick")]
            for number, option in enumerate(areas, start=1):
                lines.append(
                    f"{localize_digits(str(number), conversation.language)} {option.label}"
                )
            return ["\n".join(lines)]
        if not _area_known(r) or awaiting.startswith(("br:", "pk:")):
            return [conversation.t("sms.area_prompt")]
        if r.consent_at is None:
            return [
                conversation.t("sms.area_set", place=self._place(conversation)),
                conversation.t("sms.privacy"),
            ]
        return [conversation.t("sms.help")]

    async def _keyword(self, conversation: Conversation, keyword: Keyword) -> list[str]:
        r = conversation.resident
        if keyword is Keyword.HELP:
            return [conversation.t("sms.help")]
        if keyword is Keyword.INFO:
            if r is None:
                return [conversation.t("sms.info_nothing")]
            return [self._info(conversation, r)]
        if r is None:
            return self._prompt(conversation, Reply())
        if keyword is Keyword.DELETE:
            r.awaiting = "fg"
            return [conversation.t("sms.delete_confirm")]
        if keyword is Keyword.LANG:
            r.awaiting = "lg"
            return [conversation.t("sms.welcome")]
        if keyword is Keyword.AREA and r.language is not None:
            r.awaiting = "br::0"
            return [conversation.t("sms.area_prompt")]
        return self._prompt(conversation, Reply())

    async def _stop(self, conversation: Conversation) -> list[str]:
        r = conversation.resident
        number = conversation.user.phone or ""
        # Assisted residents registered with this (shared) number are stopped with it.
        await conversation.session.execute(
            update(Resident)
            .where(Resident.phone == number, Resident.channel == "assisted")
            .where(Resident.status == "active")
            .values(status=STOPPED)
        )
        await drop_pending_for(conversation.session, chat_id_of(number), DROPPED_STOP)
        if r is None:
            return [conversation.t("sms.stopped")]
        r.status = STOPPED
        r.awaiting = None
        record(conversation.session, EventKind.BLOCKED_BOT, r, {"channel": "sms"})
        # Queued messages go too: STOP must win over an alert already in the outbox.
        return [conversation.t("sms.stopped")]

    async def _resume_shared(self, conversation: Conversation) -> None:
        await conversation.session.execute(
            update(Resident)
            .where(Resident.phone == (conversation.user.phone or ""))
            .where(Resident.channel == "assisted", Resident.status == STOPPED)
            .values(status="active")
        )

    def _place(self, conversation: Conversation) -> str:
        r = conversation.resident
        if r is None or r.area_code is None:
            return conversation.t("sms.area_unknown")
        area = self.ctx.tree.get(r.area_code)
        if area is None:
            return r.area_code
        return describe(area, self.ctx.tree.ancestors(r.area_code), conversation.language)

    def _info(self, conversation: Conversation, r: Resident) -> str:
        language = self.ctx.catalog.raw(r.language, f"lang.{r.language or 'bn'}")
        return conversation.t(
            "sms.info",
            phone=r.phone or "",
            lang_name=plain(language),
            place=self._place(conversation),
            since=format_when(r.created_at, conversation.language, self.ctx.tz),
        )


def _area_known(resident: Resident) -> bool:
    return resident.area_code is not None or resident.area_unlisted_text is not None

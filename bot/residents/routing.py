"""Who a typed message is for, decided by what the person's conversation waits for.

Typed text (words or a bare number, never a command) goes to exactly one feature: the alert
a coordinator is composing, the feedback a resident was asked for, the lesson on screen, or
the resident conversation (onboarding, area search, menu, settings). Every channel asks
here with the person's conversation and their words and renders the reply it gets back, so
the decision does not depend on which chat framework delivered the text. No aiogram here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.alerts.compose import Composer
from bot.alerts.drafts import waiting_for_text
from bot.core.screens import Reply, Screen
from bot.lessons.catalog import Library
from bot.lessons.flow import PREFIX as LESSON_PREFIX
from bot.lessons.flow import LessonFlow
from bot.lessons.pushes import QuietHours
from bot.residents.community import FEEDBACK_AWAITING, save_feedback
from bot.residents.conversation import Conversation
from bot.residents.registering import end, typed_number, waits_for_number
from bot.staff.language import staff_language
from bot.staff.roles import RANK, Role, Staff, staff_of

# Longer text is no answer to anything a resident is asked; reading it would only cost time.
MAX_TEXT = 1000
# What an alert draft reads of one message; compose.py says when the text itself is too long.
MAX_TYPED = 4000
MAX_FEEDBACK_TEXT = 1000


class Owner(StrEnum):
    ALERT_DRAFT = "alert_draft"
    FEEDBACK = "feedback"
    REGISTRATION = "registration"
    TOO_LONG = "too_long"
    LESSON = "lesson"
    CONVERSATION = "conversation"


def owner_of(text: str, awaiting: str | None, composing_alert: bool) -> Owner:
    """The feature that answers `text`, from what the conversation waits for."""
    if composing_alert:
        return Owner.ALERT_DRAFT
    if awaiting == FEEDBACK_AWAITING:
        return Owner.FEEDBACK
    if waits_for_number(awaiting):
        return Owner.REGISTRATION
    if len(text) > MAX_TEXT:
        return Owner.TOO_LONG
    if (awaiting or "").startswith(LESSON_PREFIX):
        return Owner.LESSON
    return Owner.CONVERSATION


@dataclass(frozen=True)
class Routed:
    """The answer to typed text; `staff` is set when its buttons are a staff member's."""

    owner: Owner
    reply: Reply
    staff: Staff | None = None


def composer_for(
    conversation: Conversation, staff: Staff, quiet: QuietHours, user_id: int
) -> Composer:
    """The alert composer for a coordinator's update."""
    ctx = conversation.ctx
    return Composer(
        conversation.session,
        ctx.catalog,
        staff_language(conversation),
        ctx.tree,
        ctx.index,
        ctx.tz,
        quiet,
        staff,
        user_id,
        conversation.now,
        ctx.small_count_k,
    )


class TypedText:
    """Routes typed text to the feature its conversation waits for, and returns the reply."""

    def __init__(self, library: Library, quiet: QuietHours | None = None) -> None:
        self.library = library
        self.quiet = quiet or QuietHours()

    async def route(self, conversation: Conversation, text: str) -> Routed:
        """Answer `text` typed by the person behind `conversation`."""
        coordinator = await self._composing_coordinator(conversation)
        resident = conversation.resident
        awaiting = resident.awaiting if resident is not None else None
        owner = owner_of(text, awaiting, coordinator is not None)
        if coordinator is not None:
            composer = composer_for(
                conversation, coordinator, self.quiet, conversation.user.telegram_id
            )
            outcome = await composer.text(text[:MAX_TYPED])
            return Routed(owner, Reply(outcome.screens, toast=outcome.toast), coordinator)
        if owner is Owner.FEEDBACK:
            assert resident is not None
            saved = save_feedback(
                conversation.session, resident, text[:MAX_FEEDBACK_TEXT], conversation.now
            )
            key = "community.feedback_thanks" if saved else "community.feedback_empty"
            return Routed(owner, Reply([Screen(conversation.t(key))]))
        if owner is Owner.REGISTRATION:
            trainer = await staff_of(conversation.session, conversation.user.telegram_id)
            if trainer is not None and conversation.user.phone is None:
                return Routed(owner, Reply([await typed_number(conversation, text)]), trainer)
            end(conversation)
            return Routed(Owner.CONVERSATION, await conversation.text(text))
        if owner is Owner.TOO_LONG:
            return Routed(owner, Reply([Screen(conversation.t("error.too_long"))]))
        if owner is Owner.LESSON:
            return Routed(owner, await LessonFlow(conversation, self.library).text(text))
        return Routed(owner, await conversation.text(text))

    async def _composing_coordinator(self, conversation: Conversation) -> Staff | None:
        """The person as a coordinator, when an alert they compose waits for typed text."""
        if conversation.user.phone is not None:
            return None  # staff work on Telegram; an SMS is always a resident's
        waits = conversation.composing_text
        telegram_id = conversation.user.telegram_id
        if waits is None:
            waits = await waiting_for_text(conversation.session, telegram_id, conversation.now)
        if not waits:
            return None
        staff = await staff_of(conversation.session, telegram_id)
        if staff is None or not any(RANK[g.role] >= RANK[Role.COORDINATOR] for g in staff.grants):
            return None
        return staff

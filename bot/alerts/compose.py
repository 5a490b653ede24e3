"""A coordinator composes an alert in chat, step by step; no aiogram here.

Steps: topic → urgency → areas (search by name in Bangla or English, or walk down the
hierarchy; several areas) → Bangla text → English text (or skip) → short SMS text per
language (only when residents on SMS are in the audience; or skip) → when → until when →
preview. The answers so far live in `alert_drafts`, keyed by the coordinator's Telegram id,
so a restart or another bot process continues where they were. Buttons carry actions
"al:<verb>[:<arg>]" (the router signs them); typed text answers the step waiting for it.
Nothing is queued until the coordinator confirms the preview: `confirm` then hands back the
finished AlertSpec and removes the draft, once.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.audience import minimal_areas, recipient_split
from bot.alerts.drafts import DRAFT_TTL, Draft
from bot.alerts.models import AlertDraft
from bot.alerts.preview_lines import sms_lines_of, sms_refusal, split_line
from bot.alerts.service import (
    AlertSpec,
    delivery_time,
    fallback_note_languages,
    message_screens,
    sms_preview,
    validate,
)
from bot.alerts.sms import SmsTextError, sms_text
from bot.alerts.vocabulary import MAX_AREAS, MAX_TEXT, TOPICS, URGENCIES, AlertError
from bot.areas.search import AreaIndex
from bot.areas.tree import AreaTree, describe, display_name
from bot.channels.sms.parts import MAX_PARTS
from bot.core.base import utcnow
from bot.core.i18n import Catalog, format_when, localize_digits, to_latin_digits
from bot.core.screens import Option, Screen, rows_of
from bot.lessons.pushes import QuietHours
from bot.reach.suppression import DEFAULT_K, Suppressor
from bot.staff.roles import Role, Staff

PREFIX = "al:"
SEARCH_LIMIT = 6
# A draft left this long is forgotten: the coordinator starts again with /alert.
VALIDITY_HOURS = (6, 24, 72)
# The draft steps asking for a short SMS text, and the language each asks for.
SMS_STEPS = {"sms_bn": "bn", "sms_en": "en"}
_MOMENT = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})\s*$")


@dataclass
class Outcome:
    """What one coordinator action produced: screens to show, or a spec to queue."""

    screens: list[Screen] = field(default_factory=list)
    confirmed: AlertSpec | None = None
    # A toast for a button press (e.g. "outside your area").
    toast: str | None = None


class Composer:
    """One coordinator's alert composition inside one database session."""

    def __init__(
        self,
        session: AsyncSession,
        catalog: Catalog,
        language: str,
        tree: AreaTree,
        index: AreaIndex,
        tz: ZoneInfo,
        quiet: QuietHours,
        staff: Staff,
        telegram_id: int,
        now: datetime | None = None,
        k: int = DEFAULT_K,
    ) -> None:
        self.k = k
        self.session = session
        self.catalog = catalog
        self.language = language
        self.tree = tree
        self.index = index
        self.tz = tz
        self.quiet = quiet
        self.staff = staff
        self.telegram_id = telegram_id
        self.now = now or utcnow()

    def t(self, key: str, **params: object) -> str:
        return self.catalog.text(self.language, key, **params)

    # -- storage --------------------------------------------------------------------------------

    async def load(self) -> Draft | None:
        """The coordinator's draft, or None (none, or left too long)."""
        row = await self.session.get(AlertDraft, self.telegram_id)
        if row is None or row.updated_at < self.now - DRAFT_TTL:
            return None
        return Draft.from_row(row)

    async def save(self, draft: Draft) -> None:
        row = await self.session.get(AlertDraft, self.telegram_id)
        if row is None:
            row = AlertDraft(staff_telegram_id=self.telegram_id, step=draft.step, data={})
            self.session.add(row)
        row.step = draft.step
        row.data = draft.to_json()
        row.updated_at = self.now

    async def discard(self) -> bool:
        """Remove the draft; True if this call removed it (a second tap gets False)."""
        result = await self.session.execute(
            delete(AlertDraft).where(AlertDraft.staff_telegram_id == self.telegram_id)
        )
        return bool(getattr(result, "rowcount", 0))

    # -- entry points ---------------------------------------------------------------------------

    async def start(self) -> Outcome:
        """Begin a new alert (a draft left earlier is replaced)."""
        draft = Draft()
        await self.save(draft)
        return Outcome([self.topic_screen()])

    async def text(self, typed: str) -> Outcome:
        """Answer the step that waits for typed text."""
        draft = await self.load()
        if draft is None:
            return Outcome([Screen(self.t("alerts.no_draft"))])
        typed = typed.strip()
        if draft.step == "areas":
            return await self._search(draft, typed)
        if draft.step in ("bn", "en"):
            if not typed:
                return Outcome([await self.screen_for(draft)])
            if len(typed) > MAX_TEXT:
                note = Screen(self.t("alerts.text_too_long", limit=MAX_TEXT))
                return Outcome([note, await self.screen_for(draft)])
            draft.texts[draft.step] = typed
            if draft.step == "bn":
                draft.step = "en"
            else:
                await self._after_texts(draft)
            await self.save(draft)
            return Outcome([await self.screen_for(draft)])
        if draft.step in SMS_STEPS:
            return await self._sms_text(draft, typed)
        if draft.step in ("when", "until"):
            moment = self._parse_moment(typed)
            if moment is None:
                note = Screen(self.t("alerts.bad_time"))
                return Outcome([note, await self.screen_for(draft)])
            return await self._set_time(draft, draft.step, moment)
        if draft.step == "preview":
            # A time typed at the preview is a new end: the one thing a preview may lack.
            moment = self._parse_moment(typed)
            if moment is not None:
                return await self._set_time(draft, "until", moment)
            return Outcome([Screen(self.t("alerts.typed_at_preview")), *await self.preview(draft)])
        note = Screen(self.t("alerts.tap_a_button"))
        return Outcome([note, await self.screen_for(draft)])

    async def action(self, token: str) -> Outcome:
        """Handle a button press ("al:…"); a stale one re-shows the current step."""
        verb, _, arg = token.removeprefix(PREFIX).partition(":")
        draft = await self.load()
        if draft is None:
            return Outcome([Screen(self.t("alerts.no_draft"))])
        if verb == "x":
            await self.discard()
            return Outcome([Screen(self.t("alerts.compose_cancelled"))])
        if verb == "t" and draft.step == "topic" and arg in TOPICS:
            draft.topic, draft.step = arg, "urgency"
        elif verb == "u" and draft.step == "urgency" and arg in URGENCIES:
            draft.urgency, draft.step = arg, "areas"
        elif verb == "b" and draft.step == "areas":
            if arg and self.tree.get(arg) is None:
                return Outcome([await self.screen_for(draft)])
            return Outcome([self.browse_screen(draft, arg or None)])
        elif verb == "a" and draft.step == "areas":
            return await self._add_area(draft, arg)
        elif verb == "c" and draft.step == "areas":
            draft.areas = []
        elif verb == "d" and draft.step == "areas" and draft.areas:
            draft.step = "bn"
        elif verb == "s" and draft.step == "en":
            draft.texts.pop("en", None)
            await self._after_texts(draft)
        elif verb == "ss" and draft.step in SMS_STEPS:
            draft.sms.pop(SMS_STEPS[draft.step], None)
            draft.step = self._after_sms(draft, draft.step)
        elif verb == "sm" and draft.step == "preview":
            draft.step = "sms_bn"
        elif verb == "w" and draft.step == "when" and arg == "now":
            return await self._set_time(draft, "when", None)
        elif verb == "v" and draft.step == "until" and arg.isdigit():
            start = self._send_at(draft)
            return await self._set_time(draft, "until", start + timedelta(hours=int(arg)))
        elif verb == "pv":
            return Outcome(toast=self.t("alerts.preview_only"))
        elif verb == "ok" and draft.step == "preview":
            return await self._confirm(draft)
        elif verb == "ch" and draft.step == "preview":
            draft.step = "until"
        elif verb == "ug" and draft.step == "preview":
            # Only urgent alerts go out in quiet hours; the button says so.
            draft.urgency, draft.send_at = "urgent", None
            await self.save(draft)
            return Outcome(await self.preview(draft))
        else:
            return Outcome([await self.screen_for(draft)])
        await self.save(draft)
        return Outcome([await self.screen_for(draft)])

    # -- screens --------------------------------------------------------------------------------

    def _cancel_row(self) -> tuple[Option, ...]:
        return (Option(self.t("alerts.cancel_compose"), f"{PREFIX}x"),)

    def topic_screen(self) -> Screen:
        options = [Option(self.t(f"topic.{topic}"), f"{PREFIX}t:{topic}") for topic in TOPICS]
        return Screen(self.t("alerts.ask_topic"), (*rows_of(options, 2), self._cancel_row()))

    def _area_label(self, code: str) -> str:
        area = self.tree.get(code)
        if area is None:
            return code
        return describe(area, self.tree.ancestors(code), self.language)

    def _chosen(self, draft: Draft) -> str:
        if not draft.areas:
            return self.t("alerts.no_areas_yet")
        return "\n".join(f"• {html.escape(self._area_label(code))}" for code in draft.areas)

    def areas_screen(self, draft: Draft) -> Screen:
        rows: list[tuple[Option, ...]] = [(Option(self.t("alerts.browse"), f"{PREFIX}b:"),)]
        if draft.areas:
            rows.append(
                (
                    Option(self.t("alerts.areas_done"), f"{PREFIX}d"),
                    Option(self.t("alerts.areas_clear"), f"{PREFIX}c"),
                )
            )
        rows.append(self._cancel_row())
        text = self.t("alerts.ask_areas", chosen=self._chosen(draft))
        return Screen(text, tuple(rows))

    def browse_screen(self, draft: Draft, code: str | None) -> Screen:
        """Children of an area (or the divisions) to walk down, and "the whole of" it to add."""
        children, _ = self.tree.children(code, 0, 200)
        children = [child for child in children if self._reachable(child.code)]
        options = [
            Option(
                display_name(child, self.language),
                f"{PREFIX}a:{child.code}" if child.level == "union" else f"{PREFIX}b:{child.code}",
            )
            for child in children
        ]
        rows: list[tuple[Option, ...]] = []
        area = self.tree.get(code) if code is not None else None
        if area is not None and self.staff.can(Role.COORDINATOR, area.code):
            whole = self.t("alerts.add_whole", name=display_name(area, self.language))
            rows.append((Option(whole, f"{PREFIX}a:{area.code}"),))
        rows.extend(rows_of(options, 2))
        nav = []
        if code is not None:
            parent = self.tree.get(code)
            up = parent.parent_code if parent is not None else None
            nav.append(Option(self.t("area.up"), f"{PREFIX}b:{up or ''}"))
        if draft.areas:
            nav.append(Option(self.t("alerts.areas_done"), f"{PREFIX}d"))
        if nav:
            rows.append(tuple(nav))
        rows.append(self._cancel_row())
        place = html.escape(self._area_label(code)) if code else self.t("alerts.country")
        return Screen(
            self.t("alerts.browse_in", place=place, chosen=self._chosen(draft)), tuple(rows)
        )

    def _reachable(self, code: str) -> bool:
        """An area the coordinator may alert, or one on the way down to such an area."""
        if self.staff.can(Role.COORDINATOR, code):
            return True
        return any(scope.startswith(code) for scope in self.staff.scopes(Role.COORDINATOR))

    async def screen_for(self, draft: Draft) -> Screen:
        """The screen of the step the draft is at."""
        step = draft.step
        if step == "topic":
            return self.topic_screen()
        if step == "urgency":
            options = [Option(self.t(f"alerts.urgency_{u}"), f"{PREFIX}u:{u}") for u in URGENCIES]
            return Screen(self.t("alerts.ask_urgency"), (tuple(options), self._cancel_row()))
        if step == "areas":
            return self.areas_screen(draft)
        if step == "bn":
            return Screen(self.t("alerts.ask_bn", limit=MAX_TEXT), (self._cancel_row(),))
        if step == "en":
            skip = (Option(self.t("alerts.skip_en"), f"{PREFIX}s"),)
            return Screen(self.t("alerts.ask_en"), (skip, self._cancel_row()))
        if step in SMS_STEPS:
            lang = SMS_STEPS[step]
            skip = (Option(self.t("alerts.skip_sms"), f"{PREFIX}ss"),)
            parts = localize_digits(str(MAX_PARTS), self.language)
            text = self.t("alerts.ask_sms", lang=self.t(f"alerts.lang_{lang}"), parts=parts)
            return Screen(text, (skip, self._cancel_row()))
        if step == "when":
            now = (Option(self.t("alerts.now"), f"{PREFIX}w:now"),)
            return Screen(self.t("alerts.ask_when", tz=self.tz.key), (now, self._cancel_row()))
        if step == "until":
            options = [
                Option(self.t("alerts.for_hours", hours=h), f"{PREFIX}v:{h}")
                for h in VALIDITY_HOURS
            ]
            return Screen(
                self.t("alerts.ask_until", tz=self.tz.key), (tuple(options), self._cancel_row())
            )
        return (await self.preview(draft))[-1]

    # -- steps ----------------------------------------------------------------------------------

    async def _search(self, draft: Draft, typed: str) -> Outcome:
        if not typed:
            return Outcome([self.areas_screen(draft)])
        found = self.index.search(typed[:80], limit=SEARCH_LIMIT * 5)
        matches = [m for m in found if self.staff.can(Role.COORDINATOR, m.code)][:SEARCH_LIMIT]
        if not matches:
            note = Screen(self.t("alerts.area_not_found", query=html.escape(typed[:80])))
            return Outcome([note, self.areas_screen(draft)])
        options = [Option(self._area_label(m.code), f"{PREFIX}a:{m.code}") for m in matches]
        rows = (*rows_of(options, 1), (Option(self.t("alerts.browse"), f"{PREFIX}b:"),))
        text = self.t("alerts.pick_area", query=html.escape(typed[:80]))
        return Outcome([Screen(text, (*rows, self._cancel_row()))])

    async def _add_area(self, draft: Draft, code: str) -> Outcome:
        if self.tree.get(code) is None:
            return Outcome([self.areas_screen(draft)])
        if not self.staff.can(Role.COORDINATOR, code):
            note = Screen(self.t("alerts.not_your_area"))
            return Outcome([note, self.areas_screen(draft)], toast=self.t("alerts.not_your_area"))
        if len(draft.areas) >= MAX_AREAS:
            return Outcome([self.areas_screen(draft)], toast=self.t("alerts.no_areas"))
        draft.areas = list(minimal_areas([*draft.areas, code]))
        await self.save(draft)
        return Outcome([self.areas_screen(draft)])

    async def _after_texts(self, draft: Draft) -> None:
        """Ask for short SMS texts when residents on SMS get the alert and it is too long."""
        try:
            await sms_preview(self.session, self.catalog, self.spec_of(draft))
        except AlertError:
            draft.step = "sms_bn"
            return
        draft.step = "when"

    def _after_sms(self, draft: Draft, step: str) -> str:
        if step == "sms_bn" and draft.texts.get("en"):
            return "sms_en"
        # Reached from the preview's button: back to it, its times already set.
        return "preview" if draft.expires_at else "when"

    async def _sms_text(self, draft: Draft, typed: str) -> Outcome:
        language = SMS_STEPS[draft.step]
        if not typed:
            return Outcome([await self.screen_for(draft)])
        try:
            sms_text(
                self.catalog, language, draft.topic or "", draft.urgency == "urgent", "", typed
            )
        except SmsTextError as exc:
            lang = self.t(f"alerts.lang_{language}")
            note = Screen(self.t(exc.key, lang=lang, parts=exc.parts))
            return Outcome([note, await self.screen_for(draft)])
        draft.sms[language] = typed
        draft.step = self._after_sms(draft, draft.step)
        await self.save(draft)
        return Outcome([await self.screen_for(draft)])

    def _send_at(self, draft: Draft) -> datetime:
        return datetime.fromisoformat(draft.send_at) if draft.send_at else self.now

    async def _set_time(self, draft: Draft, step: str, moment: datetime | None) -> Outcome:
        if step == "when":
            if moment is not None and moment <= self.now:
                note = Screen(self.t("alerts.time_past"))
                return Outcome([note, await self.screen_for(draft)])
            # None is "now": the time of confirming, not of this answer.
            draft.send_at = moment.isoformat() if moment is not None else None
            draft.step = "until"
        else:
            assert moment is not None
            if moment <= max(self._send_at(draft), self.now):
                note = Screen(self.t("alerts.until_before"))
                return Outcome([note, await self.screen_for(draft)])
            draft.expires_at = moment.isoformat()
            draft.step = "preview"
        await self.save(draft)
        if draft.step == "preview":
            return Outcome(await self.preview(draft))
        return Outcome([await self.screen_for(draft)])

    def _parse_moment(self, typed: str) -> datetime | None:
        """A local "YYYY-MM-DD HH:MM" (Bangla digits too) as an aware UTC moment."""
        match = _MOMENT.match(to_latin_digits(typed))
        if match is None:
            return None
        year, month, day, hour, minute = (int(part) for part in match.groups())
        try:
            return datetime(year, month, day, hour, minute, tzinfo=self.tz)
        except ValueError:
            return None

    def spec_of(self, draft: Draft) -> AlertSpec:
        return AlertSpec(
            topic=draft.topic or "",
            urgency=draft.urgency or "",
            area_codes=tuple(draft.areas),
            texts=dict(draft.texts),
            send_at=self._send_at(draft),
            expires_at=datetime.fromisoformat(draft.expires_at) if draft.expires_at else None,
            sms_texts=dict(draft.sms),
        )

    async def preview(self, draft: Draft) -> list[Screen]:
        """The alert exactly as residents will see it per language, then what and how many."""
        spec = self.spec_of(draft)
        screens = list(message_screens(self.catalog, spec, self.tz, f"{PREFIX}pv").values())
        split = await recipient_split(
            self.session, spec.topic, minimal_areas(spec.area_codes), spec.urgency, self.index
        )
        count = split.total
        deliver_at = delivery_time(spec, self.tz, self.quiet)
        if deliver_at <= self.now:
            when = self.t("alerts.when_now")
        else:
            when = format_when(deliver_at, self.language, self.tz)
        fallback = fallback_note_languages(spec)
        names = ", ".join(self.t(f"alerts.lang_{lang}") for lang in fallback)
        note = self.t("alerts.fallback_note", languages=names) if fallback else ""
        if draft.urgency == "normal" and deliver_at > spec.send_at:
            note += self.t(
                "alerts.quiet_note", quiet=localize_digits(str(self.quiet), self.language)
            )
        summary = self.t(
            "alerts.preview",
            topic=self.t(f"topic.{spec.topic}"),
            urgency=self.t(f"alerts.urgency_{spec.urgency}"),
            areas=self._chosen(draft),
            when=when,
            until=format_when(spec.expires_at, self.language, self.tz) if spec.expires_at else "",
            count=html.escape(Suppressor(self.k).count(count).text(self.language)),
            note=note,
        )
        summary += "\n" + split_line(self.t, self.language, self.k, split)
        sms_lines, by_sms = await sms_lines_of(
            self.session, self.catalog, self.t, self.language, spec, Suppressor(self.k)
        )
        summary += sms_lines
        change: tuple[Option, ...] = (Option(self.t("alerts.change_until"), f"{PREFIX}ch"),)
        if by_sms:
            change = (Option(self.t("alerts.write_sms"), f"{PREFIX}sm"), *change)
        if spec.expires_at is not None and deliver_at >= spec.expires_at:
            # It could never go out: say so before anyone taps Send, and offer the ways on.
            warning = self.t(
                "alerts.expires_in_quiet",
                quiet=localize_digits(str(self.quiet), self.language),
                when=format_when(deliver_at, self.language, self.tz),
            )
            rows: list[tuple[Option, ...]] = [change]
            if spec.urgency != "urgent":
                rows.append((Option(self.t("alerts.send_now_urgent"), f"{PREFIX}ug"),))
            rows.append(self._cancel_row())
            return [*screens, Screen(summary + "\n\n" + warning, tuple(rows))]
        buttons = (
            Option(self.t("alerts.confirm"), f"{PREFIX}ok"),
            Option(self.t("alerts.cancel_compose"), f"{PREFIX}x"),
        )
        return [*screens, Screen(summary, (buttons, change))]

    async def _confirm(self, draft: Draft) -> Outcome:
        spec = self.spec_of(draft)
        if draft.send_at is None:
            spec = replace(spec, send_at=self.now)
        try:
            validate(spec, lambda code: self.tree.get(code) is not None, self.tz, self.quiet)
        except AlertError as exc:
            return Outcome([Screen(self.t(exc.key, **exc.params)), *await self.preview(draft)])
        try:
            await sms_preview(self.session, self.catalog, spec)
        except AlertError as exc:
            # Refused while the draft still exists, so the coordinator can add the SMS text.
            return Outcome([Screen(sms_refusal(self.t, exc)), *await self.preview(draft)])
        # Removed here, in the same transaction the router commits before queueing: a second
        # tap (or a second process) finds no draft and queues nothing.
        if not await self.discard():
            return Outcome([Screen(self.t("alerts.no_draft"))])
        return Outcome(confirmed=spec)

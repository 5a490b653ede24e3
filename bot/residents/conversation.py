"""The resident's conversation: onboarding, menu, settings, own data. No aiogram here.

Where a resident is in the conversation is derived from their stored row (has a
language? an area? consent?) plus `Resident.awaiting`, the key of the screen that
is waiting for an answer. Any screen can be rebuilt from its key, so a typed number
can pick an option of the last screen, and nothing lives in process memory:
a restart or a second bot process continues the same conversation.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.areas.search import AreaIndex
from bot.areas.tree import AreaTree, AreaView, describe
from bot.core.base import utcnow
from bot.core.i18n import LANGUAGES, Catalog, is_plain_number, to_latin_digits
from bot.core.screens import Option, Reply, Screen, normalize_typed, rows_of
from bot.residents.area_picker import browse_areas, pick_areas
from bot.residents.events import EventKind, record
from bot.residents.models import Resident
from bot.residents.my_data import my_data_text
from bot.residents.service import ResidentService, TelegramUser

SEARCH_LIMIT = 6
# A resident's free-text area description is kept for coordinators, within reason.
UNLISTED_MAX = 200
MENU_ITEMS = ("lessons", "alerts", "settings", "mydata", "help")
LANGUAGE_LABELS = {"bn": "lang.bn", "en": "lang.en", "syl": "lang.syl"}
# Words that pick a language whatever language the resident types them in.
LANGUAGE_WORDS = {
    "bn": {"bn", "bangla", "bengali", "bangla language", "বাংলা"},
    "en": {"en", "english", "ইংরেজি", "ইংলিশ"},
    "syl": {"syl", "sylheti", "sileti", "siloti", "সিলেটি", "ছিলটি"},
}


class Expired(Exception):
    """A button or choice that no longer applies (stale, forged or from an old screen)."""


MenuAction = Callable[["Conversation"], Awaitable[Reply]]


@dataclass(frozen=True)
class Context:
    """What every conversation shares: strings, areas, timezone, and the features that
    plug into the menu and settings without this module importing them."""

    catalog: Catalog
    index: AreaIndex
    tree: AreaTree
    tz: ZoneInfo
    # Menu item → the feature that answers it (e.g. "lessons" → the lesson list).
    menu_actions: Mapping[str, MenuAction] = field(default_factory=dict)
    # Extra settings buttons: (string key of the label, action token).
    settings_options: tuple[tuple[str, str], ...] = ()
    # Counts from 1 to k-1 are shown to staff as "<k" (see bot/reach/suppression.py).
    small_count_k: int = 5

    def staff_count(self, n: int, language: str) -> str:
        """A count as staff may see it (HTML): "&lt;5" for a small one, local digits otherwise."""
        from bot.reach.suppression import Suppressor

        return html.escape(Suppressor(self.small_count_k).count(n).text(language))


class Conversation:
    """Handles one resident's update inside one database session."""

    def __init__(
        self,
        session: AsyncSession,
        ctx: Context,
        user: TelegramUser,
        resident: Resident | None,
        now: datetime | None = None,
        composing_text: bool | None = None,
    ) -> None:
        self.session = session
        # Whether an alert this person composes waits for typed text, when it was read
        # along with their row (None: not known yet; bot/residents/routing.py asks).
        self.composing_text = composing_text
        self.ctx = ctx
        self.user = user
        self.resident = resident
        self.now = now or utcnow()
        # Everything about the person was deleted during this update (declined or /forget).
        self.forgotten = False
        self.residents = ResidentService(session)
        self.areas = ctx.tree

    # ----- helpers -------------------------------------------------------------------

    @property
    def language(self) -> str:
        if self.resident and self.resident.language:
            return self.resident.language
        return self.ctx.catalog.default_language

    def t(self, key: str, **params: object) -> str:
        return self.ctx.catalog.text(self.language, key, **params)

    def _words(self, key: str) -> set[str]:
        words: set[str] = set()
        for lang in LANGUAGES:
            raw = self.ctx.catalog.raw(lang, key)
            words.update(normalize_typed(word) for word in raw.split(",") if word.strip())
        return words

    def _set_awaiting(self, key: str | None) -> None:
        if self.resident is not None:
            self.resident.awaiting = key

    @property
    def onboarded(self) -> bool:
        return self.resident is not None and self.resident.consent_at is not None

    def _area_known(self) -> bool:
        r = self.resident
        return r is not None and (r.area_code is not None or r.area_unlisted_text is not None)

    # ----- screens --------------------------------------------------------------------

    def language_screen(self, first_time: bool) -> Screen:
        options = [
            Option(self.ctx.catalog.raw(lang, LANGUAGE_LABELS[lang]), f"lang:{lang}")
            for lang in LANGUAGES
        ]
        key = "onboarding.welcome" if first_time else "language.prompt"
        # Before a language is chosen, greet in every language so anyone can start.
        if first_time:
            text = "\n\n".join(self.ctx.catalog.text(lang, key) for lang in ("bn", "en"))
        else:
            text = self.t(key)
        return Screen(text, rows_of(options, 3))

    async def browse_screen(self, code: str | None, page: int) -> Screen:
        found = browse_areas(self.areas, self.t, self.language, code, page)
        if found is None:
            raise Expired(f"{code}:{page}")
        screen, awaiting = found
        self._set_awaiting(awaiting)
        return screen

    def describe_place(self, area: AreaView, ancestors: list[AreaView]) -> str:
        return html.escape(describe(area, ancestors, self.language))

    async def pick_screen(self, codes: list[str], query: str) -> Screen:
        found = pick_areas(self.areas, self.t, self.language, codes, query)
        if found is None:
            raise Expired(",".join(codes))
        screen, awaiting = found
        self._set_awaiting(awaiting)
        return screen

    def unlisted_screen(self) -> Screen:
        self._set_awaiting("ul")
        return Screen(
            self.t("area.unlisted_prompt"), ((Option(self.t("area.browse_list"), "br::0"),),)
        )

    def consent_screen(self) -> Screen:
        self._set_awaiting("cs")
        options = (Option(self.t("consent.yes"), "cy"), Option(self.t("consent.no"), "cn"))
        return Screen(self.t("privacy.notice") + "\n" + self.t("consent.question"), (options,))

    def with_menu_button(self, text: str) -> Screen:
        """A message with one button back to the menu, so no screen is a dead end."""
        return Screen(text, ((Option(self.t("settings.back"), "m:back"),),))

    def menu_screen(self, greeting: bool = False) -> Screen:
        self._set_awaiting(None)
        options = [Option(self.t(f"menu.{item}"), f"m:{item}") for item in MENU_ITEMS]
        name = self.resident.first_name if self.resident else None
        head = ""
        if greeting:
            head = (
                self.t("menu.greeting_named", name=html.escape(name))
                if name
                else self.t("menu.greeting")
            ) + "\n\n"
        return Screen(head + self.t("menu.title"), rows_of(options, 2))

    def settings_screen(self) -> Screen:
        self._set_awaiting("st")
        options = [
            Option(self.t("settings.language"), "st:language"),
            Option(self.t("settings.area"), "st:area"),
            *(Option(self.t(key), action) for key, action in self.ctx.settings_options),
            Option(self.t("settings.back"), "m:back"),
        ]
        return Screen(self.t("settings.title"), rows_of(options, 1))

    def forget_screen(self) -> Screen:
        self._set_awaiting("fg")
        options = (Option(self.t("forget.yes"), "fy"), Option(self.t("forget.no"), "fn"))
        return Screen(self.t("forget.confirm"), (options,))

    async def next_onboarding_screen(self) -> Screen:
        """The screen a resident who has not finished signing up should see now."""
        r = self.resident
        if r is None or r.language is None:
            return self.language_screen(first_time=True)
        if not self._area_known():
            return await self.rebuild(r.awaiting) or await self.browse_screen(None, 0)
        if r.consent_at is None:
            return self.consent_screen()
        return self.menu_screen()

    async def rebuild(self, key: str | None) -> Screen | None:
        """Build the screen a stored `awaiting` key stands for (None if it stands for none)."""
        if not key:
            return None
        kind, _, rest = key.partition(":")
        try:
            if kind == "br":
                code, _, page = rest.partition(":")
                return await self.browse_screen(code or None, int(page or 0))
            if kind == "pk":
                return await self.pick_screen([c for c in rest.split(",") if c], "")
        except (Expired, ValueError):
            return None
        simple = {
            "ul": self.unlisted_screen,
            "cs": self.consent_screen,
            "st": self.settings_screen,
            "fg": self.forget_screen,
        }
        builder = simple.get(kind)
        return builder() if builder else None

    # ----- entry points ---------------------------------------------------------------

    async def start(self, payload: str | None = None) -> Reply:
        if self.onboarded:
            return Reply([self.menu_screen(greeting=True)])
        return Reply([await self.next_onboarding_screen()])

    async def command(self, name: str) -> Reply:
        """Handle a slash command other than /start."""
        if name == "help":
            if self.onboarded:
                return Reply([self.with_menu_button(self.t("help.text"))])
            return Reply([Screen(self.t("help.text")), await self.next_onboarding_screen()])
        if name == "privacy":
            if self.onboarded:
                return Reply([self.with_menu_button(self.t("privacy.notice"))])
            upcoming = await self.next_onboarding_screen()
            if self.resident is not None and self.resident.awaiting == "cs":
                return Reply([upcoming])  # the consent screen carries the notice
            return Reply([Screen(self.t("privacy.notice")), upcoming])
        if name == "mydata":
            return Reply([Screen(await self.my_data())])
        if name == "forget":
            if self.resident is None:
                return Reply([Screen(self.t("forget.nothing"))])
            return Reply([self.forget_screen()])
        if name == "language":
            if self.resident is None:
                return Reply([self.language_screen(first_time=True)])
            self._set_awaiting("lg")
            return Reply([self.language_screen(first_time=False)])
        if name == "area":
            if self.resident is None or self.resident.language is None:
                return Reply([self.language_screen(first_time=True)])
            return Reply([await self.browse_screen(None, 0)])
        if name == "menu":
            if self.onboarded:
                return Reply([self.menu_screen()])
            return Reply([await self.next_onboarding_screen()])
        return Reply([Screen(self.t("error.unknown_command"))])

    async def action(self, token: str) -> Reply:
        """Handle a button press or a typed choice number; raise Expired for a stale one."""
        kind, _, arg = token.partition(":")
        if kind == "lang":
            return await self._choose_language(arg)
        if self.resident is None or self.resident.language is None:
            raise Expired(token)
        if kind == "br":
            code, _, page = arg.partition(":")
            if not is_plain_number(page) or (code and not is_plain_number(code)):
                raise Expired(token)
            return Reply([await self.browse_screen(code or None, int(page))])
        if kind == "as":
            return await self._choose_area(arg)
        if kind == "au":
            return Reply([self.unlisted_screen()])
        if kind in ("cy", "cn"):
            return await self._consent(kind == "cy")
        if kind in ("fy", "fn"):
            return await self._forget(kind == "fy")
        if not self.onboarded:
            raise Expired(token)
        if kind == "m":
            return await self._menu(arg)
        if kind == "st":
            if arg == "language":
                self._set_awaiting("lg")
                return Reply([self.language_screen(first_time=False)])
            if arg == "area":
                return Reply([await self.browse_screen(None, 0)])
        raise Expired(token)

    async def text(self, raw: str) -> Reply:
        """Handle typed text: a choice by number or label, or the answer a screen waits for."""
        typed = raw.strip()
        if not typed:
            return Reply([Screen(self.t("error.not_understood"))])
        screen = await self._current_screen()
        by_choice = screen.choice_for(typed) if screen else None
        if by_choice is not None:
            return await self.action(by_choice)
        r = self.resident
        if screen is not None and self._number_off_the_list(typed, r):
            number = html.escape(to_latin_digits(typed).strip().rstrip("."))
            return Reply([Screen(self.t("area.not_on_page", number=number)), screen])
        if r is None or r.language is None or (r.awaiting == "lg"):
            lang = self._typed_language(typed)
            if lang:
                return await self._choose_language(lang)
            return Reply([self.language_screen(first_time=r is None or r.language is None)])
        if r.awaiting == "ul":
            return self._unlisted_words(typed)
        if r.awaiting == "cs" or (self._area_known() and r.consent_at is None):
            if normalize_typed(typed) in self._words("words.yes"):
                return await self._consent(True)
            if normalize_typed(typed) in self._words("words.no"):
                return await self._consent(False)
            return Reply([self.consent_screen()])
        if r.awaiting == "fg":
            if normalize_typed(typed) in self._words("words.yes"):
                return await self._forget(True)
            return await self._forget(False)
        if not self._area_known() or (r.awaiting or "").startswith(("br:", "pk:")):
            return await self._search_area(typed)
        menu_item = self._typed_menu_item(typed)
        if menu_item:
            return await self._menu(menu_item)
        return Reply([Screen(self.t("error.not_understood")), self.menu_screen()])

    async def _current_screen(self) -> Screen | None:
        r = self.resident
        if r is None or r.language is None:
            return self.language_screen(first_time=True)
        if r.awaiting == "lg":
            return self.language_screen(first_time=False)
        if r.awaiting:
            return await self.rebuild(r.awaiting)
        if not self._area_known() or r.consent_at is None:
            return await self.next_onboarding_screen()
        return self.menu_screen()

    @staticmethod
    def _number_off_the_list(typed: str, r: Resident | None) -> bool:
        """A short number typed at an area list that has no such choice.

        Longer numbers are area codes, which the search below finds.
        """
        number = to_latin_digits(typed).strip().rstrip(".")
        on_area_list = r is not None and (r.awaiting or "").startswith(("br:", "pk:"))
        return on_area_list and is_plain_number(number) and len(number) <= 2

    def _typed_language(self, typed: str) -> str | None:
        wanted = normalize_typed(typed)
        for lang, words in LANGUAGE_WORDS.items():
            if wanted in words or wanted == normalize_typed(
                self.ctx.catalog.raw(lang, LANGUAGE_LABELS[lang])
            ):
                return lang
        return None

    def _typed_menu_item(self, typed: str) -> str | None:
        wanted = normalize_typed(typed)
        for item in MENU_ITEMS:
            labels = {
                normalize_typed(label) for label in self.ctx.catalog.all_languages(f"menu.{item}")
            }
            if wanted in labels or wanted in self._words(f"words.{item}"):
                return item
        return None

    # ----- steps ----------------------------------------------------------------------

    async def _choose_language(self, lang: str) -> Reply:
        if lang not in LANGUAGES:
            raise Expired(lang)
        was_onboarded = self.onboarded
        previous = self.resident.language if self.resident else None
        self.resident = self.residents.begin(self.user, lang, self.resident)
        self.resident.awaiting = None
        done = Screen(
            self.t("language.set", name=self.ctx.catalog.raw(lang, LANGUAGE_LABELS[lang]))
        )
        if was_onboarded:
            screens = [done, self.menu_screen()]
        else:
            screens = [done, await self.next_onboarding_screen()]
        return Reply(screens, language_changed=lang, previous_language=previous)

    async def _choose_area(self, code: str) -> Reply:
        assert self.resident is not None
        area = self.areas.get(code) if is_plain_number(code) else None
        if area is None:
            raise Expired(code)
        self.residents.set_area(self.resident, area.code)
        ancestors = self.areas.ancestors(area.code)
        done = Screen(self.t("area.set", place=self.describe_place(area, ancestors)))
        if self.onboarded:
            return Reply([done, self.menu_screen()])
        return Reply([done, await self.next_onboarding_screen()])

    def _unlisted_words(self, typed: str) -> Reply:
        assert self.resident is not None
        place = self.areas.get(self.resident.area_code) if self.resident.area_code else None
        if place is not None:
            # Already placed: the words go to the coordinators, the area stays until the
            # resident picks another one from the list.
            self.residents.note_unlisted(self.resident, typed[:UNLISTED_MAX])
        else:
            self.residents.set_area(self.resident, None, typed[:UNLISTED_MAX])
        # What was kept, phone numbers masked: the resident reads what coordinators will.
        saved = html.escape(self.resident.area_unlisted_text or "")
        if place is not None:
            ancestors = self.areas.ancestors(place.code)
            done = self.t(
                "area.unlisted_kept", words=saved, place=self.describe_place(place, ancestors)
            )
        else:
            done = self.t("area.unlisted_saved", words=saved)
        after = self.menu_screen() if self.onboarded else self.consent_screen()
        return Reply([Screen(done), after])

    async def _search_area(self, typed: str) -> Reply:
        matches = self.ctx.index.search(typed, limit=SEARCH_LIMIT)
        if not matches:
            return Reply(
                [
                    Screen(self.t("area.not_found", query=html.escape(typed[:80]))),
                    await self.browse_screen(None, 0),
                ]
            )
        # Only a name typed exactly (up to spelling folds) is taken without asking, and only
        # when every other exact match lies inside it ("Kulaura" the upazila, not its
        # namesake union): a near miss like "hello" → Helatala must be confirmed.
        top = matches[0]
        if top.exact and all(m.code.startswith(top.code) for m in matches if m.exact):
            return await self._choose_area(top.code)
        return Reply([await self.pick_screen([m.code for m in matches], typed[:80])])

    async def _consent(self, agreed: bool) -> Reply:
        assert self.resident is not None
        if self.onboarded:
            return Reply([self.menu_screen()], toast=self.t("consent.already"))
        if not self._area_known():
            raise Expired("consent before area")
        if agreed:
            self.residents.consent(self.resident, self.user, self.now)
            return Reply([Screen(self.t("consent.thanks")), self.menu_screen(greeting=True)])
        # Declining means we keep nothing: the row made for the conversation goes.
        language = self.language
        await self.residents.forget(self.resident)
        self.resident = None
        self.forgotten = True
        return Reply([Screen(self.ctx.catalog.text(language, "consent.declined"))])

    async def _forget(self, confirmed: bool) -> Reply:
        if self.resident is None or self.resident.awaiting != "fg":
            raise Expired("forget")
        if not confirmed:
            self.resident.awaiting = None
            return Reply(
                [Screen(self.t("forget.kept")), *([self.menu_screen()] if self.onboarded else [])]
            )
        language = self.language
        await self.residents.forget(self.resident)
        self.resident = None
        self.forgotten = True
        return Reply([Screen(self.ctx.catalog.text(language, "forget.done"))])

    async def _menu(self, item: str) -> Reply:
        assert self.resident is not None
        if item not in (*MENU_ITEMS, "back"):
            raise Expired(item)
        record(self.session, EventKind.BUTTON_TAPPED, self.resident, {"menu": item})
        feature = self.ctx.menu_actions.get(item)
        if feature is not None:
            return await feature(self)
        if item == "settings":
            return Reply([self.settings_screen()])
        if item == "mydata":
            return Reply([Screen(await self.my_data())])
        if item == "help":
            return Reply([Screen(self.t("help.text"))])
        if item in ("lessons", "alerts"):
            return Reply([Screen(self.t(f"menu.{item}_empty")), self.menu_screen()])
        if item == "back":
            return Reply([self.menu_screen()])
        raise Expired(item)

    async def finish(self) -> None:
        """Commit what this update changed and hand the connection back before replying,
        so slow sends to Telegram never hold a database connection."""
        await self.session.commit()
        await self.session.close()

    async def my_data(self) -> str:
        """Everything stored about the resident, in their language."""
        return await my_data_text(self)

    # ----- channel news ---------------------------------------------------------------

    def blocked(self, is_blocked: bool) -> None:
        """The resident blocked (or unblocked) the bot: they cannot be reached meanwhile."""
        if self.resident is not None:
            self.residents.mark_blocked(self.resident, is_blocked)

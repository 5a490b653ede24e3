"""The residents of `bench/load.py`: who sends what, and when each update counts as answered.

Each simulated resident (an `Actor`) has at most one update waiting for the bot, so the first
reply call to their chat (or the answer to their callback query) belongs to that update. After
the reply an actor "reads" for `think` seconds and becomes ready for its next step; the offered
rate itself never waits for replies (the load is open loop), so when the bot falls behind a
step simply goes to another ready actor, or to a new one.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.devtools.emulator import Emulator
from bot.devtools.emulator.state import JsonDict

KINDS = ("signup", "menu", "lesson", "gotit")
# Calls that show the resident an answer; chat actions and command lists do not.
REPLY_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "editMessageText",
        "editMessageReplyMarkup",
        "answerCallbackQuery",
    }
)
SIGNUP_AREAS = ("Kulaura", "Sreemangal", "কুলাউড়া", "মৌলভীবাজার")
MENU_TAPS = ("m:alerts", "m:settings", "m:back", "m:mydata", "m:help")
LESSON_STEPS_MAX = 12


def parse_mix(text: str) -> dict[str, int]:
    """{"signup": 20, ...} from "signup=20,menu=20,lesson=20,gotit=40"."""
    mix: dict[str, int] = {}
    for item in text.split(","):
        kind, sep, weight = item.partition("=")
        kind = kind.strip()
        if not sep or kind not in KINDS or not weight.strip().isdigit():
            raise ValueError(f"--mix takes KIND=WEIGHT items with KIND in {KINDS}, got {item!r}")
        mix[kind] = int(weight)
    if sum(mix.values()) <= 0:
        raise ValueError("--mix needs at least one positive weight")
    return mix


def kind_sequence(mix: Mapping[str, int], seed: int) -> Iterator[str]:
    """An endless, shuffled-by-the-hundred sequence of kinds in the mix's proportions."""
    block = [kind for kind, weight in mix.items() for _ in range(weight)]
    rng = random.Random(seed)
    while True:
        rng.shuffle(block)
        yield from block


@dataclass
class StepStats:
    """What one measured rate step saw."""

    rate: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    lags: list[float] = field(default_factory=list)
    injected: int = 0
    outstanding: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    exhausted: int = 0  # updates not offered because a pool of residents ran dry

    def all_latencies(self) -> list[float]:
        return sorted(itertools.chain.from_iterable(self.latencies.values()))

    @property
    def achieved(self) -> float:
        span = self.last_at - self.first_at
        return (self.injected - 1) / span if self.injected > 1 and span > 0 else 0.0


@dataclass(eq=False)
class Waiting:
    stats: StepStats
    injected_at: float
    callback_id: str | None


@dataclass(eq=False)
class Actor:
    kind: str
    user_id: int
    language: str
    step: int = 0
    done: bool = False
    waiting: Waiting | None = None
    rng: random.Random = field(default_factory=random.Random)


def _latest_with(emulator: Emulator, chat_id: int, prefix: str) -> tuple[int, list[str]] | None:
    """The bot's latest message with a button whose data starts with `prefix`: (id, data)."""
    for message in reversed(emulator.messages(chat_id)):
        if message.deleted or not message.buttons:
            continue
        found = [data for row in message.buttons for _, data in row if data.startswith(prefix)]
        if found:
            return message.message_id, found
    return None


class Load:
    """Turns "one update of kind K now" into an emulator action, and replies into latencies."""

    def __init__(
        self,
        emulator: Emulator,
        *,
        alert_buttons: Mapping[int, tuple[int, str]],
        pool: list[int],
        first_signup_id: int,
        think: float,
        seed: int,
    ) -> None:
        self.emulator = emulator
        self.think = think
        self._alerted = deque(alert_buttons.items())
        self._pool = deque(pool)
        self._next_signup = first_signup_id
        self._rng = random.Random(seed)
        self._by_chat: dict[int, Actor] = {}
        self._by_callback: dict[str, Actor] = {}
        self._ready: dict[str, deque[tuple[float, Actor]]] = {k: deque() for k in KINDS}
        self._alert_buttons = dict(alert_buttons)

    # -- replies ----------------------------------------------------------------------------

    def on_call(self, method: str, raw: Mapping[str, Any]) -> None:
        """Called by the emulator as each Bot API request arrives, before it is answered."""
        if method not in REPLY_METHODS:
            return
        now = time.perf_counter()
        actor: Actor | None
        if method == "answerCallbackQuery":
            actor = self._by_callback.get(str(raw.get("callback_query_id")))
        else:
            actor = self._by_chat.get(_as_int(raw.get("chat_id")))
        if actor is None or actor.waiting is None:
            return
        waiting, actor.waiting = actor.waiting, None
        if waiting.callback_id is not None:
            self._by_callback.pop(waiting.callback_id, None)
        waiting.stats.latencies[actor.kind].append(now - waiting.injected_at)
        waiting.stats.outstanding -= 1
        if not actor.done:
            self._ready[actor.kind].append((now + self.think, actor))

    # -- updates ----------------------------------------------------------------------------

    def inject(self, kind: str, stats: StepStats) -> bool:
        """Offer one update of `kind` now; False if no resident was left to send it."""
        ready = self._ready[kind]
        now = time.perf_counter()
        while ready and ready[0][0] <= now:
            _, actor = ready.popleft()
            if self._act(actor, stats):
                return True
        while True:
            fresh = self._new_actor(kind)
            if fresh is None:
                stats.exhausted += 1
                return False
            if self._act(fresh, stats):
                return True

    def _new_actor(self, kind: str) -> Actor | None:
        seed = self._rng.random()
        if kind == "signup":
            self._next_signup += 1
            user_id = self._next_signup
            language = "bn" if self._rng.random() < 0.7 else "en"
            self.emulator.add_user(user_id, first_name="Load", language_code=language)
        elif kind == "gotit":
            if not self._alerted:
                return None
            user_id, _ = self._alerted.popleft()
            language = "bn"
        else:
            if not self._pool:
                return None
            user_id = self._pool.popleft()
            language = "bn"
        actor = Actor(kind, user_id, language, rng=random.Random(seed))
        self._by_chat[user_id] = actor
        return actor

    def _act(self, actor: Actor, stats: StepStats) -> bool:
        """Send the actor's next update; False (and retired) if their script is over."""
        step = getattr(self, f"_{actor.kind}")
        started = time.perf_counter()
        update: JsonDict | None = step(actor)
        if update is None:
            actor.done = True
            self._by_chat.pop(actor.user_id, None)
            return False
        actor.step += 1
        query = update.get("callback_query")
        callback_id = str(query["id"]) if query else None
        actor.waiting = Waiting(stats, started, callback_id)
        if callback_id is not None:
            self._by_callback[callback_id] = actor
        stats.injected += 1
        stats.outstanding += 1
        if stats.injected == 1:
            stats.first_at = started
        stats.last_at = started
        return True

    def _press(self, actor: Actor, prefix: str, pick_random: bool = False) -> JsonDict | None:
        found = _latest_with(self.emulator, actor.user_id, prefix)
        if found is None:
            return None
        message_id, data = found
        chosen = actor.rng.choice(data) if pick_random else data[0]
        return self.emulator.press_button(actor.user_id, message_id, chosen)

    def _text(self, actor: Actor, text: str) -> JsonDict:
        return self.emulator.send_text(actor.user_id, text)

    def _signup(self, actor: Actor) -> JsonDict | None:
        if actor.step == 0:
            return self._text(actor, "/start")
        if actor.step == 1:
            pressed = self._press(actor, f"lang:{actor.language}")
            return pressed or self._text(actor, "বাংলা" if actor.language == "bn" else "English")
        if actor.step == 2:
            return self._text(actor, actor.rng.choice(SIGNUP_AREAS))
        if actor.step > 5:
            return None
        consent = self._press(actor, "cy")
        if consent is not None:
            actor.done = True
            return consent
        return self._press(actor, "as:")  # the typed name matched several places

    def _menu(self, actor: Actor) -> JsonDict | None:
        if actor.step == 0:
            return self._text(actor, "/menu")
        if actor.step > len(MENU_TAPS):
            return None
        if actor.step == len(MENU_TAPS):
            actor.done = True
        return self._press(actor, MENU_TAPS[actor.step - 1]) or self._text(actor, "/menu")

    def _lesson(self, actor: Actor) -> JsonDict | None:
        if actor.step == 0:
            return self._text(actor, "/lessons")
        if actor.step == 1:
            return self._press(actor, "ls:o:", pick_random=True)
        if actor.step >= LESSON_STEPS_MAX:
            return None
        return self._press(actor, "ls:n:") or self._press(actor, "ls:q:", pick_random=True)

    def _gotit(self, actor: Actor) -> JsonDict | None:
        if actor.step > 0:
            return None
        message_id, data = self._alert_buttons[actor.user_id]
        actor.done = True
        return self.emulator.press_button(actor.user_id, message_id, data)


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0

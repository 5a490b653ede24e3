"""Find areas by what a resident types: Bangla or romanised, spaced or not, with typos.

The index is pure and in memory: build it once from plain area records, then search it from
any handler without touching the database. Names are compared after folding away the
spelling variation that Bangla romanisation and Bangla orthography allow, first on the folded
text and then on a consonant skeleton, so that "moulovibazar", "Maulvi Bazar" and
"মৌলভী বাজার" all land on the same district.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import chain
from typing import NamedTuple

from bot.areas.tokens import (
    Token,
    bangla_form,
    consonant_skeleton,
    latin_form,
    name_forms,
    split_tokens,
)

LEVELS = ("division", "district", "upazila", "union")
# How many recent queries the index remembers the answers to.
RECENT_QUERIES = 2048
# Below this a match is more likely a coincidence than the place the resident meant.
THRESHOLD = 0.74
# A Bangla query read as Latin is a guess at its spelling, so it ranks below direct matches.
TRANSLIT_WEIGHT = 0.92
# Bonus for an area whose parent the resident also named ("Durgapur, Netrokona").
CONTEXT_BONUS = 0.02
# How many fuzzy candidates, pre-selected by shared bigrams, get the exact (slower) ratio.
FUZZY_CANDIDATES = 60
# Prefixes shorter than this match too much to mean anything; the cap bounds the work for
# prefixes many names share ("char", "ward").
PREFIX_MIN = 3
PREFIX_CAP = 200
# The consonant skeleton may lift only names already this close (see _with_skeleton).
SKELETON_FLOOR = 0.6
# Reading a query as "name, parent" costs a few searches per way of cutting it, and
# residents name an area with one or two parents at most.
MAX_CONTEXT_TOKENS = 3
# A whole-query match this good is what the resident meant; no need to cut the query up.
CONTEXT_UNLESS = 0.9


class AreaRef(NamedTuple):
    """An area in a match's parent chain."""

    code: str
    level: str
    name_en: str
    name_bn: str | None


@dataclass(frozen=True)
class AreaRecord:
    """One area as the index needs it; population (latest census) only breaks ties."""

    code: str
    parent_code: str | None
    level: str
    name_en: str
    name_bn: str | None
    population: int | None = None


@dataclass(frozen=True)
class AreaMatch:
    """A found area with its parents (division first), so the UI can tell namesakes apart."""

    code: str
    level: str
    name_en: str
    name_bn: str | None
    score: float
    exact: bool
    parents: tuple[AreaRef, ...]


# --- Index -----------------------------------------------------------------------------------


class _Key(NamedTuple):
    area: int
    text: str
    skeleton: str
    weight: float
    latin: bool


def _bigrams(text: str) -> set[str]:
    padded = f"^{text}$"
    return {padded[i : i + 2] for i in range(len(padded) - 1)}


class _Scored(NamedTuple):
    score: float
    exact: bool


class AreaIndex:
    """An in-memory fuzzy index over every area; build once, search many times."""

    def __init__(
        self,
        records: Sequence[AreaRecord],
        keys: Sequence[_Key],
        parents: Sequence[tuple[int, ...]],
    ) -> None:
        self._records = records
        self._keys = keys
        self._parents = parents
        self._rank = [
            (LEVELS.index(r.level) if r.level in LEVELS else len(LEVELS), -(r.population or 0))
            for r in records
        ]
        self._area_keys: list[list[int]] = [[] for _ in records]
        self._exact: dict[str, list[int]] = defaultdict(list)
        by_bigram: defaultdict[str, list[int]] = defaultdict(list)
        self._bigram_count: list[int] = []
        for key_id, key in enumerate(keys):
            self._area_keys[key.area].append(key_id)
            self._exact[key.text].append(key_id)
            grams = _bigrams(key.text)
            self._bigram_count.append(len(grams))
            for gram in grams:
                by_bigram[gram].append(key_id)
        self._by_bigram = dict(by_bigram)
        self._sorted = sorted((key.text, key_id) for key_id, key in enumerate(keys))
        self._sorted_texts = [text for text, _ in self._sorted]
        # Residents of one place type the same few names again and again, and the index
        # never changes once built: remembering recent answers saves the fuzzy scoring.
        self._recent: OrderedDict[tuple[tuple[str, ...], int], list[AreaMatch]] = OrderedDict()

    @classmethod
    def build(cls, rows: Iterable[AreaRecord]) -> AreaIndex:
        """Index areas; a parent missing from the rows just ends that area's parent chain."""
        records = list(rows)
        position = {record.code: i for i, record in enumerate(records)}
        keys: list[_Key] = []
        parents: list[tuple[int, ...]] = []
        for i, record in enumerate(records):
            above: list[int] = []
            parent = record.parent_code
            # The bound guards against a cycle in bad data.
            while parent is not None and parent in position and len(above) < len(LEVELS):
                above.append(position[parent])
                parent = records[position[parent]].parent_code
            parents.append(tuple(reversed(above)))
            for name in (record.name_en, record.name_bn):
                if name:
                    for text, weight in name_forms(name):
                        latin = text.isascii()
                        skeleton = consonant_skeleton(text) if latin else text
                        keys.append(_Key(i, text, skeleton, weight, latin))
        return cls(records, keys, parents)

    def __len__(self) -> int:
        return len(self._records)

    def search(self, query: str, limit: int = 8) -> list[AreaMatch]:
        """Return the areas that best match what the resident typed, best first."""
        tokens = split_tokens(query)
        if not tokens or limit <= 0:
            return []
        key = (tuple(t.raw for t in tokens), limit)
        cached = self._recent.get(key)
        if cached is not None:
            self._recent.move_to_end(key)
            return list(cached)
        matches = self._search(tokens, limit)
        self._recent[key] = matches
        if len(self._recent) > RECENT_QUERIES:
            self._recent.popitem(last=False)
        return list(matches)

    def _search(self, tokens: list[Token], limit: int) -> list[AreaMatch]:
        found = self._score_tokens(tokens)
        # "Kulaura Maulvibazar" or "Durgapur, Netrokona": a name followed (or preceded) by
        # the name of one of its parents picks out the namesake the resident means. Not
        # needed when the whole text is already a name ("Maulvi Bazar").
        best = max((s.score for s in found.values()), default=0.0)
        if 1 < len(tokens) <= MAX_CONTEXT_TOKENS and best < CONTEXT_UNLESS:
            for cut in range(1, len(tokens)):
                # "Sadar Moulvibazar" for "Maulvi Bazar Sadar": the same words, turned round.
                for area, scored in self._score_tokens(tokens[cut:] + tokens[:cut]).items():
                    _keep(found, area, scored)
                for primary, context in (
                    (tokens[:cut], tokens[cut:]),
                    (tokens[cut:], tokens[:cut]),
                ):
                    if all(t.soft for t in primary):
                        continue
                    for area, scored in self._score_tokens(primary).items():
                        if self._parent_named(area, context):
                            _keep(found, area, _Scored(scored.score + CONTEXT_BONUS, scored.exact))
        ranked = sorted(
            found.items(),
            key=lambda item: (
                not item[1].exact,
                -round(item[1].score, 3),
                self._rank[item[0]],
                self._records[item[0]].name_en,
                self._records[item[0]].code,
            ),
        )
        return [self._match(area, scored) for area, scored in ranked[:limit]]

    def _match(self, area: int, scored: _Scored) -> AreaMatch:
        record = self._records[area]
        return AreaMatch(
            code=record.code,
            level=record.level,
            name_en=record.name_en,
            name_bn=record.name_bn,
            score=round(min(scored.score, 1.0), 3),
            exact=scored.exact,
            parents=tuple(
                AreaRef(p.code, p.level, p.name_en, p.name_bn)
                for p in (self._records[i] for i in self._parents[area])
            ),
        )

    def _parent_named(self, area: int, context: Sequence[Token]) -> bool:
        hard = [t for t in context if not t.soft]
        latin, guessed = latin_form(hard)
        bangla = bangla_form(hard)
        if not latin:
            return False
        for parent in self._parents[area]:
            for key_id in self._area_keys[parent]:
                key = self._keys[key_id]
                if key.latin:
                    if _similarity(latin, key) >= (0.7 if guessed else 0.8):
                        return True
                elif bangla and _similarity(bangla, key) >= 0.8:
                    return True
        return False

    def _score_tokens(self, tokens: Sequence[Token]) -> dict[int, _Scored]:
        found: dict[int, _Scored] = {}
        bangla = bangla_form(tokens)
        if bangla:
            self._score_text(bangla, 1.0, found)
        latin, guessed = latin_form(tokens)
        if latin:
            self._score_text(latin, TRANSLIT_WEIGHT if guessed else 1.0, found)
        return {area: s for area, s in found.items() if s.score >= THRESHOLD}

    def _score_text(self, text: str, weight: float, found: dict[int, _Scored]) -> None:
        latin = text.isascii()
        keys = self._keys
        for key_id in self._exact.get(text, ()):
            key = keys[key_id]
            # A transliterated guess that happens to match exactly is still a guess.
            _keep(found, key.area, _Scored(key.weight * weight, weight == 1.0))
        candidates: set[int] = set()
        if len(text) >= PREFIX_MIN:
            start = bisect_left(self._sorted_texts, text)
            for text_at, key_id in self._sorted[start : start + PREFIX_CAP]:
                if not text_at.startswith(text):
                    break
                candidates.add(key_id)
        candidates.update(_near(text, self._by_bigram, self._bigram_count))
        skeleton = consonant_skeleton(text) if latin else ""

        # difflib caches what it learns about its second sequence, so the query goes there.
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(text)
        skeleton_matcher = SequenceMatcher(None, autojunk=False)
        skeleton_matcher.set_seq2(skeleton)
        for key_id in candidates:
            key = keys[key_id]
            if key.latin != latin or key.text == text:
                continue
            matcher.set_seq1(key.text)
            if len(text) >= PREFIX_MIN and key.text.startswith(text):
                ratio = max(matcher.ratio(), _prefix_score(text, key.text))
            elif matcher.quick_ratio() < SKELETON_FLOOR:
                # quick_ratio bounds ratio from above and costs far less; below the floor
                # nothing can lift the key over the threshold.
                continue
            else:
                ratio = matcher.ratio()
            if ratio >= SKELETON_FLOOR and len(skeleton) >= 3 and len(key.skeleton) >= 3:
                skeleton_matcher.set_seq1(key.skeleton)
                ratio = _with_skeleton(ratio, skeleton_matcher.ratio())
            _keep(found, key.area, _Scored(ratio * key.weight * weight, False))


def _near(text: str, postings: dict[str, list[int]], sizes: list[int]) -> list[int]:
    """Pre-select keys sharing many bigrams with text (by Dice coefficient)."""
    grams = _bigrams(text)
    shared = Counter(chain.from_iterable(postings.get(gram, ()) for gram in grams))
    if not shared:
        return []
    n = len(grams)
    # A Dice of 0.3 needs 2c >= 0.3 (n + m) with m >= 2, so most keys drop out on c alone.
    least = max(1, math.ceil(0.15 * (n + 2)))
    dice = [
        (2 * count / (n + sizes[key_id]), key_id)
        for key_id, count in shared.items()
        if count >= least
    ]
    return [key_id for d, key_id in heapq.nlargest(FUZZY_CANDIDATES, dice) if d >= 0.3]


def _prefix_score(text: str, key_text: str) -> float:
    # Someone still typing ("moulvi") should see where they are heading, above names that
    # merely look alike.
    return 0.86 + 0.12 * len(text) / len(key_text)


def _with_skeleton(ratio: float, skeleton_ratio: float) -> float:
    # Vowels are the least reliable part of a romanised name, but a consonant skeleton alone
    # is too easy to share by chance, so it can lift a near miss, not make a match.
    return max(ratio, 0.5 * ratio + 0.48 * skeleton_ratio)


def _keep(found: dict[int, _Scored], area: int, scored: _Scored) -> None:
    old = found.get(area)
    if old is None or (scored.exact, scored.score) > (old.exact, old.score):
        found[area] = scored


def _similarity(text: str, key: _Key) -> float:
    """Score how close a folded text is to a key, from 0 to 1."""
    if text == key.text:
        return 1.0
    ratio = SequenceMatcher(None, text, key.text, autojunk=False).ratio()
    if len(text) >= PREFIX_MIN and key.text.startswith(text):
        ratio = max(ratio, _prefix_score(text, key.text))
    if key.latin and ratio >= SKELETON_FLOOR:
        skeleton = consonant_skeleton(text)
        if len(skeleton) >= 3 and len(key.skeleton) >= 3:
            same = SequenceMatcher(None, skeleton, key.skeleton, autojunk=False).ratio()
            ratio = _with_skeleton(ratio, same)
    return ratio

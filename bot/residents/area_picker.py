"""The area picker's screens: walk the hierarchy a page at a time, or pick among matches.

Each returns the screen and the key the conversation waits on (so a typed number can pick an
option of the screen after a restart), or None when the area or page no longer exists.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from bot.areas.tree import AreaTree, AreaView, describe, display_name
from bot.core.screens import Option, Screen, rows_of

PAGE_SIZE = 8
Translate = Callable[..., str]


def browse_areas(
    areas: AreaTree, t: Translate, language: str, code: str | None, page: int
) -> tuple[Screen, str] | None:
    """One page of an area's children (the divisions at the top), with the ways on."""
    parent = areas.get(code) if code else None
    if code and parent is None:
        return None
    children, total = areas.children(code, page * PAGE_SIZE, PAGE_SIZE, language)
    if page and not children:
        return None
    options = [Option(display_name(a, language), _child_action(a)) for a in children]
    rows = list(rows_of(options, 2))
    nav: list[Option] = []
    if page > 0:
        nav.append(Option(t("area.prev"), f"br:{code or ''}:{page - 1}"))
    if (page + 1) * PAGE_SIZE < total:
        nav.append(Option(t("area.next"), f"br:{code or ''}:{page + 1}"))
    if nav:
        rows.append(tuple(nav))
    if parent is not None:
        if parent.level in ("upazila", "district"):
            name = html.escape(display_name(parent, language))
            rows.append((Option(t("area.choose_whole", name=name), f"as:{code}"),))
        rows.append((Option(t("area.up"), f"br:{parent.parent_code or ''}:0"),))
    rows.append((Option(t("area.unlisted"), "au"),))
    if parent is None:
        text = t("area.prompt")
    else:
        place = html.escape(describe(parent, areas.ancestors(parent.code), language))
        text = t("area.browse", place=place)
    return Screen(text, tuple(rows)), f"br:{code or ''}:{page}"


def pick_areas(
    areas: AreaTree, t: Translate, language: str, codes: list[str], query: str
) -> tuple[Screen, str] | None:
    """The areas a typed name matched, each with its parents, to pick one."""
    options = []
    for code in codes:
        area = areas.get(code)
        if area is None:
            return None
        options.append(Option(describe(area, areas.ancestors(code), language), f"as:{code}"))
    rows = [
        *rows_of(options, 1),
        (Option(t("area.browse_list"), "br::0"),),
        (Option(t("area.unlisted"), "au"),),
    ]
    return Screen(t("area.pick", query=html.escape(query)), tuple(rows)), "pk:" + ",".join(codes)


def _child_action(area: AreaView) -> str:
    return f"as:{area.code}" if area.level == "union" else f"br:{area.code}:0"

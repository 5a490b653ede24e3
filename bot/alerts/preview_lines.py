"""Lines of an alert's preview that need care: who is reached and why, and what SMS costs."""

from __future__ import annotations

import html

from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.audience import RecipientSplit
from bot.alerts.service import AlertSpec, sms_preview
from bot.alerts.vocabulary import AlertError, Translate
from bot.core.i18n import Catalog
from bot.reach.suppression import Suppressor, complementary


def split_line(t: Translate, language: str, k: int, split: RecipientSplit) -> str:
    """Who is reached and why, suppressed like the total.

    The total is shown, so one small part alone could be worked out from it and the
    others: the smallest other part above zero is hidden with it, as in the reach reports.
    """
    parts = {"inside": split.inside, "wider": split.wider, "typed": split.typed}
    shown = Suppressor(k)
    shown = shown.forcing(complementary([{p: {"n": n} for p, n in parts.items()}], shown))
    return t(
        "alerts.recipients_split",
        **{part: html.escape(shown.cell(part, "n", n).text(language)) for part, n in parts.items()},
    )


def sms_refusal(t: Translate, exc: AlertError) -> str:
    """Why no SMS can be made, pointing to the draft's SMS step rather than a CLI flag."""
    params = dict(exc.params)
    lang = str(params.pop("lang", ""))
    name = t(f"alerts.lang_{lang}") if lang in ("bn", "en") else lang
    key = "alerts.sms_needed_chat" if exc.key == "alerts.sms_needed" else exc.key
    return t(key, lang=name, **params)


async def sms_lines_of(
    session: AsyncSession,
    catalog: Catalog,
    t: Translate,
    language: str,
    spec: AlertSpec,
    shown: Suppressor,
) -> tuple[str, bool]:
    """What the alert costs by SMS per language (or why it cannot go), and if it goes by SMS."""
    try:
        costs = await sms_preview(session, catalog, spec)
    except AlertError as exc:
        return "\n" + sms_refusal(t, exc), True
    lines = ""
    for cost in costs:
        small = shown.count(cost.recipients)
        lines += "\n" + t(
            "alerts.sms_cost",
            recipients=html.escape(small.text(language)),
            parts=cost.parts,
            # A product of a small count would give the count away.
            messages=html.escape(small.text(language)) if small.suppressed else cost.messages,
            lang=t(f"alerts.lang_{cost.language}"),
        )
    return lines, bool(costs)

"""The fixed words of alerts: kinds, topics, urgencies, states, button prefixes, and the error
that names what is wrong with an alert."""

from __future__ import annotations

from collections.abc import Callable

JOB_KIND = "alert"
# Fixed on purpose: residents choose among these in settings, and each has a translated name
# in content/strings ("topic.<name>").
TOPICS = ("water", "power", "health", "flood", "scam")
NORMAL_URGENCY, URGENT_URGENCY = "normal", "urgent"
URGENCIES = (NORMAL_URGENCY, URGENT_URGENCY)
# Bangla is required: it is the language every resident can fall back to.
PRIMARY_LANGUAGE = "bn"
TEXT_LANGUAGES = ("bn", "en")
MAX_TEXT = 1500  # leaves room for the heading and validity line within one phone screen or two
MAX_AREAS = 20
ACK_PREFIX = "ak:"
TOPICS_PREFIX = "tp:"
# "queueing" (QUEUEING) until every recipient's outbox row exists; a crash in between leaves it
# so, and `resume_queueing` finishes the job at the next start or once the running bot sees it
# stalled (enqueueing is idempotent).
QUEUED, CANCELLED = "queued", "cancelled"

Translate = Callable[..., str]


class AlertError(ValueError):
    """An alert that cannot be queued; `key` names the message that explains why."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

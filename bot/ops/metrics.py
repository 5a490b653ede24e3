"""Prometheus metrics of one bot process, served at GET /metrics.

Labels carry kinds and outcomes only (update type, outcome, channel, Bot API method), never
an id, a name or a chat: a scrape must not become a list of who talked to the bot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Seconds from an update arriving to its handling (and reply) finishing; 100 ms is the target.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST

OutboxDepth = Callable[[], Awaitable[dict[str, int]]]


class Metrics:
    """The metrics of one app; each app has its own registry, so tests can build several."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "sabai_updates",
            "Updates handled, by update type and outcome.",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.reply_latency = Histogram(
            "sabai_reply_seconds",
            "Seconds from an update's arrival until its handling and reply finished.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "sabai_outbox_depth",
            "Messages waiting in the outbox, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.sent = Counter(
            "sabai_messages_sent",
            "Messages the Bot API accepted, by method.",
            ["method"],
            registry=self.registry,
        )
        self.failed = Counter(
            "sabai_messages_failed",
            "Message sends the Bot API refused (429s excluded), by method.",
            ["method"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "sabai_messages_rate_limited",
            "Message sends answered with 429 Too Many Requests, by method.",
            ["method"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "sabai_scheduler_leader",
            "1 while this process runs the scheduler, else 0.",
            registry=self.registry,
        )
        self.duplicates = Counter(
            "sabai_updates_duplicate",
            "Deliveries of an update already handled (skipped).",
            registry=self.registry,
        )

    async def render(
        self,
        outbox_depth: OutboxDepth | None = None,
        is_leader: Callable[[], bool] | None = None,
    ) -> bytes:
        """The text exposition, with the gauges read now."""
        if outbox_depth is not None:
            for channel, depth in (await outbox_depth()).items():
                self.outbox_depth.labels(channel=channel).set(depth)
        if is_leader is not None:
            self.leader.set(1 if is_leader() else 0)
        return generate_latest(self.registry)

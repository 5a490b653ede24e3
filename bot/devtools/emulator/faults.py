"""Injected failures: flood waits, server errors, slow and hanging answers.

A fault matches requests by method (case-insensitive) and chat_id and fires `count` times, or
with `probability` on each match (drawn from the emulator's seeded random generator, so a
seeded run is reproducible). A fault without a method never hits getUpdates: polling failures
must be asked for by name, otherwise a probabilistic fault would make every test flaky.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from bot.devtools.emulator.errors import ApiError, EmulatorError

KINDS = ("retry_after", "server_error", "slow", "timeout")
_SERVER_ERRORS = {500: "Internal Server Error", 502: "Bad Gateway"}


@dataclass
class Fault:
    """One injected failure rule."""

    id: int
    kind: str
    method: str | None
    chat_id: int | None
    remaining: int | None  # None: unlimited (probability faults)
    probability: float | None
    retry_after: int
    delay: float
    status: int

    def matches(self, method: str, chat_id: Any) -> bool:
        if self.method is None and method.lower() == "getupdates":
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or str(self.chat_id) == str(chat_id)

    def error(self) -> ApiError | None:
        """Return the error this fault answers with (None for the delaying kinds)."""
        if self.kind == "retry_after":
            return ApiError(
                429,
                f"Too Many Requests: retry after {self.retry_after}",
                retry_after=self.retry_after,
            )
        if self.kind == "server_error":
            return ApiError(self.status, _SERVER_ERRORS[self.status])
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "method": self.method,
            "chat_id": self.chat_id,
            "remaining": self.remaining,
            "probability": self.probability,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "status": self.status,
        }


class FaultPlan:
    """The active faults, consulted once per Bot API request."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._faults: list[Fault] = []
        self._next_id = 1

    @property
    def faults(self) -> list[Fault]:
        return list(self._faults)

    def add(
        self,
        kind: str,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        count: int | None = None,
        probability: float | None = None,
        retry_after: int = 1,
        delay: float = 1.0,
        status: int = 500,
    ) -> Fault:
        """Add a fault; see Emulator.inject."""
        if kind == "blocked":
            raise EmulatorError("a blocked user is simulated with bot_blocked_by(user_id)")
        if kind not in KINDS:
            raise EmulatorError(f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}")
        if status not in _SERVER_ERRORS:
            raise EmulatorError("server_error status must be 500 or 502")
        if probability is not None and not 0 <= probability <= 1:
            raise EmulatorError("probability must be between 0 and 1")
        if count is None and probability is None:
            count = 1
        if count is not None and count < 1:
            raise EmulatorError("count must be at least 1")
        fault = Fault(
            id=self._next_id,
            kind=kind,
            method=method,
            chat_id=chat_id,
            remaining=count,
            probability=probability,
            retry_after=retry_after,
            delay=delay,
            status=status,
        )
        self._next_id += 1
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def take(self, method: str, chat_id: Any) -> Fault | None:
        """Return the fault that fires for this request, if any, using up one of its shots."""
        for fault in self._faults:
            if not fault.matches(method, chat_id):
                continue
            if fault.probability is not None and self._rng.random() >= fault.probability:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
            return fault
        return None

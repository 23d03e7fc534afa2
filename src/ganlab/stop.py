"""Why a run stopped before its budget: one object shared by the callbacks that can stop training
(GracefulStop: SIGINT/SIGTERM; TimeLimit: trainer.max_time) and by run(), which reports the stop."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StopRequest:
    """The first reason to stop wins: `reason` says what asked (e.g. `SIGTERM`,
    `trainer.max_time=00:12:00:00`), `signal` is the signal number when one did (run() exits with
    status 128 + signal)."""

    reason: str | None = None
    signal: int | None = None

    def request(self, reason: str, signal: int | None = None) -> None:
        if self.reason is None:
            self.reason, self.signal = reason, signal

    @property
    def requested(self) -> bool:
        return self.reason is not None

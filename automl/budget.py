"""Deadlines and caps of a job, with SageMaker's documented defaults."""
from __future__ import annotations

import time
from dataclasses import dataclass

DEFAULT_MAX_RUNTIME_PER_TRAINING_JOB_S = 86400
DEFAULT_MAX_JOB_RUNTIME_S = 2592000
DEFAULT_HPO_MAX_CANDIDATES = 100


@dataclass(frozen=True)
class Budget:
    started_at: float
    max_job_runtime_s: int
    max_runtime_per_candidate_s: int
    max_candidates: int | None

    @property
    def deadline(self) -> float:
        return self.started_at + self.max_job_runtime_s

    def remaining_s(self, now: float | None = None) -> float:
        return self.deadline - (time.time() if now is None else now)

    def candidate_deadline(self, started: float | None = None) -> float:
        """A candidate started at `started` stops at its own limit or the job's, whichever comes first."""
        started = time.time() if started is None else started
        return min(started + self.max_runtime_per_candidate_s, self.deadline)

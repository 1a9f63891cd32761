"""The runner interface every mode implements, and what the worker hands it.

A runner turns a dataset into candidates within the budget, recording each candidate (InProgress, then
Completed / Failed / Stopped) through `RunContext.record` as it goes, so Describe and ListCandidates see
progress live and a dead worker loses nothing already finished. `run` returns why it ended (a `RunEnd`).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from automl.artifacts import JobOutput
from automl.budget import Budget
from automl.candidate import Candidate, RunEnd
from automl.dataset import Dataset
from automl.held_out import HeldOut
from automl.spec import JobPlan


@dataclass
class RunContext:
    plan: JobPlan
    dataset: Dataset  # the tuning runner trades large data for its sample once the full set is saved
    dataset_path: Path  # the same dataset saved once, for the training processes to read
    budget: Budget
    output: JobOutput
    should_stop: Callable[[], bool]
    record: Callable[[Candidate], None]
    recorded: Callable[[], dict[str, Candidate]]  # the job's candidates by name, as stored (from any worker)
    threads: Callable[[], int]  # asked before each candidate: the cores this job may use now


class Runner(ABC):
    secondary_status: ClassVar[str]  # the AutoMLJobSecondaryStatus while it trains

    @classmethod
    def prepare(cls, plan: JobPlan, home: Path) -> JobPlan:
        """Called by CreateAutoMLJob before the job is stored (`home` is the store's folder): what the mode sets
        up once for all its workers. A refusal here is a ValidationException, and nothing is stored."""
        return plan

    @abstractmethod
    def definitions(self, ctx: RunContext) -> list[dict]:
        """The candidate definitions this runner would train, in order (GenerateCandidateDefinitionsOnly)."""

    @abstractmethod
    def run(self, ctx: RunContext) -> RunEnd:
        """Train candidates until done, capped, out of time or stopped; return the reason it ended."""

    def held_out(self, ctx: RunContext, record: Candidate, max_rows: int) -> HeldOut | None:
        """Called by the worker after `run`, before the job's scratch folder goes: the rows `record` (a Completed
        candidate of this run) was scored on (a seeded sample of at most `max_rows` of them) and its predictions
        of them, for its model insights; None when the runner cannot say."""
        return None

    def release(self) -> None:
        """Drop what a finished run holds (its data, its layers): the worker writes the reports after it, and
        their memory should not stack on the run's."""
        return None

    def held_out_predictions(self, ctx: RunContext, records: list[Candidate], max_rows: int) -> dict[str, np.ndarray]:
        """The same rows' predictions of those other candidates that the runner has at hand (no model is run),
        kept so their insights can be made on request after the job."""
        return {}

"""A candidate of a job, as every layer sees it: the runners make and finish it, the store keeps it, the
responses, the leaderboard and the log read it.

A candidate is recorded InProgress when it starts and once more when it ends (Completed, Failed or Stopped),
with what its training process measured. `RunEnd` is why a runner stopped making candidates, which becomes the
job's secondary status.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from enum import Enum


class CandidateStatus(str, Enum):
    """SageMaker's CandidateStatus values."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"
    STOPPING = "Stopping"


class RunEnd(str, Enum):
    """Why a runner ended; each is the AutoMLJobSecondaryStatus of the job it ends."""

    COMPLETED = "Completed"
    MAX_CANDIDATES = "MaxCandidatesReached"
    MAX_RUNTIME = "MaxAutoMLJobRuntimeReached"
    STOPPED = "Stopped"


WORKER_DIED = "the worker running it died before it finished"
PRUNED = "pruned by Hyperband"  # a tuning trial the pruner judged weak early: the search working as designed
STOP_REQUESTED = "stopped by StopAutoMLJob"  # the user ended the job


@dataclass(frozen=True)
class Candidate:
    name: str
    algorithm: str
    status: CandidateStatus
    creation_time: float
    definition: dict = field(default_factory=dict)  # what definition.json holds (see `definition`)
    end_time: float | None = None
    failure_reason: str | None = None  # one readable line, starting with the candidate's name
    metrics: dict[str, float] | None = None  # every metric of the problem type, on the scored rows
    objective_value: float | None = None
    fit_s: float | None = None
    predict_s_per_1k: float | None = None
    inference_latency_s: float | None = None
    model_uri: str | None = None
    definition_uri: str | None = None
    bag_uri: str | None = None  # a stacked candidate's own fold models
    backtest_uri: str | None = None  # a forecaster's backtest forecasts and metrics (a folder)
    fold_facts: list[dict] | None = None  # per fitted fold: its time and what the algorithm says of its fit
    cut_short: bool = False  # a deadline ended its training before the algorithm's own stopping rule
    weights: dict[str, float] | None = None  # a weighted ensemble's members
    score_source: str | None = None  # how its score was had when it is not measured on unseen rows
    tie_rank: int = 0  # on an equal score, lower ranks first (before inference latency decides)
    rows: int | None = None  # training rows, when a tuning fit saw fewer than the dataset's
    artifacts: dict[str, str] | None = None  # CandidateArtifactLocations: the folders of its reports

    @property
    def completed(self) -> bool:
        return self.status is CandidateStatus.COMPLETED

    @property
    def lost(self) -> bool:
        """Whether the job lost this model (a PartialFailureReason): it Failed, or a limit Stopped it before it
        finished (the job's MaxAutoMLJobRuntimeInSeconds, or the share of it the planner left the candidate).
        A trial Hyperband pruned, or a candidate StopAutoMLJob ended, is what the search or the user meant."""
        if self.status is CandidateStatus.FAILED:
            return True
        return self.status is CandidateStatus.STOPPED and not (
            (self.failure_reason or "").startswith(f"{self.name}: {PRUNED}") or self.failure_reason == STOP_REQUESTED)

    @property
    def orphaned(self) -> bool:
        """Ended only because the worker running it died: a resumed job trains it again."""
        return self.status is CandidateStatus.FAILED and (self.failure_reason or "").endswith(WORKER_DIED)

    def abandoned(self, end_time: float) -> Candidate:
        """The candidate as a dead worker left it: Failed, saying why."""
        return self.finished(CandidateStatus.FAILED, end_time, failure_reason=f"{self.name}: {WORKER_DIED}")

    def finished(self, status: CandidateStatus, end_time: float, result: dict | None = None,
                 failure_reason: str | None = None) -> Candidate:
        """The candidate at its end, with what its training process returned (its keys are field names)."""
        return replace(self, **(result or {}), status=status, end_time=end_time,
                       **({"failure_reason": failure_reason} if failure_reason else {}))

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None} | {"status": self.status.value}

    @classmethod
    def from_json(cls, value: dict) -> Candidate:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in value.items() if k in known} | {"status": CandidateStatus(value["status"])})


def definition(name: str, algorithm: str, problem_type: str, objective: str, **parts) -> dict:
    """A candidate's definition, as saved beside its model (definition.json): the same head for every kind of
    candidate (a bag, a refit, a trial, an ensemble), then the parts its kind adds, named as the file shows
    them (Hyperparameters, Preprocessing, Bagging, Members, RefitOf, ...)."""
    return {"CandidateName": name, "Algorithm": algorithm, "ProblemType": problem_type,
            "ObjectiveMetric": objective, **parts}

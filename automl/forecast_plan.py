"""A validated time-series forecasting job (CreateAutoMLJobV2 with TimeSeriesForecastingJobConfig): frozen, and
all that the worker, the forecasting runner and Describe read; nothing downstream reads the raw request."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from automl.channels import ChannelSource
from automl.columns import FeatureSpec
from automl.frequency import Frequency, parse_frequency
from automl.problem import Mode
from automl.spec import JobLocation

DEFAULT_QUANTILES = ("p10", "p50", "p90")
DEFAULT_OBJECTIVE = "AverageWeightedQuantileLoss"
MAX_HORIZON = 500  # Autopilot's; also at most a quarter of the longest series


@dataclass(frozen=True)
class ForecastPlan(JobLocation):
    name: str
    training: ChannelSource
    target: str
    timestamp: str
    item_id: str
    grouping: tuple[str, ...]  # with the item id, they name one series
    frequency: str  # the API alias as given: "1H", "3M"
    horizon: int
    quantiles: tuple[str, ...]  # "p10", ... as given, sorted by level
    filling: dict  # {column: {FillingType: value}}, as the request gives it
    aggregation: dict  # {column: "sum" | "avg" | "first" | "min" | "max"}
    holiday_country: str | None
    algorithms: tuple[str, ...]  # the candidates to train, in order
    restricted: bool  # AlgorithmsConfig named them: no extra candidates
    objective: str
    max_candidates: int | None
    max_runtime_per_candidate_s: int
    max_job_runtime_s: int
    output_path: str
    training_bytes: int
    feature_spec: FeatureSpec | None = None
    tags: tuple = field(default_factory=tuple)
    dask_scheduler: str = ""  # the Dask cluster its backtests run on (AUTOML_DASK_SCHEDULER at create)
    kind: str = "forecast"

    mode = Mode.FORECASTING
    definitions_only = False
    problem_type = None

    @property
    def freq(self) -> Frequency:
        return parse_frequency(self.frequency)

    @property
    def quantile_levels(self) -> tuple[float, ...]:
        return tuple(int(q[1:]) / 100 for q in self.quantiles)

    def to_json(self) -> str:
        data = asdict(self)
        data["feature_spec"] = self.feature_spec.to_json() if self.feature_spec else None
        return json.dumps(data, default=lambda v: v.value)

    @classmethod
    def from_json(cls, text: str) -> ForecastPlan:
        data = json.loads(text)
        data["training"] = ChannelSource(**data["training"])
        for key in ("grouping", "quantiles", "algorithms"):
            data[key] = tuple(data[key])
        data["tags"] = tuple(tuple(t) for t in data["tags"])
        data["feature_spec"] = FeatureSpec.from_json(data["feature_spec"]) if data["feature_spec"] else None
        return cls(**data)


def load_plan(text: str):
    """A stored plan, tabular (`JobPlan`) or forecasting (`ForecastPlan`)."""
    from automl.spec import JobPlan  # spec imports the tabular algorithms: only where a plan is read

    return ForecastPlan.from_json(text) if json.loads(text).get("kind") == "forecast" else JobPlan.from_json(text)

"""Ranking candidates (best objective; ties to the lower InferenceLatency, as Autopilot does) and the CSV.

A refit reports its source's score when it has no unseen rows to be scored on; on that tie the runner's
`tie_rank` decides (lower first) before latency does."""
from __future__ import annotations

import csv
import io

from automl.candidate import Candidate
from automl.metrics import Metric, candidate_metrics
from automl.problem import ProblemType


def rank(records: list[Candidate], objective: Metric) -> list[Candidate]:
    """Completed candidates first, best first; the rest keep their creation order after them."""
    done = [r for r in records if r.completed and r.objective_value is not None]
    others = [r for r in records if r not in done]
    done.sort(key=lambda r: (objective.sort_key(r.objective_value), r.tie_rank, r.inference_latency_s or 0.0))
    return done + others


def to_csv(records: list[Candidate], objective: Metric, problem_type: ProblemType | None, mode: str,
           metric_names: tuple[str, ...] = ()) -> bytes:
    """`mode` is the mode the job ran in (AUTO resolved), repeated on every row. A forecasting job (no problem
    type) names its metrics, and each row adds where the candidate's backtest results are."""
    names = [m.name for m in candidate_metrics(problem_type)] if problem_type else list(metric_names)
    names = [n for n in names if n != objective.name]
    header = ["rank", "candidate_name", "algorithm", "mode", "objective_metric", "objective_value", *names,
              "fit_seconds", "predict_seconds_per_1k_rows", "inference_latency_seconds", "status", "score_source",
              "failure_reason"] + ([] if problem_type else ["backtest_results"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for i, r in enumerate(rank(records, objective), start=1):
        metrics = r.metrics or {}
        writer.writerow([i if r.completed else "", r.name, r.algorithm, mode, objective.name,
                         _num(r.objective_value), *[_num(metrics.get(n)) for n in names],
                         _num(r.fit_s), _num(r.predict_s_per_1k), _num(r.inference_latency_s),
                         r.status.value, r.score_source or "measured", r.failure_reason or ""]
                        + ([] if problem_type else [r.backtest_uri or ""]))
    return out.getvalue().encode()


def _num(value) -> str:
    return "" if value is None else f"{value:.6g}"

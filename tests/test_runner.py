"""Runner building blocks shared by the modes: the ranking rule and ensemble selection."""
import numpy as np
import pytest

from automl.candidate import Candidate, CandidateStatus
from automl.leaderboard import rank
from automl.metrics import METRICS


def test_rank_breaks_ties_by_inference_latency():
    done = CandidateStatus.COMPLETED
    records = [Candidate("slow", "a", done, 1.0, objective_value=0.9, inference_latency_s=0.02),
               Candidate("fast", "a", done, 1.0, objective_value=0.9, inference_latency_s=0.01),
               Candidate("worse", "a", done, 1.0, objective_value=0.8, inference_latency_s=0.001),
               Candidate("broken", "a", CandidateStatus.FAILED, 1.0)]
    assert [r.name for r in rank(records, METRICS["F1"])] == ["fast", "slow", "worse", "broken"]
    assert [r.name for r in rank(records, METRICS["MSE"])] == ["worse", "fast", "slow", "broken"]


def test_a_candidate_round_trips_through_its_json_and_refuses_unknown_results():
    started = Candidate("c", "lightgbm", CandidateStatus.IN_PROGRESS, 1.0, {"Level": 1})
    done = started.finished(CandidateStatus.COMPLETED, 2.0, {"objective_value": 0.5, "fit_s": 0.7})
    assert Candidate.from_json(done.to_json()) == done and done.to_json()["status"] == "Completed"
    with pytest.raises(TypeError):
        started.finished(CandidateStatus.COMPLETED, 2.0, {"objective_valeu": 0.5})


def test_ensemble_selection_weights_the_members_that_help():
    from runners.ensemble import select_weights

    truth = np.array([0, 1] * 50)
    good = np.column_stack([1 - truth * 0.8 - 0.1, truth * 0.8 + 0.1])
    noise = np.full((100, 2), 0.5)
    weights = select_weights([noise, good], lambda p: -np.mean((p[:, 1] - truth) ** 2))
    assert weights.tolist() == [0.0, 1.0]
    half = np.column_stack([1 - truth * 0.4 - 0.3, truth * 0.4 + 0.3])
    assert select_weights([half, good], lambda p: (p.argmax(1) == truth).mean()).sum() == pytest.approx(1.0)

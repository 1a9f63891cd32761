"""Runner building blocks shared by the modes: the ranking rule and ensemble selection."""
import numpy as np
import pytest

from automl.leaderboard import rank
from automl.metrics import METRICS


def test_rank_breaks_ties_by_inference_latency():
    records = [{"name": "slow", "status": "Completed", "objective_value": 0.9, "inference_latency_s": 0.02},
               {"name": "fast", "status": "Completed", "objective_value": 0.9, "inference_latency_s": 0.01},
               {"name": "worse", "status": "Completed", "objective_value": 0.8, "inference_latency_s": 0.001},
               {"name": "broken", "status": "Failed"}]
    assert [r["name"] for r in rank(records, METRICS["F1"])] == ["fast", "slow", "worse", "broken"]
    assert [r["name"] for r in rank(records, METRICS["MSE"])] == ["worse", "fast", "slow", "broken"]


def test_ensemble_selection_weights_the_members_that_help():
    from runners.ensemble import select_weights

    truth = np.array([0, 1] * 50)
    good = np.column_stack([1 - truth * 0.8 - 0.1, truth * 0.8 + 0.1])
    noise = np.full((100, 2), 0.5)
    weights = select_weights([noise, good], lambda p: -np.mean((p[:, 1] - truth) ** 2))
    assert weights.tolist() == [0.0, 1.0]
    half = np.column_stack([1 - truth * 0.4 - 0.3, truth * 0.4 + 0.3])
    assert select_weights([half, good], lambda p: (p.argmax(1) == truth).mean()).sum() == pytest.approx(1.0)

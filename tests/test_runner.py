"""The first runner's isolation of failing candidates, its hard per-candidate limit, and the ranking rule."""
import time

import numpy as np

import pytest

import algorithms
from algorithms.linear_learner import LinearLearner
from automl.artifacts import JobOutput
from automl.budget import Budget
from automl.dataset import load_dataset
from automl.leaderboard import rank
from automl.metrics import METRICS
from automl.responses import partial_failures
from automl.spec import resolve
from runners.base import RunContext
from runners.single_pass import SinglePassRunner
from runners.training import save_dataset
from tests.conftest import BREAST_CANCER, request


class Exploding(LinearLearner):
    """linear-learner whose fit raises: stands for any candidate that crashes mid-fit."""

    def fit(self, X, y, **kwargs):
        raise ValueError("singular matrix")


class Stubborn(LinearLearner):
    """linear-learner that ignores its deadline: only the executor's hard limit can end it."""

    def fit(self, X, y, **kwargs):
        time.sleep(30)
        return super().fit(X, y, **kwargs)


def context(tmp_path, names, per_candidate_s=60, records=None):
    body = request(BREAST_CANCER, output=tmp_path / "out", AutoMLJobConfig={
        "Mode": "ENSEMBLING", "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": names}]}})
    plan = resolve(body)
    dataset = load_dataset(plan)
    plan = plan.with_problem(dataset.problem_type)
    records = {} if records is None else records
    path = tmp_path / "scratch" / "dataset.joblib"
    save_dataset(dataset, path)
    return RunContext(plan=plan, dataset=dataset, dataset_path=path,
                      budget=Budget(time.time(), 120, per_candidate_s, None),
                      output=JobOutput(plan.job_output), should_stop=lambda: False,
                      record=lambda r: records.__setitem__(r["name"], r), threads=lambda: 1), records


def test_a_failing_candidate_is_recorded_and_the_job_goes_on(tmp_path, monkeypatch):
    monkeypatch.setitem(algorithms.REGISTRY, "xgboost", Exploding)
    ctx, records = context(tmp_path, ["xgboost", "lightgbm"])
    assert SinglePassRunner(ctx.plan.mode).run(ctx) == "Completed"
    assert records["job-1-xgboost-001"]["status"] == "Failed"
    assert records["job-1-xgboost-001"]["failure_reason"] == "job-1-xgboost-001: ValueError: singular matrix"
    assert records["job-1-lightgbm-002"]["status"] == "Completed"
    assert partial_failures(list(records.values())) == [
        {"PartialFailureMessage": "job-1-xgboost-001: ValueError: singular matrix"}]


def test_per_candidate_limit_ends_the_process(tmp_path, monkeypatch):
    monkeypatch.setitem(algorithms.REGISTRY, "xgboost", Stubborn)
    ctx, records = context(tmp_path, ["xgboost", "lightgbm"], per_candidate_s=2)
    began = time.time()
    assert SinglePassRunner(ctx.plan.mode).run(ctx) == "Completed"
    assert time.time() - began < 15
    stubborn = records["job-1-xgboost-001"]
    assert stubborn["status"] == "Failed"
    assert stubborn["failure_reason"] == "job-1-xgboost-001: ran past MaxRuntimePerTrainingJobInSeconds"
    assert stubborn["end_time"] - stubborn["creation_time"] < 3.5
    assert records["job-1-lightgbm-002"]["status"] == "Completed"


def test_rank_breaks_ties_by_inference_latency():
    records = [{"name": "slow", "status": "Completed", "objective_value": 0.9, "inference_latency_s": 0.02},
               {"name": "fast", "status": "Completed", "objective_value": 0.9, "inference_latency_s": 0.01},
               {"name": "worse", "status": "Completed", "objective_value": 0.8, "inference_latency_s": 0.001},
               {"name": "broken", "status": "Failed"}]
    assert [r["name"] for r in rank(records, METRICS["F1"])] == ["fast", "slow", "worse", "broken"]
    assert [r["name"] for r in rank(records, METRICS["MSE"])] == ["worse", "fast", "slow", "broken"]


def _train_lightgbm(seed: int) -> int:
    import lightgbm as lgb
    import numpy as np

    X = np.random.default_rng(seed).random((500, 5))
    booster = lgb.train({"verbosity": -1, "num_threads": 2}, lgb.Dataset(X, X[:, 0] > 0.5), 10)
    return booster.current_iteration()


def test_training_process_starts_clean_after_the_parent_used_openmp():
    """A child forked straight from a process that ran LightGBM hangs in OpenMP; the fork server's do not."""
    from runners.executors import LocalProcessExecutor

    _train_lightgbm(0)
    outcome = LocalProcessExecutor(lambda: False).run(_train_lightgbm, (1,), time.time() + 30)
    assert (outcome.status, outcome.result) == ("Completed", 10)


def test_ensemble_selection_weights_the_members_that_help():
    from runners.ensemble import select_weights

    truth = np.array([0, 1] * 50)
    good = np.column_stack([1 - truth * 0.8 - 0.1, truth * 0.8 + 0.1])
    noise = np.full((100, 2), 0.5)
    weights = select_weights([noise, good], lambda p: -np.mean((p[:, 1] - truth) ** 2))
    assert weights.tolist() == [0.0, 1.0]
    half = np.column_stack([1 - truth * 0.4 - 0.3, truth * 0.4 + 0.3])
    assert select_weights([half, good], lambda p: (p.argmax(1) == truth).mean()).sum() == pytest.approx(1.0)


def test_runner_adds_a_weighted_ensemble_that_predicts_like_its_score(tmp_path):
    from automl.artifacts import load_model
    from automl.metrics import score_all

    ctx, records = context(tmp_path, ["linear-learner", "lightgbm"])
    assert SinglePassRunner(ctx.plan.mode).run(ctx) == "Completed"
    ensemble = records["job-1-weighted-ensemble"]
    assert ensemble["status"] == "Completed" and ensemble["algorithm"] == "weighted-ensemble"
    best_single = max(r["objective_value"] for n, r in records.items() if n != "job-1-weighted-ensemble")
    assert ensemble["objective_value"] >= best_single - 1e-12, "selection never makes the validation score worse"
    model = load_model(ensemble["model_uri"])
    scores = score_all(ctx.dataset.problem_type, ctx.dataset.y_valid, model.predict_raw(ctx.dataset.X_valid),
                       None, ctx.dataset.positive_index)
    assert scores["F1"] == pytest.approx(ensemble["objective_value"], abs=1e-12)

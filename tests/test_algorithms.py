"""One contract suite over every registered algorithm, through the real preprocessing."""
import io
import time

import joblib
import numpy as np
import pandas as pd
import pytest

import algorithms
from algorithms.base import Task
from automl.columns import coerce, resolve_kinds
from automl.features import Preprocessor
from automl.model import CandidateModel
from automl.problem import ProblemType

NAMES = sorted(algorithms.REGISTRY)


@pytest.fixture(scope="module")
def frame(breast_cancer):
    """Breast cancer with a categorical size band and a short free-text note, so every column kind is present."""
    data = breast_cancer.copy()
    data["size_band"] = pd.cut(data["mean_radius"], [0, 12, 15, 40], labels=["small", "medium", "large"]).astype(str)
    words = np.where(data["mean_concavity"] > 0.1, "irregular concave border seen", "smooth regular round edge")
    data["note"] = [f"{w} sample {i % 13} texture {round(t)}" for i, (w, t) in enumerate(zip(words,
                                                                                            data["mean_texture"],
                                                                                            strict=True))]
    return data


def prepared(frame, algorithm, target, problem_type):
    features = [c for c in frame.columns if c not in (target, "diagnosis")]
    kinds = resolve_kinds(frame, features, None)
    X = coerce(frame, kinds)
    pre = Preprocessor(kinds, algorithms.get(algorithm).preprocessing).fit(X.iloc[:400])
    if problem_type is ProblemType.REGRESSION:
        y = frame[target].to_numpy(dtype=float)
        classes = []
    else:
        classes = sorted(frame[target].unique())
        y = frame[target].map({c: i for i, c in enumerate(classes)}).to_numpy()
    task = Task(problem_type, len(classes), threads=2, seed=0, categorical_features=pre.categorical_features_)
    return kinds, pre, pre.transform(X.iloc[:400]), y[:400], pre.transform(X.iloc[400:]), y[400:], task, classes


@pytest.mark.parametrize("name", NAMES)
def test_classification_contract(name, frame):
    kinds, pre, Xt, yt, Xv, yv, task, classes = prepared(frame, name, "diagnosis", ProblemType.BINARY)
    model = algorithms.get(name)(task).fit(Xt, yt, eval_set=(Xv, yv, None))
    proba = model.predict_proba(Xv)
    assert proba.shape == (len(yv), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (model.predict(Xv) == yv).mean() > 0.9
    again = algorithms.get(name)(task).fit(Xt, yt, eval_set=(Xv, yv, None))
    np.testing.assert_allclose(again.predict_proba(Xv), proba, rtol=1e-6, err_msg="same seed, same result")
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).predict_proba(Xv), proba)
    weights = np.where(yt == 1, 5.0, 0.2)
    weighted = algorithms.get(name)(task).fit(Xt, yt, sample_weight=weights, eval_set=(Xv, yv, None))
    assert not np.allclose(weighted.predict_proba(Xv), proba), "sample weights must change the fit"


@pytest.mark.parametrize("name", NAMES)
def test_regression_and_unseen_categories(name, frame):
    kinds, pre, Xt, yt, Xv, yv, task, _ = prepared(frame, name, "worst_area", ProblemType.REGRESSION)
    model = algorithms.get(name)(task).fit(Xt, yt, eval_set=(Xv, yv, None))
    prediction = model.predict(Xv)
    assert prediction.shape == (len(yv),)
    assert np.corrcoef(prediction, yv)[0, 1] > 0.9
    saved = CandidateModel(ProblemType.REGRESSION, kinds, [], pre, model)
    novel = frame.iloc[400:410].assign(size_band="gigantic", note="never seen words at all")
    answer = saved.infer(novel)
    assert list(answer.columns) == ["predicted_label"] and answer["predicted_label"].notna().all()


@pytest.mark.parametrize("name", NAMES)
def test_multiclass(name, digits_csv):
    digits = pd.read_csv(digits_csv).iloc[:900]
    kinds, pre, Xt, yt, Xv, yv, task, classes = prepared(digits, name, "target", ProblemType.MULTICLASS)
    model = algorithms.get(name)(task).fit(Xt, yt, eval_set=(Xv, yv, None))
    proba = model.predict_proba(Xv)
    assert proba.shape == (len(yv), 10)
    assert (proba.argmax(axis=1) == yv).mean() > 0.75  # 400 training rows of 10 classes


@pytest.mark.parametrize("name", NAMES)
def test_deadline_in_the_past_ends_growth_early(name, frame):
    kinds, pre, Xt, yt, Xv, yv, task, _ = prepared(frame, name, "diagnosis", ProblemType.BINARY)
    model = algorithms.get(name)(task).fit(Xt, yt, eval_set=(Xv, yv, None), deadline=time.time() - 1)
    fitted = model.describe_fit()
    assert fitted.get("rounds", fitted.get("trees", fitted.get("epochs", 0))) <= 50
    assert model.predict_proba(Xv).shape == (len(yv), 2)


def test_registry_matches_the_api():
    assert set(algorithms.available("ENSEMBLING")) == set(algorithms.MODE_ALGORITHMS["ENSEMBLING"])
    for name, cls in algorithms.REGISTRY.items():
        assert cls.name == name and set(cls.modes) <= set(algorithms.MODE_ALGORITHMS)


def test_a_network_stops_within_an_epoch_at_its_deadline():
    """One epoch of many rows can outlast the time a fit has: the deadline ends training between steps, and
    the fit says how much of an epoch it trained."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400_000, 10)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    task = Task(ProblemType.BINARY, 2, threads=1, seed=0, categorical_features=())
    began = time.time()
    model = algorithms.get("mlp")(task, {"batch_size": 64}).fit(X, y, eval_set=(X[:2000], y[:2000], None),
                                                                   deadline=began + 1.0)
    fitted = model.describe_fit()
    assert 0 < fitted["epochs_trained"] < 1 and fitted["epochs"] == 1
    assert time.time() - began < 30, "a whole epoch of 6,250 steps would take far longer than one second"
    assert model.predict_proba(X[:5]).shape == (5, 2)


def test_the_mlp_final_fit_repeats_few_epochs_and_ends_annealed():
    """Tuning's final fit of an mlp plans FINAL_EPOCHS passes over its rows, not the trial's count, and decays
    its learning rate linearly to zero over the steps it takes; trials keep a constant rate."""
    import torch

    from algorithms._torch_tabular import FINAL_EPOCHS

    mlp = algorithms.get("mlp")
    assert mlp.final_fit({"epochs": 30, "epochs_trained": 40.0}) == (FINAL_EPOCHS / 40, {"schedule": "linear-decay"})
    assert mlp.final_fit({"epochs": 1, "epochs_trained": 2.0})[0] == 1.0
    assert algorithms.get("xgboost").final_fit({"rounds": 300}) == (1.0, {})
    task = Task(ProblemType.BINARY, 2, threads=1, seed=0, categorical_features=())
    network = mlp(task)
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    assert network._scheduler(optimizer, network.resolved_params, 10) is None
    scheduler = network._scheduler(optimizer, network.resolved_params | {"schedule": "linear-decay"}, 10)
    rates = []
    for _ in range(10):
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates[0] == pytest.approx(0.009) and rates[4] == pytest.approx(0.005) and rates[-1] == 0.0

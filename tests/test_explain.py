"""SHAP explanations: they add up to the model's own output, per original column, within a deadline."""
from __future__ import annotations

import json
import struct
import time

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from algorithms.lightgbm import LightGBM
from algorithms.linear_learner import LinearLearner
from algorithms.xgboost import XGBoost
from automl.artifacts import JobOutput, dump_model
from automl.cli import main
from automl.columns import ColumnKind, resolve_kinds
from automl.errors import ValidationException
from automl.model import BaggedModel, StackModel, stack_features
from automl.problem import ProblemType
from automl.reports.explain import ExplainTimeout, _kernel_shap, explain, top_contributions
from automl.reports.explainability import write_explainability
from runners.training import fit_model, stack_model
from tests.conftest import BREAST_CANCER, only, request

WORDS = np.array(["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "tumour", "cell", "mass", "big",
                  "small", "round"])
XSS = "<img src=x onerror=alert(1)>"


def _with_mixed_columns(X: pd.DataFrame) -> pd.DataFrame:
    """A few numbers plus a categorical and a free-text column, so encodings expand (one-hot, TF-IDF, SVD)."""
    rng = np.random.default_rng(0)
    X = X.iloc[:, :6].copy()
    X["colour"] = rng.choice(["red", "green", "blue", None], len(X))
    X["notes"] = [" ".join(rng.choice(WORDS, 6)) for _ in range(len(X))]
    return X


def _fit(cls, problem_type, X, y, classes):
    kinds = resolve_kinds(X, list(X.columns), None)
    assert kinds["notes"] is ColumnKind.TEXT and ColumnKind.CATEGORICAL in kinds.values()
    return fit_model(cls, {}, problem_type, kinds, classes, 1, (X.iloc[:400], y[:400], None),
                     (X.iloc[400:], y[400:], None), None)


@pytest.fixture(scope="module")
def cancer():
    data = load_breast_cancer(as_frame=True)
    return _with_mixed_columns(data.data), data.target.to_numpy()


@pytest.fixture(scope="module")
def xgb_binary(cancer):
    return _fit(XGBoost, ProblemType.BINARY, *cancer, [0, 1])


@pytest.fixture(scope="module")
def linear(cancer):
    return _fit(LinearLearner, ProblemType.BINARY, *cancer, [0, 1])


def _margin(model, frame):
    encoded = model.preprocessor.transform(model.prepared(frame))
    booster = model.algorithm.booster_
    return booster.predict(xgb.DMatrix(encoded), output_margin=True, iteration_range=(0, booster.best_iteration + 1))


def test_tree_shap_adds_up_to_the_xgboost_margin_per_original_column(cancer, xgb_binary):
    X, _ = cancer
    explanation = explain(xgb_binary, X.iloc[400:], deadline=time.time() + 30)
    assert (explanation.method, explanation.output, explanation.rows) == ("tree-shap", "margin", 169)
    assert explanation.columns == list(X.columns) and explanation.values.shape == (169, 8)
    # early stopping left trees past the best round: the explanation covers the rounds the model answers with
    assert xgb_binary.algorithm.booster_.num_boosted_rounds() > xgb_binary.algorithm.booster_.best_iteration + 1
    np.testing.assert_allclose(explanation.predicted(), _margin(xgb_binary, X.iloc[400:]), atol=1e-4)
    probability = xgb_binary.predict_raw(X.iloc[400:])[:, 1]
    np.testing.assert_allclose(1 / (1 + np.exp(-explanation.predicted())), probability, atol=1e-5)
    importance = explanation.importance()
    assert sorted(importance.index) == sorted(X.columns)  # notes:svd*, colour codes folded into their column
    assert importance.is_monotonic_decreasing and importance.iloc[0] > 0


def test_tree_shap_adds_up_for_xgboost_regression():
    data = load_diabetes(as_frame=True)
    X = _with_mixed_columns(data.data)
    model = _fit(XGBoost, ProblemType.REGRESSION, X, data.target.to_numpy(), [])
    explanation = explain(model, X.iloc[400:], deadline=time.time() + 30)
    assert (explanation.output, explanation.labels) == ("value", [])
    np.testing.assert_allclose(explanation.predicted(), model.predict_raw(X.iloc[400:]), atol=1e-3)
    np.testing.assert_allclose(explanation.predicted(), _margin(model, X.iloc[400:]), rtol=1e-5)


def test_tree_shap_adds_up_for_lightgbm_with_native_categories(cancer):
    X, y = cancer
    model = _fit(LightGBM, ProblemType.BINARY, X, y, [0, 1])
    explanation = explain(model, X.iloc[400:], deadline=time.time() + 30)
    encoded = model.preprocessor.transform(model.prepared(X.iloc[400:]))
    booster = model.algorithm.booster_
    margin = booster.predict(encoded, raw_score=True, num_iteration=booster.best_iteration)
    np.testing.assert_allclose(explanation.predicted(), margin, atol=1e-4)
    assert explanation.explains == "the log-odds of 1"


def test_a_bag_of_trees_explains_the_mean_of_its_folds_margins(cancer, xgb_binary):
    X, y = cancer
    other = fit_model(XGBoost, {"max_depth": 3}, ProblemType.BINARY, xgb_binary.kinds, [0, 1], 1,
                      (X.iloc[169:], y[169:], None), None, None)
    bag = BaggedModel(ProblemType.BINARY, [0, 1], [xgb_binary, other])
    frame = X.iloc[400:450]
    explanation = explain(bag, frame, deadline=time.time() + 30)
    assert explanation.method == "tree-shap" and explanation.explains.startswith("the mean over the bag's 2 folds")
    mean_margin = (_margin(xgb_binary, frame) + other.algorithm.booster_.predict(
        xgb.DMatrix(other.preprocessor.transform(other.prepared(frame))), output_margin=True)) / 2
    np.testing.assert_allclose(explanation.predicted(), mean_margin, atol=1e-4)


def test_source_columns_map_one_hot_levels_indicators_and_text_terms(linear, cancer):
    sources = linear.preprocessor.source_columns()
    names = list(linear.preprocessor.get_feature_names_out())
    assert len(sources) == len(names)
    assert {s for n, s in zip(names, sources, strict=True) if n.startswith("colour_")} == {"colour"}
    assert {s for n, s in zip(names, sources, strict=True) if n.startswith("notes:")} == {"notes"}
    assert set(sources) == set(cancer[0].columns)


def test_kernel_shap_adds_up_to_the_probability_of_a_linear_model(cancer, linear):
    X, _ = cancer
    explanation = explain(linear, X.iloc[400:412], deadline=time.time() + 60, background=X.iloc[:400])
    assert (explanation.method, explanation.output, explanation.rows) == ("kernel-shap", "probability", 12)
    np.testing.assert_allclose(explanation.predicted(), linear.predict_raw(X.iloc[400:412])[:, 1], atol=1e-9)
    assert set(explanation.importance().index) == set(X.columns)


def test_kernel_shap_on_a_stack_whose_weighted_model_is_in_its_second_layer(cancer, xgb_binary, linear,
                                                                                  home, tmp_path):
    X, y = cancer
    output = JobOutput(str(tmp_path / "job"))
    first = {"x": xgb_binary, "lin": linear}
    for name, model in first.items():
        dump_model(output.model(name), model)
    stacked = X.assign(**stack_features(ProblemType.BINARY, {n: m.predict_raw(X) for n, m in first.items()}))
    top = fit_model(LinearLearner, {}, ProblemType.BINARY, resolve_kinds(stacked, list(stacked.columns), None),
                    [0, 1], 1, (stacked.iloc[:400], y[:400], None), None, None)
    dump_model(output.bag("top"), top)
    stack = stack_model(output, ProblemType.BINARY, [0, 1], [{n: output.model(n) for n in first},
                                                             {"top": output.bag("top")}], {"top": 1.0})
    assert stack.depth == 2
    explanation = explain(stack, X.iloc[400:412], deadline=time.time() + 60, background=X.iloc[:400])
    assert (explanation.method, explanation.rows) == ("kernel-shap", 12)
    np.testing.assert_allclose(explanation.predicted(), stack.predict_raw(X.iloc[400:412])[:, 1], atol=1e-9)


def _wine():
    data = load_wine(as_frame=True)
    order = np.random.default_rng(0).permutation(len(data.target))  # the rows come sorted by class
    return _with_mixed_columns(data.data.iloc[order].reset_index(drop=True)), data.target.to_numpy()[order]


def _problem(kind: str):
    """(X, y, classes, problem type, rows fitted on) of a small real data set with mixed columns."""
    if kind == "binary":
        data = load_breast_cancer(as_frame=True)
        return _with_mixed_columns(data.data), data.target.to_numpy(), [0, 1], ProblemType.BINARY, 300
    if kind == "multiclass":
        return *_wine(), [0, 1, 2], ProblemType.MULTICLASS, 120
    data = load_diabetes(as_frame=True)
    return _with_mixed_columns(data.data), data.target.to_numpy(), [], ProblemType.REGRESSION, 300


def _weighted_ensemble(folder: str, kind: str) -> tuple[StackModel, pd.DataFrame, int]:
    """A WeightedEnsemble-L2 as the engine saves one: a 2-fold xgboost bag, a lightgbm and a linear-learner
    model, each under its own candidate folder."""
    X, y, classes, problem_type, n = _problem(kind)
    kinds = resolve_kinds(X, list(X.columns), None)

    def fit(cls, rows):
        return fit_model(cls, {}, problem_type, kinds, classes, 1, (X.iloc[rows], y[rows], None),
                         (X.iloc[n:], y[n:], None), None)

    members = {"xgb": BaggedModel(problem_type, classes, [fit(XGBoost, slice(0, 2 * n // 3)),
                                                          fit(XGBoost, slice(n // 3, n))]),
               "lgb": fit(LightGBM, slice(0, n)), "lin": fit(LinearLearner, slice(0, n))}
    output = JobOutput(folder)
    for name, model in members.items():
        dump_model(output.model(name), model)
    stack = stack_model(output, problem_type, classes, [{name: output.model(name) for name in members}],
                        {"xgb": 0.5, "lgb": 0.3, "lin": 0.2})
    return stack, X, n


def _answer(stack: StackModel, frame: pd.DataFrame) -> np.ndarray:
    raw = stack.predict_raw(frame)
    return raw[:, 1] if stack.problem_type is ProblemType.BINARY else raw


@pytest.mark.parametrize("kind", ["binary", "regression", "multiclass"])
def test_a_weighted_ensemble_is_the_weighted_sum_of_its_members_explanations(kind, home, tmp_path):
    stack, X, n = _weighted_ensemble(str(tmp_path / "job"), kind)
    rows, background = X.iloc[n:n + 40], X.iloc[:n]
    began = time.time()
    explanation = explain(stack, rows, deadline=time.time() + 120, background=background)
    seconds = time.time() - began
    assert explanation.rows == 40 and explanation.columns == list(X.columns)
    assert explanation.method.startswith("ensemble-shap (") and "kernel-shap" in explanation.method
    assert explanation.output == ("value" if kind == "regression" else "probability")
    assert explanation.explains.endswith("as the weighted sum of its 3 members' (a bag's: the mean of its folds')")
    answer = _answer(stack, rows)
    np.testing.assert_allclose(explanation.predicted(), answer, rtol=1e-6 if kind == "regression" else 0,
                               atol=1e-6)
    began = time.time()
    whole = _kernel_shap(stack, explanation.frame, background, time.time() + 120, time.time())
    print(f"{kind}: ensemble-shap {seconds:.2f} s, whole-model kernel {time.time() - began:.2f} s, 40 rows")
    np.testing.assert_allclose(whole.base_values, explanation.base_values, rtol=1e-9)  # the same background


def test_ensemble_shap_of_tree_members_is_interventional_and_linear_in_the_weights(home, tmp_path):
    stack, X, n = _weighted_ensemble(str(tmp_path / "job"), "binary")
    rows, background = X.iloc[n:n + 20], X.iloc[:n]
    stack.weights = {"xgb": 1.0}
    xgb_only = explain(stack, rows, deadline=time.time() + 60, background=background)
    assert xgb_only.method == "ensemble-shap (tree-shap interventional)"
    stack.weights = {"xgb": 0.25, "lin": 0.75}
    both = explain(stack, rows, deadline=time.time() + 60, background=background)
    stack.weights = {"lin": 1.0}
    lin_only = explain(stack, rows, deadline=time.time() + 60, background=background)
    np.testing.assert_allclose(both.values, 0.25 * xgb_only.values + 0.75 * lin_only.values, atol=1e-12)
    assert both.base_values == pytest.approx(0.25 * xgb_only.base_values + 0.75 * lin_only.base_values)
    # interventional: a row equal to every background row has nothing to attribute
    stack.weights = {"xgb": 1.0}
    same = explain(stack, pd.concat([background.iloc[:1]] * 12), deadline=time.time() + 60,
                   background=background.iloc[:1])
    np.testing.assert_allclose(same.values, 0.0, atol=1e-12)


def test_an_ensemble_that_cannot_explain_ten_rows_in_time_raises(home, tmp_path):
    stack, X, n = _weighted_ensemble(str(tmp_path / "job"), "binary")
    with pytest.raises(ExplainTimeout):
        explain(stack, X.iloc[n:], deadline=time.time() + 0.3, background=X.iloc[:n])


def test_a_past_deadline_raises_explain_timeout(cancer, linear):
    with pytest.raises(ExplainTimeout, match="deadline had passed"):
        explain(linear, cancer[0], deadline=time.time() - 1)
    with pytest.raises(ExplainTimeout, match="explaining 10 rows takes"):
        explain(linear, cancer[0], deadline=time.time() + 0.05)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_explainability_folder(cancer, xgb_binary, tmp_path):
    X, _ = cancer
    renamed = X.rename(columns={"colour": XSS})
    model = _fit(XGBoost, ProblemType.BINARY, renamed, cancer[1], [0, 1])
    explanation = explain(model, renamed.iloc[400:], deadline=time.time() + 30)
    write_explainability(str(tmp_path / "ex"), explanation, candidate="job-xgboost", source="the validation rows")
    analysis = json.loads((tmp_path / "ex" / "analysis.json").read_text())
    label = analysis["explanations"]["kernel_shap"]["label0"]
    assert analysis["version"] == "1.0" and set(label["global_shap_values"]) == set(renamed.columns)
    assert label["expected_value"] == pytest.approx(explanation.base_values)
    assert list(label["global_shap_values"].values()) == sorted(label["global_shap_values"].values(), reverse=True)
    assert analysis["automl"] | {"seconds": 0} == {"method": "tree-shap", "output": "margin", "rows": 169,
                                                   "explains": "the log-odds of 1", "seconds": 0}
    for name in ("summary.png", "importance.png"):
        width, height = _png_size((tmp_path / "ex" / name).read_bytes())
        assert width == 900 and 200 <= height <= 1000
    page = (tmp_path / "ex" / "report.html").read_text()
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    values = pd.read_csv(tmp_path / "ex" / "shap_values.csv")
    assert list(values.columns) == [*renamed.columns, "base_value"] and len(values) == 169
    np.testing.assert_allclose(values.sum(axis=1), explanation.predicted(), atol=1e-4)


def test_top_contributions_list_the_largest_shares(cancer, xgb_binary):
    X, _ = cancer
    frame = X.iloc[400:405]
    answer = top_contributions(xgb_binary, frame, 2, deadline=time.time() + 30)
    assert list(answer.index) == list(frame.index) and list(answer.columns) == ["explanation"]
    first = answer["explanation"].iloc[0]
    shap_row = explain(xgb_binary, frame.iloc[:1], deadline=time.time() + 30).values[0]
    top = np.argsort(-np.abs(shap_row))[:2]
    assert [item["feature"] for item in first] == [X.columns[j] for j in top]
    assert [item["shap"] for item in first] == pytest.approx(shap_row[top].tolist())
    assert first[0]["value"] == _cell(frame, 0, X.columns[top[0]])


def _cell(frame, i, column):
    value = frame[column].iloc[i]
    return None if pd.isna(value) else value


def test_predict_with_explain_through_the_api_and_the_cli(sm, home, tmp_path, breast_cancer, capsys):
    body = request(BREAST_CANCER, name="ex", output=tmp_path / "out",
                   AutoMLJobConfig=only("linear-learner") | {"CompletionCriteria": {"MaxCandidates": 1}})
    sm.create_auto_ml_job(**body)
    assert sm.wait("ex", timeout=120)["AutoMLJobStatus"] == "Completed"
    rows = breast_cancer.drop(columns="diagnosis").head(12)
    answer = sm.predict("ex", rows, explain=2)
    assert list(answer.columns) == ["predicted_label", "probability", "probabilities", "labels", "explanation"]
    assert all(len(items) == 2 and set(items[0]) == {"feature", "value", "shap"} for items in answer["explanation"])
    with pytest.raises(ValidationException, match="explain: must be a whole number"):
        sm.predict("ex", rows, explain=-1)
    path = tmp_path / "rows.csv"
    rows.to_csv(path, index=False)
    assert main(["predict", "--job", "ex", "--input", str(path), "--explain"]) == 0
    printed = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert len(printed) == 12 and all(len(json.loads(cell)) == 3 for cell in printed["explanation"])


def test_a_member_too_large_to_load_is_not_explained(home, tmp_path):
    import automl.reports.explain as explain_module

    stack, X, n = _weighted_ensemble(str(tmp_path / "job"), "binary")
    with pytest.raises(explain_module.ExplainTooLarge, match="not loaded for SHAP values"):
        explain(stack, X.iloc[n:n + 20], deadline=time.time() + 60, background=X.iloc[:n], max_model_bytes=1000)
    assert explain(stack, X.iloc[n:n + 12], deadline=time.time() + 60, background=X.iloc[:n]).rows == 12

"""A candidate definition fitted again, outside its job: what the candidate definition notebook runs.

    definition = json.load(open("out/my-job/candidates/my-job-lightgbm-L1/definition.json"))
    model = automl.fit_candidate(definition, "train.csv", target="label")
    model.predict(frame)

The definition fixes everything the job chose (algorithm, hyperparameters, preprocessing and its column kinds,
bagging); the data and seed give the same fit the job made on the same rows. A weighted ensemble or a stacked
candidate is a combination of other candidates: fit those, then combine them with its `Members` weights.
"""
from __future__ import annotations

import json

import numpy as np

import algorithms
from automl.artifacts import read_bytes
from automl.channels import read_any
from automl.columns import ColumnKind, coerce
from automl.dataset import _encode
from automl.errors import field_error
from automl.estimator import FittedClassifier, FittedModel, FittedRegressor
from automl.model import BaggedModel
from automl.problem import ProblemType
from automl.split import fold_indices
from runners.training import fit_model


def _definition(value) -> dict:
    if isinstance(value, dict):
        return value
    try:
        return json.loads(read_bytes(str(value)))
    except (OSError, ValueError) as exc:
        raise field_error("definition", f"could not be read as a candidate definition: {exc}", value) from None


def fit_candidate(definition, training, *, target: str, weight: str | None = None, validation=None,
                  threads: int = 1) -> FittedModel:
    """`definition`: a definition.json (its dict or location); `training` (and `validation`, which early
    stopping then watches): a DataFrame or a data location. Returns the fitted candidate as a scikit-learn
    estimator, like `automl.load_model`."""
    defn = _definition(definition)
    name = defn.get("CandidateName", "candidate")
    algorithm = defn.get("Algorithm")
    if algorithm == "weighted-ensemble" or defn.get("StackedOn"):
        raise field_error("definition", f"{name} combines other candidates ({', '.join(defn.get('Members') or [])}"
                          "); fit each of them and combine their predictions with its Members weights", algorithm)
    try:
        cls = algorithms.get(algorithm)
    except KeyError:
        raise field_error("definition.Algorithm", "is not an algorithm of this engine", algorithm) from None
    preprocessing = defn.get("Preprocessing") or {}
    kinds = {c: ColumnKind(k) for c, k in (preprocessing.get("Columns") or {}).items()}
    if not kinds:
        raise field_error("definition.Preprocessing.Columns", "is missing: the definition does not say which "
                          "columns the candidate reads")
    problem_type = ProblemType(defn["ProblemType"])
    frame = read_any(training)
    if target not in frame.columns:
        raise field_error("target", "is not a column of the training data", target)
    frame = frame[frame[target].notna()].reset_index(drop=True)
    classes = []
    if problem_type.is_classification:
        values = frame[target]
        classes = sorted(values.astype(str).unique()) if values.dtype == object else sorted(values.unique())
    y = _encode(frame[target], classes, "target")
    w = frame[weight].to_numpy(dtype=float) if weight else None
    X = coerce(frame, kinds)
    held = None
    if validation is not None:
        valid = read_any(validation)
        valid = valid[valid[target].notna()].reset_index(drop=True)
        held = (coerce(valid, kinds), _encode(valid[target], classes, "validation.target"),
                valid[weight].to_numpy(dtype=float) if weight else None)
    params, options = defn.get("Hyperparameters") or {}, preprocessing.get("Options")
    bagging = defn.get("Bagging") or {}
    if bagging.get("Folds"):
        models = []
        folds = fold_indices(y, int(bagging["Folds"]), problem_type.is_classification)
        for rows in folds[:int(bagging.get("FoldsFitted", len(folds)))]:  # a bag short of time fitted fewer
            train = np.setdiff1d(np.arange(len(y)), rows)
            models.append(fit_model(cls, params, problem_type, kinds, classes, threads,
                                    (X.iloc[train], y[train], None if w is None else w[train]),
                                    (X.iloc[rows], y[rows], None if w is None else w[rows]), None, options))
        model = BaggedModel(problem_type, classes, models)
    else:
        model = fit_model(cls, params, problem_type, kinds, classes, threads, (X, y, w), held, None, options)
    estimator = FittedClassifier if problem_type.is_classification else FittedRegressor
    return estimator(model, name)

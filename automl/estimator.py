"""A saved candidate as a scikit-learn estimator, loaded from the job store or from its output folder alone.

    model = automl.load_model("my-job")                    # the best candidate; or candidate="my-job-lightgbm-L1"
    model = automl.load_model("/data/out/my-job/")         # the job's output folder, moved or shipped anywhere
    model.predict(frame); model.predict_proba(frame); model.classes_; model.feature_names_in_

Loading needs only `automl` and the algorithms' libraries, never the trainer (`runners`, optuna). The estimator
was fitted by its job: `fit` refuses, but scorers, `permutation_importance` and other sklearn tools work.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from automl.artifacts import load_model as load_saved
from automl.artifacts import locate_model
from automl.channels import read_any
from automl.errors import ResourceNotFound, field_error
from automl.store import Store, completed_candidate

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")  # AutoMLJobName's pattern: no path looks like it


class FittedModel(BaseEstimator):
    """One saved candidate (`model`: CandidateModel, BaggedModel or StackModel) in scikit-learn's style."""

    def __init__(self, model=None, candidate: str | None = None):
        self.model = model
        self.candidate = candidate

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        return f"{type(self).__name__}(candidate={self.candidate!r})"

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X, y=None, **fit_params):
        """Present because sklearn's scorers check for it; refitting belongs to a job (it chose the pipeline)."""
        raise field_error("fit", f"is not available: {self.candidate} was fitted by its AutoML job; create a job "
                                 "to fit on other data")

    @property
    def feature_names_in_(self) -> np.ndarray:
        return np.asarray(list(self.model.kinds), dtype=object)

    @property
    def n_features_in_(self) -> int:
        return len(self.model.kinds)

    def _frame(self, X) -> pd.DataFrame:
        """A DataFrame, a data location, or an array in the training columns' order (what sklearn tools pass)."""
        if isinstance(X, np.ndarray):
            return pd.DataFrame(X, columns=self.feature_names_in_)
        return read_any(X)

    def infer(self, X) -> pd.DataFrame:
        """Autopilot's inference keys: predicted_label, and for classification probability, probabilities, labels."""
        return self.model.infer(self._frame(X))


class FittedClassifier(ClassifierMixin, FittedModel):
    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.model.classes)

    def predict_proba(self, X) -> np.ndarray:
        """One column per class, in `classes_` order."""
        return self.model.predict_raw(self._frame(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class FittedRegressor(RegressorMixin, FittedModel):
    def predict(self, X) -> np.ndarray:
        return self.model.predict_raw(self._frame(X))


def _estimator(uri: str, candidate: str) -> FittedModel:
    model = load_saved(uri)
    cls = FittedClassifier if model.problem_type.is_classification else FittedRegressor
    return cls(model, candidate)


def job_model(store: Store, job: str, candidate: str | None = None) -> FittedModel:
    """A job's best candidate, or any Completed candidate of it, from the locations the store recorded."""
    record = completed_candidate(store, job, candidate)
    return _estimator(record.model_uri, record.name)


def load_model(path_or_job, candidate: str | None = None) -> FittedModel:
    """`path_or_job`: a job name in the store (AUTOML_HOME), or a location: a model file, a candidate folder
    (`.../candidates/<name>/`) or a job's output folder (`<S3OutputPath>/<job>/`). For a job or its folder,
    `candidate` picks a Completed candidate other than the best."""
    location = str(path_or_job)
    if JOB_NAME.match(location):
        try:
            return job_model(Store(), location, candidate)
        except ResourceNotFound:
            pass  # a relative folder of that name, or nothing at all: locate_model says which
    uri = locate_model(location, candidate)
    return _estimator(uri, candidate or uri.rstrip("/").rsplit("/", 2)[-2])

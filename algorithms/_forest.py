"""Shared fit loop of the two scikit-learn forests: grow trees in chunks so a deadline ends the fit early."""
from __future__ import annotations

import joblib

from algorithms.base import Algorithm, past

CHUNK_TREES = 50


class Forest(Algorithm):
    modes = ("ENSEMBLING",)

    def _estimator(self, params: dict):
        raise NotImplementedError

    def fit(self, X, y, *, sample_weight=None, eval_set=None, deadline=None):
        params = self.resolved_params
        total = params.pop("n_estimators")
        model = self._estimator(params | {"n_estimators": 0, "warm_start": True, "n_jobs": self.task.threads,
                                          "random_state": self.task.seed})
        # Threads, not loky processes: the runner's executor already runs this inside a child process.
        with joblib.parallel_config(backend="threading", n_jobs=self.task.threads):
            while model.n_estimators < total and not (model.n_estimators and past(deadline)):
                model.set_params(n_estimators=min(total, model.n_estimators + CHUNK_TREES))
                model.fit(X, y, sample_weight=sample_weight)
        self.model_ = model
        return self

    def _predict_raw(self, X):
        if self.task.is_classification:
            return self.model_.predict_proba(X)
        return self.model_.predict(X)

    def describe_fit(self) -> dict:
        return {"trees": int(self.model_.n_estimators)}

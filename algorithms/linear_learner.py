"""linear-learner: regularised logistic / ridge regression on scaled, one-hot encoded features.

Its tuning fidelity is data: with `progress`, it first fits on growing shares of the rows (FIDELITY_SHARES)
and reports the validation loss of each, so a hopeless trial ends before the fit on every row.
"""
from __future__ import annotations

import numpy as np

from algorithms.base import FULL_RESOURCE, Algorithm, Task, validation_loss

FIDELITY_SHARES = (0.09, 0.27)
MIN_FIDELITY_ROWS = 50


class LinearLearner(Algorithm):
    name = "linear-learner"
    modes = ("ENSEMBLING", "HYPERPARAMETER_TUNING")
    preprocessing = "linear"

    @classmethod
    def default_params(cls, task: Task) -> dict:
        return {"C": 1.0} if task.is_classification else {"alpha": 1.0}

    @classmethod
    def portfolio(cls, task: Task) -> list[dict]:
        return [{"C": 0.1}, {"C": 10.0}] if task.is_classification else [{"alpha": 10.0}, {"alpha": 0.1}]

    @classmethod
    def search_space(cls, task: Task) -> dict:
        from optuna.distributions import FloatDistribution

        if task.is_classification:
            return {"C": FloatDistribution(1e-4, 1e3, log=True)}
        return {"alpha": FloatDistribution(1e-4, 1e4, log=True)}

    def _model(self):
        from sklearn.linear_model import LogisticRegression, Ridge

        if self.task.is_classification:
            return LogisticRegression(max_iter=2000, random_state=self.task.seed, **self.resolved_params)
        return Ridge(random_state=self.task.seed, **self.resolved_params)

    def fit(self, X, y, *, sample_weight=None, eval_set=None, deadline=None, progress=None):
        y = np.asarray(y)
        if progress is not None and eval_set is not None:
            order = np.random.default_rng(self.task.seed).permutation(len(y))
            for share in FIDELITY_SHARES:
                rows = np.sort(order[:max(MIN_FIDELITY_ROWS, int(share * len(y)))])
                if self.task.is_classification and len(np.unique(y[rows])) < self.task.n_classes:
                    continue  # a share missing a class cannot be scored against the rest
                self.model_ = self._model().fit(X[rows], y[rows],
                                                sample_weight=None if sample_weight is None else sample_weight[rows])
                Xv, yv, wv = eval_set
                progress(round(share * FULL_RESOURCE), validation_loss(self.task, self._predict_raw(Xv), yv, wv))
        self.model_ = self._model().fit(X, y, sample_weight=sample_weight)
        return self

    def _predict_raw(self, X):
        if self.task.is_classification:
            return self.model_.predict_proba(X)
        return self.model_.predict(X)

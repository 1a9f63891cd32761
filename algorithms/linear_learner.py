"""linear-learner: regularised logistic / ridge regression on scaled, one-hot encoded features."""
from __future__ import annotations

from algorithms.base import Algorithm, Task


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

    def fit(self, X, y, *, sample_weight=None, eval_set=None, deadline=None):
        from sklearn.linear_model import LogisticRegression, Ridge

        if self.task.is_classification:
            model = LogisticRegression(max_iter=2000, random_state=self.task.seed, **self.resolved_params)
        else:
            model = Ridge(random_state=self.task.seed, **self.resolved_params)
        self.model_ = model.fit(X, y, sample_weight=sample_weight)
        return self

    def _predict_raw(self, X):
        if self.task.is_classification:
            return self.model_.predict_proba(X)
        return self.model_.predict(X)

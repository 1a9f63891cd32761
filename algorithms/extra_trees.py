"""extra-trees: scikit-learn's extremely randomized trees, grown until its tree count or deadline."""
from __future__ import annotations

from algorithms._forest import Forest
from algorithms.base import Task


class ExtraTrees(Forest):
    name = "extra-trees"

    @classmethod
    def default_params(cls, task: Task) -> dict:
        return {"n_estimators": 300, "max_features": "sqrt" if task.is_classification else 1.0,
                "min_samples_leaf": 1, "criterion": "gini" if task.is_classification else "squared_error"}

    @classmethod
    def portfolio(cls, task: Task) -> list[dict]:
        return [{"criterion": "entropy"}] if task.is_classification else [{"max_features": 0.5}]

    def _estimator(self, params: dict):
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        cls = ExtraTreesClassifier if self.task.is_classification else ExtraTreesRegressor
        return cls(**params)

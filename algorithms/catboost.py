"""catboost: ordered boosting with native categorical statistics and early stopping on the validation set."""
from __future__ import annotations

import numpy as np

from algorithms.base import EARLY_STOPPING_ROUNDS, Boosting, ShapTree, Task, past

MISSING_CATEGORY = -1  # catboost wants category codes as integers; NaN (missing or unseen) becomes its own level


class CatBoost(Boosting):
    DEFAULT_ROUNDS = 1000

    name = "catboost"
    modes = ("ENSEMBLING",)

    @classmethod
    def default_params(cls, task: Task) -> dict:
        return {"learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0}

    @classmethod
    def portfolio(cls, task: Task) -> list[dict]:
        return [{"learning_rate": 0.05, "depth": 8, "l2_leaf_reg": 1.0},
                {"learning_rate": 0.1, "depth": 4, "l2_leaf_reg": 10.0}]

    def _pool(self, X, y=None, weight=None):
        from catboost import Pool

        X = np.asarray(X, dtype=np.float64)
        categorical = list(self.task.categorical_features)
        if not categorical:
            return Pool(X, y, weight=weight)
        frame = {}
        for i in range(X.shape[1]):
            column = X[:, i]
            frame[i] = (np.where(np.isnan(column), MISSING_CATEGORY, column).astype(np.int64)
                        if i in categorical else column)
        import pandas as pd

        return Pool(pd.DataFrame(frame), y, weight=weight, cat_features=categorical)

    def fit(self, X, y, *, sample_weight=None, eval_set=None, deadline=None):
        from catboost import CatBoostClassifier, CatBoostRegressor

        params = self.resolved_params
        params["iterations"], early = self.rounds(params, eval_set is not None)
        params |= {"thread_count": self.task.threads, "random_seed": self.task.seed,
                                         "verbose": False, "allow_writing_files": False}
        if self.task.problem_type.value == "MulticlassClassification":
            params["loss_function"] = "MultiClass"
        elif self.task.is_classification:
            params["loss_function"] = "Logloss"
        else:
            params["loss_function"] = "RMSE"
        cls = CatBoostClassifier if self.task.is_classification else CatBoostRegressor
        fit_args = {"callbacks": [_StopAtDeadline(deadline)]}
        if eval_set is not None and early:
            Xv, yv, wv = eval_set
            fit_args |= {"eval_set": self._pool(Xv, yv, wv), "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
                         "use_best_model": True}
        self.model_ = cls(**params).fit(self._pool(X, y, sample_weight), **fit_args)
        return self

    def _predict_raw(self, X):
        pool = self._pool(X)
        if self.task.is_classification:
            return self.model_.predict_proba(pool)
        return self.model_.predict(pool)

    def shap_tree(self) -> ShapTree:
        """catboost computes the values itself from a Pool holding the category codes as integers."""
        return ShapTree(self.model_, self.raw_output, self._pool)

    def describe_fit(self) -> dict:
        return {"rounds": int(self.model_.tree_count_)}


class _StopAtDeadline:
    def __init__(self, deadline: float | None):
        self.deadline = deadline

    def after_iteration(self, info) -> bool:
        return not past(self.deadline)

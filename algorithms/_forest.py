"""Shared fit loop of the two scikit-learn forests: grow trees in chunks so a deadline ends the fit early."""
from __future__ import annotations

import joblib

from algorithms.base import Algorithm, ShapTree, Task, past

CHUNK_TREES = 50
NODE_BYTES = 60
# AutoGluon's cap on a tree's leaves: on large data a fully grown tree has about one leaf per row, so 300 trees
# of 200k rows took 5.4 GB while fitting and 1.3 GB on disk for one bag.
MAX_LEAF_NODES = 15000
PARALLEL_PREDICT_ROWS = 1000


class Forest(Algorithm):
    """The two forests share defaults (AutoGluon's proven ones: sqrt features for classes, all for values)."""

    modes = ("ENSEMBLING",)

    @classmethod
    def default_params(cls, task: Task) -> dict:
        return {"n_estimators": 300, "max_features": "sqrt" if task.is_classification else 1.0,
                "min_samples_leaf": 1, "max_leaf_nodes": MAX_LEAF_NODES,
                "criterion": "gini" if task.is_classification else "squared_error"}

    @classmethod
    def portfolio(cls, task: Task) -> list[dict]:
        return [{"criterion": "entropy"}] if task.is_classification else [{"max_features": 0.5}]

    @classmethod
    def memory_bytes(cls, rows: int, columns: int, params: dict) -> int:
        """A fully grown tree holds about one node per row, a capped one at most two per leaf allowed; each node
        costs ~60 bytes (more per class)."""
        cap = params.get("max_leaf_nodes")
        nodes = rows if cap is None else min(rows, 2 * cap)
        return super().memory_bytes(rows, columns, params) + params["n_estimators"] * nodes * NODE_BYTES

    def _estimator_classes(self) -> tuple[type, type]:
        """(classifier, regressor) from scikit-learn."""
        raise NotImplementedError

    def _estimator(self, params: dict):
        classifier, regressor = self._estimator_classes()
        return (classifier if self.task.is_classification else regressor)(**params)

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
        # Threads cost more than they save on small batches (a single row waits ~50 ms for the pool).
        self.model_.set_params(n_jobs=self.task.threads if X.shape[0] >= PARALLEL_PREDICT_ROWS else 1)
        with joblib.parallel_config(backend="threading", n_jobs=self.model_.n_jobs):
            if self.task.is_classification:
                return self.model_.predict_proba(X)
            return self.model_.predict(X)

    def shap_tree(self) -> ShapTree:
        """A forest averages its trees' leaf values: class probabilities, or the value for regression."""
        return ShapTree(self.model_, "probability" if self.task.is_classification else "value")

    def describe_fit(self) -> dict:
        return {"trees": int(self.model_.n_estimators)}

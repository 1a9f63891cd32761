"""linear-learner: regularised logistic / ridge regression on scaled, one-hot encoded features.

Its tuning fidelity is data: with `progress`, it first fits on growing shares of the rows (FIDELITY_SHARES)
and reports the validation loss of each, so a hopeless trial ends before the fit on every row.

It fits on one BLAS thread: lbfgs is a chain of small matrix products on which OpenBLAS's threads wait for
each other more than they compute (digits six times over: 0.06 s on one thread, 0.7 s on two, 5-8 s on two
when other processes keep the cores busy).
"""
from __future__ import annotations

import warnings

import numpy as np

from algorithms.base import FULL_RESOURCE, Algorithm, Task, past, validation_loss

FIDELITY_SHARES = (0.09, 0.27)
MIN_FIDELITY_ROWS = 50
MAX_ITERATIONS = 2000
# With a deadline, lbfgs runs in chunks of this many iterations (each resuming from the last), checking the
# clock in between; most fits converge within the first chunk, so the result is the same as one long fit.
ITERATION_CHUNK = 100


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

    def _model(self, max_iter: int = MAX_ITERATIONS):
        from sklearn.linear_model import LogisticRegression, Ridge

        if self.task.is_classification:
            return LogisticRegression(max_iter=max_iter, random_state=self.task.seed, **self.resolved_params)
        return Ridge(random_state=self.task.seed, **self.resolved_params)

    def fit(self, X, y, *, sample_weight=None, eval_set=None, deadline=None, progress=None):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(X, np.asarray(y), sample_weight, eval_set, deadline, progress)

    def _fit(self, X, y, sample_weight, eval_set, deadline, progress):
        from sklearn.exceptions import ConvergenceWarning

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
        if deadline is None or not self.task.is_classification:
            self.model_ = self._model().fit(X, y, sample_weight=sample_weight)  # Ridge solves in one step
            return self
        self.model_ = self._model(ITERATION_CHUNK).set_params(warm_start=True)
        for _ in range(MAX_ITERATIONS // ITERATION_CHUNK):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # a chunk that ends unconverged resumes
                self.model_.fit(X, y, sample_weight=sample_weight)
            if self.model_.n_iter_.max() < ITERATION_CHUNK or past(deadline):
                break
        return self

    def _predict_raw(self, X):
        if self.task.is_classification:
            return self.model_.predict_proba(X)
        return self.model_.predict(X)

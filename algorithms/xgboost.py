"""xgboost: histogram gradient boosting with early stopping on the validation set.

Its tuning fidelity is boosting rounds: one progress step per ROUNDS_PER_STEP rounds.
"""
from __future__ import annotations

from algorithms.base import EARLY_STOPPING_ROUNDS, FULL_RESOURCE, Boosting, ShapTree, Task, past

ROUNDS_PER_STEP = 10


class XGBoost(Boosting):
    name = "xgboost"
    modes = ("ENSEMBLING", "HYPERPARAMETER_TUNING")

    @classmethod
    def default_params(cls, task: Task) -> dict:
        return {"eta": 0.1, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0, "colsample_bytree": 1.0,
                "lambda": 1.0}

    @classmethod
    def portfolio(cls, task: Task) -> list[dict]:
        return [{"eta": 0.05, "max_depth": 8, "colsample_bytree": 0.7, "min_child_weight": 0.6},
                {"eta": 0.1, "max_depth": 4, "subsample": 0.8, "colsample_bytree": 0.8}]

    @classmethod
    def search_space(cls, task: Task) -> dict:
        from optuna.distributions import FloatDistribution, IntDistribution

        return {"eta": FloatDistribution(0.01, 0.3, log=True), "max_depth": IntDistribution(2, 10),
                "min_child_weight": FloatDistribution(0.5, 20.0, log=True),
                "subsample": FloatDistribution(0.5, 1.0), "colsample_bytree": FloatDistribution(0.4, 1.0),
                "lambda": FloatDistribution(1e-3, 10.0, log=True), "alpha": FloatDistribution(1e-3, 10.0, log=True)}

    def fit(self, X, y, *, sample_weight=None, eval_set=None, deadline=None, progress=None):
        import xgboost as xgb

        params = self.resolved_params
        rounds, early = self.rounds(params, eval_set is not None)
        params |= {"tree_method": "hist", "nthread": self.task.threads, "seed": self.task.seed,
                                         "verbosity": 0}
        if self.task.problem_type.value == "MulticlassClassification":
            params |= {"objective": "multi:softprob", "num_class": self.task.n_classes, "eval_metric": "mlogloss"}
        elif self.task.is_classification:
            params |= {"objective": "binary:logistic", "eval_metric": "logloss"}
        else:
            params |= {"objective": "reg:squarederror", "eval_metric": "rmse"}
        # Quantised once (hist bins) instead of copied as floats: on millions of rows a DMatrix doubled the memory.
        train = xgb.QuantileDMatrix(X, y, weight=sample_weight)
        callbacks = [_DeadlineCallback(deadline)]
        evals = []
        if eval_set is not None:
            Xv, yv, wv = eval_set
            evals = [(xgb.QuantileDMatrix(Xv, yv, weight=wv, ref=train), "validation")]
            if progress is not None:
                callbacks.append(_ProgressCallback(progress, params["eval_metric"]))
        self.booster_ = xgb.train(params, train, num_boost_round=rounds, evals=evals,
                                  early_stopping_rounds=EARLY_STOPPING_ROUNDS if early else None,
                                  callbacks=callbacks, verbose_eval=False)
        return self

    def _predict_raw(self, X):
        import xgboost as xgb

        best = getattr(self.booster_, "best_iteration", None)
        rounds = (0, best + 1) if best is not None else (0, 0)
        return self.booster_.predict(xgb.DMatrix(X), iteration_range=rounds)

    def shap_tree(self) -> ShapTree:
        """The rounds up to the best one, as `_predict_raw` uses them (the explainer would read every tree)."""
        best = getattr(self.booster_, "best_iteration", None)
        return ShapTree(self.booster_ if best is None else self.booster_[: best + 1], self.raw_output)

    def describe_fit(self) -> dict:
        best = getattr(self.booster_, "best_iteration", None)
        return {"rounds": int(best + 1) if best is not None else int(self.booster_.num_boosted_rounds())}


def _DeadlineCallback(deadline):
    import xgboost as xgb

    class StopAtDeadline(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:
            return past(deadline)
    return StopAtDeadline()


def _ProgressCallback(progress, metric: str):
    import xgboost as xgb

    class Report(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:
            if (epoch + 1) % ROUNDS_PER_STEP == 0 and (epoch + 1) // ROUNDS_PER_STEP <= FULL_RESOURCE:
                progress((epoch + 1) // ROUNDS_PER_STEP, float(evals_log["validation"][metric][-1]))
            return False
    return Report()

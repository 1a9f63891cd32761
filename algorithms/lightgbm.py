"""lightgbm: gradient-boosted trees with native categorical splits and early stopping on the validation set."""
from __future__ import annotations

from algorithms.base import EARLY_STOPPING_ROUNDS, Boosting, ShapTree, Task, past

SMALL_BATCH_ROWS = 256


class LightGBM(Boosting):
    name = "lightgbm"
    modes = ("ENSEMBLING",)

    @classmethod
    def default_params(cls, task: Task) -> dict:
        return {"learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20, "feature_fraction": 0.9,
                "lambda_l2": 0.0, "max_bin": 255}

    @classmethod
    def portfolio(cls, task: Task) -> list[dict]:
        return [{"learning_rate": 0.03, "num_leaves": 128, "feature_fraction": 0.9, "min_child_samples": 3},
                {"learning_rate": 0.05, "num_leaves": 15, "feature_fraction": 0.6, "lambda_l2": 1.0,
                 "extra_trees": True}]

    def fit(self, X, y, *, sample_weight=None, eval_set=None, deadline=None):
        import lightgbm as lgb

        params = self.resolved_params
        rounds, early = self.rounds(params, eval_set is not None)
        params |= {"verbosity": -1, "num_threads": self.task.threads, "seed": self.task.seed,
                                         "deterministic": True}
        if self.task.problem_type.value == "MulticlassClassification":
            params |= {"objective": "multiclass", "num_class": self.task.n_classes}
        else:
            params["objective"] = "binary" if self.task.is_classification else "regression"
        categorical = list(self.task.categorical_features) or "auto"
        train = lgb.Dataset(X, y, weight=sample_weight, categorical_feature=categorical, free_raw_data=False)
        callbacks = [_deadline_callback(deadline)]
        valid_sets = []
        if eval_set is not None:
            Xv, yv, wv = eval_set
            valid_sets = [lgb.Dataset(Xv, yv, weight=wv, reference=train, categorical_feature=categorical)]
            if early:
                callbacks.append(lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False))
        self.booster_ = lgb.train(params, train, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks)
        return self

    def _predict_raw(self, X):
        # A few rows (an endpoint's request) predict in one thread: starting the OpenMP team costs more than the
        # trees (adult, one row, five folds: 4.4 ms a fold on two threads).
        threads = {"num_threads": 1} if X.shape[0] <= SMALL_BATCH_ROWS else {}
        return self.booster_.predict(X, num_iteration=self.booster_.best_iteration or None, **threads)

    def shap_tree(self) -> ShapTree:
        """A copy cut at the best iteration: the explainer asks lightgbm for every iteration, `_predict_raw` for
        the best ones."""
        import lightgbm as lgb

        return ShapTree(lgb.Booster(model_str=self.booster_.model_to_string()), self.raw_output)

    def describe_fit(self) -> dict:
        return {"rounds": int(self.booster_.best_iteration or self.booster_.current_iteration())}


def _deadline_callback(deadline):
    import lightgbm as lgb

    def stop_at_deadline(env):
        if past(deadline):
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])
    return stop_at_deadline

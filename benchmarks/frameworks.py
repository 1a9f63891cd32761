"""One adapter per framework: fit on the train frame within the budget, then predict the test frame.

Each adapter imports its framework inside, so this module loads in any of the environments the runs use
(ours for automl and lightgbm, the peers' environment for autogluon and flaml). `predict` returns
(labels or values, class probabilities or None, class order).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

MAIN_METRIC = {"BinaryClassification": "AUC", "MulticlassClassification": "Accuracy", "Regression": "RMSE"}


class Automl:
    """Our engine, through its public API, exactly as a user would call it: AUTO mode ("automl"; ensembling
    below 100 MB) or a forced mode ("automl_tuning" is HYPERPARAMETER_TUNING)."""

    def __init__(self, mode: str | None = None):
        self.mode = mode
        self.name = "automl" if mode is None else {"HYPERPARAMETER_TUNING": "automl_tuning",
                                                   "ENSEMBLING": "automl_ensembling"}[mode]

    def fit(self, train: pd.DataFrame, target: str, problem_type: str, budget_s: int, seed: int, workdir: Path):
        data = workdir / "train.parquet"
        train.to_parquet(data, index=False)
        return self.fit_file(data, target, problem_type, budget_s, seed, workdir)

    def fit_file(self, data: Path, target: str, problem_type: str, budget_s: int, seed: int, workdir: Path):
        """The job reads the file itself, as a user's job does (a large file is never loaded by the caller)."""
        os.environ["AUTOML_HOME"] = str(workdir / "home")
        import automl

        self.client = automl.client()
        self.name_ = f"bench-{seed}"
        content = "x-application/vnd.amazon+parquet" if data.suffix == ".parquet" else "text/csv;header=present"
        self.client.create_auto_ml_job(
            AutoMLJobName=self.name_,
            InputDataConfig=[{"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(data)}},
                              "TargetAttributeName": target, "ContentType": content}],
            OutputDataConfig={"S3OutputPath": str(workdir / "out")},
            RoleArn="arn:aws:iam::000000000000:role/automl-local", ProblemType=problem_type,
            AutoMLJobObjective={"MetricName": MAIN_METRIC[problem_type]},
            AutoMLJobConfig={"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": budget_s},
                             **({"Mode": self.mode} if self.mode else {})})
        final = self.client.wait(self.name_, poll_s=0.2)
        if final["AutoMLJobStatus"] != "Completed":
            raise RuntimeError(f"job ended {final['AutoMLJobStatus']}: {final.get('FailureReason')}")
        self.summary = {"mode": final["AutoMLJobConfig"]["Mode"], "best_candidate": final["BestCandidate"][
            "CandidateName"], "secondary_status": final["AutoMLJobSecondaryStatus"]}
        return self

    def predict(self, test: pd.DataFrame):
        answer = self.client.predict(self.name_, test)
        if "probabilities" not in answer:
            return answer["predicted_label"].to_numpy(dtype=float), None, None
        return answer["predicted_label"].to_numpy(), np.vstack(answer["probabilities"].to_numpy()), \
            list(answer["labels"].iloc[0])


class LightGBMDefaults:
    """The floor: LightGBM with default parameters, categories as pandas categoricals, no time limit."""

    name = "lightgbm"

    def fit(self, train, target, problem_type, budget_s, seed, workdir):
        import lightgbm as lgb

        X, y = self._features(train.drop(columns=[target]), fit=True), train[target]
        cls = lgb.LGBMRegressor if problem_type == "Regression" else lgb.LGBMClassifier
        self.model_ = cls(random_state=seed, verbose=-1, n_jobs=2).fit(X, y)
        return self

    def _features(self, X: pd.DataFrame, fit: bool = False) -> pd.DataFrame:
        X = X.copy()
        if fit:
            self.categories_ = {c: X[c].astype("category").cat.categories for c in X if X[c].dtype == object}
        for column, categories in self.categories_.items():
            X[column] = pd.Categorical(X[column], categories=categories)
        return X

    def predict(self, test):
        X = self._features(test)
        if not hasattr(self.model_, "predict_proba"):
            return self.model_.predict(X), None, None
        proba = self.model_.predict_proba(X)
        classes = list(self.model_.classes_)
        return np.asarray(classes, dtype=object)[proba.argmax(axis=1)], proba, classes


class AutoGluon:
    name = "autogluon"
    metric = {"BinaryClassification": "roc_auc", "MulticlassClassification": "accuracy",
              "Regression": "root_mean_squared_error"}
    kind = {"BinaryClassification": "binary", "MulticlassClassification": "multiclass", "Regression": "regression"}

    def __init__(self, presets: str):
        self.presets = presets
        self.name = f"autogluon_{presets}"

    def fit(self, train, target, problem_type, budget_s, seed, workdir):
        from autogluon.tabular import TabularPredictor

        self.problem_type = problem_type
        self.model_ = TabularPredictor(label=target, problem_type=self.kind[problem_type],
                                       eval_metric=self.metric[problem_type], path=str(workdir / "ag"),
                                       verbosity=0).fit(train, time_limit=budget_s, presets=self.presets)
        return self

    def predict(self, test):
        if self.problem_type == "Regression":
            return self.model_.predict(test).to_numpy(), None, None
        proba = self.model_.predict_proba(test)
        classes = list(proba.columns)
        return np.asarray(classes, dtype=object)[proba.to_numpy().argmax(axis=1)], proba.to_numpy(), classes


class Flaml:
    """FLAML's AutoML with the same budget as ours, its final fit on every row included (`retrain_full="budget"`):
    by default that fit comes after the budget, and on 2.5 million rows it took FLAML to 2.2 times its budget."""

    name = "flaml"
    metric = {"BinaryClassification": "roc_auc", "MulticlassClassification": "accuracy", "Regression": "rmse"}

    def fit(self, train, target, problem_type, budget_s, seed, workdir):
        from flaml import AutoML

        self.problem_type = problem_type
        self.model_ = AutoML()
        self.model_.fit(X_train=train.drop(columns=[target]), y_train=train[target], time_budget=budget_s,
                        metric=self.metric[problem_type], seed=seed, verbose=0, n_jobs=2,
                        task="regression" if problem_type == "Regression" else "classification",
                        log_file_name=str(workdir / "flaml.log"), retrain_full="budget")
        return self

    def predict(self, test):
        if self.problem_type == "Regression":
            return np.asarray(self.model_.predict(test)), None, None
        proba = self.model_.predict_proba(test)
        classes = list(self.model_.classes_)
        return np.asarray(classes, dtype=object)[proba.argmax(axis=1)], proba, classes


def build(name: str):
    adapters = {"automl": Automl, "automl_tuning": lambda: Automl("HYPERPARAMETER_TUNING"),
                "lightgbm": LightGBMDefaults, "flaml": Flaml,
                "autogluon_medium_quality": lambda: AutoGluon("medium_quality"),
                "autogluon_best_quality": lambda: AutoGluon("best_quality")}
    if name not in adapters:
        raise SystemExit(f"unknown framework {name!r}; known: {', '.join(adapters)}")
    return adapters[name]()


PEER_FRAMEWORKS = ("flaml", "autogluon_medium_quality", "autogluon_best_quality")

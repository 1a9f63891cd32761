"""The algorithm registry, keyed by the API's names (`AutoMLAlgorithm`), checked against botocore at import.

`MODE_ALGORITHMS` is Autopilot's documented set per mode; `REGISTRY` holds what this engine implements.
"""
from __future__ import annotations

from algorithms.base import Algorithm
from algorithms.catboost import CatBoost
from algorithms.extra_trees import ExtraTrees
from algorithms.fastai import FastAI
from algorithms.lightgbm import LightGBM
from algorithms.linear_learner import LinearLearner
from algorithms.mlp import MLP
from algorithms.nn_torch import NNTorch
from algorithms.randomforest import RandomForest
from algorithms.xgboost import XGBoost

MODE_ALGORITHMS: dict[str, tuple[str, ...]] = {
    "ENSEMBLING": ("catboost", "extra-trees", "fastai", "lightgbm", "linear-learner", "nn-torch", "randomforest",
                   "xgboost"),
    "HYPERPARAMETER_TUNING": ("linear-learner", "mlp", "xgboost"),
}

REGISTRY: dict[str, type[Algorithm]] = {cls.name: cls for cls in (LightGBM, CatBoost, XGBoost, RandomForest,
                                                                   ExtraTrees, LinearLearner, NNTorch, FastAI,
                                                                   MLP)}


# The order a job trains them in when the request does not list them: strongest per second first, so a
# tight MaxAutoMLJobRuntimeInSeconds still ends with a good model.
PRIORITY = ("lightgbm", "linear-learner", "catboost", "xgboost", "extra-trees", "randomforest", "nn-torch",
            "fastai", "mlp")


def _check_names() -> None:
    from automl.contract import service_model

    api_names = set(service_model().shape_for("AutoMLAlgorithm").enum)
    named = set(REGISTRY) | {n for names in MODE_ALGORITHMS.values() for n in names}
    if set(PRIORITY) != {n for names in MODE_ALGORITHMS.values() for n in names}:
        raise ImportError("PRIORITY must order exactly the algorithms of MODE_ALGORITHMS")
    unknown = named - api_names
    if unknown:
        raise ImportError(f"algorithm names not in the API's AutoMLAlgorithm enum: {sorted(unknown)}")
    for name, cls in REGISTRY.items():
        if any(name not in MODE_ALGORITHMS[mode] for mode in cls.modes):
            raise ImportError(f"{name} claims a mode whose documented algorithm set does not include it")


_check_names()


def get(name: str) -> type[Algorithm]:
    return REGISTRY[name]


def available(mode: str) -> tuple[str, ...]:
    """The mode's documented algorithms that this engine implements, in PRIORITY order."""
    return tuple(n for n in PRIORITY if n in MODE_ALGORITHMS[mode] and n in REGISTRY)

"""The preprocessing choices the tuning mode searches (the fitted preprocessing itself is `automl.features`)."""
from __future__ import annotations

from automl.columns import ColumnKind


def pipeline_space(style: str, kinds: dict[str, ColumnKind]) -> dict:
    """The preprocessing choices worth searching for a style, given the column kinds present (optuna
    distributions keyed by option name)."""
    from optuna.distributions import CategoricalDistribution

    present = set(kinds.values())
    space = {}
    if style in ("linear", "neural") and present & {ColumnKind.NUMERIC, ColumnKind.DATETIME}:
        space["imputer"] = CategoricalDistribution(["median", "mean"])
        space["scaler"] = CategoricalDistribution(["standard", "robust", "quantile"])
    if style == "tree" and ColumnKind.CATEGORICAL in present:
        space["categorical_encoder"] = CategoricalDistribution(["ordinal", "onehot"])
    if ColumnKind.TEXT in present:
        if style == "linear":
            space["text_max_features"] = CategoricalDistribution([2000, 20000])
        else:
            space["text_components"] = CategoricalDistribution([16, 32, 64])
    return space

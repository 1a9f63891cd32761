"""Channels -> an analysed, split `Dataset`: the content rules of Autopilot, shared by create and the worker.

Create runs `load_dataset` itself when the data is small (so a bad file fails the request and leaves no job);
larger data is analysed by the worker, whose job then fails with the same message.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from automl import settings
from automl.channels import read_frame
from automl.columns import ColumnKind, coerce, resolve_kinds, select_features
from automl.errors import field_error
from automl.problem import ProblemType, infer_problem_type, positive_class
from automl.split import holdout_indices

MIN_TRAINING_ROWS = 500


def create_analysis_limit_bytes() -> int:
    return settings.value("AUTOML_CREATE_ANALYSIS_BYTES")


@dataclass
class Dataset:
    problem_type: ProblemType
    kinds: dict[str, ColumnKind]
    classes: list  # original labels in encoded order; empty for regression
    positive_index: int
    X_train: pd.DataFrame
    y_train: np.ndarray
    w_train: np.ndarray | None
    X_valid: pd.DataFrame
    y_valid: np.ndarray
    w_valid: np.ndarray | None
    excluded_rows: int  # rows dropped for a missing target or an invalid weight
    validation_given: bool = False  # True when the validation rows came from the user's validation channel

    @property
    def features(self) -> list[str]:
        return list(self.kinds)


def load_dataset(plan, train: pd.DataFrame | None = None) -> Dataset:
    """`train`: the training channel's frame when the caller has read it already (the worker profiles it first)."""
    train = read_frame(plan.training) if train is None else train
    valid = read_frame(plan.validation) if plan.validation is not None else None
    field = plan.training.field
    train, dropped = _clean_rows(train, plan.target, plan.weight, field)
    if valid is not None:
        valid, dropped_valid = _clean_rows(valid, plan.target, plan.weight, plan.validation.field)
        dropped += dropped_valid
    if len(train) < MIN_TRAINING_ROWS:
        raise field_error(plan.training.uri_field, f"needs at least {MIN_TRAINING_ROWS} rows with a target value "
                          "(and a valid weight)", len(train))
    problem_type = plan.problem_type or infer_problem_type(train[plan.target])
    target = train[plan.target]
    if problem_type.is_classification:
        classes = sorted(target.astype(str).unique()) if target.dtype == object else sorted(target.unique())
        if len(classes) < 2:
            raise field_error(f"{field}.TargetAttributeName", "the target has a single class; classification needs at "
                              "least two", str(classes[0]))
        if problem_type is ProblemType.BINARY and len(classes) != 2:
            raise field_error("ProblemType", f"BinaryClassification needs exactly 2 classes; the target has "
                              f"{len(classes)}", problem_type.value)
    else:
        invalid = pd.to_numeric(target, errors="coerce").isna()
        if invalid.any():
            raise field_error(f"{field}.TargetAttributeName", "a Regression target must be numeric",
                              target[invalid].iloc[0])
        classes = []
    reserved = {plan.target} | ({plan.weight} if plan.weight else set())
    features = select_features(list(train.columns), plan.feature_spec, reserved)
    if not features:
        raise field_error(plan.training.uri_field, "holds no feature column besides the target")
    kinds = resolve_kinds(train, features, plan.feature_spec)
    y_all = _encode(train[plan.target], classes, field)
    w_all = train[plan.weight].to_numpy(dtype=float) if plan.weight else None
    positive = 1
    if problem_type is ProblemType.BINARY:
        counts = [int((y_all == i).sum()) for i in range(2)]
        positive = classes.index(positive_class(classes, counts))
    if valid is None:
        tr, va = holdout_indices(y_all, plan.validation_fraction, problem_type.is_classification)
        X = coerce(train, kinds)
        del train, target  # the raw frame: large data must not be held twice while it is split
        X_train, X_valid = X.iloc[tr], X.iloc[va]
        del X
        return Dataset(problem_type, kinds, classes, positive, X_train, y_all[tr],
                       None if w_all is None else w_all[tr], X_valid, y_all[va],
                       None if w_all is None else w_all[va], dropped)
    y_valid = _encode(valid[plan.target], classes, plan.validation.field)
    w_valid = valid[plan.weight].to_numpy(dtype=float) if plan.weight else None
    return Dataset(problem_type, kinds, classes, positive, coerce(train, kinds), y_all, w_all,
                   coerce(valid, kinds), y_valid, w_valid, dropped, validation_given=True)


def _clean_rows(frame: pd.DataFrame, target: str, weight: str | None, field: str) -> tuple[pd.DataFrame, int]:
    """Rows without a target are dropped, and so are rows whose weight is missing, non-numeric or negative."""
    keep = frame[target].notna()
    if weight is not None:
        w = pd.to_numeric(frame[weight], errors="coerce")
        valid_w = w.notna() & np.isfinite(w.fillna(0)) & (w >= 0)
        if not valid_w.any():
            raise field_error(f"{field}.SampleWeightAttributeName", "holds no numeric, non-negative weight", weight)
        frame = frame.assign(**{weight: w})
        keep &= valid_w
    if keep.all():
        return frame, 0  # no copy of a large frame for nothing
    return frame.loc[keep].reset_index(drop=True), int((~keep).sum())


def _encode(target: pd.Series, classes: list, field: str) -> np.ndarray:
    if not classes:
        return pd.to_numeric(target).to_numpy(dtype=float)
    values = target.astype(str) if target.dtype == object else target
    lookup = {c: i for i, c in enumerate(classes)}
    codes = values.map(lookup)
    if codes.isna().any():
        raise field_error(f"{field}.TargetAttributeName", "the validation target holds a class the training data "
                          "lacks", str(values[codes.isna()].iloc[0]))
    return codes.to_numpy(dtype=int)

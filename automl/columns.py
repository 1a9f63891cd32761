"""Column types: inferred from the data, or declared in a FeatureSpecification file, and checked against it.

The FeatureSpecification file is Autopilot's JSON:
`{"FeatureAttributeNames": ["a", "b"], "FeatureDataTypes": {"a": "numeric", "b": "categorical"}}`.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from enum import Enum

import pandas as pd

from automl.errors import field_error

SPEC_PATH = "AutoMLJobConfig.CandidateGenerationConfig.FeatureSpecificationS3Uri"


class ColumnKind(str, Enum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    TEXT = "text"
    DATETIME = "datetime"


@dataclass(frozen=True)
class FeatureSpec:
    names: tuple[str, ...] | None = None
    types: dict[str, ColumnKind] = field(default_factory=dict)

    def to_json(self) -> dict:
        out: dict = {"FeatureDataTypes": {k: v.value for k, v in self.types.items()}}
        if self.names is not None:
            out["FeatureAttributeNames"] = list(self.names)
        return out

    @classmethod
    def from_json(cls, data: dict) -> FeatureSpec:
        return parse_feature_spec(json.dumps(data).encode())


def parse_feature_spec(raw: bytes) -> FeatureSpec:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise field_error(SPEC_PATH, f"must be a JSON file; {exc}") from None
    if not isinstance(data, dict):
        raise field_error(SPEC_PATH, "must hold a JSON object", type(data).__name__)
    unknown = sorted(set(data) - {"FeatureAttributeNames", "FeatureDataTypes"})
    if unknown:
        raise field_error(f"{SPEC_PATH}:{unknown[0]}", "is not a member; valid members: FeatureAttributeNames, "
                          "FeatureDataTypes")
    names = data.get("FeatureAttributeNames")
    if names is not None:
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise field_error(f"{SPEC_PATH}:FeatureAttributeNames", "must be a non-empty list of column names", names)
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise field_error(f"{SPEC_PATH}:FeatureAttributeNames", "must not repeat a column", dup)
    types_raw = data.get("FeatureDataTypes") or {}
    if not isinstance(types_raw, dict):
        raise field_error(f"{SPEC_PATH}:FeatureDataTypes", "must be an object of column name to type", types_raw)
    valid = [k.value for k in ColumnKind]
    types = {}
    for name, kind in types_raw.items():
        if kind not in valid:
            raise field_error(f"{SPEC_PATH}:FeatureDataTypes[{name!r}]", "must be one of " + ", ".join(valid), kind)
        if names is not None and name not in names:
            raise field_error(f"{SPEC_PATH}:FeatureDataTypes[{name!r}]", "names a column missing from "
                              "FeatureAttributeNames")
        types[name] = ColumnKind(kind)
    return FeatureSpec(tuple(names) if names is not None else None, types)


def check_spec_against_header(spec: FeatureSpec, header: list[str], reserved: dict[str, str]) -> None:
    """Names must exist in the data and never be the target or the weight column (`reserved`: name -> role)."""
    listed = list(spec.names or []) + [n for n in spec.types if spec.names is None]
    for i, name in enumerate(listed):
        where = (f"{SPEC_PATH}:FeatureAttributeNames[{i}]" if spec.names is not None
                 else f"{SPEC_PATH}:FeatureDataTypes[{name!r}]")
        if name in reserved:
            raise field_error(where, f"must not name the {reserved[name]} column", name)
        if name not in header:
            raise field_error(where, "is not a column of the training data", name)


def select_features(header: list[str], spec: FeatureSpec | None, reserved: set[str]) -> list[str]:
    if spec is not None and spec.names is not None:
        return list(spec.names)
    return [c for c in header if c not in reserved]


# Free text reads as several words per value and mostly distinct values.
TEXT_MIN_WORDS = 4
TEXT_MIN_UNIQUE_RATIO = 0.3
NUMERIC_MIN_SHARE = 0.99
DATETIME_MIN_SHARE = 0.95
SAMPLE_ROWS = 2000


def infer_kind(column: pd.Series) -> ColumnKind:
    if pd.api.types.is_bool_dtype(column):
        return ColumnKind.CATEGORICAL
    if pd.api.types.is_numeric_dtype(column):
        return ColumnKind.NUMERIC
    if pd.api.types.is_datetime64_any_dtype(column):
        return ColumnKind.DATETIME
    sample = column.dropna().astype(str)
    sample = sample.sample(min(len(sample), SAMPLE_ROWS), random_state=0) if len(sample) > SAMPLE_ROWS else sample
    if sample.empty:
        return ColumnKind.CATEGORICAL
    if pd.to_numeric(sample, errors="coerce").notna().mean() >= NUMERIC_MIN_SHARE:
        return ColumnKind.NUMERIC
    if _datetime_share(sample) >= DATETIME_MIN_SHARE:
        return ColumnKind.DATETIME
    words = sample.str.split().str.len().mean()
    if words >= TEXT_MIN_WORDS and sample.nunique() >= TEXT_MIN_UNIQUE_RATIO * len(sample):
        return ColumnKind.TEXT
    return ColumnKind.CATEGORICAL


def _datetime_share(values: pd.Series) -> float:
    if not values.str.contains(r"\d", regex=True).all():
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return float(parsed.notna().mean())


def resolve_kinds(frame: pd.DataFrame, features: list[str], spec: FeatureSpec | None) -> dict[str, ColumnKind]:
    """Declared types win; the others are inferred. A declared type the data cannot hold is an error."""
    declared = spec.types if spec is not None else {}
    kinds = {}
    for name in features:
        kind = declared.get(name)
        if kind is None:
            kinds[name] = infer_kind(frame[name])
            continue
        values = frame[name].dropna()
        if kind is ColumnKind.NUMERIC and len(values):
            share = pd.to_numeric(values, errors="coerce").notna().mean()
            if share < NUMERIC_MIN_SHARE:
                raise field_error(f"{SPEC_PATH}:FeatureDataTypes[{name!r}]", "is declared numeric but the column "
                                  f"holds non-numeric values ({1 - share:.1%} of them)")
        if kind is ColumnKind.DATETIME and len(values) and not pd.api.types.is_datetime64_any_dtype(values):
            share = _datetime_share(values.astype(str).head(SAMPLE_ROWS))
            if share < DATETIME_MIN_SHARE:
                raise field_error(f"{SPEC_PATH}:FeatureDataTypes[{name!r}]", "is declared datetime but the column "
                                  f"holds values that are not dates ({1 - share:.1%} of them)")
        kinds[name] = kind
    return kinds


def coerce(frame: pd.DataFrame, kinds: dict[str, ColumnKind]) -> pd.DataFrame:
    """The feature frame with each column in its kind's dtype: float, string category, string, datetime."""
    out = {}
    for name, kind in kinds.items():
        column = frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index)
        if kind is ColumnKind.NUMERIC:
            out[name] = pd.to_numeric(column, errors="coerce").astype("float64")
        elif kind is ColumnKind.DATETIME:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[name] = pd.to_datetime(column, errors="coerce", format="mixed", utc=True)
        else:
            out[name] = column.astype("string") if kind is ColumnKind.TEXT else _as_category_text(column)
    return pd.DataFrame(out, index=frame.index)


def _as_category_text(column: pd.Series) -> pd.Series:
    text = column.astype("string")
    return text.where(column.notna(), pd.NA) if column.hasnans else text  # the check costs half a one-row call

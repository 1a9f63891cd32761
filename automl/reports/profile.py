"""A tabular job's data profile (`profile.json`): the numbers the exploration report and notebook show.

Counts that decide what the engine does (rows, missing values, missing targets, duplicate rows) are taken on all
rows; everything costlier (quantiles, distinct values, text lengths, dates, leakage) on a seeded sample of at
most `max_rows` rows, and the profile says how many rows that was. Column kinds come from the engine's own
inference (`resolve_kinds`), so the report says what training will do with each column.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from automl.columns import ColumnKind, FeatureSpec, resolve_kinds, select_features
from automl.problem import ProblemType, infer_problem_type
from automl.reports.findings import tabular_findings
from automl.reports.leakage import single_feature_scores

SEED = 0
TOP_VALUES = 10
HISTOGRAM_BINS = 30
# Parsing dates and splitting words costs far more per row than a quantile: a smaller sample is as telling.
PARSE_ROWS = 20_000
NUMERIC_PROBE_ROWS = 2_000  # as many as the engine's own numeric-or-not inference reads
IQR_FENCE = 1.5


def profile(frame: pd.DataFrame, *, target: str, problem_type: ProblemType | None, weight: str | None = None,
            feature_spec: FeatureSpec | None = None, max_rows: int = 100_000) -> dict:
    """The profile of the rows as read from the training channel, before the engine drops any."""
    sample = frame.sample(n=max_rows, random_state=SEED) if len(frame) > max_rows else frame
    reserved = {target} | ({weight} if weight else set())
    features = select_features(list(frame.columns), feature_spec, reserved)
    kinds = resolve_kinds(sample, features, feature_spec)
    missing = frame.isna().sum()
    target_missing = int(missing[target])
    given = problem_type
    labelled = frame[target].dropna()
    problem = given or (infer_problem_type(labelled) if labelled.nunique() > 1 else None)
    columns = [_column(name, sample[name], frame[name], kinds[name], int(missing[name])) for name in features]
    out = {
        "kind": "tabular",
        "dataset": _dataset(frame, sample, target, weight, features, target_missing),
        "target": _target(labelled, sample[target].dropna(), problem, given, len(frame)),
        "columns": columns,
    }
    if weight:
        out["weight"] = _weight(frame[weight], weight)
    if problem is not None:
        scores = single_feature_scores(sample, kinds, target, problem.is_classification)
        for column in columns:
            column["predictive_power"] = scores.get(column["name"])
    out["findings"] = tabular_findings(out)
    return out


def _dataset(frame: pd.DataFrame, sample: pd.DataFrame, target: str, weight: str | None, features: list[str],
             target_missing: int) -> dict:
    rows = len(frame)
    duplicates = int(pd.util.hash_pandas_object(frame, index=False).duplicated().sum()) if rows else 0
    scale = rows / len(sample) if len(sample) else 0.0
    return {
        "rows": rows,
        "columns": frame.shape[1],
        "features": len(features),
        "excluded_columns": [c for c in frame.columns if c not in features and c not in (target, weight)],
        "profiled_rows": len(sample),
        "memory_bytes": int(sample.memory_usage(deep=True, index=False).sum() * scale),
        "memory_estimated": len(sample) < rows,
        "duplicate_rows": duplicates,
        "duplicate_share": duplicates / rows if rows else 0.0,
        "rows_with_missing_target": target_missing,
        "rows_with_target": rows - target_missing,
    }


def _column(name: str, values: pd.Series, full: pd.Series, kind: ColumnKind, missing: int) -> dict:
    rows, present = len(full), values.dropna()
    distinct = int(present.nunique())
    out = {
        "name": name,
        "kind": kind.value,
        "dtype": str(values.dtype),
        "missing": missing,
        "missing_share": missing / rows if rows else 0.0,
        "distinct": distinct,
        "distinct_share": distinct / len(present) if len(present) else 0.0,
    }
    if kind is ColumnKind.NUMERIC:
        numbers = present if pd.api.types.is_numeric_dtype(present) else pd.to_numeric(present, errors="coerce")
        numbers = numbers.astype(float)
        out["unparsed"] = int(numbers.isna().sum())
        out["numeric"] = summary(numbers.dropna().to_numpy())
        out["monotonic"] = bool(pd.api.types.is_numeric_dtype(full) and len(full) > 1 and not full.hasnans
                                and (full.is_monotonic_increasing or full.is_monotonic_decreasing))
        out["integral"] = bool(len(numbers) and np.all(np.mod(numbers.dropna().to_numpy(), 1) == 0))
    if kind in (ColumnKind.CATEGORICAL, ColumnKind.TEXT):
        counts = present.astype(str).value_counts().head(TOP_VALUES)
        out["top_values"] = [{"value": k, "count": int(v), "share": int(v) / len(present)} for k, v in counts.items()]
        if present.dtype == object:
            probe = present.head(NUMERIC_PROBE_ROWS)
            out["numeric_share"] = float(pd.to_numeric(probe, errors="coerce").notna().mean())
    if kind is ColumnKind.TEXT:
        out["text"] = _text_lengths(present.head(PARSE_ROWS).astype(str))
    if kind is ColumnKind.DATETIME:
        out["dates"] = _date_range(present.head(PARSE_ROWS))
    return out


def summary(values: np.ndarray) -> dict:
    """Quantiles, moments, Tukey's outliers and a histogram of finite numbers (None where there are none)."""
    values = values[np.isfinite(values)]
    if not len(values):
        return {"count": 0}
    p = np.percentile(values, [0, 1, 25, 50, 75, 99, 100])
    iqr = p[4] - p[2]
    low, high = p[2] - IQR_FENCE * iqr, p[4] + IQR_FENCE * iqr
    outliers = int(((values < low) | (values > high)).sum())
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS if p[6] > p[0] else 1)
    return {
        "count": len(values),
        "min": float(p[0]), "p1": float(p[1]), "p25": float(p[2]), "median": float(p[3]), "p75": float(p[4]),
        "p99": float(p[5]), "max": float(p[6]),
        "mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "skew": float(pd.Series(values).skew()) if len(values) > 2 else 0.0,
        "zero_share": float((values == 0).mean()),
        "outliers": {"method": "tukey_1.5_iqr", "low_fence": float(low), "high_fence": float(high),
                     "count": outliers, "share": outliers / len(values)},
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def _text_lengths(values: pd.Series) -> dict:
    chars = values.str.len().to_numpy(dtype=float)
    words = values.str.split().str.len().to_numpy(dtype=float)
    return {name: {"mean": float(v.mean()), "median": float(np.median(v)), "p95": float(np.percentile(v, 95)),
                   "max": float(v.max())} if len(v) else {} for name, v in (("chars", chars), ("words", words))}


def _date_range(values: pd.Series) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stamps = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
    parsed = stamps.dropna()
    if parsed.empty:
        return {"parsed_share": 0.0}
    return {"min": parsed.min().isoformat(), "max": parsed.max().isoformat(),
            "span_days": (parsed.max() - parsed.min()) / pd.Timedelta(days=1),
            "parsed_share": len(parsed) / len(values)}


def _target(present: pd.Series, sampled: pd.Series, problem: ProblemType | None, given: ProblemType | None,
            rows: int) -> dict:
    """Class counts on all labelled rows (the engine's split and weights see them all); a regression target's
    distribution on the sample."""
    missing = rows - len(present)
    out = {"name": present.name, "problem_type": problem.value if problem else None,
           "problem_type_source": "request" if given else "inferred", "dtype": str(present.dtype),
           "missing": missing, "missing_share": missing / rows if rows else 0.0, "distinct": int(present.nunique())}
    if problem is None or problem.is_classification:
        counts = present.astype(str).value_counts()
        out["classes"] = [{"label": k, "count": int(v), "share": int(v) / len(present)} for k, v in counts.items()]
        out["imbalance_ratio"] = float(counts.iloc[0] / counts.iloc[-1]) if len(counts) else None
    else:
        out["numeric"] = summary(pd.to_numeric(sampled, errors="coerce").dropna().to_numpy(dtype=float))
    return out


def _weight(values: pd.Series, name: str) -> dict:
    """The engine drops rows whose weight is missing, not a number or negative."""
    numbers = pd.to_numeric(values, errors="coerce")
    invalid = int((numbers.isna() | (numbers < 0)).sum())
    return {"name": name, "invalid_rows": invalid, "numeric": summary(numbers.dropna().to_numpy(dtype=float))}

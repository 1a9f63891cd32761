"""Preprocessing by column kind, fitted on training rows only and saved with the candidate.

"tree" style keeps NaN, encodes categories as ordinal codes (rare levels grouped, unseen levels -> missing),
projects TF-IDF text to a few dense components; "linear" style imputes and scales numbers and one-hot
encodes categories, keeping TF-IDF sparse; "neural" style scales numbers and text components like "linear"
but keeps categories as ordinal codes for embeddings. Datetimes become calendar parts plus elapsed days.

Within a style, `options` choose the imputation, scaling, category encoding and text featurizer; the tuning
mode searches over them (`runners.preprocessing.pipeline_space`), the ensembling mode uses the defaults. This is
the inference side: a saved model unpickles it, so it imports nothing of the trainer (runners, optuna).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)

from automl.columns import ColumnKind

RARE_LEVEL_MIN_COUNT = 5
MAX_ONE_HOT_LEVELS = 64
TEXT_MAX_FEATURES = 20000
TEXT_SVD_COMPONENTS = 32
DATETIME_PARTS = ("year", "month", "day", "dayofweek", "hour", "elapsed_days")
QUANTILES = 1000

DEFAULT_OPTIONS = {"imputer": "median", "scaler": "standard", "categorical_encoder": "ordinal",
                   "text_max_features": TEXT_MAX_FEATURES, "text_components": TEXT_SVD_COMPONENTS}


def _scaler(name: str, rows: int):
    if name == "robust":
        return RobustScaler()
    if name == "quantile":
        return QuantileTransformer(n_quantiles=max(2, min(QUANTILES, rows)), output_distribution="normal",
                                   subsample=100_000, random_state=0)
    return StandardScaler()


def _as_object(frame: pd.DataFrame) -> np.ndarray:
    """Categories as plain Python strings with NaN for missing: what scikit-learn's encoders expect."""
    return frame.astype(object).where(frame.notna(), np.nan).to_numpy()


def _text_column(frame: pd.DataFrame) -> np.ndarray:
    return frame.iloc[:, 0].fillna("").astype(str).to_numpy()


def _datetime_part_names(transformer, columns) -> np.ndarray:
    return np.asarray([f"{name}:{part}" for name in columns for part in DATETIME_PARTS], dtype=object)


def _datetime_parts(frame: pd.DataFrame) -> np.ndarray:
    columns = []
    for name in frame.columns:
        values = pd.to_datetime(frame[name], errors="coerce", utc=True)
        elapsed = (values - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds() / 86400.0
        for part in DATETIME_PARTS[:-1]:
            columns.append(getattr(values.dt, part).astype("float64").to_numpy())
        columns.append(elapsed.astype("float64").to_numpy())
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


class _ClipToSeen(OneToOneFeatureMixin, BaseEstimator, TransformerMixin):
    """Clamps each column to the range seen in training: a network extrapolates wildly (a fare of 1,000 for an
    unseen 300-mile trip) where trees and linear models stay sane."""

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        self.n_features_in_ = X.shape[1]
        self.low_, self.high_ = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
        return self

    def transform(self, X):
        return np.clip(np.asarray(X, dtype=np.float64), self.low_, self.high_)


class _Projection(BaseEstimator, TransformerMixin):
    """TruncatedSVD to at most `components`, fewer when the vocabulary is smaller."""

    def __init__(self, components: int = TEXT_SVD_COMPONENTS):
        self.components = components

    def fit(self, X, y=None):
        components = max(1, min(self.components, X.shape[1] - 1))
        self.svd_ = TruncatedSVD(n_components=components, random_state=0).fit(X) if X.shape[1] > 1 else None
        return self

    def transform(self, X):
        return self.svd_.transform(X) if self.svd_ is not None else np.asarray(X.todense())

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        if self.svd_ is None:
            return np.asarray(input_features, dtype=object)
        return np.asarray([f"svd{i}" for i in range(self.svd_.n_components)], dtype=object)


@dataclass
class Preprocessor:
    """A fitted column transformer plus the facts an algorithm needs (which outputs are category codes)."""

    kinds: dict[str, ColumnKind]
    style: str
    options: dict | None = None

    def fit(self, X: pd.DataFrame) -> Preprocessor:
        options = DEFAULT_OPTIONS | (self.options or {})
        by_kind = {kind: [c for c, k in self.kinds.items() if k is kind] for kind in ColumnKind}
        parts = []
        numeric, categorical = by_kind[ColumnKind.NUMERIC], by_kind[ColumnKind.CATEGORICAL]
        datetimes, texts = by_kind[ColumnKind.DATETIME], by_kind[ColumnKind.TEXT]
        linear, neural = self.style == "linear", self.style == "neural"
        scaled = linear or neural
        if numeric:
            steps = [SimpleImputer(strategy=options["imputer"], add_indicator=True, keep_empty_features=True),
                     _scaler(options["scaler"], len(X))]
            step = make_pipeline(*steps, *([_ClipToSeen()] if neural else [])) if scaled else "passthrough"
            parts.append(("numeric", step, numeric))
        one_hot = linear or options["categorical_encoder"] == "onehot"
        if categorical:
            encoder = (OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=RARE_LEVEL_MIN_COUNT,
                                     max_categories=MAX_ONE_HOT_LEVELS, sparse_output=linear) if one_hot else
                       OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                      encoded_missing_value=np.nan, min_frequency=RARE_LEVEL_MIN_COUNT))
            parts.append(("categorical", make_pipeline(FunctionTransformer(_as_object, feature_names_out="one-to-one"),
                                                         encoder), categorical))
        if datetimes:
            steps = [FunctionTransformer(_datetime_parts, feature_names_out=_datetime_part_names)]
            if scaled:
                steps += [SimpleImputer(strategy=options["imputer"], keep_empty_features=True),
                          _scaler(options["scaler"], len(X))]
            if neural:
                steps.append(_ClipToSeen())
            parts.append(("datetime", make_pipeline(*steps), datetimes))
        for name in texts:
            vectorizer = TfidfVectorizer(max_features=int(options["text_max_features"]), ngram_range=(1, 2),
                                         min_df=2, sublinear_tf=True, dtype=np.float32)
            steps = [FunctionTransformer(_text_column, feature_names_out="one-to-one"), vectorizer]
            if not linear:
                steps.append(_Projection(int(options["text_components"])))
            if neural:
                steps += [StandardScaler(), _ClipToSeen()]
            parts.append((f"text:{name}", make_pipeline(*steps), [name]))
        self.transformer_ = ColumnTransformer(parts, sparse_threshold=0.3 if linear else 0.0,
                                              verbose_feature_names_out=False)
        self.transformer_.fit(X)
        self.categorical_features_ = () if one_hot else self._categorical_positions(categorical)
        return self

    def _categorical_positions(self, categorical: list[str]) -> tuple[int, ...]:
        if not categorical:
            return ()
        start = self.transformer_.output_indices_["categorical"].start
        return tuple(range(start, start + len(categorical)))

    def get_feature_names_out(self) -> np.ndarray:
        """The transformed columns' names, in output order; a text column's terms or components are prefixed
        with its name (two text columns share words)."""
        names = []
        for part, step, columns in self.transformer_.transformers_:
            if step == "drop" or not len(columns):
                continue
            out = list(columns) if step == "passthrough" else list(step.get_feature_names_out(columns))
            names += [f"{columns[0]}:{n}" for n in out] if part.startswith("text:") else out
        return np.asarray(names, dtype=object)

    def source_columns(self) -> list[str]:
        """The original column behind each transformed column, in output order: SHAP values of encoded columns sum
        into their column. Read from each part's fitted structure, never parsed from output names (a column may be
        called `a_b` beside `a`)."""
        sources = []
        for part, step, columns in self.transformer_.transformers_:
            span = self.transformer_.output_indices_[part]
            if span.stop == span.start:
                continue
            columns = list(columns)
            out = columns * (span.stop - span.start) if len(columns) == 1 else _part_sources(part, step, columns)
            if len(out) != span.stop - span.start:
                raise RuntimeError(f"{part}: {len(out)} sources for {span.stop - span.start} transformed columns")
            sources += out
        return sources

    def transform(self, X: pd.DataFrame):
        out = self.transformer_.transform(X[list(self.kinds)])
        if sparse.issparse(out):
            return out.tocsr().astype(np.float32)
        return np.asarray(out, dtype=np.float32)


def _part_sources(part: str, step, columns: list[str]) -> list[str]:
    """A several-column part's outputs: numbers then their missing indicators, one-hot levels per column (rare
    ones grouped into one), calendar parts per datetime; every other part is one-to-one."""
    if part == "numeric" and isinstance(step, Pipeline):
        indicator = step[0].indicator_
        return columns + ([] if indicator is None else [columns[i] for i in indicator.features_])
    if part == "categorical" and isinstance(step[-1], OneHotEncoder):
        encoder = step[-1]
        infrequent = getattr(encoder, "infrequent_categories_", [None] * len(columns))
        counts = [len(levels) - (0 if rare is None else len(rare) - 1)
                  for levels, rare in zip(encoder.categories_, infrequent, strict=True)]
        return [c for c, count in zip(columns, counts, strict=True) for _ in range(count)]
    if part == "datetime":
        return [c for c in columns for _ in DATETIME_PARTS]
    return columns

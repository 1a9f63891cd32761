"""The M4 competition's scoring, for the forecasting benchmark: sMAPE, MASE, OWA against Naive2, and the mean
weighted quantile loss at p10/p50/p90.

Naive2 is M4's benchmark: the naive forecast of the series seasonally adjusted by classical multiplicative
decomposition, when a 90% autocorrelation test finds seasonality at lag m. Reproducing M4's published Naive2
values (hourly sMAPE 18.383, MASE 2.395; weekly 9.161, 2.777) checks this scoring.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def _acf(y: np.ndarray, lag: int) -> float:
    mean = y.mean()
    denominator = ((y - mean) ** 2).sum()
    return float(((y[:-lag] - mean) * (y[lag:] - mean)).sum() / denominator) if denominator else 0.0


def seasonal(y: np.ndarray, m: int) -> bool:
    """M4's test: |acf(m)| above 1.645 standard errors (Bartlett's formula over lags below m)."""
    if m <= 1 or len(y) < 3 * m:
        return False
    acfs = [_acf(y, k) for k in range(1, m + 1)]
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(np.square(acfs[:-1]))) / len(y))
    return abs(acfs[-1]) > limit


def seasonal_indices(y: np.ndarray, m: int) -> np.ndarray:
    """Classical multiplicative decomposition's indices, one per phase of the series' first season."""
    if m % 2 == 0:
        trend = pd.Series(y).rolling(m, center=True).mean().rolling(2).mean().shift(-1).to_numpy()
    else:
        trend = pd.Series(y).rolling(m, center=True).mean().to_numpy()
    ratios = y / trend
    phases = np.array([np.nanmean(ratios[i::m]) for i in range(m)])
    return phases / phases.mean()


def naive2(y: np.ndarray, horizon: int, m: int) -> np.ndarray:
    y = np.asarray(y, float)
    if not seasonal(y, m):
        return np.full(horizon, y[-1])
    indices = seasonal_indices(y, m)
    phase = np.arange(len(y)) % m
    adjusted = y / indices[phase]
    future_phase = (np.arange(len(y), len(y) + horizon)) % m
    return adjusted[-1] * indices[future_phase]


def seasonal_naive(y: np.ndarray, horizon: int, m: int) -> np.ndarray:
    y = np.asarray(y, float)
    m = m if len(y) >= m else 1
    return np.resize(y[-m:], horizon)


def smape(y: np.ndarray, f: np.ndarray) -> float:
    denominator = np.abs(y) + np.abs(f)
    ratio = np.where(denominator == 0, 0.0, 2 * np.abs(y - f) / np.where(denominator == 0, 1, denominator))
    return float(100 * ratio.mean())


def mase(history: np.ndarray, y: np.ndarray, f: np.ndarray, m: int) -> float:
    m = m if len(history) > m else 1
    scale = np.mean(np.abs(history[m:] - history[:-m]))
    return float(np.mean(np.abs(y - f)) / scale) if scale else float("nan")


def wql(y: np.ndarray, quantiles: dict[float, np.ndarray]) -> float:
    denominator = np.abs(y).sum()
    losses = [2 * np.sum(np.maximum(q * (y - f), (q - 1) * (y - f))) / denominator for q, f in quantiles.items()]
    return float(np.mean(losses))


def score_forecasts(histories: dict[str, np.ndarray], actual: dict[str, np.ndarray], point: dict[str, np.ndarray],
                    m: int, quantiles: dict[str, dict[float, np.ndarray]] | None = None) -> dict[str, float]:
    """Mean sMAPE and MASE over series (M4's averages), and wQL over all rows pooled."""
    ids = list(actual)
    out = {"sMAPE": float(np.mean([smape(actual[i], point[i]) for i in ids])),
           "MASE": float(np.nanmean([mase(histories[i], actual[i], point[i], m) for i in ids]))}
    if quantiles:
        y = np.concatenate([actual[i] for i in ids])
        levels = next(iter(quantiles.values())).keys()
        out["wQL"] = wql(y, {q: np.concatenate([quantiles[i][q] for i in ids]) for q in levels})
    return out


def owa(scores: dict[str, float], naive2_scores: dict[str, float]) -> float:
    return 0.5 * (scores["sMAPE"] / naive2_scores["sMAPE"] + scores["MASE"] / naive2_scores["MASE"])

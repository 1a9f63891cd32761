"""How much a forecasting candidate leans on the job's covariates and holiday features, measured only where it
is cheap and honest: a recursive-lightgbm booster's gain importances (each split's loss reduction, summed per
feature), read per column. Other model types are said to be unmeasured, with the reason, rather than guessed:
attributing a network's or Prophet's forecasts to its inputs would take a second fit without them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from algorithms.recursive_lightgbm import RecursiveLightGBM
from automl.forecast_model import ForecastEnsemble
from automl.series import is_holiday_column


@dataclass(frozen=True)
class MemberImpact:
    model: str
    weight: float  # of the candidate's mean forecast
    covariate_share: float  # of the booster's total gain, for the job's own covariate columns
    holiday_share: float
    features: list[dict]  # {feature, gain, share}, largest first


@dataclass(frozen=True)
class CovariateImpact:
    wanted: bool  # the job has covariates or a holiday calendar
    measured: bool
    reason: str
    covariates: list[str]
    holidays: list[str]
    covariate_share: float | None = None  # over the measured members, by their weights
    holiday_share: float | None = None
    measured_weight: float | None = None  # the share of the mean forecast's weight the measure covers
    members: list[MemberImpact] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def booster_impact(model: RecursiveLightGBM, weight: float) -> MemberImpact:
    names = model.feature_names()
    gain = np.asarray(model.booster_.feature_importance(importance_type="gain"), float)
    total = gain.sum()
    share = gain / total if total > 0 else np.zeros_like(gain)
    covariates = set(model.task.covariates)
    holiday = float(sum(s for n, s in zip(names, share, strict=True) if n in covariates and is_holiday_column(n)))
    own = float(sum(s for n, s in zip(names, share, strict=True) if n in covariates and not is_holiday_column(n)))
    order = np.argsort(-gain, kind="stable")
    features = [{"feature": names[i], "gain": float(gain[i]), "share": float(share[i])} for i in order]
    return MemberImpact(model.name, weight, own, holiday, features)


def covariate_impact(model, holiday_country: str | None) -> CovariateImpact:
    """The impact for a loaded candidate model (a forecaster or a ForecastEnsemble); None when no model file."""
    parts = [(model.member(path), weights[0]) for path, weights in model.members.items()] \
        if isinstance(model, ForecastEnsemble) else [(model, 1.0)] if model is not None else []
    columns = sorted({c for m, _ in parts for c in getattr(getattr(m, "task", None), "covariates", ())})
    covariates = [c for c in columns if not is_holiday_column(c)]
    holidays = [c for c in columns if is_holiday_column(c)]
    wanted = bool(columns or holiday_country)
    if not wanted:
        return CovariateImpact(False, False, "the job has no covariates and no holiday calendar", [], [])
    if model is None:
        return CovariateImpact(True, False, "the candidate's model file was not found, so its use of covariates "
                                            "could not be read", covariates, holidays)
    measured = [booster_impact(m, w) for m, w in parts if isinstance(m, RecursiveLightGBM) and m.booster_]
    unmeasured = sorted({m.name for m, _ in parts if not (isinstance(m, RecursiveLightGBM) and m.booster_)})
    if not measured:
        return CovariateImpact(True, False, unmeasured_reason(unmeasured, parts), covariates, holidays)
    weight = sum(m.weight for m in measured)
    weights = [m.weight for m in measured] if weight > 0 else None  # members only in the quantiles count alike
    reason = "gain importances of the recursive-lightgbm booster"
    if unmeasured:
        reason += f"; not measured for {', '.join(unmeasured)} ({unmeasured_reason(unmeasured, parts)})"
    return CovariateImpact(True, True, reason, covariates, holidays,
                           float(np.average([m.covariate_share for m in measured], weights=weights)),
                           float(np.average([m.holiday_share for m in measured], weights=weights)), weight, measured)


def unmeasured_reason(names: list[str], parts: list) -> str:
    users = sorted({m.name for m, _ in parts if m.name in names and getattr(m, "uses_covariates", False)})
    ignoring = sorted(set(names) - set(users))
    said = []
    if users:
        said.append(f"{', '.join(users)} use{'s' if len(users) == 1 else ''} the covariates inside a model whose "
                    "forecasts cannot be split by input without refitting it without them, which model insights "
                    "do not do")
    if ignoring:
        said.append(f"{', '.join(ignoring)} ignore{'s' if len(ignoring) == 1 else ''} covariates and holidays: "
                    "its forecasts do not depend on them")
    return "; ".join(said)

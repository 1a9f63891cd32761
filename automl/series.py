"""A forecasting job's data -> regular series in one long frame (unique_id, ds, y, covariates), by Autopilot's
rules: rows finer than the frequency are aggregated, gaps are filled, holidays become covariates.

Decisions, where Autopilot leaves room:
- Rows that fall between the frequency's grid points with at most one row per grid step are refused (the
  frequency does not match the data); several rows per step are aggregated, with the Aggregation method the
  request names for the target, else `sum` (Autopilot's default); numeric covariates by their mean.
- Two rows with the same item and the exact same timestamp are refused unless Aggregation names the target.
- Filling defaults: target middlefill `zero` (a step without rows had nothing), frontfill and backfill `none`
  (each series keeps its own start and end: M4-style data has series of every length); covariates are filled
  with their median unless the request says otherwise. A target that is not numeric is refused.
- Series shorter than the horizon are dropped and counted (`dropped`); none left is a ValidationException.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from automl.errors import field_error
from automl.forecast_plan import MAX_HORIZON, ForecastPlan

log = logging.getLogger(__name__)

CONFIG = "AutoMLProblemTypeConfig.TimeSeriesForecastingJobConfig"
TS = f"{CONFIG}.TimeSeriesConfig"
AGGREGATIONS = {"sum": "sum", "avg": "mean", "first": "first", "min": "min", "max": "max"}
KEY_SEP = "|"


@dataclass
class SeriesData:
    history: pd.DataFrame  # unique_id, ds, y, covariates: regular, filled, sorted
    future: pd.DataFrame | None  # unique_id, ds, covariates of the horizon after each series (when known)
    keys: pd.DataFrame  # unique_id -> the item id and grouping columns, as the data names them
    freq: str  # pandas offset
    season_length: int
    covariates: tuple[str, ...]
    dropped: int = 0

    @property
    def lengths(self) -> pd.Series:
        return self.history.groupby("unique_id", sort=False).size()


def key_columns(plan: ForecastPlan) -> list[str]:
    return [plan.item_id, *plan.grouping]


def build_series(frame: pd.DataFrame, plan: ForecastPlan, *, for_training: bool = True,
                 covariates: tuple[str, ...] | None = None) -> SeriesData:
    """`frame` as read from the channel (or a prediction's input). Rows after a series' last target value
    that carry covariates are that series' known future. `covariates` fixes the columns (at prediction)."""
    given = tuple(covariates) if covariates is not None else None
    holiday_names = tuple(c for c in given if is_holiday_column(c)) if given is not None else None
    own = tuple(c for c in given if not is_holiday_column(c)) if given is not None else None
    frame = _typed(frame, plan, own)
    cov = own if own is not None else _covariate_columns(frame, plan)
    frame["unique_id"] = _ids(frame, key_columns(plan))
    keys = frame.drop_duplicates("unique_id")[["unique_id", *key_columns(plan)]].reset_index(drop=True)
    freq_info = plan.freq
    offset = freq_info.offset(frame["ds"].sort_values())
    frame = _on_grid(frame, plan, offset, cov)
    has_target = frame["y"].notna()
    last_target = frame[has_target].groupby("unique_id")["ds"].max()
    after = frame["ds"] > frame["unique_id"].map(last_target)
    future_rows = frame[after & frame["unique_id"].isin(last_target.index)]
    history = frame[~after & frame["unique_id"].isin(last_target.index)]
    history = _regular(history, offset)
    history = _fill(history, plan, cov)
    holiday_days = holiday_calendar(plan.holiday_country, history["ds"], holiday_names) if plan.holiday_country else {}
    history = _with_holidays(history, holiday_days, offset)
    names = cov + tuple(holiday_days)
    lengths = history.groupby("unique_id").size()
    short = lengths[lengths < max(2, plan.horizon)]
    if len(short) and for_training:
        log.warning("%d series shorter than the horizon (%d) are dropped, e.g. %s", len(short), plan.horizon,
                    short.index[0])
        history = history[~history["unique_id"].isin(short.index)]
    if history.empty:
        raise field_error(f"{CONFIG}.ForecastHorizon", "every series is shorter than the horizon; give longer "
                          "histories or a shorter ForecastHorizon", plan.horizon)
    if for_training:
        _check_horizon(plan, history.groupby("unique_id").size())
    future = _future(history, future_rows, plan, offset, cov, holiday_days)
    history = history.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    return SeriesData(history=history[["unique_id", "ds", "y", *names]], future=future,
                      keys=keys[keys["unique_id"].isin(history["unique_id"].unique())].reset_index(drop=True),
                      freq=offset, season_length=freq_info.season_length, covariates=names,
                      dropped=len(short) if for_training else 0)


HOLIDAY_PREFIX = "holiday_"


def is_holiday_column(name: str) -> bool:
    return name.startswith(HOLIDAY_PREFIX)


def holiday_calendar(country: str, stamps: pd.Series, names: tuple[str, ...] | None = None) -> dict[str, list]:
    """One covariate per public holiday of the country (`holiday_US_labor_day`), as Amazon Forecast featurizes
    holidays: a holiday the history has never seen carries no effect, instead of borrowing one from another
    (a bank closed on Labor Day may open on Columbus Day). `names` fixes the columns (at prediction)."""
    import holidays

    years = range(stamps.min().year - 1, stamps.max().year + 3)
    days: dict[str, list] = {}
    for day, label in sorted(holidays.country_holidays(country, years=years).items()):
        for part in str(label).split(";"):
            base = part.replace("(observed)", "").replace("(Observed)", "").strip()
            column = f"{HOLIDAY_PREFIX}{country}_" + "_".join(regex_words(base))
            days.setdefault(column, []).append(pd.Timestamp(day))
    if names is not None:
        return {n: days.get(n, []) for n in names}
    return dict(sorted(days.items()))


def regex_words(text: str) -> list[str]:
    import re

    return re.findall(r"[a-z0-9]+", text.lower()) or ["holiday"]


def _typed(frame: pd.DataFrame, plan: ForecastPlan, covariates) -> pd.DataFrame:
    needed = [plan.timestamp, *key_columns(plan)]
    for column, member in zip(needed, ["TimestampAttributeName", "ItemIdentifierAttributeName",
                                       *["GroupingAttributeNames"] * len(plan.grouping)], strict=True):
        if column not in frame.columns:
            raise field_error(f"{TS}.{member}", "is not a column of the data; columns: " + ", ".join(frame.columns),
                              column)
    out = frame.copy()
    if plan.target not in out.columns:
        out[plan.target] = np.nan  # a prediction's input may hold only the future covariates
    stamps = pd.to_datetime(out[plan.timestamp], errors="coerce")
    bad = stamps.isna() & out[plan.timestamp].notna()
    if bad.any() or out[plan.timestamp].isna().any():
        example = out.loc[bad | out[plan.timestamp].isna(), plan.timestamp].iloc[0]
        raise field_error(f"{TS}.TimestampAttributeName", f"column {plan.timestamp!r} must hold a timestamp in "
                          "every row", example)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert(None)
    out["ds"] = stamps
    raw = out[plan.target]
    y = pd.to_numeric(raw, errors="coerce")
    bad = y.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        raise field_error(f"{TS}.TargetAttributeName", f"column {plan.target!r} must be numeric",
                          raw[bad].iloc[0])
    out["y"] = y.astype(float)
    if out[plan.item_id].isna().any():
        raise field_error(f"{TS}.ItemIdentifierAttributeName", f"column {plan.item_id!r} must be set in every row")
    for column in covariates or ():
        if column not in out.columns:
            out[column] = np.nan
    return out


def _covariate_columns(frame: pd.DataFrame, plan: ForecastPlan) -> tuple[str, ...]:
    """Numeric columns other than the series' own: covariates, known in the future where the data has them."""
    taken = {plan.timestamp, plan.target, *key_columns(plan), "ds", "y", "unique_id"}
    names = []
    for column in frame.columns:
        if column in taken:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.notna().sum() and values.notna().sum() >= 0.9 * frame[column].notna().sum():
            frame[column] = values
            names.append(column)
        else:
            log.info("column %r is not numeric and is not used as a covariate", column)
    return tuple(names)


def _ids(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    ids = frame[columns[0]].astype(str)
    for column in columns[1:]:
        ids = ids + KEY_SEP + frame[column].astype(str)
    return ids


def _on_grid(frame: pd.DataFrame, plan: ForecastPlan, offset: str, cov: tuple[str, ...]) -> pd.DataFrame:
    """Each row onto its grid step (the step that starts at or before it); several rows per step aggregated."""
    start = pd.tseries.frequencies.to_offset(offset).rollback(frame["ds"].min().normalize())
    grid = pd.date_range(start, frame["ds"].max(), freq=offset)
    position = np.searchsorted(grid.to_numpy(), frame["ds"].to_numpy(), side="right") - 1
    step = pd.Series(grid[np.clip(position, 0, None)], index=frame.index)
    off_grid = step != frame["ds"]
    frame = frame.assign(ds_raw=frame["ds"], ds=step)
    method = plan.aggregation.get(plan.target)
    per_step = frame.groupby(["unique_id", "ds"]).size()
    if (per_step > 1).any():
        same = frame.duplicated(["unique_id", "ds_raw"])
        if same.any() and method is None:
            row = frame[same].iloc[0]
            raise field_error(f"{TS}.TimestampAttributeName", f"item {row['unique_id']!r} has two rows at "
                              f"{row['ds_raw']}; remove duplicates or set Transformations.Aggregation for "
                              f"{plan.target!r}", str(row["ds_raw"]))
        how = {"y": AGGREGATIONS[method or "sum"]} | {c: "mean" for c in cov}
        target_rows = frame.groupby(["unique_id", "ds"])["y"].count()
        frame = frame.groupby(["unique_id", "ds"], as_index=False).agg(how)
        frame.loc[(target_rows == 0).to_numpy(), "y"] = np.nan  # a step whose rows have no target stays missing
        log.info("rows finer than the frequency %s were aggregated (%s)", plan.frequency, method or "sum")
    elif off_grid.any() and method is None:
        example = frame.loc[off_grid, "ds_raw"].iloc[0]
        raise field_error(f"{CONFIG}.ForecastFrequency", f"timestamps must fall on the {plan.frequency} grid "
                          f"({offset}); {example} does not. Give the data's own frequency, or set "
                          f"Transformations.Aggregation for {plan.target!r} to combine finer rows", plan.frequency)
    return frame.drop(columns=["ds_raw"], errors="ignore")


def _regular(history: pd.DataFrame, offset: str) -> pd.DataFrame:
    """Every series on its full grid from its first to its last step: gaps become rows with missing values."""
    parts = []
    for uid, part in history.groupby("unique_id", sort=False):
        full = pd.date_range(part["ds"].min(), part["ds"].max(), freq=offset)
        if len(full) == len(part):
            parts.append(part)
            continue
        part = part.set_index("ds").reindex(full).rename_axis("ds").reset_index()
        part["unique_id"] = uid
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def fill_defaults(plan: ForecastPlan, column: str) -> dict:
    given = dict(plan.filling.get(column, {}))
    if column == plan.target:
        return {"frontfill": "none", "middlefill": "zero", "backfill": "none"} | given
    return {"frontfill": "median", "middlefill": "median", "backfill": "median", "futurefill": "median"} | given


def fill_value(values: pd.Series, method: str, config: dict, kind: str) -> float | None:
    """The constant a filling method puts in (None for `none`)."""
    if method == "none":
        return None
    if method == "value":
        return float(config[f"{kind}_value"])
    if method == "zero":
        return 0.0
    stat = {"mean": values.mean, "median": values.median, "min": values.min, "max": values.max}[method]()
    return float(stat) if pd.notna(stat) else 0.0


def _fill(history: pd.DataFrame, plan: ForecastPlan, cov: tuple[str, ...]) -> pd.DataFrame:
    """Target gaps inside a series (middlefill); covariates everywhere they are missing. The leading and
    trailing missing steps of a target are the front and back of the series: dropped when their filling is
    `none`."""
    history = history.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    config = fill_defaults(plan, plan.target)
    observed = history["y"].notna()
    group = history["unique_id"]
    before_first = observed.groupby(group).cummax().eq(False)
    after_last = observed[::-1].groupby(group[::-1]).cummax()[::-1].eq(False)
    for kind, where in (("frontfill", before_first), ("backfill", after_last),
                        ("middlefill", ~before_first & ~after_last & ~observed)):
        if not where.any():
            continue
        value = fill_value(history.loc[observed, "y"], config[kind], config, kind)
        if value is None:
            if kind == "middlefill":
                raise field_error(f"{CONFIG}.Transformations.Filling", f"{plan.target!r} has missing values "
                                  "inside a series and its middlefill is 'none'; choose a filling method", "none")
            history = history[~where]
            observed, group = observed[~where], group[~where]
            before_first, after_last = before_first[~where], after_last[~where]
            continue
        history.loc[where, "y"] = value
    for column in cov:
        config = fill_defaults(plan, column)
        missing = history[column].isna()
        if missing.any():
            value = fill_value(history[column], config["middlefill"], config, "middlefill")
            history[column] = history[column].fillna(0.0 if value is None else value)
    return history.reset_index(drop=True)


def _with_holidays(frame: pd.DataFrame, calendar: dict[str, list], offset: str) -> pd.DataFrame:
    """Each holiday's column: 1 on its day for daily or finer steps, else how often it falls in the step."""
    if not calendar:
        return frame
    step = pd.tseries.frequencies.to_offset(offset)
    daily = _fixed_span(step) is not None and _fixed_span(step) <= pd.Timedelta(days=1)
    stamps = frame["ds"].drop_duplicates().sort_values()
    columns = {}
    for column, days in calendar.items():
        days = pd.DatetimeIndex(days)
        if daily:
            columns[column] = frame["ds"].dt.normalize().isin(days).astype(float).to_numpy()
            continue
        counts = {s: float(((days >= s) & (days < s + step)).sum()) for s in stamps}
        columns[column] = frame["ds"].map(counts).to_numpy(float)
    return frame.assign(**columns)


def _fixed_span(step) -> pd.Timedelta | None:
    """A step's length when it has one (minutes, hours, days); None for weeks, months and years."""
    try:
        return pd.Timedelta(step.nanos)
    except ValueError:
        return None


def _future(history: pd.DataFrame, rows: pd.DataFrame, plan: ForecastPlan, offset: str,
            cov: tuple[str, ...], calendar: dict[str, list]) -> pd.DataFrame | None:
    """The horizon's covariates per series: the data's rows after the last target where it has them, else the
    futurefill method; None when the job has no covariates."""
    if not cov and not calendar:
        return None
    from algorithms.forecaster import future_index

    index = future_index(history, offset, plan.horizon)
    future = index.merge(rows[["unique_id", "ds", *cov]], on=["unique_id", "ds"], how="left")
    for column in cov:
        config = fill_defaults(plan, column)
        missing = future[column].isna()
        if missing.any():
            value = fill_value(history[column], config.get("futurefill", "none"), config, "futurefill")
            if value is None:
                raise field_error(f"{CONFIG}.Transformations.Filling", f"covariate {column!r} has no values for "
                                  "the forecast horizon and its futurefill is 'none'; give its future rows",
                                  int(missing.sum()))
            future[column] = future[column].fillna(value)
    return _with_holidays(future, calendar, offset)


def _check_horizon(plan: ForecastPlan, lengths: pd.Series) -> None:
    """Autopilot's limit: the horizon is at most 500 steps and a quarter of the (longest) series' length."""
    limit = min(MAX_HORIZON, int(lengths.max()) // 4)
    if plan.horizon > limit:
        raise field_error(f"{CONFIG}.ForecastHorizon", f"must be at most min(500, a quarter of the longest series' "
                          f"length {int(lengths.max())}) = {limit} steps at {plan.frequency}", plan.horizon)

"""The forecasting runner: every forecaster backtested on the same windows, then a weighted ensemble of them.

Order: a seasonal-naive candidate first (seconds; a job never ends empty), then the others, cheapest and
strongest per second first. The time left for training, less what the ensemble and the outputs need, is
shared by the candidates still to run: one whose expected cost (its `relative_cost` per 1,000 history rows
and fit, times the fits a backtest takes) does not fit in what is left is put back, and each candidate's
process ends at the larger of its fair share and three times its expected cost (the first's, at the end of
the training time). The candidates put back then
run, cheapest first, with all the time left while it is a fifth of their expected cost (the costs are
rough, and time left idle buys nothing). The ensemble's weights come from
greedy selection with replacement (Caruana's) on the backtest rows: the mean's on the objective (MASE when
the objective is the quantile loss), the quantiles' on the quantile loss, since a model with sharp quantiles
may have a weak mean and the other way round (M4 hourly: seasonal naive's quantiles, LightGBM's mean).
"""
from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import pandas as pd

from algorithms.forecaster import SeriesTask
from algorithms.forecasters import FORECASTERS, forecaster
from automl.artifacts import dump_model, write_bytes, write_json
from automl.candidate import Candidate, CandidateStatus, RunEnd, definition
from automl.forecast_metrics import FORECAST_METRICS, score, weighted_quantile_losses
from automl.forecast_model import ForecastEnsemble, combine
from automl.series import SeriesData, key_columns
from runners.backtest import FitForecaster, read_forecasts, window_count
from runners.base import RunContext, Runner
from runners.executors import executor_for
from runners.launch import blocked, start, train
from runners.planner import ensemble_reserve_s, finish_reserve_s

log = logging.getLogger(__name__)

PRIORITY = ("seasonal-naive", "recursive-lightgbm", "npts", "arima", "theta", "ets", "mstl", "cnn-qr", "deepar",
            "prophet")
ENSEMBLE_NAME = "weighted-ensemble"
ENSEMBLE_ROUNDS = 25
BAND_METRIC = "AverageWeightedQuantileLoss"  # what the ensemble's quantiles are chosen on
MIN_SHARE_S = 2.0
EXPECTED_MARGIN = 3.0  # a candidate's process ends at its share of the time, or this many times its expected cost
LAST_CHANCE = 0.2  # a candidate put back runs at the end when this share of its expected cost is left
PROBLEM = "TimeSeriesForecasting"


def ordered(names: tuple[str, ...], restricted: bool) -> list[str]:
    """A restricted job runs its named forecasters in the order given; otherwise PRIORITY's order."""
    if restricted:
        return list(names)
    return [n for n in PRIORITY if n in names] + [n for n in names if n not in PRIORITY]


class ForecastingRunner(Runner):
    secondary_status = "TrainingModels"

    def definitions(self, ctx: RunContext) -> list[dict]:
        task = series_task(ctx.plan, ctx.dataset)
        windows = window_count(ctx.dataset, task)
        return [self._definition(ctx, name, task, windows) for name in ordered(ctx.plan.algorithms,
                                                                                ctx.plan.restricted)]

    def _definition(self, ctx: RunContext, algorithm: str, task: SeriesTask, windows: int) -> dict:
        cls = forecaster(algorithm)
        return definition(candidate_name(ctx.plan.name, algorithm), algorithm, PROBLEM, ctx.plan.objective,
                          Hyperparameters=cls.default_params(task),
                          Backtest={"Windows": windows, "ForecastHorizon": task.horizon, "Frequency": task.freq,
                                    "SeasonLength": task.season_length},
                          Quantiles=task.quantile_columns, Covariates=list(task.covariates))

    def run(self, ctx: RunContext) -> RunEnd:
        plan, data = ctx.plan, ctx.dataset
        task = series_task(plan, data)
        windows = window_count(data, task)
        names = ordered(plan.algorithms, plan.restricted)
        log.info("%s: %d series, %d rows, frequency %s (season %d), horizon %d, %d backtest windows; candidates %s",
                 plan.name, len(data.keys), len(data.history), data.freq, data.season_length, task.horizon, windows,
                 ", ".join(names))
        executor = executor_for(ctx.plan, ctx.should_stop, pools=True)
        executor.warm()
        runtime = plan.max_job_runtime_s
        training_end = ctx.budget.deadline - finish_reserve_s(runtime) - ensemble_reserve_s(runtime)
        trained, ended, skipped = 0, None, []
        rows_k = len(data.history) / 1000
        for i, algorithm in enumerate(names):
            ended = blocked(ctx, trained)
            left = training_end - time.time()
            if ended is None and left <= MIN_SHARE_S:
                ended = RunEnd.MAX_RUNTIME
            if ended is not None:
                break
            threads = ctx.threads()
            expected = forecaster(algorithm).relative_cost * rows_k * (windows + 1) / threads
            if trained and expected > left:
                log.info("%s: %s put back: expected %.0f s, %.0f s left for training", plan.name, algorithm,
                         expected, left)
                skipped.append((expected, algorithm))
                continue
            # The first candidate keeps the job from ending empty: it may take all the time left (seasonal naive
            # needs seconds, but on a busy machine its process alone can take longer than a tenth of a short job).
            share = left if not trained else max(left / (len(names) - i), EXPECTED_MARGIN * expected, MIN_SHARE_S)
            ended = self._train(ctx, executor, algorithm, task, windows, threads, time.time() + min(left, share))
            trained += 1
        for expected, algorithm in sorted(skipped):
            if ended is not None:
                break
            ended = blocked(ctx, trained)
            left = training_end - time.time()
            if ended is not None or left < LAST_CHANCE * expected:
                log.info("%s: %s skipped: expected %.0f s, %.0f s left for training", plan.name, algorithm,
                         expected, left)
                continue
            ended = self._train(ctx, executor, algorithm, task, windows, ctx.threads(), training_end)
            trained += 1
        if ended is RunEnd.STOPPED or ctx.should_stop():
            return RunEnd.STOPPED
        self._ensemble(ctx, task, windows)
        return ended or RunEnd.COMPLETED

    def _train(self, ctx: RunContext, executor, algorithm: str, task: SeriesTask, windows: int, threads: int,
               cap: float) -> RunEnd | None:
        """One candidate's backtests and final fit in a training process ended at `cap`."""
        plan = ctx.plan
        defn = self._definition(ctx, algorithm, task, windows)
        name = defn["CandidateName"]
        dumped = ctx.output.definition(name)
        write_json(dumped, defn)
        record = dataclasses.replace(start(ctx, name, algorithm, defn), definition_uri=dumped)
        fit = FitForecaster(cls=forecaster(algorithm), params=defn["Hyperparameters"], task=task,
                            data_path=str(ctx.dataset_path), windows=windows, threads=threads,
                            objective=plan.objective, model_uri=ctx.output.model(name),
                            backtest_uri=ctx.output.backtest(name), forecasts_uri=ctx.output.forecasts(name),
                            keys_columns=tuple(key_columns(plan)), names=column_names(plan))
        ended, _ = train(ctx, executor, record, fit, cap=cap)
        return ended

    def _ensemble(self, ctx: RunContext, task: SeriesTask, windows: int) -> None:
        """The weighted ensemble of the completed candidates, when at least two are."""
        plan = ctx.plan
        done = [r for r in ctx.recorded().values() if r.completed and r.algorithm in FORECASTERS]
        if len(done) < 2:
            return
        started = time.time()
        names = column_names(plan)
        backtests = {r.name: read_forecasts(r.backtest_uri + "/forecasts.csv", names) for r in done}
        point = select(backtests, point_metric(plan.objective), task.quantile_columns)
        band = select(backtests, BAND_METRIC, task.quantile_columns)
        weights = {n: (point.get(n, 0.0), band.get(n, 0.0)) for n in dict.fromkeys([*point, *band])}
        if len(weights) < 2:
            log.info("%s: the ensemble selection kept one candidate (%s) only; no ensemble", plan.name,
                     next(iter(weights)))
            return
        members = {r.name: r for r in done if r.name in weights}
        rows = combine([(*w, backtests[n]) for n, w in weights.items()], task.quantile_columns)
        first = backtests[next(iter(weights))]
        rows = first[["unique_id", "ds", "y", "window", "scale"]].merge(rows, on=["unique_id", "ds"])
        metrics = score(rows, task.quantile_columns)
        name = candidate_name(plan.name, ENSEMBLE_NAME)
        defn = definition(name, ENSEMBLE_NAME, PROBLEM, plan.objective,
                          Members={"Mean": point, "Quantiles": band},
                          Backtest={"Windows": windows, "ForecastHorizon": task.horizon})
        record = Candidate(name, ENSEMBLE_NAME, CandidateStatus.IN_PROGRESS, started, defn)
        ctx.record(record)
        finals = [(*w, read_forecasts(ctx.output.forecasts(n), names)) for n, w in weights.items()]
        final = combine(finals, task.quantile_columns)
        model = ForecastEnsemble({ctx.output.relative(members[n].model_uri): w for n, w in weights.items()},
                                 task.quantile_columns)
        dump_model(ctx.output.model(name), model)
        write_json(ctx.output.definition(name), defn)
        shown_rows = rows.merge(ctx.dataset.keys, on="unique_id")
        write_bytes(ctx.output.backtest(name) + "/forecasts.csv",
                    shown_rows.rename(columns=names).to_csv(index=False).encode())
        write_json(ctx.output.backtest(name) + "/metrics.json",
                   {"Windows": windows, "Metrics": metrics, "Weights": {"Mean": point, "Quantiles": band},
                    "QuantileLosses": weighted_quantile_losses(rows, task.quantile_columns)})
        shown = ctx.dataset.keys.merge(final, on="unique_id", how="right")
        write_bytes(ctx.output.forecasts(name), shown.rename(columns=names).to_csv(index=False).encode())
        latency = sum(members[n].inference_latency_s or 0.0 for n in weights)
        ctx.record(record.finished(CandidateStatus.COMPLETED, time.time(), {
            "metrics": metrics, "objective_value": metrics[plan.objective], "weights": point,
            "fit_s": time.time() - started, "inference_latency_s": latency, "model_uri": ctx.output.model(name),
            "definition_uri": ctx.output.definition(name), "backtest_uri": ctx.output.backtest(name),
            "score_source": "backtest windows the weights were chosen on"}))
        log.info("%s: ensemble, mean %s; quantiles %s", plan.name, ", ".join(f"{n} {w:.2f}" for n, w in point.items()),
                 ", ".join(f"{n} {w:.2f}" for n, w in band.items()))


def point_metric(objective: str) -> str:
    """What the ensemble's mean is chosen on: the objective when it scores the mean, else MASE (scale-free,
    so no series' size dominates)."""
    return "MASE" if objective == BAND_METRIC else objective


def select(backtests: dict[str, pd.DataFrame], objective: str, quantiles: list[str]) -> dict[str, float]:
    """Greedy forward selection with replacement: add the member that most improves the objective of the
    running average, ENSEMBLE_ROUNDS times; weights are the counts' shares."""
    metric = FORECAST_METRICS[objective]
    names = list(backtests)
    base = backtests[names[0]][["unique_id", "ds", "y", "window", "scale"]]
    columns = ["mean", *quantiles]
    stacked = {n: base.merge(backtests[n][["unique_id", "ds", "window", *columns]],
                             on=["unique_id", "ds", "window"], how="left")[columns].to_numpy(float) for n in names}
    counts: dict[str, int] = {}
    total = np.zeros_like(stacked[names[0]])
    best_value = float("inf")
    for step in range(1, ENSEMBLE_ROUNDS + 1):
        trials = {}
        for n in names:
            candidate = (total + stacked[n]) / step
            frame = base.assign(**{c: candidate[:, i] for i, c in enumerate(columns)})
            frame[quantiles] = np.sort(frame[quantiles].to_numpy(), axis=1)
            trials[n] = metric.sort_key(metric.fn(frame, quantiles))
        pick = min(trials, key=trials.get)
        if trials[pick] >= best_value and counts:
            break
        best_value = trials[pick]
        counts[pick] = counts.get(pick, 0) + 1
        total += stacked[pick]
    size = sum(counts.values())
    return {n: c / size for n, c in counts.items()}


def series_task(plan, data: SeriesData) -> SeriesTask:
    return SeriesTask(freq=data.freq, season_length=data.season_length, horizon=plan.horizon,
                      quantiles=plan.quantile_levels, covariates=data.covariates)


def candidate_name(job: str, algorithm: str) -> str:
    return f"{job}-{algorithm}"[:64]


def column_names(plan) -> dict:
    return {"ds": plan.timestamp, "y": plan.target}

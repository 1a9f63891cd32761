"""The optuna study behind a tuning job: where it lives, how it samples and prunes, and how a trial running
in another process reports its progress to it.

The study is stored beside the job (`sqlite:///<AUTOML_HOME>/studies/<job>.db`) or in the RDB named by
AUTOML_TUNING_STORAGE when the job was created, so a resumed worker and any joining worker, on this machine or
another, share the trials already run.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

from algorithms.base import Pruned
from automl.errors import field_error

SEED = 0
# Progress steps (percent of an algorithm's full resource) before the first rung: at 3 (30 rounds, 3 epochs)
# the losses were too noisy to rank on small data, and most trials were pruned.
MIN_RESOURCE = 9
REDUCTION_FACTOR = 3
RUNGS = (9, 27, 81)  # MIN_RESOURCE * REDUCTION_FACTOR ** k: the only steps the pruner can judge
STARTUP_TRIALS = 10  # random trials before TPE models the good and bad regions
SQLITE_TIMEOUT_S = 60
STORAGE_SETTING = "AUTOML_TUNING_STORAGE"


def storage_url(home: Path, job: str) -> str:
    configured = os.environ.get(STORAGE_SETTING)
    if configured:
        return configured
    folder = Path(home) / "studies"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / (job.lower() + '.db')}"


def storage(url: str):
    import optuna

    engine = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if url.startswith("sqlite") else None
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


def create_storage(url: str) -> None:
    """Makes the study's tables once, when the job is created (workers starting together would race). A URL
    that no installed driver can open, or a server that cannot be reached, is the user's setting to fix."""
    try:
        storage(url)
    except Exception as exc:  # sqlalchemy's, a driver's or a connection's error: each means the same to a user
        setting = STORAGE_SETTING if os.environ.get(STORAGE_SETTING) else "AUTOML_HOME"
        detail = (str(exc).strip().splitlines() or [""])[0]
        raise field_error(setting, "must lead to a study storage optuna can open (sqlite:///PATH, or an RDB URL "
                          f"whose driver is installed and whose server answers); {type(exc).__name__}: "
                          f"{detail}") from None


def pruner():
    """Hyperband over the shared progress scale: every algorithm's full resource is step 100."""
    import optuna

    from algorithms.base import FULL_RESOURCE

    return optuna.pruners.HyperbandPruner(min_resource=MIN_RESOURCE, max_resource=FULL_RESOURCE,
                                          reduction_factor=REDUCTION_FACTOR)


def sampler():
    """Multivariate TPE over the conditional pipeline space (grouped by algorithm); the constant liar keeps
    trials running side by side from sampling the same region."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # `multivariate` and `group`
        return optuna.samplers.TPESampler(multivariate=True, group=True, constant_liar=True, seed=SEED,
                                          n_startup_trials=STARTUP_TRIALS)


def open_study(url: str, name: str, direction: str | None = None):
    """Create the study (when `direction` is given) or load it; without a direction it must exist."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if direction is None:
        return optuna.load_study(study_name=name, storage=storage(url), sampler=sampler(), pruner=pruner())
    return optuna.create_study(study_name=name, storage=storage(url), sampler=sampler(), pruner=pruner(),
                               direction=direction, load_if_exists=True)


def worker_id() -> str:
    from automl.processes import process_start

    return f"{socket.gethostname()}:{os.getpid()}:{process_start(os.getpid())}"


def worker_alive(worker: str | None) -> bool:
    """Whether the worker that started a trial still runs; a worker on another host is assumed alive."""
    from automl.processes import alive

    if not worker:
        return False
    host, pid, start = worker.split(":", 2)
    if host != socket.gethostname():
        return True
    return alive(int(pid), None if start == "None" else start)


def suggest(trial, name: str, distribution):
    """A define-by-run suggestion from a declared optuna distribution."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high, step=distribution.step,
                                 log=distribution.log)
    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(name, distribution.low, distribution.high, step=distribution.step,
                                   log=distribution.log)
    raise TypeError(f"{name}: unsupported distribution {distribution!r}")


def within(distribution, value) -> bool:
    """Whether a fixed value (a default, a portfolio entry) is one the search space can suggest."""
    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution):
        return value in distribution.choices
    return isinstance(value, int | float) and distribution.low <= value <= distribution.high


def describe_distribution(distribution) -> dict:
    """A readable, JSON-able form of a search dimension for the candidate definitions."""
    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution):
        return {"Type": "Categorical", "Values": list(distribution.choices)}
    kind = "Integer" if type(distribution).__name__.startswith("Int") else "Continuous"
    return {"Type": kind, "MinValue": distribution.low, "MaxValue": distribution.high,
            "ScalingType": "Logarithmic" if distribution.log else "Linear"}


class Rungs:
    """The `progress` callback of a trial running in a training process: reports the validation loss at the
    pruner's rungs (signed so that larger is better when the study maximizes) and raises `Pruned` when the
    pruner says so."""

    def __init__(self, url: str, study_name: str, trial_id: int):
        import optuna

        study = open_study(url, study_name)
        self.trial = optuna.trial.Trial(study, trial_id)
        self.sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
        self.reported: list[tuple[int, float]] = []

    def __call__(self, step: int, loss: float) -> None:
        rung = max((r for r in RUNGS if r <= step), default=None)
        if rung is None or any(r == rung for r, _ in self.reported):
            return
        self.trial.report(self.sign * loss, rung)
        self.reported.append((rung, loss))
        if self.trial.should_prune():
            raise Pruned(f"step {rung}: validation loss {loss:.6g}")

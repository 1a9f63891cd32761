"""SageMaker Autopilot's CreateAutoMLJob, run on your own machine.

The names below load on first use: `import automl` stays cheap, and a module of the engine (an algorithm, a
training process, a loaded model) can import `automl.problem` without pulling in the API and, through it, the
runners.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "automl.api": ("Client", "client", "create_auto_ml_job", "describe_auto_ml_job", "create_auto_ml_job_v2",
                   "describe_auto_ml_job_v2", "list_auto_ml_jobs",
                   "list_candidates_for_auto_ml_job", "stop_auto_ml_job", "wait", "predict"),
    "automl.estimator": ("load_model",),
    "automl.reproduce": ("fit_candidate",),
    "automl.errors": ("AutoMLError", "ValidationException", "ResourceInUse", "ResourceNotFound",
                      "ResourceLimitExceeded"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = list(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'automl' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

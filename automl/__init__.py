"""SageMaker Autopilot's CreateAutoMLJob, run on your own machine."""
from automl.api import (Client, client, create_auto_ml_job, describe_auto_ml_job, list_auto_ml_jobs,
                        list_candidates_for_auto_ml_job, predict, stop_auto_ml_job, wait)
from automl.estimator import load_model
from automl.errors import (AutoMLError, ResourceInUse, ResourceLimitExceeded, ResourceNotFound,
                           ValidationException)

__all__ = ["Client", "client", "create_auto_ml_job", "describe_auto_ml_job", "list_auto_ml_jobs",
           "list_candidates_for_auto_ml_job", "stop_auto_ml_job", "wait", "predict", "load_model", "AutoMLError",
           "ValidationException", "ResourceInUse", "ResourceNotFound", "ResourceLimitExceeded"]

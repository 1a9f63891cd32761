"""mlp: the tuning mode's multi-layer perceptron (the nn-torch network: scaled numbers and category embeddings,
ReLU blocks with dropout, AdamW), with its width, depth, regularisation and optimiser left to the search.

Its fidelity is epochs: the `epochs` parameter is the full resource and each epoch is one progress step. Trials
keep a constant learning rate (early stopping decides their epochs); the final fit, whose steps the time it has
decides, decays it linearly to zero over them ("schedule": "linear-decay")."""
from __future__ import annotations

from algorithms._torch_tabular import TorchTabular
from algorithms.base import Task
from algorithms.nn_torch import _MLP


class MLP(TorchTabular):
    name = "mlp"
    modes = ("HYPERPARAMETER_TUNING",)

    @classmethod
    def default_params(cls, task: Task) -> dict:
        return {"hidden_size": 256, "layers": 2, "dropout": 0.1, "learning_rate": 1e-3, "weight_decay": 1e-5,
                "batch_size": 256, "epochs": 100, "schedule": "constant"}

    @classmethod
    def search_space(cls, task: Task) -> dict:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        return {"hidden_size": CategoricalDistribution([64, 128, 256, 512]), "layers": IntDistribution(1, 4),
                "dropout": FloatDistribution(0.0, 0.5), "learning_rate": FloatDistribution(1e-4, 1e-2, log=True),
                "weight_decay": FloatDistribution(1e-7, 1e-2, log=True),
                "batch_size": CategoricalDistribution([64, 128, 256, 512, 1024])}

    def _network(self, n_numeric, levels, n_out, params):
        return _MLP(n_numeric, levels, n_out, params)

    def _scheduler(self, optimizer, params, steps):
        import torch

        if params["schedule"] != "linear-decay":
            return None
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / steps))

    @classmethod
    def final_fit(cls, fit: dict) -> tuple[float, dict]:
        """A fit of few epochs on many rows ends annealed: on 1M rows for 5 epochs the decay raised the AUC from
        0.9803 to 0.9811, and on 2M rows for 2 epochs from 0.9800 to 0.9810."""
        share, _ = super().final_fit(fit)
        return share, {"schedule": "linear-decay"}

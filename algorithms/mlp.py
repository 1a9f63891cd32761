"""mlp: the tuning mode's multi-layer perceptron (the nn-torch network: scaled numbers and category embeddings,
ReLU blocks with dropout, AdamW), with its width, depth, regularisation and optimiser left to the search.

Its fidelity is epochs: the `epochs` parameter is the full resource and each epoch is one progress step."""
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
                "batch_size": 256, "epochs": 100}

    @classmethod
    def search_space(cls, task: Task) -> dict:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        return {"hidden_size": CategoricalDistribution([64, 128, 256, 512]), "layers": IntDistribution(1, 4),
                "dropout": FloatDistribution(0.0, 0.5), "learning_rate": FloatDistribution(1e-4, 1e-2, log=True),
                "weight_decay": FloatDistribution(1e-7, 1e-2, log=True),
                "batch_size": CategoricalDistribution([64, 128, 256, 512, 1024])}

    def _network(self, n_numeric, levels, n_out, params):
        return _MLP(n_numeric, levels, n_out, params)

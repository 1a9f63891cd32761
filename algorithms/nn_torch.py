"""nn-torch: a multi-layer perceptron over scaled numbers and learned category embeddings (AdamW, dropout)."""
from __future__ import annotations

from algorithms._torch_tabular import TorchTabular, embedding_size
from algorithms.base import Task


class NNTorch(TorchTabular):
    name = "nn-torch"

    @classmethod
    def default_params(cls, task: Task) -> dict:
        return {"hidden_size": 256, "layers": 3, "dropout": 0.1, "learning_rate": 1e-3, "weight_decay": 1e-5,
                "batch_size": 512, "epochs": 200}

    @classmethod
    def portfolio(cls, task: Task) -> list[dict]:
        return [{"hidden_size": 128, "layers": 4, "dropout": 0.25, "learning_rate": 3e-4},
                {"hidden_size": 512, "layers": 2, "dropout": 0.0, "weight_decay": 1e-4}]

    def _network(self, n_numeric, levels, n_out, params):
        return _MLP(n_numeric, levels, n_out, params)


def _MLP(n_numeric: int, levels: list[int], n_out: int, params: dict):
    import torch
    from torch import nn

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = nn.ModuleList(nn.Embedding(n, embedding_size(n)) for n in levels)
            width = n_numeric + sum(e.embedding_dim for e in self.embeddings)
            blocks = []
            for _ in range(params["layers"]):
                blocks += [nn.Linear(width, params["hidden_size"]), nn.ReLU(), nn.Dropout(params["dropout"])]
                width = params["hidden_size"]
            self.body = nn.Sequential(*blocks, nn.Linear(width, n_out))

        def forward(self, numeric, codes):
            parts = [numeric] + [e(codes[:, j]) for j, e in enumerate(self.embeddings)]
            return self.body(torch.cat(parts, dim=1))

    return MLP()

"""fastai: fastai's tabular architecture (embeddings with dropout, batch-normalised numbers, Linear-ReLU-
BatchNorm-Dropout blocks of 200 and 100 units) trained with the one-cycle schedule, written on torch alone
(the fastai package would pull in torchvision)."""
from __future__ import annotations

from algorithms._torch_tabular import TorchTabular, embedding_size
from algorithms.base import Task


class FastAI(TorchTabular):
    name = "fastai"

    @classmethod
    def default_params(cls, task: Task) -> dict:
        return {"layers": [200, 100], "dropout": 0.1, "embedding_dropout": 0.1, "learning_rate": 1e-2,
                "weight_decay": 1e-2, "batch_size": 256, "epochs": 30}

    @classmethod
    def portfolio(cls, task: Task) -> list[dict]:
        return [{"layers": [400, 200], "dropout": 0.2, "learning_rate": 5e-3},
                {"layers": [800, 400], "dropout": 0.1, "epochs": 20}]

    def _network(self, n_numeric, levels, n_out, params):
        return _TabularModel(n_numeric, levels, n_out, params)

    def _scheduler(self, optimizer, params, steps):
        import torch

        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=params["learning_rate"], total_steps=steps)


def _TabularModel(n_numeric: int, levels: list[int], n_out: int, params: dict):
    import torch
    from torch import nn

    class TabularModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = nn.ModuleList(nn.Embedding(n, embedding_size(n)) for n in levels)
            self.embedding_dropout = nn.Dropout(params["embedding_dropout"])
            self.numeric_norm = nn.BatchNorm1d(n_numeric) if n_numeric else None
            width = n_numeric + sum(e.embedding_dim for e in self.embeddings)
            blocks = []
            for size in params["layers"]:
                blocks += [nn.Linear(width, size), nn.ReLU(), nn.BatchNorm1d(size), nn.Dropout(params["dropout"])]
                width = size
            self.body = nn.Sequential(*blocks, nn.Linear(width, n_out))

        def forward(self, numeric, codes):
            parts = []
            if self.embeddings:
                parts.append(self.embedding_dropout(torch.cat([e(codes[:, j]) for j, e in
                                                               enumerate(self.embeddings)], dim=1)))
            if self.numeric_norm is not None:
                parts.append(self.numeric_norm(numeric))
            return self.body(torch.cat(parts, dim=1))

    return TabularModel()

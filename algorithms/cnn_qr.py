"""cnn-qr: Amazon Forecast's CNN-QR, on torch: a causal dilated convolution stack encodes the scaled context
(target, mask, time features, covariates), and an MLP decoder reads that code with the future steps' features
and the item embedding to emit every horizon step's quantiles at once, trained on the pinball loss. The mean
is the median head (a squared-loss head would chase the outliers the pinball loss shrugs off). A linear skip
from the scaled context to every head starts as seasonal naive (or naive: `naive_period`), so the network
learns a correction to it.
"""
from __future__ import annotations

import numpy as np

from algorithms._torch_series import TorchForecaster, log_scale, training_params
from algorithms.forecaster import SeriesTask


class CnnQr(TorchForecaster):
    name = "cnn-qr"
    relative_cost = 1.0

    @classmethod
    def default_params(cls, task: SeriesTask) -> dict:
        return training_params() | {"channels": 32, "kernel": 3, "hidden": 128, "dropout": 0.1, "embedding": 8,
                                    "learning_rate": 2e-3}

    @property
    def levels(self) -> list[float]:
        """The task's quantiles and the median (the mean column)."""
        return sorted(set(self.task.quantiles) | {0.5})

    def _build(self, n_features: int, n_items: int, lags: list[int]):
        return _Network(n_features, n_items, self.context, self.task.horizon, len(self.levels), self.period_,
                        self.params)

    def _outputs(self, network, batch: dict):
        c = self.context
        return network(batch["y"][:, :c], batch["mask"][:, :c], batch["x"][:, :c], batch["x"][:, c:],
                       batch["item"], log_scale(batch["scale"]))

    def _loss(self, network, batch: dict):
        import torch

        c = self.context
        error = (batch["y"][:, c:] * batch["mask"][:, c:]).unsqueeze(-1) - self._outputs(network, batch)
        levels = torch.as_tensor(self.levels)
        pinball = torch.maximum(levels * error, (levels - 1) * error) * batch["mask"][:, c:].unsqueeze(-1)
        return pinball.sum() / batch["mask"][:, c:].sum().clamp(min=1) / len(self.levels)

    def _forecast(self, network, batch: dict) -> tuple[np.ndarray, np.ndarray]:
        output = self._outputs(network, batch).double().numpy()
        columns = [self.levels.index(q) for q in self.task.quantiles]
        return output[:, :, self.levels.index(0.5)], np.sort(output, axis=-1)[:, :, columns]


def _Network(n_features: int, n_items: int, context: int, horizon: int, n_levels: int, period: int, params: dict):
    import torch
    from torch import nn

    class Network(nn.Module):
        def __init__(self):
            super().__init__()
            channels, kernel = params["channels"], params["kernel"]
            self.embedding = nn.Embedding(n_items, params["embedding"])
            self.inlet = nn.Conv1d(2 + n_features, channels, 1)
            # Dilations double until the receptive field spans the context.
            dilations = [2 ** i for i in range(max(1, int(np.ceil(np.log2(max(2, context / (kernel - 1)))))))]
            self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d) for d in dilations)
            self.pads = [(kernel - 1) * d for d in dilations]
            # The decoder also reads the scaled context itself: a season back is then one weight away.
            width = 2 * channels + context + horizon * n_features + params["embedding"] + 1
            self.decoder = nn.Sequential(nn.Linear(width, params["hidden"]), nn.ReLU(), nn.Dropout(params["dropout"]),
                                         nn.Linear(params["hidden"], params["hidden"]), nn.ReLU(),
                                         nn.Linear(params["hidden"], horizon * n_levels))
            # Starts as the last `period` steps repeated: a near-periodic series then needs no precise weights
            # to be matched, only a small correction.
            self.skip = nn.Linear(context, horizon, bias=False)
            with torch.no_grad():
                self.skip.weight.zero_()
                steps = torch.arange(horizon)
                self.skip.weight[steps, context - period + steps % period] = 1.0

        def forward(self, y, mask, x, future_x, item, scale):
            hidden = self.inlet(torch.cat([y.unsqueeze(1), mask.unsqueeze(1), x.transpose(1, 2)], dim=1))
            for conv, pad in zip(self.convs, self.pads, strict=True):
                hidden = hidden + torch.relu(conv(nn.functional.pad(hidden, (pad, 0))))
            code = torch.cat([hidden[:, :, -1], hidden.mean(-1), y, future_x.flatten(1), self.embedding(item), scale],
                             1)
            return self.decoder(code).view(len(y), horizon, n_levels) + self.skip(y).unsqueeze(-1)

    return Network()

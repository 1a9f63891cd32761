"""deepar: the autoregressive LSTM of Salinas et al. (Autopilot's DeepAR+), on torch: at each step it reads the
scaled lagged target, time features, covariates and an item embedding, and emits a Student-t; forecasts are
sample paths drawn step by step (each draw fed back as the next lag), summarised into the mean and quantiles.
The Student-t's location has a linear skip from the lags that starts as seasonal naive or naive (the lag
`naive_period` picks), so the LSTM learns a correction to it.
"""
from __future__ import annotations

import numpy as np

from algorithms._series import seasonal_periods
from algorithms._torch_series import TorchForecaster, log_scale, training_params
from algorithms.forecaster import SeriesTask


class DeepAR(TorchForecaster):
    name = "deepar"
    relative_cost = 2.0

    @classmethod
    def default_params(cls, task: SeriesTask) -> dict:
        return training_params() | {"hidden": 40, "layers": 2, "dropout": 0.1, "embedding": 8, "samples": 100}

    def _lags(self) -> list[int]:
        """Recent steps, then each seasonal period and its neighbours."""
        lags = {1, 2, 3}
        for p in seasonal_periods(self.task):
            lags |= {p - 1, p, p + 1}
        return sorted(lag for lag in lags if lag >= 1)

    def _build(self, n_features: int, n_items: int, lags: list[int]):
        start = lags.index(self.period_) if self.period_ in lags else lags.index(1)
        return _Network(2 * len(lags) + n_features + 1, n_items, len(lags), start, self.params)

    def _inputs(self, batch: dict, steps: slice):
        import torch

        length = batch["x"][:, steps].shape[1]
        return torch.cat([batch["lags"][:, steps], batch["lag_mask"][:, steps], batch["x"][:, steps],
                          log_scale(batch["scale"]).unsqueeze(1).expand(-1, length, -1)], dim=-1)

    def _loss(self, network, batch: dict):
        distribution, _ = network(self._inputs(batch, slice(None)), batch["item"])
        mask = batch["mask"]
        return -(distribution.log_prob(batch["y"]) * mask).sum() / mask.sum().clamp(min=1)

    def _forecast(self, network, batch: dict) -> tuple[np.ndarray, np.ndarray]:
        """Runs the context once, then draws `samples` paths per series together, one step at a time."""
        import torch

        context, h, lags = self.context, self.task.horizon, self.config_[2]
        samples = int(self.params["samples"])
        _, state = network(self._inputs(batch, slice(0, context)), batch["item"])
        state = tuple(s.repeat_interleave(samples, dim=1) for s in state)
        n = len(batch["y"])
        # The scaled target of the whole window per path, the future filled in as it is drawn.
        path = batch["y"].repeat_interleave(samples, dim=0).clone()
        observed = batch["mask"].repeat_interleave(samples, dim=0).clone()
        observed[:, context:] = 1
        first = {k: v.repeat_interleave(samples, dim=0) for k, v in batch.items() if k in ("x", "scale", "item")}
        lag_index = torch.as_tensor(lags)
        for k in range(h):
            at = context + k
            step = {"lags": (path[:, at - lag_index] * observed[:, at - lag_index]).unsqueeze(1),
                    "lag_mask": observed[:, at - lag_index].unsqueeze(1), "x": first["x"][:, at:at + 1],
                    "scale": first["scale"]}
            distribution, state = network(self._inputs(step, slice(None)), first["item"], state)
            draw = distribution.sample()[:, 0]
            path[:, at] = draw.clamp(-1e4, 1e4)
        future = path[:, context:].reshape(n, samples, h).double()
        quantiles = torch.quantile(future, torch.as_tensor(self.task.quantiles, dtype=torch.float64), dim=1)
        return future.mean(1).numpy(), quantiles.permute(1, 2, 0).numpy()


def _Network(n_inputs: int, n_items: int, n_lags: int, start: int, params: dict):
    """`inputs` begin with the `n_lags` scaled lags; the skip starts as the lag at index `start`."""
    import torch
    from torch import nn

    class Network(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(n_items, params["embedding"])
            self.rnn = nn.LSTM(n_inputs + params["embedding"], params["hidden"], params["layers"], batch_first=True,
                               dropout=params["dropout"] if params["layers"] > 1 else 0.0)
            self.head = nn.Linear(params["hidden"], 3)
            self.skip = nn.Linear(n_lags, 1, bias=False)
            with torch.no_grad():
                self.skip.weight.zero_()
                self.skip.weight[0, start] = 1.0

        def forward(self, inputs, item, state=None):
            embedded = self.embedding(item).unsqueeze(1).expand(-1, inputs.shape[1], -1)
            output, state = self.rnn(torch.cat([inputs, embedded], dim=-1), state)
            df, loc, scale = self.head(output).unbind(-1)
            softplus = nn.functional.softplus
            loc = loc + self.skip(inputs[..., :n_lags]).squeeze(-1)
            return torch.distributions.StudentT(2 + softplus(df), loc, softplus(scale) + 1e-4), state

    return Network()

"""Shared training loop of the two torch networks (nn-torch, fastai): categorical embeddings, weighted loss,
early stopping on the validation fold by keeping the best epoch, and a deadline that ends training early.

Inputs come from the "neural" preprocessing: scaled numbers, category codes (NaN for missing or unseen,
mapped to embedding row 0) at `task.categorical_features`.
"""
from __future__ import annotations

import copy
import time

import numpy as np

from algorithms.base import FULL_RESOURCE, Algorithm, past

PATIENCE_EPOCHS = 10
MAX_EMBEDDING = 64
PREDICT_BATCH = 8192
PLAN_STEPS = 200  # the pace is measured on the first epoch or this many steps, whichever ends first
PLAN_MARGIN = 0.9  # of the time left, planned for steps: the validation after each epoch takes the rest
FINAL_EPOCHS = 4


def embedding_size(levels: int) -> int:
    """Grows slowly with the number of levels (the rule of thumb fastai popularised)."""
    return int(min(MAX_EMBEDDING, round(1.6 * levels ** 0.56)))


class TorchTabular(Algorithm):
    modes = ("ENSEMBLING",)
    preprocessing = "neural"

    def _network(self, n_numeric: int, levels: list[int], n_out: int, params: dict):
        """The module mapping (numeric float tensor, category long tensor) to n_out outputs."""
        raise NotImplementedError

    def _scheduler(self, optimizer, params: dict, steps: int):
        """A per-step learning-rate schedule over the `steps` planned, or None for a constant rate."""
        return None

    def _split(self, X):
        X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float32)
        categorical = list(self.task.categorical_features)
        numeric = [i for i in range(X.shape[1]) if i not in categorical]
        codes = X[:, categorical]
        codes = np.where(np.isnan(codes), -1, codes).astype(np.int64) + 1
        return np.nan_to_num(X[:, numeric]), codes

    def _tensors(self, X):
        import torch

        numeric, codes = self._split(X)
        codes = np.minimum(codes, np.asarray(self.levels_, dtype=np.int64) - 1) if codes.size else codes
        return torch.from_numpy(numeric), torch.from_numpy(codes)

    def fit(self, X, y, *, sample_weight=None, eval_set=None, deadline=None, progress=None):
        """`progress` gets one step per epoch, in shares of the `epochs` parameter (the full resource). A
        deadline ends training between steps, also within an epoch (one epoch of millions of rows can outlast
        the time a fit has), once the steps that measure the pace are taken."""
        import torch

        torch.manual_seed(self.task.seed)
        torch.set_num_threads(max(1, self.task.threads))
        params = self.resolved_params
        _, codes = self._split(X)
        self.levels_ = [int(codes[:, j].max()) + 2 for j in range(codes.shape[1])]  # + row 0 (missing/unseen)
        n_out = self.task.n_classes if self.task.is_classification else 1
        y = np.asarray(y)
        if not self.task.is_classification:
            self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
        numeric, codes = self._tensors(X)
        target = self._target(y)
        weight = torch.from_numpy(np.ones(len(y), np.float32) if sample_weight is None else
                                  np.asarray(sample_weight, np.float32) / np.mean(sample_weight))
        self.shape_ = (numeric.shape[1], self.levels_, n_out, params)
        self.network_ = self._network(*self.shape_)
        optimizer = torch.optim.AdamW(self.network_.parameters(), lr=params["learning_rate"],
                                      weight_decay=params["weight_decay"])
        batch = int(min(params["batch_size"], max(32, len(y) // 8)))
        steps = -(-len(y) // batch)
        epochs = int(params["epochs"])
        valid = None
        if eval_set is not None:
            Xv, yv, wv = eval_set
            valid = (*self._tensors(Xv), self._target(np.asarray(yv)),
                     None if wv is None else torch.from_numpy(np.asarray(wv, np.float32)))
        generator = torch.Generator().manual_seed(self.task.seed)
        best_loss, best_state, best_epoch, self.epochs_, self.epochs_trained_ = np.inf, None, 0, 0, 0.0
        scheduler, planned, done, began = None, epochs * steps, 0, time.time()
        for epoch in range(epochs):
            self.network_.train()
            order = torch.randperm(len(y), generator=generator)
            for step in range(steps):
                if done >= planned or (done >= min(steps, PLAN_STEPS) and past(deadline)):
                    break
                rows = order[step * batch:(step + 1) * batch]
                if len(rows) < 2:
                    continue
                optimizer.zero_grad()
                loss = (self._loss(self.network_(numeric[rows], codes[rows]), target[rows]) * weight[rows]).mean()
                loss.backward()
                optimizer.step()
                done += 1
                if scheduler is not None:
                    scheduler.step()
                if done == min(steps, PLAN_STEPS):
                    # With the cost of a step known, plan how many fit before the deadline, then schedule them.
                    planned = self._affordable(planned, done, time.time() - began, deadline)
                    scheduler = self._scheduler(optimizer, params, max(1, planned - done))
            self.epochs_ = epoch + 1
            self.epochs_trained_ = done / steps
            if valid is not None:
                loss = self._valid_loss(valid)
                if progress is not None:
                    progress(max(1, round(FULL_RESOURCE * (epoch + 1) / int(params["epochs"]))),
                             loss if self.task.is_classification else float(np.sqrt(loss)) * self.y_std_)
                if loss < best_loss - 1e-6:
                    best_loss, best_state, best_epoch = loss, copy.deepcopy(self.network_.state_dict()), epoch + 1
                elif epoch + 1 - best_epoch >= PATIENCE_EPOCHS and scheduler is None:
                    break
            if done >= planned or past(deadline):
                break
        if best_state is not None:
            self.network_.load_state_dict(best_state)
            self.epochs_ = best_epoch
        self.network_.eval()
        return self

    @staticmethod
    def _affordable(planned: int, done: int, spent_s: float, deadline: float | None) -> int:
        """The steps, at most those planned, that end before the deadline at the pace of the first ones."""
        if deadline is None:
            return planned
        left = (deadline - time.time()) * PLAN_MARGIN
        return int(max(done + 1, min(planned, done + left * done / max(spent_s, 1e-3))))

    def _target(self, y):
        import torch

        if self.task.is_classification:
            return torch.from_numpy(y.astype(np.int64))
        return torch.from_numpy(((y - self.y_mean_) / self.y_std_).astype(np.float32))

    def _loss(self, output, target):
        import torch.nn.functional as F

        if self.task.is_classification:
            return F.cross_entropy(output, target, reduction="none")
        return F.mse_loss(output.squeeze(1), target, reduction="none")

    def _valid_loss(self, valid) -> float:
        import torch

        numeric, codes, target, weight = valid
        self.network_.eval()
        with torch.no_grad():
            loss = self._loss(self._forward(numeric, codes), target)
        if weight is not None:
            return float((loss * weight).sum() / weight.sum())
        return float(loss.mean())

    def _forward(self, numeric, codes):
        import torch

        with torch.no_grad():
            return torch.cat([self.network_(numeric[i:i + PREDICT_BATCH], codes[i:i + PREDICT_BATCH])
                              for i in range(0, len(numeric), PREDICT_BATCH)]) if len(numeric) else \
                self.network_(numeric, codes)

    def _predict_raw(self, X):
        import torch

        torch.set_num_threads(max(1, self.task.threads))
        self.network_.eval()
        output = self._forward(*self._tensors(X))
        if self.task.is_classification:
            return torch.softmax(output, dim=1).numpy().astype(np.float64)
        return output.squeeze(1).numpy().astype(np.float64) * self.y_std_ + self.y_mean_

    def describe_fit(self) -> dict:
        """The best epoch (the one kept) and the epochs trained, a fraction when a deadline ended one."""
        return {"epochs": int(self.epochs_), "epochs_trained": round(float(self.epochs_trained_), 3)}

    def __getstate__(self) -> dict:
        """The network is built by a closure-defined module, so it is saved as its weights and rebuilt."""
        state = self.__dict__.copy()
        if "network_" in state:
            state["network_"] = {k: v.clone() for k, v in self.network_.state_dict().items()}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "network_" in state:
            weights = state["network_"]
            self.network_ = self._network(*self.shape_)
            self.network_.load_state_dict(weights)
            self.network_.eval()

    @classmethod
    def final_fit(cls, fit: dict) -> tuple[float, dict]:
        """More rows need fewer epochs: a final fit is planned for FINAL_EPOCHS passes over its rows, not the
        trial's count, so it takes many more rows in the same time (on 2M rows, an mlp's trial stopped after 23
        epochs of 100k rows; in the same time its final fit on 1M rows for 4 epochs scored validation AUC 0.9803,
        on 313k rows for 24 epochs 0.9795)."""
        trained = fit.get("epochs_trained")
        return (min(1.0, FINAL_EPOCHS / trained) if trained else 1.0), {}

    @classmethod
    def refit_params(cls, facts: list[dict]) -> dict:
        return {"epochs": max(1, int(round(np.mean([f["epochs"] for f in facts]))))}

"""SHAP values of a saved model, always over its original columns, within a deadline.

Tree candidates (a model, or a bag whose every fold is one) get exact tree SHAP on each fold's encoded matrix;
an encoded column's values sum into the original column it came from (SHAP is additive, so this stays exact).
A weighted ensemble of first-layer models is explained as the weighted sum of its members' explanations on the
same rows and background (interventional SHAP is linear in the model): interventional tree SHAP for tree members,
Kernel SHAP for the others, each member alone costing far less than masking the whole ensemble.
Everything else (deeper stacks, linear and neural candidates) gets shap's KernelExplainer on the original
columns, masked through an exact float coding of them (`automl.reports.codes`), with the rows and background sized
to what the deadline allows. `shap` is imported inside the functions: it takes ~1.3 s.
"""
from __future__ import annotations

import gc
import math
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from automl.channels import filesystem, join_uri
from automl.columns import coerce
from automl.model import BaggedModel, CandidateModel, StackModel
from automl.problem import ProblemType
from automl.reports.codes import ColumnCodes

DEFAULT_ROWS = 1000
MIN_ROWS = 10  # fewer rows than this say nothing about a model: the caller reports insights without SHAP
BACKGROUND_ROWS = 20  # rows a masked column is drawn from; a model-agnostic row costs coalitions x this
MIN_BACKGROUND_ROWS = 10
PASSES = 2  # a row's coalitions cost what this many forward-and-backward permutations would (model rows)
CHUNK_ROWS = 10
TREE_CHUNK_ROWS = 100
SAFETY = 0.8  # share of the time left that the next chunk's estimate may take
RTOL, ATOL = 1e-5, 1e-6  # how close a parsed tree ensemble's answer must be to the model's (float32 boosters)


class ExplainTimeout(Exception):
    """The deadline leaves too little time to explain MIN_ROWS rows; the message says what it would cost."""


class ExplainTooLarge(Exception):
    """A model too large to load beside the job's other state: the report step must not need more memory than
    the training did (a training process held one fold; explaining loads a member's every fold)."""


MAX_MODEL_BYTES = 128 * 2**20  # a model file larger than this is not loaded to be explained (a bag of deep forests)


def check_size(name: str, uri: str, limit: int | None) -> None:
    """A saved model file's size is what loading it costs in memory, twice over while it is read and verified."""
    if limit is None:
        return
    fs, path = filesystem(uri)
    size = int(fs.size(path))
    if size > limit:
        raise ExplainTooLarge(f"{name}'s model is {size / 2**20:.0f} MB; models over {limit // 2**20} MB are not "
                              "loaded for SHAP values, so the report step needs no more memory than training")


@dataclass
class Explanation:
    """`values[i, j]` (`[i, j, k]` per class for multiclass) is column j's share of row i's output; with
    `base_values` they add up to that output (`predicted()`), in the units `output` names."""

    columns: list[str]
    values: np.ndarray
    base_values: float | np.ndarray  # (classes,) for multiclass
    output: str  # "margin", "probability" or "value"
    method: str  # "tree-shap", "kernel-shap" or "ensemble-shap (...)" naming its members' methods
    labels: list  # the explained outputs: the positive class (binary), every class (multiclass), none (regression)
    explains: str  # the output in words, for reports: bags explain the mean of their folds' margins
    frame: pd.DataFrame  # the explained rows' original columns, in their kinds' dtypes
    seconds: float

    @property
    def rows(self) -> int:
        return len(self.values)

    def predicted(self) -> np.ndarray:
        return self.base_values + self.values.sum(axis=1)

    def importance(self) -> pd.Series:
        """Mean |SHAP| per column (summed over classes), largest first: Clarify's global SHAP values."""
        magnitude = np.abs(self.values).mean(axis=0)
        if magnitude.ndim == 2:
            magnitude = magnitude.sum(axis=1)
        return pd.Series(magnitude, index=self.columns).sort_values(ascending=False, kind="stable")


def explain(model, X: pd.DataFrame, *, deadline: float, background: pd.DataFrame | None = None,
            max_model_bytes: int | None = None,
            max_rows: int = DEFAULT_ROWS) -> Explanation:
    """SHAP values of the first `max_rows` rows of X (fewer when the deadline, a time.time(), allows fewer for a
    model-agnostic explainer). `background` (default: X) is what a masked column is replaced by there.
    `max_model_bytes`: an ensemble member saved larger than this is not loaded (ExplainTooLarge)."""
    start = time.time()
    if start >= deadline:
        raise ExplainTimeout("the deadline had passed before explaining began")
    frame = coerce(X.iloc[:max_rows], model.kinds).reset_index(drop=True)
    trees = _trees(model)
    if trees is not None:
        return _tree_shap(model, trees, frame, start, deadline)
    background = coerce(X if background is None else background, model.kinds)
    if isinstance(model, StackModel) and model.depth == 1:
        return _ensemble_shap(model, frame, background, deadline, start, max_model_bytes)
    return _kernel_shap(model, frame, background, deadline, start)


def _trees(model) -> list | None:
    """(fold, ShapTree) of every fold of a tree candidate or bag; None when any fold is not a tree ensemble."""
    folds = model.folds if isinstance(model, BaggedModel) else [model] if isinstance(model, CandidateModel) else []
    trees = [(fold, fold.algorithm.shap_tree()) for fold in folds]
    return trees if trees and all(tree is not None for _, tree in trees) else None


def _labels(model) -> list:
    if model.problem_type is ProblemType.MULTICLASS:
        return list(model.classes)
    return [model.classes[1]] if model.problem_type is ProblemType.BINARY else []


def _tree_shap(model, trees: list, frame: pd.DataFrame, start: float, deadline: float) -> Explanation:
    """Exact, and fast, but not free for a bag of deep boosters: rows go in chunks until the next one would
    pass the deadline (the first chunk always runs)."""
    import shap

    explainers = [(fold, tree, shap.TreeExplainer(tree.model)) for fold, tree in trees]
    parts, done, per_row = [], 0, None
    while done < len(frame):
        count = TREE_CHUNK_ROWS if per_row is None else min(
            len(frame) - done, max(TREE_CHUNK_ROWS, done), math.floor(SAFETY * (deadline - time.time()) / per_row))
        if count < 1:
            break
        began = time.time()
        parts.append(_tree_values_of(model, explainers, frame.iloc[done:done + count]))
        per_row, done = (time.time() - began) / min(count, len(frame) - done), done + count
    bases = []
    for _, _, explainer in explainers:
        base = np.asarray(explainer.expected_value, dtype=float)
        bases.append(base[1] if model.problem_type is ProblemType.BINARY and base.ndim == 1 else base)
    output = trees[0][1].output
    done = min(done, len(frame))
    return Explanation(list(model.kinds), np.concatenate(parts)[:done], _base(np.mean(bases, axis=0)), output,
                       "tree-shap", _labels(model), _tree_words(model, output, len(trees)), frame.iloc[:done],
                       time.time() - start)


def _tree_values_of(model, explainers: list, rows: pd.DataFrame) -> np.ndarray:
    """The folds' mean SHAP values of these rows, summed into the original columns."""
    values = []
    for fold, tree, explainer in explainers:
        encoded = fold.preprocessor.transform(rows)
        encoded = encoded.toarray() if hasattr(encoded, "toarray") else encoded
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lightgbm's notice that binary outputs changed shape in shap 0.45
            phi = np.asarray(explainer.shap_values(tree.data(encoded) if tree.data else encoded,
                                                   check_additivity=False))
        if model.problem_type is ProblemType.BINARY and phi.ndim == 3:  # per-class probabilities (a forest)
            phi = phi[:, :, 1]
        values.append(_to_columns(phi, fold.preprocessor.source_columns(), list(model.kinds)))
    return np.mean(values, axis=0)


def _to_columns(phi: np.ndarray, sources: list[str], columns: list[str]) -> np.ndarray:
    """Encoded columns' values summed into their original column: (rows, columns[, classes])."""
    position = {c: j for j, c in enumerate(columns)}
    onto = np.zeros((len(sources), len(columns)))
    onto[np.arange(len(sources)), [position[s] for s in sources]] = 1.0
    return np.moveaxis(np.tensordot(phi, onto, axes=([1], [0])), -1, 1)


def _base(base: np.ndarray) -> float | np.ndarray:
    return float(base) if base.ndim == 0 else base


def _tree_words(model, output: str, folds: int) -> str:
    labels = _labels(model)
    if output == "value":
        words = "the predicted value"
    elif model.problem_type is ProblemType.MULTICLASS:
        words = "each class's raw score (softmax margin)" if output == "margin" else "each class's probability"
    else:
        words = (f"the log-odds of {labels[0]!r}" if output == "margin" else f"the probability of {labels[0]!r}")
    if folds == 1:
        return words
    words = f"the mean over the bag's {folds} folds of {words}"
    if output == "margin":
        words += " (the bag answers the mean of the folds' probabilities, not the probability of this mean margin)"
    return words


def _model_output(model):
    """The explained output of a frame: the positive class's probability, every class's, or the value."""
    if model.problem_type is ProblemType.BINARY:
        return lambda frame: model.predict_raw(frame)[:, 1]
    return model.predict_raw


def _seconds(function, argument) -> float:
    start = time.time()
    function(argument)
    return time.time() - start


@dataclass
class _Kernel:
    """shap's KernelExplainer of `output` over the coded original columns, the coded background standing in for a
    masked column. Kernel SHAP (what SageMaker Clarify runs) needs no compilation, where shap's permutation
    explainer spends seconds in numba on its first call of a process; its values add up exactly to the output."""

    explainer: object

    def __call__(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's coalitions are drawn from a generator seeded by the row itself, so a row gets the same
        values however the rows are chunked, and an ensemble's members are sampled alike (which keeps the
        weighted sum of their values the ensemble's). shap draws from NumPy's global generator: its state is
        put back afterwards."""
        samples, values = _samples(rows.shape[1]), []
        state = np.random.get_state()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # shap's notice that few samples leave the estimate rough
                for row in rows:
                    np.random.seed(zlib.crc32(np.ascontiguousarray(row).tobytes()))
                    values.append(np.asarray(self.explainer.shap_values(row[None, :], nsamples=samples,
                                                                        l1_reg=False, silent=True))[0])
        finally:
            np.random.set_state(state)
        return np.asarray(values), np.asarray(self.explainer.expected_value, dtype=float)


def _samples(columns: int) -> int:
    """Coalitions a row is evaluated on: as many model rows as PASSES permutation passes would cost (shap's
    default is 2 * columns + 2048); the values still add up exactly, the split between columns is rougher."""
    return min(2 ** columns, PASSES * (2 * columns + 1))


def _kernel_explainer(output: Callable, codes: ColumnCodes, back: np.ndarray) -> _Kernel:
    import shap

    def predict(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(output(codes.decode(matrix)), dtype=float)

    return _Kernel(shap.KernelExplainer(predict, back, link="identity"))


def _kernel_values(explainer: _Kernel, rows: np.ndarray) -> np.ndarray:
    return explainer(rows)[0]


def _words(labels: list) -> str:
    if not labels:
        return "the predicted value"
    return f"the probability of {labels[0]!r}" if len(labels) == 1 else "each class's probability"


def _kernel_shap(model, frame: pd.DataFrame, background: pd.DataFrame, deadline: float,
                      start: float) -> Explanation:
    columns = list(model.kinds)
    background = background.sample(min(len(background), BACKGROUND_ROWS), random_state=0)
    codes = ColumnCodes.of([frame, background], model.kinds)
    output = _model_output(model)

    def predict(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(output(codes.decode(matrix)), dtype=float)

    samples = _samples(len(columns))
    back = codes.encode(background)
    per_row = _seconds(predict, np.repeat(back, samples, axis=0))  # a row: every coalition over every background row
    if MIN_ROWS * per_row > SAFETY * (deadline - time.time()):
        back = back[:max(MIN_BACKGROUND_ROWS, math.floor(len(back) * SAFETY * (deadline - time.time())
                                                          / (MIN_ROWS * per_row)))]
        per_row = _seconds(predict, np.repeat(back, samples, axis=0))
    left = deadline - time.time()
    if MIN_ROWS * per_row > SAFETY * left:
        raise ExplainTimeout(f"explaining {MIN_ROWS} rows takes ~{MIN_ROWS * per_row:.1f} s of model calls "
                             f"({samples} coalitions over {len(back)} background rows a row) but "
                             f"{max(left, 0.0):.1f} s were left")
    explainer = _kernel_explainer(output, codes, back)
    rows = codes.encode(frame)
    parts, done = [], 0
    while done < len(rows):
        count = min(len(rows) - done, CHUNK_ROWS, math.floor(SAFETY * (deadline - time.time()) / per_row))
        if count < 1:
            break
        began = time.time()
        parts.append(_kernel_values(explainer, rows[done:done + count]))
        per_row, done = (time.time() - began) / count, done + count
    if done < MIN_ROWS and done < len(rows):
        raise ExplainTimeout(f"only {done} of {len(rows)} rows were explained before the deadline "
                             f"(~{per_row:.2f} s a row)")
    values = np.concatenate(parts)
    base = np.asarray(explainer.explainer.expected_value, dtype=float)
    labels = _labels(model)
    return Explanation(columns, values, _base(base), "value" if not labels else "probability", "kernel-shap",
                       labels, _words(labels), frame.iloc[:done], time.time() - start)


TREE_METHOD = "tree-shap interventional"


@dataclass
class _Member:
    """One weighted member of an ensemble, on the ensemble's rows and background and in its output units.

    `folds` holds, per fold, an interventional TreeExplainer, the fold's encoding of the rows and its encoded
    columns' sources; None where shap cannot read the trees exactly, so Kernel SHAP of the member alone
    explains it. A row the parsed trees answer differently from the model is explained by Kernel SHAP too."""

    name: str
    weight: float
    output: Callable
    base: float | np.ndarray  # the member's mean output on the background: both methods' base value
    kernel: _Kernel
    folds: list | None
    checked: int = 0
    missed: int = 0
    seconds: float = 0.0
    methods: set = field(default_factory=set)


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)


def _adds_up(predicted: np.ndarray, answered: np.ndarray) -> np.ndarray:
    """Per row, whether base + SHAP values give the model's own answer (every class's, for multiclass)."""
    close = np.isclose(predicted, answered, rtol=RTOL, atol=ATOL)
    return close if close.ndim == 1 else close.all(axis=1)


def _interventional(model, frame: pd.DataFrame, back: pd.DataFrame, base) -> list | None:
    """Interventional TreeExplainers of every fold of a tree member, in the ensemble's units (a booster's margin
    through its link to a probability); None when shap cannot explain one or its base misses the member's."""
    import shap

    trees = _trees(model)
    if trees is None or any(tree.data is not None for _, tree in trees):
        return None  # catboost takes a Pool, which shap's interventional path cannot read
    folds, bases = [], []
    binary = model.problem_type is ProblemType.BINARY
    for fold, tree in trees:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                explainer = shap.TreeExplainer(
                    tree.model, data=_dense(fold.preprocessor.transform(back)),
                    feature_perturbation="interventional",
                    model_output="probability" if model.problem_type.is_classification else "raw")
        except Exception:  # shap names no one error for "this model or link is not supported" (multiclass boosters)
            return None
        expected = np.asarray(explainer.expected_value, dtype=float)
        bases.append(expected[1] if binary and expected.ndim == 1 else expected)
        folds.append((explainer, _dense(fold.preprocessor.transform(frame)), fold.preprocessor.source_columns()))
    return folds if _adds_up(np.atleast_2d(np.mean(bases, axis=0)), np.atleast_2d(base)).all() else None


def _member(name: str, model, weight: float, frame: pd.DataFrame, back: pd.DataFrame, codes: ColumnCodes,
            coded_back: np.ndarray) -> _Member:
    output = _model_output(model)
    base = np.asarray(output(back), dtype=float).mean(axis=0)
    return _Member(name, weight, output, base, _kernel_explainer(output, codes, coded_back),
                   _interventional(model, frame, back, base))


def _tree_values(member: _Member, columns: list[str], lo: int, hi: int, binary: bool) -> np.ndarray:
    """The bag's mean over folds of their SHAP values, summed into the original columns."""
    values = []
    for explainer, encoded, sources in member.folds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            phi = np.asarray(explainer.shap_values(encoded[lo:hi], check_additivity=False))
        values.append(_to_columns(phi[:, :, 1] if binary and phi.ndim == 3 else phi, sources, columns))
    return np.mean(values, axis=0)


def _member_values(member: _Member, frame: pd.DataFrame, coded: np.ndarray, lo: int, hi: int,
                   binary: bool) -> np.ndarray:
    """The member's SHAP values of rows lo:hi; trees are given up once they miss most of the rows checked."""
    began = time.time()
    if member.folds is None:
        values = _kernel_values(member.kernel, coded[lo:hi])
        member.methods.add("kernel-shap")
    else:
        values = _tree_values(member, list(frame.columns), lo, hi, binary)
        member.methods.add(TREE_METHOD)
        missed = ~_adds_up(member.base + values.sum(axis=1), np.asarray(member.output(frame.iloc[lo:hi])))
        if missed.any():
            values[missed] = _kernel_values(member.kernel, coded[lo:hi][missed])
            member.methods.add("kernel-shap")
        member.checked, member.missed = member.checked + hi - lo, member.missed + int(missed.sum())
        if member.checked >= MIN_ROWS and 2 * member.missed > member.checked:
            member.folds = None
    member.seconds += time.time() - began
    return values


def _ensemble_shap(stack: StackModel, frame: pd.DataFrame, background: pd.DataFrame, deadline: float,
                   start: float, max_model_bytes: int | None) -> Explanation:
    """Σ weight × member SHAP values on the same rows and background: exactly the ensemble's SHAP values, since
    a depth-1 stack's output is that weighted sum of its members' outputs and SHAP is linear in the model.

    Members are explained one at a time, heaviest first, each loaded only while it is explained (a bag of
    forests can take gigabytes: the job's training processes held one at a time, and so does this). Each gets
    an equal share of the time left; the rows all of them reached in their share are the rows explained."""
    columns = list(stack.kinds)
    back = background.sample(min(len(background), BACKGROUND_ROWS), random_state=0).reset_index(drop=True)
    codes = ColumnCodes.of([frame, back], stack.kinds)
    coded, coded_back = codes.encode(frame), codes.encode(back)
    binary = stack.problem_type is ProblemType.BINARY
    weighted = sorted(((n, p, stack.weights[n]) for n, p in stack.layers[0].items() if stack.weights.get(n, 0.0)),
                      key=lambda member: -member[2])
    total, base, rows, methods, costs = None, 0.0, len(frame), set(), []
    for name, path, _ in weighted:
        check_size(name, join_uri(stack.root_, path), max_model_bytes)
    for i, (name, path, weight) in enumerate(weighted):
        share_end = time.time() + (deadline - time.time()) / (len(weighted) - i)
        member = _member(name, stack._model(name, path), weight, frame, back, codes, coded_back)
        parts, done = [], 0
        while done < rows:
            per_row = member.seconds / done if done else None
            count = 1 if per_row is None else min(rows - done, max(CHUNK_ROWS, done),
                                                  math.floor(SAFETY * (share_end - time.time()) / per_row))
            if count < 1:
                break
            parts.append(_member_values(member, frame, coded, done, done + count, binary))
            done += count
        stack.__dict__.get("loaded_", {}).pop(name, None)  # the member's model goes before the next one loads
        costs.append(f"{name} {member.seconds / max(done, 1):.2f} s a row")
        if done < min(MIN_ROWS, len(frame)):
            raise ExplainTimeout(f"{name} explained {done} rows in its share of the time (" + ", ".join(costs)
                                 + f"); at least {MIN_ROWS} are needed")
        rows = done
        values = weight * np.concatenate(parts)[:rows]
        total = values if total is None else total[:rows] + values
        base, methods = base + weight * member.base, methods | member.methods
        del member, parts
        gc.collect()
    labels = _labels(stack)
    used = [m for m in (TREE_METHOD, "kernel-shap") if m in methods]
    return Explanation(columns, total, _base(np.asarray(base, dtype=float)), "value" if not labels else "probability",
                       f"ensemble-shap ({' + '.join(used)})", labels,
                       f"{_words(labels)}, as the weighted sum of its {len(weighted)} members' (a bag's: the mean "
                       f"of its folds')", frame.iloc[:rows], time.time() - start)


def top_contributions(model, frame: pd.DataFrame, k: int = 3, *, deadline: float,
                      background: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per row, its k largest contributions by magnitude as one `explanation` column holding a list of
    {"feature", "value", "shap"} (for multiclass, towards the class with the highest output): a list keeps the
    answer one column for any k, like `probabilities`. Raises ExplainTimeout unless every row is explained."""
    explanation = explain(model, frame, deadline=deadline, background=background, max_rows=len(frame))
    if explanation.rows < len(frame):
        raise ExplainTimeout(f"only {explanation.rows} of {len(frame)} rows were explained before the deadline")
    values = explanation.values
    if values.ndim == 3:
        values = values[np.arange(len(values)), :, explanation.predicted().argmax(axis=1)]
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    columns, cells = explanation.columns, explanation.frame
    answer = [[{"feature": columns[j], "value": _plain(cells.iat[i, j]), "shap": float(values[i, j])}
               for j in row] for i, row in enumerate(order)]
    return pd.DataFrame({"explanation": answer}, index=frame.index)


def _plain(value):
    """A cell as JSON holds it: missing as null, datetimes as ISO text, numpy scalars as Python ones."""
    if pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if isinstance(value, np.generic) else value

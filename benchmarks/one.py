"""One benchmark run in its own process: fit one framework on one dataset's train.csv within the budget,
predict its test.csv, and write predictions, timings and peak memory of the whole process tree.

    python -m benchmarks.one --framework automl --train T --test T --target y --problem-type Regression \
        --budget 60 --seed 0 --out run_dir
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.frameworks import build


def _pss_bytes(pid: int) -> int:
    """Proportional set size: resident pages, each shared page split among the processes sharing it (RSS
    would count a forked child's inherited pages once per process)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_memory(root: int) -> dict[str, int]:
    """PSS of `root` and every descendant (workers, forked trainers) from /proc, by process (pid and command)."""
    parents, commands = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                commands[int(entry)] = handle.read().replace(b"\0", b" ").decode(errors="replace")[:160].strip()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
    found, frontier = {}, [root]
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    while frontier:
        pid = frontier.pop()
        found[f"{pid} {commands.get(pid, '')}"] = _pss_bytes(pid)
        frontier.extend(children.get(pid, []))
    return found


def tree_memory_bytes(root: int) -> int:
    return sum(tree_memory(root).values())


class PeakMemory:
    """The peak of the process tree's memory, and what each process held at that moment (where it goes)."""

    def __init__(self, interval_s: float = 0.1):
        self.peak, self.interval_s, self.at_peak, self.peak_s = 0, interval_s, {}, 0.0
        self.began = time.time()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._done.wait(self.interval_s):
            found = tree_memory(os.getpid())
            if sum(found.values()) > self.peak:
                self.peak, self.at_peak, self.peak_s = sum(found.values()), found, time.time() - self.began

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()


def _versions(framework: str) -> dict:
    import importlib.metadata as md

    names = {"automl": ["automl-local", "lightgbm", "xgboost", "scikit-learn"], "lightgbm": ["lightgbm"],
             "flaml": ["flaml", "lightgbm", "xgboost"]}.get(framework, ["autogluon.tabular"])
    found = {"python": platform.python_version()}
    for name in names:
        with contextlib.suppress(md.PackageNotFoundError):
            found[name] = md.version(name)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--framework", "--train", "--test", "--target", "--problem-type", "--out"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--budget", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    test = pd.read_csv(args.test)
    adapter = build(args.framework)
    # Our engine reads the file itself, as a user's job does; the peers are handed the frame they need.
    train = None if hasattr(adapter, "fit_file") else pd.read_csv(args.train)
    with PeakMemory() as memory:
        began = time.perf_counter()
        if train is None:
            adapter.fit_file(Path(args.train), args.target, args.problem_type, args.budget, args.seed, out)
        else:
            adapter.fit(train, args.target, args.problem_type, args.budget, args.seed, out)
        fit_s = time.perf_counter() - began
        features = test.drop(columns=[args.target])
        began = time.perf_counter()
        labels, proba, classes = adapter.predict(features)
        predict_s = time.perf_counter() - began
    np.save(out / "labels.npy", np.asarray(labels, dtype=object), allow_pickle=True)
    if proba is not None:
        np.save(out / "proba.npy", np.asarray(proba, dtype=float))
    (out / "run.json").write_text(json.dumps({
        "fit_s": fit_s, "predict_s": predict_s, "predict_rows_per_s": len(test) / max(predict_s, 1e-9),
        "peak_memory_mb": memory.peak / 2 ** 20,
        "peak_s": round(memory.peak_s, 1),
        "peak_by_process_mb": {k: round(v / 2 ** 20, 1) for k, v in memory.at_peak.items()},
        "classes": [str(c) for c in classes] if classes else None,
        "versions": _versions(args.framework), "job": getattr(adapter, "summary", None)}))


if __name__ == "__main__":
    main()

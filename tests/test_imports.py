"""Imports run one way: every module of the engine imports on its own in a fresh interpreter (a cycle shows
only there, when nothing else was imported first), and the fork server's preloads really load."""
import json
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import REPO

PACKAGES = ("automl", "algorithms", "runners", "benchmarks")


def _modules() -> list[str]:
    names = list(PACKAGES)
    for package in PACKAGES:
        names += [m.name for m in pkgutil.walk_packages([str(REPO / package)], prefix=f"{package}.")]
    return sorted(names)


def _import_alone(module: str) -> tuple[str, int, str]:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    return module, done.returncode, (done.stderr.strip().splitlines() or [""])[-1]


def test_every_module_imports_alone_in_a_fresh_interpreter():
    modules = _modules()
    assert {"automl.worker", "algorithms.lightgbm", "runners.tuning", "runners.study", "benchmarks.run"} <= set(modules)
    with ThreadPoolExecutor(2) as pool:
        failed = [(m, err) for m, code, err in pool.map(_import_alone, modules) if code != 0]
    assert failed == []


def _warm_in_a_fresh_process(module: str) -> list[str]:
    """The fork server is one per process and keeps the preload it started with: ask a fresh process."""
    code = ("import json; from runners.executors import LocalProcessExecutor; "
            f"print(json.dumps(LocalProcessExecutor(lambda: False, preload=({module!r},)).warm()))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["runners.bagging", "runners.tuning"])
def test_the_fork_server_preload_loads(module):
    """multiprocessing ignores a preload that fails to import; the children would then import it again."""
    assert _warm_in_a_fresh_process(module) == []


def test_a_preload_that_fails_is_reported():
    assert _warm_in_a_fresh_process("runners.no_such_module") == ["runners.no_such_module"]

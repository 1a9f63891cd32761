"""Imports run one way: every module of the engine imports on its own in a fresh interpreter (a cycle shows
only there, when nothing else was imported first), and the fork server's preloads really load."""
import json
import pkgutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

PACKAGES = ("automl", "algorithms", "runners", "benchmarks")


def _modules() -> list[str]:
    names = list(PACKAGES)
    for package in PACKAGES:
        names += [m.name for m in pkgutil.walk_packages([str(REPO / package)], prefix=f"{package}.")]
    return sorted(names)


# Run in a fresh interpreter: the third-party modules the engine's modules import are loaded once, then each
# engine module is imported in a forked child, where none of the engine is loaded yet. What imports alone there
# imports alone in a fresh interpreter: a cycle is among the engine's own modules. (One interpreter per module
# took 75 s, most of it loading torch and scikit-learn again.)
ALONE = """
import ast, importlib, json, os, sys, traceback
modules, ours = json.loads(sys.argv[1]), tuple(json.loads(sys.argv[2]))
for module in modules:
    path = module.replace(".", "/")
    source = open(path + "/__init__.py" if os.path.isdir(path) else path + ".py").read()
    for node in ast.walk(ast.parse(source)):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
        for name in names:
            if name.split(".")[0] not in ours:
                try:
                    importlib.import_module(name)
                except Exception:
                    pass
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ours)
assert not loaded, f"a third-party import loaded the engine: {loaded}"
failed = []
for module in modules:
    read, write = os.pipe()
    if os.fork() == 0:
        os.close(read)
        try:
            importlib.import_module(module)
            code = 0
        except BaseException:
            os.write(write, traceback.format_exc().strip().splitlines()[-1].encode())
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        error = pipe.read()
    if os.wait()[1] != 0:
        failed.append([module, error])
print(json.dumps(failed))
"""


def test_every_module_imports_alone_in_a_fresh_interpreter():
    modules = _modules()
    assert {"automl.worker", "algorithms.lightgbm", "runners.tuning", "runners.study", "benchmarks.run"} <= set(modules)
    done = subprocess.run([sys.executable, "-c", ALONE, json.dumps(modules), json.dumps(PACKAGES)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


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

"""Create the peers' environment (AutoGluon tabular, FLAML) beside ours: their pins clash with our
scikit-learn and torch, so they never share our environment and the tests never need them.

    python -m benchmarks.setup_peers
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PEERS_VENV = Path(__file__).resolve().parent / ".peers-venv"
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
# AutoGluon's tree models plus FLAML; without [fastai]/torch extras AutoGluon skips its neural networks,
# which keeps the download to PyPI wheels (no multi-GB CUDA torch).
PACKAGES = ["autogluon.tabular[lightgbm,catboost,xgboost]", "flaml[automl]", "pandas", "pyarrow"]


def main() -> int:
    if not PEERS_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    for package in PACKAGES:
        done = subprocess.run([str(PEERS_PYTHON), "-m", "pip", "install", "-q", package])
        print(f"{package}: {'installed' if done.returncode == 0 else 'FAILED (the benchmark skips it)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

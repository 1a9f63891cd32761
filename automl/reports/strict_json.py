"""Values as strict JSON: a metric that cannot be computed is NaN in numpy, and `NaN` is not JSON, so a
browser's or another language's parser would refuse the whole file; it becomes null."""
from __future__ import annotations

import math

import numpy as np


def strict(value):
    """`value` with numpy scalars and arrays made plain Python, and every non-finite float made None."""
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value

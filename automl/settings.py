"""The numeric and on/off settings read from the environment (AUTOML_*), in one table so that creating a job can
check them all: a job's worker inherits the creator's environment, and a value that is not a number (or below its
minimum), or an on/off setting that is neither, is refused then with the setting's name (as a bad request field
is), instead of surfacing later as a bare ValueError, or silently read as one of the two, wherever it is read."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from automl.errors import field_error

ON = ("1", "true", "on", "yes")
OFF = ("0", "false", "off", "no")


@dataclass(frozen=True)
class Setting:
    """A number of at least `minimum`."""

    default: float
    minimum: float
    kind: type = int


@dataclass(frozen=True)
class Flag:
    """On or off: one of ON or OFF, in any case."""

    default: bool


SETTINGS: dict[str, Setting | Flag] = {
    "AUTOML_MAX_RUNNING_JOBS": Setting(2, 1),  # jobs running at once; more queue or are refused
    "AUTOML_QUEUE": Flag(True),  # jobs beyond AUTOML_MAX_RUNNING_JOBS wait (on) or are refused (off)
    "AUTOML_HEARTBEAT_TIMEOUT_S": Setting(120.0, 1, float),  # silence after which a worker counts as lost
    "AUTOML_CREATE_ANALYSIS_BYTES": Setting(256 * 1024 ** 2, 0),  # data up to this is analysed by the create call
    "AUTOML_AUTO_MODE_THRESHOLD_BYTES": Setting(100 * 1024 ** 2, 0),  # AUTO tunes from this much training data
}


def value(name: str):
    setting = SETTINGS[name]
    raw = os.environ.get(name, "").strip()
    if not raw:
        return setting.default
    if isinstance(setting, Flag):
        if raw.lower() not in ON + OFF:
            raise field_error(name, f"must be one of {', '.join(ON)} (on) or {', '.join(OFF)} (off)", raw)
        return raw.lower() in ON
    rule = f"must be a {'whole ' if setting.kind is int else ''}number of at least {setting.minimum}"
    try:
        number = setting.kind(raw)
    except ValueError:
        raise field_error(name, rule, raw) from None
    if not math.isfinite(number) or number < setting.minimum:
        raise field_error(name, rule, raw)
    return number


def check() -> None:
    for name in SETTINGS:
        value(name)

"""Original feature columns as one float matrix that decodes exactly back to the frame.

A model-agnostic explainer masks cells of a numeric matrix; the model wants its original mixed columns. Numbers
are their own code; every other kind (categories, text, datetimes) is the index into the column's table of
distinct values, missing included, so any code a masker copies from a background row decodes to a real value of
that column (a datetime as float nanoseconds would lose ~200 ns).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from automl.columns import ColumnKind, coerce


@dataclass
class ColumnCodes:
    kinds: dict[str, ColumnKind]
    tables: dict[str, pd.Index]  # non-numeric column -> its distinct values, in code order

    @classmethod
    def of(cls, frames: list[pd.DataFrame], kinds: dict[str, ColumnKind]) -> ColumnCodes:
        """Tables covering every value of `frames` (the rows to explain and the background)."""
        whole = coerce(pd.concat(frames, ignore_index=True), kinds)
        tables = {name: pd.factorize(whole[name], use_na_sentinel=False)[1]
                  for name, kind in kinds.items() if kind is not ColumnKind.NUMERIC}
        return cls(kinds, tables)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        frame = coerce(frame, self.kinds)
        return np.column_stack([self.tables[name].get_indexer(frame[name]).astype(np.float64) if name in self.tables
                                else frame[name].to_numpy(dtype=np.float64) for name in self.kinds])

    def decode(self, codes: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({name: self.tables[name].take(codes[:, j].astype(np.int64)) if name in self.tables
                             else codes[:, j] for j, name in enumerate(self.kinds)})

"""Rows as integer codes and back, so shap's maskers can mix columns of any type.

shap's tabular maskers copy numbers between a row and the background. A traffic table holds
words, whole numbers, missing values and floats side by side; coding each column's values as
their position among the column's distinct values (missing values included) makes every
masked row a matrix of numbers, and decoding gives back exactly the values the background and
the explained rows hold. No value is ever invented: a masked row's every cell is one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class RowCoder:
    """Each column's distinct values (from the background and the explained rows together)."""

    columns: tuple[str, ...]
    values: tuple[np.ndarray, ...]  # per column: the distinct values, as Python objects (None for missing)

    @classmethod
    def of(cls, frame: pd.DataFrame, columns: tuple[str, ...]) -> tuple[RowCoder, np.ndarray]:
        """The coder of `frame`'s columns and `frame` coded (rows x columns, floats)."""
        values, codes = [], []
        for column in columns:
            code, uniques = pd.factorize(frame[column], use_na_sentinel=False)
            plain = np.empty(len(uniques), dtype=object)
            plain[:] = [None if pd.isna(value) else _python(value) for value in pd.Series(uniques).astype(object)]
            values.append(plain)
            codes.append(code)
        return cls(tuple(columns), tuple(values)), np.column_stack(codes).astype(float)

    def rows(self, codes: np.ndarray) -> list[tuple]:
        """Coded rows as tuples of plain values in `columns` order (None where missing)."""
        index = np.asarray(codes).astype(np.int64)
        decoded = [self.values[j][index[:, j]] for j in range(len(self.columns))]
        return list(zip(*decoded, strict=True))

    def frame(self, codes: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame.from_records(self.rows(codes), columns=list(self.columns))


def _python(value):
    return value.item() if hasattr(value, "item") else value
